"""Exact constant by branch and bound over activation patterns.

A node fixes part of the (hyperplane-group) pattern and carries a point of its region
(:mod:`lipexact.exact.tree`). It is pruned when its region is empty (region LP, or exact polygons when
``n = 2``) or when a proven bound on every completion (:mod:`lipexact.exact.bounds`) is no larger than the
incumbent, the best certified cell so far (first from :mod:`lipexact.exact.incumbent`, then from the cell
of every node's point). A node's children are explored in the order its relaxation suggests; the child on
the side of the parent's point inherits that point, and the other child looks for one (ray step, then LP)
only when it is reached and still not pruned. When a dive ends, the search continues from the open node
with the largest bound (best-first with plunging; ``best_first=False`` keeps it depth-first, with at most
two open nodes per level). The tree closes with status ``optimal``; a time limit, a node limit or Ctrl-C
returns the incumbent and the largest bound of the open nodes (status ``time_limit``, ``node_limit`` or
``interrupted``).

References
----------
Scaman, K. and Virmaux, A. Lipschitz regularity of deep neural networks: analysis and efficient
estimation. NeurIPS 2018 (arXiv:1805.10965).
"""

from __future__ import annotations

import numpy as np

from lipexact.exact.arrangement import build_arrangement, small_blas
from lipexact.exact.bounds import NodeBound
from lipexact.exact.incumbent import Cell, cell_at, find_incumbent, local_search
from lipexact.exact.problem import Clock, Problem
from lipexact.exact.progress import SearchProgress
from lipexact.exact.tree import Node, TreeSearch, check_node_limit
from lipexact.result import LipschitzResult
from reductions.validation import require

__all__ = ["solve_bnb", "BRANCHING_RULES"]


def _branch_largest(search: TreeSearch, node: Node, free: np.ndarray, z: np.ndarray) -> int:
    """The free group with the largest contribution ``||A_g||``."""
    return int(np.argmax(search.sizes[free]))


def _branch_nearest(search: TreeSearch, node: Node, free: np.ndarray, z: np.ndarray) -> int:
    """The free group whose hyperplane is nearest the node's point (the most ambiguous one there)."""
    return int(np.argmin(np.abs(z)))


def _branch_weighted(search: TreeSearch, node: Node, free: np.ndarray, z: np.ndarray) -> int:
    """Largest contribution per distance of the hyperplane from the node's point."""
    return int(np.argmax(search.sizes[free] / (np.abs(z) + 1e-3 * search.arrangement.scale)))


BRANCHING_RULES = {"largest": _branch_largest, "nearest": _branch_nearest, "weighted": _branch_weighted}


