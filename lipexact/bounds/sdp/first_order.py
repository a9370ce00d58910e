"""``lipsdp_first_order``: a first-order (gradient) solver of LipSDP-neuron in torch, CPU or CUDA, certified.

In the spirit of LipDiff (Wang et al., ICLR 2024: LipSDP written as an eigenvalue optimization and solved
by first-order methods), the SDP ``min rho s.t. M(T, rho) <= 0, T >= 0`` is written as the minimization of

    rho(T) = lambda_max( C (-N(T))^{-1} C^T ) = || L(T)^{-1} T_1 W_1 ||_2^2,   -N(T) = L L^T,

over the multipliers alone (``N`` is the hidden part of ``M``, ``C = [W_1^T T_1, 0, ...]``; the Schur
complement makes ``rho(T)`` the least ``rho`` for ``T``). ``rho(T)`` is convex on the convex set where
``-N(T)`` is positive definite (a partial minimization of the LMI's convex feasible set). It is minimized
over ``t = exp(theta)`` (positive, scale-free steps) with Adam; the gradient of the largest eigenvalue is
that of ``||Y v||^2`` for the top singular vector ``v`` of ``Y = L^{-1} C^T``, tracked by a few warm-started
power iterations per step (autograd through the Cholesky factor and the triangular solve). The input is
first compressed (:func:`lipexact.bounds.sdp.lipsdp.compress_input`), so ``Y`` has ``min(n_0, n_1)``
columns. A step leaving the
domain (failed Cholesky) is undone and the learning rate halved. Cost per iteration: one Cholesky of the
hidden part and one triangular solve, no SDP solver.

The result is only a proposal: the best multipliers go through
:func:`lipexact.bounds.sdp.certify.certified_rho` on the ORIGINAL float64 weights, so the reported value is
a proven upper bound (at least the SDP optimum, a little above it when the iterations stop early).

References
----------
Z. Wang, B. Hu, A. J. Havens, A. Araujo, Y. Zheng, Y. Chen, S. Jha. On the scalability and memory
efficiency of semidefinite programs for Lipschitz constant estimation of neural networks. ICLR 2024.
M. Fazlyab et al. Efficient and accurate estimation of Lipschitz constants for deep neural networks.
NeurIPS 2019.
"""

from __future__ import annotations

import math
import time
from typing import Any, Sequence

import numpy as np
import torch

from lipexact.bounds.device import as_dtype, pick_device
from lipexact.bounds.sdp.barrier import feasible_multipliers
from lipexact.bounds.sdp.certify import certified_rho
from lipexact.bounds.sdp.eclipse import fast_start
from lipexact.bounds.sdp.lipsdp import compress_input, normalize_weights
from lipexact.bounds.sdp.lmi import checked_mlp_weights, hidden_widths
from lipexact.norms import parse_norm
from lipexact.result import LipschitzResult, Status
from reductions.validation import InvalidInputError, require

__all__ = ["lipsdp_first_order", "validate_lipsdp_first_order", "minimize_schur_value", "schur_value",
           "DEFAULT_ITERATIONS", "DEFAULT_LR"]

DEFAULT_ITERATIONS = 200
DEFAULT_LR = 0.1
DEFAULT_POWER_STEPS = 4


def _neg_hidden(weights: Sequence[torch.Tensor], multipliers: Sequence[torch.Tensor]) -> torch.Tensor:
    """``-N(T)``: the hidden-layer part of ``-M`` (dense, differentiable in the multipliers)."""
    widths = [int(w.shape[0]) for w in weights[:-1]]
    offsets = [0]
    for width in widths:
        offsets.append(offsets[-1] + width)
    h = offsets[-1]
    W0 = weights[0]
    neg_n = torch.diag(torch.cat([2.0 * t for t in multipliers]))
    for i in range(1, len(widths)):  # -(W_{i+1}^T T_{i+1}) between hidden layers i and i+1
        block = -(weights[i].T * multipliers[i][None, :])
        pad = torch.zeros((h, h), dtype=W0.dtype, device=W0.device)
        pad[offsets[i - 1]:offsets[i], offsets[i]:offsets[i + 1]] = block
        neg_n = neg_n + pad + pad.T
    last = weights[-1]
    gram_last = torch.zeros((h, h), dtype=W0.dtype, device=W0.device)
    gram_last[offsets[-2]:, offsets[-2]:] = last.T @ last
    return neg_n - gram_last


