"""``lipsdp``: the LipSDP-neuron upper bound on the l2 Lipschitz constant of a ReLU MLP, by interior point.

The SDP (Fazlyab et al. 2019, neuron-level multipliers, ReLU slope-restricted in ``[0, 1]``)::

    minimize rho  over rho and t_1..t_{k-1} >= 0   subject to  M(T, rho) <= 0

with ``M`` the block-tridiagonal matrix of :mod:`lipexact.bounds.sdp.lmi`, is solved by an interior-point
method: cvxpy and Clarabel for small LMIs (accurate multipliers, so the certified value stays within a hair
of the SDP optimum), and for larger ones the structured log-barrier Newton method of
:mod:`lipexact.bounds.sdp.barrier` (a general conic solver's KKT system carries a dense block of side
``n(n+1)/2`` for an ``n x n`` LMI, hopeless beyond a few hundred neurons; this SDP has only one variable per
neuron and rank-two constraint matrices). Each falls back to the other, then to SCS (first-order
splitting) when it fails or is not installed. The solver's number is never reported as the bound: its
multipliers (and, as a floor, the ECLipsE-Fast ones: the smaller certified value is reported, so a solver
that stops short never leaves the bound above ECLipsE-Fast) go through
:func:`lipexact.bounds.sdp.certify.certified_rho`, which PROVES ``M(T', rho) <= 0`` in floating point for a
``rho`` at most a tiny relative step above the Schur-complement minimum for ``T'``. The bound is
``sqrt(rho)``, rounded up.

Only the neuron-level (diagonal) multipliers are used: the coupled "network" variant with off-diagonal
multipliers between neurons has a published counterexample (a value below the true constant) and is not
offered.

Normalization: the constant is positively homogeneous in each layer, ``L(c_1 W_1, ..., c_k W_k) =
c_1 ... c_k L(W)``. Each layer is scaled by a power of two (exactly, in floating point) to spectral norm
about 1 before solving, and the certified value is scaled back exactly, so the solver sees a well-scaled
problem whatever the weights' magnitude.

References
----------
M. Fazlyab, A. Robey, H. Hassani, M. Morari, G. Pappas. Efficient and accurate estimation of Lipschitz
constants for deep neural networks. NeurIPS 2019.
The fully coupled multiplier variant ("LipSDP-Network") has been reported invalid in the literature (a
counterexample whose value lies below the true constant; see this project's issue 11); it is not used.
"""

from __future__ import annotations

import math
import time
from typing import Any, Sequence

import numpy as np
import torch

from lipexact.bounds.device import as_dtype, pick_device
from lipexact.bounds.sdp.barrier import barrier_lipsdp
from lipexact.bounds.sdp.certify import certified_rho
from lipexact.bounds.sdp.eclipse import fast_start
from lipexact.bounds.sdp.inert import constant, drop_units, expand_multipliers, inert_masks, restrict_multipliers
from lipexact.bounds.sdp.lmi import checked_mlp_weights, hidden_widths
from lipexact.norms import parse_norm
from lipexact.result import LipschitzResult, Status
from reductions.validation import InvalidInputError, require

__all__ = ["lipsdp", "validate_lipsdp", "solve_lipsdp", "certified_solution", "normalize_weights", "layer_exponents",
           "rescale_multipliers", "scaled_goal", "compress_input", "SOLVERS", "DEFAULT_MAX_DIM", "CLARABEL_MAX_SIDE"]

#: Solver choices. ``"auto"``: Clarabel (through cvxpy) when the LMI side is at most
#: :data:`CLARABEL_MAX_SIDE`, else the structured barrier method of :mod:`lipexact.bounds.sdp.barrier`; each
#: falls back to the other, then to SCS.
SOLVERS = ("auto", "clarabel", "scs", "barrier")

#: Largest LMI side for which ``"auto"`` uses Clarabel (its KKT system holds a dense block of side
#: ``n(n+1)/2``: 49 s at side 80 measured, growing like ``n^6``).
CLARABEL_MAX_SIDE = 48

