"""Exact local Lipschitz constants of deep ReLU networks on a box by a LipMIP-class MILP (norms 1 and inf).

The formulation follows LipMIP (Jordan & Dimakis, NeurIPS 2020). For ``f = L_k o relu o ... o relu o L_1`` on
the box ``[lower, upper]``:

- **Bounds.** Pre-activation intervals over the closed box by interval arithmetic in exact rational arithmetic
  (:class:`fractions.Fraction`; the weights, biases and box are dyadic). A unit whose exact interval has one
  sign is stable and fixed (``lo >= 0``: on, ``hi <= 0``: off, as in :mod:`lipexact.deep.enumerate`): no float
  tolerance decides stability. The big-M constants are these exact intervals rounded outward to floats.
- **Forward pass** (realizability in the closed box): ``x`` in the box, ``z_l = W_l h_{l-1} + b_l``; per
  unstable unit a binary ``a``: ``h >= z``, ``h >= 0``, ``h <= z - lo (1 - a)``, ``h <= hi a`` (so ``a = 1``
  forces ``z >= 0`` and ``a = 0`` forces ``z <= 0``). The last hidden layer's ``h`` is read by nothing (the
  objective depends on the pattern only), so its units get the two sign rows ``z >= lo (1 - a)`` and
  ``z <= hi a`` alone (anchor h = 48, seeds 0-2: 10.4 / 4.1 / 24.0 s before, 9.1 / 2.3 / 6.3 s after).
- **Backward pass** (the Jacobian along the binaries): ``J^T c = W_1^T D_1 W_2^T D_2 ... D_{k-1} W_k^T c``
  computed as ``y_k = W_k^T c``, ``u_l = diag(a_l) y_{l+1}``, ``y_l = W_l^T u_l``. Each product of a binary and
  a bounded continuous ``y`` is linearized exactly (``u <= hi a``, ``u >= lo a``, ``u <= y - lo (1 - a)``,
  ``u >= y - hi (1 - a)``) with intervals of ``y`` propagated backward, again exactly.
- **Objective** (``||J||_{p->p}``; ``p = inf``: largest row absolute sum, ``p = 1``: largest column absolute
  sum). ``p = inf``: ``c`` is a one-hot output row (binaries) and the objective is ``||J^T c||_1``, each
  ``|g_j|`` through one sign binary. ``p = 1``: ``c`` is a sign vector (``c_k = 2 b_k - 1``, binaries) and the
  objective is ``max_j g_j`` through a one-hot column choice, products linearized as above.

Exactness. The big-M constraints describe CLOSED regions: a MILP optimum may be a pattern that only occurs on
a region boundary (the Clarke-Jacobian view: its value is an upper bound, not a constant). So, as in the
two-layer :mod:`lipexact.exact.milp`, each round takes the optimal joint pattern and decides its OPEN region
inside the open box on exact rational rows (:mod:`lipexact.deep.exact`,
:func:`reductions.realizability.decide_region`):

- non-empty: its certified interior point is the witness (re-checked by :mod:`lipexact.deep.certificate`);
  the recomputed value of the optimal pattern is the proven upper bound, so the result is ``optimal``;
- empty: the verified emptiness multipliers name the rows used; the cut removes every pattern that agrees
  with the optimal one on those units and on every unstable unit of the layers before the deepest of them
  (the rows of layer ``l`` depend only on the patterns of the layers before it, so the same certificate
  proves every such pattern empty), and the MILP is solved again;
- undecided: the search stops with status ``error`` and the proven bracket.

Only ``sol_status == LpSolutionOptimal`` counts as solved (PuLP calls a stopped MILP with an incumbent
"Optimal"), and the solver's objective must agree with the recomputed value of its pattern (relative 1e-6).
A time-limited solve gives ``time_limit`` with HiGHS's ``mip_dual_bound`` as the upper bound when HiGHS
reports it valid (else the last optimal round's value, or a product-of-absolute-weights bound), and the best
witness found (random points of the box, improving MILP solutions whose regions are non-empty). The MILP's own
optimality is HiGHS's (zero gap tolerances, its feasibility tolerances), as for the two-layer MILP.

NOT covered: the l2 norm (the spectral norm, and the Euclidean norm of a gradient, is not linear in the
pattern) and global constants (no domain): a global constant has no finite big-M, and a large box is not a
safe stand-in (the maximizing region of a network with biases can lie arbitrarily far away; see DESIGN.md
section 7). Both are refused with :class:`~reductions.validation.InvalidInputError` (fields ``"norm"`` and
``"domain"``); use ``method="enumerate"``.

Measured (this 2-core machine, shared with other jobs, HiGHS on 1 thread; wall seconds, medians over 5 seeds,
60 s limit; h = 64: seeds 0-3, the fifth did not finish in the session). The two-layer anchor of issue 13: ``n = 10``, N(0, 1) weights and biases, scalar output, l_inf,
box ``[-R, R]^10`` with ``R = 10 (1 + max_i |b_i| / ||w_i||)`` (every unit unstable, one MILP round, no cut):

====  ======================  ==========================  ==============================
h     deep ``milp`` (exact)   two-layer ``bnb``           plain big-M MILP (one solve,
                                                          no exact check)
====  ======================  ==========================  ==============================
32    2.7 s (5/5 optimal)     0.5 s (5/5 optimal)         1.6 s (5/5 solved)
48    15.1 s (5/5 optimal)    42.7 s (4/5 optimal)        10.8 s (5/5 solved)
64    39 s, 4 seeds: 3/4          60 s (0/4 optimal; bracket  20 / 60 / 60 / 60 s (1/4 solved;
      optimal (20, 32, 46 s),     width 6-11%)                two incumbents 2-3% below
      one time_limit                                          the constants proven by the
      [49.5, 126.2]                                           deep milp)
====  ======================  ==========================  ==============================

All proven values agree with each other (1e-9). With the last layer's sign-only rows (2026-11-27, ``python -m
benchmarks.anchor``, load 0.9-1.0): medians h = 32 / 48 / 64: deep ``milp`` 1.18 / 6.11 / 21.3 s (5, 5, 4 of 5
proven), the plain big-M MILP 1.41 / 4.70 / 18.1 s (5, 5, 4 of 5). The exact layer (exact bounds, the region
decision, the witness re-check) costs a few tenths of a second at most here; the rest is HiGHS (run-to-run noise
between the deep model and the plain one is of the order of their difference; the deep model asks HiGHS for 1e-9
feasibility tolerances).
LipBaB's published box constants (``../shared/networks``), optimal to 1e-9, one round, no cut: iris 4-5-5-3 on
``[0, 1]^4`` 0.12 s (l1) and 0.14 s (l_inf) against 0.30 / 0.33 s for ``enumerate`` and 0.19 / 0.09 s for
``bnb``; 10-15-10-3 on ``[0, 0.1]^10`` 0.15 s (l1) and 0.35 s (l_inf) against 0.13 / 0.08 s and 0.15 / 0.14 s.
Networks whose patterns meet on a lower-dimensional set (bias-free nets on a box around 0: every pattern is
feasible at ``x = 0`` in the closed model) need cuts: a bias-free 2-5-5-2 net on ``[-1, 1]^2`` takes 17 rounds
and 57 cuts (3.3 s; ``enumerate`` 3.7 s including the torch import, ``bnb`` 0.3 s).

References
----------
Jordan, M. and Dimakis, A. G. Exactly computing the local Lipschitz constant of ReLU networks.
NeurIPS 2020 (arXiv:2003.01219).
"""

