"""The l2 Lipschitz constant of max-pooling layers, from their windows (leaf module of :mod:`lipexact.bounds`).

Used by AutoLip (a max-pooling node) and by SeqLip (a max-pooling splits the network into chains).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

from torch import nn

from reductions.validation import require

__all__ = ["maxpool_constant", "MAXPOOLS"]

#: Max-pooling module types (the functional forms become these modules).
MAXPOOLS = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d,
            nn.AdaptiveMaxPool3d)


def _windows_per_element(length: int, out_length: int, kernel: int, stride: int, padding: int,
                         dilation: int) -> list[int]:
    counts = [0] * length
    for o in range(out_length):
        for j in range(kernel):
            i = o * stride - padding + j * dilation
            if 0 <= i < length:
                counts[i] += 1
    return counts


def _adaptive_windows_per_element(length: int, out_length: int) -> list[int]:
    counts = [0] * length
    for o in range(out_length):
        for i in range((o * length) // out_length, -(-((o + 1) * length) // out_length)):
            counts[i] += 1
    return counts


def maxpool_constant(module: nn.Module, in_shape: Sequence[int], out_shape: Sequence[int]) -> float:
    """``sqrt(max number of windows covering one input element)`` for a max-pooling module.

    ``in_shape`` and ``out_shape`` are the traced shapes (any leading dimensions); the spatial axes are
    the last 1, 2 or 3. Window counts are products over axes, so the maximum is the product of the
    per-axis maxima.

    Examples
    --------
    >>> maxpool_constant(nn.MaxPool2d(2), (1, 4, 4), (1, 2, 2))
    1.0
    >>> maxpool_constant(nn.MaxPool2d(3, stride=1), (1, 5, 5), (1, 3, 3))
    3.0
    """
    dims = {nn.MaxPool1d: 1, nn.MaxPool2d: 2, nn.MaxPool3d: 3, nn.AdaptiveMaxPool1d: 1,
            nn.AdaptiveMaxPool2d: 2, nn.AdaptiveMaxPool3d: 3}[type(module)]
    require(not module.return_indices, "module", "max pooling without return_indices", type(module).__name__)
    lengths, outs = list(in_shape[-dims:]), list(out_shape[-dims:])

    def per_axis(value: Any) -> list[int]:
        return list(value) if isinstance(value, (tuple, list)) else [value] * dims

    worst = 1
    if isinstance(module, (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)):
        stride = module.stride if module.stride is not None else module.kernel_size
        for length, out, k, s, p, d in zip(lengths, outs, per_axis(module.kernel_size), per_axis(stride),
                                           per_axis(module.padding), per_axis(module.dilation)):
            worst *= max(_windows_per_element(length, out, k, s, p, d))
    else:
        for length, out in zip(lengths, outs):
            worst *= max(_adaptive_windows_per_element(length, out))
    return math.sqrt(worst)

