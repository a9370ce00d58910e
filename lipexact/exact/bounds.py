"""Proven upper bounds on the best completion of a partial activation pattern.

A node of the search fixes part of the pattern: its Jacobian is ``J + sum_{g free} t_g A_g`` with
``t in {0,1}^k`` still free. Every bound here is a bound over the box ``t in [0,1]^k`` (a relaxation: it
ignores whether a completion is realizable, and a convex norm is maximized at a vertex of the box), so it
is at least the best realizable completion. The bounds:

``euclidean_basis_bound``
    ``||v||^2 = sum_k (q_k . v)^2 <= sum_k max_t (q_k . v)^2`` for any orthonormal basis ``q``; each term is
    the larger square of the two ends of an interval (a linear function over a zonotope). Several bases are
    tried and the smallest bound kept. With ``lookahead`` the ``2^j`` patterns of the ``j`` largest free
    rows are enumerated and only the others are bounded this way (exact when ``k <= j``).
``gram_eigenvalue_bound``
    ``max_t ||c + A^T t||^2 = max_{sigma in {-1,1}^{k+1}} sigma^T M sigma <= (k+1) lambda_max(M + Diag(u)) - sum(u)``
    for every ``u`` (``M = Z Z^T``, ``Z = [c + A^T 1/2; A/2]``); ``u`` is improved by subgradient steps
    (Delorme and Poljak 1993).
``weighted_eigenvalue_bound``
    The same quantity is ``max_{sigma in {-1,1}^N} ||Z^T sigma||^2 = max_{|q| = 1} (sum_i |z_i . q|)^2``, and by
    Cauchy-Schwarz ``(sum_i |z_i . q|)^2 <= (sum_i 1 / w_i) (sum_i w_i (z_i . q)^2)``, so
    ``max <= (sum_i 1 / w_i) lambda_max(Z^T Diag(w) Z)`` for every ``w > 0``. The logarithm of the right side
    is convex in ``log w``; a few descent steps make it as tight as the optimized eigenvalue bound (both are
    the semidefinite relaxation), with an eigenproblem of size ``min(n, k + 1)`` and no cancellation.
``entrywise_bound``
    Interval arithmetic on every Jacobian entry: ``|J_ij| <= M_ij``; the ``1``, ``inf`` and spectral norms
    are monotone on non-negative matrices, so ``||J|| <= ||M||``. For ``1`` and ``inf`` the absolute row
    (column) sums are bounded exactly per block of coordinates by enumerating the signs of the block.
``triangle_bound``
    ``||J + sum t_g A_g|| <= ||J|| + sum ||A_g||``.

Every bound is inflated by a relative ``ROUNDING`` so that floating-point rounding cannot push it below
the truth.

References
----------
Delorme, C. and Poljak, S. Laplacian eigenvalues and the maximum cut problem. Mathematical Programming
62 (1993), 557-574.
"""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np
from scipy.linalg import lapack

from lipexact.norms import jacobian_norms

__all__ = [
    "ROUNDING",
    "euclidean_basis_bound",
    "gram_eigenvalue_bound",
    "weighted_eigenvalue_bound",
    "entrywise_bound",
    "triangle_bound",
    "exhaustive_value",
    "NodeBound",
]

#: Relative inflation of every bound (covers floating-point rounding in its evaluation).
ROUNDING = 1e-10


def _inflate(value: float) -> float:
    return float(value) * (1.0 + ROUNDING) + 1e-300 if value > 0 else 1e-300


@functools.lru_cache(maxsize=32)
def _subset_matrix(j: int) -> np.ndarray:
    """All ``2^j`` rows of ``{0,1}^j`` (read-only, cached)."""
    rows = np.zeros((1, 0)) if j == 0 else np.array(list(itertools.product((0.0, 1.0), repeat=j)))
    rows.setflags(write=False)
    return rows


