"""SeqLip: the sequential upper bound of Scaman & Virmaux on the l2 Lipschitz constant of a deep network.

For ``f = M_K o sigma o M_{K-1} o ... o sigma o M_1`` (affine ``M_i`` with linear parts ``M_i = U_i S_i
V_i^T``, coordinatewise activations with derivatives in ``[lo, hi]``), every Jacobian is
``M_K D_{K-1} M_{K-1} ... D_1 M_1`` with diagonal ``D_i`` in ``[lo, hi]``. Dropping the orthogonal ``U_K`` and
``V_1^T`` and splitting every middle ``S_i = S_i^(1/2) S_i^(1/2)`` gives

    L(f) <= prod_{i=1}^{K-1} max_{d in [lo, hi]^{n_i}} || S~_{i+1} V_{i+1}^T diag(d) U_i S~_i ||_2

with ``S~ = S`` at the first and the last layer and ``S^(1/2)`` otherwise. Every consecutive pair is a
factor, the last one included (also for a scalar output). The norm is convex in ``d``, so each max is
attained at a vertex of the box: ``d in {lo, hi}^{n_i}``.

- :func:`seqlip` (guaranteed): each factor is the exact maximum, enumerated over all ``2^{n_i}`` vertices
  with a Gray code and rank-one updates, spectral norms from ``eigvalsh`` of the small Gram matrix in
  float64 (cheap-bound pruning against the incumbent). A pair wider than ``max_exact_width`` gets a
  proven bound instead (:func:`split_pair_bound`: exact over the heaviest neurons, the rest bounded
  through the midpoint ``c`` and radius ``r`` of ``[lo, hi]``), and the message says so. Every factor
  is inflated by :func:`lipexact.bounds.power.rounding_margin` (relative ``1e-10``) against float64
  rounding, as every certified norm of the project is.
- :func:`seqlip_greedy`: each factor by local search (alternating maximization and single flips). The
  value is attained by particular vertices, so it lies below the exact SeqLip, and it is NOT a guaranteed
  upper bound on ``L(f)`` (status ``HEURISTIC``).
- :func:`seqlip_cnn`: for convolutional networks too large to unroll, the factors are restricted to the
  top-``k`` singular vectors of each layer (Scaman & Virmaux, section 6) and maximized greedily: an
  estimate (status ``HEURISTIC``).

References
----------
K. Scaman and A. Virmaux, "Lipschitz regularity of deep neural networks: analysis and efficient
estimation", NeurIPS 2018, arXiv:1805.10965 (sections 5 and 6).
"""

from __future__ import annotations

import math
import time
from typing import Any, Iterator

import numpy as np
import torch

from lipexact.bounds.device import as_dtype, pick_device
from lipexact.bounds.layers import DEFAULT_MAX_UNROLL, extract_segments
from lipexact.result import LipschitzResult, Status
from reductions.validation import as_real, require

__all__ = [
    "seqlip",
    "seqlip_greedy",
    "seqlip_cnn",
    "validate_seqlip",
    "validate_seqlip_greedy",
    "validate_seqlip_cnn",
    "gray_flips",
    "pair_matrices",
    "pair_norm",
    "iter_vertex_sq_norms",
    "exact_pair_max",
    "greedy_pair_max",
    "midpoint_pair_bound",
    "split_pair_bound",
]

#: Widest pair enumerated exactly by default (``2^22`` vertices).
DEFAULT_MAX_EXACT_WIDTH = 22
#: Default number of singular triplets per layer for :func:`seqlip_cnn`.
DEFAULT_TOP_K = 20
#: Default iteration cap and relative tolerance of the block power iteration of :func:`seqlip_cnn`.
DEFAULT_TOP_K_ITERATIONS = 100
DEFAULT_TOP_K_RTOL = 1e-5
#: Default largest enumeration work ``2^width * m^3`` (``m`` the Gram size) of an exactly enumerated pair.
DEFAULT_MAX_EXACT_WORK = 1 << 36
_SPLIT_WORK = 1 << 30  # enumeration work allowed for the exact part of a split bound
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


def _live_terms(P, Q):
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
    live = _live_terms(P, Q)
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


# ---------------------------------------------------------------- shared driver

_COMMON_OPTIONS = {"norm"}


