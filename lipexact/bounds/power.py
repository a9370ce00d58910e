"""Spectral norms of affine maps by power iteration and subspace iteration, and materialized operators.

An affine map ``g(x) = A x + c`` is given as a ``torch.nn.Module`` or a callable taking a batch of
inputs of shape ``(batch, *input_shape)``. Only its linear part matters: everything here works with
``x -> g(x) - g(0)``, and products ``A^T A v`` come from autograd (the gradient of
``1/2 ||g(v) - g(0)||^2`` with respect to ``v``), so no matrix is ever built unless asked for
(:func:`operator_matrix`, :func:`exact_operator_norm`).

:func:`power_method` and :func:`top_k_singular` converge to the singular values *from below*:
``||A v||`` for a unit ``v`` is a proven lower bound on ``||A||_2``, never an upper bound. Which layer
norms are certified, and how, is decided in :mod:`lipexact.bounds.layer_norm`; the registered
``power`` bound of affine models is :mod:`lipexact.bounds.affine_model`.

References
----------
Scaman, K. & Virmaux, A. Lipschitz regularity of deep neural networks: analysis and efficient
estimation. NeurIPS 2018, arXiv:1805.10965 (autograd-compliant power method).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch

from lipexact.bounds.device import as_dtype, as_module, pick_device
from lipexact.bounds.matrices import GRAM_SLACK, matrix_spectral_norm, rounding_margin
from lipexact.bounds.shapes import infer_input_shape
from reductions.validation import as_real, require

__all__ = [
    "PowerResult",
    "TopKResult",
    "power_method",
    "top_k_singular",
    "operator_matrix",
    "exact_operator_norm",
    "check_power_options",
    "POWER_OPTIONS",
    "EXACT_MAX_DIM",
    # re-exported from lipexact.bounds.matrices
    "matrix_spectral_norm",
    "rounding_margin",
    "GRAM_SLACK",
]

#: Operators with at most this many rows and columns are materialized and their SVD computed.
EXACT_MAX_DIM = 4096


@dataclass(frozen=True)
class PowerResult:
    """Outcome of :func:`power_method`.

    Attributes
    ----------
    sigma : float
        ``||A v||`` for the returned unit ``v``: a lower bound on ``||A||_2`` that converges to it.
    v : torch.Tensor
        Right singular vector estimate, shape ``input_shape``, unit norm.
    u : torch.Tensor
        Left singular vector estimate ``A v / sigma``, shape of one output, unit norm (zero if sigma = 0).
    iterations : int
        Iterations run.
    converged : bool
        True when the relative change of every restart's estimate fell below ``rtol``.
    restarts : tuple of float
        The final estimate of each restart.
    """

    sigma: float
    v: torch.Tensor
    u: torch.Tensor
    iterations: int
    converged: bool
    restarts: tuple[float, ...] = ()


@dataclass(frozen=True)
class TopKResult:
    """Outcome of :func:`top_k_singular`: the ``k`` largest singular values, descending.

    ``v`` has shape ``(k, *input_shape)``, ``u`` has shape ``(k, *output_shape)``; row ``i`` of each is a
    unit singular vector pair for ``values[i]`` (Ritz vectors).
    """

    values: torch.Tensor
    v: torch.Tensor
    u: torch.Tensor
    iterations: int
    converged: bool


# ------------------------------------------------------------------------------------------ helpers
def checked_shape(input_shape: Any) -> tuple[int, ...]:
    """``input_shape`` as a tuple of positive integers (an InvalidInputError naming ``input_shape`` otherwise)."""
    require(input_shape is not None, "input_shape", "the shape of one input (no batch dimension)", "None")
    return infer_input_shape(None, tuple(input_shape) if isinstance(input_shape, torch.Size) else input_shape)


def as_map(fn: Any, dtype: torch.dtype, device: torch.device) -> Callable:
    """A module as its eval-mode copy in ``dtype`` on ``device``; any other callable as it is."""
    if isinstance(fn, torch.nn.Module):
        return as_module(fn, dtype=dtype, device=device)
    require(callable(fn), "fn", "a torch.nn.Module or a callable", type(fn).__name__)
    return fn


def centered_map(fn: Callable, input_shape: tuple[int, ...], dtype: torch.dtype,
                 device: torch.device) -> tuple[Callable, tuple[int, ...]]:
    """``v -> fn(v) - fn(0)`` on batches, and the shape of one output."""
    with torch.no_grad():
        offset = fn(torch.zeros((1, *input_shape), dtype=dtype, device=device))
    require(isinstance(offset, torch.Tensor) and offset.dim() >= 1 and offset.shape[0] == 1, "fn",
            "a map from a batch (b, *input_shape) to a tensor (b, ...)",
            f"output {type(offset).__name__} of shape {getattr(offset, 'shape', None)}")
    offset = offset.detach()
    return (lambda v: fn(v) - offset), tuple(offset.shape[1:])


def _gram_apply(g: Callable, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(A v, A^T A v)`` for a batch ``v``: the gradient of ``1/2 ||g(v)||^2`` per batch row."""
    with torch.enable_grad():
        v = v.detach().requires_grad_(True)
        out = g(v)
        (grad,) = torch.autograd.grad(out, v, grad_outputs=out.detach())
    return out.detach(), grad.detach()


