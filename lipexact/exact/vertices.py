"""Exact l1 and l_inf constants of two-layer networks, one vertex of the dual ball at a time.

For the l_inf norm ``||J||_{inf->inf} = max_k sum_j |J_kj| = max_{k, sigma} sigma . J_k`` over the output rows
``k`` and the sign vectors ``sigma in {-1, 1}^n`` (the vertices of the dual, l1, unit ball); for the l1 norm
``||J||_{1->1} = max_{j, tau} sum_k tau_k J_kj`` over the input columns ``j`` and ``tau in {-1, 1}^m``. With
``J = W2 diag(s) W1`` each such functional is linear in the activation pattern: ``sum_i d_i s_i`` with
``d_i = W2_ki (W1_i . sigma)`` (l_inf) or ``d_i = W1_ij (tau . W2_:i)`` (l1). So the constant is the largest,
over ``m 2^n`` (or ``n 2^m``) weight vectors ``d``, of a maximum-weight cell problem: the largest
``sum_i d_i s_i`` over the patterns ``s`` realized on an open set (inside the open box).

Each weight vector is solved by a depth-first branch and bound over the units, from the vertex with the largest
bound ``U = sum_i max(d_i, 0)`` down, with one incumbent (the best certified cell) for all of them:

- a node fixes some units (rows of its region); its bound is ``U`` minus the weights of the units fixed
  against their preferred state (on for ``d_i > 0``, off for ``d_i < 0``);
- a free unit whose weight exceeds the bound's excess over the incumbent must take its preferred state in any
  better cell: it is fixed so without branching (its other side is pruned by the bound);
- the node's region is decided by one Chebyshev LP whose point, or Farkas proposal, is verified in exact
  rational arithmetic (:class:`lipexact.exact.region_decider.RegionDecider`, falling back to
  :func:`reductions.realizability.decide_region`); an empty region is pruned by its certificate;
- at the region's point every unit's sign is computed exactly; a point strictly inside its cell is offered as
  the incumbent (its cell's norm, which is at least the functional's value there). When every free unit has its
  preferred sign there, the node's bound is reached by that cell and the node is closed; otherwise the search
  branches on the free unit of largest weight not in its preferred state (preferred side first; the other child
  keeps the point).

Every prune compares a float bound plus a rigorous bound on its rounding error (:func:`rounding_margin`) with the
incumbent's value; a region prunes only by a verified certificate. The result is ``optimal`` when every vertex is
closed and no region was left undecided above the incumbent; a time or node limit returns the proven bracket.

Measured (``python -m benchmarks.anchor``, issue 13's two-layer anchor: n = 10, N(0, 1) weights and biases,
scalar output, l_inf, every unit unstable on the box, 5 seeds per width, medians, load 0.6-1.1): h = 32 / 48 / 64
in 0.03 / 0.21 / 1.94 s, 15 of 15 proven, against 1.06 / 3.92 / 16.6 s for a plain big-M MILP solved by HiGHS
(36x, 18x, 8.5x) and 0.90 / 5.13 / 18.8 s for the exact deep MILP. Of the 1,024 vertices, 1 to 50 are searched
(the others' bounds are below the incumbent); at h = 48, seed 0, 731 nodes fixed 2,228 units by the forcing rule.
Wider nets of that family: h = 96 proved 1 of 3 within 120 s (74.6 s; the others at [94.3, 132.9] and
[86.4, 102.0]), h = 128 none of 2 (load 1.0-2.4). The incumbent is not what limits them: started from the optimum,
h = 96 seed 2 took 102,198 nodes instead of 102,340. Tried and not adopted: at every node, one region decision
per free unit in its non-preferred state, fixing those whose preferred side is proven empty (and lowering the
bound by their weights): 1.8-10x fewer nodes but 1.2-6.7x more LPs, and no faster: slower on 2 of 4 nets at
h = 48-64 with 4 units tried per node, on 3 of 4 with every unit.

References
----------
Scaman, K. and Virmaux, A. Lipschitz regularity of deep neural networks: analysis and efficient
estimation. NeurIPS 2018 (arXiv:1805.10965).

Jordan, M. and Dimakis, A. G. Exactly computing the local Lipschitz constant of ReLU networks.
NeurIPS 2020 (arXiv:2003.01219) (the dual-norm view of the l1 and l_inf objectives).

Examples
--------
>>> from lipexact.network import TwoLayerReLU
>>> from lipexact.exact.problem import validate_problem
>>> net = TwoLayerReLU([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], [[1.0, -2.0, 1.0]], b1=[0.0, 0.0, -1.0])
>>> result = solve_vertices(validate_problem(net, "inf", ([-2, -2], [2, 2])), Clock())
>>> result.status.value, result.value, result.stats["vertices"]
('optimal', 3.0, 4)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lipexact.exact.patterns import pattern_chunks, pattern_values
from lipexact.exact.problem import Clock, Problem, certified_result
from lipexact.exact.progress import SearchProgress
from lipexact.exact.region_decider import RegionDecider
from lipexact.result import LipschitzResult, Status
from reductions.realizability import ExactRows, decide_region, exact_signs
from reductions.validation import InvalidInputError

__all__ = ["solve_vertices", "functionals", "functional_count", "rounding_margin", "MAX_FUNCTIONALS"]

#: The most weight vectors (``m 2^n`` for l_inf, ``n 2^m`` for l1) the method accepts.
MAX_FUNCTIONALS = 1 << 16

_PROOF = ("every vertex of the dual ball (a linear functional of the pattern) closed: its cells either reach a "
          "certified witness's value or are pruned by a bound with its rounding error, or lie in regions proven "
          "empty by exact Farkas certificates")


def functional_count(n_inputs: int, n_outputs: int, norm: str) -> int | None:
    """How many weight vectors the norm splits into (None for the l2 norm, which is not such a maximum).

    Examples
    --------
    >>> functional_count(10, 1, "inf"), functional_count(10, 1, "1"), functional_count(10, 1, "2")
    (1024, 20, None)
    """
    if norm == "inf":
        return n_outputs << n_inputs
    if norm == "1":
        return n_inputs << n_outputs
    return None


def _check(problem: Problem) -> None:
    net = problem.net
    count = functional_count(net.n_inputs, net.n_outputs, problem.norm)
    if count is None:
        raise InvalidInputError("norm", "1 or inf for method='vertices' (the l2 norm is not a maximum of finitely "
                                "many linear functionals of the pattern)", problem.norm)
    if count > MAX_FUNCTIONALS:
        what = "m 2^n (l_inf)" if problem.norm == "inf" else "n 2^m (l1)"
        raise InvalidInputError("net", f"at most {MAX_FUNCTIONALS} vertices {what} for method='vertices'",
                                f"{count} (n = {net.n_inputs}, m = {net.n_outputs})")


def functionals(net, norm: str) -> np.ndarray:
    """The weight vectors ``d`` (columns, shape ``(h, K)``): ``||W2 diag(s) W1||_p = max_k d_k . s``.

    Examples
    --------
    >>> from lipexact.network import TwoLayerReLU
    >>> net = TwoLayerReLU([[1.0, 2.0]], [[3.0]])
    >>> functionals(net, "inf").tolist()          # sigma = (-1, -1), (1, -1), (-1, 1), (1, 1)
    [[-9.0, -3.0, 3.0, 9.0]]
    >>> functionals(net, "1").tolist()            # (j, tau) = (0, -1), (0, 1), (1, -1), (1, 1)
    [[-3.0, 3.0, -6.0, 6.0]]
    """
    W1 = np.asarray(net.W1, dtype=np.float64)
    W2 = np.asarray(net.W2, dtype=np.float64)
    if norm == "inf":
        signs = _sign_vectors(W1.shape[1])  # (2^n, n)
        return np.concatenate([W2[k][:, None] * (W1 @ signs.T) for k in range(W2.shape[0])], axis=1)
    signs = _sign_vectors(W2.shape[0])  # (2^m, m)
    mixed = signs @ W2  # (2^m, h): tau . W2_:i
    return np.concatenate([W1[:, j][:, None] * mixed.T for j in range(W1.shape[1])], axis=1)


def _sign_vectors(n: int) -> np.ndarray:
    """Every vector of ``{-1, 1}^n``, vector ``k`` with entry ``j`` equal to 1 iff bit ``j`` of ``k`` is set."""
    return np.where(np.concatenate(list(pattern_chunks(n))), 1.0, -1.0)


def rounding_margin(net, norm: str) -> float:
    """A bound on the rounding error of any node bound: sums and differences of at most ``2h`` weights, each a
    float product ``W2_ki (W1_i . sigma)`` (or ``W1_ij (tau . W2_:i)``) of at most ``max(n, m) + 1`` roundings.
    Relative to the largest possible functional value, so scale-free.

    Examples
    --------
    >>> from lipexact.network import TwoLayerReLU
    >>> margin = rounding_margin(TwoLayerReLU([[1.0, 2.0]], [[3.0]]), "inf")
    >>> 0 < margin < 1e-12
    True
    """
    W1 = np.abs(np.asarray(net.W1, dtype=np.float64))
    W2 = np.abs(np.asarray(net.W2, dtype=np.float64))
    total = float(np.max(W2 @ W1.sum(axis=1))) if norm == "inf" else float(np.max(W1.T @ W2.sum(axis=0)))
    operations = 2 * W1.shape[0] + max(W1.shape[1], W2.shape[0]) + 4
    unit = 2.0 ** -53
    return 4.0 * operations * unit * total * (1 + 1e-6)


@dataclass
class _Node:
    fixed: dict  # unit -> on (bool)
    bound: float
    point: np.ndarray | None


class _VertexSearch:
    def __init__(self, problem: Problem, clock: Clock, node_limit: int | None):
        net = problem.net
        self.problem, self.clock, self.node_limit = problem, clock, node_limit
        self.W1 = np.asarray(net.W1, dtype=np.float64)
        self.b1 = np.asarray(net.hidden_bias, dtype=np.float64)
        self.h, self.n = self.W1.shape
        self.live = np.any(self.W1 != 0, axis=1)
        self.dead_on = ~self.live & (self.b1 > 0)  # a dead unit has its bias's sign everywhere
        domain = problem.domain
        self.lower = None if domain is None else domain.lower
        self.upper = None if domain is None else domain.upper
        self.regions = RegionDecider(self.n, self.lower, self.upper)
        units = np.flatnonzero(self.live)
        # rows of "unit i on" (index i) and "unit i off" (index h + i), exact (every float is a rational)
        self.rows = ExactRows.from_fractions(np.concatenate([self.W1, -self.W1]).tolist(),
                                             np.concatenate([self.b1, -self.b1]).tolist(), n=self.n)
        self.float_rows = (np.concatenate([self.W1, -self.W1]), np.concatenate([self.b1, -self.b1]))
        self.live_rows = self.rows.take(units.tolist())
        self.live_units = units
        self.margin = rounding_margin(net, problem.norm)
        self.best_value = -math.inf
        self.best_point: np.ndarray | None = None
        self.undecided = -math.inf
        self.pending_caps = np.zeros(0)
        self.next_vertex = 0
        self.stack: list = []  # the open nodes of the vertex being searched
        self.current = -math.inf  # a bound on the node being processed (its own), for a bracket after Ctrl-C
        self.progress = SearchProgress("vertices", problem.progress)
        self.stats = {"vertices": 0, "vertices_searched": 0, "nodes": 0, "lps": 0, "forced": 0, "empty": 0,
                      "undecided": 0, "incumbent_updates": 0}

    # ------------------------------------------------------------------ cells
    def signs_at(self, x: np.ndarray) -> np.ndarray:
        """Exact signs (-1, 0, 1) of every unit's pre-activation at ``x`` (dead units: their bias's sign)."""
        signs = np.where(self.b1 > 0, 1, np.where(self.b1 < 0, -1, 0)).astype(np.int64)
        if self.live_units.size:
            signs[self.live_units] = exact_signs(self.W1[self.live_units], self.b1[self.live_units], x,
                                                 exact=self.live_rows)
        return signs

    def offer(self, x: np.ndarray, signs: np.ndarray) -> None:
        """Keep ``x`` when it lies strictly inside its cell and the open box and its cell is better."""
        if np.any(signs[self.live] == 0):
            return
        if self.lower is not None and not (np.all(x > self.lower) and np.all(x < self.upper)):
            return
        pattern = signs > 0  # dead units: the sign of their bias (signs_at)
        value = float(pattern_values(self.problem.net, pattern[None], self.problem.norm)[0])
        if value > self.best_value:
            self.best_value, self.best_point = value, np.asarray(x, dtype=np.float64).copy()
            self.stats["incumbent_updates"] += 1

    def decide(self, fixed: dict):
        """Status and point of the region of the fixed units: ("nonempty", x), ("empty", None) or
        ("undecided", None)."""
        indices = [i if on else self.h + i for i, on in fixed.items()]
        exact = self.rows.take(indices)
        A, c = self.float_rows[0][indices], self.float_rows[1][indices]
        self.stats["lps"] += 1
        decision = self.regions.decide(A, c, exact)
        if decision is None:
            decision = decide_region(A, c, self.lower, self.upper, exact=exact)
        if decision.nonempty:
            return "nonempty", np.asarray(decision.point, dtype=np.float64)
        return ("empty", None) if decision.empty else ("undecided", None)

    # ------------------------------------------------------------------ one vertex
    def threshold(self) -> float:
        return self.best_value - self.margin

    def search_vertex(self, d: np.ndarray, bound: float, stack: list) -> Status | None:
        """Depth-first search of one weight vector; the open nodes stay on ``stack`` when a limit stops it."""
        weights = np.abs(d)
        preferred = d > 0
        relevant = self.live & (weights > 0)
        fixed0 = {}
        for i in np.flatnonzero(~self.live):  # dead units: their state is given (a wrong one costs its weight)
            if self.dead_on[i] != preferred[i] and weights[i] > 0:
                bound -= weights[i]
        self.current = bound  # the vertex's cap bounds every node below it, the root before it is pushed
        stack.append(_Node(fixed0, bound, None))
        while stack:
            if self.clock.expired():
                return Status.TIME_LIMIT
            if self.node_limit is not None and self.stats["nodes"] >= self.node_limit:
                return Status.NODE_LIMIT
            self.current = stack[-1].bound  # before the pop: a Ctrl-C never finds a node in neither place
            node = stack.pop()
            self.stats["nodes"] += 1
            if node.bound <= self.threshold():
                continue
            fixed = node.fixed
            excess = node.bound - self.threshold()
            forced = [i for i in np.flatnonzero(relevant & (weights >= excess)).tolist() if i not in fixed]
            if forced:
                fixed = dict(fixed)
                for i in forced:
                    fixed[i] = bool(preferred[i])
                self.stats["forced"] += len(forced)
            x = node.point
            signs = None if x is None else self.signs_at(x)
            if signs is not None and forced:
                at_x = signs[forced]
                if not np.array_equal(at_x > 0, preferred[forced]) or np.any(at_x == 0):
                    x = signs = None  # the point is outside the forced rows: a new region decision
            if x is None:
                status, x = self.decide(fixed)
                if status == "empty":
                    self.stats["empty"] += 1
                    continue
                if status == "undecided":
                    self.stats["undecided"] += 1
                    self.undecided = max(self.undecided, node.bound + self.margin)
                    continue
                signs = self.signs_at(x)
            self.offer(x, signs)
            if self.progress.enabled:
                self.progress.update(self.lower_value(), self.upper_so_far(stack, node.bound), self.stats["nodes"])
            free = np.array([i not in fixed for i in range(self.h)], dtype=bool) & self.live
            wrong = free & ((signs == 0) | (relevant & ((signs > 0) != preferred)))
            if not np.any(wrong):
                continue  # the cell of x is certified and reaches the node's bound: closed
            unit = int(np.flatnonzero(wrong)[np.argmax(weights[wrong])])
            keep_x = signs[unit] != 0
            against = dict(fixed)
            against[unit] = not preferred[unit] if relevant[unit] else bool(signs[unit] < 0)
            along = dict(fixed)
            along[unit] = bool(preferred[unit]) if relevant[unit] else bool(signs[unit] > 0)
            cost = weights[unit] if relevant[unit] else 0.0
            stack.append(_Node(against, node.bound - cost, x if keep_x and against[unit] == (signs[unit] > 0) else None))
            stack.append(_Node(along, node.bound, x if keep_x and along[unit] == (signs[unit] > 0) else None))
        return None

    # ------------------------------------------------------------------ all vertices
    def lower_value(self) -> float | None:
        return None if self.best_value == -math.inf else self.best_value

    def upper_so_far(self, stack: list, current: float) -> float:
        rest = self.pending_caps[self.next_vertex] if self.next_vertex < len(self.pending_caps) else -math.inf
        return max([self.best_value, self.undecided, current + self.margin, rest + self.margin]
                   + [node.bound + self.margin for node in stack])

    def run(self) -> tuple[Status, float]:
        D = functionals(self.problem.net, self.problem.norm)
        caps = np.maximum(D, 0.0).sum(axis=0)
        order = np.argsort(-caps, kind="stable")
        self.stats["vertices"] = int(D.shape[1])
        self.pending_caps = caps[order]
        stack = self.stack
        for position, k in enumerate(order.tolist()):
            self.current = float(caps[k])  # first: with the pointer moved on, a Ctrl-C still sees this cap
            self.next_vertex = position + 1
            if caps[k] <= self.threshold():  # so are the caps of every later vertex
                self.next_vertex = len(order)
                break
            self.stats["vertices_searched"] += 1
            stopped = self.search_vertex(D[:, k], float(caps[k]), stack)
            if stopped is not None:
                return stopped, self.upper_so_far(stack, -math.inf)
        return Status.OPTIMAL, max(self.best_value, self.undecided)


def solve_vertices(problem: Problem, clock: Clock, node_limit: int | None = None) -> LipschitzResult:
    """Exact l1 or l_inf constant by a branch and bound per vertex of the dual ball (module docstring).

    Parameters
    ----------
    problem, clock
        As for every method of :data:`lipexact.exact.METHODS`; the norm must be 1 or inf and the number of
        vertices (``m 2^n`` for l_inf, ``n 2^m`` for l1) at most :data:`MAX_FUNCTIONALS`.
    node_limit : int, optional
        Stop after this many nodes (over all vertices) with status ``node_limit`` and the proven bracket.

    Returns
    -------
    LipschitzResult
    """
    _check(problem)
    search = _VertexSearch(problem, clock, node_limit)
    try:
        status, upper = search.run()
    except KeyboardInterrupt:  # the proven bracket: open nodes, the node in hand, the vertices not searched
        status, upper = Status.INTERRUPTED, search.upper_so_far(search.stack, search.current)
    message = (f"{status.value}: {search.stats['vertices_searched']} of {search.stats['vertices']} vertices searched, "
               f"{search.stats['nodes']} nodes, {search.stats['lps']} LPs")
    if status is Status.OPTIMAL and search.undecided > search.best_value:
        status = Status.ERROR
        message = (f"no proof: {search.stats['undecided']} region(s) that no exact certificate decides may hold a "
                   "larger value")
    if status is Status.OPTIMAL:
        upper = search.best_value
    search.progress.update(search.lower_value(), upper, search.stats["nodes"], force=True)
    return certified_result(problem, "vertices", clock, status=status, witness=search.best_point,
                            upper=None if not math.isfinite(upper) else upper, upper_proof=_PROOF, message=message,
                            stats=search.stats)