#: :func:`certified_solution` starts the barrier method from the ``start`` multipliers given (when they fit), on the
#: central path's gap of a tenth of their value (:func:`lipexact.bounds.sdp.barrier.barrier_lipsdp`).
WARM_START = True

#: Largest LMI side (``n_0 + n_1 + ... + n_{k-1}``) the interior-point route accepts by default: its memory
#: grows with the square of the number of matrix entries.
DEFAULT_MAX_DIM = 2000


def normalize_weights(weights: Sequence[np.ndarray],
                      exponents: Sequence[int] | None = None) -> tuple[list[np.ndarray], int]:
    """``(scaled, e)``: each layer times a power of two (exact), spectral norms in ``[1/2, 2)``; the
    constant of the original network is ``2^e`` times that of the scaled one. ``exponents``: the layers' powers
    of two when the caller has them already (:func:`layer_exponents`).

    Examples
    --------
    >>> scaled, e = normalize_weights([np.array([[8.0, 0.0]]), np.array([[0.25]])])
    >>> [w.tolist() for w in scaled], e
    ([[[1.0, 0.0]], [[1.0]]], 1)
    """
    exponents = layer_exponents(weights) if exponents is None else exponents
    return [np.ldexp(w, -e) for w, e in zip(weights, exponents)], sum(exponents)


def layer_exponents(weights: Sequence[np.ndarray]) -> list[int]:
    """The powers of two :func:`normalize_weights` divides each layer by (the rounded log2 of its spectral norm).

    Examples
    --------
    >>> layer_exponents([np.array([[8.0, 0.0]]), np.array([[0.25]])])
    [3, -2]
    """
    exponents = []
    for w in weights:
        norm = float(np.linalg.norm(w, 2)) if min(w.shape) <= 2048 else float(np.linalg.norm(w))
        exponents.append(0 if norm == 0 or not math.isfinite(norm) else int(round(math.log2(norm))))
    return exponents


def rescale_multipliers(multipliers: Sequence[np.ndarray], exponents: Sequence[int], to_scaled: bool) -> list:
    """LipSDP multipliers moved between a network and its copy normalized by :func:`normalize_weights` with these
    ``exponents`` (exact powers of two): ``T~_i = T_i (C_k / C_i)^2`` (``to_scaled``) or back, ``C_i = c_1 ... c_i``
    the layers' factors (:func:`certified_solution`, Scaling).

    >>> rescale_multipliers([np.array([1.0]), np.array([1.0])], [1, 2, 3], True)   # C_k / C_i = 2^-5, 2^-3
    [array([0.00097656]), array([0.015625])]
    """
    cumulative = np.cumsum(exponents)
    sign = -2 if to_scaled else 2
    return [np.ldexp(np.asarray(t, dtype=np.float64), sign * int(cumulative[-1] - cumulative[i]))
            for i, t in enumerate(multipliers)]


def scaled_goal(target: float | None, exponent: int) -> float | None:
    """A target on the Lipschitz bound as a target on the normalized network's ``rho`` (None without a positive
    finite target; ``inf`` when the square overflows)."""
    if target is None or not math.isfinite(target) or target <= 0:
        return None
    root = math.ldexp(target, -exponent)
    return root * root


def _check_request(norm: Any, solver: Any, max_dim: Any, seed: Any, dtype: Any, device: Any,
                   options: dict) -> str:
    if options:
        name = sorted(options)[0]
        raise InvalidInputError(name, "an option of lipsdp (norm, solver, max_dim, verbose)", repr(options[name]))
    require(parse_norm(norm) == "2", "norm", "2 (LipSDP bounds the l2 Lipschitz constant)", repr(norm))
    require(isinstance(solver, str) and solver.lower() in SOLVERS, "solver", f"one of {', '.join(SOLVERS)}",
            repr(solver))
    require(isinstance(max_dim, int) and not isinstance(max_dim, bool) and max_dim >= 1, "max_dim",
            "a positive integer", repr(max_dim))
    require(isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0, "seed", "a non-negative integer",
            repr(seed))
    as_dtype(dtype)
    pick_device(device)
    return solver.lower()