def _row_norms(t: torch.Tensor) -> torch.Tensor:
    return t.reshape(t.shape[0], -1).norm(dim=1)


def _random_unit(count: int, shape: tuple[int, ...], seed: int, dtype: torch.dtype,
                 device: torch.device) -> torch.Tensor:
    generator = torch.Generator().manual_seed(int(seed))
    v = torch.randn((count, *shape), generator=generator, dtype=torch.float64).to(dtype=dtype, device=device)
    return v / _row_norms(v).reshape(-1, *([1] * len(shape)))


def _options(iterations: Any, rtol: Any) -> tuple[int, float]:
    require(isinstance(iterations, int) and not isinstance(iterations, bool) and iterations >= 1, "iterations",
            "a positive integer", repr(iterations))
    rtol = float(as_real(rtol, "rtol", minimum=0))
    return iterations, rtol


#: Options of the power method and of the layer-norm dispatch that the bounds pass through.
POWER_OPTIONS = ("iterations", "rtol", "restarts", "exact_max_dim")


def check_power_options(options: dict, seed: Any = 0, allowed: Sequence[str] = POWER_OPTIONS) -> None:
    """Raise :class:`~reductions.validation.InvalidInputError` for an unknown name or a bad value among
    ``options`` (``iterations``, ``rtol``, ``restarts``, ``exact_max_dim``) or a bad ``seed``, before any
    computation (the methods otherwise meet a bad value only where they use it).

    Examples
    --------
    >>> check_power_options({"rtol": 1e-6, "restarts": 2})
    >>> check_power_options({"restarts": 0})
    Traceback (most recent call last):
    ...
    reductions.validation.InvalidInputError: restarts: expected a positive integer, got 0
    """
    unknown = sorted(set(options) - set(allowed))
    require(not unknown, unknown[0] if unknown else "", f"an option among {', '.join(allowed)}", "unknown option")
    _options(options.get("iterations", 1000), options.get("rtol", 1e-8))
    for name, minimum in (("restarts", 1), ("exact_max_dim", 0)):
        value = options.get(name, minimum)
        require(isinstance(value, int) and not isinstance(value, bool) and value >= minimum, name,
                "a positive integer" if minimum else "a non-negative integer", repr(value))
    require(isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed >= 0, "seed",
            "a non-negative integer", repr(seed))


