"""The search space of the exact solvers, its region LP, and the depth-first tree search they share.

:class:`Arrangement` turns a problem into hyperplane groups: units whose ``(w_i, b_i)`` are exactly
proportional share one hyperplane (a positive multiple has the same sign, a negative one the opposite sign),
dead units and groups whose Jacobian contribution vanishes leave the search, and on a box domain the units
whose hyperplane misses the box are fixed. The Jacobian of a group pattern ``t in {0,1}^G`` is
``base + sum_g t_g A_g``.

:class:`RegionLP` decides whether a partial pattern's open region meets the search box: one HiGHS model
kept alive across the search, rows switched on and off by their bounds (so every solve is warm-started),
maximizing the radius ``r`` of a ball inside the region (a Chebyshev centre). Its point is central, which
lets children inherit it and lets the cheap ray test (:meth:`TreeSearch.ray_point`) decide most feasible
children without an LP. Unclear LP answers (``|r| <=`` tolerance, or a point that fails the re-check)
are sent to the reference LP :func:`~lipexact.exact.realizability.realizing_point`.

:class:`TreeSearch` is the depth-first search over partial patterns: a node is a partial group pattern with
a point of its region. ``cell enumeration`` is this search without bound pruning; branch and bound adds a
node bound. Memory is the open stack (at most two nodes per level).
"""

from __future__ import annotations

import contextlib
import heapq
import math
import time
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable

import numpy as np

from lipexact.domain import Box
from lipexact.exact.problem import RELATIVE_TOLERANCE, Clock, Problem
from lipexact.exact.planar import Lines, Polygon, covering_box
from lipexact.exact.progress import SearchProgress
from lipexact.exact.realizability import realizing_point
from lipexact.network import TwoLayerReLU
from lipexact.norms import jacobian_norms
from lipexact.result import Status

__all__ = ["Arrangement", "build_arrangement", "RegionLP", "Node", "TreeSearch", "SearchOutcome", "small_blas"]

#: Memory (bytes, estimated) of the open nodes beyond which best-first selection falls back to depth-first.
BEST_FIRST_MEMORY = 2e8

#: ``|r*|`` below this fraction of the search scale is too close to call for the fast LP.
RADIUS_TOLERANCE = 1e-7


_BLAS_CONTROLLER: Any = None


def small_blas():
    """A context in which BLAS uses one thread (``threadpoolctl``, when installed).

    The searches do many small dense operations; with several BLAS threads on a busy machine a 60 x 885
    SVD took 1.3 s instead of 6 ms. Without ``threadpoolctl`` this does nothing.
    """
    global _BLAS_CONTROLLER
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - optional
        return contextlib.nullcontext()
    if _BLAS_CONTROLLER is None:
        _BLAS_CONTROLLER = ThreadpoolController()
    return _BLAS_CONTROLLER.limit(limits=1, user_api="blas")


