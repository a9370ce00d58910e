"""The tree search over partial activation patterns shared by cell enumeration and branch and bound.

A node is a partial pattern of the hyperplane groups (:mod:`lipexact.exact.arrangement`) with the Jacobian
of its fixed part and a point strictly inside its region. The child on the side of the point inherits it;
the other child gets a point from a ray step across the branched hyperplane or from the region LP
(:mod:`lipexact.exact.region_lp`), or turns out empty (an exactly verified certificate). For ``n = 2``
regions are also kept as polygons (:mod:`lipexact.exact.planar`), which give interior points without any LP
and point at the children and units that are empty or forced; those exclusions are certified like every
other before they are used. A region that no certificate decides is kept out of the search with its bound
in the upper bound, and the search then ends ``error`` (no proof) unless the incumbent reaches that bound.

Cell enumeration is this search without bounds: its leaves are the cells. Branch and bound adds a node
bound and an incumbent; its node selection is depth first, or best first with plunging (after each dive,
the open node with the largest bound), and memory is the open frontier.

A search stops early on the clock's time limit (status ``time_limit``), on a node limit (status
``node_limit``: at most that many nodes processed, a deterministic stop independent of the machine's
speed) or on Ctrl-C (``interrupted``); it then returns the incumbent and, as upper bound, the largest of
the closed parts' values and bounds and the open nodes' bounds.
"""

from __future__ import annotations

import heapq
import math
import time
from dataclasses import dataclass, field
from numbers import Integral
from typing import Any, Callable

import numpy as np

from lipexact.exact.arrangement import Arrangement, build_arrangement, small_blas
from lipexact.exact.planar import Lines, Polygon, covering_box
from lipexact.exact.problem import RELATIVE_TOLERANCE, Clock, certified_result
from lipexact.exact.progress import SearchProgress
from lipexact.exact.realizability import UndecidedRegionError
from lipexact.exact.region_lp import RegionLP, strictly_inside
from lipexact.result import Status
from reductions.realizability import exact_signs
from reductions.validation import require

__all__ = ["Node", "TreeSearch", "SearchOutcome", "build_arrangement", "small_blas", "Arrangement",
           "BEST_FIRST_MEMORY", "check_node_limit"]

#: Memory (bytes, estimated) of the open nodes beyond which best-first selection falls back to depth-first.
BEST_FIRST_MEMORY = 2e8


def check_node_limit(node_limit: Any) -> int | None:
    """``node_limit`` as an int, or None; anything but a positive integer or None is an ``InvalidInputError``.

    Examples
    --------
    >>> check_node_limit(10), check_node_limit(None)
    (10, None)
    >>> check_node_limit(0)
    Traceback (most recent call last):
    ...
    reductions.validation.InvalidInputError: node_limit: expected a positive integer or None, got 0
    """
    if node_limit is None:
        return None
    require(isinstance(node_limit, Integral) and not isinstance(node_limit, bool) and node_limit >= 1,
            "node_limit", "a positive integer or None", repr(node_limit))
    return int(node_limit)


@dataclass
class Node:
    """A partial group pattern with the Jacobian of its fixed part and a point of its region."""

    signs: np.ndarray
    """-1 free, 0 off, 1 on, per group."""
    jacobian: np.ndarray
    """``base + sum over fixed-on groups of A_g``."""
    bound: float
    """Upper bound on every completion's value (``inf`` when not bounded)."""
    point: np.ndarray | None
    """A point strictly inside the region, or None when it is still to be found from ``parent_point``."""
    parent_point: np.ndarray | None = None
    branched: int = -1
    """The group fixed last (the one the parent's point may be on the wrong side of)."""
    depth: int = 0
    state: Any = None
    """Warm start of the strong bound (from the parent's refinement)."""
    polygon: Any = None
    """The region as a polygon (planar arrangements), when known."""


