"""Chains of reductions, and the whole way from any supported problem to LIP-CST.

:class:`Chain` composes reductions into one: it applies them in order, inverts solutions in reverse
order and composes the exact value maps. :func:`to_lipcst` picks the chain for a source problem;
:func:`reduce_to_lipcst` applies it and returns a :class:`ReducedInstance`, the JSON document that
holds the source, the LIP-CST instance and the inverse data needed to map solutions back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from reductions.base import (
    InverseData,
    Reduction,
    Solution,
    compose_value_maps,
    problem_from_dict,
)
from reductions.instances import (
    QUBO,
    ConvexQuadratic01,
    ConvexQuadraticPM1,
    LipCst,
    MaxCut,
    Number,
    encode_number,
    exact_number,
    source_value,
    target_value,
)
from reductions.lipcst import Quadratic01ToLipCst, QuadraticPM1ToLipCst
from reductions.maxcut import MaxCutTo01, MaxCutToPM1
from reductions.qubo import QUBOToMaxCut
from reductions.validation import require

__all__ = ["Chain", "ChainInverse", "ReducedInstance", "REDUCTIONS", "to_lipcst", "reduce_to_lipcst", "VIAS"]

SCHEMA_VERSION = 1

#: Every reduction by name.
REDUCTIONS: dict[str, Reduction] = {
    reduction.name: reduction
    for reduction in (QUBOToMaxCut(), MaxCutToPM1(), MaxCutTo01(), Quadratic01ToLipCst(), QuadraticPM1ToLipCst())
}

#: Accepted values of ``via`` in :func:`to_lipcst`.
VIAS = ("pm1", "01", None)


@dataclass(frozen=True, eq=False)
class ChainInverse:
    """The inverse data of every step of a :class:`Chain`, in application order.

    Examples
    --------
    >>> _, inverse = to_lipcst(QUBO([[-1]])).apply(QUBO([[-1]]))
    >>> [step.reduction for step in ChainInverse.from_dict(inverse.to_dict()).steps]
    ['qubo_to_maxcut', 'maxcut_to_01', '01_to_lipcst']
    """

    steps: tuple[InverseData, ...]

    def to_dict(self) -> dict:
        return {"type": "chain_inverse", "version": SCHEMA_VERSION, "steps": [s.to_dict() for s in self.steps]}

    @classmethod
    def from_dict(cls, data: Any) -> "ChainInverse":
        require(isinstance(data, dict), "inverse", "a JSON object", type(data).__name__)
        require(data.get("type") == "chain_inverse", "inverse.type", '"chain_inverse"', repr(data.get("type")))
        steps = data.get("steps")
        require(isinstance(steps, list), "inverse.steps", "a list of reduction_inverse objects", type(steps).__name__)
        return cls(tuple(InverseData.from_dict(step) for step in steps))


class Chain(Reduction):
    """Reductions applied one after another; itself a :class:`Reduction`.

    Examples
    --------
    >>> chain = Chain([QUBOToMaxCut(), MaxCutToPM1(), QuadraticPM1ToLipCst()])
    >>> qubo = QUBO([[-3, 2], [2, -1]])
    >>> lipcst, inverse = chain.apply(qubo)
    >>> value, pattern = lipcst.brute_force()
    >>> best = chain.invert(Solution.of(lipcst, pattern), inverse)
    >>> value, best.certificate.tolist(), best.value, chain.source_value(value, inverse)
    (18, [1, 0], -3, -3)
    """

    def __init__(self, reductions: Sequence[Reduction]):
        self.reductions = tuple(reductions)
        for reduction in self.reductions:
            require(isinstance(reduction, Reduction), "reductions", "Reduction objects", repr(reduction))
        self.name = "+".join(r.name for r in self.reductions) or "identity"
        self.source_type = self.reductions[0].source_type if self.reductions else object
        self.target_type = self.reductions[-1].target_type if self.reductions else object

    @property
    def names(self) -> list[str]:
        return [r.name for r in self.reductions]

    def accepts(self, problem: Any) -> bool:
        current = problem
        for reduction in self.reductions:
            if not reduction.accepts(current):
                return False
            current, _ = reduction.apply(current)
        return True

    def apply(self, problem: Any) -> tuple[Any, ChainInverse]:
        current, steps = problem, []
        for reduction in self.reductions:
            current, inverse = reduction.apply(current)
            steps.append(inverse)
        return current, ChainInverse(tuple(steps))

    def _check(self, inverse: Any) -> None:
        ok = isinstance(inverse, ChainInverse) and [s.reduction for s in inverse.steps] == self.names
        require(ok, "inverse", f"inverse data of the chain {self.name}",
                repr([s.reduction for s in inverse.steps]) if isinstance(inverse, ChainInverse) else None)

    def invert(self, solution: Solution, inverse: ChainInverse) -> Solution:
        self._check(inverse)
        for reduction, step in zip(reversed(self.reductions), reversed(inverse.steps)):
            solution = reduction.invert(solution, step)
        return solution

    def forward(self, solution: Solution, inverse: ChainInverse) -> Solution:
        self._check(inverse)
        for reduction, step in zip(self.reductions, inverse.steps):
            solution = reduction.forward(solution, step)
        return solution

    def value_map(self, inverse: ChainInverse) -> tuple[Number, Number]:
        self._check(inverse)
        composed: tuple[Number, Number] = (0, 1)
        for reduction, step in zip(self.reductions, inverse.steps):
            composed = compose_value_maps(composed, reduction.value_map(step))
        return composed

    def source_value(self, value: Number, inverse: ChainInverse) -> Number:
        return source_value(value, *self.value_map(inverse))

    def map_threshold(self, threshold: Number, inverse: ChainInverse) -> Number:
        return target_value(threshold, *self.value_map(inverse))

    def __repr__(self) -> str:
        return f"Chain({self.names})"


def to_lipcst(instance: Any, via: str | None = None) -> Chain:
    """The chain of reductions from ``instance`` to :class:`LipCst`.

    Parameters
    ----------
    instance : MaxCut, QUBO, ConvexQuadratic01, ConvexQuadraticPM1 or LipCst
        A LipCst gives the empty (identity) chain.
    via : {"pm1", "01", None}
        For Max-Cut and QUBO: through :class:`ConvexQuadraticPM1` (any weights; 2n hidden units) or
        :class:`ConvexQuadratic01` (non-negative weights only; n hidden units). None picks ``"01"``
        when it applies (the smaller network) and ``"pm1"`` otherwise.

    Examples
    --------
    >>> to_lipcst(MaxCut.from_edges(2, [(0, 1)])).names
    ['maxcut_to_01', '01_to_lipcst']
    >>> to_lipcst(MaxCut.from_edges(2, [(0, 1, -1)])).names
    ['maxcut_to_pm1', 'pm1_to_lipcst']
    >>> to_lipcst(QUBO([[1]]), via="pm1").names
    ['qubo_to_maxcut', 'maxcut_to_pm1', 'pm1_to_lipcst']
    """
    require(via in VIAS, "via", 'one of "pm1", "01" or None', repr(via))
    if isinstance(instance, LipCst):
        return Chain([])
    if isinstance(instance, ConvexQuadratic01):
        require(via in ("01", None), "via", '"01" or None for a convex_quadratic_01 instance', repr(via))
        return Chain([Quadratic01ToLipCst()])
    if isinstance(instance, ConvexQuadraticPM1):
        require(via in ("pm1", None), "via", '"pm1" or None for a convex_quadratic_pm1 instance', repr(via))
        return Chain([QuadraticPM1ToLipCst()])
    prefix: list[Reduction] = []
    graph = instance
    if isinstance(instance, QUBO):
        prefix.append(QUBOToMaxCut())
        graph, _ = QUBOToMaxCut().apply(instance)
    require(isinstance(graph, MaxCut), "instance",
            "a MaxCut, QUBO, ConvexQuadratic01, ConvexQuadraticPM1 or LipCst", type(instance).__name__)
    if via is None:
        via = "01" if MaxCutTo01().accepts(graph) else "pm1"
    if via == "01":
        require(MaxCutTo01().accepts(graph), "via", f'"pm1" for this instance ("01" needs {MaxCutTo01.requirement})',
                '"01"')
        return Chain(prefix + [MaxCutTo01(), Quadratic01ToLipCst()])
    return Chain(prefix + [MaxCutToPM1(), QuadraticPM1ToLipCst()])


@dataclass(frozen=True, eq=False)
class ReducedInstance:
    """A source problem, its LIP-CST instance and everything needed to map solutions back.

    ``value_map`` is the composed exact map ``source value = (L(f)^2 - offset) / scale``; a negative
    scale means the source is minimized (QUBO).

    Examples
    --------
    >>> reduced = reduce_to_lipcst(MaxCut.from_edges(3, [(0, 1), (1, 2), (0, 2)]))
    >>> reduced.chain.names, reduced.value_map
    (['maxcut_to_01', '01_to_lipcst'], (0, 1))
    >>> value, pattern = reduced.lipcst.brute_force()
    >>> best = reduced.map_back(Solution.of(reduced.lipcst, pattern))
    >>> value, best.value, best.certificate.tolist()
    (2, 2, [True, False, False])
    """

    source: Any
    chain: Chain
    lipcst: LipCst
    inverse: ChainInverse

    @property
    def value_map(self) -> tuple[Number, Number]:
        return self.chain.value_map(self.inverse)

    def map_back(self, solution: Solution) -> Solution:
        """A LIP-CST solution (pattern and/or witness) as a source solution, re-evaluated exactly."""
        return self.chain.invert(solution, self.inverse)

    def map_forward(self, solution: Solution) -> Solution:
        return self.chain.forward(solution, self.inverse)

    def to_dict(self) -> dict:
        offset, scale = self.value_map
        return {"type": "lipcst_reduction", "version": SCHEMA_VERSION, "chain": self.chain.names,
                "source": self.source.to_dict(), "lipcst": self.lipcst.to_dict(),
                "value_map": {"offset": encode_number(offset), "scale": encode_number(scale),
                              "meaning": "source value = (L(f)^2 - offset) / scale"},
                "inverse": self.inverse.to_dict()}

    @classmethod
    def from_dict(cls, data: Any) -> "ReducedInstance":
        require(isinstance(data, dict), "lipcst_reduction", "a JSON object", type(data).__name__)
        require(data.get("type") == "lipcst_reduction", "type", '"lipcst_reduction"', repr(data.get("type")))
        require(data.get("version", SCHEMA_VERSION) == SCHEMA_VERSION, "version", str(SCHEMA_VERSION),
                repr(data.get("version")))
        names = data.get("chain")
        require(isinstance(names, list) and all(name in REDUCTIONS for name in names), "chain",
                f"a list of reduction names from {sorted(REDUCTIONS)}", repr(names))
        for key in ("source", "lipcst", "inverse"):
            require(key in data, key, "an object (field is missing)")
        chain = Chain([REDUCTIONS[name] for name in names])
        inverse = ChainInverse.from_dict(data["inverse"])
        chain._check(inverse)
        for reduction, step in zip(chain.reductions, inverse.steps):
            reduction._check(step)
        lipcst = LipCst.from_dict(data["lipcst"])
        source = problem_from_dict(data["source"], "source")
        if chain.reductions:
            first, last = inverse.steps[0].source, chain.reductions[-1]._target(inverse.steps[-1])
            require(first.to_dict() == source.to_dict(), "source", "the source of the first inverse step")
            same = np.array_equal(last.M1, lipcst.M1) and np.array_equal(last.M2, lipcst.M2)
            require(same, "lipcst", "the network the inverse data describes (M1, M2 differ)")
        else:
            require(isinstance(source, LipCst), "source", "a lipcst instance for an empty chain", source.kind)
        return cls(source, chain, lipcst, inverse)


def reduce_to_lipcst(instance: Any, via: str | None = None, threshold: Number | None = None) -> ReducedInstance:
    """Reduce ``instance`` to LIP-CST (see :func:`to_lipcst`), optionally with a decision threshold.

    ``threshold`` ``k`` is the decision "is the optimum at least as good as k" (``max >= k`` for
    Max-Cut and the convex quadratics, ``min <= k`` for QUBO); it becomes the exact ``ell_squared`` of
    "L(f) >= ell" (the complement of LIP-CST's "L(f) <= ell"), clamped at 0 where the answer is
    trivially yes.

    Examples
    --------
    >>> reduced = reduce_to_lipcst(QUBO([[-3, 2], [2, -1]]), threshold=-3)
    >>> reduced.lipcst.ell_squared, reduced.value_map
    (18, (6, -4))
    """
    chain = to_lipcst(instance, via)
    target, inverse = chain.apply(instance)
    if threshold is not None:
        from reductions.instances import decode_number

        ell_squared = chain.map_threshold(decode_number(threshold, "threshold"), inverse)
        target = LipCst(target.M1, target.M2, max(exact_number(ell_squared), 0))
    return ReducedInstance(instance, chain, target, inverse)