# --------------------------------------------------------------------------------------- arrangement
@dataclass(frozen=True, eq=False)
class Arrangement:
    """Hyperplane groups of a problem with their Jacobian contributions (see the module docstring)."""

    problem: Problem
    W: np.ndarray
    """``(G, n)`` unit-norm normal of each group's hyperplane (oriented as its representative unit)."""
    b: np.ndarray
    """``(G,)`` offsets, scaled with ``W``: the group is on where ``W x + b > 0``."""
    base: np.ndarray
    """``(m, n)`` Jacobian part that no search decision changes."""
    A: np.ndarray
    """``(G, m, n)`` Jacobian contribution of switching each group on."""
    box: Box | None
    """Box the regions must meet (the domain), None for the global constant."""
    scale: float
    """Length scale of the search (box width, the hyperplanes' distance from the origin, or 1 for cones)."""
    units: tuple
    """Original units of each group with their orientation, for reporting."""
    live: np.ndarray
    """Original units with a non-zero input row (their hyperplane must not carry the witness)."""

    @property
    def cone(self) -> bool:
        """Bias-free and global: every region is an open cone (and ``-x`` realizes the opposite pattern)."""
        return self.box is None and not self.problem.net.has_bias

    @property
    def complement_symmetric(self) -> bool:
        """Cones with ``2 base + sum_g A_g = 0``: the opposite pattern has the negated Jacobian, same norm."""
        if not self.cone or self.n_groups == 0:
            return False
        total = 2 * self.base + self.A.sum(axis=0)
        size = float(np.abs(self.base).sum() + np.abs(self.A).sum())
        return bool(np.max(np.abs(total)) <= 1e-14 * size)

    @property
    def n_groups(self) -> int:
        return self.W.shape[0]

    @property
    def n_inputs(self) -> int:
        return self.problem.net.n_inputs

    @property
    def norm(self) -> str:
        return self.problem.norm

    @property
    def scalar_output(self) -> bool:
        return self.A.shape[1] == 1

    def jacobians(self, patterns: np.ndarray) -> np.ndarray:
        """``base + sum_g t_g A_g`` for each row ``t`` of ``patterns`` (shape ``(k, G)``)."""
        T = np.asarray(patterns, dtype=np.float64)
        m, n = self.base.shape
        return self.base + (T @ self.A.reshape(self.n_groups, m * n)).reshape(-1, m, n)

    def values(self, patterns: np.ndarray) -> np.ndarray:
        """The norm of the Jacobian of each group pattern."""
        return jacobian_norms(self.jacobians(np.atleast_2d(patterns)), self.norm)

    def value_of_partial(self, jacobian: np.ndarray) -> float:
        return float(jacobian_norms(jacobian, self.norm))

    def preactivations(self, x: np.ndarray) -> np.ndarray:
        return self.W @ x + self.b

    def inside_box(self, x: np.ndarray) -> bool:
        return self.box is None or self.box.contains_interior(x)

    def witness(self, x: np.ndarray, seed: int = 0) -> np.ndarray | None:
        """A point of the same group cell as ``x`` that no live unit's hyperplane contains, or None.

        ``x`` must lie strictly inside its group cell; units left out of the search (zero contribution,
        fixed by the box) may still pass through it, so ``x`` is nudged by less than its distance to
        every group hyperplane and to the box. The reference LP is the fallback.
        """
        net = self.problem.net
        domain = self.problem.domain
        x = np.asarray(x, dtype=np.float64)
        z = self.preactivations(x)
        if np.any(z == 0) or not self.inside_box(x):
            return None
        if self._acceptable(net, x, domain):
            return x
        room = np.min(np.abs(z)) if z.size else self.scale
        if self.box is not None:
            room = min(room, float(np.min(np.minimum(x - self.box.lower, self.box.upper - x))))
        rng = np.random.default_rng(seed)
        signs = z > 0
        for shrink in (0.5, 0.1, 1e-3):
            direction = rng.standard_normal(x.size)
            candidate = x + shrink * room * direction / max(np.linalg.norm(direction), 1e-300)
            if np.array_equal(self.preactivations(candidate) > 0, signs) and np.all(self.preactivations(candidate) != 0) \
                    and self.inside_box(candidate) and self._acceptable(net, candidate, domain):
                return candidate
        pattern = net.preactivation(x) > 0
        point = realizing_point(net, pattern, domain=domain)
        return point

    def _acceptable(self, net: TwoLayerReLU, x: np.ndarray, domain: Box | None) -> bool:
        pre = net.preactivation(x)
        return bool(np.all(pre[self.live] != 0)) and (domain is None or domain.contains_interior(x))


def _proportionality(row: np.ndarray, reference: np.ndarray) -> int:
    """``+1``/``-1`` when ``row`` is exactly a positive/negative multiple of ``reference``, else 0."""
    pivot = int(np.flatnonzero(reference)[0])
    if row[pivot] == 0:
        return 0
    ratio = Fraction(float(row[pivot])) / Fraction(float(reference[pivot]))
    for a, r in zip(row.tolist(), reference.tolist()):
        if Fraction(a) != ratio * Fraction(r):
            return 0
    return 1 if ratio > 0 else -1


def _hyperplane_groups(rows: np.ndarray, units: np.ndarray) -> list[list[tuple[int, int]]]:
    """Group the units whose rows ``(w, b)`` are exactly proportional; each member with its orientation."""
    buckets: dict[tuple, list[list[tuple[int, int]]]] = {}
    groups: list[list[tuple[int, int]]] = []
    for unit in units.tolist():
        row = rows[unit]
        pivot = row[np.flatnonzero(row)[0]]
        key = tuple(np.round(row / abs(pivot), 9) * np.sign(pivot))
        placed = False
        for group in buckets.get(key, []):
            orientation = _proportionality(row, rows[group[0][0]])
            if orientation:
                group.append((unit, orientation))
                placed = True
                break
        if not placed:
            group = [(unit, 1)]
            groups.append(group)
            buckets.setdefault(key, []).append(group)
    return groups


