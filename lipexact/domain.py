"""Box domains for local Lipschitz constants."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from reductions.validation import as_array, require

__all__ = ["Box", "as_box"]


@dataclass(frozen=True, eq=False)
class Box:
    """The axis-aligned box ``{x : lower <= x <= upper}`` with a non-empty interior.

    Examples
    --------
    >>> box = Box([-1, 0], [1, 2])
    >>> box.dimension, box.center.tolist(), box.contains_interior([0.0, 1.0])
    (2, [0.0, 1.0], True)
    """

    lower: np.ndarray
    upper: np.ndarray

    def __post_init__(self) -> None:
        lower = as_array(self.lower, "domain.lower", ndim=1, integer_ok=False)
        upper = as_array(self.upper, "domain.upper", ndim=1, shape=(lower.shape[0],), integer_ok=False)
        require(bool(np.all(lower < upper)), "domain", "lower < upper in every coordinate (a non-empty interior)",
                f"lower={lower.tolist()}, upper={upper.tolist()}")
        object.__setattr__(self, "lower", lower)
        object.__setattr__(self, "upper", upper)

    @property
    def dimension(self) -> int:
        return self.lower.shape[0]

    @property
    def center(self) -> np.ndarray:
        return (self.lower + self.upper) / 2

    def contains_interior(self, x: Any) -> bool:
        """True when ``x`` lies strictly inside the box."""
        x = np.asarray(x, dtype=np.float64)
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
    """Accept ``None``, a :class:`Box`, a ``(lower, upper)`` pair or a dict, checking the dimension."""
    if domain is None:
        return None
    if isinstance(domain, dict):
        box = Box.from_dict(domain)
    elif isinstance(domain, Box):
        box = domain
    else:
        require(isinstance(domain, (tuple, list)) and len(domain) == 2, "domain",
                "None, a Box or a (lower, upper) pair", type(domain).__name__)
        box = Box(domain[0], domain[1])
    require(box.dimension == dimension, "domain", f"a box of dimension {dimension} (the network's inputs)",
            f"dimension {box.dimension}")
    return box
