"""The spectral norm of one affine layer, certified wherever possible: which method for which layer.

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
    ``(1 + 1e-9) theta I - G`` (:func:`lipexact.bounds.matrices.matrix_spectral_norm`); and zero-padded
    convolutions whose SMALLER side has at most ``min(exact_max_dim, 2048)`` entries
    (:data:`lipexact.bounds.conv_matrix.SPARSE_GRAM_MAX_SIDE`; ``exact_max_dim=0`` turns every exact path off,
    for speed; tried before the materialization, which costs more): the Gram matrix of the smaller side formed
    from the kernel (:func:`lipexact.bounds.conv_matrix.certified_conv_norm`), and a Cholesky
    certificate whose rounding (formation and factorization) is bounded explicitly: within a few ``1e-10`` of
    the exact norm, where the FFT bound below is 2-3% above it on the MNIST CNNs' strided layers;
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
from dataclasses import dataclass, field
from typing import Any, Sequence

import torch

from lipexact.bounds import affine
from lipexact.bounds.device import as_dtype, pick_device
from lipexact.bounds.conv_matrix import SPARSE_GRAM_MAX_SIDE, certified_conv_norm
from lipexact.bounds.matrices import rounding_margin
from lipexact.bounds.power import (EXACT_MAX_DIM, as_map, centered_map, checked_shape, exact_operator_norm,
                                   power_method)
from reductions.validation import require

__all__ = ["OperatorNorm", "spectral_norm"]


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
    shape = checked_shape(input_shape)
    require(isinstance(exact_max_dim, int) and exact_max_dim >= 0, "exact_max_dim", "a non-negative integer",
            repr(exact_max_dim))
    dtype, device = as_dtype(dtype), pick_device(device)
    fn = as_map(layer, dtype, device)
    margin = 1 + rounding_margin(dtype)

    closed = affine.closed_form_norm(fn, shape) if isinstance(fn, torch.nn.Module) else None
    if closed is not None:
        return OperatorNorm(closed * margin, closed, True, "closed_form", {})

    _, out_shape = centered_map(fn, shape, dtype, device)
    rows, cols = math.prod(out_shape), math.prod(shape)
    details = {"rows": rows, "columns": cols}
    # a convolution's matrix from its kernel costs less than materializing it through autograd
    if isinstance(fn, torch.nn.Module) and min(rows, cols) <= min(exact_max_dim, SPARSE_GRAM_MAX_SIDE):
        value = certified_conv_norm(fn, shape)
        if value is not None:
            details.update(via="Gram matrix of the smaller side, formed from the kernel")
            return OperatorNorm(value, None, True, "exact", details)

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