# ------------------------------------------------------------------------------------------ power method
def power_method(fn: Any, input_shape: Sequence[int], *, iterations: int = 1000, rtol: float = 1e-8,
                 restarts: int = 1, seed: int = 0, dtype: Any = torch.float64, device: Any = None) -> PowerResult:
    """Largest singular value of the linear part of an affine map, by power iteration on ``A^T A``.

    Each step is ``v <- grad_v 1/2 ||g(v) - g(0)||^2 = A^T A v``, then ``v <- v / ||v||``; the estimate is
    ``sigma = ||g(v) - g(0)||``. ``restarts`` random starts run together as one batch and the best is
    returned. The estimate is a proven *lower* bound on ``||A||_2`` (see the module policy).

    Parameters
    ----------
    fn : torch.nn.Module or callable
        Affine map applied to batches ``(b, *input_shape)``. A module is used as an eval-mode copy.
    input_shape : sequence of int
        Shape of one input, without the batch dimension.
    iterations : int
        Maximum number of iterations.
    rtol : float
        Stop when every restart's estimate changes by at most ``rtol`` (relative) in one iteration.
    restarts : int
        Number of random starts (batched).
    seed : int
        Seed of the random starts.
    dtype, device
        Computation dtype (float64 by default) and device (see :func:`~lipexact.bounds.device.pick_device`).

    Returns
    -------
    PowerResult

    Examples
    --------
    >>> layer = torch.nn.Linear(2, 2, bias=True, dtype=torch.float64)
    >>> with torch.no_grad():
    ...     _ = layer.weight.copy_(torch.tensor([[3.0, 0.0], [0.0, 1.0]]))
    >>> result = power_method(layer, (2,), device="cpu")
    >>> round(result.sigma, 8), result.converged
    (3.0, True)
    >>> [round(abs(x), 3) for x in result.v.tolist()]
    [1.0, 0.0]

    References
    ----------
    Scaman & Virmaux 2018, arXiv:1805.10965, Algorithm 1 (AutoGrad-compliant power method).
    """
    shape = checked_shape(input_shape)
    iterations, rtol = _options(iterations, rtol)
    require(isinstance(restarts, int) and not isinstance(restarts, bool) and restarts >= 1, "restarts",
            "a positive integer", repr(restarts))
    dtype, device = as_dtype(dtype), pick_device(device)
    g, out_shape = centered_map(as_map(fn, dtype, device), shape, dtype, device)
    expand = (-1, *([1] * len(shape)))

    v = _random_unit(restarts, shape, seed, dtype, device)
    previous = torch.full((restarts,), -1.0, dtype=dtype, device=device)
    converged, done = False, 0
    for done in range(1, iterations + 1):
        out, grad = _gram_apply(g, v)
        sigma = _row_norms(out)
        norms = _row_norms(grad)
        alive = norms > 0
        v = torch.where(alive.reshape(expand), grad / torch.where(alive, norms, 1).reshape(expand), v)
        if bool(torch.all((sigma - previous).abs() <= rtol * sigma)):
            converged = True
            break
        previous = sigma
    with torch.no_grad():
        out = g(v)
    sigma = _row_norms(out)
    best = int(torch.argmax(sigma))
    value = float(sigma[best])
    u = out[best] / value if value > 0 else torch.zeros_like(out[best])
    return PowerResult(value, v[best].detach(), u.detach(), done, converged, tuple(float(s) for s in sigma))


