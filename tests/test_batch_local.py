"""lipexact.batch.local: in-process runs, the SIGALRM hard limit, Ctrl-C inside a solve."""

from __future__ import annotations

import time

import pytest

from lipexact.batch.api import solve_many
from lipexact.batch.local import HardLimitExceeded, hard_limit
from lipexact.batch.work import run_task
from tests.batch_inputs import write_inputs


def test_hard_limit_stops_python_code_and_restores_the_timer():
    with pytest.raises(HardLimitExceeded):
        with hard_limit(0.05):
            while True:  # stopped by the timer, not by a clock check here
                time.sleep(0.001)
    with hard_limit(30):
        pass
    import signal

    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_task_over_its_hard_limit_is_an_error_line_and_the_batch_goes_on(tmp_path):
    paths = write_inputs(tmp_path)
    slow = tmp_path / "slow.rudy"
    slow.write_text("2 1\n1 2 1\n")

    def stuck(task, address="in-process"):
        if task.input.path.endswith("slow.rudy"):
            while True:  # never returns by itself
                time.sleep(0.001)
        return run_task(task, address)

    lines = solve_many([slow, paths["k3"]], methods=["brute"], hard_limit=1.0, run=stuck)
    assert lines[0]["status"] == "error" and "hard time limit of 1 s" in lines[0]["error"]
    assert lines[1]["status"] == "optimal" and lines[1]["source_value"] == 2


def test_an_interrupted_solve_stops_the_batch_without_its_line(tmp_path):
    paths = write_inputs(tmp_path)
    out = tmp_path / "out.jsonl"

    def interrupted_on_c5(task, address="in-process"):
        line = run_task(task, address)
        return {**line, "status": "interrupted"} if task.input.path.endswith("c5") else line

    with pytest.raises(KeyboardInterrupt):
        solve_many([paths["k3"], paths["c5"], paths["qubo"]], methods=["brute"], output=out, run=interrupted_on_c5)
    assert [line["status"] for line in map(__import__("json").loads, out.read_text().splitlines())] == ["optimal"]