def _check_model(model: Any, input_shape: Any, max_dim: int) -> list[np.ndarray]:
    weights = checked_mlp_weights(model, input_shape)
    n0 = weights[0].shape[1]
    side = min(n0, weights[0].shape[0]) + sum(hidden_widths(weights))  # after compress_input
    require(side <= max_dim, "model", f"an LMI of side at most max_dim={max_dim} (min(inputs, first width) + hidden widths) for the "
            "interior-point solver; use lipsdp_first_order for larger networks", f"side {side}")
    return weights


def validate_lipsdp(model: Any, *, input_shape: Any = None, device: Any = None, dtype: Any = torch.float64,
                    seed: int = 0, norm: Any = "2", solver: str = "auto", max_dim: int = DEFAULT_MAX_DIM,
                    verbose: bool = False, **options: Any) -> None:
    """Raise what :func:`lipsdp` raises for bad input (options, norm, model, input shape), solving nothing.

    Examples
    --------
    >>> validate_lipsdp(torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1)),
    ...                 norm="inf")
    Traceback (most recent call last):
    ...
    reductions.validation.InvalidInputError: norm: expected 2 (LipSDP bounds the l2 Lipschitz constant), got 'inf'
    """
    _check_request(norm, solver, max_dim, seed, dtype, device, options)
    _check_model(model, input_shape, max_dim)


def _solve_with(weights: list[np.ndarray], solver_name: str, verbose: bool) -> tuple[float, list[np.ndarray], str]:
    import cvxpy as cp

    if solver_name.upper() not in cp.installed_solvers():
        raise ImportError(f"cvxpy has no {solver_name} solver")

    widths = hidden_widths(weights)
    n0 = weights[0].shape[1]
    rho = cp.Variable(name="rho")
    ts = [cp.Variable(width, nonneg=True, name=f"t{i + 1}") for i, width in enumerate(widths)]
    sizes = [n0] + widths
    blocks: list[list[Any]] = [[None] * len(sizes) for _ in sizes]
    for i in range(len(sizes)):
        for j in range(len(sizes)):
            blocks[i][j] = np.zeros((sizes[i], sizes[j]))
    blocks[0][0] = -rho * np.eye(n0)
    for i in range(1, len(sizes)):
        W, t = weights[i - 1], ts[i - 1]
        off = W.T @ cp.diag(t)  # W_i^T T_i
        blocks[i - 1][i] = off
        blocks[i][i - 1] = off.T
        blocks[i][i] = -2 * cp.diag(t)
    last = weights[-1]
    blocks[-1][-1] = blocks[-1][-1] + last.T @ last
    M = cp.bmat(blocks)
    problem = cp.Problem(cp.Minimize(rho), [(M + M.T) / 2 << 0])
    try:
        problem.solve(solver=getattr(cp, solver_name.upper()), verbose=verbose)
    except cp.error.SolverError as error:
        raise RuntimeError(f"{solver_name}: {error}") from None
    if problem.status not in ("optimal", "optimal_inaccurate") or any(t.value is None for t in ts):
        raise RuntimeError(f"{solver_name} ended with status {problem.status}")
    return float(rho.value), [np.asarray(t.value, dtype=np.float64).reshape(-1) for t in ts], problem.status


