"""Proven pre-activation intervals over a node's region, from linear programs whose answers are never trusted.

A node of the deep search (:mod:`lipexact.deep.enumerate`) at ReLU layer ``l`` has the exact pre-activation
map ``z = M x + e`` of that layer on its region, and the region is the polyhedron

    R = {x in the open box : A x + c > 0}

(the rows of the units branched so far, every layer up to ``l``). Interval bound propagation sees only the box;
on ``R`` many units that the box calls unstable have one sign. For a unit ``z_i = m x + e`` (``m`` a row of
``M``), an LP over the closed region ``cl R = {x in the closed box : A x + c >= 0}`` gives the largest value, but
a float LP proves nothing. Its dual vector does, by weak duality:

**Bound.** For EVERY ``y >= 0`` (one entry per row), with ``r = m + A^T y``,

    m x + e  <=  U(y) = e + y^T c + sum_j max(r_j low_j, r_j high_j)     for every x in cl R.

*Proof.* For ``x`` in ``cl R``, ``A x + c >= 0`` and ``y >= 0`` give ``y^T (A x + c) >= 0``, so
``m x + e <= m x + e + y^T (A x + c) = e + y^T c + r^T x``; ``x`` lies in the closed box, where the linear
function ``r^T x`` is at most ``sum_j max(r_j low_j, r_j high_j)``. Nothing else is used: whatever vector the LP
returned (optimal, inaccurate, or from a failed solve) is clipped to ``y >= 0`` and gives a valid bound; the LP's
quality only decides how tight it is (at an optimal dual it equals the LP's maximum). The lower bound is
``-U`` of ``-(m x + e)``. ``R`` lies in ``cl R``, so the bounds hold on the open region too.

**Rounding.** ``U(y)`` is evaluated in float64 from the nearest floats of the exact ``M``, ``e``, ``A``, ``c``.
Every quantity is a sum of at most ``w = k + n + 2`` products of floats (``k`` rows, ``n`` inputs); its float
value differs from the exact one by at most ``gamma_w = w 2^-53 / (1 - w 2^-53)`` times the same sum of absolute
values, the representation errors of the inputs add ``2^-53`` times the same sums, and the error in ``r`` moves
``max_box r^T x`` by at most ``sum_j |delta r_j| max(|low_j|, |high_j|)``. All of it is below
:data:`DUAL_MARGIN` (``1e-9``, far above ``gamma_w`` for ``w < 10^5``) times the absolute sum

    |e| + y^T |c| + sum_j (|m_j| + (|A|^T y)_j) max(|low_j|, |high_j|)

which the bound adds (plus ``1e-300`` for underflow), so the returned value is a proven upper bound.

These intervals are used for BOUNDS only (:meth:`lipexact.deep.bounds.DeepBounds.stability`: a unit whose proven
interval over the region has one sign is fixed for the Jacobian completions). Fixing a unit in the tree itself
needs an exact proof that the other side is empty: :func:`certify_sign` checks the dual vector as a Farkas
certificate in exact integer arithmetic (:func:`farkas_holds`, the check of
:func:`reductions.realizability.certify_empty`). Without a box (global searches) the float dual vector never
cancels the ``x`` part exactly: it is projected onto an exact non-negative combination with ``y^T A = 0`` on its
support first (:func:`reductions.realizability.certificate_from_duals`), then checked the same way.

Where they pay (measured, :class:`lipexact.deep.enumerate.DeepSearch` ``lp_bounds``, ``python -m
benchmarks.deep_lp_bounds``): on small boxes, where the box leaves few units free and the rows of the branched
units decide many more. 10-30-30-30-3 nets on ``[0, 0.1]^10`` (six nets/norms): median 1.77 s CPU / 930 nodes
without, 1.00 s / 238 nodes with the LPs at every node (about 0.2 ms an LP, up to 8 units a node; about one LP
in five fixes a unit in the tree, which removes an empty child the search had to decide before). On
``[0, 1]^10`` (10-20-20-1, l_inf, 60 s) the brackets were the same with and without.

Examples
--------
>>> A, c = np.array([[1.0, -1.0]]), np.array([0.0])          # the region x1 > x2 in the box [0, 1]^2
>>> bounds = region_intervals(np.array([[-1.0, 1.0], [1.0, 1.0]]), np.array([0.0, -0.5]), A, c,
...                           np.zeros(2), np.ones(2))
>>> bounds.lo.round(6).tolist(), bounds.hi.round(6).tolist()   # x2 - x1 <= 0 on the region (box: <= 1)
([-1.0, -0.5], [0.0, 1.5])
>>> bool(bounds.hi[0] >= 0.0), bounds.lps   # never below the true maximum 0; one LP (the other box optima lie in R)
(True, 1)
>>> float(proven_upper(np.array([[-1.0, 1.0]]), np.zeros(1), A, c, np.array([[0.5]]), np.zeros(2),
...                    np.ones(2))[0]) >= 0.5            # a poorer dual vector: still valid, looser (0.5)
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["DUAL_MARGIN", "RegionBounds", "RegionLP", "proven_upper", "sides_at", "region_intervals",
           "NextLayerBounds", "next_layer_intervals", "certify_sign", "farkas_holds"]

#: Relative margin (times the absolute sums, module docstring) of the float evaluation of the dual bounds.
DUAL_MARGIN = 1e-9


def proven_upper(linear: np.ndarray, offset: np.ndarray, A: np.ndarray, c: np.ndarray, Y: np.ndarray,
                 low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Proven upper bounds on ``linear[u] x + offset[u]`` over ``{x in [low, high] : A x + c >= 0}``, one per
    row ``u``, from the dual vectors ``Y[u]`` (any values: they are clipped to ``>= 0``; non-finite ones give
    ``inf``, and so does a positive weight on a row with a non-finite float, which otherwise counts with weight
    0). See the module docstring for the proof and the rounding margin.

    Examples
    --------
    >>> A, c = np.array([[-1.0]]), np.array([0.25])            # x <= 0.25 in [0, 1]
    >>> proven_upper(np.array([[1.0]]), np.array([0.0]), A, c, np.array([[1.0]]), np.zeros(1), np.ones(1))
    array([0.25])
    >>> proven_upper(np.array([[1.0]]), np.array([0.0]), A, c, np.array([[-3.0]]), np.zeros(1), np.ones(1))
    array([1.])
    """
    linear = np.asarray(linear, dtype=np.float64).reshape(len(offset), -1)
    offset = np.asarray(offset, dtype=np.float64)
    A = np.asarray(A, dtype=np.float64).reshape(-1, linear.shape[1])
    c = np.asarray(c, dtype=np.float64).reshape(A.shape[0])
    Y = np.maximum(np.asarray(Y, dtype=np.float64).reshape(linear.shape[0], A.shape[0]), 0.0)
    size = np.maximum(np.abs(low), np.abs(high))
    broken = ~(np.all(np.isfinite(A), axis=1) & np.isfinite(c))  # overflowed rows: usable only with y_i = 0
    if broken.any():
        A, c = np.where(broken[:, None], 0.0, A), np.where(broken, 0.0, c)
    with np.errstate(all="ignore"):
        R = linear + Y @ A
        value = offset + Y @ c + np.maximum(R * low, R * high).sum(axis=1)
        absolute = np.abs(offset) + Y @ np.abs(c) + (np.abs(linear) + Y @ np.abs(A)) @ size
        value = value + DUAL_MARGIN * absolute + 1e-300
        value = np.where((Y[:, broken] != 0).any(axis=1), np.inf, value)  # (NaN duals included)
    return np.where(np.isfinite(value) & np.isfinite(absolute), value, np.inf)


