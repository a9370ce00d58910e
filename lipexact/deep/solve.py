"""Entry point: the exact Lipschitz constant of a (small) deep ReLU network, with its certificate.

Scale: the search needs no normalization. Region decisions are certified on exact rational rows and the
float LP behind them normalizes its rows (:mod:`reductions.realizability`), interval stability on a box is
decided in exact integer arithmetic, and the Jacobian norms are computed on a power-of-two rescaled copy
when their squares would overflow (:func:`lipexact.norms.jacobian_norms`). A constant that does not fit in
float64 comes out non-finite and the result is then an ``error`` (never ``optimal``).
"""

from __future__ import annotations

from numbers import Integral
from typing import Any

from lipexact.deep.certificate import certified_deep_result
from lipexact.deep.enumerate import BRANCH_RULES, run_search
from lipexact.deep.network import as_network
from lipexact.domain import as_box
from lipexact.exact.problem import Clock
from lipexact.exact.tree import check_node_limit
from lipexact.norms import parse_norm
from lipexact.result import LipschitzResult, Status
from reductions.validation import InvalidInputError, as_real, require

__all__ = ["lipschitz_deep", "DEEP_METHODS"]

#: The exact methods for deep networks (``auto``: see :func:`choose_deep_method`).
DEEP_METHODS = ("enumerate", "bnb", "milp", "auto")
#: With a time limit and a fallback, ``auto`` gives its first choice (bnb) this share of it and the fallback (the
#: MILP) the rest when bnb stops unproven. Measured (``python -m benchmarks.deep``, 60 s, load 9-10): with 0.8,
#: 10-20-20-1 l_inf on ``[0, 1]^10`` ended at [1.708, 3.484] against [1.708, 2.997] for bnb alone, and on
#: ``[-1, 1]^10`` at [2.190, 4.437]: the MILP's 20% never tightened a deep bracket, so bnb gets all of it and the
#: MILP runs only when bnb ends ``error`` (regions no certificate decides) with time left.
AUTO_FIRST_SHARE = 1.0

_PROOFS = ("every joint activation region was decided by an exactly verified certificate (interior point or "
           "emptiness multipliers on the exact rational rows)",
           "the cells visited, and for the open nodes the norm of an entrywise bound on |J| over their completions "
           "(interval products of W_k D ... W_{l+1} D_l M_l, lipexact.deep.bounds)")
_BNB_PROOF = ("every joint activation region was either decided by an exactly verified certificate or closed by a "
              "proven bound (lipexact.deep.bounds) at most the incumbent")


def lipschitz_deep(net: Any, method: str = "enumerate", norm: Any = 2, domain: Any = None, time_limit: Any = None,
                   node_limit: Any = None, seed: Any = 0, progress: bool = False,
                   branch: str | None = None) -> LipschitzResult:
    """The exact Lipschitz constant of a deep ReLU network (global or on a box), with its certificate.

    Parameters
    ----------
    net : ReLUNetwork, torch.nn.Sequential, TwoLayerReLU or dict
        A dict is the JSON format of ``../shared/networks`` (``"type": "relu_network"``).
    method : {"enumerate", "bnb", "milp", "auto"}
        The tree search of :mod:`lipexact.deep.enumerate`: every cell (``enumerate``), or branch and bound
        with proven node bounds and a local-search incumbent (``bnb``); or the LipMIP-class MILP with exact
        lazy realizability cuts of :mod:`lipexact.deep.milp` (``milp``: a box and norm 1 or inf only;
        ``node_limit`` caps its MILP rounds); ``auto`` picks by :func:`choose_deep_method` and says which in
        ``stats["auto"]``.
    norm : {2, 1, inf}
        ``||J||_{p->p}`` of the pattern's Jacobian (see :mod:`lipexact.norms`).
    domain : Box or (lower, upper), optional
        Local constant on the open box; the global constant when None.
    time_limit : float, optional
        Seconds; a stopped search returns its proven bracket with status ``time_limit``.
    node_limit : int, optional
        Process at most this many nodes (status ``node_limit`` with the proven bracket).
    seed : int
        Seed of the branch and bound's local search (the search is deterministic for a given seed).
    progress : bool
        Print nodes and the incumbent to stderr while searching.
    branch : {"first", "largest"}, optional
        Branching rule (:class:`lipexact.deep.enumerate.DeepSearch`; default ``largest`` for ``bnb``).

    Returns
    -------
    LipschitzResult
        ``pattern`` is the concatenated per-layer pattern at the witness; ``certificate["layer_sizes"]``
        says how to split it. Bad input raises :class:`InvalidInputError`; any other failure is an ``error``
        result.

    Examples
    --------
    >>> import torch
    >>> torch.manual_seed(0) is not None
    True
    >>> model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 3),
    ...                             torch.nn.ReLU(), torch.nn.Linear(3, 1))
    >>> result = lipschitz_deep(model, norm=2)
    >>> result.status.value, result.lower == result.value, result.certificate["layer_sizes"]
    ('optimal', True, [3, 3])
    >>> lipschitz_deep(model, domain=([0.0, 0.0], [0.1, 0.1]), norm="inf").status.value
    'optimal'
    >>> bnb = lipschitz_deep(model, method="bnb", norm=2)
    >>> bnb.status.value, abs(bnb.value - result.value) <= 1e-9 * result.value
    ('optimal', True)
    """
    network = as_network(net)
    require(method in DEEP_METHODS, "method", f"one of {list(DEEP_METHODS)}", repr(method))
    parsed = parse_norm(norm)
    box = as_box(domain, network.n_inputs)
    if time_limit is not None:
        limit = as_real(time_limit, "time_limit")
        require(limit > 0, "time_limit", "a number > 0 or None", repr(time_limit))
        time_limit = float(limit)
    node_limit = check_node_limit(node_limit)
    require(isinstance(seed, Integral) and not isinstance(seed, bool) and seed >= 0, "seed",
            "a non-negative integer", repr(seed))
    require(branch is None or branch in BRANCH_RULES, "branch", f"one of {list(BRANCH_RULES)}", repr(branch))
    if method == "auto":
        return _auto(network, parsed, box, time_limit, node_limit, int(seed), bool(progress), branch)
    if method == "milp":
        from lipexact.deep.milp import check_milp_input

        check_milp_input(parsed, box)
    clock = Clock(time_limit)
    try:
        if method == "milp":
            return _milp_result(network, parsed, box, clock, node_limit, bool(progress))
        outcome = run_search(network, parsed, box, clock, node_limit=node_limit, progress=bool(progress),
                             bnb=method == "bnb", branch=branch, seed=int(seed))
        stats = dict(outcome.stats)
        if outcome.status is Status.OPTIMAL:
            proof = _BNB_PROOF if method == "bnb" else _PROOFS[0]
            message = f"optimal: {stats['cells']} cells, {stats['nodes']} nodes, {stats['lps']} LPs"
        elif outcome.status is Status.ERROR:
            proof, message = _PROOFS[1] + ", and the bounds of undecided regions", f"no proof: {stats.get('no_proof')}"
        else:
            proof, message = _PROOFS[1], f"{outcome.status.value}: stopped after {stats['nodes']} nodes"
        return certified_deep_result(network, parsed, box, method, clock, status=outcome.status,
                                     witness=outcome.point, upper=outcome.upper, upper_proof=proof, message=message,
                                     stats=stats)
    except InvalidInputError:
        raise
    except Exception as error:  # numerical or solver failure: a result that says so, never an escape
        return LipschitzResult(Status.ERROR, None, method, norm=parsed,
                               message=f"the solver failed: {type(error).__name__}: {error}",
                               timings={"total": clock.elapsed()})


