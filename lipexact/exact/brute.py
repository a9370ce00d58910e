"""The reference oracle: every activation pattern, with the exact LP realizability check.

All ``2^h`` patterns are scored (``||W2 diag(s) W1||``), then visited from the largest score down; the first
one whose region is non-empty (meets the domain's interior) is the maximum. At any moment the score of
the pattern under examination is a proven upper bound, since every larger score belongs to an empty
region. Exact for any norm of :mod:`lipexact.norms` and any output dimension; meant for ``h <= 20``.
With ``exhaustive=True`` the LP of every pattern is solved (the literal oracle: it also counts the
non-empty regions), which is what the benchmarks compare the other methods against.
"""

from __future__ import annotations

import numpy as np

from lipexact.exact.patterns import pattern_chunks, pattern_values
from lipexact.exact.problem import Clock, Problem, certified_result
from lipexact.exact.progress import SearchProgress
from lipexact.exact.realizability import realizing_point
from lipexact.result import LipschitzResult, Status
from reductions.validation import require

__all__ = ["solve_brute", "MAX_HIDDEN"]

MAX_HIDDEN = 22


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
    stats = {"patterns": int(patterns.shape[0]), "lps": 0}
    interrupted = False
    position = 0
    try:
        for position, index in enumerate(order):
            if clock.expired():
                break
            stats["lps"] += 1
            progress.update(None, float(values[index]), stats["lps"])
            witness = realizing_point(net, patterns[index], domain=problem.domain)
            if witness is not None:
                if exhaustive:
                    rest = _count_realizable(problem, clock, patterns[order[position + 1:]])
                    stats["realizable_patterns"] = None if rest is None else 1 + rest
                return certified_result(problem, "brute", clock, status=Status.OPTIMAL, witness=witness,
                                        upper=float(values[index]), stats=stats,
                                        upper_proof="every pattern with a larger value has an empty region (LP)",
                                        message=f"optimal: {stats['lps']} of {stats['patterns']} patterns checked"
                                                + (" before the optimum, then all" if exhaustive else ""))
    except KeyboardInterrupt:
        interrupted = True
    upper = float(values[order[position]])
    status = Status.INTERRUPTED if interrupted else Status.TIME_LIMIT
    return certified_result(problem, "brute", clock, status=status, witness=None, upper=upper, stats=stats,
                            upper_proof="every pattern with a larger value has an empty region (LP)",
                            message=f"{status.value}: stopped after {stats['lps']} LPs")


def _count_realizable(problem: Problem, clock: Clock, patterns: np.ndarray) -> int | None:
    """How many of ``patterns`` have a non-empty region; None when the time limit ends the count."""
    count = 0
    for pattern in patterns:
        if clock.expired():
            return None
        count += realizing_point(problem.net, pattern, domain=problem.domain) is not None
    return count
