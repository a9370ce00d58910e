"""``pattern_sdp``: SDP relaxations of the activation-pattern problem of a two-layer ReLU network, certified.

For ``f(x) = W2 relu(W1 x + b1) + b2`` every Jacobian is ``J(s) = W2 diag(s) W1`` for the pattern ``s`` of a
non-empty region, so dropping realizability gives the upper bound ``L <= max_{s in {0,1}^h} ||W2 diag(s) W1||``
(DESIGN.md sections 1 and 7). This module relaxes that maximum and proves every number it reports.

Scalar output, l2 (the binary quadratic program)
    ``||sum_i s_i a_i||^2`` with ``a_i = w2_i W1_i``. With ``s = (1 + xi_0 xi_i) / 2`` and ``xi in {-1,1}^{h+1}``,
    ``sum_i s_i a_i = Z^T xi`` up to the sign ``xi_0``, ``Z = [sum_i a_i / 2; a_1 / 2; ...; a_h / 2]``, so the
    maximum is ``max_xi xi^T K xi`` with ``K = Z Z^T`` (the {0,1} program of DESIGN.md section 7 after the
    change of variables; on the Max-Cut networks it is the Goemans-Williamson / Delorme-Poljak bound).
    The general node of a search adds a fixed part ``c``: ``Z = [c + sum_i a_i / 2; a_i / 2]``
    (:func:`binary_norm_bound`).
Scalar output, ``norm="inf"`` (``||grad||_1``)
    ``max_{s, sigma in {-1,1}^n} sum_i s_i w2_i (W1 sigma)_i``: with ``s_i = (1 + xi_0 tau_i) / 2`` and
    ``sigma = xi_0 sigma'`` this is ``xi^T K xi`` over ``xi = (xi_0, tau, sigma') in {-1,1}^{1+h+n}`` for the
    symmetric ``K`` with blocks ``K[0, sigma'] = 1^T B / 4`` and ``K[tau, sigma'] = B / 4`` (``B = diag(w2) W1``).
Scalar output, ``norm="1"`` (``||grad||_inf``)
    ``max_s max_j |sum_i s_i B_ij| = max_j max(sum_i relu(B_ij), sum_i relu(-B_ij))``: the pattern maximum in
    closed form (no relaxation), rounded up.
Any output, l2 (a QCQP)
    ``||W2 diag(s) W1||_2^2 = max_{|v| = 1} ||W2 p||^2`` with ``p_i = s_i (W1 v)_i``, i.e. ``p_i^2 = p_i (W1 v)_i``
    for some pattern. For every ``lambda`` and every ``mu`` (any sign) with
    ``S(lambda, mu) = [[lambda I, -W1^T D(mu) / 2], [-D(mu) W1 / 2, D(mu) - W2^T W2]] >= 0``, each feasible
    ``(v, p)`` gives ``0 <= [v; p]^T S [v; p] = lambda - ||W2 p||^2 + sum_i mu_i (p_i^2 - p_i (W1 v)_i) =
    lambda - ||W2 p||^2``, so ``max_s ||W2 diag(s) W1||_2^2 <= lambda``. (This is LipSDP-neuron for one hidden
    layer with ``mu = 2T`` but with multipliers of either sign: the pattern equality ``p_i^2 = p_i z_i`` holds
    exactly, where LipSDP only uses the inequality ``p_i^2 <= p_i z_i``.) If only ``S >= l I`` with ``l < 0`` is
    proven, ``||W2 p||^2 <= lambda - l (1 + ||W1||_2^2)`` since ``|p| <= |W1 v|``.

Certification (every value)
    For ``{-1,1}`` programs, any ``y`` with ``Diag(y) - K >= l I`` gives ``xi^T K xi <= sum(y) - l N`` for every
    ``xi`` (weak duality in one line: ``xi^T (Diag(y) - K) xi >= l |xi|^2``). The solver proposes ``y``;
    :func:`certify_pm1_dual` proves ``l`` with :func:`lipexact.bounds.sdp.psd.certified_min_eigenvalue`
    (Rump's Cholesky test, the rounding of ``K`` and of the subtraction accounted for) and rounds the sum up.
    Weights are scaled by powers of two (exact) to unit size first; the products ``w2_i W1_i`` and the sums
    forming ``Z`` carry an explicit error bound added to the result. A solver that fails or returns nonsense
    only loses tightness (a diagonally dominant ``y`` is always available); a matrix that the Cholesky test
    cannot handle gives no bound (``inf``) and an ``ERROR`` result, never an unproven number.

Solvers: ``"ipm"`` (the default for ``{-1,1}`` programs; :mod:`lipexact.bounds.sdp.pm1_ipm`, milliseconds for
``h = 60``), ``"clarabel"`` (cvxpy + Clarabel, the default for the QCQP) and ``"scs"`` (cvxpy + SCS; first
order, less accurate: the certification absorbs its infeasibility). Which one proposed the multipliers does
not change the proof.

References
----------
Shor, N. Z. Quadratic optimization problems. Soviet Journal of Computer and Systems Sciences 25 (1987).
Goemans, M. X. and Williamson, D. P. Improved approximation algorithms for maximum cut and satisfiability
problems using semidefinite programming. J. ACM 42 (1995).
Fazlyab, M. et al. Efficient and accurate estimation of Lipschitz constants for deep neural networks.
NeurIPS 2019.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from lipexact.bounds.device import as_dtype, pick_device
from lipexact.bounds.errors import NotApplicableError
from lipexact.bounds.sdp.pm1_ipm import solve_pm1_dual
from lipexact.bounds.sdp.psd import UNIT_ROUNDOFF, certified_min_eigenvalue, gamma, upper
from lipexact.network import TwoLayerReLU
from lipexact.norms import parse_norm
from lipexact.result import LipschitzResult, Status
from lipexact.threads import small_blas
from reductions.validation import require

__all__ = ["SOLVERS", "PatternBound", "certify_pm1_dual", "pm1_quadratic_bound", "binary_norm_bound",
           "qcqp_bound", "pattern_sdp", "validate_pattern_sdp", "as_two_layer"]

SOLVERS = ("auto", "ipm", "clarabel", "scs")
#: Largest QCQP matrix (``n + h`` rows) solved through cvxpy by default (larger ones are refused).
QCQP_MAX_SIZE = 400
#: Absolute allowance for underflow in forming the data (after scaling to unit size).
_TINY = 2.0 ** -1000


@dataclass(frozen=True)
class PatternBound:
    """A proven bound and how it was obtained.

    Attributes
    ----------
    value : float
        The proven upper bound (``inf`` when nothing could be proven).
    proven : bool
    relaxation : str
        ``"pm1"`` (Shor on {-1,1}), ``"qcqp"`` (vector form) or ``"closed_form"``.
    details : dict
        Solver, iterations, the uncertified solver value, the certified eigenvalue deficit, timings.
    """

    value: float
    proven: bool
    relaxation: str
    details: dict = field(default_factory=dict)


def _power_of_two_scale(*arrays: np.ndarray) -> int:
    """``e`` such that ``2^-e`` times the arrays has its largest entry in ``[1/2, 1)`` (0 for all zeros)."""
    largest = max((float(np.max(np.abs(a))) if a.size else 0.0) for a in arrays)
    return 0 if largest == 0.0 else math.frexp(largest)[1]


def _symmetric(M: np.ndarray) -> np.ndarray:
    """The upper triangle mirrored: exactly symmetric, each entry one of the computed ones."""
    upper_part = np.triu(M)
    return upper_part + np.triu(M, 1).T


def certify_pm1_dual(K: np.ndarray, y: np.ndarray, error: float = 0.0) -> tuple[float, float]:
    """A proven upper bound on ``max_{xi in {-1,1}^N} xi^T K' xi`` for every symmetric ``K'`` within ``error``
    (spectral norm) of ``K``, from the dual point ``y``; returns ``(bound, deficit)``.

    ``bound = sum(y) + N deficit`` rounded up, where ``deficit = max(0, -l)`` and ``l`` is the proven lower bound
    on ``lambda_min(Diag(y) - K')`` (see the module docstring). ``inf`` when nothing is proven (non-finite
    ``y``, or a failed Cholesky test).

    Examples
    --------
    >>> K = np.array([[1.0, 1.0], [1.0, 1.0]])          # max over {-1,1}^2: 4, at xi = (1, 1)
    >>> bound, deficit = certify_pm1_dual(K, np.array([2.0, 2.0]))
    >>> 4.0 <= bound < 4.0 + 1e-12, deficit < 1e-12
    (True, True)
    >>> certify_pm1_dual(K, np.array([1.0, 1.0]))[0] >= 4.0   # an infeasible y is corrected, never trusted
    True
    """
    K = np.asarray(K, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    N = K.shape[0]
    require(K.shape == (N, N) and y.shape == (N,), "y", f"a vector of length {N}", f"shape {y.shape}")
    if N == 0:
        return 0.0, 0.0
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(K)) and math.isfinite(error)):
        return math.inf, math.inf
    S = _symmetric(np.diag(y) - K)
    # the subtraction on the diagonal: one rounding per entry
    subtraction = upper(UNIT_ROUNDOFF * float(np.max(np.abs(y) + np.abs(np.diag(K)))), 2)
    lowest = certified_min_eigenvalue(S, error=upper(error + subtraction, 1))
    if not math.isfinite(lowest):
        return math.inf, math.inf
    deficit = max(0.0, -lowest)
    total = math.fsum(y.tolist())
    bound = float(np.nextafter(total, math.inf))
    if deficit > 0:
        bound = upper(bound + upper(N * deficit, 1), 1) if bound >= 0 else float(
            np.nextafter(bound + upper(N * deficit, 1), math.inf))
    return bound, deficit


def _solver_words(details: dict) -> str:
    """The solver that proposed the certified dual point, naming a fallback where the requested one failed."""
    solver, fallback = details.get("solver"), details.get("fallback")
    if fallback is None:
        return str(solver)
    return f"{solver} failed or is not installed; dual point from the {fallback} fallback"


def _solve_cvxpy_pm1(K: np.ndarray, solver: str) -> np.ndarray | None:
    import cvxpy as cp

    N = K.shape[0]
    y = cp.Variable(N)
    problem = cp.Problem(cp.Minimize(cp.sum(y)), [cp.diag(y) - K >> 0])
    try:
        problem.solve(solver=solver.upper())
    except (cp.error.SolverError, ValueError, ArithmeticError):
        return None
    return None if y.value is None else np.asarray(y.value, dtype=np.float64)


def pm1_quadratic_bound(K: np.ndarray, error: float = 0.0, solver: str = "ipm", target: float | None = None,
                        tolerance: float = 1e-9) -> PatternBound:
    """Proven bound on ``max_{xi in {-1,1}^N} xi^T K' xi`` for every ``K'`` within ``error`` of ``K`` (Shor).

    Parameters
    ----------
    K : ndarray, shape (N, N)
        Symmetric.
    error : float
        Spectral-norm distance allowed between ``K`` and the true matrix.
    solver : {"ipm", "clarabel", "scs"}
        Who proposes the dual ``y`` (falls back to SCS, then to a diagonally dominant ``y``).
    target : float, optional
        The IPM may stop once ``sum(y) <= target`` (only a bound below the target is needed).
    tolerance : float
        Relative duality gap of the IPM.

    Examples
    --------
    >>> L = np.array([[2.0, -1, -1], [-1, 2, -1], [-1, -1, 2]])   # triangle: max cut 2, Shor 9/4
    >>> result = pm1_quadratic_bound(L / 4)
    >>> result.proven, 2.25 <= result.value < 2.25 + 1e-8
    (True, True)
    """
    require(solver in ("ipm", "clarabel", "scs"), "solver", "one of ipm, clarabel, scs", repr(solver))
    with small_blas():  # many small dense operations: one BLAS thread (100x faster on a busy machine, measured)
        return _pm1_quadratic_bound(K, error, solver, target, tolerance)


def _pm1_quadratic_bound(K: np.ndarray, error: float, solver: str, target: float | None,
                         tolerance: float) -> PatternBound:
    K = _symmetric(np.asarray(K, dtype=np.float64))
    N = K.shape[0]
    start = time.perf_counter()
    details: dict[str, Any] = {"solver": solver, "size": N}
    y = None
    if N and solver == "ipm":
        y, info = solve_pm1_dual(K, tolerance=tolerance, target=target)
        details.update(iterations=info["iterations"], stopped=info["stopped"], gap=info.get("gap"))
    elif N:
        y = _solve_cvxpy_pm1(K, solver)
        if y is None and solver != "scs":
            details["fallback"] = "scs"
            y = _solve_cvxpy_pm1(K, "scs")
    if y is None or not np.all(np.isfinite(y)):
        details["fallback"] = "diagonal dominance"
        y = np.abs(K).sum(axis=1)
    details["solve_seconds"] = time.perf_counter() - start
    details["solver_value"] = float(np.sum(y))
    bound, deficit = certify_pm1_dual(K, y, error)
    details.update(deficit=deficit, seconds=time.perf_counter() - start)
    return PatternBound(bound, math.isfinite(bound), "pm1", details)


def binary_norm_bound(c: np.ndarray, rows: np.ndarray, solver: str = "ipm", target: float | None = None,
                      tolerance: float = 1e-9) -> PatternBound:
    """Proven bound on ``max_{t in {0,1}^k} ||c + rows^T t||_2`` (float data taken as exact).

    ``target`` (a value of the norm, not its square) lets the solver stop once it can prove the bound below it.

    Examples
    --------
    >>> rows = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])   # the maximum, t = (1, 1, 1), is 2 sqrt(2)
    >>> result = binary_norm_bound(np.zeros(2), rows)
    >>> 2 * 2 ** 0.5 <= result.value < 2 * 2 ** 0.5 * (1 + 1e-8)
    True
    """
    c = np.asarray(c, dtype=np.float64).reshape(-1)
    rows = np.asarray(rows, dtype=np.float64).reshape(-1, c.size)
    rows = rows[np.any(rows != 0, axis=1)]
    k = rows.shape[0]
    if k == 0:  # one completion: its norm, rounded up (exactly 0 for c = 0)
        norm = float(np.linalg.norm(c))
        return PatternBound(upper(norm, 2 * c.size + 2) if norm > 0 else 0.0, True, "pm1", {"solver": "none", "size": 1})
    exponent = _power_of_two_scale(c, rows)
    c_scaled, rows_scaled = np.ldexp(c, -exponent), np.ldexp(rows, -exponent)
    head = c_scaled + 0.5 * rows_scaled.sum(axis=0)
    Z = np.vstack([head, 0.5 * rows_scaled])
    # error of the computed head (a sum of k + 1 terms per entry) and of halving (underflow only)
    head_error = gamma(k + 2) * math.sqrt(float(np.sum((np.abs(c_scaled) + 0.5 * np.abs(rows_scaled).sum(axis=0)) ** 2)))
    head_error = upper(head_error + _TINY * (k + 2) * math.sqrt(c.size), 2)
    K = Z @ Z.T
    gram_error = upper(gamma(Z.shape[1] + 1) * upper(float(np.sum(Z * Z)), Z.size + 1), 2)
    scaled_target = None if target is None or not math.isfinite(target) or target <= 0 else max(
        0.0, math.ldexp(target, -exponent) - head_error) ** 2
    result = pm1_quadratic_bound(K, gram_error, solver=solver, target=scaled_target, tolerance=tolerance)
    if not result.proven:
        return result
    value = upper(math.sqrt(result.value), 1) + head_error
    value = math.ldexp(upper(value, 1), exponent)
    return PatternBound(value, True, "pm1", {**result.details, "scale_exponent": exponent, "head_error": head_error})


def _qcqp_matrix(W1: np.ndarray, W2: np.ndarray, lam: float, mu: np.ndarray) -> np.ndarray:
    n, h = W1.shape[1], W1.shape[0]
    S = np.zeros((n + h, n + h))
    S[np.arange(n), np.arange(n)] = lam
    off = -0.5 * mu[:, None] * W1  # (h, n)
    S[n:, :n] = off
    S[:n, n:] = off.T
    S[n:, n:] = np.diag(mu) - W2.T @ W2
    return _symmetric(S)


def _solve_cvxpy_qcqp(W1: np.ndarray, W2: np.ndarray, solver: str) -> tuple[float, np.ndarray] | None:
    import cvxpy as cp

    h, n = W1.shape
    lam = cp.Variable()
    mu = cp.Variable(h)
    G = W2.T @ W2
    off = -0.5 * cp.multiply(cp.reshape(mu, (h, 1), order="F") @ np.ones((1, n)), W1)
    S = cp.bmat([[lam * np.eye(n), off.T], [off, cp.diag(mu) - G]])
    problem = cp.Problem(cp.Minimize(lam), [0.5 * (S + S.T) >> 0])
    try:
        problem.solve(solver=solver.upper())
    except (cp.error.SolverError, ValueError, ArithmeticError):
        return None
    if lam.value is None or mu.value is None:
        return None
    return float(lam.value), np.asarray(mu.value, dtype=np.float64)


def _schur_lambda(W1: np.ndarray, W2: np.ndarray, mu: np.ndarray) -> float:
    """The smallest ``lambda`` with ``S(lambda, mu) >= 0`` in floating point (Schur complement on the
    ``D(mu) - W2^T W2`` block), ``inf`` when that block is not positive definite: a proposal that the certificate
    checks, sharper than an interior-point solver's own ``lambda``."""
    block = np.diag(mu) - W2.T @ W2
    try:
        factor = np.linalg.cholesky(block)
    except np.linalg.LinAlgError:
        return math.inf
    import scipy.linalg

    Y = scipy.linalg.solve_triangular(factor, 0.5 * mu[:, None] * W1, lower=True, check_finite=False)
    value = float(np.linalg.eigvalsh(Y.T @ Y)[-1]) if Y.size else 0.0
    return max(value, 0.0) * (1.0 + 1e-12) if math.isfinite(value) else math.inf


