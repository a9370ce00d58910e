"""Exact Lipschitz constant by mixed-integer programming with lazy, exact realizability cuts.

Default formulation (``formulation="lazy"``): the pattern MILP of :mod:`lipexact.exact.milp_model`
maximizes ``||W2 diag(s) W1||`` over binary patterns with no realizability constraint, so its optimum
is an upper bound on the constant. Each round:

1. solve the MILP (HiGHS through highspy, or CBC); only ``sol_status == LpSolutionOptimal`` counts as
   solved, and then the value of the optimal pattern is a proven upper bound (every pattern the MILP
   still allows is at most that large, and every realizable pattern is still allowed);
2. test the optimal pattern with the exact realizability LP (no epsilon). Realizable: its LP point is
   the witness, lower = upper, done (``optimal``);
3. otherwise find an irreducible infeasible subset of its sign constraints (Farkas support of an elastic
   LP, then a deletion filter, each step proven by the exact LP; see :mod:`lipexact.exact.cuts`) and cut
   off that partial pattern, removing every pattern that extends it. Repeat.

Before the first round, LP-proven structural cuts tie units with coinciding hyperplanes (parallel or
opposite rows of ``[W1 b1]``; tied units share one binary, which halves the model of the ``sum |F_i x|``
reductions) and, on a box domain, fix units whose sign is constant on the box. Every constraint on the
patterns is a cut proven by the exact LP, so the relaxation always contains every realizable pattern.
One exception, a symmetry argument rather than a cut: for a bias-free network on a symmetric domain
whose unit contributions sum to zero (``sum_i W2[:, i] W1[i] = 0``, e.g. the Max-Cut reductions),
``x -> -x`` maps the region of ``s`` onto that of ``1 - s`` and ``J(1 - s) = -J(s)``, so one unit is fixed
on; every realizable pattern still has a realizable pattern of the same value in the relaxation. This
is exact for the global constant and for a box domain alike.

A big-M formulation with interval bounds on the pre-activations (LipMIP) is not used: the constraints
``s_i = 1 => w_i x + b_i >= 0`` describe closed regions and admit boundary-only patterns (for a bias-free
network every pattern is feasible at ``x = 0``), and an epsilon margin would only give a lower bound.
Lazy exact cuts keep both sides certified without either.

Status: ``optimal`` only when a re-checked witness meets the proven upper bound; on a time limit,
``time_limit`` with the last proven upper bound (the last optimal relaxation value, or HiGHS's dual bound
of the stopped solve when smaller) and the best re-checked witness (from realizable patterns and the
elastic LP's points); Ctrl-C gives ``interrupted`` with the same partial result.

Objectives: norm ``"2"`` for scalar outputs (``L^2 = max s^T G s``), ``"1"`` and ``"inf"`` for any output
dimension. Norm ``"2"`` with several outputs (spectral norm) is refused: use ``brute`` or ``bnb``.

References
----------
Scaman, K. and Virmaux, A. Lipschitz regularity of deep neural networks: analysis and efficient
estimation. NeurIPS 2018 (arXiv:1805.10965).
Jordan, M. and Dimakis, A. G. Exactly computing the local Lipschitz constant of ReLU networks.
NeurIPS 2020 (arXiv:2003.01219).
"""

from __future__ import annotations

from numbers import Integral
from typing import Any

import numpy as np

from lipexact.exact.cuts import Cut, box_fixings, infeasible_subset, other_infeasible_subsets, pair_cuts
from lipexact.exact.milp_model import SOLVERS, PatternMILP, relevant_units
from lipexact.exact.patterns import pattern_values
from lipexact.exact.problem import Clock, Problem, certified_result
from lipexact.exact.progress import SearchProgress
from lipexact.exact.realizability import UndecidedRegionError, realizes, realizing_point
from lipexact.result import LipschitzResult, Status
from reductions.realizability import exact_signs
from reductions.validation import require

__all__ = ["solve_milp", "CUT_KINDS"]

CUT_KINDS = ("minimal", "nogood")

#: Largest relative gap allowed between the solver's objective and the exact value of its pattern.
_FORMULATION_TOLERANCE = 1e-6

