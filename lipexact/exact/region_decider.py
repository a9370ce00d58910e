"""Fast region decisions: one Chebyshev LP in HiGHS, its answer checked exactly (the deep tree search and the
two-layer per-vertex search, :mod:`lipexact.exact.vertices`, decide their regions here).

:func:`reductions.realizability.decide_region` decides a region with up to two scipy LPs (a Chebyshev LP,
then for an empty region the Farkas LP) and ~2 ms of wrapper overhead each. Here one HiGHS model, kept for
the whole search, solves the same scale-free Chebyshev LP (unit-normalized rows, the box mapped onto
``[-1, 1]^n``, global regions homogenized into ``[-1, 1]^n x [0, 1]``; the form of
``reductions.realizability._chebyshev``), passed to HiGHS in one call. The LP only proposes:

- margin clearly above zero: its point is a candidate, and the region is non-empty only when the point
  passes :func:`reductions.realizability.certify_point` on the exact rational rows;
- margin clearly below zero (with a box), or not clearly above zero (globally: the homogenized LP's margin is
  never negative, an empty region has margin 0): the LP's row duals and box-face duals are a Farkas
  proposal, and the region is empty only when
  :func:`reductions.realizability.certificate_from_duals` verifies it exactly on the rational rows;
- anything else (a margin too close to zero, a failed check, a solver status other than optimal): no
  answer, and the caller decides the region with :func:`~reductions.realizability.decide_region`.

Measured side by side in one run (branch and bound, 2-core machine under load 2.4-4.5, medians of 3; before:
``DeepSearch.fast_regions = False``, every region by ``decide_region``): 10-30-30-30-3 nets on ``[0, 0.1]^10``
(two seeds, norms 2, 1, inf): the same nodes, values and statuses; the time in ``find_point`` 2.9-4.1x smaller
(seed 0, l2: 9.7 s -> 2.4 s for 983 regions, none left to the fallback), the whole search 1.26-1.86x faster.
11-24-24-1 globally, l2, 30 s: ``find_point`` 8.4 s -> 4.4 s, nodes processed 3,068 -> 3,409 (the node bounds
dominate there); 7-8 of ~1,200 regions per run went to the fallback (empty regions whose degenerate duals at
margin 0 did not verify). Warm starting (one model, the common prefix of rows kept, the other rows deleted and
added) was measured and not adopted: 15.5 -> 8.5 simplex iterations per LP but 0.70 -> 0.51 ms per LP, about
1% of the search, the regions having ~13 rows.
"""

from __future__ import annotations

import numpy as np

from lipexact.exact.highs import new_highs
from reductions.realizability import (EMPTY, NONEMPTY, ExactRows, RegionDecision, certificate_from_duals,
                                      certify_point)

__all__ = ["RegionDecider", "MARGIN_TOLERANCE"]

#: A Chebyshev margin (rows of unit length, the box or the homogenized space of radius one) within this of
#: zero is not trusted either way: the region goes to ``decide_region``.
MARGIN_TOLERANCE = 1e-7


