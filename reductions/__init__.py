"""The NP-hardness reductions of LIP-CST as code.

Max-Cut / QUBO -> convex quadratic maximization on the hypercube -> LIP-CST (a two-layer ReLU network).
Every reduction maps instances forward and certificates back. This package depends on numpy only
(networkx for graph conversion); ``lipexact`` builds on it, never the other way round.
"""