def _schur_factor(weights: Sequence[torch.Tensor], multipliers: Sequence[torch.Tensor]) -> torch.Tensor | None:
    """``Y = L^{-1} C^T`` with ``-N(T) = L L^T`` (so ``rho(T) = ||Y||_2^2``); None when the Cholesky fails."""
    L, info = torch.linalg.cholesky_ex(_neg_hidden(weights, multipliers))
    if int(info) != 0:
        return None
    W0 = weights[0]
    ct = torch.zeros((L.shape[0], W0.shape[1]), dtype=W0.dtype, device=W0.device)
    ct[:W0.shape[0]] = multipliers[0][:, None] * W0
    return torch.linalg.solve_triangular(L, ct, upper=False)


def schur_value(weights: Sequence[torch.Tensor], multipliers: Sequence[torch.Tensor]) -> torch.Tensor:
    """``rho(T) = lambda_max(C (-N)^{-1} C^T)`` in torch (differentiable); ``inf`` when ``-N(T)`` fails a
    Cholesky factorization.

    Examples
    --------
    >>> W = [torch.tensor([[3.0]], dtype=torch.float64), torch.tensor([[4.0]], dtype=torch.float64)]
    >>> float(schur_value(W, [torch.tensor([16.0], dtype=torch.float64)]))   # 9 t^2 / (2 t - 16) at t = 16
    144.0
    """
    Y = _schur_factor(weights, multipliers)
    if Y is None:
        return torch.tensor(math.inf, dtype=weights[0].dtype, device=weights[0].device)
    gram = Y @ Y.T if Y.shape[0] <= Y.shape[1] else Y.T @ Y
    return torch.linalg.eigvalsh(gram)[-1]


