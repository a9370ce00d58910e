"""The maths of SeqLip: the pair factors ``max_{d in [lo, hi]^n} ||P diag(d) Q||_2`` (exact, greedy, bounded).

Each factor of the SeqLip bound (see :mod:`lipexact.bounds.seqlip` for the bound and the networks) is
the largest spectral norm of ``P diag(d) Q`` over the vertices of a box. This module holds the
operations on one pair: :func:`exact_pair_max` (every vertex, Gray code and rank-one Gram updates,
with cheap-bound pruning), :func:`greedy_pair_max` (local search, a value attained at a vertex),
:func:`midpoint_pair_bound` and :func:`split_pair_bound` (proven bounds without full enumeration), and
the thin SVDs the pair matrices are built from (:func:`pair_matrices`, :func:`gram_svd`). It knows
nothing about models.

References
----------
K. Scaman and A. Virmaux, "Lipschitz regularity of deep neural networks: analysis and efficient
estimation", NeurIPS 2018, arXiv:1805.10965 (sections 5 and 6).
"""

from __future__ import annotations

import math
from typing import Any, Iterator

import torch

__all__ = [
    "gray_flips",
    "pair_matrices",
    "pair_norm",
    "iter_vertex_sq_norms",
    "exact_pair_max",
    "greedy_pair_max",
    "midpoint_pair_bound",
    "split_pair_bound",
    "live_terms",
    "gram_cost",
    "gram_svd",
]

_BATCH_ENTRIES = 1 << 21  # entries of the batch of matrices held at once during enumeration


# ---------------------------------------------------------------- vertices and pair matrices

def gray_flips(bits: int) -> Iterator[tuple[int, int]]:
    """The reflected Gray code on ``bits`` bits as flips: ``(bit, new_value)`` for steps ``1 .. 2^bits - 1``.

    Starting from all zeros, step ``t`` sets bit ``ctz(t)`` to ``new_value``; the visited codes are
    ``t ^ (t >> 1)``, every code exactly once.

    Examples
    --------
    >>> list(gray_flips(2))
    [(0, 1), (1, 1), (0, 0)]
    """
    for t in range(1, 1 << bits):
        bit = (t & -t).bit_length() - 1
        code = t ^ (t >> 1)
        yield bit, (code >> bit) & 1


def pair_matrices(singular: list, i: int) -> tuple[Any, Any]:
    """``(P, Q)`` of the pair ``(i, i+1)``: ``P = S~_{i+1} V_{i+1}^T``, ``Q = U_i S~_i``.

    ``singular[j] = (U_j, S_j, Vh_j)`` is the thin SVD of layer ``j``'s matrix; ``S~`` is ``S`` at the
    first and last layer and ``S^(1/2)`` in between. ``P`` has one column and ``Q`` one row per neuron.
    """
    last = len(singular) - 1
    U_i, S_i, _ = singular[i]
    _, S_next, Vh_next = singular[i + 1]
    right_scale = S_i if i == 0 else S_i.sqrt()
    left_scale = S_next if i + 1 == last else S_next.sqrt()
    return left_scale[:, None] * Vh_next, U_i * right_scale[None, :]


def _sq_spectral_norms(A):
    """Squared spectral norms of a batch ``(B, r1, r2)`` (float64 Gram eigenvalues; closed form for rank <= 2)."""
    r1, r2 = A.shape[-2:]
    if min(r1, r2) == 1:
        return (A * A).sum(dim=(-2, -1))
    G = A @ A.mT if r1 <= r2 else A.mT @ A
    if G.shape[-1] == 2:
        a, b, d = G[..., 0, 0], G[..., 0, 1], G[..., 1, 1]
        return 0.5 * (a + d + torch.sqrt((a - d) ** 2 + 4 * b * b))
    return torch.linalg.eigvalsh(G)[..., -1].clamp_min(0.0)