@dataclass
class SearchOutcome:
    status: Status
    value: float | None
    point: np.ndarray | None
    upper: float
    stats: dict = field(default_factory=dict)

    def certified(self, problem, method: str, clock: Clock, stats: dict, *, proofs: tuple[str, str],
                  counted: str):
        """The re-checked result of this search. ``proofs`` is the upper bound's proof when the search
        finished and when it stopped; ``counted`` the stats entry the message reports (nodes or cells)."""
        if self.status is Status.OPTIMAL:
            proof, message = proofs[0], f"optimal: {stats[counted]} {counted}, {stats['lps']} LPs"
        elif self.status is Status.ERROR:
            proof, message = proofs[1] + ", and the bounds of undecided regions", f"no proof: {stats['no_proof']}"
        else:
            proof, message = proofs[1], f"{self.status.value}: stopped after {stats[counted]} {counted}"
            if self.status is Status.NODE_LIMIT and counted != "nodes":
                message += f" ({stats['nodes']} nodes)"
        return certified_result(problem, method, clock, status=self.status, witness=self.point, upper=self.upper,
                                upper_proof=proof, message=message, stats=stats)


#: bound(node_jacobian, free_groups, threshold) -> upper bound on the best completion (may stop trying to
#: improve it once it is at most ``threshold``)
BoundFunction = Callable[[np.ndarray, np.ndarray, float], float]
#: branch(search, node, free, z) -> index into ``free`` of the group to branch on
BranchRule = Callable[["TreeSearch", Node, np.ndarray, np.ndarray], int]


def _first_free(search: "TreeSearch", node: Node, free: np.ndarray, z: np.ndarray) -> int:
    return 0


