"""What the bounds know about affine layers: closed-form norms and structured certified bounds.

Used by :func:`lipexact.bounds.layer_norm.spectral_norm` (spectral norms) and
:mod:`lipexact.bounds.frobenius` (Frobenius norms). Every function here takes an eval-mode module and
the shape of one of its inputs (no batch dimension), and returns a float or None ("not known here").
"""

from __future__ import annotations

import itertools
import math
from typing import Sequence

import torch
from torch import nn

from lipexact.bounds.matrices import matrix_spectral_norm
from reductions.validation import require

__all__ = [
    "AFFINE_MODULES",
    "IDENTITY_LIKE",
    "closed_form_norm",
    "fft_applies",
    "conv_fft_bound",
    "largest_block_norm_squared",
    "nonnegative_operator",
    "schur_bound",
    "frobenius_closed_form",
]

_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_TRANSPOSED = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
_BATCHNORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
_AVERAGES = (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d,
             nn.AdaptiveAvgPool3d)
_DROPOUTS = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.FeatureAlphaDropout)
#: Modules whose linear part is an isometric reshaping or zero-embedding (norm exactly 1); Dropout in eval.
IDENTITY_LIKE = (nn.Identity, nn.Flatten, nn.Unflatten, nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d,
                 nn.AlphaDropout, nn.FeatureAlphaDropout, nn.ZeroPad1d, nn.ZeroPad2d, nn.ZeroPad3d,
                 nn.ConstantPad1d, nn.ConstantPad2d, nn.ConstantPad3d)
#: Module types treated as affine maps (in eval mode).
AFFINE_MODULES = (nn.Linear,) + _CONVS + _TRANSPOSED + _BATCHNORMS + _AVERAGES + (nn.Upsample,) + IDENTITY_LIKE

_NONNEGATIVE_UPSAMPLING = {"nearest", "nearest-exact", "linear", "bilinear", "trilinear"}


def batchnorm_scale(module: nn.Module) -> torch.Tensor:
    """Per-channel slope ``gamma / sqrt(running_var + eps)`` of a BatchNorm in eval mode."""
    require(module.running_var is not None and not module.training, "module",
            "a BatchNorm in eval mode with running statistics (track_running_stats=True)",
            f"{type(module).__name__} using batch statistics")
    scale = 1 / torch.sqrt(module.running_var + module.eps)
    return scale * module.weight if module.weight is not None else scale


def _check_channels(module: nn.Module, shape: Sequence[int], axis: int, expected: int) -> None:
    have = shape[axis] if -len(shape) <= axis < len(shape) else None
    require(have == expected, "input_shape", f"{expected} features on axis {axis} for {type(module).__name__}",
            repr(tuple(shape)))


def _dropout_in_eval(module: nn.Module) -> None:
    require(not module.training or not isinstance(module, _DROPOUTS), "module", f"{type(module).__name__} in eval mode (an identity)", "training mode")


def closed_form_norm(module: nn.Module, shape: Sequence[int]) -> float | None:
    """The spectral norm of the linear part read off the parameters, or None if there is no closed form.

    Linear (any leading dimensions: block-diagonal copies of ``W``): ``||W||_2``; BatchNorm in eval:
    ``max |gamma| / sqrt(var + eps)``; identity-like modules (reshapes, zero padding, Dropout in eval): 1.

    Examples
    --------
    >>> closed_form_norm(nn.Flatten(), (2, 3))
    1.0
    """
    if isinstance(module, nn.Linear):
        _check_channels(module, shape, -1, module.in_features)
        return matrix_spectral_norm(module.weight.detach())[0]
    if isinstance(module, _BATCHNORMS):
        _check_channels(module, shape, 0, module.num_features)
        return float(batchnorm_scale(module).detach().abs().max())
    if isinstance(module, IDENTITY_LIKE):
        _dropout_in_eval(module)
        return 1.0
    return None


def frobenius_closed_form(module: nn.Module, shape: Sequence[int]) -> float | None:
    """The Frobenius norm of the unrolled linear part, or None if not known in closed form.

    Linear: ``sqrt(T) ||W||_F`` for ``T`` rows of inputs; BatchNorm: ``sqrt(sum_c s_c^2 * spatial)``;
    identity-like modules: 1 (their spectral norm, the factor the product uses);
    zero-padded convolutions and transposed convolutions: every entry of the unrolled operator is
    one kernel weight (or zero), so the squared row norms are the convolution of an all-ones input
    with the squared kernel.

    Examples
    --------
    >>> conv = nn.Conv1d(1, 1, 2, bias=False, dtype=torch.float64)
    >>> with torch.no_grad():
    ...     _ = conv.weight.copy_(torch.tensor([[[3.0, 4.0]]]))
    >>> frobenius_closed_form(conv, (1, 3))  # two output rows of norm 5
    7.0710678118654755
    """
    if isinstance(module, nn.Linear):
        _check_channels(module, shape, -1, module.in_features)
        copies = math.prod(shape[:-1])
        return math.sqrt(copies) * float(torch.linalg.matrix_norm(module.weight.detach(), ord="fro"))
    if isinstance(module, _BATCHNORMS):
        _check_channels(module, shape, 0, module.num_features)
        spatial = math.prod(shape[1:])
        return math.sqrt(spatial * float((batchnorm_scale(module).detach() ** 2).sum()))
    if isinstance(module, IDENTITY_LIKE):
        _dropout_in_eval(module)
        return 1.0
    if fft_applies(module):
        squared = module.weight.detach() ** 2
        ones = torch.ones((1, *shape), dtype=squared.dtype, device=squared.device)
        with torch.no_grad():
            if isinstance(module, _CONVS):
                rows = module._conv_forward(ones, squared, None)
            else:
                convolve = (torch.nn.functional.conv_transpose1d, torch.nn.functional.conv_transpose2d,
                            torch.nn.functional.conv_transpose3d)[len(module.kernel_size) - 1]
                rows = convolve(ones, squared, None, module.stride, module.padding, module.output_padding,
                                module.groups, module.dilation)
        return math.sqrt(float(rows.sum()))
    return None