def sides_at(values: np.ndarray) -> np.ndarray:
    """Per unit, the one side whose LP can prove a sign, from the unit's ``values`` at a point of the region:
    ``-1`` (its minimum, which may prove it positive) where the value is positive, ``1`` (its maximum) elsewhere.
    A unit positive at a point of the region is never negative on all of it, so its maximum's LP cannot prove
    anything; likewise for negative values. For the ``first`` argument of :func:`region_intervals` and
    :func:`next_layer_intervals` (a float choice of which LP to solve first, never a bound).

    Examples
    --------
    >>> sides_at(np.array([0.5, -2.0, 0.0])).tolist()
    [-1, 1, 1]
    """
    return np.where(np.asarray(values, dtype=np.float64) > 0, -1, 1)


@dataclass
class RegionBounds:
    """Proven intervals ``[lo, hi]`` of the pre-activations over a region; ``duals_low[i]`` / ``duals_high[i]``
    the dual vectors (one entry per row) that proved them (None for units not solved), ``lps`` the LP count;
    ``points_low[i]`` / ``points_high[i]`` the float points where the LPs found the optima (None when unknown):
    hints for a subregion (:func:`region_intervals`)."""

    lo: np.ndarray
    hi: np.ndarray
    duals_low: list
    duals_high: list
    lps: int
    points_low: list | None = None
    points_high: list | None = None


