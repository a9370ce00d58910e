"""lipexact.batch.work: one task gives the line the single-file tools would write, or an error line."""

from __future__ import annotations

import contextlib
import io
import json

from lipexact import reduce as reduce_cli
from lipexact import solve as solve_cli
from lipexact.batch.tasks import find_inputs, make_tasks
from lipexact.batch.work import run_task
from tests.batch_inputs import write_inputs

OPTIONS = {"seed": 0, "time_limit": None, "node_limit": None, "to": "auto"}


def _without_times(document):
    return {k: v for k, v in document.items() if k not in ("timings",)}


def _task(path, method="bnb", norm="2"):
    return make_tasks(find_inputs([path]), [method], [norm], OPTIONS)[0]


def test_instance_line_carries_the_solution_block_of_reduce_solve(tmp_path):
    paths = write_inputs(tmp_path)
    line = run_task(_task(paths["qubo"]))
    out = tmp_path / "reduced.json"
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert reduce_cli.main([str(paths["qubo"]), "--solve", "--method", "bnb", "-o", str(out)]) == 0
    expected = json.loads(out.read_text())["solution"]
    assert line["status"] == "optimal" and line["source_value"] == -4 == expected["source_solution"]["value"]
    assert {k: v for k, v in line["solution"].items() if k != "lipschitz_result"} == \
        {k: v for k, v in expected.items() if k != "lipschitz_result"}
    assert _without_times(line["solution"]["lipschitz_result"]) == _without_times(expected["lipschitz_result"])


def test_network_line_carries_the_result_of_solve(tmp_path):
    paths = write_inputs(tmp_path)
    line = run_task(_task(paths["deep"], norm="inf"))
    out = tmp_path / "result.json"
    with contextlib.redirect_stdout(io.StringIO()):
        assert solve_cli.main([str(paths["deep"]), "--method", "bnb", "--norm", "inf", "-o", str(out)]) == 0
    expected = json.loads(out.read_text())
    assert line["status"] == "optimal" and line["value"] == expected["value"]
    assert _without_times(line["lipschitz_result"]) == _without_times(expected)
    assert line["worker"]["address"] == "in-process" and line["times"]["wall"] > 0


def test_bad_files_norms_and_changed_files_give_error_lines(tmp_path):
    paths = write_inputs(tmp_path)
    broken = tmp_path / "broken.rudy"
    broken.write_text("3 2\n1 2 1\n")
    assert "broken.rudy line 3: expected 2 entry lines" in run_task(_task(broken))["error"]
    assert "norm" in run_task(_task(paths["k3"], norm="inf"))["error"]
    assert "type" in run_task(_task(tmp_path / "optima.json"))["error"]
    task = _task(paths["k3"])
    paths["k3"].write_text("3 1\n1 2 1\n")
    line = run_task(task)
    assert line["status"] == "error" and "changed" in line["error"] and line["key"] == task.key