# ------------------------------------------------------------------------------------------ FFT
def fft_applies(module: nn.Module) -> bool:
    """True for convolutions and transposed convolutions with zero padding (the FFT bound's setting)."""
    return isinstance(module, _CONVS + _TRANSPOSED) and module.padding_mode == "zeros"


def _dense_taps(module: nn.Module) -> torch.Tensor:
    """Kernel as dense per-tap matrices, shape ``(a, b, *kernel)``; groups become block-diagonal blocks.

    For a convolution rows are output channels; for a transposed convolution rows are input
    channels (the transpose of its tap matrices, with the same singular values).
    """
    weight = module.weight.detach()
    rows_per_group, cols_per_group = weight.shape[0] // module.groups, weight.shape[1]
    dense = weight.new_zeros((weight.shape[0], cols_per_group * module.groups, *weight.shape[2:]))
    for group in range(module.groups):
        rows = slice(group * rows_per_group, (group + 1) * rows_per_group)
        cols = slice(group * cols_per_group, (group + 1) * cols_per_group)
        dense[rows, cols] = weight[rows]
    return dense


def _polyphase_taps(module: nn.Module) -> torch.Tensor:
    """Stride-1 taps equivalent to the strided, dilated kernel: shape ``(a, b * prod(s), *q)``.

    Tap ``t`` sits at offset ``t d = s q + r`` along each axis; it becomes tap ``q`` of phase ``r``. For a
    convolution the phases split the (padded) input into ``prod(s)`` interleaved sub-grids; for a
    transposed convolution they split its output. Either way the rearrangement is a permutation of
    coordinates, and what remains is a stride-1 convolution.
    """
    taps = _dense_taps(module)
    rows, cols, kernel = taps.shape[0], taps.shape[1], tuple(taps.shape[2:])
    strides, dilations = tuple(module.stride), tuple(module.dilation)
    lengths = tuple(d * (k - 1) // s + 1 for d, k, s in zip(dilations, kernel, strides))
    phases = math.prod(strides)
    poly = taps.new_zeros((rows, cols, *strides, *lengths))
    for tap in itertools.product(*(range(k) for k in kernel)):
        offsets = [t * d for t, d in zip(tap, dilations)]
        phase = tuple(o % s for o, s in zip(offsets, strides))
        shift = tuple(o // s for o, s in zip(offsets, strides))
        poly[(slice(None), slice(None)) + phase + shift] = taps[(slice(None), slice(None)) + tap]
    return poly.reshape(rows, cols * phases, *lengths)


def conv_fft_bound(module: nn.Module, shape: Sequence[int], max_bytes: int = 1 << 28) -> float:
    """A proven upper bound on the spectral norm of a zero-padded (transposed) convolution.

    Along each spatial axis the layer is ``P C E``: ``E`` embeds the input isometrically (zero padding,
    then the polyphase rearrangement of :func:`_polyphase_taps`, which absorbs stride and dilation),
    ``C`` is a full linear stride-1 convolution with matrix-valued taps, ``P`` keeps some coordinates
    (valid windows, cropping). ``C`` is a submatrix of the circular convolution on a periodic grid
    large enough to avoid wrap-around, and the DFT block-diagonalizes that one: its norm is the
    largest ``||K^(w)||_2`` over the grid's frequencies ``w``. Frequencies ``w`` and ``-w`` give
    conjugate matrices, so half of them are evaluated. For large inputs the bound is nearly tight.

    Examples
    --------
    >>> conv = nn.Conv1d(1, 1, 2, bias=False, dtype=torch.float64)
    >>> with torch.no_grad():
    ...     _ = conv.weight.copy_(torch.tensor([[[1.0, 1.0]]]))
    >>> round(conv_fft_bound(conv, (1, 10)), 12)  # |1 + e^{-iw}| <= 2
    2.0

    References
    ----------
    Sedghi, Gupta & Long 2019, arXiv:1805.10408 (singular values of circular convolutions).
    """
    require(fft_applies(module), "module", "a zero-padded Conv or ConvTranspose", type(module).__name__)
    dims = len(module.kernel_size)
    require(len(shape) == dims + 1 and shape[0] == module.in_channels, "input_shape",
            f"({module.in_channels}, <{dims} spatial sizes>) for {type(module).__name__}", repr(tuple(shape)))
    taps = _polyphase_taps(module)
    lengths = taps.shape[2:]
    padding = module.padding if not isinstance(module.padding, str) else tuple(
        d * (k - 1) for d, k in zip(module.dilation, module.kernel_size))
    # Polyphase sub-grids are no longer than the padded input; add room for the full convolution.
    grid = [size + 2 * pad + 2 * q + 2 for size, pad, q in zip(shape[1:], padding, lengths)]
    # Taps laid out on the grid along every axis but the first, which is transformed per frequency chunk.
    placed = taps.new_zeros((*taps.shape[:2], lengths[0], *grid[1:]))
    placed[(slice(None),) * 3 + tuple(slice(0, q) for q in lengths[1:])] = taps
    complex_dtype = torch.complex128 if taps.dtype == torch.float64 else torch.complex64
    if dims > 1:
        spectrum = torch.fft.rfft(placed, dim=-1)
        middle = tuple(range(3, dims + 1))
        if middle:
            spectrum = torch.fft.fftn(spectrum, dim=middle)
        first_axis = torch.arange(grid[0], device=taps.device)
    else:
        spectrum = placed.to(complex_dtype)
        first_axis = torch.arange(grid[0] // 2 + 1, device=taps.device)
    phase_taps = torch.arange(lengths[0], device=taps.device, dtype=taps.dtype)
    per_frequency = spectrum[:, :, 0].numel() * spectrum.element_size()
    chunk = max(1, min(len(first_axis), max_bytes // max(1, per_frequency)))
    best = 0.0  # the largest squared block norm
    for start in range(0, len(first_axis), chunk):
        freqs = first_axis[start:start + chunk].to(taps.dtype)
        phases = torch.exp(-2j * math.pi * torch.outer(freqs, phase_taps) / grid[0]).to(spectrum.dtype)
        block = torch.einsum("ft,abt...->f...ab", phases, spectrum)
        best = max(best, largest_block_norm_squared(block.reshape(-1, *block.shape[-2:])))
    return math.sqrt(best)


def largest_block_norm_squared(blocks: torch.Tensor) -> float:
    """``max_f ||blocks[f]||_2^2`` for a batch of (complex) matrices: the top eigenvalue of each block's Gram
    matrix on its smaller side (``eigvalsh``), about 1.6 times faster than an SVD of every block.

    Forming the Gram matrix and ``eigvalsh`` are backward stable: the value is exact up to a relative
    ``O(n eps)`` (about ``1e-14`` for blocks of a few hundred columns in float64), well inside the rounding
    margin every certified norm is inflated by (:func:`lipexact.bounds.matrices.rounding_margin`).

    Examples
    --------
    >>> blocks = torch.tensor([[[3.0, 0.0], [0.0, 1.0]], [[0.0, 2.0], [2.0, 0.0]]], dtype=torch.float64)
    >>> round(largest_block_norm_squared(blocks), 12)
    9.0
    """
    if blocks.numel() == 0:
        return 0.0
    rows, cols = blocks.shape[-2:]
    gram = blocks @ blocks.mH if rows <= cols else blocks.mH @ blocks
    return float(torch.linalg.eigvalsh(gram)[..., -1].max().clamp_min(0))


# ------------------------------------------------------------------------------------------ Schur
def nonnegative_operator(module: nn.Module) -> bool:
    """True for modules whose unrolled operator has only non-negative entries (averages, upsampling)."""
    if isinstance(module, _AVERAGES):
        divisor = getattr(module, "divisor_override", None)
        return divisor is None or divisor > 0
    return isinstance(module, nn.Upsample) and module.mode in _NONNEGATIVE_UPSAMPLING


def schur_bound(module: nn.Module, shape: Sequence[int], *, dtype: torch.dtype = torch.float64,
                device: torch.device | None = None) -> float:
    """``sqrt(max row sum * max column sum)`` of a non-negative operator: a proven bound on ``||A||_2``.

    Row sums are ``A 1``, column sums ``A^T 1`` (one backward pass).

    Examples
    --------
    >>> schur_bound(nn.AvgPool1d(2), (1, 8))  # 1/2-entries, disjoint windows: exactly 1/sqrt(2)
    0.7071067811865476
    """
    require(nonnegative_operator(module), "module", "an averaging or upsampling module", type(module).__name__)
    ones = torch.ones((1, *shape), dtype=dtype, device=device, requires_grad=True)
    with torch.enable_grad():
        zero = torch.zeros_like(ones)
        out = module(ones) - module(zero).detach()
        (columns,) = torch.autograd.grad(out, ones, grad_outputs=torch.ones_like(out))
    return math.sqrt(float(out.detach().max()) * float(columns.max()))