def certify_qcqp(W1: np.ndarray, W2: np.ndarray, lam: float, mu: np.ndarray) -> tuple[float, float]:
    """Proven bound on ``max_{s in {0,1}^h} ||W2 diag(s) W1||_2^2`` (float weights exact) from ``(lambda, mu)``;
    returns ``(bound, deficit)`` (see the module docstring; ``inf`` when nothing is proven).

    Examples
    --------
    >>> W1, W2 = np.array([[3.0]]), np.array([[2.0]])     # f = 2 relu(3 x): the maximum of ||J||^2 is 36
    >>> bound, _ = certify_qcqp(W1, W2, 36.0, np.array([8.0]))   # S = [[36, -12], [-12, 4]] is singular PSD
    >>> 36.0 <= bound < 36.0 + 1e-9
    True
    >>> certify_qcqp(W1, W2, 30.0, np.array([8.0]))[0] >= 36.0    # a bad lambda is corrected, never trusted
    True
    """
    W1 = np.asarray(W1, dtype=np.float64)
    W2 = np.asarray(W2, dtype=np.float64)
    mu = np.asarray(mu, dtype=np.float64).reshape(-1)
    if not (math.isfinite(lam) and np.all(np.isfinite(mu))):
        return math.inf, math.inf
    m = W2.shape[0]
    S = _qcqp_matrix(W1, W2, float(lam), mu)
    # formation errors: one product per off-diagonal entry, a length-m dot product and a subtraction below
    off_error = upper(UNIT_ROUNDOFF * math.sqrt(2.0 * float(np.sum((0.5 * np.abs(mu)[:, None] * np.abs(W1)) ** 2))),
                      W1.size + 3)
    block_error = upper(gamma(m + 1) * (upper(float(np.sum(W2 * W2)), W2.size + 1) + float(np.max(np.abs(mu), initial=0.0))), 3)
    size = S.shape[0]
    error = upper(off_error + block_error + _TINY * size * size, 2)
    lowest = certified_min_eigenvalue(S, error=error)
    if not math.isfinite(lowest):
        return math.inf, math.inf
    deficit = max(0.0, -lowest)
    beta = upper(float(np.sum(W1 * W1)), W1.size + 1)
    bound = float(np.nextafter(float(lam), math.inf)) if lam >= 0 else 0.0
    if deficit > 0:
        bound = upper(bound + upper(deficit * (1.0 + beta), 2), 1)
    return bound, deficit


