"""Is a partial pattern's open region non-empty? Warm-started LPs on the hyperplane groups.

One HiGHS model is kept alive for a whole search; each group has an "on" and an "off" row, switched on and
off through their bounds, so that consecutive solves restart from the previous basis. The LP maximizes
the radius of a ball inside the region (a Chebyshev centre): its point is central, which lets the children
of a node inherit it and lets cheap ray steps decide most other children without an LP. This LP only
proposes: a region counts as non-empty when its point passes the exact check of :func:`strictly_inside`,
and every other answer (an empty region, a radius too small to call, a point that fails the check) is
decided by :func:`reductions.realizability.decide_region` with an exactly verified certificate, on the
network's own rows.
"""

from __future__ import annotations

import numpy as np

from lipexact.exact.arrangement import Arrangement
from lipexact.exact.highs import new_highs
from lipexact.exact.realizability import UndecidedRegionError
from reductions.realizability import certificate_from_duals, certify_point, decide_region, rows_of_pattern

__all__ = ["RegionLP", "strictly_inside", "representative_rows", "RADIUS_TOLERANCE"]

#: A radius below this fraction of the search scale is too small for the fast LP's point to be trusted.
RADIUS_TOLERANCE = 1e-7


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
        self.model = new_highs(threads=1)  # small LPs: one thread
        model = self.model
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
        """Enable exactly the rows of ``signs`` (-1 free, 0 off, 1 on), solve; return (status, column values,
        row duals)."""
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
        if status != self.optimal:
            return status, None, None
        solution = self.model.getSolution()
        return status, np.asarray(solution.col_value, dtype=np.float64), np.asarray(solution.row_dual, dtype=np.float64)


class RegionLP:
    """Is a partial group pattern's open region non-empty (inside the search box)? A warm-started LP proposes.

    It maximizes the radius ``r`` of a ball inside the region: variables ``(x, r)``,
    ``sigma_g (W_g x + b_g) >= r`` per fixed group (``W_g`` has unit norm), ``lower + r <= x <= upper - r``
    on a box, ``r <= scale``. It is always feasible and its point is central. A radius clearly above zero
    whose point passes the exact check of :func:`strictly_inside` decides "non-empty"; everything else goes
    to :meth:`decide` (exact certificates, :mod:`reductions.realizability`).

    Examples
    --------
    >>> from lipexact.exact.arrangement import build_arrangement
    >>> from lipexact.exact.problem import validate_problem
    >>> from lipexact.network import TwoLayerReLU
    >>> net = TwoLayerReLU([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], [[1.0, 2.0, 3.0]], b1=[0.0, 0.0, -3.0])
    >>> lp = RegionLP(build_arrangement(validate_problem(net)))
    >>> lp.point(np.array([0, 0, 1], dtype=np.int8)) is None   # x < 0, y < 0 and x + y > 3: empty
    True
    >>> x = lp.point(np.array([1, -1, 0], dtype=np.int8))      # x > 0 and x + y < 3 (y free)
    >>> bool(x[0] > 0 and x[0] + x[1] < 3)
    True
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
        self.rows, self.offsets = representative_rows(arrangement)
        self.lengths = np.linalg.norm(self.rows, axis=1) / np.maximum(np.linalg.norm(arrangement.W, axis=1), 1e-300)
        self.solves = 0
        self.exact_solves = 0
        self.undecided = 0

    def point(self, signs: np.ndarray) -> np.ndarray | None:
        """A point of the open region of ``signs`` (-1 free, 0 off, 1 on) inside the box, None if proven empty.

        Raises :class:`~lipexact.exact.realizability.UndecidedRegionError` when no certificate verifies.
        """
        self.solves += 1
        status, values, duals = self.centre.solve(signs)
        tolerance = RADIUS_TOLERANCE * self.arrangement.scale
        if values is not None and values[self.n] > tolerance and strictly_inside(self.arrangement, signs, values[: self.n]):
            return values[: self.n]
        if values is not None and values[self.n] < -tolerance and self._certified_empty(signs, duals):
            return None
        return self.decide(signs)

    def _certified_empty(self, signs: np.ndarray, duals: np.ndarray) -> bool:
        """Whether the warm LP's duals, verified exactly, prove the region empty (no second LP needed)."""
        fixed = np.flatnonzero(signs >= 0)
        rows = 2 * fixed + 1 - signs[fixed].astype(int)
        multipliers = np.abs(duals[rows]) / self.lengths[fixed]  # the LP's rows are the network's / length
        A, c = rows_of_pattern(self.rows[fixed], self.offsets[fixed], signs[fixed] == 1)
        box = self.arrangement.box
        if box is None:
            return certificate_from_duals(A, c, multipliers) is not None
        faces = np.abs(duals[2 * self.arrangement.n_groups:]).reshape(self.n, 2)  # (lower, upper) per coordinate
        return certificate_from_duals(A, c, multipliers, box.lower, box.upper,
                                      np.concatenate([faces[:, 0], faces[:, 1]])) is not None

    def decide(self, signs: np.ndarray) -> np.ndarray | None:
        """Decide the region of ``signs`` with exact certificates (see the module docstring)."""
        self.exact_solves += 1
        fixed = np.flatnonzero(signs >= 0)
        A, c = rows_of_pattern(self.rows[fixed], self.offsets[fixed], signs[fixed] == 1)
        box = self.arrangement.box
        decision = decide_region(A, c) if box is None else decide_region(A, c, box.lower, box.upper)
        if decision.undecided:
            self.undecided += 1
            raise UndecidedRegionError(decision.message)
        return decision.point


def representative_rows(arrangement: Arrangement) -> tuple[np.ndarray, np.ndarray]:
    """The network's own rows of the groups (:meth:`Arrangement.own_rows`)."""
    return arrangement.own_rows()


def strictly_inside(arrangement: Arrangement, signs: np.ndarray, x: np.ndarray) -> bool:
    """True when ``x`` is inside the search box and strictly on the side ``signs`` fixes of every fixed group,
    checked in exact arithmetic on the network's own rows.

    Examples
    --------
    >>> from lipexact.exact.arrangement import build_arrangement
    >>> from lipexact.exact.problem import validate_problem
    >>> from lipexact.network import TwoLayerReLU
    >>> arrangement = build_arrangement(validate_problem(TwoLayerReLU([[1.0, 0.0]], [[1.0]])))
    >>> strictly_inside(arrangement, np.array([1], dtype=np.int8), np.array([0.5, 7.0]))
    True
    >>> strictly_inside(arrangement, np.array([1], dtype=np.int8), np.array([0.0, 7.0]))
    False
    """
    if not arrangement.inside_box(x):
        return False
    fixed = np.flatnonzero(signs >= 0)
    if fixed.size == 0:
        return bool(np.all(np.isfinite(x)))
    rows, offsets = representative_rows(arrangement)
    A, c = rows_of_pattern(rows[fixed], offsets[fixed], signs[fixed] == 1)
    return certify_point(A, c, x)
