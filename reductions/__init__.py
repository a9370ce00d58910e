"""The NP-hardness reductions of LIP-CST as code.

Max-Cut / QUBO -> convex quadratic maximization on the hypercube -> LIP-CST (a two-layer ReLU network).
Every reduction maps instances forward and certificates both ways (cut <-> activation pattern <->
witness input), with exact values. This package depends on numpy, scipy and networkx only;
``lipexact`` builds on it, never the other way round.

"""

from reductions.base import InverseData, Reduction, Solution
from reductions.instances import (
    QUBO,
    ConvexQuadratic01,
    ConvexQuadraticPM1,
    LipCst,
    MaxCut,
)
from reductions.maxcut import MaxCutTo01, MaxCutToPM1
from reductions.qubo import QUBOToMaxCut
from reductions.validation import InvalidInputError

__all__ = [
    "MaxCut",
    "QUBO",
    "ConvexQuadratic01",
    "ConvexQuadraticPM1",
    "LipCst",
    "Solution",
    "InverseData",
    "Reduction",
    "MaxCutToPM1",
    "MaxCutTo01",
    "QUBOToMaxCut",
    "InvalidInputError",
]
