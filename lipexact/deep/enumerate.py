"""The exact oracle for small deep ReLU networks: a tree search over joint activation patterns.

The tree fixes the units one by one, layer by layer. A node holds the pattern fixed so far, the exact
pre-activation map of its current layer (:mod:`lipexact.deep.exact`: within the region of the upstream
layers' pattern, the pre-activations are affine in ``x``), the exact rows of its region and a point strictly
inside that region (and inside the open box). At the next unit:

- a unit whose pre-activation is constant on the region (zero ``x`` part) follows the sign of its offset and
  adds no row;
- on a box, a unit whose exact range over the box has one sign is stable: no branching, no row;
- otherwise the node branches. The child on the side of the node's point (its exact sign) inherits the point;
  the other child gets one from a ray step across the new hyperplane (verified exactly) or from one region
  decision (:func:`reductions.realizability.decide_region` on the exact rows), which may prove it empty.

A region that no certificate decides keeps its bound in the upper bound and the search ends ``error`` (no
proof), as in the two-layer tree. A stopped search (time limit, node limit, Ctrl-C) returns the proven
bracket: the largest value over the cells visited, the undecided regions' bounds, and for every open node the
norm of ``|W_k| D_{k-1} ... |W_{l+1}| D_l |M_l|`` (``M_l`` the node's exact layer map, ``D`` the fixed-off units
zeroed, free units kept), which dominates ``|J|`` entrywise for every completion and therefore its induced
1-, inf- and 2-norms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
import numpy as np

from lipexact.deep.exact import AffineMap, ExactNetwork, dyadic, exact_rows
from lipexact.deep.network import ReLUNetwork
from lipexact.domain import Box
from lipexact.exact.problem import Clock
from lipexact.exact.progress import SearchProgress
from lipexact.norms import jacobian_norms
from lipexact.result import Status
from reductions.realizability import certify_point, decide_region

__all__ = ["DeepSearch", "DeepOutcome", "BOUND_SLACK"]

#: Relative slack added to the float evaluation of the open nodes' bounds (sums and products of
#: non-negative numbers: relative rounding error far below this).
BOUND_SLACK = 1e-10


@dataclass
class DeepNode:
    layer: int
    """Current ReLU layer (0-based)."""
    unit: int
    """Next unit of that layer to fix."""
    patterns: list
    """Fixed patterns of the layers before ``layer`` (bool arrays)."""
    current: list
    """Pattern of ``layer`` so far (bools for units ``< unit``)."""
    affine: AffineMap
    rows: list
    """Exact rows of the region: ``(numerators, offset, denominator)``."""
    point: np.ndarray | None
    parent_point: np.ndarray | None = None
    depth: int = 0


@dataclass
class DeepOutcome:
    status: Status
    value: float | None
    point: np.ndarray | None
    upper: float
    stats: dict = field(default_factory=dict)


class DeepSearch:
    """Depth-first enumeration of the cells of a deep ReLU network (see the module docstring).

    Parameters
    ----------
    net : ReLUNetwork
    norm : {"2", "1", "inf"}
    domain : Box, optional
    clock : Clock
    node_limit : int, optional
    progress : bool

    Examples
    --------
    >>> net = ReLUNetwork([([[1, 0], [0, 1]], None), ([[1, 1]], [-1]), ([[3]], None)])
    >>> outcome = DeepSearch(net, "2", None, Clock()).run()
    >>> outcome.status.value, round(outcome.value, 12), outcome.stats["cells"]
    ('optimal', 4.242640687119, 7)
    """

    def __init__(self, net: ReLUNetwork, norm: str, domain: Box | None, clock: Clock, node_limit: int | None = None,
                 progress: bool = False):
        self.net = net
        self.norm = norm
        self.domain = domain
        self.clock = clock
        self.node_limit = node_limit
        self.exact = ExactNetwork(net)
        self.n = net.n_inputs
        self.hidden = net.hidden_sizes
        self.abs_weights = [np.abs(np.asarray(W, dtype=np.float64)) for W in net.weights]
        self.progress = SearchProgress("deep-enumerate", progress)
        if domain is not None:
            corners = dyadic(np.concatenate([domain.lower, domain.upper]))
            self.box_low = type(corners)(corners.values[:self.n], corners.exponent)
            self.box_high = type(corners)(corners.values[self.n:], corners.exponent)
            self.lower, self.upper = domain.lower, domain.upper
        else:
            self.lower = self.upper = None
        self.best_value = -math.inf
        self.best_point: np.ndarray | None = None
        self.closed = -math.inf
        self.undecided = -math.inf
        self.stats = {"nodes": 0, "cells": 0, "lps": 0, "ray_points": 0, "empty": 0, "undecided": 0,
                      "stable_by_box": 0, "constant_units": 0, "max_frontier": 0}

    # ------------------------------------------------------------------ bounds
    def node_bound(self, node: DeepNode) -> float:
        """Proven upper bound on the value of every completion of ``node`` (module docstring)."""
        linear = np.abs(node.affine.float_linear())
        mask = np.ones(self.hidden[node.layer], dtype=bool)
        mask[:node.unit] = np.asarray(node.current, dtype=bool)
        P = linear * mask[:, None]
        for W in self.abs_weights[node.layer + 1:]:
            P = W @ P  # the hidden layers after node.layer keep all their units (free)
        with np.errstate(over="ignore", invalid="ignore"):
            value = float(jacobian_norms(P, self.norm))
        return value * (1 + BOUND_SLACK) if math.isfinite(value) else math.inf

    # ------------------------------------------------------------------ points
    def region(self, rows: list) -> tuple:
        exact = exact_rows(rows, self.n)
        return exact.A, exact.c, exact

    def ray_point(self, rows: list, x: np.ndarray) -> np.ndarray | None:
        """Cross the last row's hyperplane from ``x`` (inside every other row) along its normal."""
        A, c, exact = self.region(rows)
        a, offset = A[-1], c[-1]
        length = float(np.linalg.norm(a))
        if not (math.isfinite(length) and length > 0 and np.all(np.isfinite(A)) and np.all(np.isfinite(c))):
            return None
        u = a / length
        cross = max(-(float(a @ x) + offset) / length, 0.0)
        rates = A[:-1] @ u
        values = A[:-1] @ x + c[:-1]
        limit = math.inf
        towards = rates < 0
        if np.any(towards):
            limit = float(np.min(values[towards] / -rates[towards]))
        if self.lower is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                up = np.where(u > 0, (self.upper - x) / u, np.inf)
                down = np.where(u < 0, (self.lower - x) / u, np.inf)
            limit = min(limit, float(np.min(up)), float(np.min(down)))
        end = min(limit, 2 * cross + 1e-3 * (1.0 + float(np.max(np.abs(x)))))
        if not end > cross:
            return None
        candidate = x + 0.5 * (cross + end) * u
        if certify_point(A, c, candidate, self.lower, self.upper, exact=exact):
            return candidate
        return None

    def find_point(self, node: DeepNode) -> tuple[str, np.ndarray | None]:
        """``("nonempty", point)``, ``("empty", None)`` or ``("undecided", None)`` for a node without a point."""
        if node.parent_point is not None:
            point = self.ray_point(node.rows, node.parent_point)
            if point is not None:
                self.stats["ray_points"] += 1
                return "nonempty", point
        A, c, exact = self.region(node.rows)
        self.stats["lps"] += 1
        decision = decide_region(A, c, self.lower, self.upper, exact=exact)
        return decision.status, decision.point

    # ------------------------------------------------------------------ the search
    def root(self) -> DeepNode:
        point = self.domain.center.copy() if self.domain is not None else np.zeros(self.n)
        return DeepNode(0, 0, [], [], self.exact.first(), [], point)

    def run(self) -> DeepOutcome:
        stack = [self.root()]
        status = Status.OPTIMAL
        current = None
        try:
            while stack:
                if self.node_limit is not None and self.stats["nodes"] >= self.node_limit:
                    status = Status.NODE_LIMIT
                    break
                if self.clock.expired():
                    status = Status.TIME_LIMIT
                    break
                current = stack.pop()
                self.process(current, stack)
                current = None
                self.stats["max_frontier"] = max(self.stats["max_frontier"], len(stack))
                if self.progress.enabled:
                    self.progress.update(self.lower_value(), None, self.stats["nodes"])
        except KeyboardInterrupt:
            status = Status.INTERRUPTED
        if current is not None:
            stack.append(current)
        if status is Status.OPTIMAL:
            upper = max(self.closed, self.best_value, self.undecided)
            threshold = self.best_value * (1 + 0.5e-9) if self.best_value > 0 else self.best_value
            if self.undecided > threshold:
                status = Status.ERROR
                self.stats["no_proof"] = (f"{self.stats['undecided']} region(s) that no exact certificate decides "
                                          "may hold a larger value")
        else:
            upper = max([self.closed, self.best_value, self.undecided] + [self.node_bound(node) for node in stack])
        self.progress.update(self.lower_value(), upper, self.stats["nodes"], force=True)
        return DeepOutcome(status, self.lower_value(), self.best_point, upper, self.stats)

    def lower_value(self) -> float | None:
        return None if self.best_value == -math.inf else self.best_value

    def keep_undecided(self, node: DeepNode) -> None:
        self.stats["undecided"] += 1
        self.undecided = max(self.undecided, self.node_bound(node))

    def leaf(self, node: DeepNode) -> None:
        self.stats["cells"] += 1
        J = self.net.jacobian_of_patterns(node.patterns)
        value = float(jacobian_norms(J, self.norm))
        self.closed = max(self.closed, value)
        if value > self.best_value:
            self.best_value, self.best_point = value, node.point

    def process(self, node: DeepNode, stack: list) -> None:
        self.stats["nodes"] += 1
        if node.point is None:
            status, point = self.find_point(node)
            if status == "empty" or (status == "nonempty" and point is None):
                self.stats["empty"] += 1
                return
            if status != "nonempty":
                self.keep_undecided(node)
                return
            node.point, node.parent_point = np.asarray(point, dtype=np.float64), None
        x = node.point
        signs = None
        while True:  # fix every unit that needs no branching
            if node.unit == self.hidden[node.layer]:
                node.patterns = node.patterns + [np.asarray(node.current, dtype=bool)]
                if node.layer == len(self.hidden) - 1:
                    self.leaf(node)
                    return
                node.affine = self.exact.compose(node.layer + 1, node.affine, node.patterns[-1])
                node.layer, node.unit, node.current, signs = node.layer + 1, 0, [], None
                continue
            i = node.unit
            if node.affine.zero_row(i):
                self.stats["constant_units"] += 1
                node.current = node.current + [bool(node.affine.e[i] > 0)]
                node.unit += 1
                continue
            if self.domain is not None:
                low, high = node.affine.box_range(i, self.box_low, self.box_high)
                if low >= 0 or high <= 0:  # a non-constant affine function is strictly positive (negative)
                    self.stats["stable_by_box"] += 1  # on the open box when its closed-box min (max) is >= 0 (<= 0)
                    node.current = node.current + [low >= 0]
                    node.unit += 1
                    continue
            break
        if signs is None:
            signs = node.affine.signs(x)
        side = int(signs[node.unit])
        children = []
        for on in (False, True):
            row = node.affine.row(node.unit, 1 if on else -1)
            inherits = side == (1 if on else -1)
            children.append(DeepNode(node.layer, node.unit + 1, node.patterns, node.current + [on], node.affine,
                                     node.rows + [row], x if inherits else None, None if inherits else x,
                                     node.depth + 1))
        children.sort(key=lambda child: child.point is not None)  # the inheriting child is explored first
        stack.extend(children)


def run_search(net: ReLUNetwork, norm: str, domain: Box | None, clock: Clock, node_limit: int | None = None,
               progress: bool = False) -> DeepOutcome:
    """Run :class:`DeepSearch` (see there)."""
    return DeepSearch(net, norm, domain, clock, node_limit, progress).run()


__all__.append("run_search")

