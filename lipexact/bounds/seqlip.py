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
  is inflated by :func:`lipexact.bounds.matrices.rounding_margin` (relative ``1e-10``) against float64
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
from typing import Any

import numpy as np
import torch

from lipexact.bounds.device import as_dtype, pick_device
from lipexact.bounds.layers import DEFAULT_MAX_UNROLL, extract_segments
from lipexact.bounds.matrices import matrix_spectral_norm, rounding_margin
from lipexact.bounds.power import top_k_singular
from lipexact.bounds.seqlip_pairs import (exact_pair_max, gram_cost, gram_svd, gray_flips, greedy_pair_max,
                                          iter_vertex_sq_norms, live_terms, midpoint_pair_bound, pair_matrices,
                                          pair_norm, split_pair_bound)
from lipexact.result import LipschitzResult, Status
from reductions.validation import as_real, require

__all__ = [
    "seqlip",
    "seqlip_greedy",
    "seqlip_cnn",
    "validate_seqlip",
    "validate_seqlip_greedy",
    "validate_seqlip_cnn",
    # the pair maths, re-exported from lipexact.bounds.seqlip_pairs
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


def _full_svds(chain, device, max_unroll: int, exact: bool) -> tuple[list, list]:
    """Thin SVDs of every block: LAPACK's in the guaranteed mode, :func:`~lipexact.bounds.seqlip_pairs.gram_svd` in the heuristic ones."""
    singular = []
    for block in chain.blocks:
        matrix = block.matrix(dtype=torch.float64, device=device, max_unroll=max_unroll)
        singular.append(torch.linalg.svd(matrix, full_matrices=False) if exact else gram_svd(matrix))
    return singular, ["svd" if exact else "gram_svd"] * len(singular)


def _single_block_factor(block, mode: str, cfg: dict, device, seed: int) -> tuple[float, str]:
    """The spectral norm of a chain's only block (no SVD): certified when unrolled (Lanczos on the Gram
    matrix with a Cholesky proof, :func:`lipexact.bounds.matrices.matrix_spectral_norm`), else by power
    iteration (top_k mode only, where the block may be too large to unroll)."""
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
        U, S, Vh = gram_svd(block.matrix(dtype=torch.float64, device=device, max_unroll=max_unroll))
        return (U[:, :k], S[:k], Vh[:k, :]), "svd"
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
        width, cost = int(len(live_terms(P, Q))), gram_cost(P, Q)
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
    model : torch.nn.Module or TwoLayerReLU
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
    lipexact.bounds.errors.NotApplicableError: model[1]: expected an affine layer ..., got GELU
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
