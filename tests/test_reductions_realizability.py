"""The one realizability module: exact certificates decide, the float LPs only propose."""

from fractions import Fraction

import numpy as np
import pytest

from reductions import realizability
from reductions.realizability import (RegionDecision, certify_empty, certify_point, decide_region, exact_signs,
                                      proportionality, rows_of_pattern)


# ------------------------------------------------------------------------------------------- point checks
def test_a_pre_activation_of_exactly_zero_is_refused():
    A, c = np.array([[3.0, 3.0]]), np.zeros(1)
    x = np.array([-0.2, 0.2])              # 3 x1 + 3 x2 is exactly 0; float arithmetic may say +-5.6e-17
    assert exact_signs(A, c, x).tolist() == [0]
    assert not certify_point(A, c, x)
    assert certify_point(A, c, np.array([-0.2, np.nextafter(0.2, 1.0)]))


@pytest.mark.parametrize("x", [[1.0, 2.0], [0.0, 1.0], [np.nextafter(0.0, -1.0), 1.0], [float("nan"), 1.0]])
def test_points_on_or_outside_the_open_box_are_refused(x):
    A, c = np.array([[1.0, 0.0]]), np.array([1.0])
    assert not certify_point(A, c, x, lower=[0.0, 0.0], upper=[1.0, 2.0])


def test_exact_signs_agree_with_fractions_on_hard_cancellations():
    rng = np.random.default_rng(0)
    for _ in range(200):
        w = rng.normal(size=3) * 10.0 ** rng.integers(-8, 8, size=3)
        x = rng.normal(size=3)
        b = -float(w @ x)                   # the float value is near 0: the filter must defer to fractions
        exact = sum(Fraction(a) * Fraction(v) for a, v in zip(w, x)) + Fraction(b)
        assert exact_signs(w[None, :], np.array([b]), x)[0] == (exact > 0) - (exact < 0)


# ------------------------------------------------------------------------------------------- emptiness checks
@pytest.mark.parametrize("multipliers", [{0: 1, 1: 2}, {0: 1}, {0: 0, 1: 0}, {0: -1, 1: -1}, {}, {0: 1, 7: 1}])
def test_multipliers_that_do_not_prove_emptiness_are_refused(multipliers):
    A, c = np.array([[1.0], [-1.0]]), np.array([-1.0, -5.0])    # x > 1 and x < -5: empty, y = (1, 1) proves it
    assert certify_empty(A, c, {0: 1, 1: 1})
    assert not certify_empty(A, c, multipliers)


def test_a_box_certificate_needs_the_box():
    A, c = np.array([[1.0]]), np.array([-2.0])                  # x > 2
    assert certify_empty(A, c, {0: 1}, lower=[0.0], upper=[2.0])
    assert not certify_empty(A, c, {0: 1}, lower=[0.0], upper=[np.nextafter(2.0, 3.0)])
    assert not certify_empty(A, c, {0: 1})                      # globally x > 2 is not empty


# ------------------------------------------------------------------------------------------- decisions
@pytest.mark.parametrize("eps", [1e-3, 1e-6, 1e-9, 1e-12, 1e-14])
def test_thin_cones_are_found_with_verified_points(eps):
    A = np.array([[-1.0, 0.0], [1.0, eps]])                     # x1 < 0 < x1 + eps x2
    decision = decide_region(A, np.zeros(2))
    assert decision.nonempty and certify_point(A, np.zeros(2), decision.point)


@pytest.mark.parametrize("eps", [1e-9, 1e-12, 1e-15])
def test_thin_slabs_far_from_the_origin(eps):
    W, b = np.array([[0.5], [0.5 * (1 + eps)]]), np.array([0.3, 0.3])
    A, c = rows_of_pattern(W, b, [True, False])                 # -0.6 < x < -0.6 / (1 + eps)
    decision = decide_region(A, c)
    assert decision.nonempty and certify_point(A, c, decision.point)
    A, c = rows_of_pattern(W, b, [False, True])
    decision = decide_region(A, c)
    assert decision.empty and certify_empty(A, c, decision.multipliers)


@pytest.mark.parametrize("lower, upper, offset, nonempty", [
    ([0.1], [0.1 + 1e-9], -0.1, True), ([1e10], [1e10 + 1.0], -1e10 - 0.5, True), ([1e8], [1e8 + 1e-3], -1e9, False),
    ([-1e-200], [1e-200], 0.0, True)])