class RegionLP:
    """One HiGHS model (one thread) of the closed region ``{x in [low, high] : A x + c >= 0}``; its costs change
    per solve (warm starts from the previous basis). Scale-free: HiGHS's tolerances are absolute, so the model holds
    every variable divided by its bound's magnitude (``max(|low_j|, |high_j|)`` where finite and positive), then
    every row divided by its largest entry and every cost by its largest; the duals and the optimum are scaled
    back (a row's dual does not depend on how its variables are scaled). Without the row and cost scaling, on a
    net whose weights were scaled by ``2^-20`` per layer, a small-box search went from 62 to 128 nodes (by
    ``2^16``, HiGHS answered "optimal" without dual values); without the variable scaling, the next-layer LPs
    (:func:`next_layer_intervals`, whose activation variables grow with the weights) took the seed-2 10-30-30-30-3
    search on ``[0, 0.1]^10`` (l2) from 302 nodes to 411 at ``2^-20`` per layer and 536 at ``2^20``.

    Examples
    --------
    >>> lp = RegionLP(np.array([[1.0, 1.0]]), np.array([-1.5]), np.zeros(2), np.ones(2))   # x1 + x2 >= 1.5
    >>> y = lp.dual_for_max(np.array([-1.0, 0.0]))                                       # max -x1: -0.5
    >>> y.tolist(), round(float(proven_upper(np.array([[-1.0, 0.0]]), np.zeros(1), lp.A, lp.c, y[None], lp.low,
    ...                                          lp.high)[0]), 6)
    ([1.0], -0.5)
    """

    def __init__(self, A: np.ndarray, c: np.ndarray, low: np.ndarray, high: np.ndarray):
        import highspy

        from lipexact.exact.highs import new_highs

        self.A = np.asarray(A, dtype=np.float64)
        self.c = np.asarray(c, dtype=np.float64)
        self.low = np.asarray(low, dtype=np.float64)
        self.high = np.asarray(high, dtype=np.float64)
        k, n = self.A.shape
        self.n, self.k = n, k
        self.columns = np.arange(n, dtype=np.int32)
        with np.errstate(all="ignore"):
            magnitude = np.maximum(np.abs(self.low), np.abs(self.high))
            self.column_scale = np.where(np.isfinite(magnitude) & (magnitude > 0), magnitude, 1.0)
        self.model = new_highs(1)
        self.model.addVars(n, self.low / self.column_scale, self.high / self.column_scale)
        with np.errstate(all="ignore"):
            scaled = self.A * self.column_scale
        usable = np.all(np.isfinite(scaled), axis=1) & np.isfinite(self.c)
        self.rows = np.flatnonzero(usable)  # rows with a non-finite float (or product) are left out: their duals are 0
        self.row_scale = np.ones(self.rows.size)
        if self.rows.size:
            kept = scaled[self.rows]
            largest = np.max(np.abs(kept), axis=1) if n else np.zeros(self.rows.size)
            self.row_scale = np.where(largest > 0, largest, 1.0)
            kept = kept / self.row_scale[:, None]
            starts = np.arange(0, kept.size, n, dtype=np.int32)
            indices = np.tile(self.columns, self.rows.size)
            self.model.addRows(int(self.rows.size), -self.c[self.rows] / self.row_scale,
                               np.full(self.rows.size, highspy.kHighsInf), int(kept.size), starts, indices,
                               kept.ravel())
        self.solves = 0
        self.point: np.ndarray | None = None
        self.ray: np.ndarray | None = None

    def dual_for_max(self, cost: np.ndarray) -> np.ndarray:
        """A dual vector ``y >= 0`` (one entry per row of ``A``) for ``max cost^T x`` over the region: the
        row duals of ``min -cost^T x`` (for a minimization HiGHS's row duals of active lower bounds are
        ``>= 0``). Zeros when the solve does not end optimal (the box bound); :attr:`point` is then None, else the
        optimum found. When the LP is unbounded, :attr:`ray` is the direction HiGHS found (a float hint: a
        recession direction of the region along which the cost grows), else None."""
        y = np.zeros(self.k)
        self.point = self.ray = None
        if not self.rows.size or not np.all(np.isfinite(cost)):
            return y
        import highspy

        with np.errstate(all="ignore"):
            cost = np.asarray(cost, dtype=np.float64) * self.column_scale
        if not np.all(np.isfinite(cost)):
            return y
        cost_scale = float(np.max(np.abs(cost))) if cost.size else 0.0
        cost_scale = cost_scale if cost_scale > 0 else 1.0
        self.model.changeColsCost(self.n, self.columns, -cost / cost_scale)
        self.model.run()
        self.solves += 1
        status = self.model.getModelStatus()
        if status == highspy.HighsModelStatus.kUnbounded:
            _, found, ray = self.model.getPrimalRay()
            ray = np.asarray(ray, dtype=np.float64) * self.column_scale if found else None
            self.ray = ray if ray is not None and ray.shape == (self.n,) and np.all(np.isfinite(ray)) else None
        if status != highspy.HighsModelStatus.kOptimal:
            return y
        solution = self.model.getSolution()
        duals = np.asarray(solution.row_dual, dtype=np.float64)
        point = np.asarray(solution.col_value, dtype=np.float64)
        if duals.shape != (self.rows.size,) or point.shape != (self.n,):  # "optimal" without a solution's values
            return y
        with np.errstate(over="ignore", invalid="ignore"):
            scaled = np.maximum(duals, 0.0) * cost_scale / self.row_scale
        y[self.rows] = np.where(np.isfinite(scaled), scaled, 0.0)
        self.point = point * self.column_scale  # the optimum found (a hint only)
        return y


