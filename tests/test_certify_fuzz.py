"""The independent oracle of ``benchmarks/certify_fuzz.py`` (exact simplex, region enumeration, norms), its
known answers, the judging rules, and the fuzz's command line on a few runs.

The oracle is the measuring instrument of the certification fuzz, so it is checked here without the
solver: every region it reports holds an exact point of that region, every region found by dense random
sampling is among the ones it reports, its constant is never below a sampled gradient norm, and it
reproduces closed-form answers of thin cones, slabs and boxes.
"""

from __future__ import annotations

import json
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks import certify_fuzz as cf
from tests.strategies import boxes_for, two_layer_nets

F = Fraction


def _strict_holds(A, c, x) -> bool:
    return all(sum(F(a) * xi for a, xi in zip(row, x)) < bound for row, bound in zip(A, c))


# ------------------------------------------------------------------------------------------- exact simplex
@pytest.mark.parametrize("A, c, nonempty", [
    ([], [], True),
    ([[1]], [0], True),                                  # x < 0
    ([[1], [-1]], [0, 0], False),                        # x < 0 < x
    ([[1], [-1]], [F(1, 10 ** 30), 0], True),            # 0 < x < 1e-30
    ([[0, 0]], [0], False),                              # 0 < 0
    ([[0, 0]], [1], True),                               # 0 < 1
    ([[1, 1], [-1, 0], [0, -1]], [0, 0, 0], False),      # x + y < 0, x > 0, y > 0
    ([[1, 1], [-1, 0], [0, -1]], [F(1, 10 ** 12), 0, 0], True),
    ([[1, 0], [-1, 0]], [1, 1], True),                   # |x| < 1, y free (a redundant row of the dual)
    ([[1, -1], [-1, 1]], [0, 0], False),                 # x < y < x
    ([[1, 0, 0], [0, 1, 0], [-1, -1, 0], [0, 0, 1]], [0, 0, 0, 5], False),  # x<0, y<0, x+y>0
])
def test_decide_strict_on_small_systems(A, c, nonempty):
    A = [[F(v) for v in row] for row in A]
    c = [F(v) for v in c]
    n = len(A[0]) if A else 2
    decision = cf.decide_strict(A, c, n)
    assert decision.nonempty is nonempty
    if nonempty:
        assert _strict_holds(A, c, decision.point)
    else:
        y = decision.multipliers
        assert all(v >= 0 for v in y) and any(v > 0 for v in y)
        assert all(sum(y[k] * A[k][j] for k in range(len(A))) == 0 for j in range(n))
        assert sum(yk * ck for yk, ck in zip(y, c)) <= 0


@given(st.integers(1, 3).flatmap(lambda n: st.tuples(
    st.just(n),
    st.lists(st.lists(st.integers(-3, 3), min_size=n, max_size=n), min_size=1, max_size=7),
    st.lists(st.integers(-3, 3), min_size=7, max_size=7))))
def test_decide_strict_certificates_always_verify(problem):
    n, A, c = problem
    A = [[F(v) for v in row] for row in A]
    c = [F(v) for v in c[: len(A)]]
    decision = cf.decide_strict(A, c, n)  # raises OracleError if a certificate does not verify
    if decision.nonempty:
        assert _strict_holds(A, c, decision.point)
    else:
        y = decision.multipliers
        assert any(v > 0 for v in y) and sum(yk * ck for yk, ck in zip(y, c)) <= 0


# ------------------------------------------------------------------------------------------- regions
def _sample_points(rng, n, domain, count):
    if domain is None:  # a wide cloud around the origin, at several radii
        radii = 10.0 ** rng.uniform(-2, 2, size=(count, 1))
        return rng.normal(size=(count, n)) * radii
    lower, upper = (np.asarray(v, dtype=float) for v in domain)
    return lower + rng.uniform(size=(count, n)) * (upper - lower)


def _sampled_patterns(W1, b1, points):
    W1 = np.asarray(W1, dtype=float)
    pre = points @ W1.T + (0.0 if b1 is None else np.asarray(b1, dtype=float))
    live = np.any(W1 != 0, axis=1)
    keep = np.all((pre != 0) | ~live, axis=1)  # drop the (measure-zero) points on a live hyperplane
    return {tuple(bool(v) for v in row) for row in (pre[keep] > 0) & live}


@settings(max_examples=40)
@given(data=st.data())
def test_sampled_regions_are_among_the_oracle_regions(data):
    net = data.draw(two_layer_nets(max_inputs=3, max_hidden=6))
    domain = data.draw(st.none() | boxes_for(net.n_inputs).map(lambda b: (b.lower, b.upper)))
    regions = cf.realizable_regions(net.W1, net.b1, domain)
    patterns = {r.pattern for r in regions}
    assert len(patterns) == len(regions)
    points = _sample_points(np.random.default_rng(0), net.n_inputs, domain, 20000)
    assert _sampled_patterns(net.W1, net.b1, points) <= patterns


