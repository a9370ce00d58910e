"""The demo: help without running, the agreement check, and its refusal of a mismatch."""

from __future__ import annotations

import pytest

from lipexact import demo


def test_help_prints_usage_and_runs_nothing(capsys, monkeypatch):
    monkeypatch.setattr(demo, "run_demo", lambda *a, **k: pytest.fail("--help must not run the demo"))
    with pytest.raises(SystemExit) as stopped:
        demo.main(["--help"])
    assert stopped.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m lipexact.demo") and "--method" in out


def test_unknown_method_is_an_input_error(capsys):
    with pytest.raises(SystemExit) as stopped:
        demo.main(["--method", "nope"])
    assert stopped.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_branch_and_bound_finds_the_petersen_max_cut(capsys):
    assert demo.main(["--method", "bnb"]) == 0
    out = capsys.readouterr().out
    assert "L(f)^2 = 12" in out and "check: OK" in out


def test_a_mismatch_is_reported_and_exits_1(capsys, monkeypatch):
    real = demo.run_demo

    def off_by_one(method="auto"):
        report = real(method)
        report["cut_value"] -= 1
        return report

    monkeypatch.setattr(demo, "run_demo", off_by_one)
    assert demo.main([]) == 1
    assert "check: MISMATCH" in capsys.readouterr().out
