"""python -m lipexact.batch and solve_many in this process: resume, error lines, bad arguments, no Dask."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from lipexact.batch.api import solve_many
from lipexact.batch.cli import main
from lipexact.batch.work import run_task
from tests.batch_inputs import write_inputs

ROOT = Path(__file__).resolve().parent.parent


def _run(argv):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()) as out:
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def _lines(path):
    return [json.loads(raw) for raw in Path(path).read_text().splitlines()]


class Counting:
    def __init__(self):
        self.keys = []

    def __call__(self, task, address="in-process"):
        self.keys.append(task.key)
        return run_task(task, address)


def test_resume_skips_finished_tasks_and_survives_a_cut_short_last_line(tmp_path):
    paths = write_inputs(tmp_path / "in")
    out = tmp_path / "out.jsonl"
    first = Counting()
    lines = solve_many([tmp_path / "in"], methods=["bnb", "enumerate"], output=out, run=first)
    assert len(first.keys) == 10 == len(_lines(out)) and all(line["status"] == "optimal" for line in lines)
    again = Counting()
    assert solve_many([tmp_path / "in"], methods=["bnb", "enumerate"], output=out, run=again) == lines
    assert again.keys == [] and len(_lines(out)) == 10
    whole = out.read_bytes()
    out.write_bytes(whole[:-40])  # the last line cut short, as by a crash while writing it
    after_crash = Counting()
    resumed = solve_many([tmp_path / "in"], methods=["bnb", "enumerate"], output=out, run=after_crash)
    assert after_crash.keys == [lines[-1]["key"]]
    assert [line["key"] for line in _lines(out)] == [line["key"] for line in lines]
    assert resumed[-1]["value"] == lines[-1]["value"]
    paths["k3"].write_text("3 2\n1 2 1\n2 3 1\n")  # new content: new tasks
    changed = Counting()
    solve_many([tmp_path / "in"], methods=["bnb", "enumerate"], output=out, run=changed)
    assert len(changed.keys) == 2 and len(_lines(out)) == 12


def test_bad_input_file_gives_an_error_line_and_exit_1_and_retry_errors_runs_it_again(tmp_path):
    paths = write_inputs(tmp_path)
    bad = tmp_path / "bad.rudy"
    bad.write_text("2 1\n1 9 1\n")
    out = tmp_path / "out.jsonl"
    code, _, err = _run([bad, paths["k3"], "--methods", "brute", "-o", out, "--quiet"])
    lines = _lines(out)
    assert code == 1 and err == ""
    assert lines[0]["status"] == "error" and "bad.rudy line 2: expected indices in 1..2, got 9" in lines[0]["error"]
    assert lines[1]["status"] == "optimal"
    bad.write_text("2 1\n1 2 1\n")  # mended: a new content hash, so a new task
    assert _run([bad, paths["k3"], "--methods", "brute", "-o", out, "--quiet"])[0] == 0
    assert len(_lines(out)) == 3


def test_retry_errors_runs_error_lines_again(tmp_path):
    paths = write_inputs(tmp_path)
    out = tmp_path / "out.jsonl"
    assert _run([paths["k3"], "--methods", "brute", "--norm", "inf", "-o", out, "--quiet"])[0] == 1
    assert _run([paths["k3"], "--methods", "brute", "--norm", "inf", "-o", out, "--quiet"])[0] == 1
    assert len(_lines(out)) == 1
    assert _run([paths["k3"], "--methods", "brute", "--norm", "inf", "-o", out, "--quiet", "--retry-errors"])[0] == 1
    assert len(_lines(out)) == 2


@pytest.mark.parametrize("extra", [
    ["--methods", "simplex"], ["--norm", "3"], ["--methods", "bnb,bnb"], ["--time-limit", "0"],
    ["--hard-limit", "-1"], ["--node-limit", "0"], ["--seed", "-1"], ["--scheduler", "local:0"],
    ["--scheduler", "nowhere"], ["--node-limit", "10"], ["--to", "zz"], ["--time-limit", "nan"],
])
def test_bad_arguments_exit_2_before_anything_runs(tmp_path, extra):
    paths = write_inputs(tmp_path)
    out = tmp_path / "out.jsonl"
    code, stdout, err = _run([paths["k3"], "-o", out, *extra]) if extra[0] != "--to" else (
        _run_argparse([paths["k3"], "-o", out, *extra]))
    assert code == 2 and not out.exists() and stdout == ""
    assert "error" in err


def _run_argparse(argv):
    with pytest.raises(SystemExit) as stop, contextlib.redirect_stderr(io.StringIO()) as err:
        main([str(a) for a in argv])
    return stop.value.code, "", err.getvalue()


def test_missing_input_or_output_folder_exits_2_without_output(tmp_path):
    paths = write_inputs(tmp_path)
    out = tmp_path / "out.jsonl"
    assert _run([tmp_path / "absent.rudy", "-o", out])[0] == 2 and not out.exists()
    assert _run([paths["k3"], "-o", tmp_path / "no" / "out.jsonl"])[0] == 2


def test_without_output_lines_go_to_stdout(tmp_path):
    paths = write_inputs(tmp_path)
    code, stdout, err = _run([paths["k3"], paths["qubo"], "--methods", "brute"])
    assert code == 0 and [json.loads(raw)["source_value"] for raw in stdout.splitlines()] == [2, -4]
    assert "2 tasks" in err and "done 2, running 0, failed 0" in err


def test_in_process_run_does_not_import_dask(tmp_path):
    paths = write_inputs(tmp_path)
    out = tmp_path / "out.jsonl"
    script = (
        "import sys\n"
        "from lipexact.batch.cli import main\n"
        f"code = main([{str(paths['k3'])!r}, {str(paths['deep'])!r}, '--methods', 'bnb', '-o', {str(out)!r}, "
        "'--quiet'])\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed'))\n"
        "print(code, loaded)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.stdout.strip() == "0 []", result.stderr
    assert [line["status"] for line in _lines(out)] == ["optimal", "optimal"]


def test_scheduler_without_dask_installed_exits_2_with_the_install_command(tmp_path, monkeypatch):
    paths = write_inputs(tmp_path)
    out = tmp_path / "out.jsonl"
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed now raises ImportError
    code, _, err = _run([paths["k3"], "--scheduler", "local:2", "-o", out])
    assert code == 2 and not out.exists() and 'pip install -e ".[distributed]"' in err
