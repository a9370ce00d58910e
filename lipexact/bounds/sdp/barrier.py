"""A structured log-barrier interior-point solver for the LipSDP-neuron SDP (numpy, dense, CPU).

General conic solvers handle the PSD cone of an ``n x n`` LMI with a dense block of ``n(n+1)/2`` squared in
their KKT system (measured: Clarabel through cvxpy needs 49 s for a side-80 LipSDP on this machine, and the
cost grows like ``n^6``), so they stop at a few hundred neurons. This SDP has only ``m + 1`` scalar
variables (one multiplier per hidden neuron and ``rho``) and every constraint matrix has rank at most two:
``dS/dt_a = -(u_a e_a^T + e_a u_a^T) + 2 e_a e_a^T`` for ``S = -M``, with ``e_a`` the neuron's coordinate
and ``u_a`` its weight row placed on the previous layer's coordinates. So Newton's method on the barrier

    tau * rho - log det S(t, rho) - sum_a log t_a

needs per step one Cholesky factorization and inverse of ``S`` (``O(n^3)``) and the ``(m+1) x (m+1)``
Hessian ``H_ab = tr(X A_a X A_b)`` (``X = S^{-1}``), which the rank-two structure gives in closed form from
``P = U^T X U``, ``Q = U^T X E``, ``R = E^T X E``:
``H = 2 Q o Q^T + 2 R o P - 4 R o (Q + Q^T) + 4 R o R`` (``o``: entrywise product). Path following:
``tau`` grows tenfold after each centering, until the barrier's duality-gap bound ``(n + m) / tau`` is a
``tol`` fraction of ``rho`` (Boyd & Vandenberghe 2004, section 11.3).

``S`` itself is assembled from a part fixed per problem and the multipliers (:class:`_Structure`; measured on the
LipSDP node bounds of an 11-24-24-1 global search, 120 s: 15.9 -> 13.9 ms a solve against building the matrix
through :func:`lipexact.bounds.sdp.lmi.unchecked_matrix` at every Newton and line-search step).

Only the multipliers leave this module: the bound is what
:func:`lipexact.bounds.sdp.certify.certified_rho` proves for them.

Examples
--------
>>> out = barrier_lipsdp([np.array([[3.0]]), np.array([[4.0]])])
>>> round(out["rho"], 5), round(float(out["multipliers"][0][0]), 3)
(144.0, 16.0)
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import scipy.linalg

from lipexact.bounds.sdp.certify import _schur_candidate, schur_candidate
from lipexact.bounds.sdp.lmi import hidden_widths

__all__ = ["barrier_lipsdp", "feasible_multipliers"]


def feasible_multipliers(weights: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Constant multipliers ``t_i = tau_i`` that make ``-N`` positive definite (so some ``rho`` certifies).

    Backwards: ``tau_{k-1} = ||W_k||^2 + 1`` and ``tau_i = tau_{i+1} ||W_{i+1}||^2 + 1``. Then the block
    Schur complements of ``-N`` taken from the first hidden layer satisfy ``D_i >= tau_i I`` and the last one
    ``>= I``.

    Examples
    --------
    >>> [t.round(9).tolist() for t in feasible_multipliers([np.eye(2), np.array([[1.0, 1.0]])])]
    [[3.0, 3.0]]
    """
    norms = [float(np.linalg.norm(w, 2)) ** 2 for w in weights]
    taus = [norms[-1] + 1.0]
    for i in range(len(weights) - 2, 0, -1):
        taus.insert(0, taus[0] * norms[i] + 1.0)
    return [np.full(w.shape[0], tau) for w, tau in zip(weights[:-1], taus)]