class RegionDecider:
    """Propose and exactly verify region decisions ``{x : A x + c > 0, lower < x < upper}`` of one search.

    Parameters
    ----------
    n : int
        Number of inputs.
    lower, upper : ndarray, shape (n,), optional
        The open box of the search (both or neither).

    Attributes
    ----------
    solves : int
        LPs solved.
    nonempty, empty, passed : int
        Decisions made (point verified, duals verified) and regions handed back undecided (None).

    Examples
    --------
    >>> from fractions import Fraction
    >>> rows = ExactRows.from_fractions([[1, 0], [0, 1]], [0, 0])          # x > 0, y > 0 in (-1, 1)^2
    >>> lp = RegionDecider(2, np.array([-1.0, -1.0]), np.array([1.0, 1.0]))
    >>> decision = lp.decide(rows.A, rows.c, rows)
    >>> decision.status, bool(np.all(decision.point > 0))
    ('nonempty', True)
    >>> rows = ExactRows.from_fractions([[1, 0], [-1, 0]], [Fraction(-1, 2), Fraction(-1, 2)])  # x > 1/2, x < -1/2
    >>> decision = lp.decide(rows.A, rows.c, rows)
    >>> decision.status, decision.multipliers[0] == decision.multipliers[1] > 0
    ('empty', True)
    >>> rows = ExactRows.from_fractions([[1, 0], [-1, 0]], [0, 0])            # x > 0 and x < 0: margin 0
    >>> lp.decide(rows.A, rows.c, rows) is None
    True
    """

    def __init__(self, n: int, lower: np.ndarray | None = None, upper: np.ndarray | None = None):
        import highspy

        self.n = int(n)
        self.lower = None if lower is None else np.asarray(lower, dtype=np.float64).reshape(self.n)
        self.upper = None if upper is None else np.asarray(upper, dtype=np.float64).reshape(self.n)
        if self.lower is not None:
            self.centre = self.lower + (self.upper - self.lower) / 2
            self.half = (self.upper - self.lower) / 2
        self.model = new_highs(threads=1)
        self.model.setOptionValue("presolve", "off")
        self._optimal = highspy.HighsModelStatus.kOptimal
        self._rowwise = int(highspy.MatrixFormat.kRowwise)
        self._minimize = int(highspy.ObjSense.kMinimize)
        self._infinity = float(highspy.kHighsInf)
        self._continuous = np.zeros(self.n + 2, dtype=np.int32)
        self.solves = self.nonempty = self.empty = self.passed = 0

    # ------------------------------------------------------------------ the LP
    def _scaled_rows(self, A: np.ndarray, c: np.ndarray):
        """Unit rows and shifts of the scale-free form, the row lengths, the global scale; None if not finite."""
        if self.lower is not None:
            rows, offsets, scale = A * self.half, A @ self.centre + c, 1.0
        else:
            lengths = _lengths(A)
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                reach = float(np.max(np.abs(c) / lengths)) if A.shape[0] else 0.0
                scale = reach if reach > 0 else 1.0  # the hyperplanes' typical distance from the origin
                rows = np.hstack([A * scale, c[:, None]]) if reach > 0 else A
            offsets = c
        lengths = _lengths(rows)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            unit = rows / lengths[:, None]
            shift = offsets / lengths if self.lower is not None else np.zeros(A.shape[0])
        if not (np.all(np.isfinite(unit)) and np.all(np.isfinite(shift)) and np.all(lengths > 0)
                and np.isfinite(scale)):
            return None
        return unit, shift, lengths, scale

    def solve(self, A: np.ndarray, c: np.ndarray):
        """Solve the Chebyshev LP of the rows ``(A, c)``: ``(margin, point, duals, box_duals)``, or None.

        Columns ``(y, [t], r)``, maximize ``r`` subject to ``unit_i . y + shift_i >= r`` (``unit_i . (y, t) >= r``
        globally, ``t in [0, 1]``, ``t >= r``), ``-1 + r <= y_j <= 1 - r``, ``r <= 1``. ``duals`` (per row of
        ``A``, in its units) and ``box_duals`` (faces ``x_j > lower_j`` then ``x_j < upper_j``) are the LP's
        multipliers mapped back to the original rows (non-negative).
        """
        k, n = A.shape
        scaled = self._scaled_rows(A, c)
        if scaled is None:
            return None
        unit, shift, lengths, scale = scaled
        homogeneous = unit.shape[1] == n + 1
        width = unit.shape[1] + 1  # y, [t], r
        r = width - 1
        inf = self._infinity
        # rows: k region rows, 2n box rows (y_j + r <= 1, y_j - r >= -1), [t - r >= 0]
        m = k + 2 * n + (1 if homogeneous else 0)
        matrix = np.zeros((m, width))
        matrix[:k, :unit.shape[1]] = unit
        matrix[:k, r] = -1.0
        eye = np.arange(n)
        matrix[k + eye, eye] = 1.0
        matrix[k + eye, r] = 1.0
        matrix[k + n + eye, eye] = 1.0
        matrix[k + n + eye, r] = -1.0
        row_lower = np.concatenate([-shift, np.full(n, -inf), np.full(n, -1.0)])
        row_upper = np.concatenate([np.full(k, inf), np.ones(n), np.full(n, inf)])
        if homogeneous:
            matrix[m - 1, n], matrix[m - 1, r] = 1.0, -1.0
            row_lower, row_upper = np.append(row_lower, 0.0), np.append(row_upper, inf)
        col_lower = np.full(width, -inf)
        col_upper = np.full(width, inf)
        col_upper[r] = 1.0
        if homogeneous:
            col_lower[n], col_upper[n] = 0.0, 1.0
        cost = np.zeros(width)
        cost[r] = -1.0
        nonzero = matrix != 0
        starts = np.concatenate([[0], np.cumsum(nonzero.sum(axis=1))[:-1]]).astype(np.int32)
        index = np.nonzero(nonzero)[1].astype(np.int32)
        values = matrix[nonzero]
        self.model.passModel(width, m, int(values.size), self._rowwise, self._minimize, 0.0, cost, col_lower,
                             col_upper, row_lower, row_upper, starts, index, values, self._continuous[:width])
        self.model.run()
        self.solves += 1
        if self.model.getModelStatus() != self._optimal:
            return None
        solution = self.model.getSolution()
        z = np.asarray(solution.col_value, dtype=np.float64)
        # HiGHS row duals of a minimization: >= 0 at an active lower bound, <= 0 at an active upper bound
        dual = np.asarray(solution.row_dual, dtype=np.float64)
        margin = float(z[r])
        y = z[:n]
        if self.lower is not None:
            point = self.centre + self.half * y
        elif homogeneous:
            point = scale * y / z[n] if z[n] > 0 else None
        else:
            point = y
        with np.errstate(divide="ignore", invalid="ignore"):
            duals = np.maximum(dual[:k], 0.0) / lengths
        box_duals = None
        if self.lower is not None:
            upper_faces = np.maximum(-dual[k:k + n], 0.0) / self.half  # y_j <= 1 - r  <=>  x_j < upper_j
            lower_faces = np.maximum(dual[k + n:k + 2 * n], 0.0) / self.half
            box_duals = np.concatenate([lower_faces, upper_faces])
        if not np.all(np.isfinite(duals)):
            duals = None
        return margin, point, duals, box_duals

    # ------------------------------------------------------------------ decisions
    def decide(self, A: np.ndarray, c: np.ndarray, exact: ExactRows) -> RegionDecision | None:
        """A verified decision of the region of the rational rows ``exact`` (``A, c`` their floats), or None
        when the fast path does not decide it (the caller then uses ``decide_region``)."""
        A = np.asarray(A, dtype=np.float64)
        c = np.asarray(c, dtype=np.float64).reshape(A.shape[0])
        if not (np.all(np.isfinite(A)) and np.all(np.isfinite(c))):
            self.passed += 1
            return None
        start = np.zeros(self.n) if self.lower is None else self.centre
        if certify_point(A, c, start, self.lower, self.upper, exact=exact):  # as decide_region: the centre first
            self.nonempty += 1
            return RegionDecision(NONEMPTY, point=start.copy())
        proposal = self.solve(A, c) if A.shape[0] else None
        if proposal is not None:
            margin, point, duals, box_duals = proposal
            if margin > MARGIN_TOLERANCE and point is not None and np.all(np.isfinite(point)) \
                    and certify_point(A, c, point, self.lower, self.upper, exact=exact):
                self.nonempty += 1
                return RegionDecision(NONEMPTY, point=np.asarray(point, dtype=np.float64))
            # with a box an empty region has a negative margin; the homogenized global LP's margin is >= 0,
            # and 0 for an empty region
            trusted = margin < -MARGIN_TOLERANCE if self.lower is not None else margin <= MARGIN_TOLERANCE
            if trusted and duals is not None:
                certificate = certificate_from_duals(A, c, duals, self.lower, self.upper, box_duals, exact=exact)
                if certificate is not None:
                    self.empty += 1
                    return RegionDecision(EMPTY, multipliers=certificate)
        self.passed += 1
        return None


def _lengths(rows: np.ndarray) -> np.ndarray:
    """Euclidean row lengths without overflow or underflow of the squares (0 for a zero row)."""
    size = np.abs(rows).max(axis=1) if rows.shape[1] else np.zeros(rows.shape[0])
    with np.errstate(divide="ignore", invalid="ignore"):
        scaled = rows / np.where(size > 0, size, 1.0)[:, None]
    return size * np.linalg.norm(scaled, axis=1)
