"""The per-layer SDP of ECLipsE, solved by a barrier method on its ``n x n`` Schur form.

Given ``K = W_i X_{i-1}^{-1} W_i^T`` (positive semidefinite, ``n x n``) and ``V = W_{i+1}^T W_{i+1}``, the
stage problem of ECLipsE (Xu & Sivaranjani 2024) is::

    maximize c   over t in R^n, c   subject to   Y(t, c) = 2 T - T K T - c V  >= 0,   T = diag(t).

(The paper states it as the linear matrix inequality ``[[2 T - c V, T F], [F^T T, I]] >= 0`` with
``F F^T = K``; its Schur complement is ``Y``. ``t >= 0`` is implied when ``c > 0``: ``Y_jj >= 0`` gives
``t_j (2 - K_jj t_j) >= c V_jj``.) ``T -> T K T`` is matrix-convex, so ``Y`` is matrix-concave in ``(t, c)`` and
``-log det Y`` is a convex barrier of the feasible set. A general conic solver would see an LMI of side
``n + rank K`` and, for an interior-point method such as Clarabel, a dense Newton system over its ``~n^2``
slack entries; the barrier method below works with ``n x n`` matrices and an ``(n + 1) x (n + 1)`` Newton
system (about 0.5 s for ``n = 100`` on one busy core):

    minimize  -c + mu * (-log det Y(t, c)),  mu -> 0,

Newton steps with a backtracking line search that keeps ``Y`` positive definite (Cholesky), ``mu`` divided
by 8 after each centering (from ``mu = c_0 / n``, ``c_0`` the start's objective), stopped when the barrier gap
bound ``n mu`` falls below ``tol * c``. Derivatives
(``Z = Y^{-1}``, ``W = I - T K``, ``P = Z W``, ``R = W^T Z W``, ``o`` the entrywise product)::

    d(-log det Y)/dt   = -2 diag(W^T Z)              d(-log det Y)/dc = tr(Z V)
    Hessian, t t       = 2 (P o P^T + Z o R + K o Z)
    Hessian, t c       = -2 diag(W^T Z V Z)          Hessian, c c     = tr(Z V Z V)

The answer is not trusted by anyone: ECLipsE only uses ``t`` to propose multipliers, and every reported bound
is certified afterwards (:mod:`lipexact.bounds.sdp.eclipse`). A stopped or failed solve returns its last
strictly feasible point, or the start when that is better.

Examples
--------
>>> t, c, info = solve_stage(np.array([[1.0]]), np.array([[1.0]]))   # max 2t - t^2 = 1 at t = 1
>>> round(float(t[0]), 6), round(c, 6), info["converged"]
(1.0, 1.0, True)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.linalg

__all__ = ["solve_stage", "stage_matrix"]


def stage_matrix(K: np.ndarray, V: np.ndarray, t: np.ndarray, c: float) -> np.ndarray:
    """``Y(t, c) = 2 T - T K T - c V`` (symmetrized).

    Examples
    --------
    >>> stage_matrix(np.eye(2), np.zeros((2, 2)), np.array([1.0, 0.5]), 0.0).diagonal().tolist()
    [1.0, 0.75]
    """
    Y = -(t[:, None] * K * t[None, :]) - c * V
    Y[np.diag_indices_from(Y)] += 2.0 * t
    return (Y + Y.T) / 2


def _cholesky(Y: np.ndarray) -> np.ndarray | None:
    try:
        return np.linalg.cholesky(Y)
    except np.linalg.LinAlgError:
        return None


def _newton_system(K: np.ndarray, V: np.ndarray, t: np.ndarray, L: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gradient and Hessian of ``-log det Y`` in ``(t, c)`` (module docstring), from ``Y = L L^T``."""
    n = t.size
    Z = scipy.linalg.cho_solve((L, True), np.eye(n), check_finite=False)
    Z = (Z + Z.T) / 2
    W = np.eye(n) - t[:, None] * K  # I - T K: column j is e_j - T K e_j
    P = Z @ W
    R = W.T @ P
    ZV = Z @ V
    ZVZ = ZV @ Z
    grad = np.empty(n + 1)
    grad[:n] = -2.0 * np.einsum("ij,ij->j", W, Z)  # diag(W^T Z)
    grad[n] = float(np.trace(ZV))
    H = np.empty((n + 1, n + 1))
    H[:n, :n] = 2.0 * (P * P.T + Z * R + K * Z)
    H[:n, n] = H[n, :n] = -2.0 * np.einsum("ij,ij->j", W, ZVZ)  # diag(W^T Z V Z)
    H[n, n] = float(np.einsum("ij,ji->", ZV, ZV))
    return grad, (H + H.T) / 2