#: How many seeded random inputs are tried for the first (trivial) witness.
_START_POINTS = 8


class _Best:
    """The best re-checkable witness seen so far."""

    def __init__(self, problem: Problem):
        self.problem = problem
        self.value: float | None = None
        self.x: np.ndarray | None = None

    def offer(self, x: np.ndarray | None) -> None:
        if x is None or not np.all(np.isfinite(x)):
            return
        net, domain = self.problem.net, self.problem.domain
        if domain is not None and not domain.contains_interior(x):
            return
        live = np.any(net.W1 != 0, axis=1)
        pattern = net.preactivation(x) > 0
        if not realizes(net, x, pattern, fixed=live, domain=domain):  # on a hyperplane, or float signs wrong
            return
        value = float(pattern_values(net, pattern[None, :], self.problem.norm)[0])
        if self.value is None or value > self.value:
            self.value, self.x = value, np.asarray(x, dtype=np.float64)


def _random_points(problem: Problem) -> np.ndarray:
    rng = np.random.default_rng(problem.seed)
    n = problem.net.n_inputs
    if problem.domain is None:
        return rng.normal(size=(_START_POINTS, n))
    return rng.uniform(problem.domain.lower, problem.domain.upper, size=(_START_POINTS, n))


def _validate_options(solver: Any, threads: Any, max_rounds: Any, cuts: Any, cuts_per_round: Any,
                      subsets_per_pattern: Any) -> None:
    def positive_integer(value: Any) -> bool:
        return isinstance(value, Integral) and not isinstance(value, bool) and value >= 1

    require(solver in SOLVERS, "solver", f"one of {list(SOLVERS)}", repr(solver))
    require(threads is None or positive_integer(threads), "threads", "a positive integer or None", repr(threads))
    require(max_rounds is None or positive_integer(max_rounds), "max_rounds", "a positive integer or None",
            repr(max_rounds))
    require(cuts in CUT_KINDS, "cuts", f"one of {list(CUT_KINDS)}", repr(cuts))
    require(positive_integer(cuts_per_round), "cuts_per_round", "a positive integer", repr(cuts_per_round))
    require(positive_integer(subsets_per_pattern), "subsets_per_pattern", "a positive integer",
            repr(subsets_per_pattern))


def solve_milp(problem: Problem, clock: Clock, solver: str = "highs", threads: int | None = 1,
               max_rounds: int | None = None, cuts: str = "minimal", cuts_per_round: int = 8,
               subsets_per_pattern: int = 3, keep_cuts: bool = False) -> LipschitzResult:
    """Exact constant by the pattern MILP with lazy exact realizability cuts (see the module docstring).

    Parameters
    ----------
    problem : Problem
    clock : Clock
    solver : {"highs", "cbc"}
        MILP solver: HiGHS in-process through highspy (CBC when highspy is missing), or PuLP's bundled CBC.
    threads : int or None
        Solver threads (None: the solver's default).
    max_rounds : int, optional
        Stop after this many MILP solves with status ``node_limit`` (proven bounds kept).
    cuts : {"minimal", "nogood"}
        Cut off irreducible empty partial patterns, or only the one full pattern.
    cuts_per_round : int
        At most this many cuts per MILP solve: the optimal pattern's, then those of the unrealizable
        improving solutions HiGHS met during the same solve (realizable ones become witnesses).
    subsets_per_pattern : int
        Irreducible empty subsets cut from the optimal pattern per round (each further one avoids a unit
        of the first); ``cuts="nogood"`` always cuts one.
    keep_cuts : bool
        Return every LP-proven cut in ``result.stats["cut_list"]`` (``{"units", "values"}`` each).

    Returns
    -------
    LipschitzResult
        ``stats``: ``rounds``, ``cuts``, ``structural_cuts``, ``ties``, ``symmetry_fixed``, ``lps``, ``solver``,
        ``milp_seconds``, ``solver_status`` and the model size (``binaries``, ``continuous``, ``constraints``,
        ``products``).

    Examples
    --------
    >>> from lipexact.network import TwoLayerReLU
    >>> from lipexact.exact.problem import validate_problem
    >>> net = TwoLayerReLU([[1.0], [1.0]], [[1.0, -1.0]], b1=[0.0, -1.0])   # slopes 0, 1, 0
    >>> result = solve_milp(validate_problem(net), Clock())
    >>> result.status.value, result.value, result.stats["solver"]
    ('optimal', 1.0, 'highs')
    >>> net = TwoLayerReLU([[1.0], [-1.0]], [[1.0, 1.0]])   # |x|: both units never on together
    >>> result = solve_milp(validate_problem(net, norm="inf"), Clock(), solver="cbc")
    >>> result.value, result.stats["structural_cuts"], result.stats["rounds"]
    (1.0, 2, 1)
    """
    _validate_options(solver, threads, max_rounds, cuts, cuts_per_round, subsets_per_pattern)
    require(problem.norm != "2" or problem.net.n_outputs == 1, "norm",
            "1 or inf for a vector-output network with method='milp' (the spectral norm is not linear in the "
            "pattern; use method='brute' or 'bnb')", f"2 with {problem.net.n_outputs} outputs")
    search = _LazyMilp(problem, clock, solver, threads, cuts, cuts_per_round, subsets_per_pattern)
    try:
        search.setup()
        status, message = search.run(max_rounds)
    except KeyboardInterrupt:
        status, message = Status.INTERRUPTED, f"interrupted in MILP round {search.stats['rounds']}"
    except UndecidedRegionError as error:
        status, message = Status.ERROR, f"no proof: a region the MILP proposes is undecided ({error})"
    return search.result(status, message, keep_cuts)