def _split(rows: np.ndarray, lookahead: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the ``lookahead`` largest rows (enumerated) and of the others (bounded)."""
    k = rows.shape[0]
    if k <= lookahead:
        return np.arange(k), np.zeros(0, dtype=int)
    sizes = np.einsum("ij,ij->i", rows.reshape(k, -1), rows.reshape(k, -1))
    order = np.argsort(-sizes, kind="stable")
    return np.sort(order[:lookahead]), np.sort(order[lookahead:])


def principal_basis(rows: np.ndarray) -> np.ndarray:
    """Orthonormal basis (as rows) of the principal directions of ``rows`` (all of ``R^r``).

    Examples
    --------
    >>> np.abs(principal_basis(np.array([[3.0, 0.0], [1.0, 0.0]]))).tolist()   # largest spread first
    [[1.0, 0.0], [0.0, 1.0]]
    """
    r = rows.shape[1]
    if rows.shape[0] == 0:
        return np.eye(r)
    _, vectors = np.linalg.eigh(rows.T @ rows)
    return vectors.T[::-1]


def aligned_basis(direction: np.ndarray) -> np.ndarray | None:
    """Orthonormal basis (as rows) whose first vector is ``direction / |direction|`` (a Householder reflection).

    Examples
    --------
    >>> aligned_basis(np.array([0.0, 2.0]))[0].tolist()
    [0.0, 1.0]
    """
    length = np.linalg.norm(direction)
    if not length > 0:
        return None
    d = direction / length
    w = d.copy()
    w[0] -= 1.0
    ww = w @ w
    if ww < 1e-24:
        return np.eye(d.size)
    return np.eye(d.size) - 2.0 * np.outer(w, w) / ww


def euclidean_basis_bound(c: np.ndarray, rows: np.ndarray, bases: list[np.ndarray] | None = None,
                          lookahead: int = 0) -> float:
    """Upper bound on ``max_{t in [0,1]^k} ||c + rows^T t||_2`` (see the module docstring).

    Parameters
    ----------
    c : ndarray, shape (r,)
    rows : ndarray, shape (k, r)
    bases : list of (r, r) arrays with orthonormal rows, optional
        Defaults to the principal directions of the bounded rows and a basis aligned with ``c``.
    lookahead : int
        Number of rows whose ``2^j`` patterns are enumerated exactly.

    Examples
    --------
    >>> rows = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> round(euclidean_basis_bound(np.zeros(2), rows), 6)   # max ||t|| over the unit square
    1.414214
    >>> round(euclidean_basis_bound(np.zeros(2), np.array([[1.0, 1.0], [1.0, -1.0]]), lookahead=2), 6)
    2.0
    """
    c = np.asarray(c, dtype=np.float64)
    rows = np.asarray(rows, dtype=np.float64).reshape(-1, c.size)
    enumerated, bounded = _split(rows, lookahead)
    rest = rows[bounded]
    corners = c + _subset_matrix(enumerated.size) @ rows[enumerated]  # (2^j, r)
    if rest.shape[0] == 0:
        return _inflate(math.sqrt(float(np.max(np.einsum("ij,ij->i", corners, corners)))))
    if bases is None:
        bases = [principal_basis(rest)]
        aligned = aligned_basis(c + 0.5 * rest.sum(axis=0))
        if aligned is not None:
            bases.append(aligned)
    Q = np.stack(bases)  # (B, r, r)
    P = np.einsum("kr,bsr->bks", rest, Q)  # coordinates of the bounded rows in each basis
    low = np.minimum(P, 0.0).sum(axis=1)  # (B, r)
    high = np.maximum(P, 0.0).sum(axis=1)
    centre = np.einsum("pr,bsr->pbs", corners, Q)  # (2^j, B, r)
    squares = np.maximum((centre + low) ** 2, (centre + high) ** 2).sum(axis=2)  # (2^j, B)
    return _inflate(math.sqrt(float(np.min(np.max(squares, axis=0)))))


def gram_eigenvalue_bound(c: np.ndarray, rows: np.ndarray, iterations: int = 30, target: float | None = None,
                          u: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """Upper bound on ``max_{t in {0,1}^k} ||c + rows^T t||_2`` from the eigenvalue bound; returns ``(bound, u)``.

    ``target`` (a value the caller would like to prove the bound below, e.g. the incumbent) steers the
    Polyak step sizes and stops the iterations once reached; every iterate is a valid bound.

    Examples
    --------
    >>> rows = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> bound, _ = gram_eigenvalue_bound(np.zeros(2), rows)   # the maximum, t = (1, 1, 1), is 2 sqrt(2)
    >>> round(bound, 3), round(2 * 2 ** 0.5, 3)
    (2.832, 2.828)
    """
    c = np.asarray(c, dtype=np.float64)
    rows = np.asarray(rows, dtype=np.float64).reshape(-1, c.size)
    Z = np.vstack([c + 0.5 * rows.sum(axis=0), 0.5 * rows])
    M = Z @ Z.T
    N = M.shape[0]
    u = np.zeros(N) if u is None or u.shape != (N,) else u - u.mean()
    best = math.inf
    best_u = u
    goal = None if target is None else target * target
    for _ in range(max(1, iterations)):
        values, vectors = np.linalg.eigh(M + np.diag(u))
        lam, v = values[-1], vectors[:, -1]
        slack = 1e-12 * N * (abs(lam) + float(np.max(np.abs(u), initial=0.0)) + 1e-300)
        value = N * lam - float(u.sum()) + slack
        if value < best:
            best, best_u = value, u.copy()
        if goal is not None and best <= goal:
            break
        g = N * v * v - 1.0
        gg = float(g @ g)
        if gg < 1e-18:
            break
        aim = goal if goal is not None and goal < value else 0.9 * value
        u = u - (value - aim) / gg * g
    return _inflate(math.sqrt(max(best, 0.0))), best_u


def _top_eigenpair(S: np.ndarray) -> tuple[float, np.ndarray]:
    """Largest eigenvalue of the symmetric ``S`` and a unit eigenvector (LAPACK ``dsyevr``, one pair only)."""
    size = S.shape[0]
    values, vectors, _, _, info = lapack.dsyevr(S, range="I", il=size, iu=size)
    if info != 0:  # pragma: no cover - LAPACK failure: fall back to the full decomposition
        values, vectors = np.linalg.eigh(S)
        return float(values[-1]), vectors[:, -1]
    return float(values[0]), vectors[:, 0]


def _homogeneous_rows(c: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``Z = [c + rows^T 1 / 2; rows / 2]``: ``max_t ||c + rows^T t|| = max_{sigma in {-1,1}^N} ||Z^T sigma||``."""
    return np.vstack([c + 0.5 * rows.sum(axis=0), 0.5 * rows])


def weighted_eigenvalue_bound(c: np.ndarray, rows: np.ndarray, iterations: int = 30, target: float | None = None,
                              log_weights: np.ndarray | None = None, abandon: float = 0.05) -> tuple[float, np.ndarray, np.ndarray]:
    """Upper bound on ``max_{t in {0,1}^k} ||c + rows^T t||_2``; returns ``(bound, log_weights, direction)``.

    ``(sum 1 / w_i) lambda_max(Z^T Diag(w) Z)`` (see the module docstring) minimized over ``s = log w`` by
    gradient steps with backtracking, starting from ``log_weights`` (e.g. the parent node's) or from
    ``w_i = 1 / |z_i|``. Stops once the bound is at most ``target``, or when a step gains less than
    ``abandon`` times the remaining distance to it (the target is out of reach). Every iterate is a valid
    bound.
    ``direction`` is the top eigenvector ``q`` at the best weights: ``t_i = [rows_i . q > 0]`` (with ``q``
    oriented towards ``c + rows^T 1 / 2``) is the completion the relaxation points to.

    Examples
    --------
    >>> rows = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> bound, _, _ = weighted_eigenvalue_bound(np.zeros(2), rows)   # the maximum, t = (1, 1, 1), is 2 sqrt(2)
    >>> round(bound, 3)
    2.828
    """
    Z = _homogeneous_rows(np.asarray(c, dtype=np.float64), np.asarray(rows, dtype=np.float64).reshape(-1, np.size(c)))
    lengths = np.sqrt(np.einsum("ij,ij->i", Z, Z))
    alive = lengths > 0
    if not np.any(alive):
        return _inflate(0.0), np.zeros(Z.shape[0]), np.zeros(Z.shape[1])
    Z = Z[alive]
    s = -np.log(lengths[alive])
    if log_weights is not None and log_weights.shape == (alive.size,) and np.all(np.isfinite(log_weights[alive])):
        s = log_weights[alive].copy()
    small = Z.shape[0] <= Z.shape[1]
    gram = Z @ Z.T if small else None

    def evaluate(s: np.ndarray):
        w = np.exp(s - s.max())
        if small:
            root = np.sqrt(w)
            lam, y = _top_eigenpair(root[:, None] * gram * root[None, :])
            v = Z.T @ (root * y)
            v /= max(np.linalg.norm(v), 1e-300)
        else:
            lam, v = _top_eigenpair((Z * w[:, None]).T @ Z)
        lam = max(lam, 0.0)
        return float(np.sum(1.0 / w)) * lam, w, lam, v

    value, w, lam, v = evaluate(s)
    best, best_s, best_v = value, s, v
    goal = None if target is None else target * target
    step = 1.0
    for _ in range(iterations):
        if goal is not None and best <= goal:
            break
        inverse = 1.0 / w
        gradient = -inverse / inverse.sum() + (w * (Z @ v) ** 2 / lam if lam > 0 else 0.0)
        decrease = 0.0
        for _ in range(8):
            trial = s - step * gradient
            trial_value, trial_w, trial_lam, trial_v = evaluate(trial)
            if trial_value < value:
                decrease = value - trial_value
                s, value, w, lam, v = trial, trial_value, trial_w, trial_lam, trial_v
                step *= 1.5
                break
            step *= 0.3
        if value < best:
            best, best_s, best_v = value, s, v
        if decrease <= 0 or (goal is not None and decrease < abandon * (value - goal)):
            break  # converged, or too slow to reach the target
    full = np.full(alive.size, np.nan)
    full[alive] = best_s - best_s.max()
    return _inflate(math.sqrt(best)), full, best_v


def _block_abs_sum_bounds(c: np.ndarray, rows: np.ndarray, block: int) -> np.ndarray:
    """Upper bounds on ``max_t sum_j |c_ij + sum_g t_g rows_gij|`` for each ``i`` (``c``: (p, q), rows: (k, p, q))."""
    p, q = c.shape
    total = np.zeros(p)
    for start in range(0, q, block):
        stop = min(q, start + block)
        signs = np.array(list(itertools.product((-1.0, 1.0), repeat=stop - start)))  # (S, b)
        centre = np.einsum("sb,pb->ps", signs, c[:, start:stop])  # (p, S)
        push = np.einsum("sb,kpb->kps", signs, rows[:, :, start:stop])  # (k, p, S)
        total += np.max(centre + np.maximum(push, 0.0).sum(axis=0), axis=1)
    return total


def entrywise_bound(jacobian: np.ndarray, A: np.ndarray, norm: str, block: int = 6) -> float:
    """Interval-arithmetic bound on ``max_t ||J + sum t_g A_g||`` for any norm (see the module docstring).

    Examples
    --------
    >>> J = np.array([[1.0, -1.0]])
    >>> A = np.array([[[1.0, 1.0]], [[-3.0, 0.0]]])
    >>> entrywise_bound(J, A, "inf")   # max ||g||_1 over completions: t = (0, 1) gives |-2| + |-1| = 3
    3.0000000003
    """
    J = np.asarray(jacobian, dtype=np.float64)
    A = np.asarray(A, dtype=np.float64).reshape(-1, *J.shape)
    low = J + np.minimum(A, 0.0).sum(axis=0)
    high = J + np.maximum(A, 0.0).sum(axis=0)
    M = np.maximum(np.abs(low), np.abs(high))
    value = float(jacobian_norms(M, norm))
    if norm == "inf" and J.shape[1] > 1 and block > 1:
        value = min(value, float(np.max(_block_abs_sum_bounds(J, A, block))))
    elif norm == "1" and J.shape[0] > 1 and block > 1:
        value = min(value, float(np.max(_block_abs_sum_bounds(J.T, A.transpose(0, 2, 1), block))))
    return _inflate(value)


def triangle_bound(jacobian: np.ndarray, A: np.ndarray, norm: str) -> float:
    """``||J|| + sum_g ||A_g||`` (a bound over all completions).

    Examples
    --------
    >>> triangle_bound(np.array([[3.0, 4.0]]), np.array([[[1.0, 0.0]]]), "2")   # 5 + 1
    6.0000000006
    """
    J = np.asarray(jacobian, dtype=np.float64)
    A = np.asarray(A, dtype=np.float64).reshape(-1, *J.shape)
    total = float(jacobian_norms(J, norm)) + (float(jacobian_norms(A, norm).sum()) if A.shape[0] else 0.0)
    return _inflate(total)


def exhaustive_value(jacobian: np.ndarray, A: np.ndarray, norm: str) -> float:
    """``max_{t in {0,1}^k} ||J + sum t_g A_g||`` by enumeration (small ``k``), inflated like a bound.

    Examples
    --------
    >>> exhaustive_value(np.array([[1.0, 0.0]]), np.array([[[-3.0, 0.0]], [[0.0, 1.0]]]), "1")   # |1 - 3| = 2
    2.0000000002
    """
    J = np.asarray(jacobian, dtype=np.float64)
    A = np.asarray(A, dtype=np.float64).reshape(-1, *J.shape)
    if A.shape[0] == 0:
        return _inflate(float(jacobian_norms(J, norm)))
    T = _subset_matrix(A.shape[0])
    stacked = J + (T @ A.reshape(A.shape[0], -1)).reshape(-1, *J.shape)
    return _inflate(float(np.max(jacobian_norms(stacked, norm))))


class NodeBound:
    """The node bounds of the search: a cheap one for every node, a strong one for the nodes that survive it.

    Parameters
    ----------
    A : ndarray, shape (G, m, n)
        Contribution of each group.
    norm : {"2", "1", "inf"}
    lookahead : int
        Free rows enumerated exactly inside the Euclidean basis bound.
    exhaustive : int
        Nodes with at most this many free groups are bounded by plain enumeration (exact over the box).
    eigen_iterations : int
        Descent steps of :func:`weighted_eigenvalue_bound` in :meth:`refine` (Euclidean norm; 0 disables it).
    abandon : float
        Early stop of the strong bound's descent (see :func:`weighted_eigenvalue_bound`).
    basis : bool
        Use :func:`euclidean_basis_bound` as the cheap Euclidean bound (otherwise a node keeps its parent's
        bound until :meth:`refine`).

    Calling it with ``(jacobian, free, threshold)`` returns the cheap bound (the smallest of the basis,
    entrywise and triangle bounds that apply). :meth:`refine` returns the strong bound, warm-started from
    the state its parent's refinement left (:meth:`child_state`).

    Examples
    --------
    >>> A = np.array([[[1.0, 0.0]], [[0.0, 1.0]], [[1.0, 1.0]]])
    >>> bound = NodeBound(A, "2", exhaustive=1)
    >>> strong, state = bound.refine(np.zeros((1, 2)), np.arange(3), -np.inf, None)
    >>> round(strong, 3), bound.preferred_side(state, 2)   # the best completion switches everything on
    (2.828, True)
    """

    def __init__(self, A: np.ndarray, norm: str, lookahead: int = 6, exhaustive: int = 6, eigen_iterations: int = 30,
                 basis: bool = True, abandon: float = 0.05):
        self.A = np.asarray(A, dtype=np.float64)
        G, m, n = self.A.shape
        self.norm = norm
        self.m, self.n = m, n
        self.lookahead = lookahead
        self.exhaustive = exhaustive
        self.eigen_iterations = eigen_iterations if norm == "2" else 0
        self.basis = basis
        self.abandon = abandon
        self.euclidean = norm == "2"
        self.calls = 0
        self.refinements = 0
        if self.euclidean:
            vectors = self.A.reshape(G, m * n)
            if G and m * n > G + 1:
                # an isometry onto the span of the contributions (the base's remainder becomes one coordinate)
                _, _, vt = np.linalg.svd(vectors, full_matrices=False)
                self.span = vt
                self.coordinates = vectors @ vt.T
            else:
                self.span = None
                self.coordinates = vectors

    def _euclidean_parts(self, jacobian: np.ndarray, free: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        c = jacobian.reshape(-1)
        rows = self.coordinates[free]
        if self.span is None:
            return c, rows
        inside = self.span @ c
        outside = float(np.linalg.norm(c - self.span.T @ inside))
        if outside > 0:
            inside = np.concatenate([inside, [outside]])
            rows = np.hstack([rows, np.zeros((rows.shape[0], 1))])
        return inside, rows

    def __call__(self, jacobian: np.ndarray, free: np.ndarray, threshold: float = -math.inf) -> float:
        self.calls += 1
        A = self.A[free]
        if free.size <= self.exhaustive:
            return exhaustive_value(jacobian, A, self.norm)
        if not self.euclidean:
            return min(entrywise_bound(jacobian, A, self.norm), triangle_bound(jacobian, A, self.norm))
        if not self.basis:
            return math.inf if self.m == 1 else entrywise_bound(jacobian, A, self.norm)
        c, rows = self._euclidean_parts(jacobian, free)
        bound = euclidean_basis_bound(c, rows, lookahead=self.lookahead)
        if self.m > 1:
            bound = min(bound, entrywise_bound(jacobian, A, self.norm))
        return bound

    def refine(self, jacobian: np.ndarray, free: np.ndarray, threshold: float, state: np.ndarray | None
               ) -> tuple[float, np.ndarray | None]:
        """The strong bound of a node and the state to warm-start its children (``inf`` when none applies)."""
        if self.eigen_iterations <= 0 or free.size <= self.exhaustive:
            return math.inf, None
        self.refinements += 1
        c, rows = self._euclidean_parts(jacobian, free)
        bound, weights, q = weighted_eigenvalue_bound(c, rows, self.eigen_iterations,
                                                      target=threshold if threshold > 0 else None,
                                                      log_weights=None if state is None else state[0],
                                                      abandon=self.abandon)
        if q @ (c + 0.5 * rows.sum(axis=0)) < 0:
            q = -q
        return bound, (weights, rows @ q > 0)

    @staticmethod
    def child_state(state: tuple | None, position: int) -> tuple | None:
        """The parent's state without the entry of the free group at ``position`` (the one branched on)."""
        if state is None:
            return None
        return np.delete(state[0], 1 + position), np.delete(state[1], position)

    @staticmethod
    def preferred_side(state: tuple | None, position: int) -> bool | None:
        """The side of the free group at ``position`` that the node's relaxation points to (None: no opinion)."""
        return None if state is None else bool(state[1][position])