from __future__ import annotations

import math
import time
from fractions import Fraction
from typing import Any

import numpy as np
import pulp

from lipexact.deep.exact import ExactNetwork, exact_rows
from lipexact.deep.network import ReLUNetwork, normalized_by_powers_of_two
from lipexact.domain import Box
from lipexact.exact.milp_model import pulp_solver
from lipexact.exact.problem import Clock
from lipexact.exact.progress import SearchProgress
from lipexact.norms import jacobian_norms
from lipexact.result import Status
from reductions.realizability import decide_region
from reductions.validation import InvalidInputError

__all__ = ["DeepMilp", "check_milp_input", "solve_deep_milp"]

#: Largest relative gap allowed between the solver's objective and the recomputed value of its pattern.
_FORMULATION_TOLERANCE = 1e-6
#: Random points of the box tried as first witnesses.
_START_POINTS = 16
#: Relative slack on the float evaluation of the trivial bound (sums and products of non-negative floats).
_BOUND_SLACK = 1e-10

#: HiGHS feasibility tolerances (default 1e-6 / 1e-7). With the defaults, LipBaB's iris net (l_inf, box [0, 1]^4)
#: came out 4.8e-10 BELOW the constant: the MILP dropped a unit whose contribution is 4.8e-10 as "equal"; at 1e-9
#: the optimum is the true one (measured), the anchor nets solve as fast.
_TOLERANCES = {"mip_feasibility_tolerance": 1e-9, "primal_feasibility_tolerance": 1e-9,
               "dual_feasibility_tolerance": 1e-9}


