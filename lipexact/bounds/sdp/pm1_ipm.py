"""A small primal-dual interior-point solver for the Shor relaxation of ``max xi^T K xi`` over ``{-1,1}^N``.

Primal ``max <K, X>`` subject to ``diag(X) = 1``, ``X >= 0``; dual ``min sum(y)`` subject to
``Z = Diag(y) - K >= 0``. The method is the one of Helmberg, Rendl, Vanderbei and Wolkowicz (1996) for this
pair: from ``X = I`` and a diagonally dominant (hence feasible) ``y``, each step solves the ``N x N`` system
``(Z^{-1} o X) dy = mu diag(Z^{-1}) - 1`` (``o``: entrywise product), sets ``dX = mu Z^{-1} - X - Z^{-1}
Diag(dy) X`` (symmetrized) and moves both iterates as far as a Cholesky test keeps them positive
definite. Every dual iterate is (numerically) feasible, so the solver may stop as soon as ``sum(y)`` is at
most a target: the caller only needs a bound below it. Cost: ``O(N^3)`` per step with dense LAPACK, a few
milliseconds for ``N = 60`` (a general conic solver through cvxpy takes seconds on the same problem,
measured in ``benchmarks/pattern_sdp.py``).

The returned ``y`` is a proposal, never a proof: :func:`lipexact.bounds.sdp.pattern.certify_pm1_dual`
turns it into a proven bound.

References
----------
Helmberg, C., Rendl, F., Vanderbei, R. J. and Wolkowicz, H. An interior-point method for semidefinite
programming. SIAM Journal on Optimization 6 (1996), 342-361.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["solve_pm1_dual"]


def _positive_definite(S: np.ndarray) -> bool:
    try:
        np.linalg.cholesky(S)
    except np.linalg.LinAlgError:
        return False
    return True


def _step(S: np.ndarray, D: np.ndarray) -> float:
    """Largest ``a`` in ``{1, 0.8, 0.64, ...}`` (then times 0.95) keeping ``S + a D`` positive definite."""
    a = 1.0
    while not _positive_definite(S + a * D):
        a *= 0.8
        if a < 1e-8:
            return 0.0
    return a if a == 1.0 else 0.95 * a


def solve_pm1_dual(K: np.ndarray, tolerance: float = 1e-9, max_iterations: int = 100,
                   target: float | None = None) -> tuple[np.ndarray, dict]:
    """Dual multipliers ``y`` (``Diag(y) - K`` positive definite up to rounding) with ``sum(y)`` near the
    Shor bound of ``max_{xi in {-1,1}^N} xi^T K xi``.

    Parameters
    ----------
    K : ndarray, shape (N, N)
        Symmetric.
    tolerance : float
        Stop when the duality gap is at most this times ``max(1, |sum(y)|)``.
    max_iterations : int
    target : float, optional
        Stop as soon as ``sum(y) <= target`` (a caller that only needs to prove a bound below it), or as soon
        as the primal objective ``<K, X>`` (``X`` stays feasible: ``diag(X) = 1``, ``X`` positive definite, so
        it is a lower bound on the relaxation's value) exceeds it: no dual point can then reach the target.

    Returns
    -------
    y : ndarray, shape (N,)
        The last dual iterate that passed a floating-point Cholesky test (a proposal, see the module
        docstring).
    info : dict
        ``iterations``, ``gap`` (dual minus primal objective), ``primal`` and ``dual`` objectives and
        ``stopped`` (``"gap"``, ``"target"``, ``"above_target"``, ``"iterations"`` or ``"stalled"``).

    Examples
    --------
    Max-Cut of a triangle through its Laplacian: ``max (1/4) xi^T L xi = 2``; the Shor bound is ``9/4``.

    >>> L = np.array([[2.0, -1, -1], [-1, 2, -1], [-1, -1, 2]])
    >>> y, info = solve_pm1_dual(L / 4)
    >>> round(float(y.sum()), 6), info["stopped"]
    (2.25, 'gap')
    """
    K = np.asarray(K, dtype=np.float64)
    N = K.shape[0]
    ones = np.ones(N)
    if N == 0:
        return np.zeros(0), {"iterations": 0, "gap": 0.0, "primal": 0.0, "dual": 0.0, "stopped": "gap"}
    X = np.eye(N)
    y = np.abs(K).sum(axis=1) * 1.1 + 1e-3 * max(float(np.abs(K).max()), 1e-300)
    Z = np.diag(y) - K
    mu = float(np.sum(Z * X)) / (2 * N)
    info = {"iterations": 0, "stopped": "iterations"}
    for iteration in range(1, max_iterations + 1):
        dual, primal = float(y.sum()), float(np.sum(K * X))
        info.update(iterations=iteration - 1, gap=dual - primal, primal=primal, dual=dual)
        if dual - primal <= tolerance * max(1.0, abs(dual)):
            info["stopped"] = "gap"
            break
        if target is not None and dual <= target:
            info["stopped"] = "target"
            break
        if target is not None and primal > target * (1.0 + 1e-9) + 1e-300:
            info["stopped"] = "above_target"  # the relaxation's value exceeds the target: it cannot be reached
            break
        try:
            Zi = np.linalg.inv(Z)
        except np.linalg.LinAlgError:
            info["stopped"] = "stalled"
            break
        Zi = 0.5 * (Zi + Zi.T)
        try:
            dy = np.linalg.solve(Zi * X, mu * np.diag(Zi) - ones)
        except np.linalg.LinAlgError:
            info["stopped"] = "stalled"
            break
        dX = mu * Zi - X - (Zi * dy[None, :]) @ X
        dX = 0.5 * (dX + dX.T)
        if not (np.all(np.isfinite(dX)) and np.all(np.isfinite(dy))):
            info["stopped"] = "stalled"
            break
        a_primal = _step(X, dX)
        a_dual = _step(Z, np.diag(dy))
        if a_primal == 0.0 and a_dual == 0.0:
            info["stopped"] = "stalled"
            break
        X = X + a_primal * dX
        y = y + a_dual * dy
        Z = np.diag(y) - K
        mu = float(np.sum(X * Z)) / (2 * N)
        if a_primal + a_dual > 1.6:
            mu *= 0.5
        if a_primal + a_dual > 1.9:
            mu /= 5.0
    else:
        dual, primal = float(y.sum()), float(np.sum(K * X))
        info.update(iterations=max_iterations, gap=dual - primal, primal=primal, dual=dual)
    if not math.isfinite(float(y.sum())):  # pragma: no cover - defensive
        y = np.abs(K).sum(axis=1)
    return y, info