class _Structure:
    """Coordinates of each multiplier's rank-two constraint matrix."""

    def __init__(self, weights: list[np.ndarray]):
        self.weights = weights
        self.sizes = [weights[0].shape[1]] + hidden_widths(weights)
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)]).astype(int)
        self.n = int(self.offsets[-1])
        self.n0 = self.sizes[0]
        self.m = self.n - self.n0
        # e_a, neuron a's coordinate in S, is n0 + a. S = -M(T, rho) = base + rho E_in + 2 diag(t) on the neurons'
        # coordinates - (U diag(t) E^T + its transpose): U's column a is
        # neuron a's weight row placed on the previous layer's coordinates (assembled once, not per Newton step)
        self.U = np.zeros((self.n, self.m))
        for i in range(1, len(self.sizes)):
            prev = slice(self.offsets[i - 1], self.offsets[i])
            cols = slice(self.offsets[i] - self.n0, self.offsets[i + 1] - self.n0)
            self.U[prev, cols] = weights[i - 1].T
        self.base = np.zeros((self.n, self.n))
        last = slice(self.offsets[-2], self.offsets[-1])
        self.base[last, last] = -(weights[-1].T @ weights[-1])

    def candidate(self, t: np.ndarray) -> float:
        """The float Schur candidate ``rho`` at ``t`` (NaN when ``-N`` is not positive definite)."""
        return _schur_candidate(self.weights, self.split(t))

    def S(self, t: np.ndarray, rho: float) -> np.ndarray:
        """``-M(T, rho)`` (the same entries as :func:`lipexact.bounds.sdp.lmi.unchecked_matrix`, negated)."""
        S = self.base.copy()
        diagonal = S.reshape(-1)[::self.n + 1]  # a view of the diagonal; the neurons are coordinates n0 .. n - 1
        diagonal[:self.n0] += rho
        diagonal[self.n0:] += 2.0 * t
        B = self.U * t
        S[:, self.n0:] -= B
        S[self.n0:, :] -= B.T
        return S

    def split(self, t: np.ndarray) -> list[np.ndarray]:
        return [t[self.offsets[i] - self.n0:self.offsets[i + 1] - self.n0] for i in range(1, len(self.sizes))]

    def XU(self, X: np.ndarray) -> np.ndarray:
        """``K = X U`` (``n x m``), ``U``'s column ``a`` being neuron ``a``'s weight row on the previous layer."""
        K = np.empty((self.n, self.m))
        for i in range(1, len(self.sizes)):
            prev = slice(self.offsets[i - 1], self.offsets[i])
            cols = slice(self.offsets[i] - self.n0, self.offsets[i + 1] - self.n0)
            K[:, cols] = X[:, prev] @ self.weights[i - 1].T
        return K

    def UtK(self, K: np.ndarray) -> np.ndarray:
        """``P = U^T X U`` from ``K = X U``."""
        P = np.empty((self.m, self.m))
        for i in range(1, len(self.sizes)):
            prev = slice(self.offsets[i - 1], self.offsets[i])
            rows = slice(self.offsets[i] - self.n0, self.offsets[i + 1] - self.n0)
            P[rows, :] = self.weights[i - 1] @ K[prev, :]
        return P


class _SkipStructure(_Structure):
    """:class:`_Structure` with a skip: the second hidden layer's neurons also read the input through ``skip``
    (their rows of ``U`` gain the input coordinates), for :mod:`lipexact.bounds.sdp.skip`."""

    def __init__(self, weights: list[np.ndarray], skip: np.ndarray):
        super().__init__(weights)
        cols = slice(self.offsets[2] - self.n0, self.offsets[3] - self.n0)
        self.U[:self.n0, cols] = np.asarray(skip, dtype=np.float64).T

    def XU(self, X: np.ndarray) -> np.ndarray:
        return X @ self.U

    def UtK(self, K: np.ndarray) -> np.ndarray:
        return self.U.T @ K

    def candidate(self, t: np.ndarray) -> float:
        return schur_candidate(self.S(t, 0.0), self.n0)


def _warm_start(st: _Structure, start) -> tuple | None:
    """``(t, rho)`` strictly inside the feasible set from given multipliers (an enclosing problem's, restricted),
    each raised to at least :data:`WARM_FLOOR` times the largest (the barrier needs every ``t > 0``), ``rho`` a
    quarter above their Schur candidate; None when they do not fit or ``-N`` is not positive definite there."""
    if start is None:
        return None
    try:
        t = np.concatenate([np.asarray(part, dtype=np.float64).ravel() for part in start])
    except ValueError:
        return None
    if t.shape != (st.m,) or not np.all(np.isfinite(t)) or not t.max() > 0:
        return None
    t = np.maximum(t, WARM_FLOOR * float(t.max()))
    candidate = st.candidate(t)
    if not np.isfinite(candidate):
        return None
    rho = 1.25 * candidate + 1e-300
    return (t, rho) if _chol(st.S(t, rho)) is not None else None


