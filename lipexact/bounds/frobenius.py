"""The Frobenius bound: AutoLip with every affine layer's spectral norm replaced by its Frobenius norm.

For a sequential network with 1-Lipschitz activations this is the classic product of the Frobenius
norms of the layers' unrolled operators (for Linear ``||W||_F``; for a convolution the Frobenius
norm of the whole input-to-output operator, which grows with the input size). Because
``||A||_2 <= ||A||_F`` it is never below AutoLip; it is the loosest bound of the order in DESIGN.md
section 6. The same graph rules as AutoLip apply (residual additions add, activations and max pooling
contribute their constants), so the bound stays valid beyond sequential networks, and operations AutoLip
does not know raise :class:`~lipexact.bounds.errors.UnsupportedOperationError`.

Frobenius norms come in closed form (Linear, convolutions with zero padding, BatchNorm, reshapes:
:func:`lipexact.bounds.affine.frobenius_closed_form`) or from the materialized operator when it has at
most ``exact_max_dim`` rows and columns; a larger layer without a closed form is an error naming it.
Every norm is inflated by :func:`lipexact.bounds.matrices.rounding_margin`, as for AutoLip.
"""

from __future__ import annotations

import math
import time
from typing import Any, Sequence

import torch
from torch import nn

from lipexact.bounds.affine import frobenius_closed_form
from lipexact.bounds.autolip import run_graph_bound
from lipexact.bounds.layer_norm import OperatorNorm
from lipexact.bounds.matrices import rounding_margin
from lipexact.bounds.power import EXACT_MAX_DIM, operator_matrix
from lipexact.result import LipschitzResult, Status
from reductions.validation import require

__all__ = ["frobenius", "frobenius_norm", "validate_frobenius"]


def frobenius_norm(module: nn.Module, input_shape: Sequence[int], *, exact_max_dim: int = EXACT_MAX_DIM,
                   dtype: torch.dtype = torch.float64, device: Any = None) -> tuple[float, str]:
    """``(||A||_F, how)`` for an affine module's unrolled linear part on inputs of ``input_shape``.

    ``how`` is ``"closed_form"`` or ``"exact"`` (materialized operator). Raises
    :class:`~reductions.validation.InvalidInputError` (field ``"module"``) when neither applies.

    Examples
    --------
    >>> layer = nn.Linear(2, 2, bias=False, dtype=torch.float64)
    >>> with torch.no_grad():
    ...     _ = layer.weight.copy_(torch.tensor([[3.0, 0.0], [0.0, 4.0]]))
    >>> frobenius_norm(layer, (2,))
    (5.0, 'closed_form')
    >>> frobenius_norm(nn.AvgPool1d(2), (1, 4))  # four entries 1/2
    (1.0, 'exact')
    """
    closed = frobenius_closed_form(module, tuple(input_shape))
    if closed is not None:
        return closed, "closed_form"
    matrix = operator_matrix(module, input_shape, dtype=dtype, device=device)
    require(max(matrix.shape) <= exact_max_dim, "module",
            f"a layer with a closed-form Frobenius norm or at most {exact_max_dim} rows and columns",
            f"{type(module).__name__} with a {matrix.shape[0]} x {matrix.shape[1]} operator")
    return float(torch.linalg.matrix_norm(matrix, ord="fro")), "exact"


def _check_request(seed: Any, exact_max_dim: Any) -> None:
    require(isinstance(exact_max_dim, int) and not isinstance(exact_max_dim, bool) and exact_max_dim >= 0,
            "exact_max_dim", "a non-negative integer", repr(exact_max_dim))
    require(isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0, "seed", "a non-negative integer",
            repr(seed))


def validate_frobenius(model: Any, input_shape: Sequence[int] | None = None, *, device: Any = None,
                       dtype: Any = torch.float64, seed: int = 0, exact_max_dim: int = EXACT_MAX_DIM) -> None:
    """Raise what :func:`frobenius` raises for bad input (model, input shape, unsupported operations, a
    layer with neither a closed form nor a small enough operator), without computing any norm.

    Examples
    --------
    >>> validate_frobenius(nn.Sequential(nn.Conv1d(1, 1, 2), nn.AvgPool1d(2)), (1, 9), exact_max_dim=3)
    Traceback (most recent call last):
    ...
    lipexact.bounds.errors.UnsupportedOperationError: _1: expected a layer ... 3 rows and columns, got AvgPool1d ...
    """
    _check_request(seed, exact_max_dim)

    def make_norm(dt: torch.dtype, dev: torch.device):
        def layer_norm(module: nn.Module, shape: tuple, name: str) -> OperatorNorm:
            if frobenius_closed_form(module, tuple(shape)) is None:
                with torch.no_grad():
                    out = module(torch.zeros((1, *shape), dtype=dt, device=dev))
                rows, cols = out[0].numel(), math.prod(shape)
                require(max(rows, cols) <= exact_max_dim, "module",
                        f"a layer with a closed-form Frobenius norm or at most {exact_max_dim} rows and columns",
                        f"{type(module).__name__} with a {rows} x {cols} operator")
            return OperatorNorm(1.0, None, True, "skipped")

        return layer_norm

    run_graph_bound(model, input_shape, device, dtype, make_norm)


def frobenius(model: Any, input_shape: Sequence[int] | None = None, *, device: Any = None,
              dtype: Any = torch.float64, seed: int = 0, exact_max_dim: int = EXACT_MAX_DIM) -> LipschitzResult:
    """Upper bound on the l2 Lipschitz constant: the product of the layers' Frobenius norms.

    Parameters
    ----------
    model : torch.nn.Module or TwoLayerReLU
    input_shape : sequence of int, optional
        Shape of one input (no batch dimension); inferred for MLPs and TwoLayerReLU.
    device, dtype
        Where and in which precision to compute (CUDA when available, float64).
    seed : int
        Unused (the bound is deterministic); accepted for the registry signature.
    exact_max_dim : int
        Layers without a closed form are materialized up to this many rows and columns.

    Returns
    -------
    LipschitzResult
        ``Status.UPPER_BOUND``; ``certificate["nodes"]`` lists each node's constant.

    Examples
    --------
    >>> from lipexact.network import TwoLayerReLU
    >>> result = frobenius(TwoLayerReLU([[3, 0], [0, 4]], [[1, 0]]), device="cpu")
    >>> result.status.value, round(result.value, 6)
    ('upper_bound', 5.0)
    """
    start = time.perf_counter()
    _check_request(seed, exact_max_dim)

    def make_norm(dt: torch.dtype, dev: torch.device):
        def layer_norm(module: nn.Module, shape: tuple, name: str) -> OperatorNorm:
            value, how = frobenius_norm(module, shape, exact_max_dim=exact_max_dim, dtype=dt, device=dev)
            return OperatorNorm(value * (1 + rounding_margin(dt)), None, True, how)

        return layer_norm

    value, records, shape = run_graph_bound(model, input_shape, device, dtype, make_norm)
    layers = sum(r["kind"] == "affine" for r in records)
    return LipschitzResult(
        Status.UPPER_BOUND, value, "frobenius", upper=value,
        message=f"product of Frobenius norms of {layers} affine layers (AutoLip rules on the graph)",
        certificate={"nodes": records, "input_shape": list(shape)},
        timings={"total": time.perf_counter() - start}, stats={"nodes": len(records), "affine_layers": layers})

