"""The pattern MILP: ``max ||W2 diag(s) W1||`` over binary activation patterns, as a PuLP model.

The model knows nothing about realizability: every pattern ``s`` in ``{0,1}^h`` is feasible until a cut
(:meth:`PatternMILP.add_cut`) removes a partial pattern. Its optimum is therefore an upper bound on the
Lipschitz constant whenever every cut removes only empty regions (see :mod:`lipexact.exact.cuts`).

Units whose contribution ``W2[:, i] W1[i]`` is zero never enter the model. Units proven to share (or to
oppose) their sign are tied to one binary ``z_r``: ``s_i = z_r`` or ``s_i = 1 - z_r``, so the Jacobian is
``J = c + sum_r z_r B_r`` with a constant ``c`` from the opposed units. Objectives (written for ``c = 0``,
``a_i = W2_i W1_i``; the constant only adds linear and constant terms):

- norm ``"2"``, scalar output: ``L^2 = max s^T G s``, ``G = A A^T``. Each product ``y_ij = s_i s_j`` gets
  only the side its sign needs: ``y <= s_i, y <= s_j`` when ``G_ij > 0`` (the objective pushes ``y`` up)
  and ``y >= s_i + s_j - 1`` when ``G_ij < 0``; both are exact at binary ``s``.
- norms ``"1"`` and ``"inf"`` (any output dimension): each Jacobian entry ``v = J_kj(s)`` is linear in
  ``s`` with exact interval ``[lo, hi]``; ``u <= |v|`` through one sign binary ``t``
  (``u <= v + (-2 lo)(1 - t)``, ``u <= -v + 2 hi t``, ``u >= 0``), and a selection binary per group (row for
  ``"inf"``, column for ``"1"``) with ``sum_group u <= U r``, ``sum r = 1`` picks the maximal row / column.
  The big-M constants come from the exact intervals of the binary-linear entries, so the formulation is
  exact (no margin, no epsilon).

The spectral norm of a vector-output network (norm ``"2"``, ``m > 1``) is not linearizable this way.

Solvers: HiGHS through highspy (``pulp.HiGHS``) by default, bundled CBC (``pulp.PULP_CBC_CMD``) as the
fallback; both with zero gap tolerances. A solve counts as optimal only when PuLP's ``sol_status`` is
``LpSolutionOptimal`` (PuLP's ``status`` says "Optimal" for a stopped MILP that has an incumbent).
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import sys
import threading
import time
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import pulp

from lipexact.exact.highs import reset_scheduler
from lipexact.network import TwoLayerReLU
from reductions.validation import InvalidInputError, require

__all__ = ["PatternMILP", "MilpOutcome", "SOLVERS", "relevant_units", "pulp_solver"]

SOLVERS = ("highs", "cbc")

#: A binary variable is read as 1 above this value.
_ROUNDING = 0.5


@dataclass(frozen=True)
class MilpOutcome:
    """What one MILP solve returned.

    ``pattern`` is the solver's best pattern (all ``h`` units; units outside the model are False), ``objective``
    the solver's objective value of it (``L^2`` for norm ``"2"``), ``bound`` a proven upper bound on this
    relaxation's objective when the solver reports one (HiGHS), and ``optimal`` whether PuLP's
    ``sol_status`` says the incumbent is proven optimal.
    """

    optimal: bool
    pattern: np.ndarray | None
    objective: float | None
    bound: float | None
    status: str
    seconds: float
    reason: str = "optimal"
    """Why the solve ended: ``"optimal"``, ``"time_limit"``, ``"interrupted"``, ``"infeasible"`` or ``"error"``."""
    found: tuple[np.ndarray, ...] = ()
    """Patterns of the improving solutions met on the way (HiGHS; without ``pattern``), best first."""


def relevant_units(net: TwoLayerReLU) -> np.ndarray:
    """Units whose activation changes the Jacobian (``W2[:, i] != 0`` and ``W1[i] != 0``), as a boolean mask.

    Examples
    --------
    >>> relevant_units(TwoLayerReLU([[1, 0], [0, 0], [2, 1]], [[1, 1, 0]])).tolist()
    [True, False, False]
    """
    return np.any(net.W1 != 0, axis=1) & np.any(net.W2 != 0, axis=0)


_banner_silenced = False


def _silence_highs_banner() -> None:
    """Create the process's first ``highspy.Highs`` with file descriptor 1 on /dev/null.

    HiGHS prints its copyright banner from C++ on the first construction, before any option (``output_flag``)
    can be set; it would land in the middle of a CLI's standard output.
    """
    global _banner_silenced
    if _banner_silenced:
        return
    import highspy

    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as sink:
            os.dup2(sink.fileno(), 1)
            highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    _banner_silenced = True


def pulp_solver(name: str, msg: bool = False, time_limit: float | None = None, threads: int | None = 1,
                seed: int = 0, on_solution: Callable[[np.ndarray], None] | None = None,
                stop: Callable[[], bool] | None = None) -> tuple[pulp.LpSolver, str]:
    """The PuLP solver object for ``name`` (``"highs"`` or ``"cbc"``), and the name actually used.

    HiGHS runs in-process through highspy (``pulp.HiGHS``); when highspy is missing, CBC is used instead.
    HiGHS only: ``on_solution`` receives the column values of every improving solution found, and the
    search stops cleanly (model status interrupt, bounds kept) as soon as ``stop()`` returns True.

    Examples
    --------
    >>> pulp_solver("cbc")[1]
    'cbc'
    """
    require(name in SOLVERS, "solver", f"one of {list(SOLVERS)}", repr(name))
    if name == "highs" and pulp.HiGHS().available():
        import highspy

        if not msg:
            _silence_highs_banner()
        reset_scheduler()  # PuLP's model then starts HiGHS's scheduler with this solve's ``threads``
        options: dict[str, Any] = {"random_seed": int(seed) % (2 ** 31 - 1)}
        kinds = highspy.cb.HighsCallbackType
        active = ([kinds.kCallbackMipImprovingSolution] if on_solution is not None else []) + \
                 ([kinds.kCallbackMipInterrupt] if stop is not None else [])
        if active:
            def callback(kind, message, data_out, data_in, user_data):
                if kind == kinds.kCallbackMipImprovingSolution:
                    on_solution(np.array(data_out.mip_solution, dtype=np.float64))
                elif kind == kinds.kCallbackMipInterrupt and stop():
                    data_in.user_interrupt = True

            options.update(callbackTuple=(callback, None), callbacksToActivate=active)
        return pulp.HiGHS(msg=msg, timeLimit=time_limit, threads=threads, gapRel=0.0, gapAbs=0.0,
                          **options), "highs"
    seconds = None if time_limit is None else max(float(time_limit), 0.01)
    with warnings.catch_warnings():
        # PuLP 3 announces that the bundled CBC moves to an extra in PuLP 4; it is still the bundled fallback here.
        warnings.simplefilter("ignore", DeprecationWarning)
        return pulp.PULP_CBC_CMD(msg=msg, timeLimit=seconds, threads=threads, gapRel=0.0, gapAbs=0.0,
                                 options=[f"randomCbcSeed {int(seed) + 1}"]), "cbc"


@contextlib.contextmanager
def _sigint_sets_flag(flag: list[bool], enabled: bool = True):
    """While HiGHS runs, Ctrl-C appends to ``flag`` (HiGHS then stops at its next interrupt check) instead of
    raising inside a callback, which would end the solve in an error state with no valid bound."""
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, lambda signum, frame: flag.append(True))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _new_variable(problem: pulp.LpProblem, name: str, low: float | None = None, high: float | None = None,
                  cat: str = pulp.LpContinuous) -> pulp.LpVariable:
    if hasattr(problem, "add_variable"):  # PuLP >= 3 attaches variables to their model
        return problem.add_variable(name, low, high, cat=cat)
    return pulp.LpVariable(name, lowBound=low, upBound=high, cat=cat)  # pragma: no cover - PuLP 2


def _tie_classes(units: np.ndarray, ties: Sequence[tuple[int, int, bool]]) -> dict[int, tuple[int, bool]]:
    """Union-find with parity: ``unit -> (representative, flipped)``, ``s_unit = s_rep XOR flipped``."""
    parent = {int(i): (int(i), False) for i in units}

    def find(i: int) -> tuple[int, bool]:
        root, flipped = i, False
        while parent[root][0] != root:
            flipped ^= parent[root][1]
            root = parent[root][0]
        parent[i] = (root, flipped)
        return root, flipped

    for i, j, same in ties:
        (ri, fi), (rj, fj) = find(int(i)), find(int(j))
        if ri != rj:
            low, high = min(ri, rj), max(ri, rj)
            parent[high] = (low, fi ^ fj ^ (not same))
    return {int(i): find(int(i)) for i in units}


class PatternMILP:
    """``max ||J(s)||`` over patterns not removed by cuts (see the module docstring for the formulation).

    Parameters
    ----------
    net : TwoLayerReLU
    norm : {"2", "1", "inf"}
    ties : sequence of (i, j, same)
        Proven relations between units: ``s_i = s_j`` (``same``) or ``s_i = 1 - s_j``. Tied units share one
        binary variable (so the objective gains a constant term). Every tie must hold for every realizable
        pattern (e.g. LP-proven by :func:`lipexact.exact.cuts.pair_cuts`).

    Examples
    --------
    >>> net = TwoLayerReLU([[1, 0], [0, 1], [1, 1]], [[1, 1, -1]])
    >>> model = PatternMILP(net, "2")
    >>> outcome = model.solve()
    >>> outcome.optimal, round(outcome.objective, 9), round(model.value_of(outcome.pattern), 9)
    (True, 2.0, 1.414213562)
    >>> model.add_cut([2], [True])       # unit 2 off: the best pattern is now (1, 1, 0)
    True
    >>> model.solve().pattern.astype(int).tolist()
    [1, 1, 0]
    >>> tied = PatternMILP(TwoLayerReLU([[1, 0], [-1, 0], [0, 1]], [[1, 1, 1]]), "2", ties=[(0, 1, False)])
    >>> tied.size["binaries"], round(tied.solve().objective, 9)
    (2, 2.0)
    """

    def __init__(self, net: TwoLayerReLU, norm: str, ties: Sequence[tuple[int, int, bool]] = ()):
        self.net = net
        self.norm = norm
        if norm == "2" and net.n_outputs > 1:
            raise InvalidInputError("norm", "1 or inf for a vector-output network with method='milp' (the spectral "
                                    "norm is not linear in the pattern; use method='brute' or 'bnb')",
                                    f"2 with {net.n_outputs} outputs")
        self.units = np.flatnonzero(relevant_units(net))
        self.classes = _tie_classes(self.units, ties)
        self.representatives = sorted({rep for rep, _ in self.classes.values()})
        self.problem = pulp.LpProblem("lipschitz_pattern", pulp.LpMaximize)
        self.z = {r: _new_variable(self.problem, f"s_{r}", 0, 1, pulp.LpBinary) for r in self.representatives}
        self.n_cuts = 0
        self.trivial_bound = 0.0
        self.objective_constant = 0.0
        self.solver_used: str | None = None
        self.n_products = 0
        B, c = self._class_contributions()
        if norm == "2":
            self._build_quadratic(B[:, 0, :], c[0])
        else:
            self._build_polyhedral(B, c)

    # ------------------------------------------------------------------ formulations
    def _class_contributions(self) -> tuple[np.ndarray, np.ndarray]:
        """``J(s) = c + sum_r z_r B[r]`` with ``B[r] = sum_{i in r} (+-) W2[:, i] W1[i]`` (float64)."""
        W1 = np.asarray(self.net.W1, dtype=np.float64)
        W2 = np.asarray(self.net.W2, dtype=np.float64)
        position = {r: k for k, r in enumerate(self.representatives)}
        B = np.zeros((len(self.representatives), self.net.n_outputs, self.net.n_inputs))
        c = np.zeros((self.net.n_outputs, self.net.n_inputs))
        for i, (rep, flipped) in self.classes.items():
            a = np.outer(W2[:, i], W1[i])
            if flipped:
                B[position[rep]] -= a
                c += a
            else:
                B[position[rep]] += a
        return B, c

    def _build_quadratic(self, B: np.ndarray, c: np.ndarray) -> None:
        # ||c + B^T z||^2 = ||c||^2 + sum_r (||b_r||^2 + 2 c.b_r) z_r + 2 sum_{r<q} (b_r.b_q) z_r z_q
        G = B @ B.T
        linear = np.diag(G) + 2.0 * (B @ c)
        self.objective_constant = float(c @ c)
        terms = [(self.z[r], float(linear[a])) for a, r in enumerate(self.representatives) if linear[a] != 0]
        rows, cols = np.nonzero(np.triu(G, 1))
        self.n_products = int(rows.size)
        for a, b in zip(rows.tolist(), cols.tolist()):
            i, j = self.representatives[a], self.representatives[b]
            y = _new_variable(self.problem, f"y_{i}_{j}", 0, 1)
            if G[a, b] > 0:
                self.problem += y <= self.z[i], f"y_{i}_{j}_le_s_{i}"
                self.problem += y <= self.z[j], f"y_{i}_{j}_le_s_{j}"
            else:
                self.problem += y >= self.z[i] + self.z[j] - 1, f"y_{i}_{j}_ge"
            terms.append((y, 2.0 * float(G[a, b])))
        self.problem += pulp.LpAffineExpression(terms, constant=self.objective_constant)
        positive = self.objective_constant + float(np.clip(linear, 0, None).sum()) \
            + 2.0 * float(np.clip(np.triu(G, 1), 0, None).sum())
        triangle = float(np.linalg.norm(c) + np.linalg.norm(B, axis=1).sum())
        self.trivial_bound = min(math.sqrt(max(positive, 0.0)), triangle)

    def _build_polyhedral(self, B: np.ndarray, c: np.ndarray) -> None:
        m, n = self.net.n_outputs, self.net.n_inputs
        groups = [[(k, j) for j in range(n)] for k in range(m)] if self.norm == "inf" else \
                 [[(k, j) for k in range(m)] for j in range(n)]
        group_sums = []
        for g, members in enumerate(groups):
            u_terms, cap = [], 0.0
            for k, j in members:
                coefficients, constant = B[:, k, j], float(c[k, j])
                lo = constant + float(np.clip(coefficients, None, 0).sum())
                hi = constant + float(np.clip(coefficients, 0, None).sum())
                if lo == 0.0 and hi == 0.0:
                    continue
                v = pulp.LpAffineExpression([(self.z[r], float(w)) for r, w in zip(self.representatives, coefficients)
                                             if w != 0], constant=constant)
                u = _new_variable(self.problem, f"u_{k}_{j}", 0, max(-lo, hi))
                if lo >= 0:
                    self.problem += u <= v, f"u_{k}_{j}_le_v"
                elif hi <= 0:
                    self.problem += u <= -v, f"u_{k}_{j}_le_minus_v"
                else:
                    t = _new_variable(self.problem, f"t_{k}_{j}", 0, 1, pulp.LpBinary)
                    self.problem += u <= v + (-2.0 * lo) * (1 - t), f"u_{k}_{j}_pos"
                    self.problem += u <= -v + (2.0 * hi) * t, f"u_{k}_{j}_neg"
                u_terms.append(u)
                cap += max(-lo, hi)
            if u_terms:
                group_sums.append((g, pulp.lpSum(u_terms), cap))
        if len(group_sums) > 1:
            selectors = []
            for g, total, cap in group_sums:
                r = _new_variable(self.problem, f"r_{g}", 0, 1, pulp.LpBinary)
                self.problem += total <= cap * r, f"group_{g}_selected"
                selectors.append(r)
            self.problem += pulp.lpSum(selectors) == 1, "one_group"
        self.problem += pulp.lpSum(total for _, total, _ in group_sums)
        self.trivial_bound = max((cap for _, _, cap in group_sums), default=0.0)

    # ------------------------------------------------------------------ cuts, symmetry and values
    def add_cut(self, units: Sequence[int], values: Sequence[bool]) -> bool:
        """Remove every pattern agreeing with ``values`` on ``units`` (relevant units).

        Returns False when the ties already exclude that partial pattern (nothing is added).

        Examples
        --------
        >>> model = PatternMILP(TwoLayerReLU([[1], [2]], [[1, 1]]), "2")
        >>> model.add_cut([0, 1], [True, False]), model.n_cuts
        (True, 1)
        """
        units = [int(i) for i in units]
        require(len(units) > 0 and all(i in self.classes for i in units), "units",
                "a non-empty list of units in the model", repr(units))
        wanted: dict[int, bool] = {}
        for i, value in zip(units, values):
            rep, flipped = self.classes[i]
            needed = bool(value) ^ flipped
            if wanted.setdefault(rep, needed) != needed:
                return False
        expression = pulp.lpSum((1 - self.z[r]) if value else self.z[r] for r, value in wanted.items())
        self.problem += expression >= 1, f"cut_{self.n_cuts}"
        self.n_cuts += 1
        return True

    def fix(self, unit: int, value: bool) -> bool:
        """Fix one unit (a cut on a single unit)."""
        return self.add_cut([unit], [not value])

    def complement_symmetric(self) -> bool:
        """True when ``J(1 - s) = -J(s)`` for every pattern (the contributions of the model's units sum to 0)."""
        W1 = np.asarray(self.net.W1)[self.units]
        W2 = np.asarray(self.net.W2)[:, self.units]
        return bool(np.all(W2 @ W1 == 0))

    def objective_of(self, value: float) -> float:
        """A Lipschitz value in the model's objective units (``L^2`` for norm ``"2"``)."""
        return value * value if self.norm == "2" else value

    def value_of_objective(self, objective: float) -> float:
        """The Lipschitz value of a model objective (``sqrt`` for norm ``"2"``)."""
        if self.norm == "2":
            return math.sqrt(max(objective, 0.0))
        return max(objective, 0.0)

    def value_of(self, pattern: np.ndarray) -> float:
        """``||W2 diag(s) W1||`` of a full pattern, computed directly (not by the solver)."""
        from lipexact.exact.patterns import pattern_values

        return float(pattern_values(self.net, np.asarray(pattern, dtype=bool)[None, :], self.norm)[0])

    def pattern_of(self, chosen: dict[int, bool]) -> np.ndarray:
        """The full pattern (all ``h`` units; units outside the model off) of representative values."""
        pattern = np.zeros(self.net.n_hidden, dtype=bool)
        for i, (rep, flipped) in self.classes.items():
            pattern[i] = chosen[rep] ^ flipped
        return pattern

    @property
    def size(self) -> dict[str, int]:
        pattern_names = {v.name for v in self.z.values()}
        others = [v for v in self.problem.variables() if v.name not in pattern_names]
        binaries = len(self.z) + sum(1 for v in others if v.cat == pulp.LpInteger)
        return {"binaries": binaries, "continuous": sum(1 for v in others if v.cat != pulp.LpInteger),
                "constraints": self.problem.numConstraints(), "products": self.n_products}

    # ------------------------------------------------------------------ solving
    def solve(self, solver: str = "highs", time_limit: float | None = None, msg: bool = False, threads: int | None = 1,
              seed: int = 0) -> MilpOutcome:
        """Solve the current relaxation; see :class:`MilpOutcome`."""
        improving: list[np.ndarray] = []
        interrupted: list[bool] = []
        backend, used = pulp_solver(solver, msg=msg, time_limit=time_limit, threads=threads, seed=seed,
                                    on_solution=improving.append, stop=lambda: bool(interrupted))
        self.solver_used = used
        start = time.perf_counter()
        with _sigint_sets_flag(interrupted, enabled=used == "highs"):
            self.problem.solve(backend)
        seconds = time.perf_counter() - start
        optimal = self.problem.sol_status == pulp.LpSolutionOptimal
        has_solution = self.problem.sol_status in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible)
        pattern = objective = None
        if has_solution:
            # A variable in no constraint and not in the objective is left unset by PuLP: any value is optimal.
            pattern = self.pattern_of({r: v.varValue is not None and v.varValue > _ROUNDING for r, v in self.z.items()})
            objective = pulp.value(self.problem.objective)
            objective = 0.0 if objective is None else float(objective)
        bound = self._solver_bound() if used == "highs" else None
        if optimal and objective is not None:
            bound = objective if bound is None else bound
        return MilpOutcome(optimal=optimal, pattern=pattern, objective=objective, bound=bound,
                           status=pulp.LpSolution[self.problem.sol_status], seconds=seconds,
                           reason=self._reason(used, optimal, time_limit, bool(interrupted)),
                           found=self._patterns_of_columns(improving, pattern))

    def _patterns_of_columns(self, solutions: list[np.ndarray], final: np.ndarray | None) -> tuple[np.ndarray, ...]:
        """Distinct patterns of raw HiGHS column vectors (PuLP numbers the columns in ``var.index``), best first."""
        seen = set() if final is None else {final.tobytes()}
        patterns = []
        for values in reversed(solutions):
            chosen = {}
            for r, variable in self.z.items():
                index = getattr(variable, "index", None)
                chosen[r] = index is not None and index < values.size and values[index] > _ROUNDING
            pattern = self.pattern_of(chosen)
            if pattern.tobytes() not in seen:
                seen.add(pattern.tobytes())
                patterns.append(pattern)
        return tuple(patterns)

    def _reason(self, used: str, optimal: bool, time_limit: float | None, interrupted: bool = False) -> str:
        self._interrupted = interrupted
        if optimal and not interrupted:
            return "optimal"
        if self.problem.status == pulp.LpStatusInfeasible:
            return "infeasible"
        if used == "highs":
            import highspy

            status = self.problem.solverModel.getModelStatus()
            if status == highspy.HighsModelStatus.kTimeLimit:
                return "time_limit"
            if status == highspy.HighsModelStatus.kInterrupt or self._interrupted:
                return "interrupted"
            return "error"
        # CBC reports a stopped search only through its solution status.
        return "time_limit" if time_limit is not None else "error"

    def _solver_bound(self) -> float | None:
        highs = getattr(self.problem, "solverModel", None)
        if highs is None:
            return None
        import highspy

        ended = highs.getModelStatus()
        trusted = (highspy.HighsModelStatus.kOptimal, highspy.HighsModelStatus.kTimeLimit,
                   highspy.HighsModelStatus.kInterrupt)
        try:
            info = highs.getInfo()
            if not info.valid or ended not in trusted:
                return None
            dual = float(info.mip_dual_bound)
        except (AttributeError, TypeError, ValueError):  # pragma: no cover - depends on the highspy version
            return None
        # PuLP hands HiGHS the negated objective of a maximization, without its constant term:
        # -(f - constant) >= dual bound, i.e. f <= constant - dual.
        upper = self.objective_constant - dual
        return None if math.isnan(upper) or math.isinf(upper) else upper