def compress_input(weights: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The same SDP on fewer inputs: ``W_1 = U S V^T`` is replaced by ``U S`` when ``W_1`` is wide.

    ``M(T, rho) <= 0`` depends on ``W_1`` only through ``W_1 W_1^T`` (Schur complement on the ``-rho I``
    block: ``N + T_1 W_1 W_1^T T_1 / rho <= 0``), which ``U S`` keeps. So the optimal value and feasible
    multipliers are the same; the LMI side drops by ``n_0 - n_1``. Only the solver sees this: the
    certificate is checked on the original weights.

    Examples
    --------
    >>> W1 = np.arange(12.0).reshape(2, 6)
    >>> small = compress_input([W1, np.ones((1, 2))])[0]
    >>> small.shape, np.allclose(small @ small.T, W1 @ W1.T)
    ((2, 2), True)
    """
    weights = list(weights)
    W1 = weights[0]
    if W1.shape[1] <= W1.shape[0]:
        return weights
    U, s, _ = np.linalg.svd(W1, full_matrices=False)
    return [U * s[None, :]] + weights[1:]


def solve_lipsdp(weights: Sequence[np.ndarray], solver: str = "auto", verbose: bool = False) -> dict:
    """Solve the LipSDP-neuron SDP for (already normalized) ``weights``; nothing certified yet.

    Returns a dict with ``rho`` (the solver's value), ``multipliers``, ``solver``, ``status`` and
    ``attempts`` (``[(solver, error)]`` for solvers that failed). Raises RuntimeError when every solver fails.

    Examples
    --------
    >>> out = solve_lipsdp([np.array([[3.0]]), np.array([[4.0]])])
    >>> round(out["rho"], 4), round(float(out["multipliers"][0][0]), 2)
    (144.0, 16.0)
    """
    weights = compress_input(weights)
    side = weights[0].shape[1] + sum(hidden_widths(weights))
    if solver == "auto":
        order = ["clarabel", "barrier", "scs"] if side <= CLARABEL_MAX_SIDE else ["barrier", "clarabel", "scs"]
    else:
        order = [solver]
    failures = []
    for name in order:
        try:
            if name == "barrier":
                out = barrier_lipsdp(weights)
                rho, multipliers, status = out["rho"], out["multipliers"], out["status"]
            else:
                rho, multipliers, status = _solve_with(weights, name, verbose)
        except ImportError as error:
            failures.append((name, f"not installed ({error})"))
            continue
        except (RuntimeError, ValueError, ArithmeticError, np.linalg.LinAlgError) as error:
            failures.append((name, str(error)[:200]))
            continue
        return {"rho": rho, "multipliers": multipliers, "solver": name, "status": status, "attempts": failures}
    raise RuntimeError("; ".join(f"{name}: {why}" for name, why in failures))


def certified_solution(weights: Sequence[np.ndarray], solver: str = "barrier", tol: float = 1e-8,
                       start: Sequence[np.ndarray] | None = None, target: float | None = None) -> tuple:
    """``(value, multipliers)``: the certified LipSDP-neuron bound of the ReLU MLP ``weights`` (float64 matrices
    ``W_1..W_k``) and the multipliers it was proven with, for the weights as given (``inf`` and None when nothing
    certifies). The weights are normalized by powers of two, the SDP solved by ``solver`` (``"barrier"``: at
    relative gap ``tol``; when it stalls, :func:`solve_lipsdp`'s ``"auto"`` choice is tried too), the solver's and
    the ECLipsE-Fast multipliers certified by :func:`lipexact.bounds.sdp.certify.certified_rho`, the smaller proven
    value scaled back exactly. Hidden units with an exactly zero row in or column out are removed first
    (:mod:`lipexact.bounds.sdp.inert`; their returned multipliers are placeholders, hints for warm starts; a chain
    with a layer of such units only has zero Jacobians: 0). With
    ``start`` (multipliers for these weights, e.g. an enclosing problem's) they
    are certified first, and when their value is at most ``target`` nothing is solved; the barrier method stops
    once it knows the optimum's side of ``target`` (gap at most 1%, :func:`barrier_lipsdp`). For callers that need a
    number many times (the node bounds of :mod:`lipexact.deep.sdp_bounds`); :func:`lipsdp` is the user-facing
    bound with its facts.

    Scaling: with ``W_i`` times ``c_i`` and ``C_i = c_1 ... c_i``, multipliers ``T~`` and value ``rho~`` of the
    scaled network are ``T_i = T~_i (C_i / C_k)^2`` and ``rho = rho~ / C_k^2`` for the original one (substitute the
    scaled activations ``C_i x_i`` in the quadratic form and divide by ``C_k^2``); the powers of two are exact.

    Examples
    --------
    >>> W = [np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[1.0, 1.0]])]
    >>> value, T = certified_solution(W)
    >>> again, _ = certified_solution(W, start=T, target=2.0)   # the given multipliers suffice: nothing solved
    >>> 2 ** 0.5 <= again < 2 ** 0.5 * (1 + 1e-6)
    True
    """
    weights = [np.asarray(w, dtype=np.float64) for w in weights]
    if not all(np.isfinite(w).all() for w in weights):
        return math.inf, None
    keep = inert_masks(weights)
    if keep is not None:  # units no Jacobian sees: solved without them (lipexact.bounds.sdp.inert)
        if constant(keep):
            return 0.0, [np.ones(mask.size) for mask in keep]
        value, multipliers = certified_solution(drop_units(weights, keep), solver, tol,
                                                restrict_multipliers(start, keep), target)
        return value, expand_multipliers(multipliers, keep)
    best, proven = math.inf, None
    if start is not None and all(np.isfinite(np.asarray(t, dtype=np.float64)).all() for t in start):
        try:
            cert = certified_rho(weights, start)
        except InvalidInputError:  # multipliers of another shape: only a hint, ignored
            cert = None
        if cert is not None and cert.proven:
            best, proven = cert.lipschitz, list(cert.multipliers)
            if target is not None and best <= target:
                return best, proven
    exponents = layer_exponents(weights)
    scaled, exponent = normalize_weights(weights, exponents)
    candidates = []
    finished = False
    if solver == "barrier":
        try:
            warm = None
            if start is not None and WARM_START:  # the start in the scaled network's coordinates
                try:
                    warm = rescale_multipliers(start, exponents, to_scaled=True)
                except (ValueError, IndexError, TypeError):
                    warm = None
            out = barrier_lipsdp(compress_input(scaled), tol=tol, target=scaled_goal(target, exponent), start=warm)
            candidates.append(out["multipliers"])
            finished = out["status"] in ("optimal", "target")
        except (ValueError, ArithmeticError, np.linalg.LinAlgError):
            pass
    if not finished:  # another solver, or the barrier method stalled (degenerate layers, e.g. a zero matrix)
        try:
            candidates.append(solve_lipsdp(scaled, "auto" if solver == "barrier" else solver)["multipliers"])
        except RuntimeError:
            pass
    fast = fast_start(scaled)
    if fast is not None:
        candidates.append(fast)
    for multipliers in candidates:
        if not all(np.isfinite(np.asarray(t, dtype=np.float64)).all() for t in multipliers):
            continue
        cert = certified_rho(scaled, multipliers)
        if cert.proven:
            value = math.ldexp(cert.lipschitz, exponent)
            if value < best:
                best, proven = value, rescale_multipliers(cert.multipliers, exponents, to_scaled=False)
    return best, proven


def lipsdp(model: Any, *, input_shape: Any = None, device: Any = None, dtype: Any = torch.float64, seed: int = 0,
           norm: Any = "2", solver: str = "auto", max_dim: int = DEFAULT_MAX_DIM, verbose: bool = False,
           **options: Any) -> LipschitzResult:
    """Certified LipSDP-neuron upper bound on the l2 Lipschitz constant of a ReLU MLP (any depth).

    Parameters
    ----------
    model : TwoLayerReLU, ReLUNetwork or torch.nn.Sequential
        A ReLU MLP (see :func:`lipexact.bounds.sdp.lmi.mlp_weights`); biases do not matter.
    input_shape : tuple of int, optional
        Checked against the first Linear layer when given.
    device, dtype, seed
        Accepted for the registry signature and validated; the SDP is solved in float64 on the CPU.
    norm : str or number
        Only ``2``.
    solver : {"auto", "clarabel", "scs", "barrier"}
        ``"auto"``: Clarabel up to an LMI side of :data:`CLARABEL_MAX_SIDE`, else the barrier method; each
        falls back to the other, then to SCS.
    max_dim : int
        Largest LMI side accepted (input plus hidden widths).
    verbose : bool
        Print the solver's log.

    Returns
    -------
    LipschitzResult
        ``Status.UPPER_BOUND`` with the certified value; ``stats`` hold the solver's own value
        (``solver_value``), the certificate facts and the solver used. ``Status.ERROR`` (value None) when
        no solver returned multipliers or none certified. Hidden units with an exactly zero row in or column out
        are removed before solving (:mod:`lipexact.bounds.sdp.inert`): ``certificate["removed_units"]`` lists them
        per hidden layer (None when there are none), and the multipliers are those of the network without them.

    Examples
    --------
    >>> from lipexact.network import TwoLayerReLU
    >>> result = lipsdp(TwoLayerReLU([[1, 0], [0, 1]], [[1, 1]]))   # f = relu(x1) + relu(x2): L = sqrt(2)
    >>> result.status.value, abs(result.value - 2 ** 0.5) < 1e-6, result.value >= 2 ** 0.5
    ('upper_bound', True, True)
    """
    start = time.perf_counter()
    solver = _check_request(norm, solver, max_dim, seed, dtype, device, options)
    weights = _check_model(model, input_shape, max_dim)
    sizes = [weights[0].shape[1]] + hidden_widths(weights) + [weights[-1].shape[0]]
    keep = inert_masks(weights)
    removed = None if keep is None else [np.flatnonzero(~mask).tolist() for mask in keep]
    if keep is not None and constant(keep):
        return LipschitzResult(
            Status.UPPER_BOUND, 0.0, "lipsdp", upper=0.0,
            message="every path from the input crosses a hidden layer whose units have a zero row in or a zero "
                    "column out: every Jacobian is zero (no SDP solved)",
            certificate={"removed_units": removed}, timings={"total": time.perf_counter() - start},
            stats={"sizes": sizes, "lmi_side": 0, "removed_units": removed, "solver": None,
                   "certificate": {"rho": 0.0, "proven": True, "reason": "every Jacobian is zero"}})
    if keep is not None:  # units no Jacobian sees (lipexact.bounds.sdp.inert): the certificate is for the rest
        weights = drop_units(weights, keep)
    scaled, exponent = normalize_weights(weights)
    timings = {"prepare": time.perf_counter() - start}
    base_stats = {"sizes": sizes, "lmi_side": weights[0].shape[1] + sum(hidden_widths(weights)),
                  "scale_exponent": exponent, "removed_units": removed}
    try:
        t0 = time.perf_counter()
        solved = solve_lipsdp(scaled, solver, verbose)
        timings["solve"] = time.perf_counter() - t0
    except RuntimeError as error:
        return LipschitzResult(Status.ERROR, None, "lipsdp", message=f"no SDP solver succeeded: {error}",
                               timings={**timings, "total": time.perf_counter() - start}, stats=base_stats)
    t0 = time.perf_counter()
    cert = certified_rho(scaled, solved["multipliers"])
    source = solved["solver"]
    fast = fast_start(scaled)  # a solver stopped short must not leave the bound above ECLipsE-Fast's
    if fast is not None:
        fast_cert = certified_rho(scaled, fast)
        if fast_cert.proven and (not cert.proven or fast_cert.value < cert.value):
            cert, source = fast_cert, "eclipse_fast"
    timings["certify"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - start
    solver_value = math.sqrt(max(solved["rho"], 0.0)) * 2.0 ** exponent
    stats = {**base_stats, "solver": solved["solver"], "solver_status": solved["status"],
             "solver_value": solver_value, "failed_solvers": [list(a) for a in solved["attempts"]],
             "certified_multipliers": source,
             "certificate": cert.as_dict()}
    if not cert.proven:
        return LipschitzResult(Status.ERROR, None, "lipsdp",
                               message=f"the {solved['solver']} multipliers did not certify: {cert.reason}",
                               timings=timings, stats=stats)
    value = math.ldexp(cert.lipschitz, exponent)  # exact scaling back by a power of two
    return LipschitzResult(
        Status.UPPER_BOUND, value, "lipsdp", upper=value,
        message=(f"LipSDP-neuron ({solved['solver']}; certified multipliers: {source}), certified by Rump's "
                 f"Cholesky test: sqrt(rho) with rho "
                 f"{cert.value / max(solved['rho'], 1e-300) - 1:+.2e} relative to the solver's"),
        certificate={"rho_normalized": cert.value, "scale_exponent": exponent,
                     "multiplier_scale": cert.scale, "multipliers": [t.tolist() for t in cert.multipliers],
                     "removed_units": removed},
        timings=timings, stats=stats)