class TreeSearch:
    """Depth-first search over partial group patterns (see the module docstring).

    Parameters
    ----------
    arrangement : Arrangement
    clock : Clock
    method : str
        Name shown in progress lines.
    bound : callable, optional
        Node upper bound; None enumerates every cell (no pruning).
    final_bound : callable, optional
        Bound used for the open nodes when the search stops early (defaults to ``bound``).
    branch : callable
        Branching rule.
    progress : SearchProgress, optional
    incumbent : (value, point), optional
        A known cell (its point strictly inside a group cell) to start from.
    best_first : bool
        After each dive (a node that adds no child), continue from the open node with the largest bound
        (best-first with plunging) instead of the deepest one; the frontier may then grow (up to about
        ``BEST_FIRST_MEMORY`` bytes, beyond which the search stays depth-first).
    use_symmetry : bool
        On complement-symmetric cones (:attr:`Arrangement.complement_symmetric`) fix the first branched
        group to "on": the opposite patterns have the same value.
    node_limit : int, optional
        Process at most this many nodes (``stats["nodes"]``); a search stopped by it returns status
        ``node_limit`` with the proven bracket, like a time limit. Positive integer or None (no limit).

    Examples
    --------
    >>> from lipexact.exact.problem import validate_problem
    >>> from lipexact.network import TwoLayerReLU
    >>> net = TwoLayerReLU([[1.0, 0.0], [0.0, 1.0]], [[3.0, -4.0]], b1=[0.0, 1.0])
    >>> outcome = TreeSearch(build_arrangement(validate_problem(net)), Clock(), "cells").run()
    >>> outcome.status.value, outcome.value, outcome.stats["cells"]
    ('optimal', 5.0, 4)
    """

    def __init__(self, arrangement: Arrangement, clock: Clock, method: str, bound: BoundFunction | None = None,
                 final_bound: BoundFunction | None = None, branch: BranchRule = _first_free,
                 progress: SearchProgress | None = None, incumbent: tuple[float, np.ndarray] | None = None,
                 seed: int = 0, use_symmetry: bool = True, best_first: bool = False, node_limit: int | None = None):
        self.arrangement = arrangement
        self.clock = clock
        self.node_limit = check_node_limit(node_limit)
        self.method = method
        self.bound = bound
        self.final_bound = final_bound if final_bound is not None else bound
        self.branch = branch
        self.progress = progress if progress is not None else SearchProgress(method, False)
        self.seed = seed
        self._lp: RegionLP | None = None
        G, n = arrangement.W.shape
        self.pseudo_inverse = np.linalg.pinv(arrangement.W) if 0 < G and G * n * min(G, n) <= 5e7 else None
        self.symmetric = use_symmetry and arrangement.complement_symmetric
        self.best_first = best_first and bound is not None
        node_bytes = 8 * (arrangement.base.size + 3 * arrangement.n_inputs + 2 * arrangement.n_groups) + 200
        self.frontier_cap = int(BEST_FIRST_MEMORY // node_bytes)
        self.lines: Lines | None = None
        if n == 2 and G > 0:
            box = arrangement.box
            lower, upper = (box.lower, box.upper) if box is not None else covering_box(arrangement.W, arrangement.b)
            self.lines = Lines(arrangement.W, arrangement.b, lower, upper)
        self.sizes = np.sqrt(np.einsum("gmn,gmn->g", arrangement.A, arrangement.A))
        self.refine = getattr(bound, "refine", None)
        self.child_state = getattr(bound, "child_state", None)
        self.preferred_side = getattr(bound, "preferred_side", None)
        self.improve: Callable[[float, np.ndarray], tuple[float, np.ndarray]] | None = None
        self.best_value = -math.inf
        self.best_point: np.ndarray | None = None
        self.closed = -math.inf  # largest value or bound of a finished part of the tree
        self.undecided = -math.inf  # largest bound over the regions no certificate decides
        self.rows, self.offsets = arrangement.own_rows()
        self.stats = {"nodes": 0, "lps": 0, "ray_points": 0, "pruned_by_bound": 0, "pruned_infeasible": 0,
                      "cells": 0, "max_frontier": 0, "incumbent_updates": 0,
                      "symmetry": bool(self.symmetric), "planar_decisions": 0, "planar_forced": 0, "undecided": 0}
        if incumbent is not None:
            self.offer(*incumbent)

    @property
    def lp(self) -> RegionLP:
        if self._lp is None:
            self._lp = RegionLP(self.arrangement)
        return self._lp

    # ------------------------------------------------------------------ incumbent
    def offer(self, value: float, point: np.ndarray) -> bool:
        """Take ``(value, point)`` as the incumbent when it beats the current one and certifies."""
        if not value > self.best_value:
            return False
        witness = self.arrangement.witness(point, self.seed)
        if witness is None:
            return False
        self.best_value, self.best_point = float(value), witness
        self.stats["incumbent_updates"] += 1
        return True

    def threshold(self) -> float:
        """Nodes whose bound is at most this cannot hold a value above the incumbent (relative tolerance)."""
        if self.best_value == -math.inf:
            return -math.inf
        return self.best_value * (1.0 + 0.5 * RELATIVE_TOLERANCE) if self.best_value > 0 else self.best_value

    # ------------------------------------------------------------------ points of children
    def ray_point(self, node: Node, direction: np.ndarray) -> np.ndarray | None:
        """Cross the branched hyperplane from the parent's point along ``direction`` without leaving the region.

        Along ``x + tau d`` every pre-activation is affine in ``tau``; the step stops halfway between the
        crossing of the branched hyperplane and the first fixed hyperplane (or box face) in the way.
        """
        arrangement = self.arrangement
        g = node.branched
        x = node.parent_point
        want_on = node.signs[g] == 1
        rate_g = float(arrangement.W[g] @ direction)
        if rate_g == 0 or (rate_g > 0) != want_on:
            return None
        cross = -float(arrangement.W[g] @ x + arrangement.b[g]) / rate_g
        if cross < 0:
            return None
        fixed = np.flatnonzero(node.signs >= 0)
        fixed = fixed[fixed != g]
        limit = math.inf
        if fixed.size:
            z = arrangement.W[fixed] @ x + arrangement.b[fixed]
            rate = arrangement.W[fixed] @ direction
            towards = np.where(node.signs[fixed] == 1, rate < 0, rate > 0)
            if np.any(towards):
                limit = float(np.min(np.abs(z[towards]) / np.abs(rate[towards])))
        if arrangement.box is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                up = np.where(direction > 0, (arrangement.box.upper - x) / direction, np.inf)
                down = np.where(direction < 0, (arrangement.box.lower - x) / direction, np.inf)
            limit = min(limit, float(np.min(up)), float(np.min(down)))
        if not limit > cross:
            return None
        reach = arrangement.scale / abs(rate_g)
        candidate = x + (cross + 0.5 * (min(limit, cross + reach) - cross)) * direction
        if strictly_inside(arrangement, node.signs, candidate):
            return candidate
        return None

    def find_point(self, node: Node) -> np.ndarray | None:
        g = node.branched
        for direction in self.ray_directions(g, node.signs[g] == 1):
            point = self.ray_point(node, direction)
            if point is not None:
                self.stats["ray_points"] += 1
                return point
        self.stats["lps"] += 1
        return self.lp.point(node.signs)

    def ray_directions(self, g: int, want_on: bool) -> list[np.ndarray]:
        """The normal of hyperplane ``g``, and the pseudo-inverse direction that changes ``z_g`` alone."""
        normal = self.arrangement.W[g] if want_on else -self.arrangement.W[g]
        if self.pseudo_inverse is None:
            return [normal]
        column = self.pseudo_inverse[:, g]
        return [normal, column if want_on else -column]

    # ------------------------------------------------------------------ the search
    def root(self) -> Node:
        arrangement = self.arrangement
        n = arrangement.n_inputs
        point = arrangement.box.center.copy() if arrangement.box is not None else np.zeros(n)
        signs = np.full(arrangement.n_groups, -1, dtype=np.int8)
        jacobian = arrangement.base.copy()
        node = Node(signs, jacobian, math.inf, point)
        if self.bound is not None:
            node.bound = self.bound(jacobian, np.arange(arrangement.n_groups), -math.inf)
        return node

    def run(self, interrupted: bool = False) -> SearchOutcome:
        """Search until the tree closes, the node limit or the clock runs out, or Ctrl-C (``interrupted``:
        stop at once)."""
        dive: list[Node] = [self.root()]  # the current dive, depth first
        pool: list[tuple[float, int, Node]] = []  # best-first: the other open nodes, largest bound first
        pushed = 0
        current: Node | None = None
        status = Status.INTERRUPTED if interrupted else Status.OPTIMAL
        try:
            while (dive or pool) and not interrupted:
                if self.node_limit is not None and self.stats["nodes"] >= self.node_limit:
                    status = Status.NODE_LIMIT
                    break
                if self.clock.expired():
                    status = Status.TIME_LIMIT
                    break
                if not dive:
                    dive.append(heapq.heappop(pool)[2])
                current = dive.pop()
                before = len(dive)
                self.process(current, dive)
                current = None
                open_nodes = len(dive) + len(pool)
                if self.best_first and len(dive) <= before and open_nodes <= self.frontier_cap:
                    # the dive ended: continue from the open node with the largest bound
                    for node in dive:
                        heapq.heappush(pool, (-node.bound, pushed, node))
                        pushed += 1
                    dive.clear()
                self.stats["max_frontier"] = max(self.stats["max_frontier"], open_nodes)
                if self.progress.enabled:
                    self.progress.update(self.lower(), self.open_upper(dive, pool), self.stats["nodes"])
        except KeyboardInterrupt:
            status = Status.INTERRUPTED
        stack = dive + [entry[2] for entry in pool]
        if current is not None:
            stack.append(current)
        if status is Status.OPTIMAL:
            upper = max(self.closed, self.best_value, self.undecided)
            if self.undecided > self.threshold():
                status = Status.ERROR
                self.stats["no_proof"] = (f"{self.stats['undecided']} region(s) that no exact certificate decides "
                                          "may hold a larger value")
        else:
            limit = self.clock.time_limit
            budget = 1.0 if limit is None else min(1.0, 0.05 * limit + 0.05)  # keep within the time limit
            upper = max(self.closed, self.best_value, self.undecided, self.frontier_bound(stack, budget))
        if self._lp is not None:
            self.stats["lp_exact"] = self._lp.exact_solves
            self.stats["lp_undecided"] = self._lp.undecided
        value = None if self.best_value == -math.inf else self.best_value
        self.progress.update(value, upper, self.stats["nodes"], force=True)
        return SearchOutcome(status, value, self.best_point, upper, self.stats)

    def lower(self) -> float | None:
        return None if self.best_value == -math.inf else self.best_value

    def open_upper(self, dive: list[Node], pool: list) -> float:
        bounds = [node.bound for node in dive] + ([-pool[0][0]] if pool else [])
        return max([self.closed, self.best_value, *bounds])

    def frontier_bound(self, stack: list[Node], seconds: float = 1.0) -> float:
        """Largest bound over the open nodes; the largest ones are tightened by the strong bound first.

        Nodes are visited by decreasing bound until the next one cannot raise the maximum; the strong
        bound is spent for at most ``seconds`` (the others keep their bound).
        """
        refine = getattr(self.final_bound, "refine", None)
        bounds = []
        for node in stack:
            bound = node.bound
            if math.isinf(bound) and self.final_bound is not None:
                bound = self.final_bound(node.jacobian, np.flatnonzero(node.signs < 0), -math.inf)
            bounds.append(bound)
        best = -math.inf
        deadline = time.perf_counter() + seconds
        for index in sorted(range(len(stack)), key=lambda i: -bounds[i]):
            bound = bounds[index]
            if bound <= best:
                break
            if refine is not None and time.perf_counter() < deadline:
                node = stack[index]
                bound = min(bound, refine(node.jacobian, np.flatnonzero(node.signs < 0), -math.inf, node.state)[0])
            best = max(best, bound)
        return best

    def keep_undecided(self, node: Node, free: np.ndarray | None = None) -> None:
        """A region no certificate decides: it is neither searched nor excluded; its bound stays in the upper
        bound, and the search can no longer end ``optimal`` unless the incumbent reaches that bound."""
        self.stats["undecided"] += 1
        if free is None:
            free = np.flatnonzero(node.signs < 0)
        bound = node.bound
        if math.isinf(bound) and self.final_bound is not None:
            bound = self.final_bound(node.jacobian, free, -math.inf)
        if math.isinf(bound) and free.size == 0:
            bound = self.arrangement.value_of_partial(node.jacobian)
        self.undecided = max(self.undecided, bound)

    def exact_side(self, g: int, x: np.ndarray) -> int:
        """The exact sign (-1, 0, 1) of group ``g``'s own row at ``x``."""
        return int(exact_signs(self.rows[g:g + 1], self.offsets[g:g + 1], x)[0])

    def prune(self, bound: float) -> None:
        self.stats["pruned_by_bound"] += 1
        self.closed = max(self.closed, bound)

    def polygon_of(self, signs: np.ndarray) -> Polygon:
        """The box cut by every fixed half-plane of ``signs`` (planar arrangements)."""
        polygon = self.lines.box()
        for g in np.flatnonzero(signs >= 0).tolist():
            polygon = polygon.cut(self.lines, g, 1.0 if signs[g] == 1 else -1.0)
        return polygon

    def fix_forced(self, node: Node) -> None:
        """Fix the free groups whose line certainly misses the node's polygon (planar arrangements)."""
        free = np.flatnonzero(node.signs < 0)
        if free.size == 0:
            return
        sides = node.polygon.sides(self.lines, free)
        for k in np.flatnonzero(sides != 0).tolist():  # forcing excludes the other side: certify that
            other = node.signs.copy()
            other[free[k]] = 0 if sides[k] == 1 else 1
            try:
                if self.lp.decide(other) is not None:
                    sides[k] = 0
            except UndecidedRegionError:
                sides[k] = 0
        forced = sides != 0
        if not np.any(forced):
            return
        on = free[sides == 1]
        node.signs = node.signs.copy()
        node.signs[on] = 1
        node.signs[free[sides == -1]] = 0
        if on.size:
            node.jacobian = node.jacobian + self.arrangement.A[on].sum(axis=0)
        node.state = None
        self.stats["planar_forced"] += int(forced.sum())
        if self.bound is not None:
            node.bound = min(node.bound, self.bound(node.jacobian, np.flatnonzero(node.signs < 0), self.threshold()))

    def process(self, node: Node, stack: list[Node]) -> None:
        stats = self.stats
        stats["nodes"] += 1
        arrangement = self.arrangement
        if self.bound is not None and node.bound <= self.threshold():
            self.prune(node.bound)
            return
        if self.lines is not None and node.polygon is None and node.point is not None:
            node.polygon = self.polygon_of(node.signs)
        if node.polygon is not None:
            self.fix_forced(node)
        free = np.flatnonzero(node.signs < 0)
        if self.bound is not None:
            if node.bound > self.threshold() and self.refine is not None:
                strong, node.state = self.refine(node.jacobian, free, self.threshold(), node.state)
                node.bound = min(node.bound, strong)
            if node.bound <= self.threshold():
                self.prune(node.bound)
                return
        if node.point is None:
            try:
                node.point = self.find_point(node)
            except UndecidedRegionError:
                self.keep_undecided(node)
                return
            if node.point is None:
                stats["pruned_infeasible"] += 1
                return
            node.parent_point = None
            if self.lines is not None:
                node.polygon = self.polygon_of(node.signs)
        x = node.point
        if free.size == 0:
            stats["cells"] += 1
            value = arrangement.value_of_partial(node.jacobian)
            self.closed = max(self.closed, value)
            self.offer(value, x)
            return
        z = arrangement.W[free] @ x + arrangement.b[free]
        if self.bound is not None and np.all(z != 0):
            on = free[z > 0]
            jacobian = node.jacobian + arrangement.A[on].sum(axis=0)
            value = arrangement.value_of_partial(jacobian)
            if value > self.best_value:
                if self.improve is not None:
                    value, x_best = self.improve(value, x)
                    self.offer(value, x_best)
                else:
                    self.offer(value, x)
        position = self.branch(self, node, free, z)
        g = int(free[position])
        children = []
        sides = (1,) if self.symmetric and node.depth == 0 else (1, 0)  # complement symmetry: fix one unit
        for side in sides:
            signs = node.signs.copy()
            signs[g] = side
            jacobian = node.jacobian + arrangement.A[g] if side == 1 else node.jacobian
            inherits = (z[position] > 0) == (side == 1) and z[position] != 0 and self.exact_side(g, x) == (1 if side == 1 else -1)
            child = Node(signs, jacobian, math.inf, x if inherits else None,
                         parent_point=None if inherits else x, branched=g, depth=node.depth + 1,
                         state=None if self.child_state is None else self.child_state(node.state, position))
            if node.polygon is not None:
                where = node.polygon.side(self.lines, g, 1.0 if side == 1 else -1.0)
                if where < 0:  # the polygon says empty: only a verified certificate excludes the child
                    stats["planar_decisions"] += 1
                    try:
                        point = self.lp.decide(signs)
                    except UndecidedRegionError:
                        self.keep_undecided(child, free[free != g])
                        continue
                    if point is None:
                        stats["pruned_infeasible"] += 1
                        continue
                    child.point, child.parent_point = point, None
                    where = 0
                if where > 0:
                    stats["planar_decisions"] += 1
                    child.polygon = node.polygon.cut(self.lines, g, 1.0 if side == 1 else -1.0)
                    if child.point is None:
                        point = child.polygon.interior_point()
                        if point is not None and strictly_inside(arrangement, signs, point):
                            child.point, child.parent_point = point, None
            if self.bound is not None:
                child.bound = min(node.bound, self.bound(jacobian, free[free != g], self.threshold()))
            children.append(child)
        if self.bound is not None:
            # explore first (push last) the side the relaxation points to, else the child with the larger bound
            preferred = None if self.preferred_side is None else self.preferred_side(node.state, position)
            if preferred is None:
                children.sort(key=lambda c: c.bound)
            elif preferred:
                children.reverse()
            threshold = self.threshold()
            for child in children:
                if child.bound <= threshold:
                    stats["pruned_by_bound"] += 1
                    self.closed = max(self.closed, child.bound)
                else:
                    stack.append(child)
        else:
            stack.extend(children)