def qcqp_bound(W1: np.ndarray, W2: np.ndarray, solver: str = "clarabel") -> PatternBound:
    """Proven bound on ``max_{s in {0,1}^h} ||W2 diag(s) W1||_2`` from the QCQP relaxation (any output size).

    Examples
    --------
    >>> W1 = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> W2 = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, -1.0]])
    >>> brute = max(np.linalg.norm(W2 @ np.diag(s) @ W1, 2) for s in np.ndindex(2, 2, 2))
    >>> result = qcqp_bound(W1, W2)
    >>> result.proven, bool(brute <= result.value)
    (True, True)
    """
    require(solver in ("clarabel", "scs"), "solver", "clarabel or scs for the QCQP relaxation", repr(solver))
    W1 = np.asarray(W1, dtype=np.float64)
    W2 = np.asarray(W2, dtype=np.float64)
    if not (np.any(W1 != 0) and np.any(W2 != 0)):  # every Jacobian is exactly zero
        return PatternBound(0.0, True, "qcqp", {"solver": "none", "size": W1.shape[0] + W1.shape[1]})
    start = time.perf_counter()
    a, b = _power_of_two_scale(W1), _power_of_two_scale(W2)
    V1, V2 = np.ldexp(W1, -a), np.ldexp(W2, -b)
    details: dict[str, Any] = {"solver": solver, "size": V1.shape[0] + V1.shape[1]}
    solved = _solve_cvxpy_qcqp(V1, V2, solver)
    if solved is None and solver != "scs":
        details["fallback"] = "scs"
        solved = _solve_cvxpy_qcqp(V1, V2, "scs")
    if solved is None:  # always feasible: mu_i = 2 lambda_max-ish is not guaranteed; use the triangle-type point
        details["fallback"] = "diagonal"
        G = V2.T @ V2
        mu = np.abs(G).sum(axis=1) * 2.0 + 1.0
        lam = float(np.sum(mu * mu * np.sum(V1 * V1, axis=1))) / 4.0 + 1.0
        solved = (lam, mu)
    lam, mu = solved
    details["solver_value"] = lam
    lam = min(lam, _schur_lambda(V1, V2, mu))
    details["solve_seconds"] = time.perf_counter() - start
    bound, deficit = certify_qcqp(V1, V2, lam, mu)
    details.update(deficit=deficit, seconds=time.perf_counter() - start, scale_exponents=[a, b])
    if not math.isfinite(bound):
        return PatternBound(math.inf, False, "qcqp", details)
    value = math.ldexp(upper(math.sqrt(bound), 1), a + b)
    return PatternBound(value, True, "qcqp", details)


