"""Exact (dyadic rational) pre-activation maps of a deep ReLU network under a joint activation pattern.

Every float is a dyadic rational ``N / 2^E``. Within the region of the upstream layers' pattern, the
pre-activations of layer ``l`` are affine in ``x``:

    z_1 = W_1 x + b_1,    z_{l+1} = W_{l+1} D_l z_l + b_{l+1}    (D_l = diag of layer l's pattern),

so they are ``(N x + e) / 2^E`` with integer ``N``, ``e`` and one exponent ``E`` per layer, composed here in
exact integer arithmetic (Python integers: no rounding, no overflow). The rows of a region are then exact
(:class:`reductions.realizability.ExactRows`), and so is every sign decided from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from lipexact.deep.network import ReLUNetwork
from reductions.realizability import ExactRows

__all__ = ["Dyadic", "AffineMap", "ExactNetwork", "dyadic", "dyadic_point"]


@dataclass(frozen=True)
class Dyadic:
    """An integer array ``values`` (dtype object) and an exponent: the rationals ``values / 2^exponent``."""

    values: np.ndarray
    exponent: int


def dyadic(array: Any) -> Dyadic:
    """The exact dyadic form of a float (or integer) array.

    Examples
    --------
    >>> d = dyadic(np.array([0.75, -2.0, 0.1]))
    >>> [int(v) for v in d.values], d.exponent
    ([27021597764222976, -72057594037927936, 3602879701896397], 55)
    """
    array = np.asarray(array)
    if array.dtype.kind in "iu":
        return Dyadic(array.astype(object), 0)
    ratios = [float(v).as_integer_ratio() for v in array.reshape(-1).tolist()]
    exponent = max((d.bit_length() - 1 for _, d in ratios), default=0)
    values = np.array([num << (exponent - (d.bit_length() - 1)) for num, d in ratios] or [], dtype=object)
    return Dyadic(values.reshape(array.shape), exponent)


def dyadic_point(x: Any) -> Dyadic:
    """A float point as integers over a common power of two (see :func:`dyadic`)."""
    return dyadic(np.asarray(x, dtype=np.float64))


def _shift(values: np.ndarray, bits: int) -> np.ndarray:
    return values * (1 << bits) if bits else values


@dataclass(frozen=True)
class AffineMap:
    """Pre-activations ``(N x + e) / 2^exponent`` of one layer on a region (``N``: width x n, dtype object)."""

    N: np.ndarray
    e: np.ndarray
    exponent: int

    @property
    def width(self) -> int:
        return self.N.shape[0]

    def zero_row(self, i: int) -> bool:
        """Whether unit ``i``'s pre-activation is constant (exactly zero ``x`` part) on the region."""
        return not any(self.N[i])

    def signs(self, x: Any) -> np.ndarray:
        """Exact signs (-1, 0, 1) of every pre-activation at the float point ``x`` (integer arithmetic)."""
        point = dyadic_point(x)
        totals = self.N.dot(point.values) + _shift(self.e, point.exponent) if self.N.shape[1] else self.e
        return np.array([(v > 0) - (v < 0) for v in totals], dtype=np.int64)

    def values(self, x: Any) -> list:
        """Exact values (Fractions) of every pre-activation at ``x``."""
        from fractions import Fraction

        point = dyadic_point(x)
        totals = self.N.dot(point.values) + _shift(self.e, point.exponent) if self.N.shape[1] else self.e
        return [Fraction(int(v), 1 << (self.exponent + point.exponent)) for v in totals]

    def box_range(self, i: int, lower: Dyadic, upper: Dyadic) -> tuple[int, int]:
        """Signs of ``min`` and ``max`` of unit ``i``'s pre-activation over the closed box ``[lower, upper]``
        (both dyadic with the same exponent), exact."""
        row = self.N[i]
        low = sum((a * (lower.values[j] if a > 0 else upper.values[j]) for j, a in enumerate(row) if a), 0)
        high = sum((a * (upper.values[j] if a > 0 else lower.values[j]) for j, a in enumerate(row) if a), 0)
        offset = self.e[i] * (1 << lower.exponent)
        low, high = low + offset, high + offset
        return (low > 0) - (low < 0), (high > 0) - (high < 0)

    def row(self, i: int, sign: int) -> tuple[list[int], int, int]:
        """``sign * (N_i, e_i)`` with its denominator: one row of :class:`ExactRows` (``sign * z_i > 0``)."""
        return [sign * int(v) for v in self.N[i]], sign * int(self.e[i]), 1 << self.exponent

    def float_linear(self) -> np.ndarray:
        """The nearest floats of ``N / 2^exponent`` (for bounds; never for decisions), computed once per map
        (read-only)."""
        cached = self.__dict__.get("_float_linear")
        if cached is None:
            scale = 1 << self.exponent
            cached = np.array([[_ratio(int(v), scale) for v in row] for row in self.N],
                              dtype=np.float64).reshape(self.N.shape)
            cached.setflags(write=False)
            self.__dict__["_float_linear"] = cached  # frozen dataclass: the cache bypasses __setattr__
        return cached