def check_milp_input(norm: str, domain: Box | None) -> None:
    """Refuse what the deep MILP does not cover: the l2 norm and global constants.

    Examples
    --------
    >>> check_milp_input("2", None)
    Traceback (most recent call last):
    ...
    reductions.validation.InvalidInputError: norm: expected 1 or inf for method='milp' (the l2 objective is not linear in the pattern; use method='enumerate'), got 2
    >>> from lipexact.domain import Box
    >>> check_milp_input("inf", Box([0.0], [1.0])) is None
    True
    """
    if norm not in ("1", "inf"):
        raise InvalidInputError("norm", "1 or inf for method='milp' (the l2 objective is not linear in the pattern; "
                                "use method='enumerate')", str(norm))
    if domain is None:
        raise InvalidInputError("domain", "a box for method='milp' (a global constant has no finite big-M, and a "
                                "large box is not a safe stand-in: the maximizing region can lie outside it; "
                                "use method='enumerate')", "None (global constant)")


def _down(value: Fraction) -> float:
    f = float(value)
    return f if Fraction(f) <= value else float(np.nextafter(f, -np.inf))


def _up(value: Fraction) -> float:
    f = float(value)
    return f if Fraction(f) >= value else float(np.nextafter(f, np.inf))


def _fractions(array: np.ndarray) -> list:
    return [[Fraction(float(v)) for v in row] for row in np.atleast_2d(np.asarray(array, dtype=np.float64))]


def _interval_product(W: list, low: list, high: list) -> tuple[list, list]:
    """Exact ``[min, max]`` of ``W v`` over ``low <= v <= high`` (``W`` as lists of Fractions)."""
    lows, highs = [], []
    for row in W:
        lo = hi = Fraction(0)
        for w, l, h in zip(row, low, high):
            if w > 0:
                lo += w * l
                hi += w * h
            elif w < 0:
                lo += w * h
                hi += w * l
        lows.append(lo)
        highs.append(hi)
    return lows, highs