def region_intervals(linear: np.ndarray, offset: np.ndarray, A: np.ndarray, c: np.ndarray, low: np.ndarray,
                     high: np.ndarray, units=None, model: RegionLP | None = None,
                     hints: RegionBounds | None = None, first: np.ndarray | None = None,
                     other_side: bool = True) -> RegionBounds:
    """Proven intervals of ``z = linear x + offset`` over ``{x in [low, high] : A x + c >= 0}``: two LPs per
    unit of ``units`` (default all), the others get their box interval (also proven: the dual ``y = 0``). A
    side whose box optimum (the corner chosen by the signs of the row) satisfies every row needs no LP: the box
    bound is then the region's. ``hints``: the intervals of an enclosing region (the parent node's): a side
    whose optimum there satisfies every row here has the same optimum, so its LP is skipped too and the side
    keeps the box bound (``y = 0``, no dual vector), which the caller intersects with the enclosing interval.
    These tests are in floats: they only choose which LPs to solve, never a bound. ``first``: per unit (indexed
    like the rows of ``linear``), the side to solve first (1 the maximum, -1 the minimum; :func:`sides_at`); when
    its proven bound gives the unit one sign, the other side is not solved and keeps the box bound (the caller
    fixes the unit, whose other end no longer matters). ``other_side=False`` (with ``first``): the other side is
    never solved (box bound). Measured (bnb, 10-30-30-30-3 nets on ``[0, 0.1]^10``, seeds 0-5, three norms, CPU
    seconds, medians of 2 interleaved rounds, load 0.9): 10.05 -> 9.17 s in all, every one of the 18 runs faster
    (seed 2: 1.95 -> 1.78 s l2, 1.59 -> 1.45 s l1, 1.68 -> 1.48 s l_inf), nodes within 1-6 of each other.

    Every value is :func:`proven_upper` of a dual vector (module docstring), never an LP objective."""
    linear = np.asarray(linear, dtype=np.float64)
    offset = np.asarray(offset, dtype=np.float64)
    A = np.asarray(A, dtype=np.float64).reshape(-1, linear.shape[1])
    c = np.asarray(c, dtype=np.float64).reshape(A.shape[0])
    width, k = linear.shape[0], A.shape[0]
    Y_high, Y_low = np.zeros((width, k)), np.zeros((width, k))
    units = range(width) if units is None else [int(i) for i in units]
    duals_low, duals_high = [None] * width, [None] * width
    points_low, points_high = [None] * width, [None] * width
    lps = 0
    if k and len(units):
        with np.errstate(all="ignore"):  # the box's maximizers (minimizers) of each unit, and whether they are in R
            up = np.where(linear[units] > 0, high, low)
            down = np.where(linear[units] > 0, low, high)
            up_inside = np.all(up @ A.T + c >= 0, axis=1)
            down_inside = np.all(down @ A.T + c >= 0, axis=1)
        for i, skip_high, skip_low, corner_high, corner_low in zip(units, up_inside.tolist(), down_inside.tolist(),
                                                                   up, down):
            sides = [(1.0, skip_high, Y_high, duals_high, points_high, corner_high,
                      None if hints is None or hints.points_high is None else hints.points_high[i]),
                     (-1.0, skip_low, Y_low, duals_low, points_low, corner_low,
                      None if hints is None or hints.points_low is None else hints.points_low[i])]
            if first is not None and first[i] < 0:
                sides.reverse()
            for sign, skip, Y, duals, points, corner, hint in sides:
                if first is not None and sign != sides[0][0] and sides[0][3][i] is not None:
                    if not other_side:
                        break
                    lead = sides[0][0]
                    if proven_upper(lead * linear[i:i + 1], lead * offset[i:i + 1], A, c, sides[0][2][i:i + 1], low,
                                    high)[0] < 0:
                        break  # the first side proved the sign
                if skip:  # the box's optimum lies in the region: y = 0 is optimal, no LP (a float test: it only
                    duals[i], points[i] = Y[i], corner  # chooses the dual vector, which proves the bound anyway)
                    continue
                if hint is not None and np.all(A @ hint + c >= 0):  # the enclosing region's optimum is in here
                    points[i] = hint
                    continue
                if model is None:
                    model = RegionLP(A, c, low, high)
                Y[i] = duals[i] = model.dual_for_max(sign * linear[i])
                points[i] = model.point
                lps += 1
    hi = proven_upper(linear, offset, A, c, Y_high, low, high)
    lo = -proven_upper(-linear, -offset, A, c, Y_low, low, high)
    return RegionBounds(lo, hi, duals_low, duals_high, lps, points_low, points_high)


#: Relative margin of the float rows of the ReLU relaxation and of the float objective products
#: (:func:`next_layer_intervals`): far above the rounding of sums of fewer than ``10^5`` products.
RELAXATION_MARGIN = 1e-10