def _gram_sq_norms(G, threshold: float | None = None):
    """``(indices, lambda_max)`` of a batch of Gram matrices ``G = A A^T`` (all of them, or only those
    that may exceed ``threshold``: cheap bounds ``||G||_F`` and then ``tr(G^4)^(1/4)`` discard the rest)."""
    m = G.shape[-1]
    index = torch.arange(G.shape[0], device=G.device)
    if threshold is not None and threshold > 0 and m > 1:
        keep = torch.nonzero(torch.linalg.vector_norm(G.reshape(G.shape[0], -1), dim=1) > threshold).flatten()
        index, G = index[keep], G[keep]
        if m > 2 and index.numel():
            G2 = G @ G
            keep = torch.nonzero((G2 * G2).sum(dim=(-2, -1)).sqrt().sqrt() > threshold).flatten()
            index, G = index[keep], G[keep]
    if m == 1:
        values = G[:, 0, 0]
    elif m == 2:
        a, b, d = G[:, 0, 0], G[:, 0, 1], G[:, 1, 1]
        values = 0.5 * (a + d + torch.sqrt((a - d) ** 2 + 4 * b * b))
    else:
        values = torch.linalg.eigvalsh(G)[:, -1] if index.numel() else G[:, 0, 0]
    values = values.clamp_min(0.0)
    if threshold is not None:
        keep = values > threshold
        index, values = index[keep], values[keep]
    return index, values


def pair_norm(P, Q, d) -> float:
    """``||P diag(d) Q||_2`` evaluated directly (SVD in float64)."""
    A = (P.double() * d.to(P.device, torch.float64)[None, :]) @ Q.double()
    return float(torch.linalg.matrix_norm(A, ord=2)) if A.numel() else 0.0


def _offset_norm(P, Q, d, offset) -> float:
    if offset is None:
        return pair_norm(P, Q, d)
    A = offset.double() + (P.double() * d.to(P.device, torch.float64)[None, :]) @ Q.double()
    return float(torch.linalg.matrix_norm(A, ord=2)) if A.numel() else 0.0


def live_terms(P, Q):
    """Indices of neurons whose rank-one term ``P[:, j] Q[j, :]`` is not identically zero."""
    return torch.nonzero((P != 0).any(dim=0) & (Q != 0).any(dim=1)).flatten()