class DeepMilp:
    """The LipMIP-class model of a deep ReLU network on a box, and the lazy exact-realizability loop.

    Parameters
    ----------
    net : ReLUNetwork
    norm : {"1", "inf"}
    domain : Box
    clock : Clock
    threads : int
        HiGHS threads.
    max_rounds : int, optional
        Stop after this many MILP solves (status ``node_limit``, proven bracket kept).
    progress : bool
        Print rounds and the bracket to stderr (and the solver's log).

    Examples
    --------
    >>> net = ReLUNetwork([([[1.0, -1.0], [1.0, 1.0]], [0.0, -0.5]), ([[1.0, 2.0]], [0.0]), ([[3.0]], None)])
    >>> search = DeepMilp(net, "inf", Box([-1.0, -1.0], [1.0, 1.0]), Clock())
    >>> status, message = search.run()
    >>> status.value, search.upper, search.stats["unstable"]
    ('optimal', 12.0, 2)
    """

    def __init__(self, net: ReLUNetwork, norm: str, domain: Box, clock: Clock, threads: int = 1,
                 max_rounds: int | None = None, progress: bool = False):
        check_milp_input(norm, domain)
        self.net, self.norm, self.domain, self.clock = net, norm, domain, clock
        self.threads, self.max_rounds = threads, max_rounds
        self.exact = ExactNetwork(net)
        self.hidden = net.hidden_sizes
        self.n, self.m = net.n_inputs, net.n_outputs
        self.progress = SearchProgress("deep-milp", progress)
        self.msg = bool(progress)
        self.best_value: float | None = None
        self.best_point: np.ndarray | None = None
        self.upper = math.inf
        self.proof = "none"
        self.stats: dict[str, Any] = {"rounds": 0, "cuts": 0, "cut_size_max": 0, "lps": 0, "milp_seconds": 0.0,
                                      "solver": "highs", "formulation": "lipmip-bigM+exact-lazy-cuts"}
        self._bounds()
        self._build()

    # ------------------------------------------------------------------ bounds
    def _bounds(self) -> None:
        """Exact forward intervals, stability, exact backward intervals of ``y``."""
        low = [Fraction(float(v)) for v in self.domain.lower]
        high = [Fraction(float(v)) for v in self.domain.upper]
        self.W = [_fractions(W) for W in self.net.weights]
        self.b = [[Fraction(float(v)) for v in np.asarray(b, dtype=np.float64).reshape(-1)] for b in self.net.biases]
        self.z_low, self.z_high, self.fixed = [], [], []
        for layer in range(len(self.hidden)):
            lo, hi = _interval_product(self.W[layer], low, high)
            lo = [v + c for v, c in zip(lo, self.b[layer])]
            hi = [v + c for v, c in zip(hi, self.b[layer])]
            fixed = [True if l >= 0 else (False if h <= 0 else None) for l, h in zip(lo, hi)]
            self.z_low.append(lo)
            self.z_high.append(hi)
            self.fixed.append(fixed)
            low = [max(l, Fraction(0)) if f is not False else Fraction(0) for l, f in zip(lo, fixed)]
            high = [max(h, Fraction(0)) if f is not False else Fraction(0) for h, f in zip(hi, fixed)]
        self.unstable = [(l, i) for l, fixed in enumerate(self.fixed) for i, f in enumerate(fixed) if f is None]
        self.stats.update(unstable=len(self.unstable), stable=self.net.n_hidden - len(self.unstable))
        # Backward: c in [0, 1]^m (inf: one-hot row) or [-1, 1]^m (1: sign vector); m = 1 and inf: c = 1.
        if self.norm == "inf":
            c_low = [Fraction(1 if self.m == 1 else 0)] * self.m
        else:
            c_low = [Fraction(-1)] * self.m
        c_high = [Fraction(1)] * self.m
        self.y_low, self.y_high = [None] * (len(self.hidden) + 1), [None] * (len(self.hidden) + 1)
        lo, hi = c_low, c_high
        for layer in range(len(self.hidden), -1, -1):
            transposed = [list(col) for col in zip(*self.W[layer])]
            lo, hi = _interval_product(transposed, lo, hi)
            self.y_low[layer], self.y_high[layer] = lo, hi  # y_layer = W_layer^T u_layer (u_k = c)
            if layer:
                fixed = self.fixed[layer - 1]
                lo = [Fraction(0) if f is False else (v if f else min(v, Fraction(0))) for v, f in zip(lo, fixed)]
                hi = [Fraction(0) if f is False else (v if f else max(v, Fraction(0))) for v, f in zip(hi, fixed)]

    def trivial_bound(self) -> float:
        """``||  |W_k| D ... |W_1| ||`` with the stable-off units removed: dominates ``|J|`` for every pattern."""
        P = np.abs(np.asarray(self.net.weights[0], dtype=np.float64))
        for layer, W in enumerate(self.net.weights[1:]):
            keep = np.array([f is not False for f in self.fixed[layer]], dtype=bool)
            P = np.abs(np.asarray(W, dtype=np.float64))[:, keep] @ P[keep]
        with np.errstate(over="ignore", invalid="ignore"):
            value = float(jacobian_norms(P, self.norm))
        return value * (1 + _BOUND_SLACK) if math.isfinite(value) else math.inf

    # ------------------------------------------------------------------ model
    def _var(self, name: str, low: float | None, high: float | None, binary: bool = False) -> pulp.LpVariable:
        cat = pulp.LpBinary if binary else pulp.LpContinuous
        if hasattr(self.problem, "add_variable"):
            return self.problem.add_variable(name, low, high, cat=cat)
        return pulp.LpVariable(name, lowBound=low, upBound=high, cat=cat)  # pragma: no cover - PuLP 2

    def _product(self, name: str, a: pulp.LpVariable, y: Any, lo: Fraction, hi: Fraction) -> Any:
        """``u = a y`` for binary ``a`` and ``lo <= y <= hi``, linearized exactly."""
        if lo == 0 and hi == 0:
            return 0
        if isinstance(y, (int, float)) or (isinstance(y, pulp.LpAffineExpression) and len(y) == 0):
            constant = float(y) if isinstance(y, (int, float)) else float(y.constant)
            return constant * a  # a product with a constant is linear: no variable
        flo, fhi = _down(lo), _up(hi)
        u = self._var(name, min(flo, 0.0), max(fhi, 0.0))
        P = self.problem
        P += u <= fhi * a, f"{name}_hi"
        P += u >= flo * a, f"{name}_lo"
        P += u <= y - flo * (1 - a), f"{name}_y_hi"
        P += u >= y - fhi * (1 - a), f"{name}_y_lo"
        return u

    def _build(self) -> None:
        P = self.problem = pulp.LpProblem("deep_lipschitz", pulp.LpMaximize)
        lower, upper = self.domain.lower, self.domain.upper
        h: list = [self._var(f"x_{j}", float(lower[j]), float(upper[j])) for j in range(self.n)]
        self.x_vars = list(h)
        self.a: dict[tuple[int, int], pulp.LpVariable] = {}
        for layer in range(len(self.hidden)):
            W, b = np.asarray(self.net.weights[layer], dtype=np.float64), np.asarray(self.net.biases[layer], dtype=np.float64)
            nxt: list = []
            for i in range(self.hidden[layer]):
                state = self.fixed[layer][i]
                if state is False:
                    nxt.append(0)
                    continue
                z = pulp.lpSum(float(w) * v for v, w in zip(h, W[i]) if w != 0 and not isinstance(v, int)) + float(b[i])
                if state is True:
                    nxt.append(z)
                    continue
                lo, hi = _down(self.z_low[layer][i]), _up(self.z_high[layer][i])
                a = self._var(f"a_{layer}_{i}", 0, 1, binary=True)
                self.a[(layer, i)] = a
                if layer == len(self.hidden) - 1:  # no later layer reads relu(z): only its sign matters
                    P += z >= lo * (1 - a), f"z_{layer}_{i}_on"
                    P += z <= hi * a, f"z_{layer}_{i}_off"
                    nxt.append(0)
                    continue
                out = self._var(f"h_{layer}_{i}", 0.0, hi)
                P += out >= z, f"h_{layer}_{i}_ge_z"
                P += out <= z - lo * (1 - a), f"h_{layer}_{i}_le_z"
                P += out <= hi * a, f"h_{layer}_{i}_off"
                nxt.append(out)
            h = nxt
        # Backward pass from c.
        k = len(self.hidden)
        if self.norm == "inf":
            if self.m == 1:
                c: list = [1.0]
            else:
                choice = [self._var(f"row_{r}", 0, 1, binary=True) for r in range(self.m)]
                P += pulp.lpSum(choice) == 1, "one_row"
                c = choice
        else:
            signs = [self._var(f"sign_{r}", 0, 1, binary=True) for r in range(self.m)]
            c = [2 * s - 1 for s in signs]
        u = c
        for layer in range(k, -1, -1):
            W = np.asarray(self.net.weights[layer], dtype=np.float64)
            y = [pulp.lpSum(float(W[r, j]) * u[r] for r in range(W.shape[0]) if W[r, j] != 0 and not
                            (isinstance(u[r], (int, float)) and u[r] == 0)) for j in range(W.shape[1])]
            if layer == 0:
                g = y
                break
            u = []
            for i in range(self.hidden[layer - 1]):
                state = self.fixed[layer - 1][i]
                if state is False:
                    u.append(0)
                elif state is True:
                    u.append(y[i])
                else:
                    u.append(self._product(f"u_{layer - 1}_{i}", self.a[(layer - 1, i)], y[i],
                                           self.y_low[layer][i], self.y_high[layer][i]))
        g_low, g_high = self.y_low[0], self.y_high[0]
        terms = []
        if self.norm == "inf":
            for j in range(self.n):
                lo, hi = _down(g_low[j]), _up(g_high[j])
                if lo == 0 and hi == 0:
                    continue
                t = self._var(f"t_{j}", 0.0, max(-lo, hi))
                if lo >= 0:
                    P += t <= g[j], f"t_{j}_pos"
                elif hi <= 0:
                    P += t <= -g[j], f"t_{j}_neg"
                else:
                    s = self._var(f"s_{j}", 0, 1, binary=True)
                    P += t <= g[j] + (-2.0 * lo) * (1 - s), f"t_{j}_pos"
                    P += t <= -g[j] + (2.0 * hi) * s, f"t_{j}_neg"
                terms.append(t)
        else:
            columns = [self._var(f"col_{j}", 0, 1, binary=True) for j in range(self.n)]
            P += pulp.lpSum(columns) == 1, "one_column"
            for j in range(self.n):
                lo, hi = _down(g_low[j]), _up(g_high[j])
                w = self._var(f"w_{j}", min(lo, 0.0), max(hi, 0.0))
                P += w <= hi * columns[j], f"w_{j}_hi"
                P += w <= g[j] - lo * (1 - columns[j]), f"w_{j}_g"
                terms.append(w)
        P += pulp.lpSum(terms) if terms else pulp.LpAffineExpression(constant=0.0)
        variables = P.variables()
        self.stats.update(binaries=sum(1 for v in variables if v.cat == pulp.LpInteger),
                          continuous=sum(1 for v in variables if v.cat != pulp.LpInteger),
                          constraints=P.numConstraints())

    # ------------------------------------------------------------------ patterns and regions
    def patterns_of(self, chosen: dict) -> list[np.ndarray]:
        """Per-layer patterns from the binaries' values (stable units fixed)."""
        return [np.array([f if f is not None else bool(chosen[(l, i)]) for i, f in enumerate(fixed)], dtype=bool)
                for l, fixed in enumerate(self.fixed)]

    def value_of(self, patterns: list[np.ndarray]) -> float:
        return float(jacobian_norms(self.net.jacobian_of_patterns(patterns), self.norm))

    def region(self, patterns: list[np.ndarray]) -> tuple[list, list]:
        """Exact rows of the open region of ``patterns`` (unstable, non-constant units, plus constant units whose
        offset is non-zero) and the unit ``(layer, i)`` of each row."""
        rows, owners = [], []
        current = self.exact.first()
        for layer, pattern in enumerate(patterns):
            if layer:
                current = self.exact.compose(layer, current, patterns[layer - 1])
            for i, on in enumerate(pattern):
                if self.fixed[layer][i] is not None:
                    continue  # stable on the box: strictly signed on any open region where it is not constant
                if current.zero_row(i) and current.e[i] == 0:
                    continue  # identically zero on the region: either pattern gives the same Jacobian
                rows.append(current.row(i, 1 if on else -1))
                owners.append((layer, i))
        return rows, owners

    def decide(self, patterns: list[np.ndarray]):
        rows, owners = self.region(patterns)
        self.stats["lps"] += 1
        if not rows:
            return "nonempty", self.domain.center.copy(), owners, None
        exact = exact_rows(rows, self.n)
        decision = decide_region(exact.A, exact.c, self.domain.lower, self.domain.upper, exact=exact)
        return decision.status, decision.point, owners, decision.multipliers

    def cut(self, patterns: list[np.ndarray], owners: list, multipliers) -> None:
        """Cut off every pattern that agrees with ``patterns`` on the certificate's units and on every unstable
        unit of the layers before the deepest of them."""
        support = {owners[r] for r, y in multipliers.items() if y > 0}
        deepest = max(layer for layer, _ in support)
        units = sorted(support | {(l, i) for l, i in self.unstable if l < deepest})
        expression = pulp.lpSum((1 - self.a[u]) if patterns[u[0]][u[1]] else self.a[u] for u in units)
        self.problem += expression >= 1, f"cut_{self.stats['cuts']}"
        self.stats["cuts"] += 1
        self.stats["cut_size_max"] = max(self.stats["cut_size_max"], len(units))

    def offer(self, x: np.ndarray | None) -> None:
        """Keep ``x`` as the witness when it is strictly inside its region (exact signs) and improves."""
        if x is None or not np.all(np.isfinite(x)) or not self.domain.contains_interior(x):
            return
        current = self.exact.first()
        patterns = []
        for layer in range(len(self.hidden)):
            if layer:
                current = self.exact.compose(layer, current, patterns[-1])
            signs = current.signs(x)
            if any(signs[i] == 0 and not current.zero_row(i) for i in range(current.width)):
                return
            patterns.append(signs > 0)
        value = self.value_of(patterns)
        if self.best_value is None or value > self.best_value:
            self.best_value, self.best_point = value, np.asarray(x, dtype=np.float64)

    # ------------------------------------------------------------------ the loop
    def run(self) -> tuple[Status, str]:
        rng = np.random.default_rng(0)
        for x in rng.uniform(self.domain.lower, self.domain.upper, size=(_START_POINTS, self.n)):
            self.offer(x)
        self.upper, self.proof = self.trivial_bound(), "product of absolute weight matrices (stable-off units removed)"
        if not self.unstable:
            patterns = self.patterns_of({})
            self.offer(self.domain.center.copy())
            self.upper = min(self.upper, self.value_of(patterns))
            self.proof = "every unit is stable on the box: one pattern"
            return Status.OPTIMAL, "optimal: every unit is stable on the box"
        try:
            while True:
                if self.clock.expired():
                    return Status.TIME_LIMIT, f"time limit after {self.stats['rounds']} MILP rounds"
                if self.max_rounds is not None and self.stats["rounds"] >= self.max_rounds:
                    return Status.NODE_LIMIT, f"stopped after max_rounds={self.max_rounds} MILP rounds"
                ended = self.round()
                if ended is not None:
                    return ended
        except KeyboardInterrupt:
            return Status.INTERRUPTED, f"interrupted in MILP round {self.stats['rounds']}"

    def _read(self, values: dict) -> list[np.ndarray]:
        return self.patterns_of({u: values.get(u, 0.0) > 0.5 for u in self.a})

    def round(self) -> tuple[Status, str] | None:
        improving: list[np.ndarray] = []
        backend, used = pulp_solver("highs", msg=self.msg, time_limit=self.clock.remaining(), threads=self.threads,
                                    on_solution=improving.append)
        if used == "highs":
            backend.optionsDict.update(_TOLERANCES)
        self.stats["solver"] = used
        start = time.perf_counter()
        self.problem.solve(backend)
        self.stats["milp_seconds"] += time.perf_counter() - start
        self.stats["rounds"] += 1
        sol_status = self.problem.sol_status
        self.stats["solver_status"] = pulp.LpSolution.get(sol_status, str(sol_status))
        if sol_status != pulp.LpSolutionOptimal:
            return self._stopped(used, improving)
        patterns = self._read({u: (v.varValue or 0.0) for u, v in self.a.items()})
        value = self.value_of(patterns)
        claimed = pulp.value(self.problem.objective)
        claimed = 0.0 if claimed is None else float(claimed)
        self.stats["solver_value"] = claimed
        if abs(claimed - value) > _FORMULATION_TOLERANCE * max(1.0, value):
            return Status.ERROR, (f"the MILP objective {claimed!r} of its optimal pattern differs from the pattern's "
                                  f"value {value!r}: formulation or solver failure")
        if value < self.upper:
            self.upper = value
            self.proof = (f"optimal LipMIP-class MILP over the closed box, minus {self.stats['cuts']} patterns' "
                          f"regions proven empty by exact certificates ({self.stats['rounds']} rounds)")
        status, point, owners, multipliers = self.decide(patterns)
        self.progress.update(self.best_value, self.upper, self.stats["rounds"])
        if status == "nonempty":
            # The point is certified strictly inside the region of the optimal pattern (the certified result
            # re-checks it); its Jacobian is the pattern's.
            self.best_point, self.best_value = np.asarray(point, dtype=np.float64), value
            return Status.OPTIMAL, f"optimal after {self.stats['rounds']} MILP rounds and {self.stats['cuts']} cuts"
        if status == "empty":
            self.cut(patterns, owners, multipliers)
            self._offer_found(improving)
            return None
        return Status.ERROR, (f"no proof: the region of the MILP's optimal pattern is undecided "
                              f"(round {self.stats['rounds']})")

    def _offer_found(self, columns: list[np.ndarray], limit: int = 3, cut: bool = True) -> None:
        """Witnesses from the improving solutions HiGHS met (their regions decided exactly); with ``cut``, the
        empty ones are cut off as well (proven by their own certificates)."""
        seen = set()
        for values in reversed(columns[-limit:]):
            if self.clock.expired():
                return
            chosen = {}
            for u, v in self.a.items():
                index = getattr(v, "index", None)
                chosen[u] = index is not None and index < values.size and values[index] > 0.5
            patterns = self.patterns_of(chosen)
            key = np.concatenate(patterns).tobytes()
            if key in seen or (self.best_value is not None and self.value_of(patterns) <= self.best_value):
                continue
            seen.add(key)
            status, point, owners, multipliers = self.decide(patterns)
            if status == "nonempty":
                self.offer(point)
            elif status == "empty" and cut:
                self.cut(patterns, owners, multipliers)

    def _stopped(self, used: str, improving: list[np.ndarray]) -> tuple[Status, str]:
        bound = self._dual_bound() if used == "highs" else None
        if bound is not None and bound < self.upper:
            self.upper = bound
            self.proof = "dual bound (mip_dual_bound) of the stopped HiGHS solve"
        if self.problem.sol_status == pulp.LpSolutionIntegerFeasible:  # the incumbent's x and points near it
            x = np.array([v.varValue if v.varValue is not None else math.nan for v in self.x_vars], dtype=np.float64)
            if np.all(np.isfinite(x)):
                x = np.clip(x, self.domain.lower, self.domain.upper)
                rng = np.random.default_rng(1)
                width = self.domain.upper - self.domain.lower
                for scale in (0.0, 1e-9, 1e-7, 1e-5):
                    self.offer(x + scale * width * rng.uniform(-1, 1, size=self.n))
        limit = self.clock.time_limit
        if self.best_value is None or limit is None or self.clock.elapsed() <= 1.05 * limit:
            self._offer_found(improving, limit=2, cut=False)
        if self.clock.expired():
            return Status.TIME_LIMIT, f"time limit in MILP round {self.stats['rounds']}"
        return Status.ERROR, f"the MILP solver ended with '{self.stats['solver_status']}'"

    def _dual_bound(self) -> float | None:
        highs = getattr(self.problem, "solverModel", None)
        if highs is None:
            return None
        import highspy

        trusted = (highspy.HighsModelStatus.kOptimal, highspy.HighsModelStatus.kTimeLimit,
                   highspy.HighsModelStatus.kInterrupt)
        try:
            info = highs.getInfo()
            if not info.valid or highs.getModelStatus() not in trusted:
                return None
            dual = float(info.mip_dual_bound)
        except (AttributeError, TypeError, ValueError):  # pragma: no cover - depends on the highspy version
            return None
        upper = -dual  # PuLP hands HiGHS the negated objective of a maximization (no constant term here)
        return upper if math.isfinite(upper) else None