@dataclass
class NextLayerBounds:
    """Proven intervals ``[lo, hi]`` of the next layer's pre-activations (:func:`next_layer_intervals`; ``-inf``,
    ``inf`` where not solved), the LP count, and ``points[(unit, side)]``: the LP optimum ``(x, a)`` found for that
    unit and side (``side`` 1 the maximum, -1 the minimum; ``a`` over every unit of the node's layer, NaN where
    not free), a hint for the node's children; ``skipped``: the units that ``witnesses`` showed unable to prove a
    sign, left without an LP (also where an enclosing node's optimum would have spared it: the check comes first)."""

    lo: np.ndarray
    hi: np.ndarray
    lps: int
    points: dict
    skipped: int = 0


def next_layer_intervals(linear: np.ndarray, offset: np.ndarray, state: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                         A: np.ndarray, c: np.ndarray, low: np.ndarray, high: np.ndarray, W: np.ndarray,
                         b: np.ndarray, units, hints: dict | None = None,
                         first: np.ndarray | None = None, other_side: bool = True,
                         witnesses: np.ndarray | None = None) -> NextLayerBounds:
    """Proven intervals of the NEXT layer's pre-activations ``W relu(z) + b`` over the node's region, where
    ``z = linear x + offset`` is the node's layer (``state``: 1 on, 0 off, -1 free) and ``[lo, hi]`` its proven
    intervals over the region (:func:`region_intervals`), for the units in ``units``.

    ``hints``: the ``points`` of an enclosing node in the same layer. The relaxation of a subregion (more rows,
    units fixed, chords over narrower intervals, which lie below the wider ones) is contained in the enclosing
    one, so when the enclosing optimum still satisfies every row here (a float test: it only chooses which LPs
    to solve) the optimum is the same; that side's LP is skipped and gets the box bound, which the caller
    intersects with the enclosing interval.

    ``first``: per next-layer unit, the side (1: the maximum, -1: the minimum) to solve first; when its proven
    bound already gives the unit one sign (maximum < 0 or minimum > 0), the other side is not solved (it gets the
    box bound, valid and loose). Without it both sides are solved. ``other_side=False`` (with ``first``): the
    other side is never solved (box bound), for callers that need the signs only; with ``first`` from
    :func:`sides_at` at a point of the region, it is the side that cannot prove a sign anyway.

    ``witnesses`` (with ``first`` and ``other_side=False``: the caller needs the signs only): points of the
    node's region, rows of an array. A unit whose pre-activation at one of them (through the network, the node's
    pattern on the fixed units) has the sign that its side's LP would have to exclude takes both signs on the
    region: that LP cannot prove anything and is not solved (the unit keeps the box bound there, valid). The
    optimum of every LP solved (its ``x``, a point of the region) joins them. Float tests: they only choose which
    LPs to solve, never a bound. Measured (10-30-30-30-3 on ``[0, 0.1]^10``, seed 2, l2): of 1,875 LPs, 1,175
    proved no sign; the node's point, its region LPs' optima and the earlier optima witnessed 741 of those before
    their LP, and none of the 827 that proved one.

    **Relaxation.** Every point ``x`` of the closed region, with ``a = relu(z(x))`` on the free units, satisfies
    ``x`` in the box, ``A x + c >= 0``, ``0 <= a_j <= u_j`` and, for each free unit ``j`` (``l_j = min(lo_j, 0)``,
    ``u_j = max(hi_j, 0)``), ``a_j >= z_j`` and ``a_j <= s_j (z_j - l_j)`` with ``s_j = u_j / (u_j - l_j)`` (the
    chord of ``relu`` over ``[l_j, u_j]``, above it there since ``relu`` is convex). The fixed-on units contribute
    ``W_on z_on``, exactly affine in ``x``; the off units nothing. So ``W_i relu(z(x)) + b_i`` is at most the
    maximum of the linear function ``q_i x + W_iF a + W_i,on e_on + b_i`` (``q_i = W_i,on M_on``) over that
    polyhedron in ``(x, a)``, which :func:`proven_upper` bounds from any dual vector (weak duality, its own
    rounding margin) with the variables ``(x, a)`` in the box ``[low, high] x [0, u]``.

    **Rounding.** The rows are written with float coefficients, so they must hold for the exact ``z``: the nearest
    float map differs from the exact one by at most ``2^-53 (|M_j| |x|_max + |e_j|)`` over the box, and the float
    products ``s_j M_j``, ``s_j e_j`` of the chord rows by as much again times ``s_j <= 1``; each row adds
    ``delta_j = 2^-50 (|M_j| |x|_max + |e_j|)`` (times ``s_j`` in the chord rows), twice what that needs; the
    chord's offset ``s_j (-l_j)`` gets a relative :data:`RELAXATION_MARGIN` (a float ``s_j`` may be a rounding
    below ``u_j / (u_j - l_j)``). The float products ``q_i`` and ``W_i,on e_on`` are
    off by at most ``gamma_w`` times their absolute products, covered by :data:`RELAXATION_MARGIN` times
    ``|W_i,on| (|M_on| |x|_max + |e_on|) + |W_iF| u + |b_i|`` (which also covers ``W`` and ``b`` given as the nearest
    floats of exact values), added to the bound. A non-finite quantity gives no bound (inf).

    Measured (``benchmarks.deep_lp_bounds``-style runs, 10-30-30-30-3 on ``[0, 0.1]^10``): at the nodes of the
    second ReLU layer, box-CROWN left about 13 units of the third layer unknown and this relaxation proved 70% of
    them stable; see :class:`lipexact.deep.enumerate.DeepSearch` for the node counts.

    Examples
    --------
    >>> linear, offset = np.array([[1.0], [-1.0]]), np.array([0.0, 0.0])      # z = (x, -x) on the box (-1, 1)
    >>> found = next_layer_intervals(linear, offset, np.array([-1, -1]), np.array([-1.0, -1.0]),
    ...                              np.array([1.0, 1.0]), np.zeros((0, 1)), np.zeros(0), -np.ones(1), np.ones(1),
    ...                              np.array([[1.0, 1.0]]), np.array([-1.5]), [0])
    >>> bool(found.hi[0] < 0), bool(found.hi[0] >= -0.5), found.lps   # relu(x) + relu(-x) - 1.5 = |x| - 1.5 <= -0.5
    (True, True, 2)
    """
    linear = np.asarray(linear, dtype=np.float64)
    offset = np.asarray(offset, dtype=np.float64)
    state = np.asarray(state)
    W, b = np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64)
    A = np.asarray(A, dtype=np.float64).reshape(-1, linear.shape[1])
    c = np.asarray(c, dtype=np.float64).reshape(A.shape[0])
    low, high = np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)
    n, width = linear.shape[1], W.shape[0]
    lo2, hi2 = np.full(width, -np.inf), np.full(width, np.inf)
    units = [int(i) for i in units]
    free, on = np.flatnonzero(state < 0), np.flatnonzero(state == 1)
    size = np.maximum(np.abs(low), np.abs(high))
    with np.errstate(all="ignore"):
        l, u = np.minimum(lo[free], 0.0), np.maximum(hi[free], 0.0)
        M, e = linear[free], offset[free]
        delta = 2.0 ** -50 * (np.abs(M) @ size + np.abs(e))
        k = free.size
        rows, offsets = [np.hstack([A, np.zeros((A.shape[0], k))])], [c]
        eye = np.eye(k)
        rows.append(np.hstack([-M, eye]))  # a_j - z_j + delta_j >= 0
        offsets.append(-e + delta)
        chord = u - l > 0
        slope = np.where(chord, u / np.where(chord, u - l, 1.0), 0.0)
        shift = slope * (-l) * (1 + RELAXATION_MARGIN) + RELAXATION_MARGIN * u + slope * delta + 1e-300
        rows.append((np.hstack([slope[:, None] * M, -eye]))[chord])  # s_j z_j + t_j - a_j >= 0
        offsets.append((slope * e + shift)[chord])
        G, g = np.vstack(rows), np.concatenate(offsets)
        var_low, var_high = np.concatenate([low, np.zeros(k)]), np.concatenate([high, u])
        objective = np.hstack([W[:, on] @ linear[on], W[:, free]])
        constant = W[:, on] @ offset[on] + b
        margin = RELAXATION_MARGIN * (np.abs(W[:, on]) @ (np.abs(linear[on]) @ size + np.abs(offset[on]))
                                      + np.abs(W[:, free]) @ u + np.abs(b)) + 1e-300
    finite = (np.all(np.isfinite(G)) and np.all(np.isfinite(g)) and np.all(np.isfinite(var_low))
              and np.all(np.isfinite(var_high)))
    points: dict = {}
    if not finite or not units:
        return NextLayerBounds(lo2, hi2, 0, points)
    model = None
    Y = {1: np.zeros((len(units), G.shape[0])), -1: np.zeros((len(units), G.shape[0]))}
    signs_only = first is not None and not other_side and witnesses is not None
    seen = _witnessed(witnesses, linear, offset, state, W, b) if signs_only else None
    skipped = 0
    for row, i in enumerate(units):
        order = (1, -1) if first is None or first[i] > 0 else (-1, 1)
        if signs_only and np.any(order[0] * seen[:, i] > 0):  # both signs on the region: no LP can prove one
            skipped += 1
            continue
        for side in order:
            if side == order[1] and first is not None:  # the first side alone may decide the sign
                if not other_side:
                    break
                bound = proven_upper(order[0] * objective[i:i + 1], order[0] * constant[i:i + 1], G, g,
                                     Y[order[0]][row:row + 1], var_low, var_high)[0] + margin[i]
                if bound < 0:
                    break
            hint = None if hints is None else hints.get((i, side))
            if hint is not None and _still_optimal(hint, state, free, linear, offset, G, g, var_low, var_high):
                points[(i, side)] = hint  # the enclosing optimum: the same maximum here, no LP
                continue
            if model is None:
                model = RegionLP(G, g, var_low, var_high)
            Y[side][row] = model.dual_for_max(side * objective[i])
            if model.point is not None:
                full = np.full(linear.shape[0], np.nan)
                full[free] = model.point[n:]
                points[(i, side)] = (model.point[:n].copy(), full)
                if signs_only:
                    seen = np.vstack([seen, _witnessed(model.point[None, :n], linear, offset, state, W, b)])
    picked = np.asarray(units)
    top = proven_upper(objective[picked], constant[picked], G, g, Y[1], var_low, var_high) + margin[picked]
    bottom = -proven_upper(-objective[picked], -constant[picked], G, g, Y[-1], var_low, var_high) - margin[picked]
    hi2[picked] = np.where(np.isfinite(top), top, np.inf)
    lo2[picked] = np.where(np.isfinite(bottom), bottom, -np.inf)
    return NextLayerBounds(lo2, hi2, 0 if model is None else model.solves, points, skipped)


