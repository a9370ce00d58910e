"""A feed-forward network as a chain ``affine -> activation -> affine -> ... -> affine``.

SeqLip and the kink checks of the lower bounds need the network as a sequence of affine maps (Linear,
convolutions, average pooling, batch normalization in eval mode, reshapes) separated by coordinatewise
activations whose derivative lies in a known interval ``[slope_low, slope_high]``.
:func:`extract_chain` reads that structure from the layers of any chain model
(:func:`lipexact.bounds.chain.chain_layers`: an ``nn.Sequential``, a :class:`~lipexact.network.TwoLayerReLU`,
a custom module whose torch.fx graph is a chain); a model that is not a chain, or a layer outside these
kinds, is refused with a :class:`~lipexact.bounds.errors.NotApplicableError` naming the layer.

Consecutive affine modules are merged into one :class:`AffineBlock`; consecutive activations are
merged into one :class:`Activation` (the derivative of a composition of coordinatewise maps is the
product of the derivatives). An activation before the first or after the last affine block only
scales the Lipschitz constant by at most its largest absolute slope; it is kept in
:attr:`LayerChain.leading` / :attr:`LayerChain.trailing`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch
from torch import nn

from lipexact.bounds.chain import chain_layers
from lipexact.bounds.device import as_dtype, pick_device
from lipexact.bounds.errors import NotApplicableError
from lipexact.bounds.layer_kinds import Activation, describe_activation, is_chain_affine, is_dropout, is_maxpool
from lipexact.bounds.maxpool import maxpool_constant
from lipexact.bounds.shapes import infer_input_shape
from reductions.validation import InvalidInputError

__all__ = ["Activation", "AffineBlock", "LayerChain", "Pooling", "SegmentedChain", "extract_chain",
           "extract_segments", "infer_input_shape"]

#: Largest number of entries of a block's dense matrix that :meth:`AffineBlock.matrix` builds by default.
DEFAULT_MAX_UNROLL = 1 << 22

@dataclass
class AffineBlock:
    """Consecutive affine modules composed: ``x -> modules[-1](...modules[0](x))``.

    ``in_shape`` and ``out_shape`` exclude the batch dimension.
    """

    modules: list
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]

    @property
    def in_dim(self) -> int:
        return math.prod(self.in_shape)

    @property
    def out_dim(self) -> int:
        return math.prod(self.out_shape)

    @property
    def is_dense(self) -> bool:
        """True when every module is a Linear layer or a reshape (the matrix is a product of weights)."""
        return all(isinstance(m, (nn.Linear, nn.Flatten, nn.Unflatten, nn.Identity)) or is_dropout(m)
                   for m in self.modules)

    @property
    def device(self) -> torch.device:
        """Where the modules' parameters live (the CPU for parameter-free blocks)."""
        for module in self.modules:
            for parameter in module.parameters():
                return parameter.device
        return torch.device("cpu")

    def __call__(self, x):
        for module in self.modules:
            x = module(x)
        return x

    def linear(self, v):
        """The linear part ``g(v) - g(0)`` on a batch ``v`` of shape ``(k, *in_shape)``."""
        return self(v) - self(torch.zeros_like(v[:1]))

    def operator(self) -> Callable:
        """The linear part as a function of flat vectors: ``(k, in_dim) -> (k, out_dim)``."""

        def apply(v):
            return self.linear(v.reshape(v.shape[0], *self.in_shape)).reshape(v.shape[0], -1)

        return apply

    def matrix(self, dtype=None, device=None, max_unroll: int = DEFAULT_MAX_UNROLL):
        """The dense ``(out_dim, in_dim)`` matrix of the linear part.

        A product of weights for Linear blocks; otherwise the operator applied to the identity, in
        chunks, run where the modules are. The result is on ``device`` (default: the modules' device).
        Raises InvalidInputError (field ``model``) when ``out_dim * in_dim > max_unroll`` and the block is
        not a product of Linear weights.
        """
        dtype = torch.float64 if dtype is None else dtype
        device = self.device if device is None else torch.device(device)
        if self.is_dense:
            matrix = torch.eye(self.in_dim, dtype=dtype, device=device)
            for module in self.modules:
                if isinstance(module, torch.nn.Linear):
                    matrix = module.weight.detach().to(dtype=dtype, device=device) @ matrix
            return matrix
        if self.out_dim * self.in_dim > max_unroll:
            raise NotApplicableError(
                "model", f"affine layers small enough to unroll (out_dim * in_dim <= max_unroll = {max_unroll})",
                f"a block {self.in_shape} -> {self.out_shape} with {self.out_dim * self.in_dim} entries")
        apply = self.operator()
        columns = []
        chunk = max(1, min(self.in_dim, (1 << 22) // max(1, self.out_dim)))
        with torch.no_grad():
            for start in range(0, self.in_dim, chunk):
                stop = min(self.in_dim, start + chunk)
                basis = torch.zeros(stop - start, self.in_dim, dtype=dtype, device=self.device)
                basis[torch.arange(stop - start), torch.arange(start, stop)] = 1.0
                columns.append(apply(basis).T)
        return torch.cat(columns, dim=1).to(device)


@dataclass
class LayerChain:
    """``trailing o B_K o sigma_{K-1} o ... o sigma_1 o B_1 o leading``.

    Attributes
    ----------
    blocks : list of AffineBlock
        ``K >= 1`` affine blocks.
    activations : list of Activation
        ``K - 1`` activations; ``activations[i]`` acts between ``blocks[i]`` and ``blocks[i + 1]``.
    leading, trailing : Activation or None
        Activations before the first / after the last block.
    input_shape : tuple of int
        The shape of one input (no batch dimension).
    """

    blocks: list
    activations: list
    input_shape: tuple[int, ...]
    leading: Activation | None = None
    trailing: Activation | None = None
    sequence: list = field(default_factory=list)

    @property
    def widths(self) -> list[int]:
        """Number of neurons of each hidden activation layer."""
        return [block.out_dim for block in self.blocks[:-1]]

    @property
    def outer_scale(self) -> float:
        """Product of the Lipschitz constants of the leading and trailing activations (1 if none)."""
        scale = 1.0
        for activation in (self.leading, self.trailing):
            if activation is not None:
                scale *= activation.lipschitz
        return scale

    def preactivations(self, x) -> list:
        """Inputs of every hidden activation (and of leading/trailing ones), flattened: ``[(k, width)]``.

        Returned in order with the :class:`Activation` that consumes them, as ``[(activation, z)]``.
        """
        out = []
        for kind, item in self.sequence:
            if kind == "activation":
                out.append((item[1], x.reshape(x.shape[0], -1)))
                x = item[0](x)
            else:
                x = item(x)
        return out


class _EvalBatchNorm:
    """A batch-norm module applied with its running statistics (its eval-mode affine map)."""

    def __init__(self, module):
        self.module = module

    def __call__(self, x):
        import torch.nn.functional as F

        m = self.module
        return F.batch_norm(x, m.running_mean, m.running_var, m.weight, m.bias, False, 0.0, m.eps)


@dataclass
class Pooling:
    """A max-pooling layer between two chains, with its l2 Lipschitz constant.

    ``constant`` is the square root of the largest number of pooling windows that contain one input
    element (1 for non-overlapping windows), from :func:`lipexact.bounds.maxpool.maxpool_constant`.
    """

    module: Any
    index: int
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    constant: float


@dataclass
class SegmentedChain:
    """``segments[-1] o pool_{k} o ... o pool_1 o segments[0]``: chains separated by max-poolings.

    A segment may hold no affine block (then it is at most its activations, see
    :attr:`LayerChain.outer_scale`).
    """

    segments: list
    poolings: list
    input_shape: tuple[int, ...]


def _classify(layers: list) -> list:
    """``[("affine", [modules], index) | ("activation", (module, Activation), index) | ("pool", module, index)]``
    for a list of :class:`~lipexact.bounds.chain.ChainLayer`."""
    items: list = []
    for index, layer in enumerate(layers):
        leaf = layer.module
        activation = describe_activation(leaf)
        if activation is not None:
            items.append(("activation", (leaf, activation), index))
        elif is_maxpool(leaf):
            items.append(("pool", leaf, index))
        elif is_chain_affine(leaf):
            if isinstance(leaf, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d, torch.nn.BatchNorm3d)):
                if leaf.running_mean is None or leaf.running_var is None:
                    raise NotApplicableError(layer.name, "a BatchNorm with running statistics "
                                             "(track_running_stats=True)", repr(leaf))
                leaf = _EvalBatchNorm(leaf)
            elif is_dropout(leaf):
                leaf = torch.nn.Identity()
            if items and items[-1][0] == "affine":
                items[-1][1].append(leaf)
            else:
                items.append(("affine", [leaf], index))
        else:
            raise NotApplicableError(
                layer.name, "an affine layer (Linear, Conv, AvgPool, BatchNorm, Flatten), a max-pooling "
                "or a coordinatewise activation with a known derivative range", type(leaf).__name__)
    return items


def _run(layer, x, shape, name):
    try:
        return layer(x)
    except RuntimeError as error:
        raise InvalidInputError("input_shape", f"a shape accepted by {name}", f"{shape} ({error})") from None


def _chain_from_items(items: list, x, shape) -> tuple[LayerChain, Any]:
    """Build a chain from classified items (no poolings), running ``x`` through it for the shapes."""
    blocks, activations, sequence = [], [], []
    leading = None
    pending: Activation | None = None
    chain_shape = tuple(x.shape[1:])
    for kind, item, _ in items:
        if kind == "activation":
            leaf, activation = item
            pending = activation if pending is None else pending.then(activation)
            sequence.append(("activation", (leaf, activation)))
            x = _run(leaf, x, shape, type(leaf).__name__)
        else:
            in_shape = tuple(x.shape[1:])
            block = AffineBlock(item, in_shape, in_shape)
            x = _run(block, x, shape, "the model's layers")
            block.out_shape = tuple(x.shape[1:])
            if blocks:
                activations.append(pending)  # never None: consecutive affine modules were merged
            else:
                leading = pending
            pending = None
            blocks.append(block)
            sequence.append(("affine", block))
    return LayerChain(blocks, activations, chain_shape, leading, pending, sequence), x


def _prepared_items(model, input_shape, dtype, device):
    dtype, device = as_dtype(dtype), pick_device(device)
    chain = chain_layers(model, input_shape, dtype=dtype, device=device)
    names = [layer.name for layer in chain.layers]
    shape = chain.input_shape
    return _classify(list(chain.layers)), shape, torch.zeros((1, *shape), dtype=dtype, device=device), names


def extract_segments(model: Any, input_shape: Sequence[int] | None = None, dtype: Any = None,
                     device: Any = None) -> SegmentedChain:
    """Read ``model`` as chains separated by max-pooling layers (see :func:`extract_chain`).

    MaxPool1d/2d/3d and AdaptiveMaxPool1d/2d/3d split the network; each gets its Lipschitz constant.

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Conv1d(1, 2, 2), torch.nn.ReLU(), torch.nn.MaxPool1d(3, stride=1),
    ...                           torch.nn.Flatten(), torch.nn.Linear(16, 1))
    >>> segmented = extract_segments(net, (1, 11))
    >>> len(segmented.segments), round(segmented.poolings[0].constant ** 2)
    (2, 3)
    """
    items, shape, x, names = _prepared_items(model, input_shape, dtype, device)
    segments, poolings, current = [], [], []
    with torch.no_grad():
        for item in items + [("end", None, len(items))]:
            if item[0] not in ("pool", "end"):
                current.append(item)
                continue
            chain, x = _chain_from_items(current, x, shape)
            segments.append(chain)
            current = []
            if item[0] == "pool":
                in_shape = tuple(x.shape[1:])
                x = _run(item[1], x, shape, type(item[1]).__name__)
                out_shape = tuple(x.shape[1:])
                poolings.append(Pooling(item[1], item[2], in_shape, out_shape,
                                        float(maxpool_constant(item[1], in_shape, out_shape))))
    if not any(chain.blocks for chain in segments):
        raise NotApplicableError("model", "at least one affine layer (Linear, Conv, ...)", "activations only")
    return SegmentedChain(segments, poolings, shape)


def extract_chain(model: Any, input_shape: Sequence[int] | None = None, dtype: Any = None,
                  device: Any = None) -> LayerChain:
    """Read ``model`` as a :class:`LayerChain`.

    Parameters
    ----------
    model : torch.nn.Module or TwoLayerReLU
        Affine modules (Linear, Conv*, ConvTranspose*, AvgPool*, AdaptiveAvgPool*, BatchNorm* with
        running statistics, Flatten, Unflatten, Identity, Dropout*, the last three as in eval mode) and
        coordinatewise activations with a known derivative range (ReLU, LeakyReLU, PReLU, ReLU6,
        Hardtanh, Tanh, Sigmoid, Hardsigmoid, Softplus, Softsign, LogSigmoid, Tanhshrink, ELU, CELU,
        SELU, Softshrink, Hardshrink). Nested Sequentials are flattened. Max-pooling is not a chain
        element (see :func:`extract_segments`).
    input_shape : tuple of int, optional
        Shape of one input without the batch dimension; read from a leading Linear layer when None.
    dtype, device : optional
        The chain is built on an eval-mode copy of ``model`` in this dtype (float64 when None) on this
        device (see :func:`lipexact.bounds.device.as_module`); ``model`` itself is never modified.

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    >>> chain = extract_chain(net)
    >>> len(chain.blocks), chain.widths, chain.activations[0].name
    (2, [4], 'ReLU')
    """
    items, shape, x, names = _prepared_items(model, input_shape, dtype, device)
    for kind, leaf, index in items:
        if kind == "pool":
            raise NotApplicableError(names[index], "an affine layer or a coordinatewise activation (a "
                                     "max-pooling splits the network: see extract_segments)", type(leaf).__name__)
    with torch.no_grad():
        chain, _ = _chain_from_items(items, x, shape)
    if not chain.blocks:
        raise NotApplicableError("model", "at least one affine layer (Linear, Conv, ...)", "activations only")
    return chain