def solve_stage(K: Any, V: Any, t0: Any = None, tol: float = 1e-9,
                max_newton: int = 400) -> tuple[np.ndarray, float, dict]:
    """Maximize ``c`` subject to ``2 T - T K T - c V >= 0`` (the ECLipsE stage; module docstring).

    Parameters
    ----------
    K, V : (n, n) arrays
        Positive semidefinite.
    t0 : (n,) array, optional
        A start with ``2 T0 - T0 K T0`` positive definite; default ``I / lambda_max(K)`` (the ECLipsE-Fast
        multiplier, for which ``2 T - T K T >= T``).
    tol : float
        Relative accuracy of ``c`` (barrier gap bound ``n mu <= tol |c|``).
    max_newton : int
        Newton steps in all.

    Returns
    -------
    t : ndarray
        The multipliers (strictly feasible).
    c : float
        Its objective (``c`` with ``Y(t, c)`` positive definite).
    info : dict
        ``converged``, ``newton_steps``, ``mu``.

    Examples
    --------
    >>> K = np.array([[2.0, 1.0], [1.0, 2.0]]); V = np.array([[1.0, 0.0], [0.0, 0.0]])
    >>> t, c, info = solve_stage(K, V)
    >>> info["converged"], bool(np.linalg.eigvalsh(stage_matrix(K, V, t, c)).min() >= 0)
    (True, True)
    """
    K = np.asarray(K, dtype=np.float64)
    V = np.asarray(V, dtype=np.float64)
    K, V = (K + K.T) / 2, (V + V.T) / 2
    n = K.shape[0]
    if t0 is None:
        top = float(np.linalg.eigvalsh(K)[-1]) if n else 0.0
        t = np.full(n, 1.0 / top if top > 0 else 1.0)
    else:
        t = np.asarray(t0, dtype=np.float64).copy()
    X = stage_matrix(K, V, t, 0.0)
    lowest = float(np.linalg.eigvalsh(X)[0])
    vmax = float(np.linalg.eigvalsh(V)[-1]) if n else 0.0
    if not lowest > 0:
        return t, -math.inf, {"converged": False, "newton_steps": 0, "mu": math.nan,
                              "reason": "the start is not strictly feasible"}
    if vmax <= 0:  # V = 0: c is unbounded; any feasible t does
        return t, math.inf, {"converged": True, "newton_steps": 0, "mu": 0.0, "reason": "V = 0"}
    c = 0.5 * lowest / vmax
    mu = max(c / n, 1e-300)  # the central path's gap bound n mu starts at the start's objective
    x = np.append(t, c)
    start = x.copy()
    steps = 0
    converged = False
    while steps < max_newton:
        # centering: Newton on f = -c + mu * (-log det Y)
        for _ in range(50):
            L = _cholesky(stage_matrix(K, V, x[:n], x[n]))
            grad_b, H = _newton_system(K, V, x[:n], L)
            grad = mu * grad_b
            grad[n] -= 1.0
            try:
                step = -np.linalg.solve(mu * H, grad)
            except np.linalg.LinAlgError:
                step = -np.linalg.lstsq(mu * H, grad, rcond=None)[0]
            decrement = float(-grad @ step)  # mu times the squared Newton decrement of f / mu
            steps += 1
            if not (decrement > 1e-14 * mu) or not np.isfinite(step).all():
                break
            f0 = -x[n] - mu * 2.0 * float(np.log(np.diag(L)).sum())
            alpha = 1.0
            while alpha > 1e-12:
                trial = x + alpha * step
                Lt = _cholesky(stage_matrix(K, V, trial[:n], trial[n]))
                if Lt is not None:
                    f1 = -trial[n] - mu * 2.0 * float(np.log(np.diag(Lt)).sum())
                    if f1 <= f0 - 0.25 * alpha * decrement:
                        break
                alpha *= 0.5
            if alpha <= 1e-12:
                break
            x = trial
            if decrement < 0.05 * mu or steps >= max_newton:  # centered enough (self-concordance)
                break
        if n * mu <= tol * max(x[n], start[n]):
            converged = True
            break
        mu /= 8.0
    if not x[n] >= start[n]:  # never worse than the start (a stopped or failed solve)
        x = start
    return x[:n].copy(), float(x[n]), {"converged": converged, "newton_steps": steps, "mu": mu}