def _witnessed(points: np.ndarray, linear: np.ndarray, offset: np.ndarray, state: np.ndarray, W: np.ndarray,
               b: np.ndarray) -> np.ndarray:
    """The next layer's pre-activations ``W a + b`` at each row ``x`` of ``points``, ``a`` the node's layer at
    ``x`` with its pattern (``z`` on the units fixed on, 0 off, ``relu(z)`` free), ``z = linear x + offset``:
    one row per point (floats; :func:`next_layer_intervals`'s ``witnesses``)."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, linear.shape[1])
    with np.errstate(all="ignore"):
        z = points @ linear.T + offset
        a = np.where(state == 1, z, np.where(state == 0, 0.0, np.maximum(z, 0.0)))
        values = a @ W.T + b
    return np.where(np.isfinite(values), values, 0.0)  # (a non-finite value witnesses nothing)


def _still_optimal(hint: tuple, state: np.ndarray, free: np.ndarray, linear: np.ndarray, offset: np.ndarray,
                   G: np.ndarray, g: np.ndarray, var_low: np.ndarray, var_high: np.ndarray) -> bool:
    """Whether an enclosing node's LP optimum ``(x, a)`` is a point of this relaxation (floats, relative
    tolerances of 1e-9 on the fixed units and 1e-7 on the rows, about the LP solver's own: only a choice of which
    LPs to solve): its fixed units' ``a`` must match them (on: ``a = z``, off: ``a = 0``) and the free part must
    satisfy every row and bound."""
    x, full = hint
    with np.errstate(all="ignore"):
        decided = np.flatnonzero(~np.isnan(full) & (state >= 0))
        if decided.size:
            z = linear[decided] @ x + offset[decided]
            expected = np.where(state[decided] == 1, z, 0.0)
            scale = 1e-9 * (np.abs(linear[decided]) @ np.abs(x) + np.abs(offset[decided]) + 1e-300)
            if not np.all(np.abs(full[decided] - expected) <= scale):
                return False
        y = np.concatenate([x, full[free]])
        if not np.all(np.isfinite(y)):
            return False
        tolerance = 1e-7 * (np.abs(G) @ np.abs(y) + np.abs(g))  # relative: the LP solver's own feasibility slack
        slack = 1e-7 * (np.abs(y) + np.maximum(np.abs(var_low), np.abs(var_high)))
        return bool(np.all(G @ y + g >= -tolerance) and np.all(y >= var_low - slack) and np.all(y <= var_high + slack))


def certify_sign(rows: list, unit_row: tuple, duals: np.ndarray, lower: np.ndarray, upper: np.ndarray,
                 n: int) -> bool:
    """True when the region of ``rows`` (exact ``(numerators, offset, denominator)`` triples, ``> 0``) has no
    point, inside the open box ``(lower, upper)``, where the exact affine function ``unit_row`` is negative:
    the Farkas certificate ``rows`` weighted by ``duals`` plus ``unit_row`` weighted by 1 is checked in exact
    integer arithmetic by :func:`farkas_holds` (``max`` over the closed box of ``y^T (A x + c) - u(x) <= 0``, so
    ``u(x) < 0`` is impossible where every row is positive).

    Then ``u > 0`` on the whole open region when ``u`` is not constant (a zero of a non-constant affine function
    inside an open set has negative points next to it). ``duals`` come from the LP for ``min u`` over the region
    (:meth:`RegionLP.dual_for_max` of ``-u``); a float value alone never fixes anything. The check runs on the
    integer rows ``numerators . x + offset`` (a row divided by its positive denominator has the same sign) with
    the multipliers ``y_i / denominator_i`` scaled by one power of two to integers (every float is dyadic; the
    certificate is homogeneous), so that the exact arithmetic stays in integers (``Fraction`` arithmetic took
    1.5 ms a certificate on 10-30-30-30-3, about a fifth of the search). ``lower=None``: no box; the duals are
    projected exactly onto ``y^T A = 0`` first (module docstring).

    Examples
    --------
    >>> rows = [([2, 0], -1, 2)]                                      # x1 - 1/2 > 0 in the box (0, 1)^2
    >>> certify_sign(rows, ([2, 1], -1, 1), np.array([2.0]), np.zeros(2), np.ones(2), 2)     # 2 x1 + x2 - 1 > 0
    True
    >>> certify_sign(rows, ([2, 1], -1, 1), np.array([4.0]), np.zeros(2), np.ones(2), 2)     # a wrong multiplier
    False
    >>> certify_sign(rows, ([1, 1], -1, 1), np.array([2.0]), np.zeros(2), np.ones(2), 2)     # x1 + x2 > 1: false
    False
    """
    numerators, offset, denominator = unit_row
    every = list(rows) + [([-int(v) for v in numerators], -int(offset), int(denominator))]
    weights = []  # (numerator, log2 of the denominator) of y_i / denominator_i
    for (_, _, d), y in zip(every, [float(v) for v in np.asarray(duals, dtype=np.float64)] + [1.0]):
        if not math.isfinite(y) or y < 0:
            return False
        d = int(d)
        if d <= 0 or d & (d - 1):  # the rows of lipexact.deep.exact have power-of-two denominators
            return False
        p, q = y.as_integer_ratio()  # q a power of two
        weights.append((p, q.bit_length() - 1 + d.bit_length() - 1))
    if lower is None:  # globally the float duals never cancel the x part exactly: the exact projection
        return _certify_global(every, duals, n)
    scale = max(shift for _, shift in weights)
    multipliers = [p << (scale - shift) for p, shift in weights]
    return farkas_holds([r[0] for r in every], [r[1] for r in every], multipliers, lower, upper, n)


def _certify_global(every: list, duals: np.ndarray, n: int) -> bool:
    """Globally (no box): the float duals of ``every``'s first rows, with weight 1 on its last (the unit's negated
    row), projected onto an exact non-negative ``y`` with ``y^T A = 0`` on their support and checked exactly
    (:func:`reductions.realizability.certificate_from_duals` on the exact rows)."""
    from lipexact.deep.exact import exact_rows
    from reductions.realizability import certificate_from_duals

    exact = exact_rows(every, n)
    weights = np.append(np.asarray(duals, dtype=np.float64), 1.0)
    return certificate_from_duals(exact.A, exact.c, weights, exact=exact) is not None


def farkas_holds(numerators: list, offsets: list, multipliers: list, lower, upper, n: int) -> bool:
    """Exact check, in integers, that ``max`` over the closed box ``[lower, upper]`` (floats) of
    ``sum_i y_i (numerators_i . x + offsets_i)`` is ``<= 0`` for the integer multipliers ``y >= 0`` (at least one
    positive): then no point of the open box has every row positive (their ``y``-combination would be ``> 0``),
    the emptiness certificate of :func:`reductions.realizability.certify_empty`, which the tests check this
    against. The box corners are dyadic: ``lower_j = L_j / 2^T``, ``upper_j = U_j / 2^T`` with integers, and
    ``2^T`` times the maximum is ``2^T y^T offsets + sum_j max(r_j L_j, r_j U_j)``, ``r = y^T numerators``.

    Examples
    --------
    >>> farkas_holds([[1], [-1]], [-1, -5], [1, 1], None, None, 1), farkas_holds([[1]], [-2], [1], [0.0], [2.0], 1)
    (True, True)
    >>> farkas_holds([[1]], [-2], [1], [0.0], [2.5], 1), farkas_holds([[1]], [-2], [0], [0.0], [2.0], 1)
    (False, False)
    """
    if len(multipliers) != len(offsets) or any(y < 0 for y in multipliers) or not any(y > 0 for y in multipliers):
        return False
    residual = [0] * n
    total = 0
    for row, offset, y in zip(numerators, offsets, multipliers):
        if y:
            total += y * int(offset)
            for j, a in enumerate(row):
                if a:
                    residual[j] += y * int(a)
    if lower is None:
        return not any(residual) and total <= 0
    from lipexact.deep.exact import dyadic

    corners = dyadic(np.concatenate([np.asarray(lower, dtype=np.float64), np.asarray(upper, dtype=np.float64)]))
    low, high = corners.values[:n], corners.values[n:]
    worst = total << corners.exponent
    for j, r in enumerate(residual):
        if r:
            worst += r * int(high[j] if r > 0 else low[j])
    return worst <= 0
