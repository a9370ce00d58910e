"""benchmarks/anchor.py: the big-M baseline's correctness, the section's summary and checks, the CLI's refusals.

No timing is asserted: the runs here are tiny (h <= 12) and stop on their own or on a HiGHS node limit.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.optimize import linprog

from benchmarks import anchor
from benchmarks.anchor import AnchorResult, AnchorRun, agreement_check, anchor_network, big_m_baseline, \
    build_section, summarize, target_check
from lipexact.deep.network import ReLUNetwork
from reductions.validation import InvalidInputError


def net_of(w1, b1, w2):
    w1 = np.asarray(w1, dtype=float)
    return ReLUNetwork([(w1, np.asarray(b1, dtype=float)), (np.asarray([w2], dtype=float), np.zeros(1))])


def square(n=2, radius=1.0):
    return np.full(n, -radius), np.full(n, radius)


def closed_brute_force(net, box):
    """The optimum of the closed big-M model by brute force: every pattern whose closed region meets the box
    (an LP feasibility check, scipy), scored ``||sum_i w2_i a_i W1_i||_1``."""
    w1, w2 = net.weights
    b1 = net.biases[0]
    best = 0.0
    for pattern in itertools.product((0, 1), repeat=w1.shape[0]):
        a = np.array(pattern)
        signs = np.where(a == 1, -1.0, 1.0)  # on: -(W x + b) <= 0; off: W x + b <= 0
        rows, rhs = signs[:, None] * w1, -signs * b1
        feasible = linprog(np.zeros(w1.shape[1]), A_ub=rows, b_ub=rhs, bounds=list(zip(*box)),
                           method="highs").status == 0
        if feasible:
            best = max(best, float(np.abs((w2[0] * a) @ w1).sum()))
    return best


# --------------------------------------------------------------------------- the linearization, by hand
def test_absolute_value_needs_the_sign_binary_and_both_big_m_constants():
    # g = (a1, -2 a2): the optimum 3 has a negative gradient entry at its largest value (M0 = 4 = 2 |lo|)
    result = big_m_baseline(net_of(np.eye(2), [0.0, 0.0], [1.0, -2.0]), square())
    assert result.status == "solved" and result.value == pytest.approx(3.0, abs=1e-9)
    assert result.pattern.tolist() == [1, 1] and result.pattern_value == pytest.approx(3.0, abs=1e-12)
    assert result.dual_bound == pytest.approx(3.0, abs=1e-9)


def test_stable_units_are_fixed_and_mixed_signs_are_exact():
    # unit 3 is always on over [-1, 1]^2 (b = 5), unit 4 always off (b = -5);
    # g1 = a1 - 3 (in [-3, -2]), g2 = a2 + 0 * a4: the maximum |a1 - 3| + |a2| = 4 needs a1 = 0, a2 = 1
    w1 = [[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]]
    result = big_m_baseline(net_of(w1, [0.0, 0.0, 5.0, -5.0], [1.0, 1.0, -3.0, 7.0]), square())
    assert result.stable == 2
    assert result.status == "solved" and result.value == pytest.approx(4.0, abs=1e-9)
    assert result.pattern.tolist() == [0, 1, 1, 0]


def test_the_optimum_is_the_largest_gradient_among_realizable_patterns():
    # two parallel units: x1 >= 0 and x1 >= 0.5; the pattern (off, on) is not realizable, and it would score
    # |1 * 0 - 4 * 1| = 4 > |1 - 4| = 3 > 1; the realizable maximum is 3 (both on), not 4
    result = big_m_baseline(net_of([[1.0, 0.0], [1.0, 0.0]], [0.0, -0.5], [1.0, -4.0]), square())
    assert result.status == "solved" and result.value == pytest.approx(3.0, abs=1e-9)
    assert result.pattern.tolist() == [1, 1]


@pytest.mark.parametrize("h,seed", [(4, 0), (5, 1), (6, 2), (6, 3)])
def test_the_baseline_matches_brute_force_and_the_exact_constant(h, seed):
    from lipexact import lipschitz

    net, radius = anchor_network(h, seed, n=2)
    box = square(2, radius)
    result = big_m_baseline(net, box, time_limit=30.0)
    exact = lipschitz(net, "brute", "inf", box)
    assert exact.status.value == "optimal"
    assert result.status == "solved"
    assert result.value == pytest.approx(exact.value, rel=1e-6)
    assert result.value == pytest.approx(closed_brute_force(net, box), rel=1e-6)
    assert result.pattern_value == pytest.approx(result.value, rel=1e-6)
    assert result.dual_bound == pytest.approx(result.value, rel=1e-6)


def test_a_node_limit_stops_it_with_a_bracket_around_the_constant():
    from lipexact import lipschitz

    net, radius = anchor_network(12, 0)
    box = square(10, radius)
    exact = lipschitz(net, "auto", "inf", box)
    assert exact.status.value == "optimal"
    stopped = big_m_baseline(net, box, node_limit=0)
    assert stopped.status == "node_limit" and stopped.value is None
    partial = big_m_baseline(net, box, node_limit=1)
    assert partial.status in ("node_limit", "solved")
    assert partial.value <= exact.value * (1 + 1e-6)
    assert partial.dual_bound >= exact.value * (1 - 1e-6)


@pytest.mark.parametrize("net,box,field", [
    (ReLUNetwork([(np.eye(2), np.zeros(2)), (np.eye(2), np.zeros(2)), (np.ones((1, 2)), np.zeros(1))]),
     square(), "net"),
    (net_of(np.eye(2), [0.0, 0.0], [1.0, 1.0]), square(3), "box"),
    (net_of(np.eye(2), [0.0, 0.0], [1.0, 1.0]), (np.ones(2), -np.ones(2)), "box"),
    (ReLUNetwork([(np.eye(2), np.zeros(2)), (np.eye(2), np.zeros(2))]), square(), "net"),
])
def test_the_baseline_refuses_what_it_does_not_model(net, box, field):
    with pytest.raises(InvalidInputError) as error:
        big_m_baseline(net, box)
    assert error.value.field == field


def test_anchor_network_is_seeded_and_every_unit_is_unstable_on_its_box():
    net, radius = anchor_network(32, 4)
    again, radius_again = anchor_network(32, 4)
    assert radius == radius_again and all((x == y).all() for x, y in zip(net.weights, again.weights))
    w1, b1 = net.weights[0], net.biases[0]
    assert np.all(radius * np.abs(w1).sum(axis=1) > np.abs(b1))


# --------------------------------------------------------------------------- summary, checks, section
def run(h, seed, method, seconds, value=10.0, status=None, lower=None, upper=None):
    status = status or ("solved" if method == "baseline" else "optimal")
    return AnchorRun(h, seed, method, status, value if lower is None else lower, value if upper is None else upper,
                     seconds, 60.0, 1.5)


def fake_result(runs, heights=(32,)):
    return AnchorResult(runs, "quick", 0, 60.0, heights, 3, [1.0, 1.0, 1.0], [1.5, 1.0, 1.0], 12.0)


def test_medians_count_unproven_runs_as_the_limit_and_mark_them():
    runs = [run(32, 0, "auto", 1.0), run(32, 1, "auto", 2.0), run(32, 2, "auto", 70.0, status="time_limit",
                                                                   lower=9.0, upper=11.0),
            run(32, 0, "baseline", 9.0), run(32, 1, "baseline", 5.0, status="time_limit", lower=9.0, upper=12.0),
            run(32, 2, "baseline", 40.0, status="time_limit", lower=9.0, upper=12.0)]
    summary = summarize(runs, 32)
    assert summary["auto"]["median"] == 2.0 and not summary["auto"]["capped"] and summary["auto"]["proven"] == 2
    assert summary["baseline"]["median"] == 60.0 and summary["baseline"]["capped"]
    assert summary["ratio"] == 30.0
    check = target_check(32, summary)
    assert check.passed is True and "lower bound" in check.detail


def test_the_target_check_fails_when_auto_is_not_three_times_faster_or_stops_at_the_limit():
    runs = [run(32, s, m, t) for s in range(3) for m, t in (("auto", 2.0), ("deep milp", 1.0), ("baseline", 5.0))]
    assert target_check(32, summarize(runs, 32)).passed is False  # ratio 2.5
    capped = [run(32, s, "auto", 60.0, status="time_limit", lower=9.0, upper=11.0) for s in range(3)]
    assert target_check(32, summarize(capped + runs[2::3], 32)).passed is False
    both = capped + [run(32, s, "baseline", 60.0, status="time_limit", lower=9.0, upper=11.0) for s in range(3)]
    assert target_check(32, summarize(both, 32)).passed is None


def test_the_agreement_check_refuses_disagreeing_values_and_brackets():
    good = [run(32, 0, "auto", 1.0, 10.0), run(32, 0, "deep milp", 1.0, 10.0 * (1 + 1e-11)),
            run(32, 0, "baseline", 1.0, 10.0 * (1 + 1e-7))]
    assert agreement_check(good).passed is True
    ours_apart = good[:1] + [run(32, 0, "deep milp", 1.0, 10.0 * (1 + 1e-7))]
    assert agreement_check(ours_apart).passed is False
    baseline_apart = good[:2] + [run(32, 0, "baseline", 1.0, 10.0 * (1 + 1e-5))]
    assert agreement_check(baseline_apart).passed is False
    bracket_below = good[:1] + [run(32, 0, "baseline", 60.0, status="time_limit", lower=8.0, upper=9.0)]
    assert agreement_check(bracket_below).passed is False
    wide_optimal = [run(32, 0, "auto", 1.0, lower=10.0, upper=10.1)]
    assert agreement_check(wide_optimal + good[1:]).passed is False
    assert agreement_check([run(32, 0, "auto", 60.0, status="time_limit", lower=9.0, upper=11.0)]).passed is None


def test_section_has_the_summary_every_run_and_the_checks():
    runs = [run(h, s, m, t) for h in (32, 48) for s in range(3)
            for m, t in (("auto", 1.0), ("deep milp", 4.0), ("baseline", 4.0))]
    built = build_section(fake_result(runs, heights=(32, 48)))
    tables = {t.key: t for t in built.tables}
    assert [row[0] for row in tables["anchor_summary"].rows] == [32, 48]
    assert tables["anchor_summary"].rows[0][8] == 4.0  # baseline / auto
    assert len(tables["anchor_runs"].rows) == 18 and len(built.records) == 18
    names = [check.name for check in built.checks]
    assert [check.passed for check in built.checks] == [True, True, True]
    assert "h = 32" in names[0] and "h = 48" in names[1] and "agrees" in names[2]
    assert built.load == (1.0, 1.5)


def test_the_smoke_mode_records_the_target_without_judging_it():
    runs = [run(32, s, m, t) for s in range(3) for m, t in (("auto", 2.0), ("deep milp", 1.0), ("baseline", 5.0))]
    result = fake_result(runs, heights=(32,))
    assert build_section(result).checks[0].passed is False  # ratio 2.5
    result.mode = "smoke"
    target = build_section(result).checks[0]
    assert target.passed is None and "does not judge" in target.detail


def test_a_tiny_real_run_agrees_with_itself():
    result = anchor.run_anchor("quick", 0, progress=False, heights=(6,), seeds=2, limit=30.0)
    assert [r.method for r in result.runs] == ["auto", "deep milp", "baseline"] * 2
    assert all(r.proven for r in result.runs)
    assert all("picked" in r.note for r in result.runs if r.method == "auto")
    built = build_section(result)
    assert built.checks[-1].passed is True


# --------------------------------------------------------------------------- modes and CLI
def test_report_configurations_pick_their_mode():
    assert [anchor.section_mode(name) for name in ("smoke", "quick", "default", "full")] == \
        ["smoke", "quick", "default", "full"]
    assert anchor.MODES["smoke"]["heights"] == (12,)
    assert anchor.MODES["quick"] == {"heights": (32,), "seeds": 3, "limit": 30.0}
    assert anchor.MODES["default"]["heights"] == (32, 48, 64) and anchor.MODES["default"]["seeds"] == 5


@pytest.mark.parametrize("argv", [["--seed", "-1"], ["--quick", "--full"], ["--seed", "x"], ["--bogus"]])
def test_bad_arguments_exit_2(argv, capsys):
    try:
        code = anchor.entry(argv)
    except SystemExit as stop:  # argparse
        code = stop.code
    assert code == 2
    assert "error" in capsys.readouterr().err


def test_an_output_path_that_is_a_file_exits_2(tmp_path):
    path = tmp_path / "file"
    path.write_text("x")
    assert anchor.entry(["--out", str(path), "--quick"]) == 2


def test_the_runs_name_what_auto_ran_including_its_fallback():
    from types import SimpleNamespace

    from lipexact.result import Status

    def fake(stats, status=Status.TIME_LIMIT):
        return lambda: SimpleNamespace(status=status, lower=1.0, upper=2.0, message="", stats=stats)

    fallback = anchor._ours(48, 0, "auto", fake({"auto": "milp", "first": {"method": "bnb", "nodes": 911},
                                                 "second": {"method": "milp", "rounds": 1}}), 60.0)
    assert fallback.note.startswith("picked bnb, stopped") and "then milp" in fallback.note
    assert "911 nodes" in fallback.note and not fallback.proven and fallback.counted_seconds == 60.0
    direct = anchor._ours(32, 0, "auto", fake({"auto": "bnb", "nodes": 12}, Status.OPTIMAL), 60.0)
    assert direct.note == "picked bnb; 12 nodes" and direct.proven
