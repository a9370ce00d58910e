"""Activation patterns as arrays: enumeration in chunks and the Jacobian norm of each pattern."""

from __future__ import annotations

from typing import Iterator

import numpy as np

from lipexact.network import TwoLayerReLU
from lipexact.norms import jacobian_norms

__all__ = ["pattern_chunks", "pattern_values"]


def pattern_chunks(h: int, chunk: int = 1 << 14) -> Iterator[np.ndarray]:
    """Every pattern of ``{0,1}^h`` as boolean rows, in chunks; pattern ``k`` has unit ``i`` on iff bit ``i`` of ``k``.

    Examples
    --------
    >>> next(pattern_chunks(2)).astype(int).tolist()
    [[0, 0], [1, 0], [0, 1], [1, 1]]
    """
    bits = np.arange(h, dtype=np.int64)
    for start in range(0, 1 << h, chunk):
        codes = np.arange(start, min(start + chunk, 1 << h), dtype=np.int64)
        yield ((codes[:, None] >> bits) & 1).astype(bool)


def pattern_values(net: TwoLayerReLU, patterns: np.ndarray, norm: str = "2") -> np.ndarray:
    """``||W2 diag(s) W1||_{p->p}`` for each row ``s`` of ``patterns`` (shape ``(k, h)``)."""
    W1 = np.asarray(net.W1, dtype=np.float64)
    W2 = np.asarray(net.W2, dtype=np.float64)
    jacobians = np.einsum("mh,kh,hn->kmn", W2, patterns.astype(np.float64), W1)
    return jacobian_norms(jacobians, norm)