def _ratio(numerator: int, denominator: int) -> float:
    try:
        return numerator / denominator
    except OverflowError:
        return float("inf") if numerator > 0 else float("-inf")


class ExactNetwork:
    """The layers of a :class:`ReLUNetwork` in exact dyadic form, composing pre-activation maps.

    Examples
    --------
    >>> net = ReLUNetwork([([[1.0, -1.0], [0.5, 0.5]], [0.0, -1.0]), ([[1.0, 3.0]], [0.25]), ([[2.0]], None)])
    >>> exact = ExactNetwork(net)
    >>> first = exact.first()
    >>> second = exact.compose(1, first, [True, False])  # within x1 > x2, 0.5 (x1 + x2) < 1
    >>> second.N.tolist(), second.e.tolist(), second.exponent
    ([[4, -4]], [1], 2)
    """

    def __init__(self, net: ReLUNetwork):
        self.net = net
        self.weights = [dyadic(W) for W in net.weights]
        self.biases = [dyadic(b) for b in net.biases]

    def first(self) -> AffineMap:
        W, b = self.weights[0], self.biases[0]
        exponent = max(W.exponent, b.exponent)
        return AffineMap(_shift(W.values, exponent - W.exponent), _shift(b.values, exponent - b.exponent), exponent)

    def compose(self, layer: int, previous: AffineMap, pattern: Sequence[bool]) -> AffineMap:
        """Layer ``layer``'s (0-based affine layer index, ``>= 1``) pre-activations given layer ``layer - 1``'s
        map ``previous`` and its pattern."""
        W, b = self.weights[layer], self.biases[layer]
        active = np.flatnonzero(np.asarray(pattern, dtype=bool))
        n = previous.N.shape[1]
        product_exponent = W.exponent + previous.exponent
        exponent = max(product_exponent, b.exponent)
        if active.size:
            weights = W.values[:, active]
            N = weights.dot(previous.N[active])
            e = weights.dot(previous.e[active])
        else:
            N = np.array([[0] * n for _ in range(W.values.shape[0])], dtype=object).reshape(W.values.shape[0], n)
            e = np.array([0] * W.values.shape[0], dtype=object)
        N = _shift(N, exponent - product_exponent)
        e = _shift(e, exponent - product_exponent) + _shift(b.values, exponent - b.exponent)
        return AffineMap(np.asarray(N, dtype=object).reshape(W.values.shape[0], n), np.asarray(e, dtype=object), exponent)

    def maps(self, patterns: Sequence[Sequence[bool]]) -> list[AffineMap]:
        """The pre-activation maps of every ReLU layer along ``patterns`` (one per ReLU layer; the last
        pattern is not needed)."""
        current = self.first()
        result = [current]
        for layer, pattern in enumerate(patterns[:len(self.weights) - 2], start=1):
            current = self.compose(layer, current, pattern)
            result.append(current)
        return result


def exact_rows(rows: Sequence[tuple[list[int], int, int]], n: int) -> ExactRows:
    """:class:`ExactRows` from ``(numerators, offset, denominator)`` triples (:meth:`AffineMap.row`)."""
    return ExactRows([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], n=n)


__all__.append("exact_rows")