def _best_uniform_scale(W: Sequence[torch.Tensor], start: Sequence[torch.Tensor], grid: int = 10,
                        refine: int = 12) -> list[torch.Tensor]:
    """``s * start`` for the ``s`` minimizing ``rho(s T)``: a grid over powers of two, then golden sections
    in ``log s`` (``rho(sT)`` is convex in ``s`` where finite)."""

    def value(log_s: float) -> float:
        with torch.no_grad():
            return float(schur_value(W, [t * math.exp(log_s) for t in start]))

    logs = [j * math.log(2.0) for j in range(-grid, grid + 1)]
    values = [value(x) for x in logs]
    best = int(np.argmin(values))
    if not math.isfinite(values[best]):
        return list(start)
    lo, hi = logs[max(best - 1, 0)], logs[min(best + 1, len(logs) - 1)]
    ratio = (math.sqrt(5.0) - 1.0) / 2.0
    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = value(a), value(b)
    for _ in range(refine):
        if fa <= fb:
            hi, b, fb = b, a, fa
            a = hi - ratio * (hi - lo)
            fa = value(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = value(b)
    candidates = [(values[best], logs[best]), (fa, a), (fb, b)]
    _, log_s = min(candidates)
    return [t * math.exp(log_s) for t in start]


def minimize_schur_value(weights: Sequence[np.ndarray], *, iterations: int = DEFAULT_ITERATIONS,
                         lr: float = DEFAULT_LR, power_steps: int = DEFAULT_POWER_STEPS,
                         check_every: int = 10, seed: int = 0, device: Any = None,
                         dtype: Any = torch.float64) -> dict:
    """Adam on ``log t`` for ``rho(T)``; returns the best multipliers seen (float64 numpy) and a trace.

    The start is the better of the best uniform multiples of
    :func:`~lipexact.bounds.sdp.barrier.feasible_multipliers` and of the ECLipsE-Fast multipliers
    (:func:`~lipexact.bounds.sdp.eclipse.fast_start`; a one-dimensional search each). Each step estimates
    the top right singular vector ``v`` of ``Y`` by ``power_steps`` warm-started power
    iterations (LipDiff's use of an iterative eigen-solver; the start vector is drawn from ``seed``) and
    follows the gradient of ``||Y v||^2`` (the gradient of ``lambda_max`` when ``v`` is its eigenvector).
    The learning rate follows a cosine decay to 0. Every ``check_every`` steps and at the end, ``rho(T)`` is
    evaluated exactly (symmetric eigen-solver) and the best multipliers so far kept. A step whose ``-N(T)``
    is not positive definite is undone and the learning rate halved.

    Returns
    -------
    dict
        ``multipliers``, ``rho`` (float value at the best checked iterate), ``iterations``, ``rejected``
        (steps undone), ``history`` (the checked values).
    """
    device = pick_device(device)
    dtype = as_dtype(dtype)
    W = [torch.as_tensor(np.array(w, dtype=np.float64), dtype=dtype, device=device) for w in weights]
    starts = [feasible_multipliers(list(weights))]
    fast = fast_start(list(weights))
    if fast is not None and all((t > 0).all() for t in fast):
        starts.append(fast)
    scaled_starts = [_best_uniform_scale(W, [torch.as_tensor(t, dtype=dtype, device=device) for t in begin])
                     for begin in starts]
    with torch.no_grad():
        start = min(scaled_starts, key=lambda ts: float(schur_value(W, ts)))
    theta = [torch.log(t).detach().clone().requires_grad_(True) for t in start]
    optimizer = torch.optim.Adam(theta, lr=lr)
    generator = torch.Generator(device="cpu").manual_seed(seed)
    v = torch.randn(W[0].shape[1], generator=generator, dtype=dtype).to(device)
    v = v / v.norm()
    best_rho, best_theta = math.inf, [p.detach().clone() for p in theta]
    rejected, history = 0, []
    previous = [p.detach().clone() for p in theta]
    scale = 1.0
    for step in range(iterations + 1):
        Y = _schur_factor(W, [torch.exp(p) for p in theta])
        if Y is None:
            rejected += 1
            with torch.no_grad():
                for p, old in zip(theta, previous):
                    p.copy_(old)
            scale *= 0.5
            continue
        final = step == iterations
        if step % check_every == 0 or final:
            with torch.no_grad():
                gram = Y @ Y.T if Y.shape[0] <= Y.shape[1] else Y.T @ Y
                exact = float(torch.linalg.eigvalsh(gram)[-1])
            history.append(exact)
            if exact < best_rho:
                best_rho, best_theta = exact, [p.detach().clone() for p in theta]
        if final:
            break
        with torch.no_grad():
            Yd = Y.detach()
            for _ in range(power_steps):
                v = Yd.T @ (Yd @ v)
                v = v / v.norm().clamp_min(torch.finfo(dtype).tiny)
        previous = [p.detach().clone() for p in theta]
        estimate = (Y @ v).square().sum()
        optimizer.zero_grad()
        estimate.backward()
        for group in optimizer.param_groups:
            group["lr"] = lr * scale * 0.5 * (1.0 + math.cos(math.pi * step / iterations))
        optimizer.step()
    multipliers = [torch.exp(p).to("cpu", torch.float64).numpy() for p in best_theta]
    return {"multipliers": multipliers, "rho": best_rho, "iterations": iterations, "rejected": rejected,
            "history": history}


def _check_request(norm: Any, iterations: Any, lr: Any, seed: Any, dtype: Any, device: Any, options: dict):
    if options:
        name = sorted(options)[0]
        raise InvalidInputError(name, "an option of lipsdp_first_order (norm, iterations, lr)",
                                repr(options[name]))
    require(parse_norm(norm) == "2", "norm", "2 (LipSDP bounds the l2 Lipschitz constant)", repr(norm))
    require(isinstance(iterations, int) and not isinstance(iterations, bool) and iterations >= 1, "iterations",
            "a positive integer", repr(iterations))
    require(isinstance(lr, (int, float)) and not isinstance(lr, bool) and math.isfinite(lr) and lr > 0, "lr",
            "a positive number", repr(lr))
    require(isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0, "seed", "a non-negative integer",
            repr(seed))
    dtype = as_dtype(dtype)
    return pick_device(device), dtype


def _check_model(model: Any, input_shape: Any) -> list[np.ndarray]:
    return checked_mlp_weights(model, input_shape)


def validate_lipsdp_first_order(model: Any, *, input_shape: Any = None, device: Any = None,
                                dtype: Any = torch.float64, seed: int = 0, norm: Any = "2",
                                iterations: int = DEFAULT_ITERATIONS, lr: float = DEFAULT_LR,
                                **options: Any) -> None:
    """Raise what :func:`lipsdp_first_order` raises for bad input, computing nothing.

    Examples
    --------
    >>> validate_lipsdp_first_order(torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(),
    ...                             torch.nn.Linear(3, 1)), iterations=0)
    Traceback (most recent call last):
    ...
    reductions.validation.InvalidInputError: iterations: expected a positive integer, got 0
    """
    _check_request(norm, iterations, lr, seed, dtype, device, options)
    _check_model(model, input_shape)


def lipsdp_first_order(model: Any, *, input_shape: Any = None, device: Any = None, dtype: Any = torch.float64,
                       seed: int = 0, norm: Any = "2", iterations: int = DEFAULT_ITERATIONS, lr: float = DEFAULT_LR,
                       **options: Any) -> LipschitzResult:
    """Certified LipSDP-neuron upper bound (l2) from a first-order torch solver: see the module docstring.

    Parameters
    ----------
    model : TwoLayerReLU, ReLUNetwork or torch.nn.Sequential
        A ReLU MLP (see :func:`lipexact.bounds.sdp.lmi.mlp_weights`).
    input_shape : tuple of int, optional
        Checked against the first Linear layer when given.
    device, dtype
        Where and in which precision the iterations run (CUDA when available; float64 by default, float32
        is allowed: the certificate is computed in float64 on the CPU either way).
    seed : int
        Seeds the start vector of the power iterations (the run is deterministic for a given seed).
    norm : str or number
        Only ``2``.
    iterations : int
        Gradient steps (the iteration limit).
    lr : float
        Adam's learning rate on ``log t`` (relative steps of the multipliers).

    Returns
    -------
    LipschitzResult
        ``Status.UPPER_BOUND`` with the certified value; ``stats`` hold the iterate's float value
        (``solver_value``), iterations, rejected steps and the certificate facts.

    Examples
    --------
    >>> from lipexact.network import TwoLayerReLU
    >>> result = lipsdp_first_order(TwoLayerReLU([[1, 0], [0, 1]], [[1, 1]]), device="cpu")
    >>> result.status.value, 2 ** 0.5 <= result.value < 2 ** 0.5 * 1.01
    ('upper_bound', True)
    """
    start = time.perf_counter()
    device, dtype = _check_request(norm, iterations, lr, seed, dtype, device, options)
    weights = _check_model(model, input_shape)
    scaled, exponent = normalize_weights(weights)
    sizes = [weights[0].shape[1]] + hidden_widths(weights) + [weights[-1].shape[0]]
    timings = {"prepare": time.perf_counter() - start}
    t0 = time.perf_counter()
    solved = minimize_schur_value(compress_input(scaled), iterations=iterations, lr=lr, seed=seed, device=device,
                                  dtype=dtype)
    timings["solve"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    cert = certified_rho(scaled, solved["multipliers"])
    timings["certify"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - start
    solver_value = math.sqrt(solved["rho"]) * 2.0 ** exponent if math.isfinite(solved["rho"]) else math.inf
    stats = {"sizes": sizes, "scale_exponent": exponent, "iterations": solved["iterations"],
             "rejected_steps": solved["rejected"], "solver_value": solver_value, "device": str(device),
             "dtype": str(dtype).replace("torch.", ""), "certificate": cert.as_dict()}
    if not cert.proven:
        return LipschitzResult(Status.ERROR, None, "lipsdp_first_order",
                               message=f"the first-order multipliers did not certify: {cert.reason}",
                               timings=timings, stats=stats)
    value = math.ldexp(cert.lipschitz, exponent)
    return LipschitzResult(
        Status.UPPER_BOUND, value, "lipsdp_first_order", upper=value,
        message=f"LipSDP-neuron by {iterations} first-order steps on the multipliers, certified by Rump's "
                "Cholesky test",
        certificate={"rho_normalized": cert.value, "scale_exponent": exponent, "multiplier_scale": cert.scale,
                     "multipliers": [t.tolist() for t in cert.multipliers]},
        timings=timings, stats=stats)
