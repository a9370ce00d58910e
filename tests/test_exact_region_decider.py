"""lipexact.exact.region_decider: the fast region decisions agree with decide_region, and every
answer they give carries a certificate that was verified exactly (forged proposals are refused)."""

from fractions import Fraction as F

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lipexact.deep.enumerate import DeepSearch
from lipexact.deep.network import ReLUNetwork
from lipexact.exact.region_decider import MARGIN_TOLERANCE, RegionDecider
from lipexact.domain import Box
from lipexact.exact.problem import Clock
from reductions.realizability import ExactRows, certify_empty, certify_point, decide_region
from tests.strategies import boxes_for, integer_matrices


def rational_rows(matrix, offsets, divisor: int = 3) -> ExactRows:
    """Integer rows divided by ``divisor`` (non-dyadic rationals: their floats are only approximations)."""
    return ExactRows.from_fractions([[F(int(v), divisor) for v in row] for row in matrix],
                                    [F(int(v), divisor) for v in offsets], n=np.shape(matrix)[1])


def box_arrays(box):
    return (None, None) if box is None else (box.lower, box.upper)


def assert_verified(decision, rows: ExactRows, lower, upper) -> None:
    if decision.status == "nonempty":
        assert certify_point(rows.A, rows.c, decision.point, lower, upper, exact=rows)
    else:
        assert decision.status == "empty"
        assert certify_empty(rows.A, rows.c, decision.multipliers, lower, upper, exact=rows)


@st.composite
def regions(draw):
    n = draw(st.integers(1, 3))
    k = draw(st.integers(1, 6))
    matrix = draw(integer_matrices(k, n))
    offsets = draw(integer_matrices(1, k))[0]
    box = draw(st.one_of(st.none(), boxes_for(n)))
    return rational_rows(matrix, offsets), box


@settings(max_examples=150, deadline=None)
@given(regions())
def test_fast_decisions_agree_with_decide_region_and_verify(region):
    rows, box = region
    lower, upper = box_arrays(box)
    fast = RegionDecider(rows.n, lower, upper).decide(rows.A, rows.c, rows)
    reference = decide_region(rows.A, rows.c, lower, upper, exact=rows)
    if fast is not None:
        assert_verified(fast, rows, lower, upper)
        assert reference.status == fast.status


def test_the_fast_path_decides_most_random_regions():
    """On random regions away from degeneracy the fast path answers nearly always (no fallback LPs)."""
    rng = np.random.default_rng(0)
    for box in (None, Box(np.full(4, -1.0), np.full(4, 2.0))):
        lower, upper = box_arrays(box)
        lp = RegionDecider(4, lower, upper)
        statuses = set()
        for _ in range(60):
            rows = rational_rows(rng.integers(-9, 10, size=(8, 4)), rng.integers(-9, 10, size=8), divisor=7)
            decision = lp.decide(rows.A, rows.c, rows)
            reference = decide_region(rows.A, rows.c, lower, upper, exact=rows)
            if decision is not None:
                assert decision.status == reference.status
                statuses.add(decision.status)
        assert statuses == {"nonempty", "empty"}
        assert lp.passed <= 3 and lp.nonempty + lp.empty + lp.passed == 60


@pytest.mark.parametrize("box", [None, Box(np.array([-4.0, -4.0]), np.array([4.0, 4.0]))])
def test_an_empty_region_is_proven_by_the_lp_duals(box):
    # x + y > 1/3 + 1 and x + y < 1/3 - 1 (rational offsets): empty, margin clearly negative with the box,
    # 0 for the homogenized global LP
    rows = ExactRows.from_fractions([[1, 1], [-1, -1]], [-(F(1, 3) + 1), F(1, 3) - 1])
    lower, upper = box_arrays(box)
    lp = RegionDecider(2, lower, upper)
    decision = lp.decide(rows.A, rows.c, rows)
    assert decision is not None and decision.status == "empty"
    assert (lp.empty, lp.passed, lp.solves) == (1, 0, 1)
    assert certify_empty(rows.A, rows.c, decision.multipliers, lower, upper, exact=rows)
    margin = lp.solve(rows.A, rows.c)[0]
    assert margin < -MARGIN_TOLERANCE if box is not None else abs(margin) <= MARGIN_TOLERANCE


def test_empty_by_the_box_faces():
    # x > 3 inside (0, 2): the certificate needs the box faces' duals
    rows = ExactRows.from_fractions([[1, 0]], [-3])
    lp = RegionDecider(2, np.zeros(2), np.full(2, 2.0))
    decision = lp.decide(rows.A, rows.c, rows)
    assert decision.status == "empty" and lp.empty == 1
    assert certify_empty(rows.A, rows.c, decision.multipliers, np.zeros(2), np.full(2, 2.0), exact=rows)


@pytest.mark.parametrize("box", [None, Box(np.array([0.0]), np.array([1.0]))])
def test_a_nearly_degenerate_region_goes_to_the_fallback(box):
    # 1/3 < x < 1/3 + 1e-12: non-empty, margin ~ 1e-12 below the tolerance: the fast path gives no answer
    # and decide_region (zoomed LPs) finds a verified point
    width = F(1, 10 ** 12)
    rows = ExactRows.from_fractions([[F(1)], [F(-1)]], [F(-1, 3), F(1, 3) + width])
    lower, upper = box_arrays(box)
    lp = RegionDecider(1, lower, upper)
    assert lp.decide(rows.A, rows.c, rows) is None
    assert lp.passed == 1
    reference = decide_region(rows.A, rows.c, lower, upper, exact=rows)
    assert reference.status == "nonempty"
    assert F(1, 3) < F(float(reference.point[0])) < F(1, 3) + width


