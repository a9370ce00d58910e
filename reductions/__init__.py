"""The NP-hardness reductions of LIP-CST as code.

Max-Cut / QUBO -> convex quadratic maximization on the hypercube -> LIP-CST (a two-layer ReLU network).
Every reduction maps instances forward and certificates both ways (cut <-> activation pattern <->
witness input), with exact values. This package depends on numpy, scipy and networkx only;
``lipexact`` builds on it, never the other way round.

Examples
--------
>>> import networkx as nx
>>> from reductions import MaxCut, Solution, reduce_to_lipcst
>>> reduced = reduce_to_lipcst(MaxCut.from_networkx(nx.petersen_graph()))
>>> reduced.chain.names, reduced.lipcst.n_hidden, reduced.lipcst.n_inputs
(['maxcut_to_01', '01_to_lipcst'], 10, 15)
>>> value, pattern = reduced.lipcst.brute_force()          # L(f)^2, exactly
>>> cut = reduced.map_back(Solution.of(reduced.lipcst, pattern))
>>> value, cut.value
(12, 12)
"""

from reductions.base import InverseData, Reduction, Solution
from reductions.chain import Chain, ChainInverse, ReducedInstance, reduce_to_lipcst, to_lipcst
from reductions.instances import (
    QUBO,
    ConvexQuadratic01,
    ConvexQuadraticPM1,
    LipCst,
    MaxCut,
)
from reductions.formats import read_qubo_sparse, read_rudy, write_qubo_sparse, write_rudy
from reductions.lipcst import Quadratic01ToLipCst, QuadraticPM1ToLipCst
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
    "Quadratic01ToLipCst",
    "QuadraticPM1ToLipCst",
    "Chain",
    "ChainInverse",
    "ReducedInstance",
    "to_lipcst",
    "reduce_to_lipcst",
    "read_rudy",
    "write_rudy",
    "read_qubo_sparse",
    "write_qubo_sparse",
    "InvalidInputError",
]
