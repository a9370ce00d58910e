"""The reference oracle: every activation pattern, each region decided with exact certificates.

All ``2^h`` patterns are scored (``||W2 diag(s) W1||``), then visited from the largest score down; the first
one whose region is proven non-empty (a point verified in exact arithmetic, meeting the domain's interior)
is the maximum. At any moment the score of the pattern under examination is a proven upper bound, since
every larger score belongs to a region proven empty by an exactly verified Farkas certificate. A region
that neither certificate decides stays in the upper bound: the search goes on for a witness below it and
the result is ``error`` with the proven bracket, never ``optimal``. Exact for any norm of
:mod:`lipexact.norms` and any output dimension; meant for ``h <= 20``. With ``exhaustive=True`` every
pattern's region is decided (the literal oracle: it also counts the non-empty regions), which is what the
benchmarks compare the other methods against.
"""

from __future__ import annotations

import numpy as np

from lipexact.exact.patterns import pattern_chunks, pattern_values
from lipexact.exact.problem import Clock, Problem, certified_result
from lipexact.exact.progress import SearchProgress
from lipexact.exact.realizability import decide_pattern
from lipexact.result import LipschitzResult, Status
from reductions.validation import require

__all__ = ["solve_brute", "MAX_HIDDEN"]

MAX_HIDDEN = 22

_PROOF = "every pattern with a larger value has a region proven empty (exact Farkas certificate)"


def solve_brute(problem: Problem, clock: Clock, max_hidden: int = MAX_HIDDEN, exhaustive: bool = False) -> LipschitzResult:
    """Exact constant by brute force over patterns (see the module docstring).

    Examples
    --------
    >>> from lipexact.network import TwoLayerReLU
    >>> from lipexact.exact.problem import validate_problem
    >>> net = TwoLayerReLU([[1.0], [1.0]], [[1.0, -1.0]], b1=[0.0, -1.0])
    >>> result = solve_brute(validate_problem(net), Clock())
    >>> result.status.value, result.value
    ('optimal', 1.0)
    >>> solve_brute(validate_problem(net), Clock(), exhaustive=True).stats["realizable_patterns"]
    3
    """
    net = problem.net
    require(net.n_hidden <= max_hidden, "net", f"at most {max_hidden} hidden units for brute force",
            f"{net.n_hidden}")
    patterns = np.concatenate(list(pattern_chunks(net.n_hidden)))
    values = pattern_values(net, patterns, problem.norm)
    order = np.argsort(-values, kind="stable")
    progress = SearchProgress("brute", problem.progress)
    stats = {"patterns": int(patterns.shape[0]), "lps": 0, "undecided": 0}
    undecided_upper = None  # value of the largest pattern whose region no certificate decided
    stopped = None
    try:
        for position, index in enumerate(order):
            if clock.expired():
                stopped = Status.TIME_LIMIT
                break
            stats["lps"] += 1
            upper = float(values[index]) if undecided_upper is None else undecided_upper
            progress.update(None, upper, stats["lps"])
            decision = decide_pattern(net, patterns[index], domain=problem.domain)
            if decision.undecided:
                stats["undecided"] += 1
                if undecided_upper is None:
                    undecided_upper = float(values[index])
                continue
            if decision.nonempty:
                if exhaustive:
                    rest = _count_realizable(problem, clock, patterns[order[position + 1:]])
                    stats["realizable_patterns"] = None if rest is None else 1 + rest
                if undecided_upper is not None and undecided_upper > values[index]:
                    return certified_result(problem, "brute", clock, status=Status.ERROR, witness=decision.point,
                                            upper=undecided_upper, stats=stats, upper_proof=_PROOF + " or is undecided",
                                            message=f"no proof: {stats['undecided']} pattern(s) with larger values "
                                                    "have regions that no exact certificate decides")
                return certified_result(problem, "brute", clock, status=Status.OPTIMAL, witness=decision.point,
                                        upper=float(values[index]), stats=stats, upper_proof=_PROOF,
                                        message=f"optimal: {stats['lps']} of {stats['patterns']} patterns checked"
                                                + (" before the optimum, then all" if exhaustive else ""))
    except KeyboardInterrupt:
        stopped = Status.INTERRUPTED
    if stopped is None:  # every region is empty or undecided: no witness at all
        return certified_result(problem, "brute", clock, status=Status.ERROR, witness=None, upper=undecided_upper,
                                stats=stats, upper_proof=_PROOF + " or is undecided",
                                message="no region was proven non-empty")
    upper = float(values[order[position]]) if undecided_upper is None else undecided_upper
    return certified_result(problem, "brute", clock, status=stopped, witness=None, upper=upper, stats=stats,
                            upper_proof=_PROOF, message=f"{stopped.value}: stopped after {stats['lps']} regions")


def _count_realizable(problem: Problem, clock: Clock, patterns: np.ndarray) -> int | None:
    """How many of ``patterns`` have a non-empty region; None when the time limit ends the count or a region
    is undecided."""
    count = 0
    for pattern in patterns:
        if clock.expired():
            return None
        decision = decide_pattern(problem.net, pattern, domain=problem.domain)
        if decision.undecided:
            return None
        count += decision.nonempty
    return count
