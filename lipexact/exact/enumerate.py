"""Exact constant by enumerating the cells of the hyperplane arrangement of the hidden units.

The regions of ``x -> W1 x + b1`` are the cells of an arrangement of ``h`` hyperplanes in ``R^n``; there are
at most ``sum_{k <= n} C(h, k)`` of them, a polynomial in ``h`` for a fixed input dimension ``n``. The cells
are visited by the depth-first search of :mod:`lipexact.exact.tree` without bound pruning: each node is a
partial pattern with a point of its region, the child on the point's side inherits the point, and the other
child gets one from a ray step or the region LP (or is empty). Every leaf is a cell; the largest Jacobian
norm over the cells is the constant, and the point of that cell is the witness.
"""

from __future__ import annotations

from lipexact.exact.arrangement import build_arrangement, small_blas
from lipexact.exact.bounds import NodeBound
from lipexact.exact.problem import Clock, Problem
from lipexact.exact.progress import SearchProgress
from lipexact.exact.tree import TreeSearch, check_node_limit
from lipexact.result import LipschitzResult

__all__ = ["solve_enumerate", "max_cells"]


def max_cells(h: int, n: int) -> int:
    """Largest number of cells of ``h`` affine hyperplanes in ``R^n``: ``sum_{k <= n} C(h, k)``.

    Examples
    --------
    >>> max_cells(3, 2), max_cells(10, 10)
    (7, 1024)
    """
    from math import comb

    return sum(comb(h, k) for k in range(min(h, n) + 1))


def solve_enumerate(problem: Problem, clock: Clock, node_limit: int | None = None) -> LipschitzResult:
    """Exact constant by cell enumeration (see the module docstring).

    A stopped enumeration (time limit, node limit, Ctrl-C) returns the best cell found and, as upper
    bound, the largest interval bound over the cells not yet visited.

    Parameters
    ----------
    problem, clock
        As for every method of :data:`lipexact.exact.METHODS`.
    node_limit : int, optional
        Stop after this many nodes of the search tree (every cell is a leaf; the inner nodes count too)
        with status ``node_limit``: a stop that does not depend on the machine's speed. None: no limit.

    Examples
    --------
    >>> from lipexact.network import TwoLayerReLU
    >>> from lipexact.exact.problem import validate_problem
    >>> net = TwoLayerReLU([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], [[1.0, 1.0, -1.0]], b1=[0.0, 0.0, -1.0])
    >>> result = solve_enumerate(validate_problem(net), Clock())
    >>> result.status.value, round(result.value, 12), result.stats["cells"]
    ('optimal', 1.414213562373, 7)
    >>> stopped = solve_enumerate(validate_problem(net), Clock(), node_limit=3)
    >>> stopped.status.value, stopped.stats["nodes"], stopped.upper >= 1.414213562373
    ('node_limit', 3, True)
    """
    node_limit = check_node_limit(node_limit)
    with small_blas():  # many small dense operations: one BLAS thread is much faster
        arrangement = build_arrangement(problem)
        final_bound = NodeBound(arrangement.A, problem.norm, lookahead=0, exhaustive=0)
        search = TreeSearch(arrangement, clock, "enumerate", bound=None, final_bound=final_bound,
                            progress=SearchProgress("enumerate", problem.progress), seed=problem.seed,
                            use_symmetry=False, node_limit=node_limit)
        outcome = search.run()
        stats = dict(outcome.stats)
        for key in ("pruned_by_bound", "incumbent_updates", "symmetry"):
            stats.pop(key, None)
        stats.update(groups=arrangement.n_groups, hidden=problem.net.n_hidden,
                     max_cells=max_cells(arrangement.n_groups, problem.net.n_inputs))
        return outcome.certified(problem, "enumerate", clock, stats, counted="cells", proofs=(
            "every cell of the arrangement was visited (LP-checked emptiness of the others)",
            "visited cells, and an interval bound on the cells not yet visited"))