#: Smallest warm-start multiplier, relative to the largest.
WARM_FLOOR = 1e-3
#: With a ``target``, the relative gap bound at which a solve whose optimum is certainly above the target stops
#: (``target_tol`` of :func:`barrier_lipsdp`; the deep search solves its root to the end, whose bound caps every node).
#: Measured on the LipSDP node bounds of global l2 searches (the same node limits, two runs at once, one thread each,
#: load about 2, CPU seconds, 2026-11-29; 1e-2 -> 0.1): SDP seconds 19.9 -> 15.4 and the search 41.6 -> 35.9 s (random
#: 11-24-24-1 seed 0, 4,000 nodes), 21.9 -> 20.0 and 43.6 -> 44.0 s (13-20-16-8-3, 4,000 nodes), 14.4 -> 13.3 and 26.4
#: -> 26.7 s (trained 11-24-24-1 seed 1, 3,000 nodes), 34.4 -> 30.1 and 131.7 -> 130.4 s (9-16-16-1 seed 1, proven, the
#: same nodes within 5); the same prunes within 2, upper ends at most 0.03% higher. The solves that do not prune only
#: bound their node; their multipliers still warm-start the children.
TARGET_TOLERANCE = 0.1


def _chol(S: np.ndarray) -> np.ndarray | None:
    """The lower Cholesky factor of ``S`` (LAPACK ``potrf`` called directly: the wrappers' checks took about as
    long as the factorization at these sizes), None when ``S`` is not positive definite. The strict upper
    triangle is left as in ``S``: only the lower one and the diagonal are read."""
    if not np.all(np.isfinite(S)):
        return None
    factor, info = scipy.linalg.lapack.dpotrf(S, lower=1, clean=0)
    return factor if info == 0 else None


def _inverse(factor: np.ndarray) -> np.ndarray:
    """``S^{-1}`` from the lower Cholesky factor (LAPACK ``potrs`` on the identity)."""
    X, info = scipy.linalg.lapack.dpotrs(factor, np.eye(factor.shape[0]), lower=1)
    if info != 0:  # pragma: no cover - only for invalid arguments
        raise np.linalg.LinAlgError("potrs failed")
    return X


def _solve_positive(H: np.ndarray, g: np.ndarray) -> np.ndarray:
    """``H^{-1} g`` for a symmetric positive definite ``H`` (LAPACK ``posv``); LinAlgError when it is not."""
    _, x, info = scipy.linalg.lapack.dposv(H, g, lower=1)
    if info != 0 or not np.all(np.isfinite(x)):
        raise np.linalg.LinAlgError("posv failed")
    return x