class _LazyMilp:
    """State of one lazy-cut MILP solve: the model, the cuts, the proven upper bound and the best witness."""

    def __init__(self, problem: Problem, clock: Clock, solver: str, threads: int | None, cuts: str,
                 cuts_per_round: int, subsets_per_pattern: int):
        self.problem, self.clock = problem, clock
        self.net, self.domain = problem.net, problem.domain
        self.solver, self.threads, self.cuts = solver, threads, cuts
        self.cuts_per_round, self.subsets_per_pattern = cuts_per_round, subsets_per_pattern
        self.units = np.flatnonzero(relevant_units(self.net))
        self.best = _Best(problem)
        self.model: PatternMILP | None = None
        self.cut_list: list[Cut] = []
        self.cut_sizes: list[int] = []
        self.upper: float | None = None
        self.proof = "none"
        self.progress = SearchProgress("milp", problem.progress)
        self.stats: dict[str, Any] = {"rounds": 0, "cuts": 0, "structural_cuts": 0, "ties": 0,
                                      "symmetry_fixed": False, "lps": 0, "solver": solver, "milp_seconds": 0.0,
                                      "formulation": "lazy"}

    # ------------------------------------------------------------------ setup
    def setup(self) -> None:
        """Witnesses at random points, LP-proven ties and fixings, the model, the symmetry fix, a trivial bound."""
        for x in _random_points(self.problem):
            self.best.offer(x)
        structural, lps = pair_cuts(self.net, self.units)
        ties = _ties(structural)
        if self.domain is not None:
            fixings, more = box_fixings(self.net, self.units, self.domain, clock=self.clock)
            structural, lps = structural + fixings, lps + more
        self.model = PatternMILP(self.net, self.problem.norm, ties=ties)
        for cut in structural:
            self.model.add_cut(cut.units, cut.values)
        self.cut_list.extend(structural)
        self.stats.update(structural_cuts=len(structural), ties=len(ties), lps=lps)
        symmetric_domain = self.domain is None or bool(np.all(self.domain.lower == -self.domain.upper))
        if self.units.size and not self.net.has_bias and symmetric_domain and self.model.complement_symmetric():
            # x -> -x maps the region of s onto the region of 1 - s, and J(1 - s) = -J(s): keep s_r = 1.
            self.model.fix(self.model.representatives[0], True)
            self.stats["symmetry_fixed"] = True
        self.upper, self.proof = self.model.trivial_bound, "trivial bound over all patterns"

    # ------------------------------------------------------------------ rounds
    def run(self, max_rounds: int | None) -> tuple[Status, str]:
        if self.units.size == 0:
            return Status.OPTIMAL, "optimal: the Jacobian is zero for every pattern"
        while True:
            if self.clock.expired():
                return Status.TIME_LIMIT, f"time limit after {self.stats['rounds']} MILP rounds"
            if max_rounds is not None and self.stats["rounds"] >= max_rounds:
                return Status.NODE_LIMIT, f"stopped after max_rounds={max_rounds} MILP rounds"
            ended = self.round()
            if ended is not None:
                return ended

    def round(self) -> tuple[Status, str] | None:
        """One MILP solve and what follows from it; a final (status, message) or None to go on."""
        model, stats = self.model, self.stats
        outcome = model.solve(self.solver, time_limit=self.clock.remaining(), msg=self.problem.progress,
                              threads=self.threads, seed=self.problem.seed)
        stats["rounds"] += 1
        stats["milp_seconds"] += outcome.seconds
        stats["solver"], stats["solver_status"] = model.solver_used, outcome.status
        if not outcome.optimal:
            return self._stopped(outcome)
        value = model.value_of(outcome.pattern)
        claimed = model.value_of_objective(outcome.objective)
        stats["solver_value"] = claimed
        if abs(claimed - value) > _FORMULATION_TOLERANCE * max(1.0, value):
            return Status.ERROR, (f"the MILP objective {claimed!r} of its optimal pattern differs from the pattern's "
                                  f"value {value!r}: formulation or solver failure")
        if value < self.upper:
            self.upper = value
            self.proof = ("optimal MILP relaxation over all patterns not removed by LP-proven cuts "
                          f"({stats['rounds']} rounds, {stats['cuts'] + stats['structural_cuts']} cuts"
                          + (", one unit fixed by the complement symmetry x -> -x" if stats["symmetry_fixed"] else "")
                          + ")")
        stats["lps"] += 1
        witness = _realize(self.net, outcome.pattern, self.units, self.domain)
        self.progress.update(self.best.value, self.upper, stats["rounds"])
        if witness is not None:
            # The witness's pattern is the relaxation's optimum; certified_result re-checks that they agree.
            self.best.x, self.best.value = witness, value
            return Status.OPTIMAL, f"optimal after {stats['rounds']} MILP rounds and {stats['cuts']} cuts"
        self._cut_off(outcome.pattern, more=self.subsets_per_pattern - 1)
        for pattern in outcome.found[:self.cuts_per_round - 1]:
            if self.clock.expired():
                break
            self._cut_or_offer(pattern)
        if outcome.reason == "interrupted":
            raise KeyboardInterrupt
        if self.best.value is not None and self.best.value >= self.upper:
            return Status.OPTIMAL, (f"optimal after {stats['rounds']} MILP rounds: a witness meets the "
                                    "relaxation's optimum")
        return None

    def _stopped(self, outcome) -> tuple[Status, str]:
        """A solve that did not prove optimality: keep its bound and its patterns' witnesses, then stop."""
        if outcome.bound is not None and self.model.value_of_objective(outcome.bound) < self.upper:
            self.upper = self.model.value_of_objective(outcome.bound)
            self.proof = f"dual bound of the stopped MILP relaxation ({self.model.solver_used})"
        limit = self.clock.time_limit
        for k, pattern in enumerate(([] if outcome.pattern is None else [outcome.pattern]) + list(outcome.found[:4])):
            if (k or self.best.value is not None) and limit is not None and self.clock.elapsed() > 1.05 * limit:
                break  # witness LPs past the limit only while there is no witness at all
            self.stats["lps"] += 1
            self.best.offer(_realize(self.net, pattern, self.units, self.domain, strict=False))
        if outcome.reason == "interrupted":
            raise KeyboardInterrupt
        if outcome.reason == "time_limit" or self.clock.expired():
            return Status.TIME_LIMIT, f"time limit in MILP round {self.stats['rounds']} (solver: {outcome.status})"
        return Status.ERROR, f"the MILP solver ended with '{outcome.status}' ({outcome.reason})"

    # ------------------------------------------------------------------ cuts
    def _add(self, cut: Cut) -> None:
        self.model.add_cut(cut.units, cut.values)
        self.cut_list.append(cut)
        self.cut_sizes.append(len(cut.units))
        self.stats["cuts"] += 1

    def _cut_off(self, pattern: np.ndarray, more: int = 0) -> None:
        search = infeasible_subset(self.net, pattern, self.units, self.domain, minimize=(self.cuts == "minimal"),
                                   clock=self.clock)
        self.stats["lps"] += search.lps
        self.best.offer(search.point)
        self._add(search.cut)
        if more and self.cuts == "minimal":
            others, lps = other_infeasible_subsets(self.net, pattern, self.units, search.cut, self.domain, limit=more,
                                                   clock=self.clock)
            self.stats["lps"] += lps
            for cut in others:
                self._add(cut)

    def _cut_or_offer(self, pattern: np.ndarray) -> None:
        """An improving solution met during the solve: a witness when realizable, else one more cut."""
        if any(cut.excludes(pattern) for cut in self.cut_list[-self.cuts_per_round:]):
            return
        self.stats["lps"] += 1
        try:
            point = _realize(self.net, pattern, self.units, self.domain)
        except UndecidedRegionError:
            return
        if point is not None:
            self.best.offer(point)
        else:
            self._cut_off(pattern)

    # ------------------------------------------------------------------ result
    def result(self, status: Status, message: str, keep_cuts: bool) -> LipschitzResult:
        stats = self.stats
        if self.model is not None:
            stats.update(self.model.size)
        stats["cut_size_max"] = max(self.cut_sizes, default=0)
        stats["cut_size_mean"] = float(np.mean(self.cut_sizes)) if self.cut_sizes else 0.0
        if keep_cuts:
            stats["cut_list"] = [cut.to_dict() for cut in self.cut_list]
        stats["lower_found"] = self.best.value
        self.progress.update(self.best.value, self.upper, stats["rounds"], force=True)
        return certified_result(self.problem, "milp", self.clock, status=status, witness=self.best.x,
                                upper=self.upper, upper_proof=self.proof, message=message, stats=stats)


