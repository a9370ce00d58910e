import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lipexact
from reductions.base import Solution
from reductions.instances import ConvexQuadratic01, ConvexQuadraticPM1, LipCst, MaxCut
from reductions.lipcst import (
    Quadratic01ToLipCst,
    QuadraticPM1ToLipCst,
    eigen_factor,
    four_squares,
    incidence_factor,
    psd_factor,
)
from reductions.maxcut import MaxCutToPM1
from reductions.validation import InvalidInputError

from .oracles import autograd_norm_squared, pattern_brute_force
from .strategies import maxcut_weights, psd_integer_matrices


def check_witness(lipcst, solution, value, exact):
    """The witness is in the open region of the solution's pattern and its gradient norm is the value."""
    x = solution.witness
    assert x is not None
    assert not lipcst.on_boundary(x)
    assert np.array_equal(lipcst.pattern_at(x)[lipcst.live], solution.pattern[lipcst.live])
    closed_form = lipcst.value_at(x)
    if exact:
        assert closed_form == value and isinstance(closed_form, int)
    else:
        assert np.isclose(closed_form, value, rtol=1e-9, atol=1e-9)
    assert np.isclose(autograd_norm_squared(lipcst.M1, lipcst.M2, x), float(value), rtol=1e-9, atol=1e-9)


def check_reduction(reduction, problem, exact):
    lipcst, inverse = reduction.apply(problem)
    assert lipcst.is_integer == exact
    optimum, s = problem.brute_force()
    # both sides by brute force: every hidden pattern (upper bound) and the LP-checked oracle
    upper = pattern_brute_force(lipcst.M1, lipcst.M2)
    realized, pattern = lipcst.brute_force()
    if exact:
        assert upper == realized == optimum
    else:
        assert np.isclose(upper, optimum, rtol=1e-9, atol=1e-9) and np.isclose(realized, optimum, rtol=1e-9,
                                                                                atol=1e-9)
    # optimum forward: a witness realizes it
    there = reduction.forward(Solution.of(problem, s), inverse)
    check_witness(lipcst, there, optimum, exact)
    # LIP-CST optimum back (from the witness alone, and from the pattern alone)
    back = reduction.invert(Solution(there.value, there.pattern, there.witness, None), inverse)
    assert back.value == optimum
    back = reduction.invert(Solution.of(lipcst, pattern), inverse)
    assert back.value == optimum
    return lipcst, inverse, optimum


# ------------------------------------------------------------------------------------------ factors
def test_four_squares():
    for value in range(0, 3000):
        roots = four_squares(value)
        assert len(roots) <= 4 and sum(r * r for r in roots) == value and all(r > 0 for r in roots)
    assert four_squares(10**12 + 7) and sum(r * r for r in four_squares(10**12 + 7)) == 10**12 + 7


@given(maxcut_weights(max_nodes=8, low=-5, high=5))
def test_incidence_factor_is_exact_for_diagonally_dominant_integer_matrices(W):
    graph = MaxCut(W)
    target, _ = MaxCutToPM1().apply(graph)           # L + cI: diagonally dominant
    F = incidence_factor(target.H)
    assert F is not None and F.dtype == np.int64
    assert np.array_equal(F @ F.T, target.H)


@given(psd_integer_matrices(max_size=6))
def test_psd_factor_reconstructs(H):
    F, how = psd_factor(H)
    if how == "incidence":
        assert np.array_equal(F @ F.T, H)
    else:
        np.testing.assert_allclose(F @ F.T, H, atol=1e-9 * max(1, np.abs(H).max()))


def test_factor_rejects_non_psd_and_handles_zero():
    with pytest.raises(InvalidInputError, match="positive semi-definite"):
        psd_factor(np.array([[0, 1], [1, 0]]))
    F, how = psd_factor(np.zeros((3, 3), dtype=int))
    assert how == "incidence" and not F.any()
    assert eigen_factor(np.zeros((2, 2))).shape == (2, 1)


# ------------------------------------------------------------------------------------------ {0,1}
@settings(max_examples=40)
@given(maxcut_weights(max_nodes=8, low=0, high=5))
def test_01_laplacian_reduction_is_exact_with_an_integer_network(W):
    problem = ConvexQuadratic01(MaxCut(W).laplacian())
    lipcst, inverse, optimum = check_reduction(Quadratic01ToLipCst(), problem, exact=True)
    assert lipcst.n_hidden == problem.n and lipcst.M2.tolist() == [[1] * problem.n]
    result = lipexact.lipschitz(lipexact.TwoLayerReLU(lipcst.M1, lipcst.M2), method="brute")
    assert np.isclose(result.value ** 2, optimum, rtol=1e-9, atol=1e-9)


