"""ECLipsE and ECLipsE-Fast: LipSDP-neuron multipliers chosen layer by layer, certified bounds for deep MLPs.

For a ReLU MLP ``f = W_k relu(W_{k-1} ... relu(W_1 x))`` the LipSDP-neuron matrix ``M(T, rho)`` of
:mod:`lipexact.bounds.sdp.lmi` is block tridiagonal. Eliminating its blocks from the input side (Xu &
Sivaranjani 2024, the sequential form of LipSDP-neuron), ``-M(rho T', rho) >= 0`` for ``rho > 0`` holds exactly
when, with ``X_0 = I``,

    X_i = 2 T'_i - T'_i W_i X_{i-1}^{-1} W_i^T T'_i  is positive definite (i = 1, ..., k-1)  and
    rho >= lambda_max(W_k X_{k-1}^{-1} W_k^T).

(``-M(rho T', rho) = rho (...)`` and the Schur complements of the scaled matrix are the ``X_i``; the paper
writes ``Lambda_i = 2 T'_i``.) Both variants choose the ``T'_i`` one layer at a time, each from the previous
``X_{i-1}`` only, so the work is a sequence of small problems instead of one SDP of side
``n_0 + ... + n_{k-1}``:

- **ECLipsE-Fast** (closed form): ``T'_i = I / s_i`` with ``s_i = lambda_max(W_i X_{i-1}^{-1} W_i^T)``, the
  multiple of the identity that maximizes ``lambda_min(X_i)`` (then ``X_i >= I / s_i``).
- **ECLipsE** (one small SDP per layer): ``T'_i`` diagonal maximizing ``c_i`` subject to
  ``X_i >= c_i W_{i+1}^T W_{i+1}`` (the next layer's weights steer the choice), written as the LMI
  ``[[2 T - c W_{i+1}^T W_{i+1}, T F], [F^T T, I]] >= 0`` with ``F F^T = W_i X_{i-1}^{-1} W_i^T``, solved on
  its ``n_i x n_i`` Schur form by the barrier method of :mod:`lipexact.bounds.sdp.eclipse_stage` (a conic
  interior-point solver would build a Newton system dense over the LMI's ``~n_i^2`` entries). The stage's
  ``T`` is moved a relative ``2^-20`` towards the Fast multiplier of the same layer: ``T -> X(T)`` is
  matrix-concave, so the stage value stays at least ``(1 - 2^-20)`` times the solver's and at least the Fast
  multiplier's, and ``X_i`` stays safely positive definite.

Orders (exact arithmetic). Any ``T' > 0`` with every ``X_i`` positive definite is a point of the LipSDP-neuron
SDP, so ``L2(f) <= LipSDP <= ECLipsE`` and ``<= ECLipsE-Fast``. Both are at most the product of the spectral
norms (AutoLip): by induction ``X_i >= I / (prod_{j<=i} ||W_j||^2)`` for Fast, and ECLipsE's stage optimum is
at least the value of ``T' = c_{i-1} I``, which gives ``c_i >= c_{i-1} / ||W_{i+1}||^2`` (so is the Fast
multiplier's, hence the mixed one's). With one hidden layer
ECLipsE's single stage is the LipSDP-neuron SDP itself (``ECLipsE = LipSDP <= ECLipsE-Fast``); deeper, the two
variants are not ordered in general (each stage of ECLipsE is greedy).

Certification. The estimate ``sqrt(lambda_max(...))`` is never reported: the multipliers ``T = tau T'`` (``tau``
a hair above the estimate) go to a certifier that finds the smallest ``rho`` for these ``T`` and PROVES
``M(T, rho) <= 0`` in floating point for the ``rho`` it reports. That ``rho`` may lie below the estimate: ECLipsE
ties ``rho`` to the scale of ``T`` (``X_0 = I``), while for fixed ``T`` the first block's influence fades with
depth (measured on random width-100 nets: about 0.3% lower in ``L`` at depth 10, 23% at depth 50; the full and
the layer-wise certifier agree to 5e-9 there). The certifiers: :func:`lipexact.bounds.sdp.certify.certified_rho`
(the whole matrix) when the LMI side is at most ``full_max_side``, else
:func:`lipexact.bounds.sdp.layerwise_certify.certified_rho_layerwise` (one block per layer, linear in depth:
1.1 s against 54 s for the whole matrix at depth 50, width 100; ``certifier=`` forces either). Weights are
first scaled by powers of two (exact) to norms about 1, and the certified value is scaled back exactly.

References
----------
Y. Xu and S. Sivaranjani. ECLipsE: Efficient compositional Lipschitz constant estimation for deep neural
networks. NeurIPS 2024.
M. Fazlyab, A. Robey, H. Hassani, M. Morari, G. Pappas. Efficient and accurate estimation of Lipschitz
constants for deep neural networks. NeurIPS 2019.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import scipy.linalg
import torch

from lipexact.bounds.device import as_dtype, pick_device
from lipexact.bounds.sdp.certify import certified_rho
from lipexact.bounds.sdp.eclipse_stage import solve_stage
from lipexact.bounds.sdp.layerwise_certify import certified_rho_layerwise
from lipexact.bounds.sdp.lmi import check_weights, checked_mlp_weights, hidden_widths
from lipexact.norms import parse_norm
from lipexact.result import LipschitzResult, Status
from reductions.validation import InvalidInputError, require

__all__ = ["eclipse", "eclipse_fast", "validate_eclipse", "validate_eclipse_fast", "fast_multipliers",
           "fast_start", "eclipse_multipliers", "LayerwiseProposal", "CERTIFIERS", "DEFAULT_FULL_MAX_SIDE", "MIX"]

#: Certifier choices: ``"auto"`` (full matrix up to ``full_max_side``, else layer-wise), ``"full"``, ``"layerwise"``.
CERTIFIERS = ("auto", "full", "layerwise")
#: Largest LMI side certified on the whole matrix by default (a dense Cholesky of that side per test).
DEFAULT_FULL_MAX_SIDE = 1500
#: Fraction of the Fast multiplier mixed into each ECLipsE stage solution (see the module docstring).
MIX = 2.0 ** -20
#: Relative step of ``tau`` above the estimate (the multipliers handed to the certifier are ``tau T'``).
_TAU_STEP = 2.0 ** -26


@dataclass
class LayerwiseProposal:
    """Multipliers proposed layer by layer, before any certification.

    Attributes
    ----------
    multipliers : list of ndarray
        ``T'_1..T'_{k-1}`` (diagonals), normalized so that ``X_0 = I``: ``M(tau T', tau)`` is (numerically)
        singular at ``tau = rho``.
    rho : float
        The floating-point estimate ``lambda_max(W_k X_{k-1}^{-1} W_k^T)`` (not a proof).
    stage_values : list of float
        Fast: ``s_i``; ECLipsE: the stage optimum ``c_i`` (each relative to the normalized ``X_{i-1}``).
    fallbacks : list of int
        Layers (1-based) where the SDP failed and the Fast multiplier was used instead.
    solver : str
        ``"closed form"`` or the stage solver and its Newton steps.
    """

    multipliers: list
    rho: float
    stage_values: list = field(default_factory=list)
    fallbacks: list = field(default_factory=list)
    solver: str = "closed form"


def _normalize(weights: Sequence[np.ndarray]) -> tuple[list[np.ndarray], int]:
    """Each layer times a power of two (exact) so that its Frobenius norm is in ``[1/2, 1)``; returns the
    scaled weights and the exponent ``e`` with ``L(weights) = 2^e L(scaled)``."""
    scaled, total = [], 0
    for w in weights:
        norm = float(np.linalg.norm(w))
        exponent = math.frexp(norm)[1] if norm > 0 else 0
        scaled.append(np.ldexp(w, -exponent))
        total += exponent
    return scaled, total


def _inverse_factor(X: np.ndarray, W: np.ndarray) -> np.ndarray | None:
    """``H = L^{-1} W^T`` with ``X = L L^T``, so that ``W X^{-1} W^T = H^T H``; None when ``X`` fails Cholesky."""
    try:
        L = np.linalg.cholesky((X + X.T) / 2)
    except np.linalg.LinAlgError:
        return None
    return scipy.linalg.solve_triangular(L, W.T, lower=True, check_finite=False)


def _next_state(X: np.ndarray, t: np.ndarray, K: np.ndarray, shift: int) -> tuple[np.ndarray, int]:
    """``X_i = 2 T - T K T`` rescaled by a power of two (diagonal about 1); ``shift`` tracks the exponent."""
    Xi = -(t[:, None] * K * t[None, :])
    Xi[np.diag_indices_from(Xi)] += 2.0 * t
    top = float(np.abs(np.diag(Xi)).max(initial=0.0))
    e = math.frexp(top)[1] if top > 0 and math.isfinite(top) else 0
    return np.ldexp((Xi + Xi.T) / 2, -e), shift + e


def _final_rho(X: np.ndarray, W_last: np.ndarray, shift: int) -> float:
    H = _inverse_factor(X, W_last)
    if H is None:
        return math.nan
    gram = H.T @ H if H.shape[1] <= H.shape[0] else H @ H.T
    return math.ldexp(float(np.linalg.eigvalsh((gram + gram.T) / 2)[-1]), -shift)


def _fast_stage(K: np.ndarray) -> tuple[np.ndarray, float]:
    s = float(np.linalg.eigvalsh((K + K.T) / 2)[-1])
    if not (s > 0 and math.isfinite(s)):
        s = 1.0  # K = 0 (a zero layer): any multiplier works
    return np.full(K.shape[0], 1.0 / s), s


def fast_multipliers(weights: Sequence[Any]) -> LayerwiseProposal:
    """ECLipsE-Fast: the closed-form multipliers ``T'_i = I / lambda_max(W_i X_{i-1}^{-1} W_i^T)``.

    Parameters
    ----------
    weights : sequence of matrices
        ``W_1..W_k`` (best normalized to norms about 1; see :func:`eclipse_fast`).

    Returns
    -------
    LayerwiseProposal

    Examples
    --------
    >>> p = fast_multipliers([np.array([[3.0]]), np.array([[4.0]])])   # f(x) = 4 relu(3 x): L = 12
    >>> [float(t[0]) for t in p.multipliers], round(p.rho, 9)
    ([0.1111111111111111], 144.0)
    """
    W = check_weights(weights)
    X, shift = np.eye(W[0].shape[1]), 0
    multipliers, values = [], []
    for Wi in W[:-1]:
        H = _inverse_factor(X, Wi)
        if H is None:
            return LayerwiseProposal(multipliers, math.nan, values)
        K = H.T @ H
        t, s = _fast_stage(K)
        multipliers.append(np.ldexp(t, shift))
        values.append(s)
        X, shift = _next_state(X, t, K, shift)
    return LayerwiseProposal(multipliers, _final_rho(X, W[-1], shift), values)


def fast_start(weights: Sequence[Any]) -> list[np.ndarray] | None:
    """The ECLipsE-Fast multipliers as LipSDP-neuron multipliers ``T = tau T'`` (``tau`` a hair above the Fast
    ``rho``), a strictly feasible start for the full SDP's solvers; None when the closed form broke down.

    Examples
    --------
    >>> [t.round(6).tolist() for t in fast_start([np.array([[3.0]]), np.array([[4.0]])])]   # optimal t = 16
    [[16.0]]
    """
    proposal = fast_multipliers(weights)
    if not (proposal.rho > 0 and math.isfinite(proposal.rho)) or len(proposal.multipliers) != len(weights) - 1:
        return None
    tau = proposal.rho * (1.0 + _TAU_STEP)
    return [np.asarray(t, dtype=np.float64) * tau for t in proposal.multipliers]


def eclipse_multipliers(weights: Sequence[Any], tol: float = 1e-9) -> LayerwiseProposal:
    """ECLipsE: diagonal multipliers from one small SDP per hidden layer (module docstring).

    Parameters
    ----------
    weights : sequence of matrices
        ``W_1..W_k`` (best normalized to norms about 1; see :func:`eclipse`).
    tol : float
        Relative accuracy of each stage SDP (:func:`lipexact.bounds.sdp.eclipse_stage.solve_stage`). A layer
        whose SDP fails gets the Fast multiplier (listed in ``fallbacks``).

    Returns
    -------
    LayerwiseProposal

    Examples
    --------
    >>> W = [np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[1.0, 1.0]])]   # relu(x1) + relu(x2): L = sqrt(2)
    >>> round(eclipse_multipliers(W).rho, 6)
    2.0
    """
    W = check_weights(weights)
    X, shift = np.eye(W[0].shape[1]), 0
    multipliers, values, fallbacks, newton = [], [], [], 0
    for i, Wi in enumerate(W[:-1]):
        H = _inverse_factor(X, Wi)
        if H is None:
            return LayerwiseProposal(multipliers, math.nan, values, fallbacks, "barrier")
        K = H.T @ H
        t_fast, _ = _fast_stage(K)
        t, c, info = solve_stage(K, W[i + 1].T @ W[i + 1], t0=t_fast, tol=tol)
        newton += info["newton_steps"]
        if not (math.isfinite(c) and np.isfinite(t).all()):
            t = t_fast
            fallbacks.append(i + 1)
        else:
            t = (1.0 - MIX) * np.maximum(t, 0.0) + MIX * t_fast
        multipliers.append(np.ldexp(t, shift))
        values.append(c)
        X, shift = _next_state(X, t, K, shift)
    return LayerwiseProposal(multipliers, _final_rho(X, W[-1], shift), values, fallbacks,
                             f"barrier ({newton} Newton steps)")


# ---------------------------------------------------------------- registered methods

def _check_request(method: str, norm: Any, certifier: Any, full_max_side: Any, seed: Any, dtype: Any, device: Any,
                   options: dict) -> None:
    if options:
        name = sorted(options)[0]
        raise InvalidInputError(name, f"an option of {method} (norm, certifier, full_max_side)", repr(options[name]))
    require(parse_norm(norm) == "2", "norm", f"2 ({method} bounds the l2 Lipschitz constant)", repr(norm))
    require(isinstance(certifier, str) and certifier in CERTIFIERS, "certifier", f"one of {', '.join(CERTIFIERS)}",
            repr(certifier))
    require(isinstance(full_max_side, int) and not isinstance(full_max_side, bool) and full_max_side >= 1,
            "full_max_side", "a positive integer", repr(full_max_side))
    require(isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0, "seed", "a non-negative integer",
            repr(seed))
    as_dtype(dtype)
    pick_device(device)


def _check_model(model: Any, input_shape: Any) -> list[np.ndarray]:
    return checked_mlp_weights(model, input_shape)


def _run(method: str, model: Any, input_shape: Any, certifier: str, full_max_side: int,
         started: float) -> LipschitzResult:
    weights = _check_model(model, input_shape)
    sizes = [weights[0].shape[1]] + hidden_widths(weights) + [weights[-1].shape[0]]
    side = sum(sizes[:-1])
    stats: dict = {"sizes": sizes, "layers": len(weights), "lmi_side": side}
    timings = {"prepare": time.perf_counter() - started}
    if any(not w.any() for w in weights):  # a zero layer: f is constant
        timings["total"] = time.perf_counter() - started
        return LipschitzResult(Status.UPPER_BOUND, 0.0, method, upper=0.0, message="a layer is zero: f is constant",
                               timings=timings, stats=stats)
    scaled, exponent = _normalize(weights)
    t0 = time.perf_counter()
    proposal = fast_multipliers(scaled) if method == "eclipse_fast" else eclipse_multipliers(scaled)
    timings["multipliers"] = time.perf_counter() - t0
    stats.update(scale_exponent=exponent, stage_values=proposal.stage_values, solver=proposal.solver,
                 sdp_fallback_layers=proposal.fallbacks)
    if not (proposal.rho > 0 and math.isfinite(proposal.rho)):
        timings["total"] = time.perf_counter() - started
        return LipschitzResult(Status.ERROR, None, method, timings=timings, stats=stats,
                               message="a Schur complement X_i lost positive definiteness in floating point")
    stats["estimate"] = math.ldexp(math.sqrt(proposal.rho), exponent)
    tau = proposal.rho * (1.0 + _TAU_STEP)
    T = [t * tau for t in proposal.multipliers]
    use_full = certifier == "full" or (certifier == "auto" and side <= full_max_side)
    t0 = time.perf_counter()
    cert = certified_rho(scaled, T) if use_full else certified_rho_layerwise(scaled, T)
    timings["certify"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - started
    stats.update(certifier="full" if use_full else "layerwise", certificate=cert.as_dict())
    name = "ECLipsE-Fast" if method == "eclipse_fast" else "ECLipsE"
    if not cert.proven:
        return LipschitzResult(Status.ERROR, None, method, timings=timings, stats=stats,
                               message=f"the {name} multipliers did not certify: {cert.reason}")
    value = math.ldexp(cert.lipschitz, exponent)  # exact scaling back by a power of two
    how = "the whole LMI" if use_full else "the LMI layer by layer"
    return LipschitzResult(
        Status.UPPER_BOUND, value, method, upper=value,
        message=(f"{name} multipliers ({proposal.solver}), LipSDP-neuron certified on {how} by Rump's Cholesky "
                 f"test: {value / stats['estimate'] - 1:+.1e} relative to the floating-point estimate"),
        certificate={"rho_normalized": cert.value, "scale_exponent": exponent,
                     "multiplier_scale": cert.scale, "multipliers": [t.tolist() for t in cert.multipliers]},
        timings=timings, stats=stats)


def eclipse_fast(model: Any, *, input_shape: Any = None, device: Any = None, dtype: Any = torch.float64,
                 seed: int = 0, norm: Any = "2", certifier: str = "auto", full_max_side: int = DEFAULT_FULL_MAX_SIDE,
                 **options: Any) -> LipschitzResult:
    """Certified ECLipsE-Fast upper bound on the l2 Lipschitz constant of a ReLU MLP (closed-form multipliers).

    Parameters
    ----------
    model : TwoLayerReLU, ReLUNetwork or torch.nn.Sequential
        A ReLU MLP (see :func:`lipexact.bounds.sdp.lmi.mlp_weights`); biases do not matter.
    input_shape : tuple of int, optional
        Checked against the first Linear layer when given.
    device, dtype, seed
        Accepted for the registry signature and validated; the computation is float64 NumPy on the CPU
        (small dense matrices, one layer at a time).
    norm : str or number
        Only ``2``.
    certifier : {"auto", "full", "layerwise"}
        Who proves the value (module docstring).
    full_max_side : int
        Largest LMI side (input plus hidden widths) that ``"auto"`` certifies on the whole matrix.

    Returns
    -------
    LipschitzResult
        ``Status.UPPER_BOUND`` with the certified value; ``stats["estimate"]`` is the uncertified
        floating-point value, ``stats["certifier"]`` says which proof was used. ``Status.ERROR`` (value None)
        when the multipliers did not certify.

    Examples
    --------
    >>> from lipexact.network import TwoLayerReLU
    >>> result = eclipse_fast(TwoLayerReLU([[3.0]], [[4.0]]))
    >>> result.status.value, 12.0 <= result.value < 12.0 * (1 + 1e-7)
    ('upper_bound', True)
    """
    started = time.perf_counter()
    _check_request("eclipse_fast", norm, certifier, full_max_side, seed, dtype, device, options)
    return _run("eclipse_fast", model, input_shape, certifier, full_max_side, started)


def eclipse(model: Any, *, input_shape: Any = None, device: Any = None, dtype: Any = torch.float64, seed: int = 0,
            norm: Any = "2", certifier: str = "auto", full_max_side: int = DEFAULT_FULL_MAX_SIDE,
            **options: Any) -> LipschitzResult:
    """Certified ECLipsE upper bound on the l2 Lipschitz constant of a ReLU MLP (one small SDP per layer).

    Parameters
    ----------
    model, input_shape, device, dtype, seed, norm, certifier, full_max_side
        As for :func:`eclipse_fast`.

    Returns
    -------
    LipschitzResult
        As for :func:`eclipse_fast`; ``stats["stage_values"]`` holds each layer's ``c_i`` and
        ``stats["sdp_fallback_layers"]`` the layers that fell back to the Fast multiplier.

    Examples
    --------
    >>> from lipexact.network import TwoLayerReLU
    >>> result = eclipse(TwoLayerReLU([[1, 0], [0, 1]], [[1, 1]]))   # relu(x1) + relu(x2): L = sqrt(2)
    >>> result.status.value, abs(result.value - 2 ** 0.5) < 1e-6, result.value >= 2 ** 0.5
    ('upper_bound', True, True)
    """
    started = time.perf_counter()
    _check_request("eclipse", norm, certifier, full_max_side, seed, dtype, device, options)
    return _run("eclipse", model, input_shape, certifier, full_max_side, started)


def validate_eclipse_fast(model: Any, *, input_shape: Any = None, device: Any = None, dtype: Any = torch.float64,
                          seed: int = 0, norm: Any = "2", certifier: str = "auto",
                          full_max_side: int = DEFAULT_FULL_MAX_SIDE, **options: Any) -> None:
    """Raise what :func:`eclipse_fast` raises for bad input (options, norm, model, input shape), solving nothing.

    Examples
    --------
    >>> validate_eclipse_fast(torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1)))
    Traceback (most recent call last):
    ...
    lipexact.bounds.errors.NotApplicableError: model[1]: expected Linear, ReLU, Flatten, Identity or Dropout ..., got Tanh
    """
    _check_request("eclipse_fast", norm, certifier, full_max_side, seed, dtype, device, options)
    _check_model(model, input_shape)


def validate_eclipse(model: Any, *, input_shape: Any = None, device: Any = None, dtype: Any = torch.float64,
                     seed: int = 0, norm: Any = "2", certifier: str = "auto",
                     full_max_side: int = DEFAULT_FULL_MAX_SIDE, **options: Any) -> None:
    """Raise what :func:`eclipse` raises for bad input (options, norm, certifier, model, input shape).

    Examples
    --------
    >>> validate_eclipse(torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1)),
    ...                  certifier="trust me")
    Traceback (most recent call last):
    ...
    reductions.validation.InvalidInputError: certifier: expected one of auto, full, layerwise, got 'trust me'
    """
    _check_request("eclipse", norm, certifier, full_max_side, seed, dtype, device, options)
    _check_model(model, input_shape)