def solve_deep_milp(net: ReLUNetwork, norm: str, domain: Box, clock: Clock, threads: int = 1,
                    max_rounds: int | None = None, progress: bool = False) -> tuple[Status, np.ndarray | None, float,
                                                                                    str, str, dict]:
    """Run :class:`DeepMilp`: ``(status, witness, upper, upper_proof, message, stats)``.

    The MILP is built on the copy of ``net`` whose layers are scaled by powers of two to weights of magnitude
    about 1 (:func:`lipexact.deep.network.normalized_by_powers_of_two`: the same regions exactly, the constant
    scaled by ``2^-E``), and its values are scaled back exactly. HiGHS's tolerances are absolute: on the raw
    weights a net scaled by ``2^27`` once came back "optimal" at 0 (the witness check refused it, status
    ``error``); normalized, the result is the same at every scale (tests/test_deep_invariance.py).

    Examples
    --------
    >>> net = ReLUNetwork([([[1.0], [-1.0]], [0.0, 0.0]), ([[1.0, 1.0]], [0.0]), ([[2.0]], None)])
    >>> status, x, upper, proof, message, stats = solve_deep_milp(net, "1", Box([-1.0], [1.0]), Clock())
    >>> status.value, upper
    ('optimal', 2.0)
    """
    scaled, exponent = normalized_by_powers_of_two(net)
    search = DeepMilp(scaled, norm, domain, clock, threads=threads, max_rounds=max_rounds, progress=progress)
    search.progress.scale = math.ldexp(1.0, exponent)
    status, message = search.run()
    search.progress.update(search.best_value, search.upper, search.stats["rounds"], force=True)
    lower = None if search.best_value is None else math.ldexp(search.best_value, exponent)
    stats = dict(search.stats, lower_found=lower, weight_scale_exponent=exponent)
    return status, search.best_point, math.ldexp(search.upper, exponent), search.proof, message, stats