def _scalar_rows(net: TwoLayerReLU) -> tuple[np.ndarray, float]:
    """Rows ``a_i = w2_i W1_i`` (scaled by a power of two) and the bound on their total rounding error."""
    W1 = np.asarray(net.W1, dtype=np.float64)
    w2 = np.asarray(net.W2, dtype=np.float64).reshape(-1)
    rows = w2[:, None] * W1
    error = upper(UNIT_ROUNDOFF * float(np.sum(np.sqrt(np.sum(rows * rows, axis=1)))), rows.size + 2)
    nonzero = rows[rows != 0]
    underflow = bool(np.any((rows == 0) & (w2[:, None] != 0) & (W1 != 0))) or bool(
        np.any(np.abs(nonzero) < 2.0 ** -1021))
    return rows, upper(error + _TINY * rows.size, 1) if underflow else error


def inf_norm_bound(net: TwoLayerReLU, solver: str = "ipm") -> PatternBound:
    """Proven bound on ``max_s ||W1^T diag(s) w2||_1`` (scalar output, ``norm="inf"``; module docstring).

    Examples
    --------
    >>> net = TwoLayerReLU([[1.0, 1.0], [1.0, -1.0]], [[1.0, 1.0]])
    >>> brute = max(np.abs(np.array(s) @ np.array([[1.0, 1.0], [1.0, -1.0]])).sum() for s in np.ndindex(2, 2))
    >>> result = inf_norm_bound(net)
    >>> result.proven, bool(brute <= result.value)
    (True, True)
    """
    W1 = np.asarray(net.W1, dtype=np.float64)
    w2 = np.asarray(net.W2, dtype=np.float64).reshape(-1)
    h, n = W1.shape
    a, b = _power_of_two_scale(W1), _power_of_two_scale(w2)
    B = np.ldexp(w2, -b)[:, None] * np.ldexp(W1, -a)
    N = 1 + h + n
    K = np.zeros((N, N))
    K[0, 1 + h:] = 0.25 * B.sum(axis=0)
    K[1:1 + h, 1 + h:] = 0.25 * B
    K = K + K.T
    # entry errors: products (u |B|) and column sums (gamma_h of the absolute sums); spectral <= Frobenius
    entry = np.zeros((N, N))
    entry[0, 1 + h:] = 0.25 * (gamma(h + 1) * np.abs(B).sum(axis=0) + UNIT_ROUNDOFF * np.abs(B).sum(axis=0))
    entry[1:1 + h, 1 + h:] = 0.25 * UNIT_ROUNDOFF * np.abs(B)
    error = upper(math.sqrt(2.0 * float(np.sum(entry * entry))), entry.size + 2) + _TINY * N
    result = pm1_quadratic_bound(K, error, solver=solver)
    if not result.proven:
        return result
    value = math.ldexp(upper(max(result.value, 0.0), 1), a + b)
    return PatternBound(value, True, "pm1", {**result.details, "scale_exponents": [a, b]})


