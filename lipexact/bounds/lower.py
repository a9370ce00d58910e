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
(the same number). The searches evaluate Jacobians in batches (:mod:`lipexact.bounds.jacobians`: one
forward and one backward pass per output for a whole batch of points), and the gradient ascent ends with
a walk across activation regions (:mod:`lipexact.bounds.regions`).

References
----------
K. Scaman and A. Virmaux, "Lipschitz regularity of deep neural networks: analysis and efficient
estimation", NeurIPS 2018, arXiv:1805.10965 (lower bounds by data and gradient ascent).
"""

from __future__ import annotations

import copy
import math
import time
from typing import Any

import numpy as np
import torch

from lipexact.bounds.chain import as_sequential, chain_layers
from lipexact.bounds.device import as_dtype, as_module, pick_device
from lipexact.bounds.errors import NotApplicableError
from lipexact.bounds.jacobians import JacobianEvaluator, flat_function
from lipexact.bounds.layer_kinds import describe_activation, is_chain_affine, is_maxpool
from lipexact.bounds.layers import extract_chain
from lipexact.bounds.shapes import infer_input_shape
from lipexact.result import LipschitzResult, Status
from reductions.validation import InvalidInputError, as_array, as_real, require

__all__ = ["data_lower_bound", "gradient_ascent", "simulated_annealing", "grid_search", "jacobian_norm_at",
           "validate_data_lower_bound", "validate_gradient_ascent", "validate_simulated_annealing",
           "validate_grid_search", "DEFAULT_KINK_RTOL"]

#: Relative distance to a kink below which a candidate witness is rejected.
DEFAULT_KINK_RTOL = 1e-8


# ---------------------------------------------------------------- Jacobians

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
    J = torch.autograd.functional.jacobian(flat_function(module, shape), x)
    J = J.detach().numpy().reshape(-1, x.numel())
    return float(np.linalg.norm(J[0])) if J.shape[0] == 1 else float(np.linalg.norm(J, 2))


# ---------------------------------------------------------------- witness selection

class _KinkCheck:
    """Distance of candidate witnesses to the kinks of the activations of a readable chain."""

    def __init__(self, model, shape, device, rtol):
        self.rtol = rtol
        self.input_shape, self.device = shape, device
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
        X = X.to(self.device, torch.float64)
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
        x = x.detach().to(self.device, torch.float64).reshape(1, *self.chain.input_shape)
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
        found = self.chain.preactivations(x.to(self.device, torch.float64).reshape(1, *self.chain.input_shape))
        if not found or any(activation.kinks != (0.0,) for activation, _ in found):
            return None
        return torch.cat([z[0] > 0 for _, z in found]).cpu().numpy()


def _finish(method: str, model, shape, evaluator: JacobianEvaluator, check: _KinkCheck, candidates, values,
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


class _Pool:
    """The best candidate witnesses seen so far (at most ``keep``), with their search values."""

    def __init__(self, keep: int = 256):
        self.keep = keep
        self.points = None
        self.values = None

    def add(self, points, values) -> None:
        points, values = points.detach().reshape(values.shape[0], *points.shape[1:]), values.detach()
        if self.points is not None:
            points, values = torch.cat([self.points, points]), torch.cat([self.values, values])
        if values.shape[0] > self.keep:
            values, index = torch.topk(values, self.keep)
            points = points[index]
        self.points, self.values = points.clone(), values.clone()


# ---------------------------------------------------------------- shared validation

def _setup(model, input_shape, device, dtype, seed, kink_rtol):
    device = pick_device(device)
    dtype = as_dtype(dtype)
    seed = _count(seed, "seed", 0)
    shape = infer_input_shape(model, input_shape)
    module = _search_module(model, shape, dtype, device)
    evaluator = JacobianEvaluator(module, shape, dtype, device)
    check = _KinkCheck(model, shape, device, float(as_real(kink_rtol, "kink_rtol", minimum=0)))
    generator = torch.Generator().manual_seed(seed)
    return shape, evaluator, check, generator


def _search_module(model, shape, dtype, device):
    """The module the searches evaluate: for a chain model its layers as a Sequential (so that functional
    activations such as ``F.relu`` become modules the region walk can hook; the same function, checked by
    :func:`~lipexact.bounds.chain.chain_layers`), otherwise :func:`as_module`; in-place activations are turned
    off on a copy (hooks must see their inputs). The witness is re-checked on ``model`` itself."""
    module = as_sequential(model, shape, dtype=dtype, device=device)
    if module is None:
        module = as_module(model, dtype=dtype, device=device)
    if any(getattr(leaf, "inplace", False) is True for leaf in module.modules()):
        module = copy.deepcopy(module)  # the layers may be the caller's own modules
        for leaf in module.modules():
            if getattr(leaf, "inplace", False) is True:
                leaf.inplace = False
    return module


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


def _starts(data, shape, count, scale, generator, field="data", spread=False):
    """``count`` starting points: drawn from ``data``, else ``scale * N(0, I)`` (with ``spread``, the scale
    of start ``i`` is ``scale * 10^(-1 + 2 i / (count - 1))``: from a tenth to ten times ``scale``)."""
    if data is not None:
        points = _data_tensor(data, shape, field)
        picks = torch.randint(0, points.shape[0], (count,), generator=generator)
        return points[picks].clone()
    noise = torch.randn((count, *shape), generator=generator, dtype=torch.float64)
    if spread and count > 1:
        factors = torch.logspace(-1, 1, count, dtype=torch.float64)
        return scale * factors.reshape(-1, *([1] * len(shape))) * noise
    return scale * noise


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
    (shape, evaluator, check, generator), points = _data_request(model, data, input_shape, device, dtype, seed,
                                                                 kink_rtol, options)
    points = points.to(evaluator.device)
    values = evaluator.norms(points)
    return _finish("data", model, shape, evaluator, check, points, values, generator, started,
                   {"points": int(points.shape[0])}, f"max Jacobian norm over {points.shape[0]} data points")


def _data_request(model, data, input_shape, device, dtype, seed, kink_rtol, options):
    _no_options(options, "data_lower_bound")
    require(data is not None, "data", "a batch of inputs (the data lower bound needs data)", "None")
    setup = _setup(model, input_shape, device, dtype, seed, kink_rtol)
    return setup, _data_tensor(data, setup[0])


def _smoothed_gradient(evaluator, X, U, sigma, samples, generator):
    """Gradient of the Gaussian smoothing of ``||J(x)^T u||`` at every row of ``X`` (antithetic Stein
    estimator), with ``u`` the row's top left singular vector (``U``) and ``sigma`` its smoothing radius.

    Also returns the evaluated perturbed points and their values (candidate witnesses: each value is a
    lower estimate of the point's Jacobian norm).
    """
    R = X.shape[0]
    delta = torch.randn((R, samples, *X.shape[1:]), generator=generator, dtype=torch.float64).to(X.device, X.dtype)
    spread = sigma.reshape(R, 1, *([1] * (X.dim() - 1)))
    plus, minus = X[:, None] + spread * delta, X[:, None] - spread * delta
    points = torch.cat([plus, minus], dim=1).reshape(-1, *X.shape[1:])
    values = evaluator.projected(points, U.repeat_interleave(2 * samples, dim=0)).reshape(R, 2 * samples)
    weights = (values[:, :samples] - values[:, samples:]) / (2 * sigma[:, None])
    grad = (weights.reshape(R, samples, *([1] * (X.dim() - 1))) * delta).mean(dim=1)
    return grad, points, values.reshape(-1)


class _Adam:
    """Adam ascent steps (Kingma & Ba 2015) on a batch of points; torch.optim.Adam would import
    torch._dynamo, seconds of start-up for a handful of steps."""

    def __init__(self, X, lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        self.lr, self.betas, self.eps, self.t = lr, betas, eps, 0
        self.m, self.v = torch.zeros_like(X), torch.zeros_like(X)

    def step(self, X, grad):
        b1, b2 = self.betas
        self.t += 1
        self.m.mul_(b1).add_(grad, alpha=1 - b1)
        self.v.mul_(b2).addcmul_(grad, grad, value=1 - b2)
        denominator = (self.v / (1 - b2 ** self.t)).sqrt_().add_(self.eps)
        return X + self.lr / (1 - b1 ** self.t) * self.m / denominator


def _piecewise_linear(module, check: "_KinkCheck") -> bool:
    """True when the model is known to be piecewise linear: a readable chain of piecewise-linear
    activations, or a chain model (:func:`~lipexact.bounds.chain.chain_layers`) of affine layers,
    max-poolings and piecewise-linear activations."""
    if check.piecewise_linear:
        return True
    try:
        layers = chain_layers(module, check.input_shape, dtype=torch.float64, device=check.device).layers
    except InvalidInputError:
        return False
    for layer in layers:
        activation = describe_activation(layer.module)
        if activation is not None:
            if not activation.piecewise_linear:
                return False
        elif not (is_chain_affine(layer.module) or is_maxpool(layer.module)):
            return False
    return True


def _gradient_request(model, data, input_shape, device, dtype, seed, kink_rtol, options, **params):
    _no_options(options, "gradient_ascent")
    cfg = {name: _count(params[name], name, minimum) for name, minimum in (
        ("restarts", 1), ("steps", 0), ("samples", 1), ("local_search", 0), ("flips", 0), ("line_points", 1))}
    cfg.update({name: _positive(params[name], name) for name in ("lr", "scale", "smoothing")})
    require(params["estimator"] in ("auto", "autograd", "smoothed"), "estimator", '"auto", "autograd" or "smoothed"',
            repr(params["estimator"]))
    setup = _setup(model, input_shape, device, dtype, seed, kink_rtol)
    if data is not None:
        _data_tensor(data, setup[0])
    return setup, cfg


def gradient_ascent(model: Any, *, data: Any = None, input_shape: Any = None, device: Any = None,
                    dtype: Any = torch.float64, seed: int = 0, restarts: int = 8, steps: int = 100,
                    lr: float = 0.1, scale: float = 1.0, smoothing: float = 0.2, samples: int = 8,
                    estimator: str = "auto", local_search: int = 30, flips: int = 8, line_points: int = 8,
                    kink_rtol: float = DEFAULT_KINK_RTOL, **options: Any) -> LipschitzResult:
    """Maximize ``||J_f(x)||_2`` over the input: Adam ascent from spread restarts, then a local search
    across neighbouring activation regions.

    1. Restarts begin at data points (when ``data`` is given) or at ``s N(0, I)`` with scales ``s``
       spread geometrically from ``scale / 10`` to ``10 scale``, so that regions near the kinks' offsets
       and far-away (bias-free) regions are both visited.
    2. ``steps`` Adam steps on ``||J(x)^T u||`` with ``u`` the current top left singular vector (its
       gradient is that of ``||J(x)||_2`` where the top singular value is simple; double
       backpropagation, all restarts in one batch). The Jacobian of a piecewise-linear network is
       constant on each region, so this gradient vanishes almost everywhere; the ascent then follows
       the gradient of the Gaussian smoothing ``E ||J(x + sigma w)^T u||`` (antithetic Stein estimator
       over ``samples`` directions, one backward pass for all of them; ``sigma`` starts at
       ``smoothing * scale`` and doubles, per restart, while the estimate is zero). ``estimator``:
       ``"autograd"`` (double backpropagation only), ``"smoothed"`` (smoothing only) or ``"auto"``
       (smoothing for networks known to be piecewise linear, otherwise autograd where it is non-zero
       and smoothing elsewhere).
    3. ``local_search`` rounds of a walk across activation regions, from the best point of every
       restart. At each point, the ``flips`` units whose kink crossing most increases ``||J||`` to first
       order are crossed, each by a move into the region just beyond that kink (for models with at most
       256 units, the move keeps every other unit on its side, to first order; otherwise it follows the
       gradient of the unit's pre-activation), and the middles of the first ``line_points`` regions
       along ``+-v`` (``v`` the top right singular vector: the direction of ``grad (u . f)``) are tried.
       The best move is taken if it surely improves (``||J^T u|| <= ||J||`` is its value). A point where
       nothing improves is a local maximum, and a walk starts afresh from a new random point (spread
       scales, as in 1.). Units are the inputs of piecewise-linear activation modules with kinks
       (ReLU, LeakyReLU, Hardtanh, ...); without any, the rays are sampled at geometric steps.

    Every evaluated point is a candidate witness; the returned value is re-evaluated independently at
    the witness, which lies off every kink (see the module notes).

    Parameters
    ----------
    data : array_like, optional
        Restarts begin at data points drawn from it (seeded).
    restarts, steps : int
        Number of parallel starting points and of Adam steps.
    lr : float
        Adam step size, relative to ``scale``.
    local_search, flips, line_points : int
        Rounds of the region walk (0 turns it off), unit crossings and ray points tried per round.

    Examples
    --------
    >>> from lipexact import TwoLayerReLU
    >>> net = TwoLayerReLU([[1.0, 0.0], [0.0, 1.0]], [[3.0, 4.0]])
    >>> result = gradient_ascent(net, device="cpu", steps=5)
    >>> result.status.value, round(result.value, 9)
    ('lower_bound', 5.0)

    References
    ----------
    K. Scaman and A. Virmaux, NeurIPS 2018, arXiv:1805.10965, section 7 (gradient ascent lower bound).
    """
    started = time.perf_counter()
    (shape, evaluator, check, generator), cfg = _gradient_request(
        model, data, input_shape, device, dtype, seed, kink_rtol, options, restarts=restarts, steps=steps,
        samples=samples, local_search=local_search, flips=flips, line_points=line_points, lr=lr, scale=scale,
        smoothing=smoothing, estimator=estimator)
    restarts, steps, samples, lr, scale, smoothing = (cfg[k] for k in ("restarts", "steps", "samples", "lr", "scale",
                                                                       "smoothing"))
    local_search, flips, line_points = cfg["local_search"], cfg["flips"], cfg["line_points"]
    used = estimator
    if estimator == "auto" and _piecewise_linear(evaluator.module, check):
        used = "smoothed"  # the autograd gradient of ||J|| vanishes almost everywhere
    X = _starts(data, shape, restarts, scale, generator, spread=True).to(evaluator.device, evaluator.dtype)
    pool = _Pool()
    adam = _Adam(X, lr * scale)
    best_X = X.detach().clone()
    best_V = torch.full((restarts,), -math.inf, dtype=evaluator.dtype, device=evaluator.device)
    # one smoothing radius per restart: doubled while the smoothed gradient carries no signal (a flat
    # region of a piecewise-linear net), shrunk back towards the base value once it does
    base_sigma = smoothing * scale
    sigma = torch.full((restarts,), base_sigma, dtype=evaluator.dtype, device=evaluator.device)
    for step in range(steps + 1):
        current = X.detach()
        values, U, _ = evaluator.top(current)
        pool.add(current, values)
        better = values > best_V
        best_X[better], best_V[better] = current[better], values[better]
        if step == steps:
            break
        grad = torch.zeros_like(current)
        if used in ("auto", "autograd"):
            grad = evaluator.ascent_gradient(current, U)
        if used in ("auto", "smoothed"):
            flat = grad.reshape(grad.shape[0], -1)
            need = (flat.abs().amax(dim=1) == 0) if used == "auto" else torch.ones(
                len(flat), dtype=torch.bool, device=flat.device)
            if bool(need.any()):
                smooth, points, smooth_values = _smoothed_gradient(evaluator, current[need], U[need], sigma[need],
                                                                   samples, generator)
                grad[need] = smooth
                flat_region = smooth.reshape(smooth.shape[0], -1).abs().amax(dim=1) == 0
                sigma[need] = torch.where(flat_region, (2 * sigma[need]).clamp(max=4 * scale),
                                          (0.5 * sigma[need]).clamp(min=base_sigma))
                pool.add(points, smooth_values)
        X = adam.step(X, grad)
    rounds = optima = 0
    if local_search > 0:
        def fresh(count):  # random points at random scales between scale / 10 and 10 scale
            factors = 10.0 ** (2 * torch.rand(count, generator=generator, dtype=torch.float64) - 1)
            noise = torch.randn((count, *shape), generator=generator, dtype=torch.float64)
            return scale * factors.reshape(-1, *([1] * len(shape))) * noise

        from lipexact.bounds.regions import ActivationUnits, region_walk

        rounds, optima = region_walk(evaluator, ActivationUnits(evaluator.module), best_X, local_search, flips,
                                     line_points, scale, pool.add, fresh)
    exact = evaluator.norms(pool.points)  # the pool was ranked by lower estimates ||J^T u||
    return _finish("gradient", model, shape, evaluator, check, pool.points, exact, generator, started,
                   {"restarts": restarts, "steps": steps, "estimator": used, "local_search_rounds": rounds,
                    "local_maxima": optima},
                   f"gradient ascent on ||J(x)||_2 ({restarts} restarts x {steps} steps, {used} gradient), "
                   f"then {rounds} rounds of local search across activation regions ({optima} local maxima)")


def _annealing_request(model, data, input_shape, device, dtype, seed, kink_rtol, options, chains, steps, step_size,
                       scale, T0):
    _no_options(options, "simulated_annealing")
    chains, steps = _count(chains, "chains"), _count(steps, "steps", 0)
    step_size, scale = _positive(step_size, "step_size"), _positive(scale, "scale")
    if T0 is not None:
        _positive(T0, "T0")
    setup = _setup(model, input_shape, device, dtype, seed, kink_rtol)
    if data is not None:
        _data_tensor(data, setup[0])
    return setup, (chains, steps, step_size, scale)


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
    (shape, evaluator, check, generator), (chains, steps, step_size, scale) = _annealing_request(
        model, data, input_shape, device, dtype, seed, kink_rtol, options, chains, steps, step_size, scale, T0)
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


def _grid_request(model, input_shape, device, dtype, seed, kink_rtol, options, center, radius, points, budget,
                  max_dim):
    _no_options(options, "grid_search")
    max_dim = _count(max_dim, "max_dim")
    budget = _count(budget, "budget")
    radius = _positive(radius, "radius")
    shape = infer_input_shape(model, input_shape)
    n = math.prod(shape)
    if n > max_dim:
        raise NotApplicableError("input_shape", f"at most {max_dim} input dimensions for a grid search (max_dim)",
                                 f"{shape} ({n} dimensions)")
    per_axis = max(2, int(math.floor(budget ** (1.0 / n) + 1e-9))) if points is None else _count(points, "points", 2)
    setup = _setup(model, shape, device, dtype, seed, kink_rtol)
    centre = np.zeros(n) if center is None else as_array(center, "center", ndim=1, shape=(n,), integer_ok=False)
    return setup, (radius, per_axis, centre)


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
    (shape, evaluator, check, generator), (radius, per_axis, centre) = _grid_request(
        model, input_shape, device, dtype, seed, kink_rtol, options, center, radius, points, budget, max_dim)
    n = math.prod(shape)
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


# ---------------------------------------------------------------- up-front validation

def validate_data_lower_bound(model: Any, *, data: Any = None, input_shape: Any = None, device: Any = None,
                              dtype: Any = torch.float64, seed: int = 0, kink_rtol: float = DEFAULT_KINK_RTOL,
                              **options: Any) -> None:
    """Raise what :func:`data_lower_bound` raises for bad input (no data, data of the wrong shape, ...),
    without evaluating any Jacobian.

    Examples
    --------
    >>> from lipexact import TwoLayerReLU
    >>> validate_data_lower_bound(TwoLayerReLU([[1.0, 2.0]], [[1.0]]), device="cpu")
    Traceback (most recent call last):
    ...
    reductions.validation.InvalidInputError: data: expected a batch of inputs (...), got None
    """
    _data_request(model, data, input_shape, device, dtype, seed, kink_rtol, options)


def validate_gradient_ascent(model: Any, *, data: Any = None, input_shape: Any = None, device: Any = None,
                             dtype: Any = torch.float64, seed: int = 0, restarts: int = 8, steps: int = 100,
                             lr: float = 0.1, scale: float = 1.0, smoothing: float = 0.2, samples: int = 8,
                             estimator: str = "auto", local_search: int = 30, flips: int = 8, line_points: int = 8,
                             kink_rtol: float = DEFAULT_KINK_RTOL, **options: Any) -> None:
    """Raise what :func:`gradient_ascent` raises for bad input, without evaluating any Jacobian."""
    _gradient_request(model, data, input_shape, device, dtype, seed, kink_rtol, options, restarts=restarts,
                      steps=steps, samples=samples, local_search=local_search, flips=flips, line_points=line_points,
                      lr=lr, scale=scale, smoothing=smoothing, estimator=estimator)


def validate_simulated_annealing(model: Any, *, data: Any = None, input_shape: Any = None, device: Any = None,
                                 dtype: Any = torch.float64, seed: int = 0, chains: int = 16, steps: int = 300,
                                 step_size: float = 0.1, scale: float = 1.0, T0: float | None = None,
                                 kink_rtol: float = DEFAULT_KINK_RTOL, **options: Any) -> None:
    """Raise what :func:`simulated_annealing` raises for bad input, without evaluating any Jacobian."""
    _annealing_request(model, data, input_shape, device, dtype, seed, kink_rtol, options, chains, steps, step_size,
                       scale, T0)


def validate_grid_search(model: Any, *, data: Any = None, input_shape: Any = None, device: Any = None,
                         dtype: Any = torch.float64, seed: int = 0, center: Any = None, radius: float = 1.0,
                         points: int | None = None, budget: int = 20000, max_dim: int = 4,
                         kink_rtol: float = DEFAULT_KINK_RTOL, **options: Any) -> None:
    """Raise what :func:`grid_search` raises for bad input (e.g. too many input dimensions), computing nothing.

    Examples
    --------
    >>> import torch
    >>> validate_grid_search(torch.nn.Conv2d(1, 1, 3), input_shape=(1, 28, 28), device="cpu")
    Traceback (most recent call last):
    ...
    lipexact.bounds.errors.NotApplicableError: input_shape: expected at most 4 input ..., got (1, 28, 28) (784 ...)
    """
    _grid_request(model, input_shape, device, dtype, seed, kink_rtol, options, center, radius, points, budget,
                  max_dim)