def _check_options(options: dict, allowed: set, method: str) -> None:
    unknown = sorted(set(options) - allowed - _COMMON_OPTIONS)
    require(not unknown, unknown[0] if unknown else "", f"an option of {method} (one of {sorted(allowed)})",
            "an unknown option")
    if "norm" in options:
        from lipexact.norms import parse_norm

        require(parse_norm(options["norm"]) == "2", "norm", f"2 ({method} bounds the l2 constant)",
                repr(options["norm"]))


def _positive_int(value: Any, field: str, minimum: int = 0) -> int:
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= minimum
    require(ok, field, f"an integer >= {minimum}", repr(value))
    return int(value)


def _unrollable(chain, max_unroll: int) -> bool:
    return all(block.is_dense or block.in_dim * block.out_dim <= max_unroll for block in chain.blocks)


def _gram_cost(P, Q) -> int:
    """Work of one vertex's spectral norm: 1 for rank <= 2 (closed form), else ``m^3``."""
    m = min(P.shape[0], Q.shape[1])
    return 1 if m <= 2 else m ** 3


_GRAM_SVD_MIN_SIDE = 512  # smaller side above which the heuristic modes take the SVD from a Gram matrix
_GRAM_SVD_RTOL = 1e-6  # singular values below this fraction of the largest are dropped by the Gram SVD


def _gram_svd(A):
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


def _full_svds(chain, device, max_unroll: int, exact: bool) -> tuple[list, list]:
    """Thin SVDs of every block: LAPACK's in the guaranteed mode, :func:`_gram_svd` in the heuristic ones."""
    singular = []
    for block in chain.blocks:
        matrix = block.matrix(dtype=torch.float64, device=device, max_unroll=max_unroll)
        singular.append(torch.linalg.svd(matrix, full_matrices=False) if exact else _gram_svd(matrix))
    return singular, ["svd" if exact else "gram_svd"] * len(singular)


def _single_block_factor(block, mode: str, cfg: dict, device, seed: int) -> tuple[float, str]:
    """The spectral norm of a chain's only block (no SVD): certified when unrolled (Lanczos on the Gram
    matrix with a Cholesky proof, :func:`lipexact.bounds.power.matrix_spectral_norm`), else by power
    iteration (top_k mode only, where the block may be too large to unroll)."""
    from lipexact.bounds.power import matrix_spectral_norm, top_k_singular

    if block.in_dim * block.out_dim <= cfg["max_unroll"]:
        value, _ = matrix_spectral_norm(block.matrix(dtype=torch.float64, device=device,
                                                     max_unroll=cfg["max_unroll"]))
        return value, "spectral_norm"
    top = top_k_singular(block, block.in_shape, 1, device=device, seed=seed, iterations=cfg["iterations"],
                         rtol=cfg["rtol"])
    return float(top.values[0]), "power"


def _top_k_triplets(block, k: int, device, seed: int, max_unroll: int, iterations: int, rtol: float):
    """Top-``k`` singular triplets ``(U_k, S_k, Vh_k)`` of a block's linear part, and how they were found."""
    k = min(k, block.in_dim, block.out_dim)
    if block.in_dim * block.out_dim <= max_unroll:
        U, S, Vh = _gram_svd(block.matrix(dtype=torch.float64, device=device, max_unroll=max_unroll))
        return (U[:, :k], S[:k], Vh[:k, :]), "svd"
    from lipexact.bounds.power import top_k_singular

    top = top_k_singular(block, block.in_shape, k, device=device, seed=seed, iterations=iterations, rtol=rtol)
    return (top.u.reshape(k, -1).T, top.values, top.v.reshape(k, -1)), "power"