def build_arrangement(problem: Problem) -> Arrangement:
    """The group arrangement of ``problem`` (see :class:`Arrangement`).

    Examples
    --------
    >>> from lipexact.exact.problem import validate_problem
    >>> net = TwoLayerReLU([[1, 0], [2, 0], [-1, 0], [0, 1], [0, 0]], [[1, 1, 1, 1, 5]])
    >>> arrangement = build_arrangement(validate_problem(net))
    >>> arrangement.n_groups, arrangement.units[0]
    (2, ((0, 1), (1, 1), (2, -1)))
    >>> arrangement.values([[1, 1]]).tolist()   # x_1 > 0, x_2 > 0: gradient (1 + 2 - 0, 1)
    [3.1622776601683795]
    """
    net = problem.net
    W1 = np.asarray(net.W1, dtype=np.float64)
    b1 = np.asarray(net.hidden_bias, dtype=np.float64)
    W2 = np.asarray(net.W2, dtype=np.float64)
    h, n = W1.shape
    m = W2.shape[0]
    live = np.any(W1 != 0, axis=1)
    box = problem.domain
    rows = np.hstack([W1, b1[:, None]])
    contribution = W2.T[:, :, None] * W1[:, None, :]  # (h, m, n): a_i = W2[:, i] W1[i]
    base = np.zeros((m, n))
    kept_rows, kept_A, kept_units = [], [], []
    for group in _hyperplane_groups(rows, np.flatnonzero(live)):
        A = np.zeros((m, n))
        for unit, orientation in group:
            if orientation > 0:
                A += contribution[unit]
            else:
                base += contribution[unit]
                A -= contribution[unit]
        representative = rows[group[0][0]]
        fixed = _fixed_by_box(representative, box) if problem.domain is not None else None
        if fixed is not None:
            if fixed:
                base += A
            continue
        if not np.any(A != 0):
            continue
        kept_rows.append(representative)
        kept_A.append(A)
        kept_units.append(tuple(group))
    G = len(kept_rows)
    R = np.array(kept_rows).reshape(G, n + 1)
    lengths = np.linalg.norm(R[:, :n], axis=1) if G else np.zeros(0)
    W = R[:, :n] / lengths[:, None] if G else np.zeros((0, n))
    b = R[:, n] / lengths if G else np.zeros(0)
    if box is not None:
        scale = float(np.min(box.upper - box.lower))
    else:
        scale = 1.0 + (float(np.max(np.abs(b))) if G else 0.0)  # 1 for cones
    A = np.array(kept_A).reshape(G, m, n)
    return Arrangement(problem=problem, W=W, b=b, base=base, A=A, box=box, scale=scale, units=tuple(kept_units),
                       live=live)


def _fixed_by_box(row: np.ndarray, box: Box) -> bool | None:
    """True/False when the unit is on/off on the whole box interior (with a rounding margin), else None."""
    w, bias = row[:-1], row[-1]
    low = bias + float(np.sum(np.minimum(w * box.lower, w * box.upper)))
    high = bias + float(np.sum(np.maximum(w * box.lower, w * box.upper)))
    slack = 1e-9 * (abs(bias) + float(np.sum(np.abs(w) * np.maximum(np.abs(box.lower), np.abs(box.upper)))))
    if low > slack:
        return True
    if high < -slack:
        return False
    return None


# --------------------------------------------------------------------------------------- region LP
def _highs():
    try:
        from highspy._core import _Highs as Highs  # no banner on construction
    except ImportError:  # pragma: no cover - other highspy layouts
        from highspy import Highs
    return Highs()