def barrier_lipsdp(weights: Sequence[np.ndarray], *, tol: float = 1e-8, max_newton: int = 300,
                   growth: float = 10.0, centering: float = 1e-9, target: float | None = None,
                   target_tol: float = TARGET_TOLERANCE, start: Sequence[np.ndarray] | None = None,
                   start_gap: float = 0.1, skip: np.ndarray | None = None) -> dict:
    """Solve ``min rho s.t. M(T, rho) <= 0, T >= 0`` by a log-barrier path-following Newton method.

    Parameters
    ----------
    weights : sequence of ndarray
        The MLP's weights (best normalized first: see :func:`lipexact.bounds.sdp.lipsdp.normalize_weights`).
    tol : float
        Relative duality-gap bound at which to stop.
    max_newton : int
        Newton steps in all (a deterministic iteration limit).
    growth : float
        Factor by which the barrier weight grows after each centering.
    centering : float
        Centering stops when half the squared Newton decrement is at most this.
    target, target_tol : float, optional
        Stop early (status ``"target"``) once a centred ``rho`` is at most ``target``, or once the optimum is
        certainly above ``target`` (``rho`` minus the gap bound) and the relative gap is at most ``target_tol``
        (:data:`TARGET_TOLERANCE` by default):
        for callers that only need to know which side of ``target`` the optimum lies (the multipliers are
        certified afterwards either way).
    start : sequence of ndarray, optional
        Multipliers to start from, one vector per hidden layer (e.g. an enclosing problem's, restricted to the
        units kept): each is raised to at least :data:`WARM_FLOOR` times the largest, ``rho`` is set a quarter
        above their Schur candidate, and the path starts at the barrier weight whose gap bound is ``start_gap``
        times that ``rho``, instead of the cold start's 100%. Ignored when they do not fit or are not strictly
        feasible. Measured (120 LipSDP node problems of an 11-24-24-1 global search, each with its ancestor's
        multipliers and target): Newton steps median 55 -> 24, time 60 -> 30 ms, the same 63 proven below
        the target; certified values within 0.5% of the cold start's above (0.95-1.0 of it below).

    skip : ndarray, optional
        ``n_2 x n_0``: the second hidden layer's pre-activations also receive ``skip @ x``
        (:mod:`lipexact.bounds.sdp.skip`); the same Newton method on the matrix with that coupling.

    Returns
    -------
    dict
        ``rho`` (the barrier's value: slightly above the optimum), ``multipliers``, ``newton_steps``,
        ``gap_bound`` (relative), ``status`` (``"optimal"`` or ``"iteration_limit"``).
    """
    W = [np.asarray(w, dtype=np.float64) for w in weights]
    st = _Structure(W) if skip is None else _SkipStructure(W, skip)
    n, n0, m = st.n, st.n0, st.m
    # a well-centred start: ECLipsE-Fast's multipliers, though closer in value, sit near the boundary of the
    # feasible set (measured on a depth-10 width-20 net: the path stalled at rho 1,300x the optimum from there)
    t = np.concatenate(feasible_multipliers(W))
    rho = 2.0 * max(st.candidate(t), 1e-300) + 1.0
    nu = n + m
    tau = nu / rho
    warm = _warm_start(st, start)
    if warm is not None:
        t, rho = warm
        tau = nu / (start_gap * rho)
    steps = 0
    status = "iteration_limit"
    idx_in = slice(0, n0)
    factor = _chol(st.S(t, rho))
    while steps < max_newton:
        # centering
        while steps < max_newton:
            if factor is None:  # pragma: no cover - the line search keeps S positive definite
                break
            X = _inverse(factor)
            K = st.XU(X)
            P = st.UtK(K)
            Q = K[n0:, :].T  # Q[a, b] = u_a^T X e_b
            R = X[n0:, n0:]
            diagK = np.diagonal(K[n0:])  # u_a^T X e_a
            g_t = -(-2.0 * diagK + 2.0 * np.diagonal(R)) - 1.0 / t
            g_rho = tau - np.trace(X[idx_in, idx_in])
            H = np.empty((m + 1, m + 1))
            # 2 Q o Q^T + 2 R o P - 4 R o (Q + Q^T) + 4 R o R, with fewer temporaries
            H[:m, :m] = R * (P - 2.0 * (Q + Q.T) + 2.0 * R)
            H[:m, :m] += Q * Q.T
            H[:m, :m] *= 2.0
            H[:m, :m][np.diag_indices(m)] += 1.0 / t ** 2
            Xin = X[idx_in, n0:]  # X[input, pos_b]
            h = -2.0 * np.einsum("pb,pb->b", K[idx_in, :], Xin) + 2.0 * np.einsum("pb,pb->b", Xin, Xin)
            H[:m, m] = H[m, :m] = h
            H[m, m] = float(np.sum(X[idx_in, idx_in] ** 2))
            g = np.concatenate([g_t, [g_rho]])
            try:  # ill-conditioned near the optimum: the line search guards the step
                dx = -_solve_positive(H, g)
            except (np.linalg.LinAlgError, ValueError):
                dx = -np.linalg.lstsq(H, g, rcond=None)[0]
            decrement = float(-g @ dx)
            steps += 1
            if decrement / 2.0 <= centering:
                break
            # backtracking line search on the barrier, staying strictly feasible; the accepted point's factor
            # carries to the next step (each matrix is built from its (t, rho): updating the previous one by the
            # step drifted enough to stall the path at a 1e-8 gap)
            value = tau * rho - 2.0 * float(np.log(np.diag(factor)).sum()) - float(np.log(t).sum())
            step = 1.0
            while step > 1e-12:
                t_new, rho_new = t + step * dx[:m], rho + step * dx[m]
                if (t_new > 0).all():
                    f_new = _chol(st.S(t_new, rho_new))
                    if f_new is not None:
                        new_value = (tau * rho_new - 2.0 * float(np.log(np.diag(f_new)).sum())
                                     - float(np.log(t_new).sum()))
                        if new_value <= value - 0.25 * step * decrement:
                            break
                step *= 0.5
            if step <= 1e-12:
                break
            t, rho, factor = t_new, rho_new, f_new
        if factor is None:  # pragma: no cover - (as above)
            break
        if nu / tau <= tol * abs(rho):
            status = "optimal"
            break
        if target is not None and (rho <= target or (rho - nu / tau > target and nu / tau <= target_tol * abs(rho))):
            status = "target"
            break
        tau *= growth
    return {"rho": float(rho), "multipliers": st.split(t), "newton_steps": steps,
            "gap_bound": nu / tau / max(abs(rho), 1e-300), "status": status}