def _ties(cuts: list[Cut]) -> list[tuple[int, int, bool]]:
    """Pairs whose two mixed (or two equal) sign combinations are both proven empty: ``(i, j, same)``."""
    pairs: dict[tuple[int, int], set[tuple[bool, bool]]] = {}
    for cut in cuts:
        if len(cut.units) == 2:
            pairs.setdefault(cut.units, set()).add(cut.values)
    ties = []
    for (i, j), values in pairs.items():
        if {(True, False), (False, True)} <= values:
            ties.append((i, j, True))
        elif {(True, True), (False, False)} <= values:
            ties.append((i, j, False))
    return ties


def _realize(net, pattern: np.ndarray, units: np.ndarray, domain, strict: bool = True) -> np.ndarray | None:
    """A point of the region of ``pattern`` restricted to the model's units, or None when it is empty.

    With ``strict`` False a numerically troubled LP gives None instead of raising (for witness hunting only).

    The point also avoids the hyperplanes of the units outside the model (a witness must be off every
    region boundary): when the first LP's point lies on some of them, a second LP asks for the pattern of
    ``x + eps d`` (d a fixed generic direction), which is realizable since ``x`` lies in an open region.
    """
    mask = np.zeros(net.n_hidden, dtype=bool)
    mask[units] = True
    try:
        x = realizing_point(net, pattern, fixed=mask, domain=domain)
    except UndecidedRegionError:
        if strict:
            raise
        return None
    if x is None:
        return None
    live = np.any(net.W1 != 0, axis=1)
    pre = net.preactivation(x)
    if realizes(net, x, pre > 0, fixed=live, domain=domain):
        return x
    # Moving x a little along a generic direction d gives each zero unit the sign of w_j . d and keeps the rest.
    direction = np.random.default_rng(0).normal(size=net.n_inputs)
    signs = exact_signs(np.asarray(net.W1, dtype=np.float64), np.asarray(net.hidden_bias, dtype=np.float64), x)
    full = np.where(mask, pattern, np.where(signs != 0, signs > 0, net.W1 @ direction > 0))
    try:
        point = realizing_point(net, full, fixed=live, domain=domain)
    except UndecidedRegionError:
        point = None
    return x if point is None else point
