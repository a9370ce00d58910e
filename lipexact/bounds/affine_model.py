"""The registered ``power`` bound: the Lipschitz constant of an affine model is its spectral norm."""

from __future__ import annotations

import math
import time
from typing import Any, Sequence

import torch

from lipexact.bounds.autolip import check_affine
from lipexact.bounds.device import as_dtype, as_module, pick_device
from lipexact.bounds.matrices import rounding_margin
from lipexact.bounds.power import EXACT_MAX_DIM, centered_map, check_power_options, exact_operator_norm, power_method
from lipexact.bounds.shapes import infer_input_shape
from lipexact.result import LipschitzResult, Status

__all__ = ["affine_lipschitz", "validate_power"]


def _affine_request(model, input_shape, device, dtype, seed, options):
    check_power_options(options, seed)
    dtype, device = as_dtype(dtype), pick_device(device)
    module = as_module(model, dtype=dtype, device=device)
    shape = infer_input_shape(model, input_shape)
    check_affine(module, shape)
    return module, shape, dtype, device


def validate_power(model: Any, *, input_shape: Sequence[int] | None = None, device: Any = None,
                   dtype: Any = torch.float64, seed: int = 0, **options: Any) -> None:
    """Raise what :func:`affine_lipschitz` raises for bad input (options, shape, a non-affine model),
    without computing anything.

    Examples
    --------
    >>> validate_power(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU()), device="cpu")
    Traceback (most recent call last):
    ...
    lipexact.bounds.errors.UnsupportedOperationError: _1: expected an affine operation (...), got ReLU
    """
    _affine_request(model, input_shape, device, dtype, seed, options)


def affine_lipschitz(model: Any, *, input_shape: Sequence[int] | None = None, device: Any = None,
                     dtype: Any = torch.float64, seed: int = 0, **options: Any) -> LipschitzResult:
    """The Lipschitz constant of an affine model (registry method ``"power"``): its spectral norm.

    The model must be affine: its torch.fx graph may contain only affine operations (linear layers,
    convolutions, pooling by averages, batch normalization in eval, reshapes, sums and scalings);
    anything else raises :class:`~lipexact.bounds.errors.UnsupportedOperationError`. The value is
    certified (``Status.UPPER_BOUND``, with the power-method lower bound ``lower``) when the whole
    operator is small enough to materialize (``exact_max_dim``); otherwise it is the converged
    power-method estimate, labelled ``Status.HEURISTIC``.

    Options: ``iterations``, ``rtol``, ``restarts``, ``exact_max_dim``.

    Examples
    --------
    >>> model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    >>> result = affine_lipschitz(model, input_shape=(3,), device="cpu")
    >>> result.status.value, result.lower <= result.value
    ('upper_bound', True)
    """
    start = time.perf_counter()
    module, shape, dtype, device = _affine_request(model, input_shape, device, dtype, seed, options)
    power_options = {k: options[k] for k in ("iterations", "rtol", "restarts") if k in options}
    exact_max_dim = options.get("exact_max_dim", EXACT_MAX_DIM)

    estimate = power_method(module, shape, seed=seed, dtype=dtype, device=device, **power_options)
    _, out_shape = centered_map(module, shape, dtype, device)
    rows, cols = math.prod(out_shape), math.prod(shape)
    stats = {"iterations": estimate.iterations, "converged": estimate.converged, "rows": rows, "columns": cols}
    witness = estimate.v.detach().cpu().numpy()
    if rows <= exact_max_dim and cols <= exact_max_dim:
        value, _ = exact_operator_norm(module, shape, dtype=dtype, device=device)
        upper = value * (1 + rounding_margin(dtype))
        lower = min(estimate.sigma, upper)
        return LipschitzResult(
            Status.UPPER_BOUND, upper, "power", lower=lower, upper=upper,
            message=f"affine model: exact spectral norm of the materialized {rows} x {cols} operator "
                    f"(inflated by the rounding margin); lower = ||A v|| for the power-method vector",
            witness=witness, certificate={"exact_norm": value, "power_sigma": estimate.sigma},
            timings={"total": time.perf_counter() - start}, stats=stats)
    return LipschitzResult(
        Status.HEURISTIC, estimate.sigma, "power", lower=estimate.sigma,
        message=f"affine model too large to materialize ({rows} x {cols}): converged power-method estimate "
                f"(rtol={power_options.get('rtol', 1e-8)}), a proven lower bound but not an upper bound",
        witness=witness, certificate={"power_sigma": estimate.sigma},
        timings={"total": time.perf_counter() - start}, stats=stats)
