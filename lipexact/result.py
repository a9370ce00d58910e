"""The result object shared by every solver and bound in the project."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any, Mapping

import numpy as np

from reductions.validation import read_only_or_none, require

__all__ = ["Status", "LipschitzResult"]

SCHEMA_VERSION = 1


class Status(str, Enum):
    """How a computation ended. The set is closed.

    ``OPTIMAL``
        The value is exact: a re-checked witness attains it and the search (or solver) proved nothing
        larger exists.
    ``UPPER_BOUND`` / ``LOWER_BOUND``
        A bounding method finished; ``value`` is a proven bound on the constant.
    ``HEURISTIC``
        A method without a guarantee finished (e.g. greedy SeqLip); ``value`` is an estimate only.
    ``TIME_LIMIT`` / ``NODE_LIMIT`` / ``INTERRUPTED``
        An exact search stopped early; ``lower`` and ``upper`` are the proven bounds found so far.
    ``NOT_APPLICABLE``
        The method does not apply to this model (e.g. SeqLip on a residual network); ``message`` says why,
        and nothing was computed (``value``, ``lower`` and ``upper`` are None).
    ``ERROR``
        The computation failed; ``message`` says why.

    :attr:`LipschitzResult.success` is derived from the status: True exactly for the four statuses of a
    finished method (``OPTIMAL``, ``UPPER_BOUND``, ``LOWER_BOUND``, ``HEURISTIC``).
    """

    OPTIMAL = "optimal"
    UPPER_BOUND = "upper_bound"
    LOWER_BOUND = "lower_bound"
    HEURISTIC = "heuristic"
    TIME_LIMIT = "time_limit"
    NODE_LIMIT = "node_limit"
    INTERRUPTED = "interrupted"
    NOT_APPLICABLE = "not_applicable"
    ERROR = "error"


_FINISHED = {Status.OPTIMAL, Status.UPPER_BOUND, Status.LOWER_BOUND, Status.HEURISTIC}


@dataclass(frozen=True, eq=False)
class LipschitzResult:
    """Outcome of a Lipschitz computation: value, proven bracket, status and certificate.

    Attributes
    ----------
    status : Status
    value : float or None
        The exact value (``OPTIMAL``), the bound (bounding methods), the estimate (``HEURISTIC``) or the
        best certified lower value found (stopped searches). None when nothing was found.
    lower, upper : float or None
        Proven bounds on the constant; None when unavailable. ``lower <= upper`` always.
    method : str
        Registry name of the method that produced the result.
    norm : str
        The norm pair, e.g. ``"2"``, ``"inf->1"``.
    message : str
        A human-readable sentence about how the computation ended.
    witness : ndarray or None
        An input ``x`` at which the local gradient norm equals ``lower`` (the lower certificate).
    pattern : ndarray or None
        The activation pattern(s) of the witness (boolean).
    certificate : mapping
        Further certificate data (e.g. ``{"verified_value": ...}``), JSON-serializable.
    timings : mapping
        Seconds per phase; always contains ``"total"``.
    stats : mapping
        Solver statistics (``nodes``, ``lps``, ``iterations``, ...).
    """

    status: Status
    value: float | None
    method: str
    lower: float | None = None
    upper: float | None = None
    norm: str = "2"
    message: str = ""
    witness: np.ndarray | None = None
    pattern: np.ndarray | None = None
    certificate: Mapping[str, Any] = field(default_factory=dict)
    timings: Mapping[str, float] = field(default_factory=dict)
    stats: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", Status(self.status))
        for name in ("value", "lower", "upper"):
            number = getattr(self, name)
            if number is not None:
                number = float(number)
                require(not math.isnan(number), name, "a number or None", "NaN")
                object.__setattr__(self, name, number)
        if self.lower is not None and self.upper is not None:
            slack = 1e-9 * max(1.0, abs(self.upper))
            require(self.lower <= self.upper + slack, "lower", f"<= upper ({self.upper!r})", repr(self.lower))
        object.__setattr__(self, "witness", read_only_or_none(self.witness))
        object.__setattr__(self, "pattern", read_only_or_none(self.pattern))
        object.__setattr__(self, "certificate", dict(self.certificate))
        object.__setattr__(self, "timings", dict(self.timings))
        object.__setattr__(self, "stats", dict(self.stats))

    @property
    def success(self) -> bool:
        """True when the method finished what it was asked to do (not stopped early, no error)."""
        return self.status in _FINISHED

    @property
    def gap(self) -> float | None:
        """Relative gap ``(upper - lower) / max(|upper|, tiny)``; None when a side is unknown."""
        if self.lower is None or self.upper is None:
            return None
        if self.upper == self.lower:
            return 0.0
        if math.isinf(self.upper) or math.isinf(self.lower):
            return math.inf
        return (self.upper - self.lower) / max(abs(self.upper), 1e-300)

    def replace(self, **changes: Any) -> "LipschitzResult":
        return replace(self, **changes)

    def to_dict(self) -> dict:
        def plain(value: Any) -> Any:
            if isinstance(value, np.ndarray):
                return value.tolist()
            if isinstance(value, (np.floating, np.integer, np.bool_)):
                return value.item()
            if isinstance(value, Mapping):
                return {str(k): plain(v) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return [plain(v) for v in value]
            if isinstance(value, float) and not math.isfinite(value):
                return str(value)
            return value

        return {
            "type": "lipschitz_result",
            "version": SCHEMA_VERSION,
            "status": self.status.value,
            "success": self.success,
            "value": plain(self.value),
            "lower": plain(self.lower),
            "upper": plain(self.upper),
            "method": self.method,
            "norm": self.norm,
            "message": self.message,
            "witness": plain(self.witness),
            "pattern": plain(self.pattern),
            "certificate": plain(self.certificate),
            "timings": plain(self.timings),
            "stats": plain(self.stats),
        }

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_dict(cls, data: Any) -> "LipschitzResult":
        require(isinstance(data, dict), "result", "a JSON object", type(data).__name__)
        require(data.get("type") == "lipschitz_result", "type", '"lipschitz_result"', repr(data.get("type")))
        require(data.get("version") == SCHEMA_VERSION, "version", str(SCHEMA_VERSION), repr(data.get("version")))
        statuses = [s.value for s in Status]
        require(data.get("status") in statuses, "status", f"one of {statuses}", repr(data.get("status")))

        def number(key: str) -> float | None:
            value = data.get(key)
            if isinstance(value, str):  # "inf" / "-inf" round trip
                return float(value)
            return value

        pattern = data.get("pattern")
        return cls(
            status=Status(data["status"]),
            value=number("value"),
            lower=number("lower"),
            upper=number("upper"),
            method=str(data.get("method", "")),
            norm=str(data.get("norm", "2")),
            message=str(data.get("message", "")),
            witness=None if data.get("witness") is None else np.asarray(data["witness"], dtype=np.float64),
            pattern=None if pattern is None else np.asarray(pattern, dtype=bool),
            certificate=data.get("certificate") or {},
            timings=data.get("timings") or {},
            stats=data.get("stats") or {},
        )

    def __str__(self) -> str:
        def fmt(x: float | None) -> str:
            return "None" if x is None else f"{x:.10g}"

        text = f"{self.method}: {self.status.value} value={fmt(self.value)} in [{fmt(self.lower)}, {fmt(self.upper)}]"
        if self.timings.get("total") is not None:
            text += f" ({self.timings['total']:.3g} s)"
        return text + (f" - {self.message}" if self.message else "")