@settings(max_examples=30)
@given(psd_integer_matrices(max_size=7))
def test_01_reduction_of_any_psd_matrix(H):
    problem = ConvexQuadratic01(H)
    exact = incidence_factor(H) is not None
    check_reduction(Quadratic01ToLipCst(), problem, exact=exact)


@settings(max_examples=30)
@given(psd_integer_matrices(max_size=7), st.data())
def test_01_certificates_map_both_ways(H, data):
    problem = ConvexQuadratic01(H)
    reduction = Quadratic01ToLipCst()
    lipcst, inverse = reduction.apply(problem)
    live = np.diag(H) > 0
    for _ in range(4):
        s = np.array(data.draw(st.lists(st.integers(0, 1), min_size=problem.n, max_size=problem.n)))
        there = reduction.forward(Solution.of(problem, s), inverse)
        assert np.isclose(float(there.value), float(problem.value(s)), rtol=1e-9, atol=1e-9)
        if there.witness is not None:   # any realized pattern: its witness has exactly that gradient
            assert np.isclose(float(lipcst.value_at(there.witness)), float(there.value), rtol=1e-9, atol=1e-9)
        back = reduction.invert(there, inverse)
        assert back.value == problem.value(s * live) == problem.value(s)
        assert np.array_equal(back.certificate[live], s[live])


# ------------------------------------------------------------------------------------------ {-1,1}
@settings(max_examples=40)
@given(maxcut_weights(max_nodes=7, low=-3, high=3))
def test_pm1_reduction_of_shifted_laplacians_is_exact(W):
    problem, _ = MaxCutToPM1().apply(MaxCut(W))
    lipcst, inverse, optimum = check_reduction(QuadraticPM1ToLipCst(), problem, exact=True)
    assert lipcst.n_hidden == 2 * problem.n
    assert np.array_equal(lipcst.M1[: problem.n], -lipcst.M1[problem.n:])
    result = lipexact.lipschitz(lipexact.TwoLayerReLU(lipcst.M1, lipcst.M2), method="brute")
    assert np.isclose(result.value ** 2, optimum, rtol=1e-9, atol=1e-9)


@settings(max_examples=30)
@given(psd_integer_matrices(max_size=6))
def test_pm1_reduction_of_any_psd_matrix(H):
    problem = ConvexQuadraticPM1(H)
    check_reduction(QuadraticPM1ToLipCst(), problem, exact=incidence_factor(H) is not None)


@settings(max_examples=30)
@given(psd_integer_matrices(max_size=6), st.data())
def test_pm1_certificates_map_both_ways(H, data):
    problem = ConvexQuadraticPM1(H)
    reduction = QuadraticPM1ToLipCst()
    lipcst, inverse = reduction.apply(problem)
    live = np.diag(H) > 0
    for _ in range(4):
        s = np.array(data.draw(st.lists(st.sampled_from([-1, 1]), min_size=problem.n, max_size=problem.n)))
        there = reduction.forward(Solution.of(problem, s), inverse)
        assert np.isclose(float(there.value), float(problem.value(s)), rtol=1e-9, atol=1e-9)
        assert not np.any(there.pattern[: problem.n] & there.pattern[problem.n:])
        if there.witness is not None:
            assert np.isclose(float(lipcst.value_at(there.witness)), float(there.value), rtol=1e-9, atol=1e-9)
        back = reduction.invert(there, inverse)
        assert back.value == problem.value(s)
        assert np.array_equal(back.certificate[live], s[live])


def test_unrealizable_pattern_has_no_witness_but_still_maps():
    problem = ConvexQuadratic01([[1, -1], [-1, 1]])   # f = relu(x) + relu(-x): pattern (1, 1) is empty
    reduction = Quadratic01ToLipCst()
    lipcst, inverse = reduction.apply(problem)
    there = reduction.forward(Solution.of(problem, [1, 1]), inverse)
    assert there.value == 0 and there.witness is None
    assert reduction.invert(there, inverse).certificate.tolist() == [1, 1]


def test_lipcst_target_type():
    lipcst, _ = QuadraticPM1ToLipCst().apply(ConvexQuadraticPM1([[4]]))
    assert isinstance(lipcst, LipCst) and lipcst.M1.tolist() == [[2], [-2]]
