"""What every reduction shares: solutions, inverse data and the :class:`Reduction` interface.

A reduction maps a source problem to a target problem (``apply``) and keeps the data needed to map
certificates both ways: ``invert`` turns a target solution into a source solution, ``forward`` a
source solution into a target solution. Mapped solutions are always re-evaluated on the problem they
belong to, so their values are exact (integers for integer data), never carried over by arithmetic.
Every reduction also has an exact affine value map ``source = (target - offset) / scale``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from reductions.instances import (
    PROBLEM_TYPES,
    LipCst,
    Number,
    decode_number,
    encode_number,
    exact_number,
    source_value,
    target_value,
)
from reductions.validation import InvalidInputError, as_array, read_only_or_none, require

__all__ = ["Solution", "InverseData", "Reduction", "compose_value_maps", "problem_from_dict"]

SCHEMA_VERSION = 1


def problem_from_dict(data: Any, field_name: str = "problem") -> Any:
    """Build any problem of :mod:`reductions.instances` from its JSON dict.

    Examples
    --------
    >>> problem_from_dict({"type": "qubo", "Q": [[1]]})
    QUBO(n=1)
    """
    require(isinstance(data, dict), field_name, "a JSON object", type(data).__name__)
    kind = data.get("type")
    require(kind in PROBLEM_TYPES, f"{field_name}.type", f"one of {sorted(PROBLEM_TYPES)}", repr(kind))
    return PROBLEM_TYPES[kind].from_dict(data)


@dataclass(frozen=True, eq=False)
class Solution:
    """A feasible point of a problem with its exact value.

    Attributes
    ----------
    value : int, Fraction or float
        The objective at ``certificate`` (for :class:`LipCst`: the squared gradient norm).
    certificate : ndarray
        The point: a side assignment (Max-Cut), ``x`` (QUBO), ``s`` (convex quadratics) or the
        hidden pattern (LIP-CST).
    witness : ndarray, optional
        LIP-CST only: an input ``x`` in the open region of ``pattern`` (None when none was found).
    pattern : ndarray, optional
        LIP-CST only: the hidden activation pattern (bool), equal to ``certificate``.

    Examples
    --------
    >>> from reductions.instances import MaxCut
    >>> Solution.of(MaxCut.from_edges(2, [(0, 1, 3)]), [True, False]).value
    3
    """

    value: Number
    certificate: np.ndarray
    witness: np.ndarray | None = None
    pattern: np.ndarray | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", exact_number(self.value))
        object.__setattr__(self, "certificate", read_only_or_none(self.certificate))
        object.__setattr__(self, "witness", read_only_or_none(self.witness))
        object.__setattr__(self, "pattern", read_only_or_none(self.pattern))

    @classmethod
    def of(cls, problem: Any, certificate: Any) -> "Solution":
        """The solution at ``certificate``, evaluated on ``problem`` (a LIP-CST pattern gets a witness
        when its region is non-empty)."""
        certificate = problem.certificate(certificate)
        if isinstance(problem, LipCst):
            return cls(problem.evaluate(certificate), certificate, problem.realize(certificate), certificate)
        return cls(problem.evaluate(certificate), certificate)

    @classmethod
    def at_witness(cls, problem: LipCst, x: Any) -> "Solution":
        """The LIP-CST solution at input ``x``: its pattern and squared gradient norm (closed form).

        Examples
        --------
        >>> Solution.at_witness(LipCst([[1, 0], [0, -1]], [[1, 1]]), [2, -1]).value
        2
        """
        pattern = problem.pattern_at(x)
        return cls(problem.value(pattern), pattern, np.asarray(x), pattern)

    def to_dict(self) -> dict:
        def listed(a):
            return None if a is None else a.tolist()

        return {"type": "reduction_solution", "version": SCHEMA_VERSION, "value": encode_number(self.value),
                "certificate": listed(self.certificate), "witness": listed(self.witness),
                "pattern": listed(self.pattern)}

    @classmethod
    def from_dict(cls, data: Any) -> "Solution":
        require(isinstance(data, dict), "solution", "a JSON object", type(data).__name__)
        require(data.get("type") == "reduction_solution", "type", '"reduction_solution"', repr(data.get("type")))
        require("certificate" in data, "certificate", "an array (field is missing)")
        witness = data.get("witness")
        pattern = data.get("pattern")
        return cls(decode_number(data.get("value"), "value"),
                   as_array(data["certificate"], "certificate", ndim=1),
                   None if witness is None else as_array(witness, "witness", ndim=1),
                   None if pattern is None else np.asarray(as_array(pattern, "pattern", ndim=1), dtype=bool))


@dataclass(frozen=True, eq=False)
class InverseData:
    """What one reduction step keeps to map solutions back and forth.

    Attributes
    ----------
    reduction : str
        Registry name of the reduction.
    source : problem
        The source instance (solutions mapped back are re-evaluated on it).
    offset, scale : int, Fraction or float
        Exact value map ``source value = (target value - offset) / scale``.
    arrays : mapping of str to ndarray
        Reduction-specific data, e.g. the factor ``F`` of ``H = F F^T``.

    Examples
    --------
    >>> from reductions.instances import QUBO
    >>> inverse = InverseData("qubo_to_maxcut", QUBO([[1]]), offset=0, scale=-1)
    >>> InverseData.from_dict(inverse.to_dict()).scale
    -1
    """

    reduction: str
    source: Any
    offset: Number = 0
    scale: Number = 1
    arrays: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "offset", decode_number(self.offset, "offset"))
        scale = decode_number(self.scale, "scale")
        require(scale != 0, "scale", "a non-zero number", repr(scale))
        object.__setattr__(self, "scale", scale)
        object.__setattr__(self, "arrays", {k: read_only_or_none(v) for k, v in dict(self.arrays).items()})

    def to_dict(self) -> dict:
        return {"type": "reduction_inverse", "version": SCHEMA_VERSION, "reduction": self.reduction,
                "source": self.source.to_dict(), "offset": encode_number(self.offset),
                "scale": encode_number(self.scale), "arrays": {k: v.tolist() for k, v in self.arrays.items()}}

    @classmethod
    def from_dict(cls, data: Any) -> "InverseData":
        require(isinstance(data, dict), "inverse", "a JSON object", type(data).__name__)
        require(data.get("type") == "reduction_inverse", "type", '"reduction_inverse"', repr(data.get("type")))
        require(data.get("version", SCHEMA_VERSION) == SCHEMA_VERSION, "version", str(SCHEMA_VERSION),
                repr(data.get("version")))
        require(isinstance(data.get("reduction"), str), "reduction", "the name of a reduction",
                repr(data.get("reduction")))
        require("source" in data, "source", "the source instance (field is missing)")
        arrays = data.get("arrays") or {}
        require(isinstance(arrays, dict), "arrays", "a JSON object of arrays", type(arrays).__name__)
        decoded = {key: as_array(value, f"arrays.{key}", ndim=np.ndim(value)) for key, value in arrays.items()}
        return cls(data["reduction"], problem_from_dict(data["source"], "source"),
                   data.get("offset", 0), data.get("scale", 1), decoded)


def compose_value_maps(first: tuple[Number, Number], second: tuple[Number, Number]) -> tuple[Number, Number]:
    """Compose ``s = (t1 - o1) / k1`` with ``t1 = (t2 - o2) / k2`` into ``s = (t2 - o) / k``.

    Examples
    --------
    >>> compose_value_maps((0, -1), (8, 4))
    (8, -4)
    """
    (o1, k1), (o2, k2) = first, second
    return target_value(o1, o2, k2), target_value(k1, 0, k2)


class Reduction:
    """A polynomial-time reduction from one problem type to another, with certificate maps both ways.

    Subclasses set ``name``, ``source_type`` and ``target_type`` and implement :meth:`_apply`,
    :meth:`_invert_certificate`, :meth:`_forward` (and :meth:`_accepts` where not every instance of
    ``source_type`` is accepted).

    Examples
    --------
    >>> from reductions.qubo import QUBOToMaxCut
    >>> from reductions.instances import QUBO
    >>> reduction = QUBOToMaxCut()
    >>> graph, inverse = reduction.apply(QUBO([[-1]]))
    >>> cut = reduction.forward(Solution.of(QUBO([[-1]]), [1]), inverse)
    >>> cut.value, reduction.invert(cut, inverse).value, reduction.value_map(inverse)
    (1, -1, (0, -1))
    """

    name = "reduction"
    source_type: type = object
    target_type: type = object

    # ------------------------------------------------------------ public interface
    def accepts(self, problem: Any) -> bool:
        """True when :meth:`apply` can reduce ``problem``."""
        return isinstance(problem, self.source_type) and self._accepts(problem)

    def apply(self, problem: Any) -> tuple[Any, InverseData]:
        """Reduce ``problem``; return ``(target, inverse_data)``."""
        if not self.accepts(problem):
            raise InvalidInputError("problem", f"an instance {self.name} accepts ({self.requirement})",
                                    repr(problem))
        return self._apply(problem)

    def invert(self, solution: Solution, inverse: InverseData) -> Solution:
        """Map a target solution to a source solution, re-evaluated on the source instance."""
        self._check(inverse)
        certificate = self._invert_certificate(solution, inverse)
        return Solution.of(inverse.source, certificate)

    def forward(self, solution: Solution, inverse: InverseData) -> Solution:
        """Map a source solution to a target solution, evaluated on the target instance."""
        self._check(inverse)
        inverse.source.certificate(solution.certificate)
        return self._forward(solution, inverse)

    def value_map(self, inverse: InverseData) -> tuple[Number, Number]:
        """``(offset, scale)`` with ``source value = (target value - offset) / scale``."""
        return inverse.offset, inverse.scale

    def source_value(self, value: Number, inverse: InverseData) -> Number:
        return source_value(value, inverse.offset, inverse.scale)

    def map_threshold(self, threshold: Number, inverse: InverseData) -> Number:
        """The target threshold equivalent to a source threshold (``value * scale + offset``)."""
        return target_value(threshold, inverse.offset, inverse.scale)

    # ------------------------------------------------------------ for subclasses
    requirement = "any instance of the source type"

    def _accepts(self, problem: Any) -> bool:
        return True

    def _apply(self, problem: Any) -> tuple[Any, InverseData]:
        raise NotImplementedError

    def _invert_certificate(self, solution: Solution, inverse: InverseData) -> np.ndarray:
        raise NotImplementedError

    def _forward(self, solution: Solution, inverse: InverseData) -> Solution:
        raise NotImplementedError

    def _check(self, inverse: Any) -> None:
        require(isinstance(inverse, InverseData) and inverse.reduction == self.name, "inverse",
                f"inverse data of {self.name}", getattr(inverse, "reduction", type(inverse).__name__))
        require(isinstance(inverse.source, self.source_type), "inverse.source",
                f"a {getattr(self.source_type, 'kind', self.source_type.__name__)} instance",
                type(inverse.source).__name__)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