def iter_vertex_sq_norms(P, Q, lo: float = 0.0, hi: float = 1.0, batch_bits: int | None = None,
                         prune_below: Any = None, offset: Any = None) -> Iterator[tuple[Any, Any]]:
    """Squared norms ``||P diag(lo + (hi - lo) t) Q||^2`` for every ``t`` in ``{0,1}^n``, in batches.

    Yields ``(codes, sq_norms)``: integer codes (bit ``j`` of a code is ``t_j``) and their squared
    spectral norms. The high bits form a batch; the low bits follow a Gray code. Each step flips one
    neuron ``j`` in the whole batch: ``A += c a b^T`` (``a = (hi - lo) P[:, j]``, ``b = Q[j, :]``,
    ``c = +-1``) and the Gram matrix ``G = A A^T`` follows by the rank-two update
    ``G += c (y a^T + a y^T) + ||b||^2 a a^T`` with ``y = A b``; the squared norm is ``lambda_max(G)``
    (float64 ``eigvalsh``, closed forms for Gram size <= 2). Every code is yielded exactly once.

    ``prune_below``: a callable returning the current best squared norm; only vertices whose squared
    norm exceeds it are yielded (cheap bounds ``||G||_F`` and ``tr(G^4)^(1/4)`` skip the rest first).
    ``offset``: a constant ``(r1, r2)`` matrix added to every ``A``.
    """
    if P.shape[0] > Q.shape[1]:  # ||A|| = ||A^T||: keep the Gram matrix on the smaller side
        P, Q = Q.T, P.T
        offset = None if offset is None else offset.T
    n = P.shape[1]
    r1, r2 = P.shape[0], Q.shape[1]
    span = hi - lo
    left = span * P.T  # (n, r1): a_j
    right = Q  # (n, r2): b_j
    right_sq = (right * right).sum(dim=1)
    base = lo * (P @ Q) if offset is None else lo * (P @ Q) + offset
    if batch_bits is None:
        batch_bits = max(0, min(16, int(math.log2(max(1, _BATCH_ENTRIES // max(1, r1 * (r1 + r2)))))))
    high = min(n, batch_bits)
    low = n - high
    high_codes = torch.arange(1 << high, device=P.device)
    bits = ((high_codes[:, None] >> torch.arange(high, device=P.device)[None, :]) & 1).to(P.dtype)
    terms = (left[low:, :, None] * right[low:, None, :]).reshape(high, r1 * r2)
    A = base + (bits @ terms).reshape(-1, r1, r2)
    G = A @ A.mT
    high_codes = high_codes << low

    def emit(code_low: int):
        index, values = _gram_sq_norms(G, None if prune_below is None else prune_below())
        return high_codes[index] | code_low, values

    yield emit(0)
    code = 0
    batch = A.shape[0]
    for bit, value in gray_flips(low):
        sign = 1.0 if value else -1.0
        a, b = left[bit], right[bit]
        # with Y = c A b + (||b||^2 / 2) a: G += Y a^T + a Y^T (in place, no batch-sized temporaries)
        Y = (A.reshape(-1, r2) @ b).reshape(batch, r1)
        Y.mul_(sign).add_(a, alpha=0.5 * float(right_sq[bit]))
        G.addcmul_(Y[:, :, None], a[None, None, :])
        G.addcmul_(a[None, :, None], Y[:, None, :])
        A.add_(a[:, None] * b[None, :], alpha=sign)
        code ^= 1 << bit
        yield emit(code)


def exact_pair_max(P, Q, lo: float = 0.0, hi: float = 1.0, batch_bits: int | None = None,
                   incumbent: tuple[float, Any] | None = None, offset: Any = None) -> tuple[float, Any, dict]:
    """``max_{d in [lo, hi]^n} ||P diag(d) Q||_2`` by enumerating every vertex.

    Returns ``(value, d, stats)``: the maximum (re-evaluated by SVD at the maximizer, never below the
    enumerated value), a maximizing vertex ``d`` (float64 tensor of ``lo``/``hi``) and enumeration counts.
    Neurons whose term ``P[:, j] Q[j, :]`` vanishes are left out of the enumeration (set to ``hi``).
    With ``offset`` (a constant matrix), the maximum of ``||offset + P diag(d) Q||_2`` instead.

    Examples
    --------
    >>> import torch
    >>> P = torch.tensor([[1.0, 1.0]], dtype=torch.float64); Q = torch.tensor([[1.0], [-1.0]], dtype=torch.float64)
    >>> value, d, stats = exact_pair_max(P, Q)
    >>> value, d.tolist()
    (1.0, [1.0, 0.0])
    """
    P = P.double()
    Q = Q.double()
    n = P.shape[1]
    d = torch.full((n,), float(hi), dtype=torch.float64, device=P.device)
    if n == 0 or hi == lo:
        return _offset_norm(P, Q, d, offset), d, {"width": n, "enumerated_width": 0, "vertices": 1,
                                                  "eigen_evaluations": 1}
    live = live_terms(P, Q)
    Pl, Ql = P[:, live], Q[live, :]
    best_sq = -1.0
    best_code = None
    if incumbent is not None:
        value, d_inc = incumbent
        best_sq = float(value) ** 2
        d = d_inc.to(P.device, torch.float64).clone()
    evaluations = 0

    def current_best():
        return best_sq

    for codes, sq in iter_vertex_sq_norms(Pl, Ql, lo, hi, batch_bits, prune_below=current_best,
                                          offset=None if offset is None else offset.double()):
        evaluations += int(sq.numel())
        if sq.numel() == 0:
            continue
        k = int(torch.argmax(sq))
        if float(sq[k]) > best_sq:
            best_sq = float(sq[k])
            best_code = int(codes[k])
    if best_code is not None:
        t = torch.tensor([(best_code >> j) & 1 for j in range(len(live))], dtype=torch.float64, device=P.device)
        d = torch.full((n,), float(hi), dtype=torch.float64, device=P.device)
        d[live] = lo + (hi - lo) * t
    value = max(_offset_norm(P, Q, d, offset), math.sqrt(max(best_sq, 0.0)))
    return value, d, {"width": n, "enumerated_width": int(len(live)), "vertices": 1 << int(len(live)),
                      "eigen_evaluations": evaluations}


_DENSE_GREEDY = 1 << 22  # n * r1 * r2 up to which the greedy forms A(d) and takes exact SVDs


class _PairTop:
    """Top singular triplet of ``A(d) = P diag(d) Q``: an SVD of ``A(d)`` for small pairs, otherwise
    power iteration on the factors (``A v = P (d * (Q v))``, never forming ``A``), warm-started."""

    def __init__(self, P, Q, tolerance: float = 1e-9, iterations: int = 300):
        self.P, self.Q = P, Q
        self.dense = P.shape[1] * P.shape[0] * Q.shape[1] <= _DENSE_GREEDY
        self.tolerance, self.iterations = tolerance, iterations

    def __call__(self, d, v0=None, tolerance: float | None = None, iterations: int | None = None):
        """``(sigma, u, v)``; ``sigma = ||A(d)^T u||`` for a unit ``u``, so never above ``||A(d)||``."""
        P, Q = self.P, self.Q
        tolerance = self.tolerance if tolerance is None else tolerance
        iterations = self.iterations if iterations is None else iterations
        if self.dense:
            U, S, Vh = torch.linalg.svd((P * d[None, :]) @ Q, full_matrices=False)
            return float(S[0]), U[:, 0], Vh[0, :]
        v = torch.ones(Q.shape[1], dtype=P.dtype, device=P.device) if v0 is None else v0.clone()
        v = v / v.norm().clamp_min(1e-300)
        sigma, u = 0.0, None
        for _ in range(iterations):
            u = P @ (d * (Q @ v))
            norm_u = float(u.norm())
            if norm_u == 0.0:
                return 0.0, u, v
            u = u / norm_u
            w = Q.T @ (d * (P.T @ u))
            new_sigma = float(w.norm())
            v = w / max(new_sigma, 1e-300)
            if abs(new_sigma - sigma) <= tolerance * new_sigma:
                sigma = new_sigma
                break
            sigma = new_sigma
        return sigma, u, v


def greedy_pair_max(P, Q, lo: float = 0.0, hi: float = 1.0, restarts: int = 3, seed: int = 0,
                    max_rounds: int = 100, flip_search: bool | None = None) -> tuple[float, Any, dict]:
    """A local maximum of ``||P diag(d) Q||_2`` over the vertices ``d in {lo, hi}^n``.

    From the all-``hi`` vertex, the vertex aligned with the top singular pair of ``P Q`` and ``restarts``
    random vertices: alternate (i) the top singular pair ``(u, v)`` of ``A(d)`` and (ii) the vertex that
    maximizes ``u^T A(d) v`` (``d_j = hi`` iff ``(hi - lo) (P^T u)_j (Q v)_j > 0``), which never decreases
    the norm, and improve small pairs by single flips (all ``n`` flips evaluated at once) until nothing
    helps. Large pairs use warm-started power iteration on the factors instead of SVDs, so their value
    is a (tight) estimate of the norm at the vertex found. Either way the value is at most the exact
    maximum.

    Examples
    --------
    >>> import torch
    >>> P = torch.tensor([[1.0, 1.0]], dtype=torch.float64); Q = torch.tensor([[1.0], [-1.0]], dtype=torch.float64)
    >>> greedy_pair_max(P, Q)[0]
    1.0
    """
    P = P.double()
    Q = Q.double()
    n = P.shape[1]
    r1, r2 = P.shape[0], Q.shape[1]
    if flip_search is None:
        m = min(r1, r2)
        flip_search = n * r1 * r2 <= _DENSE_GREEDY and n * (1 if m <= 2 else m ** 3) <= (1 << 20)
    span = hi - lo
    full = torch.full((n,), float(hi), dtype=torch.float64, device=P.device)
    if n == 0 or span == 0:
        return pair_norm(P, Q, full), full, {"width": n, "rounds": 0, "dense": True}
    generator = torch.Generator(device="cpu").manual_seed(int(seed))
    K = span * (P.T[:, :, None] * Q[:, None, :]) if flip_search else None
    top = _PairTop(P, Q)

    def vertex(t):
        return lo + span * t

    def aligned(u, v):
        return ((span * (P.T @ u) * (Q @ v)) > 0).to(torch.float64)

    _, u0, v0 = top(torch.ones(n, dtype=torch.float64, device=P.device))
    starts = [torch.ones(n, dtype=torch.float64, device=P.device), aligned(u0, v0)]
    for _ in range(max(0, int(restarts))):
        starts.append(torch.randint(0, 2, (n,), generator=generator).to(P.device, torch.float64))
    best_value, best_t, best_v, rounds = -1.0, starts[0], None, 0
    for t in starts:
        value, u, v = top(vertex(t))
        for _ in range(max_rounds):
            rounds += 1
            improved = False
            t_new = aligned(u, v)
            if not torch.equal(t_new, t):
                value_new, u_new, v_new = top(vertex(t_new), v)
                if value_new > value * (1 + 1e-12):
                    t, value, u, v, improved = t_new, value_new, u_new, v_new, True
            if flip_search:
                A = (P * vertex(t)[None, :]) @ Q
                signs = (1.0 - 2.0 * t)[:, None, None]
                flipped = _sq_spectral_norms(A[None] + signs * K)
                j = int(torch.argmax(flipped))
                if float(flipped[j]) > value * value * (1 + 1e-12):
                    t = t.clone()
                    t[j] = 1.0 - t[j]
                    value, u, v = top(vertex(t))
                    improved = True
            if not improved:
                break
        if value > best_value:
            best_value, best_t, best_v = value, t, v
    if top.dense:
        best_value = pair_norm(P, Q, vertex(best_t))
    else:  # converge the estimate at the chosen vertex
        best_value = max(best_value, top(vertex(best_t), best_v, tolerance=1e-13, iterations=5000)[0])
    return best_value, vertex(best_t), {"width": n, "rounds": rounds, "dense": top.dense}


def midpoint_pair_bound(P, Q, lo: float = 0.0, hi: float = 1.0) -> float:
    """A proven bound on ``max_{d in [lo, hi]^n} ||P diag(d) Q||_2`` without enumeration.

    With ``c = (lo + hi) / 2`` and ``r = (hi - lo) / 2``: ``P diag(d) Q = c P Q + P diag(d - c) Q`` and
    ``||diag(d - c)|| <= r``, so the max is at most ``|c| ||P Q|| + r ||P|| ||Q||`` (never more than
    ``max(|lo|, |hi|) ||P|| ||Q||``, the product of the spectral norms).

    Examples
    --------
    >>> import torch
    >>> P = torch.tensor([[1.0, 1.0]], dtype=torch.float64); Q = torch.tensor([[1.0], [-1.0]], dtype=torch.float64)
    >>> round(midpoint_pair_bound(P, Q), 12)  # exact max is 1; ||P|| ||Q|| = 2
    1.0
    """
    P = P.double()
    Q = Q.double()
    c, r = (lo + hi) / 2.0, (hi - lo) / 2.0
    norm_P = float(torch.linalg.matrix_norm(P, ord=2))
    norm_Q = float(torch.linalg.matrix_norm(Q, ord=2))
    center = float(torch.linalg.matrix_norm(P @ Q, ord=2))
    return min(abs(c) * center + r * norm_P * norm_Q, max(abs(lo), abs(hi)) * norm_P * norm_Q)


def split_pair_bound(P, Q, lo: float = 0.0, hi: float = 1.0, width: int = 16) -> tuple[float, dict]:
    """A proven bound on ``max_{d in [lo, hi]^n} ||P diag(d) Q||_2``: exact on the heaviest neurons.

    The ``width`` neurons with the largest ``||P[:, j]|| ||Q[j, :]||`` (set ``E``) are enumerated exactly
    with the others held at the midpoint ``c``; the others (set ``R``) move by at most the radius ``r``:

        max <= max_{d_E} ||c P_R Q_R + P_E diag(d_E) Q_E|| + r min(||P_R|| ||Q_R||, sum_R ||P_j|| ||Q_j||).

    The result is never above :func:`midpoint_pair_bound` (the smaller of the two is returned), and
    equals the exact maximum when ``width >= n``.

    Examples
    --------
    >>> import torch
    >>> P = torch.tensor([[1.0, 1.0, 0.1]], dtype=torch.float64)
    >>> Q = torch.tensor([[1.0], [-1.0], [1.0]], dtype=torch.float64)
    >>> round(split_pair_bound(P, Q, width=2)[0], 12)  # exact max 1.1
    1.1
    """
    P = P.double()
    Q = Q.double()
    midpoint = midpoint_pair_bound(P, Q, lo, hi)
    weights = torch.linalg.vector_norm(P, dim=0) * torch.linalg.vector_norm(Q, dim=1)
    order = torch.argsort(weights, descending=True)
    heavy, rest = order[:width], order[width:]
    c, r = (lo + hi) / 2.0, (hi - lo) / 2.0
    P_R, Q_R = P[:, rest], Q[rest, :]
    offset = c * (P_R @ Q_R)
    enumerated, _, stats = exact_pair_max(P[:, heavy], Q[heavy, :], lo, hi, offset=offset)
    if rest.numel():
        spread = min(float(torch.linalg.matrix_norm(P_R, ord=2) * torch.linalg.matrix_norm(Q_R, ord=2)),
                     float(weights[rest].sum()))
    else:
        spread = 0.0
    split = enumerated + r * spread
    return min(split, midpoint), {"split": split, "midpoint": midpoint, "enumerated_width": int(heavy.numel()),
                                  "eigen_evaluations": stats["eigen_evaluations"]}


def gram_cost(P, Q) -> int:
    """Work of one vertex's spectral norm: 1 for rank <= 2 (closed form), else ``m^3``."""
    m = min(P.shape[0], Q.shape[1])
    return 1 if m <= 2 else m ** 3


# ---------------------------------------------------------------- thin SVDs

_GRAM_SVD_MIN_SIDE = 512  # smaller side above which the heuristic modes take the SVD from a Gram matrix
_GRAM_SVD_RTOL = 1e-6  # singular values below this fraction of the largest are dropped by the Gram SVD


def gram_svd(A):
    """A thin SVD ``(U, S, Vh)`` of ``A`` for the heuristic modes: LAPACK's SVD for small matrices, otherwise
    the eigendecomposition of the Gram matrix of the smaller side (several times faster for tall unrolled
    convolutions), dropping singular values below ``_GRAM_SVD_RTOL`` times the largest."""
    rows, cols = A.shape
    if min(rows, cols) <= _GRAM_SVD_MIN_SIDE:
        return torch.linalg.svd(A, full_matrices=False)
    tall = A if rows >= cols else A.T
    eigenvalues, V = torch.linalg.eigh(tall.T @ tall)
    S = eigenvalues.flip(0).clamp_min(0.0).sqrt()
    V = V.flip(1)
    keep = S > _GRAM_SVD_RTOL * S[0] if float(S[0]) > 0 else S > 0
    S, V = S[keep], V[:, keep]
    U = (tall @ V) / S[None, :]
    return (U, S, V.T) if rows >= cols else (V, S, U.T)
