"""benchmarks/batch.py: the checks of the local:1 / local:2 comparison refuse disagreeing or wrong optima."""

from __future__ import annotations

import json

from benchmarks.batch import build_section


def _line(key, path, status, value, started=0.0, wall=1.0):
    return {"key": key, "input": {"path": path}, "status": status, "source_value": value,
            "times": {"started": started, "wall": wall}}


def _run(workers, lines, wall, load=0.5):
    return {"workers": workers, "wall": wall, "span": wall, "lines": lines, "statuses": {"optimal": len(lines)},
            "optimal_task_seconds": wall, "task_seconds": wall, "load_start": load, "load_end": load}


def _checks(section):
    return {check.name.split(" >=")[0]: check.passed for check in section.checks}


def test_checks_pass_on_agreeing_published_optima_and_judge_speedup_on_an_idle_machine(tmp_path):
    path = str((tmp_path / "g").resolve())
    (tmp_path / "optima.json").write_text(json.dumps({"g": {"optimum": 5}}))
    runs = [_run(1, [_line("a", path, "optimal", 5)], 10.0), _run(2, [_line("a", path, "optimal", 5)], 5.5)]
    checks = _checks(build_section(runs, tmp_path, 5.0))
    assert checks == {"every input has a line in every run": True, "runs agree on every optimum both proved": True,
                      "proven optima equal the published ones": True, "local:2 speed-up": True}


def test_checks_refuse_disagreement_wrong_optimum_missing_lines_and_slow_runs(tmp_path):
    path = str((tmp_path / "g").resolve())
    (tmp_path / "optima.json").write_text(json.dumps({"g": {"optimum": 5}}))
    runs = [_run(1, [_line("a", path, "optimal", 5), _line("b", "/other", "optimal", 1)], 10.0),
            _run(2, [_line("a", path, "optimal", 6)], 9.0)]
    checks = _checks(build_section(runs, tmp_path, 5.0))
    assert checks == {"every input has a line in every run": False,
                      "runs agree on every optimum both proved": False,
                      "proven optima equal the published ones": False, "local:2 speed-up": False}


def test_speedup_is_not_judged_on_a_busy_machine(tmp_path):
    runs = [_run(1, [_line("a", "/g", "optimal", 5)], 10.0, load=8.0),
            _run(2, [_line("a", "/g", "optimal", 5)], 9.0, load=8.0)]
    assert _checks(build_section(runs, tmp_path, 5.0))["local:2 speed-up"] is None
