"""Norm pairs for Lipschitz constants and the induced norm of a Jacobian.

A norm name ``p`` means the input and output spaces both carry the l_p norm; the Lipschitz constant of
``f`` is then ``max ||J||_{p->p}`` over the Jacobians ``J`` of ``f``. The supported pairs have closed forms:

======  =====================  ==========================
name    ``||J||_{p->p}``       scalar output (``J = g^T``)
======  =====================  ==========================
``2``   largest singular value ``||g||_2``
``1``   max column abs sum     ``||g||_inf``
``inf`` max row abs sum        ``||g||_1``
======  =====================  ==========================

``1`` and ``inf`` are polyhedral: their unit balls are polytopes, so the exact solvers can use linear objectives.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from reductions.validation import InvalidInputError

__all__ = ["NORMS", "parse_norm", "jacobian_norm", "jacobian_norms"]

NORMS = ("2", "1", "inf")

_ALIASES = {"2": "2", "l2": "2", "l_2": "2", "1": "1", "l1": "1", "l_1": "1", "inf": "inf", "linf": "inf",
            "l_inf": "inf", "infinity": "inf", "l_infinity": "inf", "2->2": "2", "1->1": "1", "inf->inf": "inf"}


def parse_norm(norm: Any) -> str:
    """Canonical name (``"2"``, ``"1"`` or ``"inf"``) of a norm given as a number or a string.

    Examples
    --------
    >>> parse_norm(2), parse_norm("l1"), parse_norm(float("inf"))
    ('2', '1', 'inf')
    """
    if isinstance(norm, bool):
        raise InvalidInputError("norm", f"one of {list(NORMS)}", repr(norm))
    if isinstance(norm, (int, float, np.integer, np.floating)):
        key = "inf" if math.isinf(norm) and norm > 0 else (str(int(norm)) if float(norm).is_integer() else repr(norm))
    elif isinstance(norm, str):
        key = norm.strip().lower()
    else:
        raise InvalidInputError("norm", f"one of {list(NORMS)}", type(norm).__name__)
    if key not in _ALIASES:
        raise InvalidInputError("norm", f"one of {list(NORMS)}", repr(norm))
    return _ALIASES[key]


def jacobian_norms(J: np.ndarray, norm: str) -> np.ndarray:
    """``||J_k||_{p->p}`` for a stack of Jacobians of shape ``(..., m, n)``, without overflow or underflow of
    intermediate squares.

    Examples
    --------
    >>> jacobian_norms(np.array([[[3e200, 4e200]], [[3e-200, 4e-200]]]), "2") / [1e200, 1e-200]
    array([5., 5.])
    """
    J = np.asarray(J, dtype=np.float64)
    if norm == "1":
        return np.abs(J).sum(axis=-2).max(axis=-1)
    if norm == "inf":
        return np.abs(J).sum(axis=-1).max(axis=-1)
    with np.errstate(over="ignore", under="ignore"):
        values = _spectral(J)
    size = np.abs(J).max(axis=(-2, -1)) if J.size else np.zeros(J.shape[:-2])
    extreme = (size > 2.0 ** 500) | ((size > 0) & (size < 2.0 ** -500))
    if np.any(extreme):  # squares would overflow or underflow: scale by a power of two (exact) and back
        exponent = np.frexp(size[extreme])[1]
        scaled = np.ldexp(J[extreme], -exponent[:, None, None])
        values = np.array(values, dtype=np.float64, copy=True)
        values[extreme] = np.ldexp(_spectral(scaled), exponent)
    return values


#: Stacks whose matrices have at most this many rows or columns (and at most :data:`GRAM_MAX_LONG` of the other)
#: take their spectral norms from the Gram matrix (measured: 2.5x faster than the SVD on 3 x 10 stacks).
GRAM_MAX_SHORT = 16
GRAM_MAX_LONG = 4096


def _spectral(J: np.ndarray) -> np.ndarray:
    """Largest singular values of a stack. Small sides go through the Gram matrix ``G = J J^T`` (or ``J^T J``):
    ``||J||_2^2 = lambda_max(G)``; the float ``G`` differs from the exact one by at most ``gamma_long ||J||_F^2 <=
    gamma_long short ||J||_2^2`` in norm, and the symmetric eigensolver adds a few ``eps ||G||``, so the result's
    relative error stays below about ``short * long * 2^-53 / 2`` (under ``4e-12`` within the size limits), the
    order of the SVD's. Non-finite stacks go to the SVD (which refuses them, as before)."""
    m, n = J.shape[-2], J.shape[-1]
    if m == 1:
        return np.linalg.norm(J[..., 0, :], axis=-1)
    if min(m, n) <= GRAM_MAX_SHORT and max(m, n) <= GRAM_MAX_LONG and J.size and np.isfinite(J).all():
        T = np.swapaxes(J, -1, -2)
        G = J @ T if m <= n else T @ J
        return np.sqrt(np.maximum(np.linalg.eigvalsh(G)[..., -1], 0.0))
    return np.linalg.norm(J, ord=2, axis=(-2, -1))


def jacobian_norm(J: Any, norm: Any = "2") -> float:
    """The induced norm ``||J||_{p->p}`` of one Jacobian.

    Examples
    --------
    >>> jacobian_norm([[3.0, -4.0]]), jacobian_norm([[3.0, -4.0]], "inf"), jacobian_norm([[3.0, -4.0]], 1)
    (5.0, 7.0, 4.0)
    """
    J = np.asarray(J, dtype=np.float64)
    if J.ndim != 2:
        raise InvalidInputError("J", "a 2-dimensional Jacobian", f"{J.ndim} dimensions")
    return float(jacobian_norms(J, parse_norm(norm)))
