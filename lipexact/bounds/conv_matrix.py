"""Convolutions as sparse matrices, and their spectral norms certified from the Gram matrix of the smaller side.

A zero-padded convolution ``y = K * x`` (any stride, dilation, padding and groups) is the sparse matrix with
entry ``K[o, i, t]`` at row ``(o, y)`` and column ``(i, y s - p + t d)`` whenever that input position lies
inside the input (zero padding drops the others). :func:`conv_sparse_matrix` builds it by index arithmetic
from the weights alone (``rows x c_in/groups x prod(kernel)`` entries), in float64, where the float32 or
float64 weights are exact.

:func:`certified_sparse_norm` (any sparse matrix) and :func:`certified_conv_norm` (a convolution, from its kernel
without building the matrix) bound ``||A||_2`` from above, within a few ``1e-10`` relative of the exact value
(the worst-case rounding terms below; the shift above the eigenvalue estimate is ``2e-11``):

1. ``G`` is the Gram matrix of the smaller side (``A^T A`` or ``A A^T``, ``n x n``), formed in float64: by a
   sparse product, dense BLAS or BLAS on banded chunks of rows (:func:`_gram`), or for a convolution from the
   products of its kernel taps (:func:`conv_gram`). Each entry is a sum of at most ``m`` products (``m`` the
   larger side), so the computed ``G`` differs from the exact one by ``E`` with ``|E| <= gamma_m |A|^T |A|``
   entrywise, ``gamma_m = m u / (1 - m u)``, ``u = 2^-53``, and ``||E||_2 <= gamma_m || |A| ||_2^2 <= gamma_m
   ||A||_1 ||A||_inf`` (Schur's bound on the non-negative ``|A|``: its largest row and column absolute sums,
   computed in float and inflated by ``1 + gamma_{m+n}``).
2. Lanczos (scipy ``eigsh``, in float32, refined by the float64 Rayleigh quotient of its vector; then in float64
   if the factorization below fails) estimates ``theta ~ lambda_max(G)``; the Cholesky factorization of
   ``M = t I - G``, ``t = theta (1 + GRAM_SLACK)``, succeeds only if ``t`` is above the top eigenvalue up to
   rounding: a computed Cholesky factor satisfies ``L L^T = M + dM`` with ``|dM| <= gamma_{n+1} |L| |L|^T``
   (Higham, Accuracy and Stability of Numerical Algorithms, Theorem 10.3; LAPACK's blocked factorization
   satisfies the same bound up to a small constant, and twice the bound is used below), and
   ``(|L| |L|^T)_{ij} <= sqrt(d_i d_j)`` with ``d_i = (L L^T)_{ii} <= M_ii (1 + gamma_{n+1}) <= t (1 +
   gamma_{n+1})`` (``G_ii >= 0``), so ``||dM||_2 <= ||dM||_F <= gamma_{n+1} sum_i d_i <= n gamma_{n+1} t (1 +
   gamma_{n+1})``; ``M + dM`` is positive semidefinite, hence ``lambda_max(G) <= t + ||dM||_2``.
3. ``||A||_2^2 = lambda_max(exact G) <= t (1 + 2 n gamma_{n+1} (1 + gamma_{n+1})) + gamma_m ||A||_1 ||A||_inf``,
   evaluated with every operation rounded and then inflated by ``(1 + 16 u)``; the square root too.

If the factorization fails (Lanczos stopped below the top), ``t`` grows by factors of ``1 + 1e-9``, ``1 + 1e-7``,
``1 + 1e-5``, and then the answer is None (the caller falls back to another certified bound). The relative cost of
the certificate: ``n gamma_{n+1}`` is ``2e-10`` for ``n = 1600``, ``gamma_m ||A||_1 ||A||_inf / ||A||_2^2`` is
of the same order for convolutions (their absolute and signed norms differ by small factors).

Examples
--------
>>> conv = torch.nn.Conv2d(2, 3, 3, stride=2, padding=1, bias=False, dtype=torch.float64)
>>> A = conv_sparse_matrix(conv, (2, 6, 6))
>>> A.shape, A.nnz <= 3 * 9 * 2 * 9
((27, 72), True)
>>> x = torch.randn(1, 2, 6, 6, dtype=torch.float64)
>>> bool(np.allclose(A @ x.reshape(-1).numpy(), conv(x).detach().reshape(-1).numpy()))
True
>>> bound = certified_sparse_norm(A)
>>> exact = float(np.linalg.norm(A.toarray(), 2))
>>> bool(exact <= bound <= exact * (1 + 1e-8))
True
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

__all__ = ["conv_sparse_matrix", "conv_gram", "certified_conv_norm", "certified_sparse_norm",
           "CONV_MATRIX_MAX_ENTRIES", "GRAM_SLACK", "SPARSE_GRAM_MAX_SIDE"]

#: Largest number of stored entries :func:`conv_sparse_matrix` builds (float64 values and two index arrays).
CONV_MATRIX_MAX_ENTRIES = 1 << 24
#: Largest Gram side :func:`lipexact.bounds.layer_norm.spectral_norm` certifies this way: at side 1600 the Cholesky
#: factorization takes 35 ms and the Gram product and Lanczos about 30 ms each on this machine (one thread), while
#: the FFT bound (2-3% above the exact norm on strided MNIST layers) takes milliseconds; the factorization grows as
#: the cube of the side (side 4096: about 0.6 s).
SPARSE_GRAM_MAX_SIDE = 2048
#: Relative shift of the Cholesky test above the eigenvalue estimate (:func:`certified_sparse_norm`): above the
#: estimate's error (about 1e-12 measured) and the factorization's typical rounding (far below its worst case).
GRAM_SLACK = 2e-11
#: Growth of the shift after each failed factorization (the first entry applies before the first one).
_GROWTH = (0.0, 1e-9, 1e-7, 1e-5)
#: Operation-count weights of :func:`_gram`'s choice: a sparse multiply-add costs about this many BLAS ones, and
#: one chunk of the banded product this many (slicing, copying; measured on this machine).
_SPARSE_SLOWDOWN = 20.0
_CHUNK_OVERHEAD = 2e5
_U = 2.0 ** -53
_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)


def conv_sparse_matrix(module: nn.Module, input_shape: Sequence[int], max_entries: int = CONV_MATRIX_MAX_ENTRIES,
                       positions_first: bool = False):
    """The matrix of a zero-padded convolution's linear part as a ``scipy.sparse.csr_matrix`` (float64; rows:
    flattened outputs, columns: flattened inputs), or None when the module is not a zero-padded ``Conv1d/2d/3d``
    with numeric padding, the input shape does not fit it, or the matrix would exceed ``max_entries``.

    ``positions_first=True`` numbers rows and columns position by position (index ``position * channels +
    channel`` instead of ``channel * positions + position``): the same matrix up to a permutation of its rows and
    of its columns (the same singular values), whose non-zeros then lie in a narrow band of row chunks (which
    :func:`certified_sparse_norm`'s banded Gram product exploits); :func:`conv_gram` numbers its Gram matrix so.

    Examples
    --------
    >>> conv = torch.nn.Conv1d(1, 1, 2, bias=False)
    >>> with torch.no_grad():
    ...     _ = conv.weight.copy_(torch.tensor([[[1.0, -2.0]]]))
    >>> conv_sparse_matrix(conv, (1, 3)).toarray().tolist()
    [[1.0, -2.0, 0.0], [0.0, 1.0, -2.0]]
    >>> conv_sparse_matrix(torch.nn.Conv1d(1, 1, 2, padding_mode="circular", padding=1), (1, 3)) is None
    True
    >>> two = torch.nn.Conv1d(1, 2, 1, bias=False)
    >>> with torch.no_grad():
    ...     _ = two.weight.copy_(torch.tensor([[[1.0]], [[2.0]]]))
    >>> conv_sparse_matrix(two, (1, 2)).toarray().tolist()
    [[1.0, 0.0], [0.0, 1.0], [2.0, 0.0], [0.0, 2.0]]
    >>> conv_sparse_matrix(two, (1, 2), positions_first=True).toarray().tolist()
    [[1.0, 0.0], [2.0, 0.0], [0.0, 1.0], [0.0, 2.0]]
    """
    import scipy.sparse

    geometry = _geometry(module, input_shape, max_entries)
    if geometry is None:
        return None
    weight, shape, out, stride, padding, dilation = geometry
    c_out, c_group, *kernel = weight.shape
    spatial, c_in = shape[1:], shape[0]
    rows, cols = c_out * math.prod(out), c_in * math.prod(spatial)
    y, p, t = _incidence(spatial, out, kernel, stride, padding, dilation)
    out_per_group = c_out // module.groups
    channels = (np.arange(c_out) // out_per_group)[:, None] * c_group + np.arange(c_group)[None, :]  # c_out x c_group
    if positions_first:
        row_flat = y[None, :] * c_out + np.arange(c_out)[:, None]
        col_flat = p[None, :, None] * c_in + channels[:, None, :]
    else:
        row_flat = np.arange(c_out)[:, None] * math.prod(out) + y[None, :]
        col_flat = channels[:, None, :] * math.prod(spatial) + p[None, :, None]
    entries = weight.reshape(c_out, c_group, -1)[:, :, t].transpose(0, 2, 1)  # c_out x incidences x c_group
    keep = entries != 0
    if not np.any(keep):
        return scipy.sparse.csr_matrix((rows, cols), dtype=np.float64)
    row_index = np.broadcast_to(row_flat[:, :, None], entries.shape)[keep]
    col_index = np.broadcast_to(col_flat, entries.shape)[keep]
    matrix = scipy.sparse.coo_matrix((entries[keep], (row_index, col_index)), shape=(rows, cols))
    return matrix.tocsr()


def _geometry(module: nn.Module, input_shape: Sequence[int], max_entries: int):
    """``(weight, input shape, output spatial shape, stride, padding, dilation)`` of a zero-padded convolution
    (weights in float64, exact), or None when it is not one, the shape does not fit it, or its matrix would have
    more than ``max_entries`` entries."""
    if not isinstance(module, _CONVS) or module.padding_mode != "zeros" or isinstance(module.padding, str):
        return None
    weight = module.weight.detach().to(device="cpu", dtype=torch.float64).numpy()
    c_out, c_group, *kernel = weight.shape
    shape = tuple(int(v) for v in input_shape)
    if len(shape) != len(kernel) + 1 or shape[0] != c_group * module.groups:
        return None
    stride, padding, dilation = (tuple(module.stride), tuple(module.padding), tuple(module.dilation))
    out = tuple((n + 2 * p - d * (k - 1) - 1) // s + 1 for n, p, d, k, s in zip(shape[1:], padding, dilation, kernel,
                                                                                     stride))
    if min(out, default=1) < 1 or c_out * math.prod(out) * c_group * math.prod(kernel) > max_entries:
        return None
    return weight, shape, out, stride, padding, dilation


def _incidence(spatial: Sequence[int], out: Sequence[int], kernel: Sequence[int], stride, padding, dilation):
    """``(y, p, t)``: for every output position ``y``, input position ``p`` and kernel tap ``t`` (flat indices)
    with ``p = y stride - padding + t dilation`` inside the input."""
    dims = len(kernel)
    grid = lambda sizes: np.stack(np.meshgrid(*[np.arange(v) for v in sizes], indexing="ij"),
                                  axis=-1).reshape(-1, dims)
    positions, taps = grid(out), grid(kernel)
    source = (positions[:, None, :] * np.array(stride) - np.array(padding)
              + taps[None, :, :] * np.array(dilation))  # outputs x taps x dims
    inside = np.all((source >= 0) & (source < np.array(spatial)), axis=2)
    y, t = np.nonzero(inside)
    p = np.ravel_multi_index(tuple(source[y, t].T), tuple(spatial)) if dims else np.zeros(y.size, dtype=np.int64)
    return y, p, t


def conv_gram(module: nn.Module, input_shape: Sequence[int], max_entries: int = CONV_MATRIX_MAX_ENTRIES):
    """The Gram matrix of the smaller side of a zero-padded convolution's matrix, formed from the kernel alone.

    Returns ``(G, m, row_sum, column_sum)`` or None (as :func:`conv_sparse_matrix`): ``G`` (float64, numbered
    position by position: index ``position * channels + channel``, a permutation of the matrix's side, which
    leaves its eigenvalues unchanged) is ``A^T A`` when the input side is the smaller one (else ``A A^T``);
    ``m`` the larger side; ``row_sum`` and ``column_sum`` the largest absolute row and column sums of ``A``.

    Every output position applies the same kernel, so the products of two taps ``T = K_t^T K_t'`` (``c x c``
    blocks, one BLAS product of the reshaped kernel) are shared: entry block ``(p, q)`` of ``A^T A`` is the sum
    of ``T[t(y, p), t(y, q)]`` over the output positions ``y`` whose window holds both ``p`` and ``q`` (for
    ``A A^T`` the roles of inputs and outputs swap). Each entry is still a sum of the same (at most ``m``)
    products, in another order (groups' zeros add exactly), so the rounding bound of the module docstring holds.
    Where the tap products would be larger than ``4 G`` (many channels, few positions) the Gram matrix comes from
    the sparse matrix instead (:func:`certified_sparse_norm`'s products).

    Examples
    --------
    >>> conv = torch.nn.Conv2d(2, 3, 3, stride=2, padding=1, bias=False, dtype=torch.float64)
    >>> G, m, _, _ = conv_gram(conv, (2, 6, 6))
    >>> A = conv_sparse_matrix(conv, (2, 6, 6), positions_first=True).toarray()
    >>> G.shape, m, bool(np.allclose(G, A @ A.T))
    ((27, 27), 72, True)
    """
    geometry = _geometry(module, input_shape, max_entries)
    if geometry is None:
        return None
    weight, shape, out, stride, padding, dilation = geometry
    c_out, c_group, *kernel = weight.shape
    c_in, spatial, taps = shape[0], shape[1:], math.prod(kernel)
    K = np.zeros((c_out, c_in, taps))  # every input channel, zeros outside each output channel's group
    per_group = c_out // module.groups
    for group in range(module.groups):
        rows = slice(group * per_group, (group + 1) * per_group)
        K[rows, group * c_group:(group + 1) * c_group] = weight[rows].reshape(per_group, c_group, taps)
    y, p, t = _incidence(spatial, out, kernel, stride, padding, dilation)
    n_out, n_in = c_out * math.prod(out), c_in * math.prod(spatial)
    absolute = np.abs(K)
    row_sums = np.zeros((math.prod(out), c_out))
    np.add.at(row_sums, y, absolute.sum(axis=1)[:, t].T)
    column_sums = np.zeros((math.prod(spatial), c_in))
    np.add.at(column_sums, p, absolute.sum(axis=0)[:, t].T)
    row_sum, column_sum = float(row_sums.max(initial=0.0)), float(column_sums.max(initial=0.0))
    inputs = n_in <= n_out  # the smaller side: A^T A over the inputs, else A A^T over the outputs
    c, m = (c_in, n_out) if inputs else (c_out, n_in)
    if (taps * c) ** 2 > max(4 * min(n_in, n_out) ** 2, 1 << 20):  # the tap products would outweigh G: sparse
        A = conv_sparse_matrix(module, input_shape, max_entries, positions_first=True)
        return _gram(A if inputs else A.T.tocsr()), m, row_sum, column_sum
    if inputs:  # blocks over input positions, summed over the output positions
        shared, own, positions = y, p, math.prod(spatial)
        flat = K.transpose(0, 2, 1).reshape(c_out, taps * c_in)
        T = flat.T @ flat
    else:  # blocks over output positions, summed over the input positions
        shared, own, positions = p, y, math.prod(out)
        flat = K.transpose(2, 0, 1).reshape(taps * c_out, c_in)
        T = flat @ flat.T
    T = np.ascontiguousarray(T.reshape(taps, c, taps, c).transpose(0, 2, 1, 3))  # taps x taps x c x c
    G = np.zeros((positions * c, positions * c))
    view = G.reshape(positions, c, positions, c)
    order = np.argsort(shared, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(shared[order]) != 0])
    for first, last in zip(starts, np.r_[starts[1:], order.size]):
        window = order[first:last]
        a, k = own[window], t[window]
        view[a[:, None], :, a[None, :], :] += T[k[:, None], k[None, :]]
    return G, m, row_sum, column_sum


def certified_conv_norm(module: nn.Module, input_shape: Sequence[int], tries: int = 4) -> float | None:
    """A proven upper bound on the spectral norm of a zero-padded convolution's linear part, within a few
    ``1e-10`` of it (:func:`conv_gram`, then steps 2 and 3 of the module docstring), or None when the module is not
    one :func:`conv_sparse_matrix` covers, or the certificate fails.

    Examples
    --------
    >>> conv = torch.nn.Conv2d(2, 3, 3, stride=2, padding=1, bias=False, dtype=torch.float64)
    >>> exact = float(np.linalg.norm(conv_sparse_matrix(conv, (2, 6, 6)).toarray(), 2))
    >>> bound = certified_conv_norm(conv, (2, 6, 6))
    >>> bool(exact <= bound <= exact * (1 + 1e-9))
    True
    """
    found = conv_gram(module, input_shape)
    if found is None:
        return None
    G, m, row_sum, column_sum = found
    if G.size == 0 or not np.any(G):
        return 0.0 if np.all(np.isfinite(G)) else None
    return _certify(G, m, row_sum, column_sum, tries)


def _gamma(k: int) -> float:
    return k * _U / (1 - k * _U)


def _up(value: float) -> float:
    """``value`` inflated past the rounding of the few operations that computed it."""
    return value * (1 + 16 * _U)


def certified_sparse_norm(A: Any, tries: int = 4) -> float | None:
    """A proven upper bound on ``||A||_2`` for a sparse (or dense numpy) matrix, within a few ``1e-10`` of it,
    or None when the Cholesky certificate keeps failing (see the module docstring for the proof).

    Examples
    --------
    >>> import scipy.sparse
    >>> bound = certified_sparse_norm(scipy.sparse.csr_matrix(np.array([[3.0, 0.0], [0.0, -4.0]])))
    >>> 4.0 <= bound <= 4.0 * (1 + 1e-8)
    True
    """
    import scipy.sparse
    import scipy.sparse.linalg

    A = scipy.sparse.csr_matrix(A, dtype=np.float64)
    rows, cols = A.shape
    if rows == 0 or cols == 0 or A.nnz == 0:
        return 0.0
    if not np.all(np.isfinite(A.data)):
        return None
    small = A.T.tocsr() if cols > rows else A  # G = small^T small: n x n with n = min(rows, cols)
    absolute = abs(A)
    return _certify(_gram(small), small.shape[0], float(np.max(absolute.sum(axis=1))),
                    float(np.max(absolute.sum(axis=0))), tries)


def _certify(G: np.ndarray, m: int, row_sum: float, column_sum: float, tries: int = 4) -> float | None:
    """Steps 2 and 3 of the module docstring: ``G`` the float Gram matrix (``n x n``) whose entries are sums of
    at most ``m`` products, ``row_sum`` and ``column_sum`` the largest absolute row and column sums of ``A`` as
    computed in float (sums of at most ``m + n`` non-negative terms, inflated here by ``gamma_{m+n}``)."""
    n = G.shape[0]
    if not (np.all(np.isfinite(G)) and math.isfinite(row_sum) and math.isfinite(column_sum)):
        return None
    inflate = 1 + _gamma(m + n)
    schur = _up(row_sum * inflate * column_sum * inflate)
    formation = _up(_gamma(m) * schur)
    estimates = [lambda: float(np.linalg.eigvalsh(G)[-1])] if n <= 64 else [lambda: _lanczos_float32(G),
                                                                            lambda: _lanczos_float64(G)]
    t = 0.0
    for attempt in range(tries):
        t *= 1 + _GROWTH[min(attempt, len(_GROWTH) - 1)]
        if attempt < len(estimates):  # the cheap estimate, then a float64 one
            theta = estimates[attempt]()
            if not (math.isfinite(theta) and theta >= 0):
                return None
            if theta == 0.0:
                theta = float(np.max(np.diag(G))) or schur
            t = max(t, theta * (1 + GRAM_SLACK))
        if _cholesky_succeeds(t, G):
            g = _gamma(n + 1)
            top = _up(t * (1 + 2 * n * g * (1 + g)))
            return _up(math.sqrt(_up(top + formation)))
    return None


def _gram(small: Any, method: Any = None) -> np.ndarray:
    """``small^T small`` (dense), by whichever of three products the operation counts say is cheapest: the
    sparse product (``sum_r nnz_r^2`` multiply-adds at about a twentieth of BLAS's speed), BLAS on the dense
    matrix (``n^2 m / 2``, a symmetric rank-k update), or BLAS on chunks of consecutive rows, each restricted
    to the span of its columns (``sum_chunk rows * span^2 / 2``, plus a fixed cost per chunk): a convolution
    numbered position by position is banded, so the chunks skip most of the zeros. Every entry is a sum of the
    same ``m`` products (zeros added exactly), in some order, so the rounding bound of the module docstring
    holds for all three. ``method`` (``"sparse"``, ``"dense"`` or a chunk size) overrides the choice."""
    m, n = small.shape
    counts = np.diff(small.indptr).astype(np.float64)
    costs = {"sparse": _SPARSE_SLOWDOWN * float(np.sum(counts * counts)), "dense": 0.5 * n * n * m}
    spans = _chunk_spans(small)
    for size, (low, high) in spans.items():
        rows = np.minimum(size, m - size * np.arange(low.size)).astype(np.float64)
        width = np.maximum(high - low, 0).astype(np.float64)
        costs[size] = float(np.sum(0.5 * rows * width * width)) + _CHUNK_OVERHEAD * low.size
    best = min(costs, key=costs.get) if method is None else method
    if best == "sparse":
        return (small.T @ small).toarray()
    if best == "dense":
        dense = small.toarray()
        return dense.T @ dense
    G = np.zeros((n, n))
    low, high = spans[best] if best in spans else _chunk_spans(small, (best,))[best]
    for chunk, (lo, hi) in enumerate(zip(low.tolist(), high.tolist())):
        if hi > lo:
            block = small[chunk * best:(chunk + 1) * best, lo:hi].toarray()
            G[lo:hi, lo:hi] += block.T @ block
    return G


def _chunk_spans(small: Any, sizes: Sequence[int] = (16, 32, 64, 128, 256)) -> dict:
    """For each chunk size (rows): the first and one-past-last column of each chunk (``low >= high``: an
    empty chunk)."""
    m, n = small.shape
    counts = np.diff(small.indptr)
    first = np.full(m, n, dtype=np.int64)
    last = np.zeros(m, dtype=np.int64)
    filled = counts > 0
    if small.nnz:
        starts = small.indptr[:-1][filled]
        first[filled] = np.minimum.reduceat(small.indices, starts)
        last[filled] = np.maximum.reduceat(small.indices, starts) + 1
    spans = {}
    for size in sizes:
        chunks = -(-m // size)
        pad = chunks * size - m
        low = np.concatenate([first, np.full(pad, n)]).reshape(chunks, size).min(axis=1)
        high = np.concatenate([last, np.zeros(pad, dtype=np.int64)]).reshape(chunks, size).max(axis=1)
        spans[size] = (low, high)
    return spans


def _cholesky_succeeds(t: float, G: np.ndarray) -> bool:
    shifted = -G
    shifted[np.diag_indices_from(shifted)] += t
    return int(torch.linalg.cholesky_ex(torch.from_numpy(shifted)).info) == 0


def _lanczos_float32(G: np.ndarray) -> float:
    """An estimate of ``lambda_max(G)``: Lanczos on a float32 copy (half the memory traffic per product), then
    the float64 Rayleigh quotient of its vector (below ``lambda_max``, within rounding, and accurate to the
    square of the vector's error: about ``1e-12`` relative on the MNIST CNNs' layers against ``1e-6`` for the
    float32 value itself)."""
    import scipy.sparse.linalg

    try:
        _, vectors = scipy.sparse.linalg.eigsh(G.astype(np.float32), k=1, which="LA", tol=1e-6,
                                               v0=np.ones(G.shape[0], dtype=np.float32))
    except scipy.sparse.linalg.ArpackError:
        return _lanczos_float64(G)
    v = vectors[:, 0].astype(np.float64)
    norm = float(v @ v)
    return float(v @ (G @ v)) / norm if norm > 0 else _lanczos_float64(G)


def _lanczos_float64(G: np.ndarray) -> float:
    import scipy.sparse.linalg

    try:
        return float(scipy.sparse.linalg.eigsh(G, k=1, which="LA", tol=1e-10, v0=np.ones(G.shape[0]),
                                               return_eigenvectors=False)[0])
    except scipy.sparse.linalg.ArpackError:
        return float(np.linalg.eigvalsh(G)[-1])