def one_norm_value(net: TwoLayerReLU) -> PatternBound:
    """``max_s ||W1^T diag(s) w2||_inf`` in closed form, rounded up (scalar output, ``norm="1"``).

    Examples
    --------
    >>> one_norm_value(TwoLayerReLU([[1.0, 2.0], [3.0, -1.0]], [[1.0, -1.0]])).value >= 3.0   # column 1: 2 + 1
    True
    """
    W1 = np.asarray(net.W1, dtype=np.float64)
    w2 = np.asarray(net.W2, dtype=np.float64).reshape(-1)
    B = w2[:, None] * W1
    h = B.shape[0]
    largest = max(float(np.max(np.maximum(B, 0.0).sum(axis=0), initial=0.0)),
                  float(np.max(np.maximum(-B, 0.0).sum(axis=0), initial=0.0)))
    return PatternBound(upper(largest, h + 2), True, "closed_form", {"solver": "closed form"})


def as_two_layer(model: Any) -> TwoLayerReLU:
    """``model`` as a :class:`~lipexact.network.TwoLayerReLU`.

    Anything else than a two-layer ReLU network raises :class:`~lipexact.bounds.errors.NotApplicableError`
    naming ``model``.

    Examples
    --------
    >>> as_two_layer(TwoLayerReLU([[1.0]], [[2.0]])).n_hidden
    1
    """
    if isinstance(model, TwoLayerReLU):
        return model
    try:
        return TwoLayerReLU.from_torch(model)
    except Exception as error:  # noqa: BLE001 - not an nn.Sequential(Linear, ReLU, Linear): try its fx chain
        reason = error
    if isinstance(model, torch.nn.Module):
        from lipexact.bounds.chain import as_sequential

        try:
            sequential = as_sequential(model)
            if sequential is not None:
                return TwoLayerReLU.from_torch(sequential)
        except Exception as error:  # noqa: BLE001 - any failure means: not a two-layer ReLU chain
            reason = error
    raise NotApplicableError("model", "a two-layer ReLU network (TwoLayerReLU, or a module whose torch.fx graph "
                             "is Linear, ReLU, Linear)", f"{type(model).__name__}: {reason}")


