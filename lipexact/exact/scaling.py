"""Scale-free solving: normalize the network by powers of two, solve, scale the result back exactly.

The Lipschitz constant is homogeneous in the weights. Scaling unit ``i``'s row of ``(W1, b1)`` by ``a_i > 0``
and column ``i`` of ``W2`` by ``1 / a_i`` leaves ``f`` (and every region) unchanged, and scaling ``W2`` by
``2^-q`` divides the constant by ``2^q``. With powers of two both are exact in floating point (checked
entry by entry: a unit whose scaling would lose a bit keeps its weights), so every method works on weights
of order one and the result is scaled back by ``2^q`` exactly. A constant that does not fit in float64
once scaled back is an ``error`` with an outward-rounded bracket, never ``optimal``.

The witness is the same point for both networks; it is re-verified on the original network.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from lipexact.exact.certificate import CertificateError, verify_witness
from lipexact.exact.problem import RELATIVE_TOLERANCE, Problem
from lipexact.network import TwoLayerReLU
from lipexact.result import LipschitzResult, Status

__all__ = ["Scaling", "normalize", "scale_back"]


@dataclass(frozen=True)
class Scaling:
    """A normalized network and the exponent ``q`` with ``L(original) = 2^q L(normalized)``."""

    net: TwoLayerReLU
    exponent: int


def _exact_scale(values: np.ndarray, exponent: Any) -> np.ndarray | None:
    """``values * 2^exponent`` when that loses nothing (round trip exact, finite), else None."""
    with np.errstate(over="ignore"):
        scaled = np.ldexp(values, exponent)
    if not np.all(np.isfinite(scaled)) or not np.array_equal(np.ldexp(scaled, -exponent), values):
        return None
    return scaled


def normalize(net: TwoLayerReLU) -> Scaling:
    """Rows of ``W1`` to a largest entry in ``[1/2, 1)`` (``b1`` along), then ``W2`` likewise (powers of two,
    exact).

    Each unit ``i`` gets ``[w_i b_i] * 2^-e_i`` and ``column * 2^(e_i - q)``, where ``2^e_i`` bounds ``w_i`` and
    ``2^q`` the largest column once the rows are scaled (exponents are added as integers, so nothing
    overflows on the way). If any entry would lose a bit, the network is solved as it is. Integer networks
    are returned as they are (their arithmetic is exact already).

    Examples
    --------
    >>> net = TwoLayerReLU([[3e-7, 0.0], [0.0, 1e8]], [[2e20, 1.0]], b1=[1e-7, 0.0])
    >>> scaled = normalize(net)
    >>> scaled.net.W1.max(axis=1).tolist(), scaled.exponent
    ([0.6291456, 0.7450580596923828], 47)
    """
    if net.W1.dtype.kind in "iu" and net.W2.dtype.kind in "iu":
        return Scaling(net, 0)
    rows = np.hstack([np.asarray(net.W1, dtype=np.float64), np.asarray(net.hidden_bias, dtype=np.float64)[:, None]])
    W2 = np.asarray(net.W2, dtype=np.float64)
    # a row's size is that of its weights (they make the Jacobian); the bias only for a dead unit
    weights = np.abs(rows[:, :-1]).max(axis=1) if rows.shape[1] > 1 else np.zeros(rows.shape[0])
    row_size, column_size = np.where(weights > 0, weights, np.abs(rows[:, -1])), np.abs(W2).max(axis=0)
    used = (row_size > 0) & (column_size > 0)
    if not np.any(used):
        return Scaling(net, 0)
    row_exponent = np.where(used, np.frexp(row_size)[1], 0)
    column_exponent = np.where(used, np.frexp(column_size)[1], 0)
    q = int(np.max((row_exponent + column_exponent)[used]))
    scaled_rows = _exact_scale(rows, -row_exponent[:, None])
    scaled_W2 = _exact_scale(W2, (row_exponent - np.where(used, q, 0))[None, :])
    if scaled_rows is None or scaled_W2 is None:
        return Scaling(net, 0)
    b2 = None if net.b2 is None else np.ldexp(np.asarray(net.b2, dtype=np.float64), -q)
    b1 = scaled_rows[:, -1] if net.b1 is not None else None
    normalized = TwoLayerReLU(scaled_rows[:, :-1], scaled_W2, b1,
                              b2 if b2 is not None and np.all(np.isfinite(b2)) else None)
    return Scaling(normalized, q)


def _outward(value: float | None, exponent: int, direction: float) -> tuple[float | None, bool]:
    """``value * 2^exponent`` rounded towards ``direction`` (+inf for an upper, -inf for a lower bound), and
    whether it was exact."""
    if value is None or not math.isfinite(value):
        return value, True
    try:
        scaled = math.ldexp(value, exponent)
    except OverflowError:
        scaled = math.copysign(math.inf, value)
    if math.isfinite(scaled) and math.ldexp(scaled, -exponent) == value:
        return scaled, True
    if not math.isfinite(scaled):
        return (math.inf if direction > 0 else math.nextafter(math.inf, 0.0)), False
    return math.nextafter(scaled, direction), False


def scale_back(result: LipschitzResult, scaling: Scaling, problem: Problem) -> LipschitzResult:
    """The result for the original network of ``problem`` (see the module docstring).

    Examples
    --------
    >>> from lipexact.exact.problem import Clock, validate_problem
    >>> from lipexact.exact.brute import solve_brute
    >>> problem = validate_problem(TwoLayerReLU([[3e-7, 0.0], [0.0, 1e8]], [[2e20, 1.0]], b1=[1e-7, 0.0]))
    >>> scaling = normalize(problem.net)
    >>> normalized = solve_brute(validate_problem(scaling.net), Clock())
    >>> result = scale_back(normalized, scaling, problem)
    >>> result.status.value, result.value, result.upper == result.value
    ('optimal', 60000000000083.336, True)
    """
    q = scaling.exponent
    lower, lower_exact = _outward(result.lower, q, -math.inf)
    upper, upper_exact = _outward(result.upper, q, math.inf)
    certificate = dict(result.certificate)
    certificate["normalization_exponent"] = q
    status, message = result.status, result.message
    if not (lower_exact and upper_exact):
        return result.replace(status=Status.ERROR, value=None, lower=lower, upper=upper, certificate=certificate,
                              message=f"the constant does not fit in float64 (2^{q} times about {result.value!r}); "
                                      "the bracket is rounded outward")
    if result.witness is not None and lower is not None:
        try:
            checked = verify_witness(problem.net, result.witness, problem.norm, problem.domain)
        except CertificateError as error:
            return result.replace(status=Status.ERROR, value=None, lower=None, upper=upper, certificate=certificate,
                                  message=f"the witness failed re-evaluation on the original network: {error}")
        certificate["verified_value"] = checked.value
        if abs(checked.value - lower) > RELATIVE_TOLERANCE * max(abs(lower), abs(checked.value)):
            status = Status.ERROR
            message = (f"the witness re-evaluates to {checked.value!r} on the original network but to {lower!r} "
                       "on the normalized one")
        else:
            lower = checked.value  # re-evaluated on the original weights
        if upper is not None and upper < lower <= upper * (1 + RELATIVE_TOLERANCE):
            upper = lower  # the same value, rounded differently on the two scales
    if upper is not None and math.isinf(upper) and status is not Status.ERROR:
        status, message = Status.ERROR, "the upper bound is not finite (overflow)"
    if lower is not None and upper is not None and lower > upper:
        status, message, lower = Status.ERROR, message + "; the lower side exceeds the upper bound", None
    return result.replace(status=status, value=lower, lower=lower, upper=upper, message=message,
                          certificate=certificate)