def choose_deep_method(norm: str, box, node_limit=None) -> tuple[str, str | None, str]:
    """``auto``'s choice: ``(first, fallback, reason)``.

    Measured (2-core machine under load 10-12, 60 s limits, seed-0 random nets with N(0, 1)/sqrt(fan-in)
    weights and biases; brackets ``[lower, upper]``): 10-30-30-30-3 on ``[0, 0.1]^10``: l_inf ``milp``
    [1.22, 127.0], ``bnb`` [1.83, 3.47]; l1 ``milp`` [0.59, 11.5], ``bnb`` [0.74, 1.46]. 10-20-20-1, l_inf, 30 s:
    on ``[-1, 1]^10`` ``milp`` [1.46, 13.0], ``bnb`` [2.19, 4.90]; on ``[0, 1]^10`` (60 s) ``milp`` [1.15, 9.23],
    ``bnb`` (30 s) [1.71, 4.01]. LipBaB's small nets: both under 0.4 s (:mod:`lipexact.deep.milp`). So ``bnb``
    goes first everywhere; on a box with the l1 or l_inf norm the MILP is the fallback: it gets the rest of
    the time (:data:`AUTO_FIRST_SHARE`, measured) when bnb stops unproven or ends ``error`` (regions that no
    certificate decides), and the brackets are combined. A node limit applies to the tree search only.
    """
    if box is not None and norm in ("1", "inf") and node_limit is None:
        return "bnb", "milp", f"box and l{'_inf' if norm == 'inf' else '1'}: bnb, the MILP as fallback"
    if box is None:
        return "bnb", None, "global constant: bnb (the MILP needs a box)"
    if norm == "2":
        return "bnb", None, "l2 norm: bnb (the MILP covers l1 and l_inf)"
    return "bnb", None, "node limit: bnb"


def _auto(network, parsed: str, box, time_limit, node_limit, seed: int, progress: bool, branch) -> LipschitzResult:
    """Method ``auto`` (:func:`choose_deep_method`): the first choice, and when it ends unproven with time
    left (or without a time limit), the fallback on the rest of the time, the two brackets combined."""
    from lipexact.exact import _combine

    first, fallback, reason = choose_deep_method(parsed, box, node_limit)
    clock = Clock(time_limit)
    share = None if time_limit is None or fallback is None else AUTO_FIRST_SHARE * time_limit
    options = {"node_limit": node_limit, "seed": seed, "progress": progress}
    result = lipschitz_deep(network, first, parsed, box, share if share is not None else time_limit,
                            branch=branch if first == "bnb" else None, **options)
    chosen = first
    if fallback is not None and result.status in (Status.TIME_LIMIT, Status.ERROR):
        left = None if time_limit is None else time_limit - clock.elapsed()
        if left is None or left > 0:
            second = lipschitz_deep(network, fallback, parsed, box, left,
                                    branch=branch if fallback == "bnb" else None, **options)
            reason += f"; {first} ended {result.status.value}, then {fallback}"
            result, chosen = _combine(result, second), fallback
    return result.replace(stats={**result.stats, "auto": chosen},
                          message=f"{result.message} [auto: {reason}]".strip())


def _milp_result(network, parsed: str, box, clock: Clock, node_limit, progress: bool) -> LipschitzResult:
    """Method ``milp`` (:mod:`lipexact.deep.milp`), judged like every other result."""
    from lipexact.deep.milp import solve_deep_milp

    status, witness, upper, proof, message, stats = solve_deep_milp(network, parsed, box, clock,
                                                                    max_rounds=node_limit, progress=progress)
    return certified_deep_result(network, parsed, box, "milp", clock, status=status, witness=witness, upper=upper,
                                 upper_proof=proof, message=message, stats=stats)
