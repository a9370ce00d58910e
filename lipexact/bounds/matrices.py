"""Certified spectral norms of explicit matrices, and the rounding margin every certified norm carries.

Leaf module of :mod:`lipexact.bounds` (torch, numpy and scipy only): :func:`matrix_spectral_norm` is used
by the closed forms of :mod:`lipexact.bounds.affine`, by the exact layer norms of
:mod:`lipexact.bounds.layer_norm` and by SeqLip; :func:`rounding_margin` is the relative inflation that
turns a float64 (or float32) norm into a proven bound.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

__all__ = ["rounding_margin", "matrix_spectral_norm", "GRAM_SLACK"]

_MARGINS = {torch.float64: 1e-10, torch.float32: 1e-4, torch.float16: 1e-2, torch.bfloat16: 1e-1}


def rounding_margin(dtype: torch.dtype) -> float:
    """Relative inflation applied to certified norms computed in ``dtype``.

    Examples
    --------
    >>> rounding_margin(torch.float64)
    1e-10
    """
    return _MARGINS.get(dtype, 1e-4)


#: Relative slack of the Cholesky certificate of a Gram matrix's largest eigenvalue.
GRAM_SLACK = 1e-9


def _gram(A: torch.Tensor) -> tuple[torch.Tensor, Any]:
    """``A^T A`` as a dense tensor, and as the operand for Lanczos (scipy sparse when ``A`` is sparse)."""
    if A.device.type == "cpu" and float((A != 0).float().mean()) < 0.1:
        import scipy.sparse

        sparse = scipy.sparse.csr_matrix(A.numpy())
        gram = (sparse.T @ sparse).tocsr()
        return torch.as_tensor(gram.toarray(), dtype=A.dtype), gram
    G = A.T @ A
    return G, G.double().cpu().numpy()


def _top_eigenvalue(G: torch.Tensor, operand: Any) -> tuple[float, torch.Tensor]:
    """A proven upper bound on ``lambda_max(G)`` (within ``GRAM_SLACK``) and an eigenvector estimate.

    Lanczos (scipy ``eigsh``) gives ``theta``; a Cholesky factorization of ``(1 + GRAM_SLACK) theta I - G``
    proves that nothing is larger. If the factorization fails (``theta`` was not the top eigenvalue),
    the full eigendecomposition decides.
    """
    import scipy.sparse.linalg

    n = G.shape[0]
    try:
        values, vectors = scipy.sparse.linalg.eigsh(operand, k=1, which="LA", tol=1e-13, v0=np.ones(n))
        theta, vector = float(values[0]), torch.as_tensor(vectors[:, 0], dtype=G.dtype, device=G.device)
    except scipy.sparse.linalg.ArpackError:
        theta, vector = 0.0, None
    if theta > 0:
        bound = theta * (1 + GRAM_SLACK)
        shifted = bound * torch.eye(n, dtype=G.dtype, device=G.device) - G
        if int(torch.linalg.cholesky_ex(shifted).info) == 0:
            return bound, vector
    eigenvalues, eigenvectors = torch.linalg.eigh(G)
    return float(eigenvalues[-1].clamp_min(0)), eigenvectors[:, -1]


def matrix_spectral_norm(A: torch.Tensor) -> tuple[float, torch.Tensor]:
    """``(||A||_2, v)`` for an explicit matrix: the norm (never below the true one, by more than
    rounding) and a unit top right singular vector.

    SVD when the smaller side has at most 512 entries; otherwise the Gram matrix of the smaller side
    and :func:`_top_eigenvalue` (value exact to a relative ``GRAM_SLACK / 2``, certified by Cholesky).

    Examples
    --------
    >>> value, v = matrix_spectral_norm(torch.tensor([[3.0, 0.0], [0.0, -4.0]], dtype=torch.float64))
    >>> value, v.abs().tolist()
    (4.0, [0.0, 1.0])
    """
    rows, cols = A.shape
    if rows == 0 or cols == 0 or not bool(torch.any(A != 0)):
        return 0.0, torch.zeros(cols, dtype=A.dtype, device=A.device)
    if min(rows, cols) <= 512:
        _, s, vh = torch.linalg.svd(A, full_matrices=False)
        return float(s[0]), vh[0]
    if cols <= rows:
        value, v = _top_eigenvalue(*_gram(A))
    else:
        value, u = _top_eigenvalue(*_gram(A.T))
        v = A.T @ u
    return math.sqrt(value), v / v.norm()