def test_touching_halfplanes_go_to_the_fallback_with_a_box():
    rows = ExactRows.from_fractions([[1, 0], [-1, 0]], [0, 0])  # x > 0 and x < 0 in the box: margin 0
    lp = RegionDecider(2, -np.ones(2), np.ones(2))
    assert lp.decide(rows.A, rows.c, rows) is None
    assert decide_region(rows.A, rows.c, -np.ones(2), np.ones(2), exact=rows).status == "empty"


def forge(lp: RegionDecider, margin, point, duals, box_duals=None):
    lp.solve = lambda A, c: (margin, None if point is None else np.asarray(point, dtype=np.float64),
                             None if duals is None else np.asarray(duals, dtype=np.float64), box_duals)


def test_a_forged_point_outside_the_region_is_refused():
    rows = ExactRows.from_fractions([[1, 0], [0, 1]], [F(-1, 3), F(-1, 3)])  # x > 1/3, y > 1/3
    lp = RegionDecider(2)
    forge(lp, 0.5, [-5.0, 1.0], None)
    assert lp.decide(rows.A, rows.c, rows) is None and lp.nonempty == 0
    # a point on the exact boundary x = 1/3 is not a float; its nearest float lies outside (fl(1/3) < 1/3)
    forge(lp, 0.5, [1 / 3, 1.0], None)
    assert lp.decide(rows.A, rows.c, rows) is None and lp.nonempty == 0
    boxed = RegionDecider(2, np.zeros(2), np.full(2, 0.6))  # inside the rows, outside the box
    forge(boxed, 0.5, [0.5, 0.7], None)
    assert boxed.decide(rows.A, rows.c, rows) is None and boxed.nonempty == 0


def test_forged_duals_are_refused():
    rows = ExactRows.from_fractions([[1, 0], [-1, 0]], [F(-1, 3), F(4, 9)])  # 1/3 < x < 4/9: not empty
    lp = RegionDecider(2, np.zeros(2), np.ones(2))
    forge(lp, -0.5, None, [1.0, 1.0], np.zeros(4))
    assert lp.decide(rows.A, rows.c, rows) is None and lp.empty == 0
    forge(lp, -0.5, None, [1.0, 0.0], np.array([0.0, 0.0, 1.0, 0.0]))  # x > 1/3 and the face x < 1
    assert lp.decide(rows.A, rows.c, rows) is None and lp.empty == 0


def test_forged_duals_valid_for_the_floats_but_not_the_rational_rows_are_refused():
    # x / 3 - 1 > 0 and -(1/3 - 2^-70) x + 1 > 0: not empty; the floats of the two rows cancel exactly
    rows = ExactRows.from_fractions([[F(1, 3)], [-(F(1, 3) - F(1, 2 ** 70))]], [-1, 1])
    assert certify_empty(rows.A, rows.c, {0: 1, 1: 1})  # the float rows alone are "proven" empty
    lp = RegionDecider(1)
    forge(lp, 0.0, None, [1.0, 1.0])
    assert lp.decide(rows.A, rows.c, rows) is None and lp.empty == 0


def test_non_finite_float_rows_are_passed_on():
    rows = ExactRows.from_fractions([[2]], [-1])
    lp = RegionDecider(1)
    assert lp.decide(np.array([[np.inf]]), np.array([-1.0]), rows) is None and lp.passed == 1
    assert lp.solves == 0


def seeded_network(sizes, seed):
    rng = np.random.default_rng(seed)
    return ReLUNetwork([(rng.standard_normal((o, i)) / np.sqrt(i), rng.standard_normal(o) / np.sqrt(i))
                        for i, o in zip(sizes[:-1], sizes[1:])])


@pytest.mark.parametrize("sizes, seed", [((3, 4, 3, 1), 0), ((2, 5, 4, 2), 1)])
@pytest.mark.parametrize("domain", [None, "box"])
@pytest.mark.parametrize("norm", ["2", "inf"])
def test_the_deep_search_gives_the_same_results_with_the_fast_path(sizes, seed, domain, norm):
    net = seeded_network(sizes, seed)
    box = None if domain is None else Box(np.full(net.n_inputs, -1.0), np.full(net.n_inputs, 1.5))
    outcomes = []
    for fast in (True, False):
        for bnb in (False, True):
            search = DeepSearch(net, norm, box, Clock(), node_limit=5000, bnb=bnb)
            search.fast_regions = fast
            outcomes.append((fast, search.run()))
    for fast, outcome in outcomes:
        assert outcome.status.value == "optimal"
        assert outcome.value == pytest.approx(outcomes[-1][1].value, rel=1e-12)
        decided = outcome.stats.get("fast_lp", 0) + outcome.stats.get("fallback", 0)
        assert decided == (outcome.stats["lps"] if fast else 0)
    assert outcomes[0][1].stats["fast_lp"] > 0
    assert outcomes[0][1].stats["cells"] == outcomes[2][1].stats["cells"]  # the enumeration visits every cell
