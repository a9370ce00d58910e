"""Exact Lipschitz constants of two-layer ReLU networks, with certificates.

One entry point, :func:`lipschitz`, and a registry :data:`METHODS` of name -> implementation. Every
implementation takes a validated :class:`~lipexact.exact.problem.Problem` and a
:class:`~lipexact.exact.problem.Clock` and returns a :class:`~lipexact.result.LipschitzResult` whose
lower bound comes from a witness re-evaluated independently of the method.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from importlib import import_module
from typing import Any, Callable

from lipexact.exact.problem import RELATIVE_TOLERANCE, Clock, Problem, validate_problem
from lipexact.exact.scaling import normalize, scale_back
from lipexact.result import LipschitzResult, Status
from reductions.validation import InvalidInputError, require

__all__ = ["METHODS", "TREE_METHODS", "lipschitz", "choose_method", "opposite_pairs"]

#: Method name -> ``"module:function"`` implementing it (resolved on first use).
METHODS: dict[str, str] = {
    "brute": "lipexact.exact.brute:solve_brute",
    "enumerate": "lipexact.exact.enumerate:solve_enumerate",
    "bnb": "lipexact.exact.bnb:solve_bnb",
    "milp": "lipexact.exact.milp:solve_milp",
    "vertices": "lipexact.exact.vertices:solve_vertices",
}

BRUTE_MAX_HIDDEN_FOR_AUTO = 6
MILP_MIN_HIDDEN_FOR_AUTO = 64
#: With a time limit, ``auto`` gives its first choice this share of it and the other search the rest when the
#: first stops unproven.
AUTO_FIRST_SHARE = 0.6

#: The methods that search a tree of partial patterns and accept a ``node_limit``.
TREE_METHODS = ("bnb", "enumerate", "vertices")


def _implementation(name: str) -> Callable[..., LipschitzResult]:
    module, function = METHODS[name].split(":")
    return getattr(import_module(module), function)


def opposite_pairs(net: Any) -> bool:
    """Whether the hidden units pair up as ``relu(a.x)`` and ``relu(-a.x)`` with equal output weights, so that
    ``f(x) = sum_k c_k |a_k . x|``: the form of the reduction from {-1,1} quadratic maximization (QUBO).

    Examples
    --------
    >>> from lipexact import TwoLayerReLU
    >>> opposite_pairs(TwoLayerReLU([[1, 2], [-1, -2]], [[3, 3]]))
    True
    >>> opposite_pairs(TwoLayerReLU([[1, 2], [-1, -2]], [[3, 1]]))
    False
    """
    if net.has_bias or net.n_hidden % 2:
        return False
    W1, W2 = net.W1 + 0.0, net.W2 + 0.0  # + 0.0 turns -0.0 into 0.0
    units = Counter((W1[j].tobytes(), W2[:, j].tobytes()) for j in range(net.n_hidden))
    flipped = Counter(((-W1[j] + 0.0).tobytes(), W2[:, j].tobytes()) for j in range(net.n_hidden))
    return units == flipped


def choose_method(problem: Problem) -> tuple[str, str]:
    """The method ``"auto"`` runs for ``problem``, and why.

    Measured on this project's 2-core machine (``benchmarks/`` and the notes in the README):

    - brute force only for the global constant with at most :data:`BRUTE_MAX_HIDDEN_FOR_AUTO` hidden
      units: above that, or on a box (where most patterns are empty and each needs its own certificate), it
      lost up to 2000x to branch and bound (14 s against 0.007 s, h = 12, n = 2, box of side 0.2);
    - the MILP for the global l2 constant of networks in :func:`opposite_pairs` form with more than
      :data:`MILP_MIN_HIDDEN_FOR_AUTO` units: it proves the shared QUBO instances (h = 102 to 202) in 0.1 to
      0.7 s where branch and bound stops at 20 s on several, while branch and bound is 1.8 to 3x faster
      on random QUBO networks up to h = 62;
    - the per-vertex branch and bound (:mod:`lipexact.exact.vertices`) for the l1 and l_inf norms whenever the
      dual ball has at most :data:`~lipexact.exact.vertices.MAX_FUNCTIONALS` vertices (``m 2^n`` for l_inf,
      ``n 2^m`` for l1): faster than branch and bound in each of 44 cases measured (random nets, n = 2 to 16,
      h = 12 to 40, m = 1 to 8, global and on ``[-1, 1]^n``: 1.1x to 280x, e.g. 0.21 s against 17.5 s for
      16-40-1 on the box, l_inf; the same values) and 9-47x faster than a big-M MILP on the issue's anchor;
    - branch and bound for everything else.
    """
    h = problem.net.n_hidden
    from lipexact.exact.vertices import MAX_FUNCTIONALS, functional_count

    count = functional_count(problem.net.n_inputs, problem.net.n_outputs, problem.norm)
    if count is not None and count <= MAX_FUNCTIONALS:
        return "vertices", f"norm {problem.norm}, {count} vertices of the dual ball: a branch and bound per vertex"
    if h <= BRUTE_MAX_HIDDEN_FOR_AUTO and problem.domain is None:
        return "brute", f"h = {h} <= {BRUTE_MAX_HIDDEN_FOR_AUTO}, global: brute force"
    if (h > MILP_MIN_HIDDEN_FOR_AUTO and problem.domain is None and problem.norm == "2"
            and opposite_pairs(problem.net)):
        return "milp", f"h = {h} units in opposite pairs, f(x) = sum c|a.x|: a binary quadratic program, MILP"
    return "bnb", "branch-and-bound"


def _alternative(problem: Problem, method: str) -> str | None:
    """The other search ``auto`` tries when its first choice stalls (bnb <-> milp), None when none applies."""
    if method == "vertices":
        return None
    if method == "milp":
        return "bnb"
    if method == "bnb" and (problem.norm != "2" or problem.net.n_outputs == 1):
        return "milp"
    return None


def _combine(first: LipschitzResult, second: LipschitzResult) -> LipschitzResult:
    """The tighter of two proven brackets of the same constant: the larger re-checked lower side (with its
    witness) and the smaller upper bound (with its proof)."""
    if second.status is Status.OPTIMAL:
        return second.replace(message=f"{second.message} (after {first.method}: {first.status.value})")
    results = [r for r in (first, second) if r.lower is not None or r.upper is not None]
    if not results:
        return second
    lower_side = max((r for r in results if r.lower is not None), key=lambda r: r.lower, default=second)
    upper_side = min((r for r in results if r.upper is not None), key=lambda r: r.upper, default=second)
    lower, upper = lower_side.lower, upper_side.upper
    certificate = {**lower_side.certificate, "upper_proof": upper_side.certificate.get("upper_proof"),
                   "upper_method": upper_side.method}
    status = second.status if second.status is not Status.ERROR else first.status
    message = (f"{first.method}: {first.status.value} [{first.lower}, {first.upper}], then {second.method}: "
               f"{second.status.value} [{second.lower}, {second.upper}]")
    if lower is not None and upper is not None and upper - lower <= RELATIVE_TOLERANCE * max(abs(lower), abs(upper)):
        status, message = Status.OPTIMAL, "optimal: " + message
    stats = {"first": {"method": first.method, **first.stats}, "second": {"method": second.method, **second.stats}}
    return lower_side.replace(status=status, value=lower, lower=lower, upper=max(upper, lower) if upper is not None
                              and lower is not None else upper, message=message, certificate=certificate,
                              method=second.method, stats=stats,
                              timings={"total": first.timings.get("total", 0.0) + second.timings.get("total", 0.0)})


def _solve_scale_free(implementation: Callable[..., LipschitzResult], method: str, problem: Problem, clock: Clock,
                      options: dict) -> LipschitzResult:
    """Run ``implementation`` on the normalized network (:mod:`lipexact.exact.scaling`) and scale back.

    Bad input raises :class:`InvalidInputError`; any other failure becomes an ``error`` result.
    """
    try:
        scaling = normalize(problem.net)
        result = implementation(replace(problem, net=scaling.net), clock, **options)
        return scale_back(result, scaling, problem)
    except InvalidInputError:
        raise
    except Exception as error:  # numerical or solver failure: a result that says so, never an escape
        return LipschitzResult(Status.ERROR, None, method, norm=problem.norm,
                               message=f"the solver failed: {type(error).__name__}: {error}",
                               timings={"total": clock.elapsed()})


def lipschitz(net: Any, method: str = "auto", norm: Any = 2, domain: Any = None, time_limit: Any = None,
              seed: int = 0, progress: bool = False, node_limit: Any = None, **options: Any) -> LipschitzResult:
    """The exact Lipschitz constant of a two-layer ReLU network, with its certificate.

    Parameters
    ----------
    net : TwoLayerReLU or torch.nn.Sequential(Linear, ReLU, Linear)
    method : {"auto", "brute", "enumerate", "bnb", "milp", "vertices"}
        ``"auto"`` picks by size and says which it picked in ``result.stats["auto"]``.
    norm : {2, 1, inf}
        Input and output norm (see :mod:`lipexact.norms`).
    domain : Box or (lower, upper), optional
        Local constant on a box; the global constant when None.
    time_limit : float, optional
        Seconds; a stopped search returns its proven bounds with status ``time_limit``.
    node_limit : int, optional
        For the tree searches (``"bnb"``, ``"enumerate"``, ``"vertices"``): stop after this many nodes and return the
        proven bounds with status ``node_limit``, a stop that does not depend on the machine's speed.
        Refused for ``"brute"`` and ``"milp"`` (whose round limit is the option ``max_rounds``); with
        ``"auto"`` it applies when a tree search is picked, and brute force and the MILP run without it.
    seed : int
        Seed of every random choice (incumbent search).
    progress : bool
        Print bound, incumbent, gap and nodes to stderr while searching.
    **options
        Passed to the method.

    Returns
    -------
    LipschitzResult
        ``value`` (= ``lower``, the re-evaluated gradient norm at ``witness``), ``upper``, ``status``,
        ``witness``, ``pattern``, ``stats`` and ``timings``.

    Examples
    --------
    >>> from lipexact import TwoLayerReLU
    >>> net = TwoLayerReLU([[1, 1], [1, -1]], [[1, 1]])
    >>> result = lipschitz(net)
    >>> result.status.value, round(result.value, 12), result.stats["auto"]
    ('optimal', 2.0, 'brute')

    References
    ----------
    Scaman, K. and Virmaux, A. Lipschitz regularity of deep neural networks: analysis and efficient
    estimation. NeurIPS 2018 (arXiv:1805.10965).
    """
    problem = validate_problem(net, norm, domain, time_limit, seed, progress)
    choices = ["auto", *METHODS]
    require(method in choices, "method", f"one of {choices}", repr(method))
    if node_limit is not None:
        from lipexact.exact.tree import check_node_limit

        node_limit = check_node_limit(node_limit)
    require(node_limit is None or method in ("auto", *TREE_METHODS), "node_limit",
            f"None for method {method!r} (node limits apply to {list(TREE_METHODS)})", repr(node_limit))
    clock = Clock(problem.time_limit)
    reason = None
    if method == "auto":
        method, reason = choose_method(problem)
    if node_limit is not None and method in TREE_METHODS:
        options = {**options, "node_limit": node_limit}
    alternative = _alternative(problem, method) if reason is not None and problem.time_limit is not None \
        and node_limit is None and not options else None
    if alternative is None:
        result = _solve_scale_free(_implementation(method), method, problem, clock, options)
    else:
        first_clock = Clock(AUTO_FIRST_SHARE * problem.time_limit, start=clock.start, now=clock.now)
        result = _solve_scale_free(_implementation(method), method, problem, first_clock, options)
        if result.status is Status.TIME_LIMIT and not clock.expired():
            second = _solve_scale_free(_implementation(alternative), alternative, problem, clock, options)
            reason += f"; {method} stopped at {AUTO_FIRST_SHARE:.0%} of the time limit, then {alternative}"
            result, method = _combine(result, second), alternative
    if reason is not None:
        result = result.replace(stats={**result.stats, "auto": method},
                                message=f"{result.message} [auto: {reason}]".strip())
    return result
