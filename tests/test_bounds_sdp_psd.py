"""The verified smallest-eigenvalue bound: checked in exact rational arithmetic, and refusing what it cannot prove."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, strategies as st

from lipexact.bounds.sdp.psd import certified_min_eigenvalue, cholesky_completes, gamma, gram_error_norm, upper
from reductions.validation import InvalidInputError
from tests.strategies import psd_integer_matrices, symmetric_integer_matrices


def _positive_definite_exactly(A: np.ndarray, shift: float) -> bool:
    """Whether ``A - shift I`` is positive definite, by Gaussian elimination on rationals (leading pivots > 0)."""
    n = A.shape[0]
    M = [[Fraction(int(A[i, j])) - (Fraction(shift) if i == j else 0) for j in range(n)] for i in range(n)]
    for k in range(n):
        if M[k][k] <= 0:
            return False
        for i in range(k + 1, n):
            factor = M[i][k] / M[k][k]
            for j in range(k, n):
                M[i][j] -= factor * M[k][j]
    return True


@given(symmetric_integer_matrices(max_size=7))
def test_the_bound_is_below_the_exact_smallest_eigenvalue(A):
    bound = certified_min_eigenvalue(A.astype(float))
    assert math.isfinite(bound)
    # the bound is strictly below lambda_min: A - bound I is positive definite in exact arithmetic (the zero
    # matrix is the one exact case: its bound is 0 = lambda_min)
    assert _positive_definite_exactly(A, bound) or (not A.any() and bound == 0.0)
    # and it is tight (relative to the matrix's size)
    estimate = float(np.linalg.eigvalsh(A.astype(float))[0])
    assert estimate - bound <= 1e-9 * max(1.0, float(np.abs(A).max()))


@given(psd_integer_matrices(max_size=6))
def test_singular_psd_matrices_get_a_tiny_negative_bound_never_a_positive_one(A):
    bound = certified_min_eigenvalue(A.astype(float))
    assert _positive_definite_exactly(A, bound) or (not A.any() and bound == 0.0)
    assert bound <= float(np.linalg.eigvalsh(A.astype(float))[0]) + 1e-12 * max(1.0, float(np.abs(A).max()))


def test_an_indefinite_matrix_is_never_certified_psd():
    A = np.array([[1.0, 2.0], [2.0, 1.0]])  # eigenvalues -1 and 3
    bound = certified_min_eigenvalue(A)
    assert bound <= -1.0 and bound > -1.0 - 1e-12
    assert not cholesky_completes(A)


def test_the_error_radius_lowers_the_bound_by_at_least_itself():
    A = np.diag([2.0, 5.0])
    assert certified_min_eigenvalue(A, error=0.5) <= 1.5
    assert certified_min_eigenvalue(A, error=0.0) <= 2.0


def test_scale_free():
    A = np.array([[2.0, 1.0], [1.0, 2.0]])
    for exponent in (-300, -40, 0, 40, 300):
        scaled = certified_min_eigenvalue(np.ldexp(A, exponent))
        assert scaled <= math.ldexp(1.0, exponent)
        assert scaled >= math.ldexp(1.0 - 1e-12, exponent)


def test_nothing_proven_when_no_shift_factorizes(monkeypatch):
    import lipexact.bounds.sdp.psd as psd

    monkeypatch.setattr(psd, "cholesky_completes", lambda B: False)
    assert psd.certified_min_eigenvalue(np.eye(3)) == -math.inf


@pytest.mark.parametrize("bad, field", [(np.array([[1.0, 2.0], [0.0, 1.0]]), "matrix"),
                                        (np.array([[np.nan]]), "matrix"), (np.ones((2, 3)), "matrix")])
def test_bad_matrices_are_refused(bad, field):
    with pytest.raises(InvalidInputError) as error:
        certified_min_eigenvalue(bad)
    assert error.value.field == field
    with pytest.raises(InvalidInputError) as error:
        certified_min_eigenvalue(np.eye(2), error=-1.0)
    assert error.value.field == "error"


@given(st.integers(1, 1000), st.floats(0.0, 1e10))
def test_rounding_helpers_round_up(k, value):
    assert gamma(k) >= k * 2.0 ** -53
    assert upper(value, k) >= value


def test_gram_error_covers_the_rounding_of_a_gram_matrix():
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((5, 40))
    computed = Z @ Z.T
    exact = np.array([[float(sum(Fraction(a) * Fraction(b) for a, b in zip(Z[i], Z[j]))) for j in range(5)]
                      for i in range(5)])
    assert np.linalg.norm(computed - exact, 2) <= gram_error_norm(Z)
