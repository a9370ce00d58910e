"""Proven upper bounds on the Jacobian norm of every completion of a partial joint activation pattern.

A node of the deep search fixes the pattern of the layers before ``l`` and some units of layer ``l``; within
its region the pre-activations of layer ``l`` are ``z_l = M_l x + e_l`` (exact, :mod:`lipexact.deep.exact`).
Every completion has the Jacobian

    J = W_k D_{k-1} W_{k-1} ... W_{l+1} D_l M_l,     D_j diagonal with entries in {0, 1}.

Units fixed by the node have their ``D`` entry fixed; on a box, units whose pre-activation interval over the
box (interval bound propagation from layer ``l``: ``[lo, hi]`` of ``z_l`` over the box, then
``relu``, then ``W z + b`` in centre-radius form, intersected with linear bounds back-substituted to layer
``l``, :meth:`DeepBounds.back_substitute`) lies strictly on one side are fixed too; every other entry
is only known to lie in ``[0, 1]``. (On a box, the search can pass proven intervals of layer ``l`` over the
node's region, :mod:`lipexact.deep.lp_bounds`; they are intersected with the box intervals of that layer, and
"stable" then means stable on the region.) The bound is computed in interval arithmetic on the product (right
to left): ``P = D_l M_l`` has the rows of ``M_l`` (fixed on), zero rows (off) or the interval rows
``[min(M, 0), max(M, 0)]`` (free); ``W P`` maps an interval matrix to
``[W+ P_lo + W- P_hi, W+ P_hi + W- P_lo]``; a free unit again widens its row to contain 0. The result
``[J_lo, J_hi]`` contains every completion's ``J`` entrywise, so ``|J| <= B = max(|J_lo|, |J_hi|)`` and
``||J||_{p->p} <= ||B||_{p->p}`` for ``p = 1, inf`` (column and row sums are monotone) and ``p = 2`` (the
spectral norm is monotone on non-negative matrices, Perron-Frobenius: ``||J||_2 <= || |J| ||_2 <= ||B||_2``).
``B`` is never larger than the plain product ``|W_k| D ... |W_{l+1}| D_l |M_l|`` and is much smaller when
signs cancel.

Tighter bounds (``jacobian="signed"``, the default; the node bound is the smallest of those that apply):

- **Sign vectors** (:meth:`DeepBounds.row_sums`): ``||J||_inf = max_r max_{u in {-1, 1}^n} J_r u``. For each
  ``u`` the vector ``M_l u`` is propagated as an interval vector (the same rules as above), so the correlation
  between the columns of ``J`` is kept (the entrywise ``B`` sums the worst case of every column separately).
  ``2^(n-1)`` vectors (``u`` and ``-u`` give opposite values), within :data:`SIGN_BUDGET` entries.
  Likewise ``||J||_1 = max_c max_{s in {-1, 1}^m} s^T J e_c`` (:meth:`DeepBounds.column_sums`, several
  outputs): the last layer is applied as ``s^T W_k`` to the intervals of ``D_{k-1} ... D_l M_l e_c``.
  ``||J||_2 <= sqrt(||J||_1 ||J||_inf)`` (Riesz-Thorin) gives the l2 bound from the two; with one output,
  the orthant bound (:meth:`DeepBounds.orthant_l2`: per orthant of the gradient, its l1 budget from the sign
  vectors and its entry caps from the interval, the largest l2 norm of that polytope) is tighter still.
- **Every completion** (:meth:`DeepBounds.vertices`): with at most :data:`VERTEX_FREE` free units in all
  layers together, ``J`` is multilinear in their ``D`` entries, so its norm (convex in each entry) is largest
  at a 0/1 completion: the ``2^k`` Jacobians are formed and the bound is the exact maximum over every
  completion (realizable or not); the bounds below are then skipped. Measured (``python -m
  benchmarks.deep_lp_bounds``-style runs of bnb, 2026-11-27, load 0.4-0.7): on the seed-0 10-30-30-30-3 net on
  ``[0, 0.1]^10`` l2 497 -> 117 nodes, 2.5 -> 0.7 s (the Riesz-Thorin bound of three outputs was 1.45x loose),
  l1 235 -> 124, l_inf 242 -> 136 nodes; on seed 1 255 -> 231 nodes (there the bound was not what kept the
  search open), times the same within the noise.
- **Last layer** (:meth:`DeepBounds.last_layer`): at the last ReLU layer ``J = W_k D M`` with ``M`` exact;
  the free units with the largest shares are enumerated (``2^k`` completions, :data:`LAST_LAYER_FREE`) and
  the others bounded entrywise, so with at most :data:`LAST_LAYER_FREE` free units the bound is the exact
  maximum over every completion (realizable or not).

Measured (``python -m benchmarks.deep``, one run, the two bounds side by side; 2-core machine at load 5, seed-0
random nets with N(0, 1)/sqrt(fan-in) weights and biases, bnb): 11-12-12-1 global l_inf: 9,322 nodes / 53.9 s
with the entrywise bound alone, 305 nodes / 1.6 s with these; global l2: 4,855 nodes / 21.8 s against
1,193 nodes / 12.9 s (the partial last-layer enumeration and the orthant bound each removed about half);
10-20-20-1 l_inf at 60 s, the bracket's top: 4.88 against 3.02 on ``[0, 1]^10``, 7.41 against 4.44 globally.
The layer-norm split took the root bound of 10-30-30-30-3 (l2) from 43.6 to 11.0, and its 60 s brackets'
tops from 22.8-28.7 to 10.2-10.8 (two runs of the benchmark).

Float rounding: the interval products are computed in float64 with round-to-nearest. Each product's error is
at most ``gamma_w`` (``w`` the inner width, ``gamma_w ~ w 2^-53``) times the same product on absolute values,
so the accumulated error over the layers is below ``1e-10`` times the absolute product ``A`` (also computed:
non-negative sums, relative error ``< depth * width * 2^-53``) for any width below ``10^5``: the bound adds
``1e-10 * A`` entrywise, and multiplies the norm by ``1 + BOUND_SLACK``. The interval decisions of stability
use a margin of ``1e-9`` times the absolute sums involved (the same argument; for the back-substituted
linear bounds ``2 (depth + 1) 1e-9`` times the absolute product ``|W| ... |W| (|M| |x| + |e|) + |b|``, which
bounds every term they sum, slopes in ``[0, 1]`` and intercepts below the previous layer's interval), so a
unit is fixed only when its sign is certain. The sign-vector and last-layer bounds are the same kind of sums
(their terms are entries of ``A |u|`` with ``|u| = 1``, or of ``|W_k| A``) and add the same ``1e-10`` slack
times those absolute sums.

Examples
--------
>>> from lipexact.deep.network import ReLUNetwork
>>> from lipexact.deep.exact import ExactNetwork
>>> net = ReLUNetwork([([[1.0, 0.0], [0.0, 1.0]], None), ([[1.0, -1.0]], None), ([[2.0]], None)])
>>> bounds = DeepBounds(net, "2")
>>> first = ExactNetwork(net).first()
>>> state = np.array([-1, -1])                      # both units of layer 0 free
>>> round(bounds.bound(0, state, first), 9)   # |J| <= [2, 2]: sqrt(8); the |W| product gives the same
2.828427125
>>> round(bounds.bound(0, np.array([1, 0]), first), 9)  # unit 1 off: J in {[0, 0], [2, 0]}
2.0
"""