def _check_options(net: TwoLayerReLU, norm: Any, solver: Any, max_size: Any) -> str:
    norm = parse_norm(norm)
    require(solver in SOLVERS, "solver", f"one of {', '.join(SOLVERS)}", repr(solver))
    require(isinstance(max_size, int) and not isinstance(max_size, bool) and max_size >= 1, "max_size",
            "a positive integer", repr(max_size))
    if net.n_outputs != 1:
        if norm != "2":
            raise NotApplicableError("norm", '"2" (the only norm supported for vector outputs)', repr(norm))
        require(solver != "ipm", "solver", "clarabel, scs or auto for vector outputs", repr(solver))
        size = net.n_inputs + net.n_hidden
        if size > max_size:
            raise NotApplicableError("model", f"n + h <= max_size = {max_size} for the vector-output SDP",
                                     f"n + h = {size}")
    elif norm == "inf":
        size = 1 + net.n_inputs + net.n_hidden
        if size > max(max_size, net.n_hidden + 1):
            raise NotApplicableError("model", f"1 + n + h <= max_size = {max_size} for the l_inf SDP", f"{size}")
    return norm


def validate_pattern_sdp(model: Any, input_shape: Any = None, *, device: Any = None, dtype: Any = torch.float64,
                         seed: int = 0, norm: Any = "2", solver: str = "auto", max_size: int = QCQP_MAX_SIZE) -> None:
    """Raise what :func:`pattern_sdp` raises for bad input, without solving anything.

    Examples
    --------
    >>> validate_pattern_sdp(TwoLayerReLU([[1.0]], [[2.0], [1.0]]), norm="inf")
    Traceback (most recent call last):
    ...
    lipexact.bounds.errors.NotApplicableError: norm: expected "2" (the only norm supported for vector outputs), got 'inf'
    """
    require(isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0, "seed", "a non-negative integer",
            repr(seed))
    pick_device(device)
    as_dtype(dtype)
    net = as_two_layer(model)
    if input_shape is not None:
        require(tuple(input_shape) == (net.n_inputs,), "input_shape", f"({net.n_inputs},)", repr(input_shape))
    _check_options(net, norm, solver, max_size)