def top_k_singular(fn: Any, input_shape: Sequence[int], k: int, *, iterations: int = 1000, rtol: float = 1e-8,
                   oversample: int = 4, seed: int = 0, dtype: Any = torch.float64, device: Any = None) -> TopKResult:
    """The ``k`` largest singular values of an affine map's linear part, by block subspace iteration.

    A block of ``k + oversample`` orthonormal vectors ``Q`` is multiplied by ``A^T A`` (autograd),
    re-orthonormalized, and the Ritz values are the singular values of ``A Q`` (Rayleigh-Ritz).
    Stops when the ``k`` values change by at most ``rtol`` (relative). Values converge from below.

    Examples
    --------
    >>> layer = torch.nn.Linear(3, 3, bias=False, dtype=torch.float64)
    >>> with torch.no_grad():
    ...     _ = layer.weight.copy_(torch.diag(torch.tensor([1.0, 5.0, 2.0])))
    >>> [round(s, 9) for s in top_k_singular(layer, (3,), 2, device="cpu").values.tolist()]
    [5.0, 2.0]
    """
    shape = checked_shape(input_shape)
    iterations, rtol = _options(iterations, rtol)
    n = math.prod(shape)
    require(isinstance(k, int) and not isinstance(k, bool) and 1 <= k <= n, "k",
            f"an integer between 1 and the input size {n}", repr(k))
    require(isinstance(oversample, int) and oversample >= 0, "oversample", "a non-negative integer", repr(oversample))
    dtype, device = as_dtype(dtype), pick_device(device)
    g, out_shape = centered_map(as_map(fn, dtype, device), shape, dtype, device)
    p = min(n, k + oversample)

    block = _random_unit(p, shape, seed, dtype, device)
    previous = None
    converged, done = False, 0
    for done in range(1, iterations + 1):
        q, _ = torch.linalg.qr(block.reshape(p, n).T)  # (n, p), orthonormal columns
        basis = q.T.reshape(p, *shape)
        out, grad = _gram_apply(g, basis)
        values = torch.linalg.svdvals(out.reshape(p, -1))[:k]
        block = grad
        if previous is not None and bool(torch.all((values - previous).abs() <= rtol * values[0].clamp_min(1e-300))):
            converged = True
            break
        previous = values
    # Rayleigh-Ritz on the last basis: A Q = U_b S W_b^T gives the vectors.
    q, _ = torch.linalg.qr(block.reshape(p, n).T)
    with torch.no_grad():
        out = g(q.T.reshape(p, *shape)).reshape(p, -1)  # rows: (A q_j)^T, i.e. (A Q)^T
    w, s, uh = torch.linalg.svd(out.T, full_matrices=False)  # A Q = w diag(s) uh
    right = (q @ uh.T.conj()).T[:k]  # columns Q uh^T are right singular vectors
    left = w.T[:k]
    return TopKResult(s[:k].detach(), right.reshape(k, *shape).detach(), left.reshape(k, *out_shape).detach(),
                      done, converged)


# ------------------------------------------------------------------------------------------ exact
def operator_matrix(fn: Any, input_shape: Sequence[int], *, dtype: Any = torch.float64, device: Any = None,
                    chunk: int = 1024) -> torch.Tensor:
    """The matrix ``A`` (rows: flattened outputs, columns: flattened inputs) of an affine map's linear part.

    Columns are ``g(e_j) - g(0)``, computed ``chunk`` basis vectors at a time.

    Examples
    --------
    >>> operator_matrix(torch.nn.AvgPool1d(2), (1, 4), device="cpu")
    tensor([[0.5000, 0.5000, 0.0000, 0.0000],
            [0.0000, 0.0000, 0.5000, 0.5000]], dtype=torch.float64)
    """
    shape = checked_shape(input_shape)
    dtype, device = as_dtype(dtype), pick_device(device)
    g, _ = centered_map(as_map(fn, dtype, device), shape, dtype, device)
    n = math.prod(shape)
    columns = []
    with torch.no_grad():
        for start in range(0, n, chunk):
            stop = min(n, start + chunk)
            basis = torch.zeros((stop - start, n), dtype=dtype, device=device)
            basis[torch.arange(stop - start), torch.arange(start, stop)] = 1
            columns.append(g(basis.reshape(-1, *shape)).reshape(stop - start, -1))
    return torch.cat(columns).T


def exact_operator_norm(fn: Any, input_shape: Sequence[int], *, dtype: Any = torch.float64,
                        device: Any = None) -> tuple[float, torch.Tensor]:
    """``(||A||_2, v)`` of the materialized operator (:func:`matrix_spectral_norm`), ``v`` shaped as an input.

    Examples
    --------
    >>> value, v = exact_operator_norm(torch.nn.AvgPool1d(2), (1, 4), device="cpu")
    >>> round(value ** 2, 12)
    0.5
    """
    shape = checked_shape(input_shape)
    value, v = matrix_spectral_norm(operator_matrix(fn, shape, dtype=dtype, device=device))
    return value, v.reshape(shape)