from __future__ import annotations

import math

import numpy as np

from lipexact.deep.network import ReLUNetwork
from lipexact.norms import jacobian_norms

__all__ = ["DeepBounds", "BOUND_SLACK", "PRODUCT_SLACK", "VERTEX_FREE"]

#: Relative slack on the norm of the entrywise bound (its float evaluation: sums and products of
#: non-negative numbers and one SVD, relative error far below this).
BOUND_SLACK = 1e-10
#: Entrywise slack (times the absolute product) for the rounding of the interval products.
PRODUCT_SLACK = 1e-10
#: Relative margin (times the absolute sums) of the float interval bounds used to fix units as stable.
INTERVAL_MARGIN = 1e-9
#: Most entries (sign vectors times units) of one sign-vector propagation (:meth:`DeepBounds.row_sums`): 11-24-24-1
#: (50k) and 10-30-30-30-3 (48k) fit; 13-20-16-8-3 at its first layer (192k, about 30-100 ms a bound) does not.
SIGN_BUDGET = 1 << 16
#: Most free units of the last ReLU layer whose completions :meth:`DeepBounds.last_layer` enumerates.
LAST_LAYER_FREE = 10
#: Most free units, all layers together, whose completions :meth:`DeepBounds.vertices` enumerates (``2^k``
#: Jacobians). 12 keeps one call near a few milliseconds on 10-30-30-30-3.
VERTEX_FREE = 12
#: Most entries of the stack of partial products :meth:`DeepBounds.vertices` may hold (2^22 floats: 32 MiB),
#: so that many outputs or wide layers fall back to the other bounds instead of taking the memory.
VERTEX_ENTRIES = 1 << 22
#: Spectral norms taken at once by :meth:`DeepBounds.vertices` (in decreasing order of the Frobenius norms).
_SPECTRAL_CHUNK = 32
#: ``||J||_p <= factor(m, n) ||J||_2`` for an ``m x n`` matrix: a column's l1 norm is at most ``sqrt(m)`` times
#: its l2 norm, a row's at most ``sqrt(n)`` times (Cauchy-Schwarz), and no column or row has an l2 norm above
#: ``||J||_2``. :meth:`DeepBounds.split` takes the smaller of its p-norm chain and this factor times its
#: spectral chain: the products of layer norms in l1 / l_inf grow with the widths, the spectral ones do not.
NORM_FROM_SPECTRAL = {"1": lambda m, n: math.sqrt(m), "inf": lambda m, n: math.sqrt(n)}
#: The Jacobian bounds: ``interval`` (entrywise only) or ``signed`` (entrywise and sign vectors, the default).
JACOBIAN_BOUNDS = ("interval", "signed")