def test_gaussian_nets_sampling_finds_exactly_the_oracle_regions_on_a_box():
    rng = np.random.default_rng(1)
    for _ in range(10):
        W1, b1 = rng.normal(size=(5, 2)), rng.normal(size=5)
        domain = ([-2.0, -2.0], [2.0, 2.0])
        oracle_patterns = {r.pattern for r in cf.realizable_regions(W1, b1, domain)}
        sampled = _sampled_patterns(W1, b1, _sample_points(rng, 2, domain, 200000))
        assert sampled <= oracle_patterns
        # generic lines in a box: the regions the sampling misses are tiny; most are found
        assert len(sampled) >= len(oracle_patterns) - 2


@settings(max_examples=40)
@given(net=two_layer_nets(max_inputs=3, max_hidden=6), data=st.data())
def test_every_oracle_region_holds_its_exact_point(net, data):
    domain = data.draw(st.none() | boxes_for(net.n_inputs).map(lambda b: (b.lower, b.upper)))
    W = [[F(int(v)) for v in row] for row in net.W1]
    b = [F(0)] * net.n_hidden if net.b1 is None else [F(int(v)) for v in net.b1]
    for region in cf.realizable_regions(net.W1, net.b1, domain):
        x = region.point
        for i in range(net.n_hidden):
            pre = sum(w * xi for w, xi in zip(W[i], x)) + b[i]
            if any(W[i]):
                assert (pre > 0) == region.pattern[i] and pre != 0
            else:
                assert region.pattern[i] is False
        if domain is not None:
            assert all(F(lo) < xi < F(hi) for lo, xi, hi in zip(domain[0], x, domain[1]))


@settings(max_examples=30)
@given(net=two_layer_nets(max_inputs=2, max_hidden=5, max_outputs=2), data=st.data())
def test_the_oracle_constant_is_at_least_every_sampled_gradient_norm(net, data):
    domain = data.draw(st.none() | boxes_for(net.n_inputs).map(lambda b: (b.lower, b.upper)))
    truth = cf.oracle(net.W1, net.W2, net.b1, domain)
    points = _sample_points(np.random.default_rng(2), net.n_inputs, domain, 5000)
    W1, W2 = np.asarray(net.W1, float), np.asarray(net.W2, float)
    pre = points @ W1.T + (0.0 if net.b1 is None else np.asarray(net.b1, float))
    J = np.einsum("ki,pi,ij->pkj", W2, (pre > 0).astype(float), W1)
    sampled = {"2": np.linalg.norm(J, ord=2, axis=(1, 2)), "1": np.abs(J).sum(axis=1).max(axis=1),
               "inf": np.abs(J).sum(axis=2).max(axis=1)}
    for norm in cf.NORMS:
        assert sampled[norm].max() <= truth.values[norm] * (1 + 1e-12) + 1e-12


# ------------------------------------------------------------------------------------------- known answers
def test_the_known_answers_of_the_brief():
    cone = cf.oracle([[1.0, 0.0], [1.0, 1e-9]], [[1.0, -1.0]])
    assert cone.values == {"2": math.hypot(1.0, 1e-9), "1": 1.0, "inf": 1.0 + 1e-9}
    slab = cf.oracle([[0.5], [0.500000001]], [[1.0, -1.0]], [0.3, 0.3])
    assert slab.values == {"2": 0.5, "1": 0.5, "inf": 0.5} and slab.patterns["2"] == (True, False)
    box = cf.oracle([[1.0]], [[1.0]], None, ([0.1], [0.1 + 1e-9]))
    assert box.values["2"] == 1.0 and box.regions == 1
    far = cf.oracle([[1.0, 0.0], [0.0, 1.0]], [[2.0, 1.0]], [-(1e6 + 5e-4), 0.0], ([1e6, -1.0], [1e6 + 1e-3, 1.0]))
    assert far.values == {"2": math.sqrt(5.0), "1": 2.0, "inf": 3.0} and far.regions == 4
    far1 = cf.oracle([[1.0], [1.0]], [[1.0, 3.0]], [0.0, -(1e10 + 0.5)], ([1e10], [1e10 + 1.0]))
    assert far1.values["2"] == 4.0 and far1.regions == 2
    # without the thin regions the constants would be eps, 0.5e-9, ...: the oracle must see them
    thin = cf.oracle([[1.0, 0.0], [1.0, 1e-12]], [[1.0, -1.0]], None, ([-1.0, -1.0], [1.0, 1.0]))
    assert thin.values["1"] == 1.0 and thin.regions == 4


@pytest.mark.parametrize("family", ["thin_cone", "thin_slab", "thin_box"])
def test_the_oracle_matches_every_closed_form_of_the_thin_families(family):
    families = (family,)
    checked = 0
    for index in range(60):
        case = cf.make_case(3, index, families)
        if case.known is None:
            continue
        truth = cf.oracle(case.W1, case.W2, case.b1, case.domain)
        for norm, value in case.known.items():
            assert math.isclose(truth.values[norm], value, rel_tol=1e-12, abs_tol=0.0), (index, norm)
        checked += 1
    assert checked >= 15


