"""Convolutions as sparse matrices, and their spectral norms certified from the Gram matrix of the smaller side.

A zero-padded convolution ``y = K * x`` (any stride, dilation, padding and groups) is the sparse matrix with
entry ``K[o, i, t]`` at row ``(o, y)`` and column ``(i, y s - p + t d)`` whenever that input position lies
inside the input (zero padding drops the others). :func:`conv_sparse_matrix` builds it by index arithmetic
from the weights alone (``rows x c_in/groups x prod(kernel)`` entries), in float64, where the float32 or
float64 weights are exact.

:func:`certified_sparse_norm` bounds ``||A||_2`` from above, within about ``3e-9`` relative of the exact value:

1. ``G`` is the Gram matrix of the smaller side (``A^T A`` or ``A A^T``, ``n x n``), formed by a sparse
   product in float64. Each entry is a sum of at most ``m`` products (``m`` the larger side), so the computed
   ``G`` differs from the exact one by ``E`` with ``|E| <= gamma_m |A|^T |A|`` entrywise, ``gamma_m =
   m u / (1 - m u)``, ``u = 2^-53``, and ``||E||_2 <= gamma_m || |A| ||_2^2 <= gamma_m ||A||_1 ||A||_inf``
   (Schur's bound on the non-negative ``|A|``: its largest row and column absolute sums).
2. Lanczos (scipy ``eigsh``) estimates ``theta ~ lambda_max(G)``; the Cholesky factorization of
   ``M = t I - G``, ``t = theta (1 + GRAM_SLACK)``, succeeds only if ``t`` is above the top eigenvalue up to
   rounding: a computed Cholesky factor satisfies ``L L^T = M + dM`` with ``|dM| <= gamma_{n+1} |L| |L|^T``
   (Higham, Accuracy and Stability of Numerical Algorithms, Theorem 10.3; LAPACK's blocked factorization
   satisfies the same bound up to a small constant, and twice the bound is used below), and
   ``(|L| |L|^T)_{ij} <= sqrt(d_i d_j)`` with ``d_i = (L L^T)_{ii} <= M_ii (1 + gamma_{n+1}) <= t (1 +
   gamma_{n+1})`` (``G_ii >= 0``), so ``||dM||_2 <= ||dM||_F <= gamma_{n+1} sum_i d_i <= n gamma_{n+1} t (1 +
   gamma_{n+1})``; ``M + dM`` is positive semidefinite, hence ``lambda_max(G) <= t + ||dM||_2``.
3. ``||A||_2^2 = lambda_max(exact G) <= t (1 + 2 n gamma_{n+1} (1 + gamma_{n+1})) + gamma_m ||A||_1 ||A||_inf``,
   evaluated with every operation rounded and then inflated by ``(1 + 16 u)``; the square root too.

If the factorization fails (Lanczos stopped below the top), ``t`` grows by factors of ``1 + 1e-6`` a few
times, and then the answer is None (the caller falls back to another certified bound). The relative cost of
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

import itertools
import math
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

__all__ = ["conv_sparse_matrix", "certified_sparse_norm", "CONV_MATRIX_MAX_ENTRIES", "GRAM_SLACK",
           "SPARSE_GRAM_MAX_SIDE", "DENSE_GRAM_DENSITY"]

#: Largest number of stored entries :func:`conv_sparse_matrix` builds (float64 values and two index arrays).
CONV_MATRIX_MAX_ENTRIES = 1 << 24
#: Largest Gram side :func:`lipexact.bounds.layer_norm.spectral_norm` certifies this way: a Cholesky
#: factorization and a Lanczos run of side 1600 took 0.1-0.5 s each on this machine (one thread, load 2-4), while
#: the FFT bound (2-3% above the exact norm on strided MNIST layers) takes milliseconds; side 4096 would cost
#: seconds per layer.
SPARSE_GRAM_MAX_SIDE = 2048
#: Relative shift of the Cholesky test above the Lanczos estimate (:func:`certified_sparse_norm`).
GRAM_SLACK = 1e-9
#: Above this share of non-zero entries the Gram matrix is formed by dense BLAS (the same rounding bound).
DENSE_GRAM_DENSITY = 0.05
_U = 2.0 ** -53
_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)


def conv_sparse_matrix(module: nn.Module, input_shape: Sequence[int], max_entries: int = CONV_MATRIX_MAX_ENTRIES):
    """The matrix of a zero-padded convolution's linear part as a ``scipy.sparse.csr_matrix`` (float64; rows:
    flattened outputs, columns: flattened inputs), or None when the module is not a zero-padded ``Conv1d/2d/3d``
    with numeric padding, the input shape does not fit it, or the matrix would exceed ``max_entries``.

    Examples
    --------
    >>> conv = torch.nn.Conv1d(1, 1, 2, bias=False)
    >>> with torch.no_grad():
    ...     _ = conv.weight.copy_(torch.tensor([[[1.0, -2.0]]]))
    >>> conv_sparse_matrix(conv, (1, 3)).toarray().tolist()
    [[1.0, -2.0, 0.0], [0.0, 1.0, -2.0]]
    >>> conv_sparse_matrix(torch.nn.Conv1d(1, 1, 2, padding_mode="circular", padding=1), (1, 3)) is None
    True
    """
    import scipy.sparse

    if not isinstance(module, _CONVS) or module.padding_mode != "zeros" or isinstance(module.padding, str):
        return None
    weight = module.weight.detach().to(device="cpu", dtype=torch.float64).numpy()
    c_out, c_group, *kernel = weight.shape
    dims = len(kernel)
    shape = tuple(int(v) for v in input_shape)
    if len(shape) != dims + 1 or shape[0] != c_group * module.groups:
        return None
    spatial = shape[1:]
    stride, padding, dilation = (tuple(module.stride), tuple(module.padding), tuple(module.dilation))
    out = tuple((n + 2 * p - d * (k - 1) - 1) // s + 1 for n, p, d, k, s in zip(spatial, padding, dilation, kernel,
                                                                                     stride))
    if min(out, default=1) < 1:
        return None
    rows, cols = c_out * math.prod(out), shape[0] * math.prod(spatial)
    if rows * c_group * math.prod(kernel) > max_entries:
        return None
    out_per_group = c_out // module.groups
    row_parts, col_parts, value_parts = [], [], []
    positions = np.stack(np.meshgrid(*[np.arange(n) for n in out], indexing="ij"), axis=-1).reshape(-1, dims)
    out_flat = np.ravel_multi_index(tuple(positions.T), out) if dims else np.zeros(1, dtype=np.int64)
    for tap in itertools.product(*(range(k) for k in kernel)):
        source = positions * np.array(stride) - np.array(padding) + np.array(tap) * np.array(dilation)
        inside = np.all((source >= 0) & (source < np.array(spatial)), axis=1)
        if not np.any(inside):
            continue
        in_flat = np.ravel_multi_index(tuple(source[inside].T), spatial)
        kept_out = out_flat[inside]
        values = weight[(slice(None), slice(None)) + tap]  # c_out x c_group
        channels = (np.arange(c_out) // out_per_group)[:, None] * c_group + np.arange(c_group)[None, :]
        shape3 = (c_out, kept_out.size, c_group)
        row_index = np.broadcast_to((np.arange(c_out)[:, None] * math.prod(out) + kept_out[None, :])[:, :, None],
                                    shape3)
        col_index = np.broadcast_to(channels[:, None, :] * math.prod(spatial) + in_flat[None, :, None], shape3)
        entries = np.broadcast_to(values[:, None, :], shape3)
        keep = entries != 0
        row_parts.append(row_index[keep])
        col_parts.append(col_index[keep])
        value_parts.append(entries[keep])
    if not row_parts:
        return scipy.sparse.csr_matrix((rows, cols), dtype=np.float64)
    matrix = scipy.sparse.coo_matrix((np.concatenate(value_parts), (np.concatenate(row_parts),
                                                                    np.concatenate(col_parts))), shape=(rows, cols))
    return matrix.tocsr()


def _gamma(k: int) -> float:
    return k * _U / (1 - k * _U)


def _up(value: float) -> float:
    """``value`` inflated past the rounding of the few operations that computed it."""
    return value * (1 + 16 * _U)


def certified_sparse_norm(A: Any, tries: int = 4) -> float | None:
    """A proven upper bound on ``||A||_2`` for a sparse (or dense numpy) matrix, within a few ``1e-9`` of it,
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
    small = A.T if cols > rows else A  # G = small^T small: n x n with n = min(rows, cols)
    n, m = small.shape[1], small.shape[0]
    if A.nnz > DENSE_GRAM_DENSITY * rows * cols:  # BLAS on the dense matrix beats the sparse product
        dense = small.toarray()
        G = dense.T @ dense
    else:
        G = (small.T @ small).toarray()
    absolute = abs(A)
    schur = _up(float(np.max(absolute.sum(axis=0))) * float(np.max(absolute.sum(axis=1))))
    formation = _up(_gamma(m) * schur)
    if n <= 64:
        theta = float(np.linalg.eigvalsh(G)[-1])
    else:
        try:
            theta = float(scipy.sparse.linalg.eigsh(G, k=1, which="LA", tol=1e-10, v0=np.ones(n),
                                                    return_eigenvectors=False)[0])
        except scipy.sparse.linalg.ArpackError:
            theta = float(np.linalg.eigvalsh(G)[-1])
    if not (math.isfinite(theta) and theta >= 0):
        return None
    if theta == 0.0:
        theta = float(np.max(np.diag(G))) or schur
    t = theta * (1 + GRAM_SLACK)
    eye = np.eye(n)
    for _ in range(tries):
        factor = torch.linalg.cholesky_ex(torch.from_numpy(t * eye - G))
        if int(factor.info) == 0:
            g = _gamma(n + 1)
            top = _up(t * (1 + 2 * n * g * (1 + g)))
            return _up(math.sqrt(_up(top + formation)))
        t *= 1 + 1e-6
    return None