class _ToggledRows:
    """A HiGHS model with an "on" row (``2g``) and an "off" row (``2g + 1``) per group, enabled by their bounds.

    Only row bounds change between solves, so HiGHS restarts from the previous basis.
    """

    def __init__(self, n_columns: int, column_lower: np.ndarray, column_upper: np.ndarray, cost: np.ndarray,
                 group_rows: list[tuple[np.ndarray, np.ndarray]], box_rows: list[tuple[float, float, np.ndarray]],
                 enabled_lower: np.ndarray):
        import highspy

        self.infinity = highspy.kHighsInf
        self.optimal = highspy.HighsModelStatus.kOptimal
        self.infeasible = highspy.HighsModelStatus.kInfeasible
        self.model = _highs()
        model = self.model
        model.setOptionValue("output_flag", False)
        model.setOptionValue("presolve", "off")
        model.addVars(n_columns, column_lower, column_upper)
        for j in np.flatnonzero(cost):
            model.changeColCost(int(j), float(cost[j]))
        columns = np.arange(n_columns, dtype=np.int32)
        for on_row, off_row in group_rows:
            model.addRow(-self.infinity, self.infinity, n_columns, columns, on_row)
            model.addRow(-self.infinity, self.infinity, n_columns, columns, off_row)
        for lower, upper, row in box_rows:
            model.addRow(lower, upper, n_columns, columns, row)
        self.enabled_lower = enabled_lower  # (G, 2): lower bound of the on / off row when enabled
        self.state = np.full(len(group_rows), -1, dtype=np.int8)

    def solve(self, signs: np.ndarray):
        """Enable exactly the rows of ``signs`` (-1 free, 0 off, 1 on), solve; return (status, column values)."""
        changed = np.flatnonzero(signs != self.state)
        if changed.size:
            rows, lower = [], []
            for g in changed.tolist():
                old, new = int(self.state[g]), int(signs[g])
                if old >= 0:
                    rows.append(2 * g + 1 - old)
                    lower.append(-self.infinity)
                if new >= 0:
                    rows.append(2 * g + 1 - new)
                    lower.append(self.enabled_lower[g, 1 - new])
            self.model.changeRowsBounds(len(rows), np.array(rows, dtype=np.int32), np.array(lower, dtype=np.float64),
                                        np.full(len(rows), self.infinity))
            self.state = signs.copy()
        self.model.run()
        status = self.model.getModelStatus()
        values = np.asarray(self.model.getSolution().col_value, dtype=np.float64) if status == self.optimal else None
        return status, values


class RegionLP:
    """Is a partial group pattern's open region non-empty (inside the search box)? Two warm-started LPs.

    The first maximizes the radius ``r`` of a ball inside the region: variables ``(x, r)``,
    ``sigma_g (W_g x + b_g) >= r`` per fixed group (``W_g`` has unit norm), ``lower + r <= x <= upper - r``
    on a box, ``r <= scale``. It is always feasible and its point is central; the region is non-empty iff
    ``r* > 0``. When ``|r*|`` is too small to call, the exact formulation of
    :mod:`lipexact.exact.realizability` decides: ``sigma_g (W_g x + b_g t) >= 1``, ``t >= 1`` (box:
    ``lower t + 1 <= x <= upper t - 1``), feasible iff the region is non-empty, with no tolerance but the
    solver's. A point that fails the strict re-check goes to :func:`realizing_point` itself.
    """

    def __init__(self, arrangement: Arrangement):
        self.arrangement = arrangement
        G, n = arrangement.n_groups, arrangement.n_inputs
        self.n = n
        W, b, box = arrangement.W, arrangement.b, arrangement.box
        inf = np.inf
        # Chebyshev-centre model: columns (x, r)
        group_rows = [(np.append(W[g], -1.0), np.append(-W[g], -1.0)) for g in range(G)]
        box_rows = []
        if box is not None:
            for j in range(n):
                unit = np.zeros(n)
                unit[j] = 1.0
                box_rows.append((float(box.lower[j]), inf, np.append(unit, -1.0)))
                box_rows.append((-inf, float(box.upper[j]), np.append(unit, 1.0)))
        cost = np.zeros(n + 1)
        cost[n] = -1.0
        self.centre = _ToggledRows(n + 1, np.full(n + 1, -inf), np.append(np.full(n, inf), arrangement.scale), cost,
                                   group_rows, box_rows, np.stack([-b, b], axis=1) if G else np.zeros((0, 2)))
        # exact model: columns (x, t), t >= 1
        group_rows = [(np.append(W[g], b[g]), np.append(-W[g], -b[g])) for g in range(G)]
        box_rows = []
        if box is not None:
            for j in range(n):
                unit = np.zeros(n)
                unit[j] = 1.0
                box_rows.append((1.0, inf, np.append(unit, -box.lower[j])))
                box_rows.append((-inf, -1.0, np.append(unit, -box.upper[j])))
        self.exact = _ToggledRows(n + 1, np.append(np.full(n, -inf), 1.0), np.full(n + 1, inf), np.zeros(n + 1),
                                  group_rows, box_rows, np.ones((G, 2)))
        self.solves = 0
        self.exact_solves = 0
        self.fallbacks = 0

    def point(self, signs: np.ndarray) -> np.ndarray | None:
        """A point of the open region of ``signs`` (-1 free, 0 off, 1 on) inside the box, or None if empty."""
        self.solves += 1
        status, values = self.centre.solve(signs)
        tolerance = RADIUS_TOLERANCE * self.arrangement.scale
        if values is not None:
            radius = values[self.n]
            if radius < -tolerance:
                return None
            if radius > tolerance and _strictly_inside(self.arrangement, signs, values[: self.n]):
                return values[: self.n]
        self.exact_solves += 1
        status, values = self.exact.solve(signs)
        if status == self.exact.infeasible:
            return None
        if values is not None and values[self.n] > 0:
            x = values[: self.n] / values[self.n]
            if _strictly_inside(self.arrangement, signs, x):
                return x
        return self._reference(signs)

    def _reference(self, signs: np.ndarray) -> np.ndarray | None:
        """Decide with :func:`realizing_point` on the group rows."""
        self.fallbacks += 1
        arrangement = self.arrangement
        fixed = signs >= 0
        net = TwoLayerReLU(arrangement.W[fixed], np.ones((1, int(fixed.sum()))), b1=arrangement.b[fixed])
        x = realizing_point(net, signs[fixed] == 1, domain=arrangement.box)
        if x is None or not _strictly_inside(arrangement, signs, x):
            return None
        return x


