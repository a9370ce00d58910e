"""Box domains for local Lipschitz constants.

A :class:`Box` must have a side that floating point can subdivide in every coordinate: finite bounds,
``lower < upper``, a finite ``upper - lower``, and

    ``upper - lower >= MIN_RELATIVE_SIDE * max(|lower|, |upper|, TINY)``

with :data:`MIN_RELATIVE_SIDE` ``= 2**-40`` and ``TINY = 2**-1022`` (the smallest normal double). A side of
``2**-40`` times the coordinate's magnitude spans 4096 to 8192 units in the last place (ulps) of that
magnitude, so the open box holds thousands of representable points per coordinate, and the interior points
the solvers compute (centres, nudged witnesses, ray steps) stay strictly inside after rounding. Near zero
the floor ``TINY`` asks for a side of at least ``2**-1062`` (4096 times the smallest subnormal). Thin but
representable boxes such as ``[0.1, 0.1 + 1e-9]`` (about ``7e7`` ulps) or ``[1e10, 1e10 + 1]`` (about ``5e5``
ulps) are accepted; a side of a few ulps (``[0, 5e-324]``, ``[1, 1 + 1e-15]``) is refused with an
:class:`~reductions.validation.InvalidInputError` on the field ``"domain"`` that names the coordinate.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Real
from typing import Any

import numpy as np

from reductions.validation import as_array, require

__all__ = ["Box", "as_box", "MIN_RELATIVE_SIDE"]

#: Smallest accepted side of a box, relative to the magnitude of its coordinate (see the module docstring).
MIN_RELATIVE_SIDE = 2.0 ** -40

_TINY = float(np.finfo(np.float64).tiny)


def _check_side(i: int, low: float, high: float) -> None:
    """Refuse coordinate ``i`` of a box unless its side is representable (see the module docstring)."""
    where = f"coordinate {i}: lower={low!r}, upper={high!r}"
    require(low < high, "domain", "lower < upper in every coordinate (a non-empty interior)", where)
    side = high - low
    require(np.isfinite(side), "domain", "a finite side upper - lower in every coordinate",
            f"{where}, upper - lower overflows to {side!r}")
    magnitude = max(abs(low), abs(high), _TINY)
    ulps = side / float(np.spacing(max(abs(low), abs(high))))
    require(side >= MIN_RELATIVE_SIDE * magnitude, "domain",
            "a side upper - lower >= 2**-40 * max(|lower|, |upper|) in every coordinate (thousands of "
            "representable points across it)",
            f"{where}, side {side!r} is only {ulps:.3g} units in the last place of the bound")


@dataclass(frozen=True, eq=False)
class Box:
    """The axis-aligned box ``{x : lower <= x <= upper}`` with a non-empty interior.

    Parameters
    ----------
    lower, upper : array_like
        Finite bounds of the same length with ``upper - lower >= 2**-40 * max(|lower|, |upper|)`` in every
        coordinate (a side floating point can subdivide; see the module docstring). Anything else raises
        :class:`~reductions.validation.InvalidInputError` on the field ``"domain"`` (``"domain.lower"`` or
        ``"domain.upper"`` for a bound that is not a finite vector).

    Examples
    --------
    >>> box = Box([-1, 0], [1, 2])
    >>> box.dimension, box.center.tolist(), box.contains_interior([0.0, 1.0])
    (2, [0.0, 1.0], True)
    >>> Box([0.1, 1e10], [0.1 + 1e-9, 1e10 + 1]).dimension
    2
    >>> Box([0.0, 1.0], [1.0, 1.0 + 1e-15])
    Traceback (most recent call last):
    ...
    reductions.validation.InvalidInputError: domain: ... coordinate 1: lower=1.0, upper=1.000000000000001, side ...
    is only 5 units in the last place of the bound
    """

    lower: np.ndarray
    upper: np.ndarray

    def __post_init__(self) -> None:
        lower = as_array(self.lower, "domain.lower", ndim=1, integer_ok=False)
        upper = as_array(self.upper, "domain.upper", ndim=1, shape=(lower.shape[0],), integer_ok=False)
        for i, (low, high) in enumerate(zip(lower.tolist(), upper.tolist())):
            _check_side(i, low, high)
        object.__setattr__(self, "lower", lower)
        object.__setattr__(self, "upper", upper)

    @property
    def dimension(self) -> int:
        return self.lower.shape[0]

    @property
    def center(self) -> np.ndarray:
        return (self.lower + self.upper) / 2

    def contains_interior(self, x: Any) -> bool:
        """True when ``x`` (a vector of length :attr:`dimension`) lies strictly inside the box.

        A point on a face (``x_i == lower_i`` or ``x_i == upper_i``), outside, with a NaN coordinate or of
        another shape is not inside.

        Examples
        --------
        >>> box = Box([0, 0], [1, 1])
        >>> box.contains_interior([0.5, 0.5]), box.contains_interior([0.5, 1.0]), box.contains_interior([0.5])
        (True, False, False)
        """
        x = np.asarray(x, dtype=np.float64)
        if x.shape != self.lower.shape:
            return False
        return bool(np.all(x > self.lower) and np.all(x < self.upper))

    def to_dict(self) -> dict:
        return {"type": "box", "version": 1, "lower": self.lower.tolist(), "upper": self.upper.tolist()}

    @classmethod
    def from_dict(cls, data: Any) -> "Box":
        require(isinstance(data, dict), "domain", "a JSON object", type(data).__name__)
        for key in ("lower", "upper"):
            require(key in data, f"domain.{key}", "a vector (field is missing)")
        return cls(data["lower"], data["upper"])


def as_box(domain: Any, dimension: int) -> Box | None:
    """Accept ``None``, a :class:`Box`, a ``(lower, upper)`` pair or a dict, checking the dimension. In a pair, a
    number stands for that bound in every coordinate: ``(0, 1)`` is the cube ``[0, 1]^dimension``.

    Examples
    --------
    >>> as_box((0, 0.5), 3).upper.tolist()
    [0.5, 0.5, 0.5]
    """
    if domain is None:
        return None
    if isinstance(domain, dict):
        box = Box.from_dict(domain)
    elif isinstance(domain, Box):
        box = domain
    else:
        require(isinstance(domain, (tuple, list)) and len(domain) == 2, "domain",
                "None, a Box or a (lower, upper) pair", type(domain).__name__)
        lower, upper = (np.full(dimension, bound) if np.ndim(bound) == 0 and isinstance(bound, Real)
                        and not isinstance(bound, bool) else bound for bound in domain)
        box = Box(lower, upper)
    require(box.dimension == dimension, "domain", f"a box of dimension {dimension} (the network's inputs)",
            f"dimension {box.dimension}")
    return box