def test_thin_and_far_boxes(lower, upper, offset, nonempty):
    A, c = np.array([[1.0]]), np.array([offset])
    decision = decide_region(A, c, lower, upper)
    assert decision.nonempty == nonempty
    if nonempty:
        assert certify_point(A, c, decision.point, lower, upper)
    else:
        assert decision.empty and certify_empty(A, c, decision.multipliers, lower, upper)


def test_lying_proposals_give_undecided_never_a_wrong_answer(monkeypatch):
    """The float LPs only propose: points outside the region and multipliers that prove nothing are refused."""
    A, c = np.array([[-1.0, 0.0], [1.0, 1e-9]]), np.zeros(2)    # non-empty

    def bad(A, c, *args, **kwargs):   # a point outside the region, multipliers that do not cancel
        return realizability._Proposal(margin=1.0, point=np.ones(A.shape[1]), duals=np.arange(1.0, A.shape[0] + 1),
                                       box_duals=None)

    monkeypatch.setattr(realizability, "_chebyshev", bad)
    monkeypatch.setattr(realizability, "_farkas_lp", bad)
    monkeypatch.setattr(realizability, "_zoomed_point", lambda *args, **kwargs: None)
    decision = decide_region(A, c)
    assert decision.undecided, decision
    empty = (np.array([[1.0], [-1.0]]), np.array([-1.0, -5.0]))   # empty: the lying point x = 1 is refused
    decision = decide_region(*empty)
    assert not decision.nonempty
    assert decision.empty == certify_empty(*empty, decision.multipliers or {})


def test_zero_rows_decide_by_their_constant():
    assert decide_region(np.zeros((1, 2)), np.array([1.0])).nonempty
    decision = decide_region(np.zeros((1, 2)), np.array([0.0]))
    assert decision.empty and decision.multipliers == {0: 1}


def test_exact_proportionality():
    assert proportionality(np.array([-2.0, 0.6]), np.array([1.0, -0.3])) == -1
    assert proportionality(np.array([0.75, 3.0]), np.array([0.25, 1.0])) == 1
    assert proportionality(np.array([1.0, 0.3]), np.array([1.0, 0.30000000000000004])) == 0
    assert proportionality(np.array([0.0, 1.0]), np.array([1.0, 1.0])) == 0


def test_region_decision_flags():
    assert RegionDecision("empty").empty and not RegionDecision("empty").nonempty
    assert RegionDecision("undecided").undecided


def test_exact_rows_beyond_the_float_range_have_infinite_floats():
    from fractions import Fraction

    from reductions.realizability import ExactRows

    rows = ExactRows.from_fractions([[Fraction(10 ** 400), Fraction(-(10 ** 400))]], [Fraction(-(10 ** 401), 3)], n=2)
    assert rows.A.tolist() == [[np.inf, -np.inf]] and rows.c.tolist() == [-np.inf]


def test_certify_empty_on_rational_rows_is_exact_in_both_directions():
    from fractions import Fraction

    from reductions.realizability import certify_empty

    # x > 1/3 and x < 1/3 (as -x + 1/3 > 0): empty; with 1/3 + 2^-60 on the second row it is not
    A = np.array([[1.0], [-1.0]])
    empty = ([[Fraction(1)], [Fraction(-1)]], [Fraction(-1, 3), Fraction(1, 3)])
    nonempty = ([[Fraction(1)], [Fraction(-1)]], [Fraction(-1, 3), Fraction(1, 3) + Fraction(1, 2 ** 60)])
    c = np.array([-1 / 3, 1 / 3])
    assert certify_empty(A, c, {0: 1, 1: 1}, exact=empty)
    assert not certify_empty(A, c, {0: 1, 1: 1}, exact=nonempty)
    assert not certify_empty(A, c, {0: Fraction(1), 1: Fraction(1, 2)}, exact=empty)  # y^T A != 0
    assert certify_empty(A, c, {0: 1, 1: 1}, lower=[0.0], upper=[1.0], exact=empty)
    assert not certify_empty(A, c, {0: 1, 1: 1}, lower=[0.0], upper=[1.0], exact=nonempty)