def pattern_sdp(model: Any, input_shape: Any = None, *, device: Any = None, dtype: Any = torch.float64, seed: int = 0,
                norm: Any = "2", solver: str = "auto", max_size: int = QCQP_MAX_SIZE) -> LipschitzResult:
    """Proven upper bound on the Lipschitz constant of a two-layer ReLU network from the pattern SDP.

    Parameters
    ----------
    model : TwoLayerReLU or nn.Sequential(Linear, ReLU, Linear)
    input_shape, device, dtype, seed
        Checked like every registered method's; the computation itself is float64 numpy on the CPU (the
        certificate is a float64 argument) and deterministic.
    norm : {"2", "1", "inf"}
        ``"2"`` for any output size; ``"1"`` and ``"inf"`` for scalar outputs only.
    solver : {"auto", "ipm", "clarabel", "scs"}
        ``"auto"``: the IPM for {-1,1} programs, Clarabel for the vector-output QCQP.
    max_size : int
        Largest SDP matrix of the vector-output relaxation (``n + h``) and of the l_inf one (``1 + n + h``).

    Returns
    -------
    LipschitzResult
        ``Status.UPPER_BOUND`` with the proven value; ``ERROR`` when the certification failed.
        ``certificate`` records the relaxation, the solver's uncertified value and the eigenvalue deficit.

    Examples
    --------
    >>> net = TwoLayerReLU([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], [[1.0, 1.0, -1.0]], b1=[0.0, 0.0, -1.0])
    >>> result = pattern_sdp(net)
    >>> result.status.value, 1.414 < result.value < 1.42
    ('upper_bound', True)
    """
    start = time.perf_counter()
    validate_pattern_sdp(model, input_shape, device=device, dtype=dtype, seed=seed, norm=norm, solver=solver,
                         max_size=max_size)
    net = as_two_layer(model)
    norm = parse_norm(norm)
    if net.n_outputs == 1 and norm == "1":
        bound = one_norm_value(net)
    elif net.n_outputs == 1 and norm == "inf":
        bound = inf_norm_bound(net, "ipm" if solver == "auto" else solver)
    elif net.n_outputs == 1:
        rows, data_error = _scalar_rows(net)
        bound = binary_norm_bound(np.zeros(net.n_inputs), rows, "ipm" if solver == "auto" else solver)
        if bound.proven:
            bound = PatternBound(upper(bound.value + data_error, 1), True, bound.relaxation,
                                 {**bound.details, "data_error": data_error})
    else:
        bound = qcqp_bound(net.W1, net.W2, "clarabel" if solver == "auto" else solver)
    elapsed = time.perf_counter() - start
    certificate = {"relaxation": bound.relaxation, "proof": "weak duality of the Shor relaxation, dual point "
                   "certified by a verified Cholesky test (lipexact.bounds.sdp.psd)" if bound.relaxation != "closed_form"
                   else "closed-form maximum over all patterns, rounded up",
                   **{k: v for k, v in bound.details.items() if isinstance(v, (int, float, str, list)) or v is None}}
    if not bound.proven:
        return LipschitzResult(Status.ERROR, None, "pattern_sdp", norm=norm, certificate=certificate,
                               message="the SDP dual point could not be certified", timings={"total": elapsed})
    return LipschitzResult(Status.UPPER_BOUND, bound.value, "pattern_sdp", upper=bound.value, norm=norm,
                           message=f"pattern SDP ({bound.relaxation}, {_solver_words(bound.details)}) over all "
                                   f"2^{net.n_hidden} patterns, certified",
                           certificate=certificate, timings={"total": elapsed},
                           stats={"hidden": net.n_hidden, "size": bound.details.get("size")})
