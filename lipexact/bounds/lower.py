"""Certified lower bounds on the l2 Lipschitz constant: the Jacobian norm at a witness input.

``||J_f(x)||_2 <= L(f)`` at every point ``x`` where ``f`` is differentiable, so any such point is a lower
certificate. Four searches propose points: the data (:func:`data_lower_bound`), gradient ascent with
restarts (:func:`gradient_ascent`), simulated annealing (:func:`simulated_annealing`) and a grid over a
box in low dimension (:func:`grid_search`). Every one of them returns ``Status.LOWER_BOUND`` with
``value = lower = ||J_f(witness)||_2`` re-evaluated independently at the returned witness (a fresh
float64 copy of the model, ``torch.autograd.functional.jacobian``, the norm by numpy's SVD); the search's
own value is kept in ``certificate["search_value"]``.

Piecewise-linear activations (ReLU, ...) are not differentiable at their kinks, and there autograd
returns a one-sided Jacobian that need not be a Jacobian of any open region (it can exceed ``L``). For
models that :func:`lipexact.bounds.layers.extract_chain` can read, a witness is accepted only if every
pre-activation is at distance more than ``kink_rtol * (1 + max |z|)`` from a kink of its activation
(then ``f`` is differentiable around the witness); the margin is reported in the certificate. For other
models the searches use random (continuous) points, and the certificate says the check was not done.

Vector outputs use the spectral norm of the Jacobian; scalar outputs the Euclidean norm of the gradient
(the same number).

References
----------
K. Scaman and A. Virmaux, "Lipschitz regularity of deep neural networks: analysis and efficient
estimation", NeurIPS 2018, arXiv:1805.10965 (lower bounds by data and gradient ascent).
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import torch

from lipexact.bounds.device import as_dtype, as_module, pick_device
from lipexact.bounds.layers import extract_chain, infer_input_shape
from lipexact.result import LipschitzResult, Status
from reductions.validation import InvalidInputError, as_array, as_real, require

__all__ = ["data_lower_bound", "gradient_ascent", "simulated_annealing", "grid_search", "jacobian_norm_at",
           "DEFAULT_KINK_RTOL"]

#: Relative distance to a kink below which a candidate witness is rejected.
DEFAULT_KINK_RTOL = 1e-8
_JACOBIAN_ENTRIES = 1 << 22  # entries of the batch of Jacobians held at once


# ---------------------------------------------------------------- Jacobians

def _flat_fn(module, shape):
    def f(x):
        return module(x.reshape(1, *shape)).reshape(-1)

    return f


class _Evaluator:
    """Batched Jacobian norms of one module (vmap over jacrev, with a per-sample fallback)."""

    def __init__(self, module, shape, dtype, device):
        self.module, self.shape, self.dtype, self.device = module, shape, dtype, device
        self.f = _flat_fn(module, shape)
        with torch.no_grad():
            out = module(torch.zeros((1, *shape), dtype=dtype, device=device))
        require(isinstance(out, torch.Tensor) and out.shape[0] == 1, "model",
                "a module mapping a batch (b, *input_shape) to a tensor (b, ...)", f"output {type(out).__name__}")
        self.n_out = int(out[0].numel())
        self.n_in = math.prod(shape)
        self.chunk = max(1, _JACOBIAN_ENTRIES // max(1, self.n_out * self.n_in))
        self.evaluations = 0
        self._vmap_ok = True

    def jacobians(self, X):
        """``(B, m, n)`` Jacobians at a batch ``X`` of shape ``(B, *shape)``."""
        X = X.to(self.device, self.dtype).reshape(-1, *self.shape)
        parts = []
        for start in range(0, X.shape[0], self.chunk):
            block = X[start:start + self.chunk]
            parts.append(self._jacobian_block(block).reshape(block.shape[0], self.n_out, self.n_in))
        self.evaluations += int(X.shape[0])
        return torch.cat(parts) if parts else X.new_zeros((0, self.n_out, self.n_in))

    def _jacobian_block(self, X):
        if self._vmap_ok:
            try:
                with torch.no_grad():
                    return torch.func.vmap(torch.func.jacrev(self.f))(X).detach()
            except (RuntimeError, NotImplementedError, ValueError):
                self._vmap_ok = False
        rows = [torch.autograd.functional.jacobian(self.f, x) for x in X]
        return torch.stack(rows).detach()

    def norms(self, X):
        return _spectral_norms(self.jacobians(X))


def _spectral_norms(J):
    if J.shape[-2] == 1:
        return torch.linalg.vector_norm(J[:, 0, :], dim=-1)
    return torch.linalg.matrix_norm(J, ord=2)


def jacobian_norm_at(model: Any, x: Any, input_shape: Any = None) -> float:
    """``||J_f(x)||_2`` by a fresh autograd Jacobian in float64 (the independent re-check of a witness).

    Examples
    --------
    >>> from lipexact import TwoLayerReLU
    >>> net = TwoLayerReLU([[1.0, 0.0], [0.0, 1.0]], [[3.0, 4.0]])
    >>> jacobian_norm_at(net, [1.0, 1.0]), jacobian_norm_at(net, [1.0, -1.0])
    (5.0, 3.0)
    """
    shape = infer_input_shape(model, input_shape)
    module = as_module(model, dtype=torch.float64, device="cpu")
    x = torch.tensor(np.asarray(x, dtype=np.float64)).reshape(shape)
    J = torch.autograd.functional.jacobian(_flat_fn(module, shape), x)
    J = J.detach().numpy().reshape(-1, x.numel())
    return float(np.linalg.norm(J[0])) if J.shape[0] == 1 else float(np.linalg.norm(J, 2))


# ---------------------------------------------------------------- witness selection

class _KinkCheck:
    """Distance of candidate witnesses to the kinks of the activations of a readable chain."""

    def __init__(self, model, shape, device, rtol):
        self.rtol = rtol
        try:
            self.chain = extract_chain(model, shape, dtype=torch.float64, device=device)
        except InvalidInputError:
            self.chain = None

    @property
    def piecewise_linear(self) -> bool:
        """True for a readable chain whose activations are all piecewise linear."""
        if self.chain is None:
            return False
        return all(item[1].piecewise_linear for kind, item in self.chain.sequence if kind == "activation")

    def margins(self, X):
        """Smallest relative distance to a kink per sample (``inf`` when smooth; None when unchecked)."""
        if self.chain is None:
            return None
        X = X.to(torch.float64)
        margin = torch.full((X.shape[0],), math.inf, dtype=torch.float64, device=X.device)
        with torch.no_grad():
            for activation, z in self.chain.preactivations(X):
                scale = 1.0 + z.abs().amax(dim=1)
                for kink in activation.kinks:
                    margin = torch.minimum(margin, (z - kink).abs().amin(dim=1) / scale)
        return margin

    def refined_margin(self, x) -> float:
        """Like :meth:`margins` for one point, ignoring neurons whose pre-activation has zero gradient.

        Such a neuron contributes nothing to the Jacobian whatever its activation's slope, and (the
        earlier layers being off their kinks) its pre-activation is locally constant, or flat to first
        order, so ``f`` stays differentiable there. Dead neurons (zero weights) are the common case.
        """
        x = x.detach().to(torch.float64).reshape(1, *self.chain.input_shape)
        with torch.no_grad():
            layers = [(activation, z[0]) for activation, z in self.chain.preactivations(x)]
        if not layers:
            return math.inf

        def all_z(v):
            return torch.cat([z.reshape(-1) for _, z in self.chain.preactivations(v.reshape(x.shape))])

        jac = torch.autograd.functional.jacobian(all_z, x.reshape(-1)).reshape(-1, x.numel())
        moving = (jac != 0).any(dim=1)
        margin, start = math.inf, 0
        for activation, z in layers:
            live = moving[start:start + z.numel()]
            start += z.numel()
            if not bool(live.any()):
                continue
            scale = 1.0 + float(z.abs().max())
            for kink in activation.kinks:
                margin = min(margin, float((z[live] - kink).abs().min()) / scale)
        return margin

    def pattern(self, x):
        """Activation pattern (``z > 0``) of a witness when every activation is ReLU-like; else None."""
        if self.chain is None:
            return None
        found = self.chain.preactivations(x.to(torch.float64).reshape(1, *self.chain.input_shape))
        if not found or any(activation.kinks != (0.0,) for activation, _ in found):
            return None
        return torch.cat([z[0] > 0 for _, z in found]).cpu().numpy()


def _finish(method: str, model, shape, evaluator: _Evaluator, check: _KinkCheck, candidates, values,
            generator, started: float, extra_stats: dict, message: str) -> LipschitzResult:
    """Pick the best regular candidate, re-evaluate it independently and build the result."""
    order = torch.argsort(values, descending=True)
    margins = check.margins(candidates)
    chosen, margin = None, None
    for index in order[:256].tolist():
        if margins is None or float(margins[index]) > check.rtol:
            chosen = candidates[index]
            margin = None if margins is None else float(margins[index])
            break
        refined = check.refined_margin(candidates[index])
        if refined > check.rtol:
            chosen, margin = candidates[index], refined
            break
    jittered = 0
    if chosen is None:  # every top candidate sits on a kink: move the best one off it
        best = candidates[int(order[0])]
        for attempt in range(1, 31):
            noise = torch.randn(best.shape, generator=generator, dtype=torch.float64)
            trial = best + (10.0 ** (attempt / 3 - 8)) * (1.0 + best.abs().max()) * noise.to(best.device, best.dtype)
            trial_margin = check.refined_margin(trial)
            if trial_margin > check.rtol:
                chosen, margin, jittered = trial, trial_margin, attempt
                break
    if chosen is None:
        return LipschitzResult(status=Status.ERROR, value=None, method=method, message=(
            "no candidate input lies off the activation kinks; no certified lower bound"),
            timings={"total": time.perf_counter() - started}, stats={"evaluations": evaluator.evaluations})
    witness = chosen.detach().to("cpu", torch.float64).reshape(shape)
    verified = jacobian_norm_at(model, witness.numpy(), shape)
    search_value = float(evaluator.norms(witness[None].to(evaluator.device))[0])
    certificate = {"verified_value": verified, "search_value": search_value,
                   "differentiability_checked": margin is not None}
    if margin is not None:
        certificate["kink_margin"] = margin if math.isfinite(margin) else "inf"
    stats = {"evaluations": evaluator.evaluations, "jittered": jittered, "device": str(evaluator.device),
             **extra_stats}
    return LipschitzResult(status=Status.LOWER_BOUND, value=verified, lower=verified, upper=None, method=method,
                           norm="2", message=message, witness=witness.numpy(), pattern=check.pattern(witness),
                           certificate=certificate, timings={"total": time.perf_counter() - started}, stats=stats)


# ---------------------------------------------------------------- shared validation

def _setup(model, input_shape, device, dtype, seed, kink_rtol):
    device = pick_device(device)
    dtype = as_dtype(dtype)
    seed = _count(seed, "seed", 0)
    shape = infer_input_shape(model, input_shape)
    module = as_module(model, dtype=dtype, device=device)
    evaluator = _Evaluator(module, shape, dtype, device)
    check = _KinkCheck(model, shape, device, float(as_real(kink_rtol, "kink_rtol", minimum=0)))
    generator = torch.Generator().manual_seed(seed)
    return shape, evaluator, check, generator


def _count(value: Any, field: str, minimum: int = 1) -> int:
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= minimum
    require(ok, field, f"an integer >= {minimum}", repr(value))
    return int(value)


def _positive(value: Any, field: str) -> float:
    value = float(as_real(value, field))
    require(value > 0, field, "a positive number", repr(value))
    return value


def _no_options(options: dict, method: str) -> None:
    if options:
        name = sorted(options)[0]
        raise InvalidInputError(name, f"an option of {method}", "an unknown option")


def _data_tensor(data: Any, shape: tuple[int, ...], field: str = "data"):
    """``data`` as a float64 tensor ``(N, *shape)`` (rows may be given flat)."""
    if isinstance(data, torch.Tensor):
        data = data.detach().cpu().double().numpy()
    array = np.asarray(as_array(data, field, ndim=np.ndim(data) if np.ndim(data) >= 1 else 1, integer_ok=False))
    n = math.prod(shape)
    if array.ndim == 1 and array.size == n:
        array = array[None]
    require(array.ndim >= 2 and array[0].size == n, field,
            f"a batch of inputs of shape (N, {', '.join(map(str, shape))}) or (N, {n})", f"shape {array.shape}")
    return torch.tensor(array.reshape(-1, *shape), dtype=torch.float64)


def _starts(data, shape, count, scale, generator, field="data"):
    if data is not None:
        points = _data_tensor(data, shape, field)
        picks = torch.randint(0, points.shape[0], (count,), generator=generator)
        return points[picks].clone()
    return scale * torch.randn((count, *shape), generator=generator, dtype=torch.float64)


# ---------------------------------------------------------------- the four searches

def data_lower_bound(model: Any, *, data: Any = None, input_shape: Any = None, device: Any = None,
                     dtype: Any = torch.float64, seed: int = 0, kink_rtol: float = DEFAULT_KINK_RTOL,
                     **options: Any) -> LipschitzResult:
    """``max ||J_f(x)||_2`` over the inputs ``x`` of a data set (autograd Jacobians, batched).

    Parameters
    ----------
    model : torch.nn.Module or TwoLayerReLU
    data : array_like or tensor, shape (N, *input_shape) or (N, prod(input_shape))
        Required.
    input_shape, device, dtype, seed
        As for every bound (``dtype`` is the search precision; the witness is re-checked in float64).
        ``seed`` only drives the jitter that moves a witness off a kink.
    kink_rtol : float
        See the module notes.

    Examples
    --------
    >>> from lipexact import TwoLayerReLU
    >>> net = TwoLayerReLU([[1.0, 0.0], [0.0, 1.0]], [[3.0, 4.0]])
    >>> result = data_lower_bound(net, data=[[1.0, 1.0], [1.0, -1.0]], device="cpu")
    >>> result.status.value, result.value, result.witness.tolist()
    ('lower_bound', 5.0, [1.0, 1.0])

    References
    ----------
    K. Scaman and A. Virmaux, NeurIPS 2018, arXiv:1805.10965, section 7.
    """
    started = time.perf_counter()
    _no_options(options, "data_lower_bound")
    require(data is not None, "data", "a batch of inputs (the data lower bound needs data)", "None")
    shape, evaluator, check, generator = _setup(model, input_shape, device, dtype, seed, kink_rtol)
    points = _data_tensor(data, shape).to(evaluator.device)
    values = evaluator.norms(points)
    return _finish("data", model, shape, evaluator, check, points, values, generator, started,
                   {"points": int(points.shape[0])}, f"max Jacobian norm over {points.shape[0]} data points")


def _smoothed_gradient(evaluator, X, sigma, samples, generator):
    """Gradient of the Gaussian smoothing of ``||J||`` at every row of ``X`` (antithetic Stein estimator).

    ``sigma`` holds one smoothing radius per row.

    Also returns the evaluated perturbed points and their norms (candidate witnesses).
    """
    R = X.shape[0]
    delta = torch.randn((R, samples, *X.shape[1:]), generator=generator, dtype=torch.float64).to(X.device, X.dtype)
    spread = sigma.reshape(R, 1, *([1] * (X.dim() - 1)))
    plus, minus = X[:, None] + spread * delta, X[:, None] - spread * delta
    points = torch.cat([plus, minus], dim=1).reshape(-1, *X.shape[1:])
    norms = evaluator.norms(points).reshape(R, 2 * samples)
    weights = (norms[:, :samples] - norms[:, samples:]) / (2 * sigma[:, None])
    grad = (weights.reshape(R, samples, *([1] * (X.dim() - 1))) * delta).mean(dim=1)
    return grad, points, norms.reshape(-1)


def _autograd_gradient(evaluator, X):
    """``d ||J(x)|| / dx`` by double backpropagation (zero almost everywhere for piecewise-linear nets)."""
    grads = []
    for x in X:
        x = x.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            J = torch.autograd.functional.jacobian(evaluator.f, x, create_graph=True).reshape(evaluator.n_out, -1)
            value = torch.linalg.vector_norm(J[0]) if J.shape[0] == 1 else torch.linalg.matrix_norm(J, ord=2)
            (grad,) = torch.autograd.grad(value, x, allow_unused=True)
        grads.append(torch.zeros_like(x) if grad is None else grad.detach())
    return torch.stack(grads)


def gradient_ascent(model: Any, *, data: Any = None, input_shape: Any = None, device: Any = None,
                    dtype: Any = torch.float64, seed: int = 0, restarts: int = 8, steps: int = 100,
                    lr: float = 0.05, scale: float = 1.0, smoothing: float = 0.05, samples: int = 8,
                    estimator: str = "auto", kink_rtol: float = DEFAULT_KINK_RTOL, **options: Any) -> LipschitzResult:
    """Maximize ``||J_f(x)||_2`` over the input by Adam ascent from random restarts.

    The Jacobian of a piecewise-linear network is constant on each region, so its autograd gradient
    is zero almost everywhere; the ascent direction is then the gradient of the Gaussian smoothing
    ``E ||J(x + sigma u)||`` (antithetic Stein estimator over ``samples`` directions; ``sigma`` starts at
    ``smoothing * scale`` and doubles, per restart, while the estimate is zero). ``estimator``:
    ``"autograd"`` (double backpropagation only), ``"smoothed"`` (smoothing only) or ``"auto"``
    (smoothing for networks whose activations are all piecewise linear, otherwise autograd where it is
    non-zero and smoothing elsewhere). Every evaluated point, perturbed
    ones included, is a candidate witness.

    Parameters
    ----------
    data : array_like, optional
        Restarts begin at data points drawn from it (seeded); otherwise at ``scale * N(0, I)``.
    restarts, steps : int
        Number of parallel starting points and of Adam steps.
    lr : float
        Adam step size, relative to ``scale``.

    Examples
    --------
    >>> from lipexact import TwoLayerReLU
    >>> net = TwoLayerReLU([[1.0, 0.0], [0.0, 1.0]], [[3.0, 4.0]])
    >>> result = gradient_ascent(net, device="cpu", steps=5)
    >>> result.status.value, round(result.value, 9)
    ('lower_bound', 5.0)
    """
    started = time.perf_counter()
    _no_options(options, "gradient_ascent")
    restarts, steps, samples = _count(restarts, "restarts"), _count(steps, "steps", 0), _count(samples, "samples")
    lr, scale, smoothing = _positive(lr, "lr"), _positive(scale, "scale"), _positive(smoothing, "smoothing")
    require(estimator in ("auto", "autograd", "smoothed"), "estimator", '"auto", "autograd" or "smoothed"',
            repr(estimator))
    shape, evaluator, check, generator = _setup(model, input_shape, device, dtype, seed, kink_rtol)
    used = estimator
    if estimator == "auto" and check.piecewise_linear:
        used = "smoothed"  # the autograd gradient of ||J|| vanishes almost everywhere
    X = _starts(data, shape, restarts, scale, generator).to(evaluator.device, evaluator.dtype)
    X.requires_grad_(True)
    optimizer = torch.optim.Adam([X], lr=lr * scale, maximize=True)
    pool_points, pool_values = [X.detach().clone()], [evaluator.norms(X.detach())]
    # one smoothing radius per restart: doubled while the smoothed gradient carries no signal (a flat
    # region of a piecewise-linear net), shrunk back towards the base value once it does
    base_sigma = smoothing * scale
    sigma = torch.full((restarts,), base_sigma, dtype=evaluator.dtype, device=evaluator.device)
    for _ in range(steps):
        current = X.detach()
        grad = torch.zeros_like(current)
        if used in ("auto", "autograd"):
            grad = _autograd_gradient(evaluator, current)
        if used in ("auto", "smoothed"):
            flat = grad.reshape(grad.shape[0], -1)
            need = (flat.abs().amax(dim=1) == 0) if used == "auto" else torch.ones(
                len(flat), dtype=torch.bool, device=flat.device)
            if bool(need.any()):
                smooth, points, values = _smoothed_gradient(evaluator, current[need], sigma[need], samples,
                                                            generator)
                grad[need] = smooth
                flat_region = smooth.reshape(smooth.shape[0], -1).abs().amax(dim=1) == 0
                sigma[need] = torch.where(flat_region, (2 * sigma[need]).clamp(max=4 * scale),
                                          (0.5 * sigma[need]).clamp(min=base_sigma))
                pool_points.append(points)
                pool_values.append(values)
        X.grad = grad
        optimizer.step()
        pool_points.append(X.detach().clone())
        pool_values.append(evaluator.norms(X.detach()))
    candidates, values = torch.cat(pool_points), torch.cat(pool_values)
    return _finish("gradient", model, shape, evaluator, check, candidates, values, generator, started,
                   {"restarts": restarts, "steps": steps, "estimator": used},
                   f"gradient ascent on ||J(x)||_2 ({restarts} restarts x {steps} steps, {used} gradient)")


def simulated_annealing(model: Any, *, data: Any = None, input_shape: Any = None, device: Any = None,
                        dtype: Any = torch.float64, seed: int = 0, chains: int = 16, steps: int = 300,
                        step_size: float = 0.1, scale: float = 1.0, T0: float | None = None,
                        kink_rtol: float = DEFAULT_KINK_RTOL, **options: Any) -> LipschitzResult:
    """Simulated annealing on ``||J_f(x)||_2`` with the temperature ``T_k = T0 / log(2 + k / 2)``.

    ``chains`` independent Metropolis chains run in parallel; a move adds ``step_size * scale * N(0, I)``
    and is accepted when it does not decrease the norm, else with probability ``exp(delta / T_k)``.
    ``T0`` defaults to a tenth of the mean initial norm. Starts as in :func:`gradient_ascent`.

    Examples
    --------
    >>> from lipexact import TwoLayerReLU
    >>> net = TwoLayerReLU([[1.0, 0.0], [0.0, 1.0]], [[3.0, 4.0]])
    >>> result = simulated_annealing(net, device="cpu", steps=20)
    >>> result.status.value, round(result.value, 9)
    ('lower_bound', 5.0)
    """
    started = time.perf_counter()
    _no_options(options, "simulated_annealing")
    chains, steps = _count(chains, "chains"), _count(steps, "steps", 0)
    step_size, scale = _positive(step_size, "step_size"), _positive(scale, "scale")
    shape, evaluator, check, generator = _setup(model, input_shape, device, dtype, seed, kink_rtol)
    X = _starts(data, shape, chains, scale, generator).to(evaluator.device, evaluator.dtype)
    V = evaluator.norms(X)
    if T0 is None:
        T0 = 0.1 * float(V.mean()) if float(V.mean()) > 0 else 1e-3 * scale
    T0 = _positive(T0, "T0")
    best_X, best_V = X.clone(), V.clone()
    accepted = 0
    for k in range(1, steps + 1):
        T = T0 / math.log(2 + k / 2)
        noise = torch.randn(X.shape, generator=generator, dtype=torch.float64).to(X.device, X.dtype)
        proposal = X + step_size * scale * noise
        proposed = evaluator.norms(proposal)
        uniform = torch.rand(chains, generator=generator, dtype=torch.float64).to(X.device)
        accept = (proposed >= V) | (uniform < torch.exp(((proposed - V) / T).to(torch.float64)))
        X = torch.where(accept.reshape(-1, *([1] * len(shape))), proposal, X)
        V = torch.where(accept, proposed, V)
        accepted += int(accept.sum())
        better = V > best_V
        best_X[better], best_V[better] = X[better], V[better]
    return _finish("annealing", model, shape, evaluator, check, best_X, best_V, generator, started,
                   {"chains": chains, "steps": steps, "T0": T0, "acceptance": accepted / max(1, chains * steps)},
                   f"simulated annealing ({chains} chains x {steps} steps, T = T0 / log(2 + k/2), T0 = {T0:.3g})")


def grid_search(model: Any, *, data: Any = None, input_shape: Any = None, device: Any = None,
                dtype: Any = torch.float64, seed: int = 0, center: Any = None, radius: float = 1.0,
                points: int | None = None, budget: int = 20000, max_dim: int = 4,
                kink_rtol: float = DEFAULT_KINK_RTOL, **options: Any) -> LipschitzResult:
    """``max ||J_f(x)||_2`` over a grid on the box ``center +- radius`` (input dimension <= ``max_dim``).

    The grid has ``points`` cells per axis (default: ``floor(budget^(1/n))``) and one point per cell,
    shifted inside the cell by a seeded random offset per axis, so grid points do not fall on the
    activation kinks that sit at round numbers. ``data`` is accepted for a uniform interface and unused.

    Examples
    --------
    >>> from lipexact import TwoLayerReLU
    >>> net = TwoLayerReLU([[1.0, 0.0], [0.0, 1.0]], [[3.0, 4.0]])
    >>> result = grid_search(net, device="cpu", points=10)
    >>> result.status.value, round(result.value, 9), result.stats["grid_points"]
    ('lower_bound', 5.0, 100)
    """
    started = time.perf_counter()
    _no_options(options, "grid_search")
    max_dim = _count(max_dim, "max_dim")
    budget = _count(budget, "budget")
    radius = _positive(radius, "radius")
    shape = infer_input_shape(model, input_shape)
    n = math.prod(shape)
    require(n <= max_dim, "input_shape", f"at most {max_dim} input dimensions for a grid search (max_dim)",
            f"{shape} ({n} dimensions)")
    per_axis = max(2, int(math.floor(budget ** (1.0 / n) + 1e-9))) if points is None else _count(points, "points", 2)
    shape, evaluator, check, generator = _setup(model, shape, device, dtype, seed, kink_rtol)
    centre = np.zeros(n) if center is None else as_array(center, "center", ndim=1, shape=(n,), integer_ok=False)
    offset = torch.rand(n, generator=generator, dtype=torch.float64)
    cell = 2 * radius / per_axis
    axes = [float(centre[i]) - radius + (torch.arange(per_axis, dtype=torch.float64) + offset[i]) * cell
            for i in range(n)]
    grid = torch.cartesian_prod(*axes).reshape(-1, *shape) if n > 1 else axes[0].reshape(-1, *shape)
    grid = grid.to(evaluator.device, evaluator.dtype)
    values = evaluator.norms(grid)
    return _finish("grid", model, shape, evaluator, check, grid, values, generator, started,
                   {"grid_points": int(grid.shape[0]), "points_per_axis": per_axis, "radius": radius},
                   f"grid search over {grid.shape[0]} points of the box center +- {radius:g}")
