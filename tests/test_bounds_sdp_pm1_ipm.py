"""The Shor-relaxation interior-point solver: the same value as a conic solver, dual iterates feasible, early stops."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from lipexact.bounds.sdp.pm1_ipm import solve_pm1_dual


@settings(max_examples=20)
@given(st.integers(0, 10 ** 6), st.integers(1, 8))
def test_dual_iterate_is_feasible_and_the_gap_closes(seed, size):
    rng = np.random.default_rng(seed)
    B = rng.standard_normal((size, size))
    K = B + B.T  # indefinite too
    y, info = solve_pm1_dual(K)
    assert info["stopped"] == "gap"
    assert np.linalg.eigvalsh(np.diag(y) - K)[0] >= -1e-8 * max(1.0, np.abs(K).max())
    assert info["gap"] <= 1e-9 * max(1.0, abs(info["dual"]))


def test_matches_clarabel():
    cp = pytest.importorskip("cvxpy")
    rng = np.random.default_rng(5)
    Z = rng.standard_normal((7, 4))
    K = Z @ Z.T
    y, _ = solve_pm1_dual(K)
    variable = cp.Variable(7)
    problem = cp.Problem(cp.Minimize(cp.sum(variable)), [cp.diag(variable) - K >> 0])
    problem.solve(solver="CLARABEL")
    assert abs(y.sum() - problem.value) <= 1e-6 * problem.value


def test_target_stops():
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((15, 20))
    K = Z @ Z.T
    y, full = solve_pm1_dual(K)
    _, easy = solve_pm1_dual(K, target=full["dual"] * 1.5)
    assert easy["stopped"] == "target" and easy["iterations"] < full["iterations"]
    _, hopeless = solve_pm1_dual(K, target=full["dual"] * 0.95)
    assert hopeless["stopped"] == "above_target" and hopeless["primal"] > full["dual"] * 0.95
    empty, info = solve_pm1_dual(np.zeros((0, 0)))
    assert empty.size == 0 and info["stopped"] == "gap"
