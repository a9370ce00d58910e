"""A model as the list of its layers, read from its torch.fx graph: the one reader every layer-wise method uses.

SeqLip, the kink checks and region walk of the lower bounds, and any method that needs a network as
``layer -> layer -> ... -> layer`` call :func:`chain_layers`. It accepts any module whose torch.fx graph
is a chain: every input-dependent node has exactly one input-dependent argument, the node just before
it, and the output is the last node. ``nn.Sequential`` (nested or not) is one such module; a custom class
with ``forward = out(relu(inp(x)))``, functional calls (``F.relu``, ``torch.relu``, ``x.tanh()``,
``F.linear``, ``F.max_pool2d``, ``x.view(x.size(0), -1)``, ...) and a scripted ``nn.Sequential`` are others.
Functional calls become the equivalent modules (``F.relu`` -> ``nn.ReLU()``, a reshape -> ``nn.Flatten`` /
``nn.Unflatten`` to the traced shape), so that what follows deals with modules only.

The layers read are checked: composed in order they must reproduce the model's output on a random
batch of two inputs (a reshape that mixes the batch dimension, for instance, would not). A model that is
not a chain (a residual connection, two inputs, a tuple output, an operation without a module
equivalent) raises :class:`~lipexact.bounds.errors.NotApplicableError` naming the node; a shape the model
does not accept raises :class:`~reductions.validation.InvalidInputError` (field ``input_shape``).

Which layers a method then accepts (affine maps, coordinatewise activations, max-poolings for SeqLip) is
the method's business: see :func:`lipexact.bounds.layers.extract_segments`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import torch
import torch.fx
import torch.nn.functional as F
from torch import nn

from lipexact.bounds.device import as_dtype, as_module, pick_device
from lipexact.bounds.errors import NotApplicableError
from lipexact.bounds.shapes import infer_input_shape
from lipexact.bounds.torchscript import unscript
from lipexact.bounds.tracing import Traced, trace

__all__ = ["ChainLayer", "ModelChain", "chain_layers", "as_sequential"]


@dataclass(frozen=True)
class ChainLayer:
    """One layer of a chain: where it is in the model, and the module that computes it.

    ``name`` is ``"model[2]"`` or ``"model[1][0]"`` for modules of a Sequential, ``"model.fc1"`` for named
    submodules and ``"model:relu"`` (the fx node's name) for functional calls turned into modules.
    """

    name: str
    module: nn.Module


@dataclass(frozen=True)
class ModelChain:
    """The layers of a chain model in order, and the shape of one input (no batch dimension)."""

    layers: tuple
    input_shape: tuple[int, ...]

    def sequential(self) -> nn.Sequential:
        """The layers as one ``nn.Sequential`` (same function as the model)."""
        return nn.Sequential(*(layer.module for layer in self.layers))


def _argument(node: torch.fx.Node, index: int, name: str, default: Any) -> Any:
    if len(node.args) > index:
        return node.args[index]
    return node.kwargs.get(name, default)


def _display(target: str) -> str:
    """``"0.1"`` -> ``"model[0][1]"``, ``"body.fc"`` -> ``"model.body.fc"``."""
    return "model" + "".join(f"[{part}]" if part.isdigit() else f".{part}" for part in target.split("."))


_RELU = {torch.relu, F.relu, torch.relu_, F.relu_}
_TANH = {torch.tanh, F.tanh}
_SIGMOID = {torch.sigmoid, F.sigmoid}
_METHOD_ACTIVATIONS = {"relu": nn.ReLU, "relu_": nn.ReLU, "tanh": nn.Tanh, "tanh_": nn.Tanh, "sigmoid": nn.Sigmoid,
                       "sigmoid_": nn.Sigmoid}
_POOLS = {F.max_pool1d: nn.MaxPool1d, F.max_pool2d: nn.MaxPool2d, F.max_pool3d: nn.MaxPool3d,
          F.avg_pool1d: nn.AvgPool1d, F.avg_pool2d: nn.AvgPool2d, F.avg_pool3d: nn.AvgPool3d,
          F.adaptive_avg_pool1d: nn.AdaptiveAvgPool1d, F.adaptive_avg_pool2d: nn.AdaptiveAvgPool2d,
          F.adaptive_avg_pool3d: nn.AdaptiveAvgPool3d, F.adaptive_max_pool1d: nn.AdaptiveMaxPool1d,
          F.adaptive_max_pool2d: nn.AdaptiveMaxPool2d, F.adaptive_max_pool3d: nn.AdaptiveMaxPool3d}
_RESHAPE_METHODS = {"view", "reshape", "flatten", "contiguous", "clone"}
_RESHAPE_FUNCTIONS = {torch.flatten, torch.reshape, torch.clone}


def _activation(node: torch.fx.Node) -> nn.Module | None:
    """The module of a functional or method activation call, or None."""
    target = node.target
    if node.op == "call_method":
        maker = _METHOD_ACTIVATIONS.get(target)
        return maker() if maker is not None else None
    if target in _RELU:
        return nn.ReLU()
    if target in _TANH:
        return nn.Tanh()
    if target in _SIGMOID:
        return nn.Sigmoid()
    if target is F.leaky_relu:
        return nn.LeakyReLU(float(_argument(node, 1, "negative_slope", 0.01)))
    if target is F.relu6:
        return nn.ReLU6()
    if target is F.hardtanh:
        return nn.Hardtanh(float(_argument(node, 1, "min_val", -1.0)), float(_argument(node, 2, "max_val", 1.0)))
    if target is F.elu:
        return nn.ELU(float(_argument(node, 1, "alpha", 1.0)))
    if target is F.softplus:
        return nn.Softplus(float(_argument(node, 1, "beta", 1.0)), float(_argument(node, 2, "threshold", 20.0)))
    if target in (F.selu, torch.selu):
        return nn.SELU()
    if target is F.softsign:
        return nn.Softsign()
    return None


def _constant(value: Any, traced: Traced) -> Any:
    return traced.values.get(value, value) if isinstance(value, torch.fx.Node) else value


def _functional(node: torch.fx.Node, traced: Traced) -> list | None:
    """Modules equivalent to a functional call (linear, pooling, reshape, dropout in eval), or None."""
    target = node.target
    if node.op == "call_function" and target is F.linear:
        weight = _constant(_argument(node, 1, "weight", None), traced)
        bias = _constant(_argument(node, 2, "bias", None), traced)
        if not isinstance(weight, torch.Tensor) or weight.dim() != 2 or (
                bias is not None and not isinstance(bias, torch.Tensor)):
            return None
        layer = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None, dtype=weight.dtype,
                          device=weight.device)
        with torch.no_grad():
            layer.weight.copy_(weight)
            if bias is not None:
                layer.bias.copy_(bias)
        return [layer]
    if node.op == "call_function" and target in _POOLS:
        rest = [_constant(a, traced) for a in node.args[1:]]
        kwargs = {k: _constant(v, traced) for k, v in node.kwargs.items()}
        return [_POOLS[target](*rest, **kwargs)]
    is_reshape = (node.op == "call_method" and target in _RESHAPE_METHODS) or (
        node.op == "call_function" and target in _RESHAPE_FUNCTIONS)
    if is_reshape:
        shape = tuple(traced.values[node].shape[1:])  # checked on a batch of two by chain_layers
        return [nn.Flatten()] + ([nn.Unflatten(1, shape)] if len(shape) > 1 else [])
    if node.op == "call_function" and target is F.dropout and not _argument(node, 2, "training", True):
        return [nn.Identity()]
    return None


def _layers_of(traced: Traced) -> list[ChainLayer]:
    """The chain's layers, node by node; NotApplicableError where the graph is not a chain."""
    layers: list[ChainLayer] = []
    previous = None
    for node in traced.module.graph.nodes:
        if node.op == "output":
            outputs = [n for n in node.all_input_nodes if n in traced.dependent]
            if len(outputs) != 1 or outputs[0] is not previous or not isinstance(node.args[0], torch.fx.Node):
                raise NotApplicableError("model", "a chain of layers with one tensor output (the last layer's)",
                                         f"an output built from {len(outputs)} input-dependent node(s)")
            break
        if node not in traced.dependent:
            continue
        if node.op == "placeholder":
            previous = node
            continue
        parents = [n for n in node.all_input_nodes if n in traced.dependent]
        label = _display(node.target) if node.op == "call_module" else f"model:{node.name}"
        if len(parents) != 1 or parents[0] is not previous:
            raise NotApplicableError(label, "a chain of layers: one input-dependent argument, the previous layer "
                                     "(a residual connection or a branch is not a chain)",
                                     f"{node.op} {getattr(node.target, '__name__', node.target)!r} of "
                                     f"{', '.join(p.name for p in parents)}")
        if node.op == "call_module":
            modules = [traced.submodules[node.target]]
        else:
            activation = _activation(node)
            modules = [activation] if activation is not None else _functional(node, traced)
            if modules is None:
                name = node.target if isinstance(node.target, str) else getattr(node.target, "__name__", node.target)
                raise NotApplicableError(label, "a layer module or a functional call with a module equivalent "
                                         "(activations, linear, pooling, reshapes)", f"{node.op} {name!r}")
        layers += [ChainLayer(label, module) for module in modules]
        previous = node
    return layers


def _is_torch_layer(module: nn.Module) -> bool:
    """True for a module of ``torch.nn`` itself other than the containers."""
    return (type(module).__module__.startswith("torch.nn.modules.")
            and not isinstance(module, (nn.Sequential, nn.ModuleList, nn.ModuleDict)))


def _reproduces(model: nn.Module, layers: list[ChainLayer], shape: tuple[int, ...], dtype, device) -> str | None:
    """None when the layers composed give the model's output on two random inputs; otherwise why not."""
    generator = torch.Generator().manual_seed(0)
    probe = torch.randn((2, *shape), generator=generator, dtype=torch.float64).to(dtype=dtype, device=device)
    try:
        with torch.no_grad():
            expected = model(probe)
            got = probe
            for layer in layers:
                got = layer.module(got)
    except Exception as error:  # a layer that fails on a batch of two: the graph did not describe a chain
        return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"[:200]
    if not isinstance(expected, torch.Tensor) or got.shape != expected.shape:
        return f"output shape {tuple(got.shape)} instead of {tuple(getattr(expected, 'shape', ()))}"
    tolerance = 1e-9 if dtype == torch.float64 else 1e-4
    scale = float(expected.abs().max()) if expected.numel() else 0.0
    if not torch.allclose(got, expected, rtol=tolerance, atol=tolerance * max(scale, 1e-300)):
        return "different values on a random batch of two inputs"
    return None


def chain_layers(model: Any, input_shape: Sequence[int] | None = None, *, dtype: Any = None,
                 device: Any = None) -> ModelChain:
    """Read ``model`` as the list of its layers (see the module notes).

    Parameters
    ----------
    model : torch.nn.Module or TwoLayerReLU
        Any module whose torch.fx graph is a chain, used as an eval-mode copy in ``dtype`` (float64 when
        None) on ``device`` (:func:`lipexact.bounds.device.as_module`); ``model`` itself is never changed.
    input_shape : sequence of int, optional
        Shape of one input (no batch dimension); when None, ``(in_features,)`` of the first Linear layer of
        the traced graph (:func:`lipexact.bounds.shapes.infer_input_shape`).

    Returns
    -------
    ModelChain
        ``layers`` (a tuple of :class:`ChainLayer`) and ``input_shape``.

    Examples
    --------
    >>> class Net(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.inp, self.out = nn.Linear(3, 4), nn.Linear(4, 1)
    ...     def forward(self, x):
    ...         return self.out(torch.relu(self.inp(x)))
    >>> chain = chain_layers(Net())
    >>> [(layer.name, type(layer.module).__name__) for layer in chain.layers], chain.input_shape
    ([('model.inp', 'Linear'), ('model:relu', 'ReLU'), ('model.out', 'Linear')], (3,))
    >>> class Residual(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.fc = nn.Linear(3, 3)
    ...     def forward(self, x):
    ...         return x + torch.relu(self.fc(x))
    >>> chain_layers(Residual(), (3,))
    Traceback (most recent call last):
    ...
    lipexact.bounds.errors.NotApplicableError: model:add: expected a chain of layers: one ..., got call_function 'add' of x, relu
    """
    dtype, device = as_dtype(dtype), pick_device(device)
    module = as_module(model, dtype=dtype, device=device)
    if isinstance(module, torch.jit.ScriptModule):  # a scripted Sequential is rebuilt; anything else refused
        module = unscript(module, input_shape)
    shape = infer_input_shape(module, input_shape)
    if _is_torch_layer(module):  # a bare torch.nn layer: fx would inline its forward into a functional call
        layers = [ChainLayer("model", module)]
    else:
        layers = _layers_of(trace(module, shape, dtype, device))
    if not layers:
        raise NotApplicableError("model", "at least one layer", "a model that returns its input")
    failure = _reproduces(module, layers, shape, dtype, device)
    if failure is not None:
        raise NotApplicableError("model", "a chain of layers that reproduces the model (a reshape must keep the "
                                 "batch dimension)", failure)
    return ModelChain(tuple(layers), shape)


def as_sequential(model: Any, input_shape: Sequence[int] | None = None, *, dtype: Any = None,
                  device: Any = None) -> nn.Sequential | None:
    """``model``'s layers as an ``nn.Sequential`` when it is a chain, else None (for optional uses).

    Examples
    --------
    >>> as_sequential(nn.Sequential(nn.Linear(2, 2), nn.ReLU()))
    Sequential(
      (0): Linear(in_features=2, out_features=2, bias=True)
      (1): ReLU()
    )
    """
    try:
        return chain_layers(model, input_shape, dtype=dtype, device=device).sequential()
    except NotApplicableError:
        return None

