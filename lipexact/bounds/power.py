"""Spectral norms of affine maps: power iteration, subspace iteration, and certified values.

An affine map ``g(x) = A x + c`` is given as a ``torch.nn.Module`` or a callable taking a batch of
inputs of shape ``(batch, *input_shape)``. Only its linear part matters: everything here works with
``x -> g(x) - g(0)``, and products ``A^T A v`` come from autograd (the gradient of
``1/2 ||g(v) - g(0)||^2`` with respect to ``v``), so no matrix is ever built unless asked for.

Policy: which numbers are proven
--------------------------------
* :func:`power_method` and :func:`top_k_singular` converge to the singular values *from below*.
  ``||A v||`` for a unit ``v`` is a proven lower bound on ``||A||_2``, never an upper bound.
* :func:`spectral_norm` returns an :class:`OperatorNorm` whose ``certified`` flag says whether
  ``upper`` is a proven upper bound. It is proven when it comes from

  - ``"exact"``: the largest singular value of the operator materialized by autograd (at most
    ``exact_max_dim`` rows and columns, 4096 by default): an SVD, or for sides above 512 the top
    eigenvalue of the Gram matrix by Lanczos, proven maximal by a Cholesky factorization of
    ``(1 + 1e-9) theta I - G`` (:func:`matrix_spectral_norm`);
  - ``"closed_form"``: the layer's own parameters (Linear: SVD of the weight; BatchNorm in eval: the
    largest ``|gamma| / sqrt(var + eps)``; Flatten, Identity, Dropout in eval: 1);
  - ``"fft"``: zero-padded convolutions and transposed convolutions too large to materialize. The
    operator is a submatrix of a block-circulant operator on a large enough periodic grid (input
    zero-embedding and zero-insertion are isometries, cropping and striding are projections), whose
    norm is the largest spectral norm of the kernel's Fourier transform over the grid's frequencies;
  - ``"schur"``: operators with non-negative entries (average pooling, nearest / linear upsampling):
    ``||A||_2 <= sqrt(||A||_1 ||A||_inf)``, with the row and column sums read off ``A 1`` and ``A^T 1``.

  Every certified value is inflated by :func:`rounding_margin` (relative ``1e-10`` in float64,
  ``1e-4`` in float32), above the backward error of the SVD and sums involved, so that the bound is
  proven despite floating-point rounding.
* Otherwise (a large operator with no structure known here) ``spectral_norm`` returns the converged
  power-method estimate with ``certified=False``. :func:`~lipexact.bounds.autolip.autolip` then labels
  its result ``Status.HEURISTIC`` and names the layers concerned; nothing is silently called a bound.
  There is no safety factor: no factor turns a power-method estimate into a proof.

References
----------
Scaman, K. & Virmaux, A. Lipschitz regularity of deep neural networks: analysis and efficient
estimation. NeurIPS 2018, arXiv:1805.10965 (autograd-compliant power method).

Sedghi, H., Gupta, V. & Long, P. M. The singular values of convolutional layers. ICLR 2019,
arXiv:1805.10408 (singular values of circular convolutions through the Fourier transform).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import torch

from lipexact.bounds.device import as_dtype, as_module, pick_device
from lipexact.bounds.layers import infer_input_shape
from lipexact.result import LipschitzResult, Status
from reductions.validation import as_real, require

__all__ = [
    "PowerResult",
    "TopKResult",
    "OperatorNorm",
    "power_method",
    "top_k_singular",
    "operator_matrix",
    "exact_operator_norm",
    "matrix_spectral_norm",
    "spectral_norm",
    "rounding_margin",
    "affine_lipschitz",
    "validate_power",
    "check_power_options",
    "POWER_OPTIONS",
    "EXACT_MAX_DIM",
]

#: Operators with at most this many rows and columns are materialized and their SVD computed.
EXACT_MAX_DIM = 4096

_MARGINS = {torch.float64: 1e-10, torch.float32: 1e-4, torch.float16: 1e-2, torch.bfloat16: 1e-1}


def rounding_margin(dtype: torch.dtype) -> float:
    """Relative inflation applied to certified norms computed in ``dtype``.

    Examples
    --------
    >>> rounding_margin(torch.float64)
    1e-10
    """
    return _MARGINS.get(dtype, 1e-4)


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


@dataclass(frozen=True)
class OperatorNorm:
    """A layer's spectral norm: the value used as its constant, and whether it is proven.

    Attributes
    ----------
    value : float
        The proven upper bound when ``certified``; otherwise the power-method estimate.
    lower : float or None
        A proven lower bound (``||A v||`` for a unit ``v``), when one was computed.
    certified : bool
        True when ``value`` is a proven upper bound on ``||A||_2``.
    method : str
        ``"exact"``, ``"closed_form"``, ``"fft"``, ``"schur"`` or ``"power"`` (see the module policy).
    details : dict
        Sizes and diagnostics (rows, columns, iterations, ...).
    """

    value: float
    lower: float | None
    certified: bool
    method: str
    details: dict = field(default_factory=dict)


# ------------------------------------------------------------------------------------------ helpers
def _shape(input_shape: Any) -> tuple[int, ...]:
    require(input_shape is not None, "input_shape", "the shape of one input (no batch dimension)", "None")
    return infer_input_shape(None, tuple(input_shape) if isinstance(input_shape, torch.Size) else input_shape)


def _prepare(fn: Any, dtype: torch.dtype, device: torch.device) -> Callable:
    if isinstance(fn, torch.nn.Module):
        return as_module(fn, dtype=dtype, device=device)
    require(callable(fn), "fn", "a torch.nn.Module or a callable", type(fn).__name__)
    return fn


def _centered(fn: Callable, input_shape: tuple[int, ...], dtype: torch.dtype,
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
    shape = _shape(input_shape)
    iterations, rtol = _options(iterations, rtol)
    require(isinstance(restarts, int) and not isinstance(restarts, bool) and restarts >= 1, "restarts",
            "a positive integer", repr(restarts))
    dtype, device = as_dtype(dtype), pick_device(device)
    g, out_shape = _centered(_prepare(fn, dtype, device), shape, dtype, device)
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
    shape = _shape(input_shape)
    iterations, rtol = _options(iterations, rtol)
    n = math.prod(shape)
    require(isinstance(k, int) and not isinstance(k, bool) and 1 <= k <= n, "k",
            f"an integer between 1 and the input size {n}", repr(k))
    require(isinstance(oversample, int) and oversample >= 0, "oversample", "a non-negative integer", repr(oversample))
    dtype, device = as_dtype(dtype), pick_device(device)
    g, out_shape = _centered(_prepare(fn, dtype, device), shape, dtype, device)
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
    shape = _shape(input_shape)
    dtype, device = as_dtype(dtype), pick_device(device)
    g, _ = _centered(_prepare(fn, dtype, device), shape, dtype, device)
    n = math.prod(shape)
    columns = []
    with torch.no_grad():
        for start in range(0, n, chunk):
            stop = min(n, start + chunk)
            basis = torch.zeros((stop - start, n), dtype=dtype, device=device)
            basis[torch.arange(stop - start), torch.arange(start, stop)] = 1
            columns.append(g(basis.reshape(-1, *shape)).reshape(stop - start, -1))
    return torch.cat(columns).T


#: Relative slack of the Cholesky certificate of a Gram matrix's largest eigenvalue.
GRAM_SLACK = 1e-9


def _gram(A: torch.Tensor) -> tuple[torch.Tensor, Any]:
    """``A^T A`` as a dense tensor, and as the operand for Lanczos (scipy sparse when ``A`` is sparse)."""
    if A.device.type == "cpu" and float((A != 0).float().mean()) < 0.1:
        import scipy.sparse

        sparse = scipy.sparse.csr_matrix(A.numpy())
        gram = (sparse.T @ sparse).tocsr()
        return torch.as_tensor(gram.toarray(), dtype=A.dtype), gram
    G = A.T @ A
    return G, G.double().cpu().numpy()


def _top_eigenvalue(G: torch.Tensor, operand: Any) -> tuple[float, torch.Tensor]:
    """A proven upper bound on ``lambda_max(G)`` (within ``GRAM_SLACK``) and an eigenvector estimate.

    Lanczos (scipy ``eigsh``) gives ``theta``; a Cholesky factorization of ``(1 + GRAM_SLACK) theta I - G``
    proves that nothing is larger. If the factorization fails (``theta`` was not the top eigenvalue),
    the full eigendecomposition decides.
    """
    import scipy.sparse.linalg

    n = G.shape[0]
    try:
        values, vectors = scipy.sparse.linalg.eigsh(operand, k=1, which="LA", tol=1e-13, v0=np.ones(n))
        theta, vector = float(values[0]), torch.as_tensor(vectors[:, 0], dtype=G.dtype, device=G.device)
    except scipy.sparse.linalg.ArpackError:
        theta, vector = 0.0, None
    if theta > 0:
        bound = theta * (1 + GRAM_SLACK)
        shifted = bound * torch.eye(n, dtype=G.dtype, device=G.device) - G
        if int(torch.linalg.cholesky_ex(shifted).info) == 0:
            return bound, vector
    eigenvalues, eigenvectors = torch.linalg.eigh(G)
    return float(eigenvalues[-1].clamp_min(0)), eigenvectors[:, -1]


def matrix_spectral_norm(A: torch.Tensor) -> tuple[float, torch.Tensor]:
    """``(||A||_2, v)`` for an explicit matrix: the norm (never below the true one, by more than
    rounding) and a unit top right singular vector.

    SVD when the smaller side has at most 512 entries; otherwise the Gram matrix of the smaller side
    and :func:`_top_eigenvalue` (value exact to a relative ``GRAM_SLACK / 2``, certified by Cholesky).

    Examples
    --------
    >>> value, v = matrix_spectral_norm(torch.tensor([[3.0, 0.0], [0.0, -4.0]], dtype=torch.float64))
    >>> value, v.abs().tolist()
    (4.0, [0.0, 1.0])
    """
    rows, cols = A.shape
    if rows == 0 or cols == 0 or not bool(torch.any(A != 0)):
        return 0.0, torch.zeros(cols, dtype=A.dtype, device=A.device)
    if min(rows, cols) <= 512:
        _, s, vh = torch.linalg.svd(A, full_matrices=False)
        return float(s[0]), vh[0]
    if cols <= rows:
        value, v = _top_eigenvalue(*_gram(A))
    else:
        value, u = _top_eigenvalue(*_gram(A.T))
        v = A.T @ u
    return math.sqrt(value), v / v.norm()


def exact_operator_norm(fn: Any, input_shape: Sequence[int], *, dtype: Any = torch.float64,
                        device: Any = None) -> tuple[float, torch.Tensor]:
    """``(||A||_2, v)`` of the materialized operator (:func:`matrix_spectral_norm`), ``v`` shaped as an input.

    Examples
    --------
    >>> value, v = exact_operator_norm(torch.nn.AvgPool1d(2), (1, 4), device="cpu")
    >>> round(value ** 2, 12)
    0.5
    """
    shape = _shape(input_shape)
    value, v = matrix_spectral_norm(operator_matrix(fn, shape, dtype=dtype, device=device))
    return value, v.reshape(shape)


# ------------------------------------------------------------------------------------------ dispatch
def spectral_norm(layer: Any, input_shape: Sequence[int], *, exact_max_dim: int = EXACT_MAX_DIM,
                  dtype: Any = torch.float64, device: Any = None, iterations: int = 1000, rtol: float = 1e-8,
                  restarts: int = 1, seed: int = 0) -> OperatorNorm:
    """The spectral norm of an affine layer's linear part, certified wherever possible.

    See the module docstring for the policy: closed forms, exact SVD up to ``exact_max_dim`` rows and
    columns, FFT bounds for large convolutions, Schur bounds for large non-negative operators, and
    otherwise an uncertified power-method estimate.

    Parameters
    ----------
    layer : torch.nn.Module or callable
        The affine layer (any batched affine callable).
    input_shape : sequence of int
        Shape of one input of the layer (no batch dimension).

    Returns
    -------
    OperatorNorm

    Examples
    --------
    >>> conv = torch.nn.Conv2d(1, 1, 3, padding=1, bias=False, dtype=torch.float64)
    >>> with torch.no_grad():
    ...     _ = conv.weight.fill_(1.0)
    >>> small = spectral_norm(conv, (1, 4, 4), device="cpu")
    >>> small.method, small.certified, round(small.value, 6) <= 9
    ('exact', True, True)
    >>> large = spectral_norm(conv, (1, 80, 80), device="cpu")
    >>> large.method, large.certified, round(large.value, 6)
    ('fft', True, 9.0)
    """
    from lipexact.bounds import affine

    shape = _shape(input_shape)
    require(isinstance(exact_max_dim, int) and exact_max_dim >= 0, "exact_max_dim", "a non-negative integer",
            repr(exact_max_dim))
    dtype, device = as_dtype(dtype), pick_device(device)
    fn = _prepare(layer, dtype, device)
    margin = 1 + rounding_margin(dtype)

    closed = affine.closed_form_norm(fn, shape) if isinstance(fn, torch.nn.Module) else None
    if closed is not None:
        return OperatorNorm(closed * margin, closed, True, "closed_form", {})

    _, out_shape = _centered(fn, shape, dtype, device)
    rows, cols = math.prod(out_shape), math.prod(shape)
    details = {"rows": rows, "columns": cols}
    if rows <= exact_max_dim and cols <= exact_max_dim:
        value, _ = exact_operator_norm(fn, shape, dtype=dtype, device=device)
        return OperatorNorm(value * margin, value, True, "exact", details)

    structured = None
    if isinstance(fn, torch.nn.Module):
        if affine.fft_applies(fn):
            structured = ("fft", affine.conv_fft_bound(fn, shape))
        elif affine.nonnegative_operator(fn):
            structured = ("schur", affine.schur_bound(fn, shape, dtype=dtype, device=device))
    if structured is not None:
        return OperatorNorm(structured[1] * margin, None, True, structured[0], details)

    estimate = power_method(fn, shape, iterations=iterations, rtol=rtol, restarts=restarts, seed=seed,
                            dtype=dtype, device=device)
    details.update(iterations=estimate.iterations, converged=estimate.converged, rtol=rtol)
    return OperatorNorm(estimate.sigma, estimate.sigma, False, "power", details)


# ------------------------------------------------------------------------------------------ registry
def _affine_request(model, input_shape, device, dtype, seed, options):
    from lipexact.bounds.autolip import check_affine

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
    lipexact.bounds.autolip.UnsupportedOperationError: _1: expected an affine operation (...), got ReLU
    """
    _affine_request(model, input_shape, device, dtype, seed, options)


def affine_lipschitz(model: Any, *, input_shape: Sequence[int] | None = None, device: Any = None,
                     dtype: Any = torch.float64, seed: int = 0, **options: Any) -> LipschitzResult:
    """The Lipschitz constant of an affine model (registry method ``"power"``): its spectral norm.

    The model must be affine: its torch.fx graph may contain only affine operations (linear layers,
    convolutions, pooling by averages, batch normalization in eval, reshapes, sums and scalings);
    anything else raises :class:`~lipexact.bounds.autolip.UnsupportedOperationError`. The value is
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
    _, out_shape = _centered(module, shape, dtype, device)
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
