import math
from fractions import Fraction

import numpy as np
import pytest

import lipexact
from lipexact.bounds.sdp import certify
from lipexact.bounds.sdp.certify import _verify, certified_rho, prove_lmi
from lipexact.deep.network import ReLUNetwork
from lipexact.network import TwoLayerReLU
from reductions.validation import InvalidInputError
from tests.exact_lmi import exact_neg_lmi


def _exactly_positive_definite(A):
    """LDL^T without pivoting in rationals: PD iff every pivot is positive."""
    A = [row[:] for row in A]
    n = len(A)
    for k in range(n):
        if A[k][k] <= 0:
            return False
        for i in range(k + 1, n):
            factor = A[i][k] / A[k][k]
            if factor:
                for j in range(k, n):
                    A[i][j] -= factor * A[k][j]
    return True


def _random_integer_net(seed, sizes):
    rng = np.random.default_rng(seed)
    weights = [rng.integers(-3, 4, size=(b, a)).astype(float) for a, b in zip(sizes[:-1], sizes[1:])]
    for w in weights:
        if not w.any():
            w[0, 0] = 1.0
    return weights


def _feasible_multipliers(weights):
    """Integer multipliers making -N positive definite: grow from the output backwards."""
    last = weights[-1]
    t = [None] * (len(weights) - 1)
    t[-1] = np.full(last.shape[1], float(np.ceil(np.linalg.norm(last, 2) ** 2)) + 1)
    for i in range(len(weights) - 2, 0, -1):
        t[i - 1] = np.full(weights[i].shape[1], float(np.ceil(np.linalg.norm(weights[i], 2) ** 2 * t[i].max())) + 1)
    return t


@pytest.mark.parametrize("seed, sizes", [(s, (2, 3, 1)) for s in range(4)] + [(s, (2, 3, 2)) for s in range(4)]
                         + [(s, (2, 2, 2, 1)) for s in range(4)])
def test_certified_rho_is_exactly_valid_and_tight(seed, sizes):
    weights = _random_integer_net(seed, sizes)
    multipliers = _feasible_multipliers(weights)
    cert = certified_rho(weights, multipliers)
    assert cert.proven and cert.scale == 1.0 and math.isfinite(cert.value)
    # exact: -M(T, rho) is positive definite at the certified rho ...
    assert _exactly_positive_definite(exact_neg_lmi(weights, cert.multipliers, cert.value))
    # ... and not below it by a relative 1e-7 (the certified rho is the minimum for T, up to the raise)
    assert not _exactly_positive_definite(exact_neg_lmi(weights, cert.multipliers, cert.value * (1 - 1e-7)))
    # the bound it proves is at least the exact Lipschitz constant
    net = ReLUNetwork([(w, None) for w in weights])
    exact = lipexact.lipschitz(net, norm=2)
    assert exact.value <= cert.lipschitz * (1 + 1e-12)


def test_rho_at_or_below_the_minimum_is_refused():
    weights, t = [[[3.0]], [[4.0]]], [[16.0]]  # f(x) = 4 relu(3x); -M(16, rho) is singular at rho = 144
    assert prove_lmi(weights, t, 144.0 * (1 + 1e-9))[0]
    assert not prove_lmi(weights, t, 144.0)[0]  # PSD but singular: a strict test cannot prove it, and must not
    assert not prove_lmi(weights, t, 144.0 * (1 - 1e-12))[0]
    assert not prove_lmi(weights, [[-16.0]], 1e6)[0]  # negative multipliers are refused, not clipped


def test_zero_multipliers_do_not_certify():
    cert = certified_rho([[[1.0, 2.0], [0.0, 1.0]], [[1.0, 1.0]]], [[0.0, 0.0]])
    assert not cert.proven and math.isinf(cert.value) and math.isinf(cert.lipschitz)
    assert "not negative definite" in cert.reason


def test_slightly_infeasible_multipliers_are_scaled_up():
    # t must exceed 8 for -N = 2t - 16 > 0; a solver returning 7.99 is infeasible at scale 1
    cert = certified_rho([[[3.0]], [[4.0]]], [[7.99]])
    assert cert.proven and cert.scale > 1.0
    assert cert.value >= 144.0
    assert _exactly_positive_definite(exact_neg_lmi([[[3.0]], [[4.0]]], cert.multipliers, cert.value))


def test_negative_multipliers_are_clipped_and_counted():
    weights = [np.eye(2), np.array([[1.0, 1.0]])]
    cert = certified_rho(weights, [[2.0, -1e-9]])
    assert cert.clipped == 1
    assert all((t >= 0).all() for t in cert.multipliers)


def test_a_lying_candidate_is_raised_until_proven(monkeypatch):
    real = certify._schur_candidate
    monkeypatch.setattr(certify, "_schur_candidate", lambda W, T: 0.25 * real(W, T))
    cert = certified_rho([[[3.0]], [[4.0]]], [[16.0]])
    assert cert.proven and cert.value > 144.0
    assert _exactly_positive_definite(exact_neg_lmi([[[3.0]], [[4.0]]], cert.multipliers, cert.value))


def test_verify_refuses_what_plain_float_cholesky_accepts():
    # exactly indefinite (0.5 - ulp - 1/2 < 0), yet LAPACK's Cholesky runs to completion on it
    F = np.array([[2.0, 1.0], [1.0, np.nextafter(0.5, 0.0)]])
    np.linalg.cholesky(F)
    assert not _exactly_positive_definite([[Fraction(x) for x in row] for row in F])
    assert not _verify(F, 0.0)[0]
    assert _verify(np.array([[2.0, 1.0], [1.0, 0.6]]), 0.0)[0]


def test_formation_error_is_accounted():
    # smallest eigenvalue 0.2: an error bound of 0.25 (spectral) leaves room for an indefinite matrix
    F = np.array([[1.0, 0.8], [0.8, 1.0]])
    assert _verify(F, 0.15)[0]
    assert not _verify(F, 0.25)[0]
    assert not _verify(F, np.array([[0.0, 0.25], [0.25, 0.0]]))[0]  # entrywise: [[1, 1.05], [1.05, 1]] is within


def test_scale_invariance():
    weights = _random_integer_net(7, (3, 4, 2))
    multipliers = _feasible_multipliers(weights)
    base = certified_rho(weights, multipliers)
    scaled = certified_rho([weights[0] * 2.0 ** -20, weights[1] * 2.0 ** 30],
                           [multipliers[0] * 2.0 ** 60])  # T scales with the square of the output layer
    assert math.isclose(scaled.value, base.value * 2.0 ** 20, rel_tol=1e-9)


def test_certifies_a_two_layer_net_bound_against_the_exact_constant():
    net = TwoLayerReLU([[1, -2], [3, 1], [0, 2]], [[1, 2, -1]])
    weights = [np.asarray(net.W1, float), np.asarray(net.W2, float)]
    cert = certified_rho(weights, _feasible_multipliers(weights))
    exact = lipexact.lipschitz(net, norm=2)
    assert cert.proven and exact.value <= cert.lipschitz


def test_bad_options_are_refused():
    with pytest.raises(InvalidInputError, match="scales"):
        certified_rho([[[1.0]], [[1.0]]], [[1.0]], scales=[0.0])
    with pytest.raises(InvalidInputError, match="max_raises"):
        certified_rho([[[1.0]], [[1.0]]], [[1.0]], max_raises=0)