def test_cases_are_reproducible_and_independent_of_the_run_size():
    a, b = cf.make_case(7, 12), cf.make_case(7, 12)
    assert a.family == b.family and np.array_equal(a.W1, b.W1) and np.array_equal(a.W2, b.W2)
    assert cf.make_case(7, 13).family != a.family


def test_every_family_builds_small_valid_networks():
    from lipexact import TwoLayerReLU
    from lipexact.domain import as_box

    for index in range(8 * len(cf.FAMILIES)):
        case = cf.make_case(0, index)
        h, n = case.W1.shape
        assert h <= 8 and n <= 4 and case.W2.shape[1] == h
        net = TwoLayerReLU(case.W1, case.W2, case.b1)
        if case.domain is not None:
            as_box(case.domain, net.n_inputs)


# ------------------------------------------------------------------------------------------- judging
def _record(status, value, lower, upper, truth=1.0, magnitude=1.0):
    return cf.judge(cf.RunRecord(0, "f", "global", "brute", "2", "result", status=status, value=value,
                                 lower=lower, upper=upper, truth=truth, magnitude=magnitude))


def test_judge_flags_wrong_optimal_values_and_brackets_that_miss_the_truth():
    assert not _record("optimal", 1.0 + 5e-10, 1.0, 1.0 + 5e-10).failure
    wrong = _record("optimal", 1.0 + 1e-8, 1.0 + 1e-8, 1.0 + 1e-8)
    assert wrong.wrong_optimal and wrong.bracket_violation
    assert _record("optimal", 0.5, 0.5, 2.0).wrong_optimal          # right bracket, wrong value
    assert not _record("time_limit", 0.5, 0.5, 2.0).failure
    assert _record("time_limit", 0.5, 0.5, 0.9).bracket_violation  # proven upper bound below the truth
    assert _record("time_limit", None, 1.1, None).bracket_violation
    assert not _record("time_limit", None, None, None).failure
    assert _record("optimal", None, None, None).wrong_optimal
    # the absolute floor: 1e-13 of the magnitude
    assert not _record("optimal", 0.0, 0.0, 0.0, truth=1e-14, magnitude=1.0).failure
    assert _record("optimal", 0.0, 0.0, 0.0, truth=1e-12, magnitude=1.0).wrong_optimal


# ------------------------------------------------------------------------------------------- the fuzz
def test_a_small_fuzz_records_every_run(tmp_path):
    fuzz = cf.run_fuzz(runs=40, seed=0, time_limit=5.0)
    assert len(fuzz.runs) == 40
    assert {r.family for r in fuzz.runs} == set(list(cf.FAMILIES)[: len(fuzz.cases)])
    for r in fuzz.runs:
        assert r.truth is not None and r.outcome in ("result", "invalid_input", "exception", "hang")
        if r.outcome == "result":
            assert r.status is not None
    assert not any(r.method == "milp" and r.norm == "2" and len(fuzz.cases[r.case]["W2"]) > 1 for r in fuzz.runs)
    assert not any(r.method == "vertices" and r.norm == "2" for r in fuzz.runs)
    section = cf.build_section(fuzz)
    assert [t.key for t in section.tables] == ["certify_fuzz_statuses", "certify_fuzz_families",
                                               "certify_fuzz_failures"]
    total = section.tables[0].rows[-1]
    assert total[0] == "all" and total[3] == 40


def test_the_command_line_writes_the_report(tmp_path, capsys):
    out = tmp_path / "fuzz"
    assert cf.entry(["--runs", "12", "--seed", "1", "-o", str(out), "--no-progress",
                     "--families", "thin_cone"]) == 0
    assert capsys.readouterr().out.strip() == str(out / "report.md")
    results = json.loads((out / "results.json").read_text())
    (section,) = results["sections"]
    assert sum(len(case["runs"]) for case in section["records"]) == 12
    assert all(case["family"] == "thin_cone" for case in section["records"])
    assert "Certification fuzz" in (out / "report.md").read_text()
    for key in ("certify_fuzz_statuses", "certify_fuzz_families", "certify_fuzz_failures"):
        assert (out / f"{key}.csv").exists()


@pytest.mark.parametrize("argv, field", [(["--runs", "0"], "runs"), (["--families", "nope"], "families"),
                                         (["--seed", "-1"], "seed")])
def test_bad_arguments_exit_2(argv, field, tmp_path, capsys):
    assert cf.entry(argv + ["-o", str(tmp_path / "o"), "--no-progress"]) == 2
    assert capsys.readouterr().err.startswith(f"{cf.PROG}: error: {field}")


def test_doctests():
    import doctest

    failures, tried = doctest.testmod(cf, optionflags=doctest.ELLIPSIS)
    assert failures == 0 and tried > 0