def _segment_factors(chain, mode: str, cfg: dict, device, seed: int) -> tuple[list, list, list, list]:
    """``(factors, pair_stats, vertices, sources)`` of one chain. ``mode``: exact, greedy or top_k."""
    if len(chain.blocks) == 1:
        value, source = _single_block_factor(chain.blocks[0], mode, cfg, device, seed)
        return [value], [], [], [source]
    if mode == "top_k":
        singular, sources = [], []
        for i, block in enumerate(chain.blocks):
            triplet, source = _top_k_triplets(block, cfg["k"], device, seed + i, cfg["max_unroll"],
                                              cfg["iterations"], cfg["rtol"])
            singular.append(triplet)
            sources.append(source)
    else:
        singular, sources = _full_svds(chain, device, cfg["max_unroll"], exact=mode == "exact")
    factors, pair_stats, vertices = [], [], []
    for i, activation in enumerate(chain.activations):
        P, Q = pair_matrices(singular, i)
        lo, hi = activation.slope_low, activation.slope_high
        info = {"pair": i, "activation": activation.name}
        width, cost = int(len(_live_terms(P, Q))), _gram_cost(P, Q)
        if mode == "exact" and (width > cfg["max_exact_width"] or (1 << width) * cost > cfg["max_exact_work"]):
            affordable = max(0, int(math.log2(max(1, _SPLIT_WORK // cost))))
            value, stats = split_pair_bound(P, Q, lo, hi, width=min(cfg["split_width"], affordable))
            factors.append(value)
            pair_stats.append({**info, "kind": "split", "width": width, **stats})
            vertices.append(None)
            continue
        greedy_value, greedy_d, greedy_stats = greedy_pair_max(P, Q, lo, hi, restarts=cfg["restarts"],
                                                               seed=seed + i)
        if mode == "exact":
            value, d, stats = exact_pair_max(P, Q, lo, hi, incumbent=(greedy_value, greedy_d))
            pair_stats.append({**info, "kind": "exact", **stats})
        else:
            value, d = greedy_value, greedy_d
            pair_stats.append({**info, "kind": "greedy" if mode == "greedy" else "greedy_top_k", **greedy_stats})
        factors.append(value)
        vertices.append(d.cpu().tolist())
    return factors, pair_stats, vertices, sources


def _seqlip_run(model, input_shape, device, seed: int, mode: str, cfg: dict, method: str,
                started: float) -> LipschitzResult:
    """SeqLip over every max-pooling-free segment, times the poolings' constants."""
    segmented = extract_segments(model, input_shape, device=device)
    requested = mode
    if mode != "top_k" and not all(_unrollable(chain, cfg["max_unroll"]) for chain in segmented.segments):
        mode = "top_k"
    margin = 1.0
    if mode == "exact":
        from lipexact.bounds.power import rounding_margin

        margin = 1 + rounding_margin(torch.float64)  # outward rounding, as for every certified norm
    value = math.prod(pool.constant for pool in segmented.poolings)
    all_factors, all_stats, all_vertices, all_sources, layers, widths = [], [], [], [], 0, []
    t0 = time.perf_counter()
    for s, chain in enumerate(segmented.segments):
        if chain.blocks:
            factors, pair_stats, vertices, sources = _segment_factors(chain, mode, cfg, device, seed + 1000 * s)
            factors = [f * margin for f in factors]
        else:
            factors, pair_stats, vertices, sources = [], [], [], []
        value *= chain.outer_scale * math.prod(factors)
        all_factors += factors
        all_stats += [{"segment": s, **p} for p in pair_stats]
        all_vertices += vertices
        all_sources += sources
        layers += len(chain.blocks)
        widths += chain.widths
    timings = {"pairs": time.perf_counter() - t0, "total": time.perf_counter() - started}
    kinds = [p["kind"] for p in all_stats]
    pools = ""
    if segmented.poolings:
        pools = (f"; {len(segmented.poolings)} max-pooling layer(s) bounded by their Lipschitz constants "
                 f"{[round(p.constant, 6) for p in segmented.poolings]} between SeqLip segments")
    if mode == "exact":
        status = Status.UPPER_BOUND
        message = f"guaranteed SeqLip over {layers} layers: {kinds.count('exact')} pair(s) enumerated exactly"
        wide = [(p["segment"], p["pair"]) for p in all_stats if p["kind"] == "split"]
        if wide:
            enumerated = sorted({p["enumerated_width"] for p in all_stats if p["kind"] == "split"})
            message += (f", {len(wide)} pair(s) too wide for enumeration (max_exact_width={cfg['max_exact_width']}, "
                        f"max_exact_work={cfg['max_exact_work']}) bounded by the split bound (exact on the "
                        f"{'/'.join(map(str, enumerated))} heaviest neurons, midpoint bound on the rest)")
    elif mode == "greedy":
        status = Status.HEURISTIC
        message = ("greedy SeqLip (local search over activation vertices): an estimate, NOT a guaranteed "
                   "upper bound")
    else:
        status = Status.HEURISTIC
        message = (f"top-{cfg['k']} SeqLip with greedy pair maximization: an estimate, NOT a guaranteed upper "
                   f"bound (singular vectors by {', '.join(sorted(set(all_sources))) or 'none'})")
        if requested != "top_k":
            message = (f"a layer is too large to unroll (max_unroll={cfg['max_unroll']}): fell back to "
                       + message)
    stats = {"layers": layers, "widths": widths, "pair_factors": all_factors, "pairs": all_stats,
             "segments": len(segmented.segments), "pool_constants": [p.constant for p in segmented.poolings],
             "singular_source": all_sources, "device": str(device), "mode": mode}
    if mode == "top_k":
        stats["k"] = cfg["k"]
    return LipschitzResult(status=status, value=value, upper=value if status == Status.UPPER_BOUND else None,
                           method=method, norm="2", message=message + pools,
                           certificate={"pair_vertices": all_vertices}, timings=timings, stats=stats)


# ---------------------------------------------------------------- public entry points

def seqlip(model: Any, *, input_shape: Any = None, device: Any = None, dtype: Any = torch.float64,
           seed: int = 0, max_exact_width: int = DEFAULT_MAX_EXACT_WIDTH, max_exact_work: int = DEFAULT_MAX_EXACT_WORK,
           split_width: int | None = None, max_unroll: int = DEFAULT_MAX_UNROLL, restarts: int = 3,
           **options: Any) -> LipschitzResult:
    """Guaranteed SeqLip upper bound on the l2 Lipschitz constant (exact enumeration per pair).

    Parameters
    ----------
    model : torch.nn.Sequential or TwoLayerReLU
        Affine layers, coordinatewise activations and max-poolings (see
        :func:`lipexact.bounds.layers.extract_segments`). A max-pooling splits the network: the bound is
        the product of the SeqLip bounds of the pieces and the poolings' Lipschitz constants.
    input_shape : tuple of int, optional
        Shape of one input (no batch dimension); read from a leading Linear layer when None.
    device : str or torch.device, optional
        Computation device (CUDA when present by default).
    dtype : torch.dtype
        Validated and accepted for the uniform interface of the bounds (default ``torch.float64``), but every
        SeqLip variant computes in float64 whatever is asked: the enumeration compares squared norms of
        nearly equal vertices, and the pair factors are certified with a float64 rounding margin.
    seed : int
        Seed of the greedy incumbent that starts each enumeration (the result does not depend on it).
    max_exact_width : int
        Pairs with more (non-vanishing) neurons are not enumerated: they get :func:`split_pair_bound`
        (exact on the ``split_width`` heaviest neurons, the midpoint bound on the rest; still proven).
    max_exact_work : int
        A pair is enumerated only if also ``2^width * m^3 <= max_exact_work`` (``m`` the size of its Gram
        matrix; 1 for ``m <= 2``), so that no pair runs for hours.
    split_width : int, optional
        Default ``min(max_exact_width, 16)``; lowered further so that the split bound's enumeration
        stays below ``2^30`` work.
    max_unroll : int
        Largest dense matrix (entries) built for a convolutional block; a network with a larger block is
        handled as by :func:`seqlip_cnn` (status ``HEURISTIC``, as the message then says).
    restarts : int
        Random restarts of the greedy incumbent.

    Returns
    -------
    LipschitzResult
        ``status`` ``UPPER_BOUND`` with ``value = upper``; ``stats["pairs"]`` says per pair whether it was
        enumerated (``"exact"``) or bounded (``"split"``); ``certificate["pair_vertices"]`` holds each
        enumerated pair's maximizing vertex ``d``.

    Examples
    --------
    >>> from lipexact import TwoLayerReLU
    >>> net = TwoLayerReLU([[1, 1], [1, -1]], [[1, 1]])
    >>> result = seqlip(net)
    >>> result.status.value, round(result.value, 6)  # 2 (exact here), inflated by 1e-10 against rounding
    ('upper_bound', 2.0)

    References
    ----------
    K. Scaman and A. Virmaux, NeurIPS 2018, arXiv:1805.10965, section 5 (SeqLip).
    """
    started = time.perf_counter()
    device, seed, cfg = _exact_config(device, dtype, seed, max_exact_width, max_exact_work, split_width, max_unroll,
                                      restarts, options)
    return _seqlip_run(model, input_shape, device, seed, "exact", cfg, "seqlip", started)


def _exact_config(device, dtype, seed, max_exact_width, max_exact_work, split_width, max_unroll, restarts,
                  options) -> tuple[Any, int, dict]:
    _check_options(options, set(), "seqlip")
    as_dtype(dtype)  # validated only: every variant computes in float64 (see seqlip)
    max_exact_width = _positive_int(max_exact_width, "max_exact_width")
    cfg = {
        "max_exact_width": max_exact_width,
        "split_width": min(max_exact_width, 16) if split_width is None else _positive_int(split_width, "split_width"),
        "max_exact_work": _positive_int(max_exact_work, "max_exact_work", 1),
        "max_unroll": _positive_int(max_unroll, "max_unroll", 1),
        "restarts": _positive_int(restarts, "restarts"),
        "k": DEFAULT_TOP_K, "iterations": DEFAULT_TOP_K_ITERATIONS, "rtol": DEFAULT_TOP_K_RTOL,
    }
    return pick_device(device), _positive_int(seed, "seed"), cfg


def seqlip_greedy(model: Any, *, input_shape: Any = None, device: Any = None, dtype: Any = torch.float64,
                  seed: int = 0, max_unroll: int = DEFAULT_MAX_UNROLL, restarts: int = 3,
                  **options: Any) -> LipschitzResult:
    """Greedy SeqLip: each pair factor by local search. An estimate, NOT a guaranteed upper bound.

    Same parameters as :func:`seqlip`. The value never exceeds the exact SeqLip (each factor is attained
    at a vertex), but may fall below the true Lipschitz constant. Networks with a layer too large to
    unroll are handled as by :func:`seqlip_cnn`.

    Examples
    --------
    >>> from lipexact import TwoLayerReLU
    >>> net = TwoLayerReLU([[1, 1], [1, -1]], [[1, 1]])
    >>> result = seqlip_greedy(net)
    >>> result.status.value, round(result.value, 12), result.upper is None
    ('heuristic', 2.0, True)

    References
    ----------
    K. Scaman and A. Virmaux, NeurIPS 2018, arXiv:1805.10965, section 5 (greedy SeqLip).
    """
    started = time.perf_counter()
    device, seed, cfg = _greedy_config(device, dtype, seed, max_unroll, restarts, options)
    return _seqlip_run(model, input_shape, device, seed, "greedy", cfg, "seqlip_greedy", started)


def _greedy_config(device, dtype, seed, max_unroll, restarts, options) -> tuple[Any, int, dict]:
    _check_options(options, set(), "seqlip_greedy")
    as_dtype(dtype)  # validated only: every variant computes in float64 (see seqlip)
    cfg = {"max_unroll": _positive_int(max_unroll, "max_unroll", 1), "restarts": _positive_int(restarts, "restarts"),
           "k": DEFAULT_TOP_K, "iterations": DEFAULT_TOP_K_ITERATIONS, "rtol": DEFAULT_TOP_K_RTOL}
    return pick_device(device), _positive_int(seed, "seed"), cfg


def seqlip_cnn(model: Any, *, input_shape: Any = None, device: Any = None, dtype: Any = torch.float64,
               seed: int = 0, k: int = DEFAULT_TOP_K, max_unroll: int = DEFAULT_MAX_UNROLL, restarts: int = 1,
               iterations: int = DEFAULT_TOP_K_ITERATIONS, rtol: float = DEFAULT_TOP_K_RTOL,
               **options: Any) -> LipschitzResult:
    """SeqLip restricted to the top-``k`` singular vectors of every layer, maximized greedily (an estimate).

    Each layer ``M_i`` is replaced by its top-``k`` part ``U_{i,k} S_{i,k} V_{i,k}^T`` (block power
    iteration, :func:`lipexact.bounds.power.top_k_singular`, with at most ``iterations`` steps and relative
    tolerance ``rtol``, for layers with more than ``max_unroll`` matrix entries; an SVD otherwise) and
    each pair factor ``||S~_{i+1,k} V_{i+1,k}^T diag(d) U_{i,k} S~_{i,k}||`` is maximized by
    :func:`greedy_pair_max`. Both steps lose the guarantee: status ``HEURISTIC``. Max-poolings are
    handled as in :func:`seqlip`.

    Examples
    --------
    >>> import torch
    >>> torch.manual_seed(0) and None
    >>> net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU(), torch.nn.Flatten(),
    ...                           torch.nn.Linear(2 * 4 * 4, 1)).double()
    >>> result = seqlip_cnn(net, input_shape=(1, 6, 6), k=4)
    >>> result.status.value, result.value > 0
    ('heuristic', True)

    References
    ----------
    K. Scaman and A. Virmaux, NeurIPS 2018, arXiv:1805.10965, section 6.
    """
    started = time.perf_counter()
    device, seed, cfg = _top_k_config(device, dtype, seed, k, max_unroll, restarts, iterations, rtol, options)
    return _seqlip_run(model, input_shape, device, seed, "top_k", cfg, "seqlip_cnn", started)


def _top_k_config(device, dtype, seed, k, max_unroll, restarts, iterations, rtol, options) -> tuple[Any, int, dict]:
    _check_options(options, set(), "seqlip_cnn")
    as_dtype(dtype)  # validated only: every variant computes in float64 (see seqlip)
    rtol = float(as_real(rtol, "rtol"))
    require(rtol > 0, "rtol", "a positive number", repr(rtol))
    cfg = {"k": _positive_int(k, "k", 1), "max_unroll": _positive_int(max_unroll, "max_unroll", 1),
           "restarts": _positive_int(restarts, "restarts"), "iterations": _positive_int(iterations, "iterations", 1),
           "rtol": rtol}
    return pick_device(device), _positive_int(seed, "seed"), cfg


# ---------------------------------------------------------------- up-front validation

def validate_seqlip(model: Any, *, input_shape: Any = None, device: Any = None, dtype: Any = torch.float64,
                    seed: int = 0, max_exact_width: int = DEFAULT_MAX_EXACT_WIDTH,
                    max_exact_work: int = DEFAULT_MAX_EXACT_WORK, split_width: int | None = None,
                    max_unroll: int = DEFAULT_MAX_UNROLL, restarts: int = 3, **options: Any) -> None:
    """Raise what :func:`seqlip` raises for bad input (options, model, input shape), computing nothing.

    Examples
    --------
    >>> validate_seqlip(torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.GELU(), torch.nn.Linear(3, 1)))
    Traceback (most recent call last):
    ...
    reductions.validation.InvalidInputError: model[1]: expected an affine layer ..., got GELU
    """
    device, _, _ = _exact_config(device, dtype, seed, max_exact_width, max_exact_work, split_width, max_unroll,
                                 restarts, options)
    extract_segments(model, input_shape, device=device)


def validate_seqlip_greedy(model: Any, *, input_shape: Any = None, device: Any = None, dtype: Any = torch.float64,
                           seed: int = 0, max_unroll: int = DEFAULT_MAX_UNROLL, restarts: int = 3,
                           **options: Any) -> None:
    """Raise what :func:`seqlip_greedy` raises for bad input, computing nothing (see :func:`validate_seqlip`)."""
    device, _, _ = _greedy_config(device, dtype, seed, max_unroll, restarts, options)
    extract_segments(model, input_shape, device=device)


def validate_seqlip_cnn(model: Any, *, input_shape: Any = None, device: Any = None, dtype: Any = torch.float64,
                        seed: int = 0, k: int = DEFAULT_TOP_K, max_unroll: int = DEFAULT_MAX_UNROLL,
                        restarts: int = 1, iterations: int = DEFAULT_TOP_K_ITERATIONS, rtol: float = DEFAULT_TOP_K_RTOL,
                        **options: Any) -> None:
    """Raise what :func:`seqlip_cnn` raises for bad input, computing nothing (see :func:`validate_seqlip`)."""
    device, _, _ = _top_k_config(device, dtype, seed, k, max_unroll, restarts, iterations, rtol, options)
    extract_segments(model, input_shape, device=device)