def _strictly_inside(arrangement: Arrangement, signs: np.ndarray, x: np.ndarray) -> bool:
    fixed = np.flatnonzero(signs >= 0)
    z = arrangement.W[fixed] @ x + arrangement.b[fixed]
    return bool(np.all((z > 0) == (signs[fixed] == 1)) and np.all(z != 0) and arrangement.inside_box(x))


# --------------------------------------------------------------------------------------- tree search
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


#: bound(node_jacobian, free_groups, threshold) -> upper bound on the best completion (may stop trying to
#: improve it once it is at most ``threshold``)
BoundFunction = Callable[[np.ndarray, np.ndarray, float], float]
#: branch(search, node, free, z) -> index into ``free`` of the group to branch on
BranchRule = Callable[["TreeSearch", Node, np.ndarray, np.ndarray], int]


def first_free(search: "TreeSearch", node: Node, free: np.ndarray, z: np.ndarray) -> int:
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
    """

    def __init__(self, arrangement: Arrangement, clock: Clock, method: str, bound: BoundFunction | None = None,
                 final_bound: BoundFunction | None = None, branch: BranchRule = first_free,
                 progress: SearchProgress | None = None, incumbent: tuple[float, np.ndarray] | None = None,
                 seed: int = 0, use_symmetry: bool = True, best_first: bool = False):
        self.arrangement = arrangement
        self.clock = clock
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
        self.stats = {"nodes": 0, "lps": 0, "ray_points": 0, "pruned_by_bound": 0, "pruned_infeasible": 0,
                      "cells": 0, "max_frontier": 0, "incumbent_updates": 0,
                      "symmetry": bool(self.symmetric), "planar_decisions": 0, "planar_forced": 0}
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
        if _strictly_inside(arrangement, node.signs, candidate):
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

    def run(self) -> SearchOutcome:
        dive: list[Node] = [self.root()]  # the current dive, depth first
        pool: list[tuple[float, int, Node]] = []  # best-first: the other open nodes, largest bound first
        pushed = 0
        current: Node | None = None
        status = Status.OPTIMAL
        try:
            while dive or pool:
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
            upper = max(self.closed, self.best_value)
        else:
            upper = max(self.closed, self.best_value, self.frontier_bound(stack))
        if self._lp is not None:
            self.stats["lp_exact"] = self._lp.exact_solves
            self.stats["lp_fallbacks"] = self._lp.fallbacks
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
            node.point = self.find_point(node)
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
            inherits = (z[position] > 0) == (side == 1) and z[position] != 0
            child = Node(signs, jacobian, math.inf, x if inherits else None,
                         parent_point=None if inherits else x, branched=g, depth=node.depth + 1,
                         state=None if self.child_state is None else self.child_state(node.state, position))
            if node.polygon is not None:
                where = node.polygon.side(self.lines, g, 1.0 if side == 1 else -1.0)
                if where < 0:
                    stats["pruned_infeasible"] += 1
                    stats["planar_decisions"] += 1
                    continue
                if where > 0:
                    stats["planar_decisions"] += 1
                    child.polygon = node.polygon.cut(self.lines, g, 1.0 if side == 1 else -1.0)
                    if child.point is None:
                        point = child.polygon.interior_point()
                        if point is not None and _strictly_inside(arrangement, signs, point):
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