class DeepBounds:
    """Node bounds for one network and norm (see the module docstring).

    Parameters
    ----------
    net : ReLUNetwork
    norm : {"2", "1", "inf"}
    box : (lower, upper) arrays, optional
        The closed box the inputs range over (interval bounds then fix stable units); None globally.
    """

    def __init__(self, net: ReLUNetwork, norm: str, box: tuple | None = None, jacobian: str = "signed"):
        if jacobian not in JACOBIAN_BOUNDS:
            raise ValueError(f"jacobian must be one of {JACOBIAN_BOUNDS}, got {jacobian!r}")
        self.norm = norm
        self.jacobian = jacobian
        self.weights = [np.asarray(W, dtype=np.float64) for W in net.weights]
        self.biases = [np.asarray(b, dtype=np.float64) for b in net.biases]
        self.abs_weights = [np.abs(W) for W in self.weights]
        self.positive = [np.maximum(W, 0.0) for W in self.weights]
        self.negative = [np.minimum(W, 0.0) for W in self.weights]
        self.box = None if box is None else (np.asarray(box[0], dtype=np.float64), np.asarray(box[1], dtype=np.float64))
        # column sums of |W_k| ... |W_{l+1}|: how much a unit of layer l can reach the outputs (branching)
        self.reach = []
        S = np.ones((1, self.weights[-1].shape[0]))
        for W in reversed(self.abs_weights[1:]):
            with np.errstate(over="ignore", invalid="ignore"):
                S = S @ W
            self.reach.append(S.ravel().copy())
        self.reach.reverse()
        self.layer_norms, self.tails = _tails(self.weights, norm)
        # l1 and l_inf also bound J through its spectral norm (:data:`NORM_FROM_SPECTRAL`): the spectral tails (for
        # the search's LipSDP root bound, globally) and, on a box, the spectral chain of split()
        self.spectral = _tails(self.weights, "2") if norm in NORM_FROM_SPECTRAL else None
        self.spectral_split = self.spectral is not None and self.box is not None
        #: False: the sign-vector bounds (:meth:`signed`) only at the last ReLU layer (set by the deep search once its
        #: LipSDP node bounds run: measured there)
        self.early_signs = True

    # ------------------------------------------------------------------ interval bounds (boxes)
    def stability(self, layer: int, state: np.ndarray, linear: np.ndarray, offset: np.ndarray,
                  region: tuple | None = None, spans: list | None = None) -> list:
        """Per ReLU layer from ``layer`` on: int8 arrays, 1 (certainly on over the box), 0 (certainly off) or
        -1 (unknown), the node's fixed units of ``layer`` included. Without a box: ``state`` and all -1.

        ``region``: proven intervals ``(lo, hi)`` of layer ``layer``'s pre-activations over the node's region
        (:func:`lipexact.deep.lp_bounds.region_intervals`); they are intersected with the box intervals, so
        "certainly" then means over the node's region (all the bound needs: its completions are the patterns
        realized there), and the downstream interval and linear bounds start from the tighter intervals. A fourth
        entry, when present and not None, holds proven intervals ``(lo, hi)`` of the NEXT layer's pre-activations
        over the region (:func:`lipexact.deep.lp_bounds.next_layer_intervals`), intersected likewise. ``spans``,
        when given, receives the proven ``(lo, hi)`` of every layer from ``layer`` on (boxes only)."""
        widths = [W.shape[0] for W in self.weights[:-1]]
        if self.box is None:
            return [state] + [np.full(w, -1, dtype=np.int8) for w in widths[layer + 1:]]
        low, high = self.box
        mid, rad = 0.5 * (low + high), 0.5 * (high - low)
        with np.errstate(all="ignore"):
            centre = linear @ mid + offset
            radius = np.abs(linear) @ rad
            magnitude = np.abs(linear) @ np.maximum(np.abs(low), np.abs(high)) + np.abs(offset)
            margin = INTERVAL_MARGIN * magnitude + 1e-300
            lo, hi = centre - radius - margin, centre + radius + margin
            if region is not None:  # proven over the region (their own rounding margins included)
                lo, hi = np.maximum(lo, region[0]), np.minimum(hi, region[1])
            absolute = magnitude  # |W| ... |W| (|M| |x| + |e|) + biases: bounds every term of the linear bounds
            result, intervals = [], []
            for j in range(layer, len(widths)):
                known = state if j == layer else np.full(widths[j], -1, dtype=np.int8)
                certain = np.where(lo > 0, 1, np.where(hi < 0, 0, -1)).astype(np.int8)
                current = np.where(known >= 0, known, certain).astype(np.int8)
                result.append(current)
                intervals.append((lo, hi, current))
                if spans is not None:
                    spans.append((lo, hi))
                if j + 1 == len(widths):
                    break
                a_lo = np.where(current == 0, 0.0, np.maximum(lo, 0.0))
                a_hi = np.where(current == 0, 0.0, np.maximum(hi, 0.0))
                W, b, absW = self.weights[j + 1], self.biases[j + 1], self.abs_weights[j + 1]
                a_mid, a_rad = 0.5 * (a_lo + a_hi), 0.5 * (a_hi - a_lo)
                magnitude = absW @ np.maximum(np.abs(a_lo), np.abs(a_hi)) + np.abs(b)
                margin = INTERVAL_MARGIN * magnitude + 1e-300
                centre = W @ a_mid + b
                radius = absW @ a_rad
                lo, hi = centre - radius - margin, centre + radius + margin
                absolute = absW @ absolute + np.abs(b)
                s_lo, s_hi = self.back_substitute(layer, j + 1, intervals, linear, offset)
                slack = INTERVAL_MARGIN * 2 * (j + 2 - layer) * absolute + 1e-300
                lo, hi = np.maximum(lo, s_lo - slack), np.minimum(hi, s_hi + slack)
                if j == layer and region is not None and len(region) > 3 and region[3] is not None:
                    lo, hi = np.maximum(lo, region[3][0]), np.minimum(hi, region[3][1])  # proven over the region
                bad = ~(np.isfinite(lo) & np.isfinite(hi))
                lo, hi = np.where(bad, -np.inf, lo), np.where(bad, np.inf, hi)
        return result

    def back_substitute(self, layer: int, target: int, intervals: list, linear: np.ndarray,
                        offset: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Linear (CROWN / Fast-Lin style) bounds on the pre-activations of ReLU layer ``target`` over the
        box: ``W_target relu(z_{target-1})`` is bounded by relaxing every unit (stable: exact; unknown with
        ``lo < 0 < hi``: ``relu(z) <= hi (z - lo) / (hi - lo)`` above, ``relu(z) >= a z``, ``a`` in {0, 1},
        below) back to layer ``layer``, whose pre-activations are the exact affine ``M x + e``; the linear
        function of ``x`` is then maximized (minimized) over the box. The caller adds the rounding margin."""
        low, high = self.box
        bounds = []
        for upper in (True, False):
            Lam = self.weights[target].copy()
            const = self.biases[target].copy()
            for j in range(target - 1, layer - 1, -1):
                lo, hi, current = intervals[j - layer]
                unknown = current < 0
                span = np.where(unknown, hi - lo, 1.0)
                up_slope = np.where(current == 1, 1.0, np.where(unknown, np.maximum(hi, 0.0) / span, 0.0))
                up_slope = np.clip(up_slope, 0.0, 1.0)
                up_icpt = np.where(unknown & (lo < 0), -up_slope * lo, 0.0)
                low_slope = np.where(current == 1, 1.0, np.where(unknown, (hi > -lo).astype(float), 0.0))
                positive = Lam > 0 if upper else Lam < 0  # coefficients that take the upper relaxation
                slope = np.where(positive, up_slope, low_slope)
                const = const + np.where(positive, Lam * up_icpt, 0.0).sum(axis=1)
                Lam = Lam * slope
                if j == layer:
                    break
                const = const + Lam @ self.biases[j]
                Lam = Lam @ self.weights[j]
            G = Lam @ linear
            const = const + Lam @ offset
            mid, rad = 0.5 * (low + high), 0.5 * (high - low)
            value = G @ mid + const + (np.abs(G) @ rad if upper else -(np.abs(G) @ rad))
            bounds.append(value)
        return bounds[1], bounds[0]

    # ------------------------------------------------------------------ the bound
    def _through(self, layer: int, states: list, lo: np.ndarray, hi: np.ndarray, A: np.ndarray,
                 last: bool = True, collect: list | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Interval propagation of ``D_l V`` (``lo = hi = V``: the node's pre-activation map applied to some
        matrix) through ``W_{l+1} D_{l+1} ... W_k`` (``last=False``: up to ``D_{k-1}``), with the absolute
        product ``A`` carried along for the rounding slack."""
        state = states[0]
        free, off = state < 0, state == 0
        lo = np.where(free[:, None], np.minimum(lo, 0.0), lo)
        hi = np.where(free[:, None], np.maximum(hi, 0.0), hi)
        lo[off], hi[off], A[off] = 0.0, 0.0, 0.0
        if collect is not None:
            collect.append((layer, lo, hi, A))
        end = len(self.weights) if last else len(self.weights) - 1
        with np.errstate(all="ignore"):
            for j in range(layer + 1, end):
                P, N = self.positive[j], self.negative[j]
                lo, hi = P @ lo + N @ hi, P @ hi + N @ lo
                A = self.abs_weights[j] @ A
                if j < len(self.weights) - 1:
                    state = states[j - layer]
                    free, off = state < 0, state == 0
                    lo = np.where(free[:, None], np.minimum(lo, 0.0), lo)
                    hi = np.where(free[:, None], np.maximum(hi, 0.0), hi)
                    lo[off], hi[off], A[off] = 0.0, 0.0, 0.0
                    if collect is not None:
                        collect.append((j, lo, hi, A))
        return lo, hi, A

    def entrywise(self, layer: int, states: list, linear: np.ndarray, collect: list | None = None) -> np.ndarray:
        """``B >= |J|`` entrywise for every completion (``states`` from :meth:`stability`); ``collect`` receives
        the intermediate intervals (:meth:`split`)."""
        lo, hi, A = self._through(layer, states, linear.copy(), linear.copy(), np.abs(linear), collect=collect)
        with np.errstate(all="ignore"):
            return np.maximum(np.abs(lo), np.abs(hi)) + PRODUCT_SLACK * A

    def split(self, collect: list, linear: np.ndarray, state: np.ndarray) -> float:
        """``||J|| <= ||W_k|| ... ||W_{j+1}|| N_j`` for every ReLU layer ``j`` from the node's layer ``l`` on, with
        ``N_j >= ||D_j P_j||``, ``P_j = W_j D_{j-1} ... D_l M_l``: every ``D`` is a contraction in the three norms
        and dropping rows never increases them, so ``N_l = ||M_l||`` over the rows not fixed off (exact ``M_l``,
        no interval) and ``N_j = min(||B_j||, ||W_j|| N_{j-1})``, ``B_j`` the entrywise interval bound of
        ``D_j P_j`` (``collect`` from :meth:`entrywise`). The layer norms carry a relative slack of ``1e-8`` each
        (the float SVD's backward error, or non-negative sums; ``M_l`` is the nearest-float map). This keeps deep
        networks' bounds from compounding the interval widening layer after layer. In l1 and l_inf on a box the bound
        is also :data:`NORM_FROM_SPECTRAL`'s factor times the same chain in l2 (the smaller of the two). Measured
        (random nets, ``auto``, 8 s, upper ends without -> with): 30-30-30-30-30-30-1 on ``[0, 0.1]^30`` l1
        96.9 -> 24.2, l_inf 2,045 -> 132; the small-box searches of 10-30-30-30-3 the same nodes and times.
        Globally it cost 12% of the node rate (10-20-20-1 l_inf) without lowering the bracket, which the root's
        LipSDP bound caps there (:meth:`lipexact.deep.enumerate.DeepSearch.spectral_root_bound`)."""
        rows = linear[np.asarray(state) != 0]
        best = self._split(collect, rows, self.norm, self.layer_norms, self.tails)
        if self.spectral_split:  # ||J||_p <= factor * ||J||_2 (NORM_FROM_SPECTRAL)
            factor = NORM_FROM_SPECTRAL[self.norm](self.weights[-1].shape[0], linear.shape[1])
            best = min(best, factor * self._split(collect, rows, "2", *self.spectral, frobenius=True))
        return best

    @staticmethod
    def _split(collect: list, rows: np.ndarray, norm: str, layer_norms: list, tails: list,
               frobenius: bool = False) -> float:
        """The chain of :meth:`split` in ``norm``; ``frobenius``: the interval matrices' spectral norms bounded by
        their Frobenius norms (sums of squares, relative rounding far below the ``1e-8`` added; cheaper than their
        SVDs)."""
        best = math.inf
        with np.errstate(all="ignore"):
            head = float(jacobian_norms(rows, norm)) * (1 + 1e-8) if rows.size else 0.0
            for j, lo, hi, A in collect:
                B = np.maximum(np.abs(lo), np.abs(hi)) + PRODUCT_SLACK * A
                if frobenius:
                    value = math.sqrt(float(np.einsum("ij,ij->", B, B))) * (1 + 1e-8)
                else:
                    value = float(jacobian_norms(B, norm))
                head = min(value, head) if j == collect[0][0] else min(value, layer_norms[j] * head)
                best = min(best, tails[j + 1] * head)
        return best

    def _signs_through(self, layer: int, states: list, linear: np.ndarray):
        """``(U, lo, hi, slack)``: the interval propagation of ``M_l u`` for the sign vectors ``u`` (columns of
        ``U``, one of each pair ``u``, ``-u``) and the rounding slack per output; None beyond
        :data:`SIGN_BUDGET`."""
        n = linear.shape[1]
        work = (1 << max(n - 1, 0)) * sum(W.shape[0] for W in self.weights[layer:])
        if n == 0 or work > SIGN_BUDGET:
            return None
        U = _sign_vectors(n)
        with np.errstate(all="ignore"):
            V = linear @ U
            A = np.abs(linear).sum(axis=1, keepdims=True)  # |M| |u| with |u| = 1: the same for every u
            lo, hi, A = self._through(layer, states, V, V.copy(), A)
        return U, lo, hi, PRODUCT_SLACK * A[:, 0]

    def row_sums(self, layer: int, states: list, linear: np.ndarray) -> np.ndarray | None:
        """Per output ``r``: a bound on ``||J_r||_1 = max_u J_r u`` over the sign vectors ``u`` (half of them:
        ``u`` and ``-u`` give opposite values), each ``J u`` bounded by the interval propagation of the vector
        ``M_l u``; None when the ``2^(n-1)`` sign vectors exceed :data:`SIGN_BUDGET`."""
        found = self._signs_through(layer, states, linear)
        if found is None:
            return None
        _, lo, hi, slack = found
        with np.errstate(all="ignore"):
            return np.maximum(hi.max(axis=1), -lo.min(axis=1)) + slack

    def orthant_l2(self, layer: int, states: list, linear: np.ndarray) -> float | None:
        """One output: ``||g||_2`` for the gradient ``g = J^T`` of every completion. In the orthant of the sign
        vector ``s`` (``s_c g_c >= 0``), ``||g||_1 = s . g <= h(s)`` (the sign-vector bound) and
        ``0 <= s_c g_c <= cap_c`` (the entrywise interval's side ``s_c``); the largest ``||g||_2`` on that
        polytope puts the budget on the largest caps first (``sum g_c^2`` is Schur-convex: the greedy vector
        majorizes every feasible one). The bound is the largest over all ``2^n`` orthants; None beyond
        :data:`SIGN_BUDGET` or for several outputs."""
        if self.weights[-1].shape[0] != 1:
            return None
        found = self._signs_through(layer, states, linear)
        if found is None:
            return None
        U, lo, hi, slack = found
        with np.errstate(all="ignore"):
            e_lo, e_hi, A = self._through(layer, states, linear.copy(), linear.copy(), np.abs(linear))
            e_slack = PRODUCT_SLACK * A[0]
            up, down = np.maximum(e_hi[0], 0.0) + e_slack, np.maximum(-e_lo[0], 0.0) + e_slack
            signs = np.hstack([U, -U])  # n x 2^n: every orthant
            budget = np.concatenate([hi[0], -lo[0]]) + slack[0]
            caps = np.where(signs.T > 0, up[None, :], down[None, :])  # 2^n x n
            caps = -np.sort(-caps, axis=1)
            before = np.cumsum(caps, axis=1) - caps  # budget used by the larger caps
            take = np.clip(budget[:, None] - before, 0.0, caps)
            value = float(np.sqrt((take ** 2).sum(axis=1)).max())
        return value * (1 + BOUND_SLACK) if math.isfinite(value) else math.inf

    def column_sums(self, layer: int, states: list, linear: np.ndarray) -> np.ndarray | None:
        """Per input ``c``: a bound on ``||J e_c||_1 = max_s s^T J e_c`` over the output sign vectors ``s``
        (half of them), the last layer ``s^T W_k`` applied to the interval of ``D_{k-1} ... D_l M_l e_c``;
        None for one output (no better than :meth:`entrywise`) or too many outputs."""
        m = self.weights[-1].shape[0]
        if m < 2 or (1 << (m - 1)) * linear.shape[1] > SIGN_BUDGET:
            return None
        lo, hi, A = self._through(layer, states, linear.copy(), linear.copy(), np.abs(linear), last=False)
        S = _sign_vectors(m).T @ self.weights[-1]  # one row per output sign vector
        with np.errstate(all="ignore"):
            P, N = np.maximum(S, 0.0), np.minimum(S, 0.0)
            top, bottom = P @ hi + N @ lo, P @ lo + N @ hi
            reach = self.abs_weights[-1].sum(axis=0) @ A  # sum_r (|W_k| A)_rc bounds every term
            return np.maximum(top.max(axis=0), -bottom.min(axis=0)) + PRODUCT_SLACK * reach

    def bound(self, layer: int, state: np.ndarray, affine, region: tuple | None = None) -> float:
        """Proven upper bound on ``||J||`` over the completions of a node at ReLU layer ``layer`` whose units
        of that layer have ``state`` (1 on, 0 off, -1 free) and whose pre-activation map is ``affine``
        (:class:`lipexact.deep.exact.AffineMap`); ``region``: proven intervals of those pre-activations over
        the node's region (:meth:`stability`; boxes only)."""
        linear = affine.float_linear()
        offset = float_offset(affine) if self.box is not None else None
        states = self.stability(layer, np.asarray(state, dtype=np.int8), linear, offset, region)
        if self.jacobian == "signed":
            exact = self.vertices(layer, states, linear)
            if exact is not None:  # the largest norm over every completion: no bound below can be smaller
                return exact * (1 + BOUND_SLACK) if math.isfinite(exact) else math.inf
        collect = [] if self.jacobian == "signed" else None
        B = self.entrywise(layer, states, linear, collect)
        with np.errstate(over="ignore", invalid="ignore"):
            value = float(jacobian_norms(B, self.norm))
            if self.jacobian == "signed":
                value = min(value, self.split(collect, linear, states[0]))
                last = layer == len(self.weights) - 2
                if last:
                    value = min(value, self.last_layer(states[0], linear))
                if not (last and np.count_nonzero(states[0] < 0) <= LAST_LAYER_FREE) and (last or self.early_signs):
                    value = min(value, self.signed(layer, states, linear, B))  # (all enumerated: exact already)
        return value * (1 + BOUND_SLACK) if math.isfinite(value) else math.inf

    def vertices(self, layer: int, states: list, linear: np.ndarray) -> float | None:
        """The largest ``||J||`` over every completion (realizable or not), by enumeration; None beyond
        :data:`VERTEX_FREE` free units in all or :data:`VERTEX_ENTRIES` entries (``states`` from
        :meth:`stability`).

        ``J = W_k D_{k-1} ... W_{l+1} D_l M_l`` is multilinear in the free entries of the ``D`` (each appears
        to the first power), so with the others fixed it is affine in any one of them, and its norm, a convex
        function of it, is largest at 0 or 1: the maximum over ``[0, 1]^k`` is reached at one of the ``2^k``
        completions. Products run from the outputs: at each layer the fixed part of every partial product is
        multiplied once and each free unit's share (its column times its row of the next map) is added to the
        completions where it is on, so the stack doubles at each free unit. Rounding: each
        Jacobian's float error is below ``PRODUCT_SLACK A`` entrywise (``A`` the absolute product over the
        units not fixed off, as in :meth:`entrywise`), so ``||J|| <= ||J_float|| + PRODUCT_SLACK ||A||`` (the
        three norms are monotone on non-negative matrices and ``||E|| <= || |E| ||``)."""
        total = sum(int(np.count_nonzero(state < 0)) for state in states)
        widths = [W.shape[0] for W in self.weights[layer:]] + [linear.shape[1]]
        if total > VERTEX_FREE or (1 << total) * self.weights[-1].shape[0] * max(widths) > VERTEX_ENTRIES:
            return None
        L = self.weights[-1][None]
        A = self.abs_weights[-1]
        with np.errstate(all="ignore"):
            for j in range(len(self.weights) - 2, layer - 1, -1):
                state = states[j - layer]
                free = np.flatnonzero(state < 0)
                following = self.weights[j] if j > layer else linear
                stack, m, width = L.shape[0], L.shape[1], following.shape[1]
                base = ((L * (state == 1)).reshape(stack * m, -1) @ following).reshape(stack, m, width)
                if free.size:  # each free unit adds its share L[:, :, i] (x) following[i] where it is on
                    shares = L[:, :, free][:, :, :, None] * following[free][None, None]  # stack x m x f x width
                    codes = _completions(free.size)
                    added = (codes @ shares.transpose(2, 0, 1, 3).reshape(free.size, -1))
                    added = added.reshape(codes.shape[0], stack, m, width).transpose(1, 0, 2, 3)
                    L = (base[:, None] + added).reshape(-1, m, width)
                else:
                    L = base
                A = A * (state != 0)
                A = A @ (self.abs_weights[j] if j > layer else np.abs(linear))
            slack = PRODUCT_SLACK * float(jacobian_norms(A, self.norm))
            if not math.isfinite(slack):  # A >= |J| overflowed: so may J (inf, or NaN where inf met 0 or -inf)
                return math.inf
            if self.norm != "2" or L.shape[1] == 1:
                return float(jacobian_norms(L, self.norm).max()) + slack
            # ||J||_2 <= ||J||_F: spectral norms in decreasing order of the Frobenius norms, until no remaining
            # Frobenius norm (float sums of squares: relative error below 1e-12) can exceed the best
            frobenius = np.sqrt(np.einsum("kmn,kmn->k", L, L))
            order = np.argsort(-frobenius, kind="stable")
            best = 0.0
            for start in range(0, order.size, _SPECTRAL_CHUNK):
                chunk = order[start:start + _SPECTRAL_CHUNK]
                if frobenius[chunk[0]] * (1 + 1e-12) <= best:
                    break
                best = max(best, float(jacobian_norms(L[chunk], "2").max()))
            return best + slack

    def last_layer(self, state: np.ndarray, linear: np.ndarray) -> float:
        """At the last ReLU layer: ``J = W_k D M`` with ``D`` fixed on the node's decided units. The free units
        with the largest shares ``|W_k[:, i]| |M_i|`` (at most :data:`LAST_LAYER_FREE`) are enumerated
        (``2^k`` completions, each Jacobian exact); the other free units are bounded entrywise (their shares'
        negative and positive parts summed), and the bound is the largest norm of ``max(|J_E + lo|, |J_E + hi|)``
        over the completions ``E``: the exact maximum over every completion when all free units are
        enumerated. The rounding slack ``PRODUCT_SLACK |W_k| |M|`` is added entrywise (every term is a sum of
        at most ``width + 1`` float products of the entries of ``|W_k| |M|``)."""
        free = np.flatnonzero(state < 0)
        on = np.flatnonzero(state == 1)
        W = self.weights[-1]
        with np.errstate(all="ignore"):
            live = np.concatenate([on, free])
            A = self.abs_weights[-1][:, live] @ np.abs(linear[live])
            parts = W[:, free].T[:, :, None] * linear[free][:, None, :]  # free x m x n: each free unit's share
            if free.size > LAST_LAYER_FREE:
                size = np.abs(parts).sum(axis=(1, 2))
                order = np.argsort(-size, kind="stable")
                rest, parts = parts[order[LAST_LAYER_FREE:]], parts[order[:LAST_LAYER_FREE]]
                lo, hi = np.minimum(rest, 0.0).sum(axis=0), np.maximum(rest, 0.0).sum(axis=0)
            else:
                lo = hi = np.zeros((W.shape[0], linear.shape[1]))
            fixed = W[:, on] @ linear[on]
            J = fixed[None] + np.einsum("dk,kmn->dmn", _completions(parts.shape[0]), parts)
            B = np.maximum(np.abs(J + lo), np.abs(J + hi)) + PRODUCT_SLACK * A
            return float(jacobian_norms(B, self.norm).max())

    def signed(self, layer: int, states: list, linear: np.ndarray, B: np.ndarray) -> float:
        """The sign-vector bounds: ``||J||_inf <=`` the largest :meth:`row_sums`, ``||J||_1 <=`` the largest
        :meth:`column_sums` (or of ``B``'s column sums), and ``||J||_2 <= sqrt(||J||_1 ||J||_inf)``
        (Riesz-Thorin); with one output and l2, :meth:`orthant_l2` instead (never larger). ``inf`` where
        nothing applies."""
        rows = cols = math.inf
        if self.norm == "2" and self.weights[-1].shape[0] == 1:
            orthant = self.orthant_l2(layer, states, linear)  # never above the Riesz-Thorin bound (one output)
            if orthant is not None:
                return orthant
        if self.norm in ("inf", "2"):
            sums = self.row_sums(layer, states, linear)
            rows = float(sums.max()) if sums is not None else float(B.sum(axis=1).max())
        if self.norm in ("1", "2"):
            sums = self.column_sums(layer, states, linear)
            cols = float(sums.max()) if sums is not None else float(B.sum(axis=0).max())
        if self.norm == "inf":
            return rows
        if self.norm == "1":
            return cols
        return math.sqrt(rows * cols) * (1 + BOUND_SLACK)

    def contribution(self, layer: int, linear: np.ndarray) -> np.ndarray:
        """``||M_i||_1 * ||column i of |W_k| ... |W_{l+1}| ||_1`` per unit ``i`` of ``layer`` (branching)."""
        return np.abs(linear).sum(axis=1) * self.reach[layer]


def _tails(weights: list, norm: str) -> tuple[list, list]:
    """``(layer_norms, tails)``: the float norms of the layers with a relative slack of ``1e-8`` each (SVD
    backward error, or non-negative sums), and ``tails[i] >= ||W_i|| ... ||W_k||`` (0-based affine layers ``i``;
    ``tails[k] = 1``)."""
    with np.errstate(over="ignore", invalid="ignore"):
        layer_norms = [float(jacobian_norms(W, norm)) * (1 + 1e-8) for W in weights]
        tails = [1.0]
        for value in reversed(layer_norms):
            tails.append(tails[-1] * value)
    tails.reverse()
    return layer_norms, tails


def _completions(k: int) -> np.ndarray:
    """Every 0/1 vector of length ``k`` (the rows of a ``2^k x k`` matrix)."""
    codes = np.arange(1 << k)
    return ((codes[:, None] >> np.arange(k)[None, :]) & 1).astype(np.float64)


def _sign_vectors(n: int) -> np.ndarray:
    """The ``2^(n-1)`` sign vectors of length ``n`` with first entry +1, as the columns of an ``n x 2^(n-1)``
    matrix (one of each pair ``u``, ``-u``)."""
    codes = np.arange(1 << max(n - 1, 0))
    bits = (codes[None, :] >> np.arange(n - 1)[:, None]) & 1 if n > 1 else np.zeros((0, 1), dtype=np.int64)
    return np.vstack([np.ones((1, codes.size)), 1.0 - 2.0 * bits])


def float_offset(affine) -> np.ndarray:
    """The nearest floats of ``e / 2^exponent`` (for bounds; never for decisions)."""
    scale = 1 << affine.exponent
    out = []
    for v in affine.e:
        try:
            out.append(int(v) / scale)
        except OverflowError:
            out.append(math.inf if v > 0 else -math.inf)
    return np.array(out, dtype=np.float64)