def solve_bnb(problem: Problem, clock: Clock, branching: str = "largest", lookahead: int = 6, exhaustive: int = 6,
              eigen_iterations: int = 30, incumbent_samples: int = 256, incumbent_starts: int = 4,
              polish: bool = True, best_first: bool = True, basis_bound: bool = False,
              abandon: float = 0.05, node_limit: int | None = None, node_bound: str = "eigen") -> LipschitzResult:
    """Exact constant by branch and bound (see the module docstring).

    Parameters
    ----------
    problem, clock
        As for every method of :data:`lipexact.exact.METHODS`.
    branching : {"largest", "nearest", "weighted"}
        Which free unit a node splits on (see :data:`BRANCHING_RULES`).
    lookahead, exhaustive, eigen_iterations, basis_bound, abandon
        Strength of the node bound (see :class:`~lipexact.exact.bounds.NodeBound`).
    incumbent_samples, incumbent_starts
        Effort of the initial local search (:func:`~lipexact.exact.incumbent.find_incumbent`); at most
        ``1 + G // 10`` starts for ``G`` hyperplane groups.
    polish : bool
        Run the local search from every new incumbent found in the tree.
    best_first : bool
        Best-first node selection with plunging instead of depth-first (see
        :class:`~lipexact.exact.tree.TreeSearch`).
    node_limit : int, optional
        Stop after this many tree nodes (the initial local search is not counted) with status
        ``node_limit``, the incumbent and the proven upper bound: a stop that does not depend on the
        machine's speed. None: no limit.
    node_bound : {"eigen", "sdp"}
        ``"sdp"`` adds the certified pattern SDP (:class:`~lipexact.exact.sdp_bound.SdpNodeBound`) after the
        eigenvalue bound on the nodes that survive it (l2, scalar output only; sampled only once it stops
        pruning). Off by default because it does not win everywhere (``benchmarks/pattern_sdp.py``, 120 s
        limit, load 7-10 on 2 cores): the QUBO networks bqp50-1 and bqp50-2 close in 18 s and 7 s (not
        closed in 120 s without it; 107 s in another run); Max-Cut g05_60.0/.1 1.3x/1.1x slower with 2-3x
        fewer nodes; random 5-32-1 and 5-48-1 networks median 1.4x slower.

    Examples
    --------
    >>> from lipexact.network import TwoLayerReLU
    >>> from lipexact.exact.problem import validate_problem
    >>> net = TwoLayerReLU([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], [[1.0, 1.0, -1.0]], b1=[0.0, 0.0, -1.0])
    >>> result = solve_bnb(validate_problem(net), Clock())
    >>> result.status.value, round(result.value, 12)
    ('optimal', 1.414213562373)
    """
    node_limit = check_node_limit(node_limit)
    with small_blas():  # many small dense operations: one BLAS thread is much faster
        require(branching in BRANCHING_RULES, "branching", f"one of {sorted(BRANCHING_RULES)}", repr(branching))
        require(node_bound in ("eigen", "sdp"), "node_bound", '"eigen" or "sdp"', repr(node_bound))
        require(node_bound == "eigen" or (problem.norm == "2" and problem.net.n_outputs == 1), "node_bound",
                '"eigen" ("sdp" needs the l2 norm and a scalar output)',
                f"{node_bound!r} with norm {problem.norm!r} and {problem.net.n_outputs} outputs")
        arrangement = build_arrangement(problem)
        rng = np.random.default_rng(problem.seed)
        effort = 1 + arrangement.n_groups // 10  # small problems: the tree finds the optimum quickly anyway
        interrupted = False
        try:
            start = find_incumbent(arrangement, problem.seed, samples=incumbent_samples,
                                   starts=min(incumbent_starts, effort), clock=clock)
        except KeyboardInterrupt:
            start, interrupted = None, True
        bound_options = dict(lookahead=lookahead, exhaustive=exhaustive, eigen_iterations=eigen_iterations,
                             basis=basis_bound, abandon=abandon)
        if node_bound == "sdp":
            from lipexact.exact.sdp_bound import SdpNodeBound, data_error

            bound = SdpNodeBound(arrangement.A, problem.norm, **bound_options,
                                 error=data_error(problem.net.W1, problem.net.W2, arrangement.n_groups))
        else:
            bound = NodeBound(arrangement.A, problem.norm, **bound_options)
        search = TreeSearch(arrangement, clock, "bnb", bound=bound, branch=BRANCHING_RULES[branching],
                            progress=SearchProgress("bnb", problem.progress),
                            incumbent=None if start is None else (start.value, start.point), seed=problem.seed,
                            best_first=best_first, node_limit=node_limit)
        if polish:
            def improve(value: float, point: np.ndarray) -> tuple[float, np.ndarray]:
                cell = cell_at(arrangement, point)
                if cell is None:
                    return value, point
                better: Cell = local_search(arrangement, cell, rng, max_moves=20, clock=clock)
                return better.value, better.point
            search.improve = improve
        outcome = search.run(interrupted=interrupted)
        stats = dict(outcome.stats)
        stats.update(groups=arrangement.n_groups, hidden=problem.net.n_hidden, bound_calls=bound.calls,
                     refinements=bound.refinements, initial_incumbent=None if start is None else start.value,
                     node_bound=node_bound)
        if node_bound == "sdp":
            stats.update(sdp_calls=bound.sdp_calls, sdp_tightened=bound.sdp_tightened, sdp_pruned=bound.sdp_pruned,
                         sdp_skipped=bound.sdp_skipped, sdp_seconds=bound.sdp_seconds)
        return outcome.certified(problem, "bnb", clock, stats, counted="nodes", proofs=(
            "every node was pruned by an empty region (LP) or a proven bound not above the incumbent",
            "incumbent, bounds of pruned nodes and the largest bound of the open nodes"))
