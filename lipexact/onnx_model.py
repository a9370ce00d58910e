"""ONNX files as torch models (optional extra: ``pip install lipexact[onnx]``).

ONNX is the exchange format of the verification community (VNN-COMP benchmarks). :func:`load_onnx` reads
a file with the ``onnx`` package and builds an equivalent ``torch.fx.GraphModule`` of standard
``torch.nn`` layers, so that every bound reads it like any other model: Gemm and MatMul (constant
weights) become ``nn.Linear`` (a following Add of a constant vector becomes its bias), Conv ``nn.ConvNd``,
MaxPool / AveragePool / GlobalAveragePool the pooling modules, BatchNormalization ``nn.BatchNormNd``
with running statistics, Relu / LeakyRelu / Sigmoid / Tanh / Softplus / Elu the activations,
Flatten (and a Reshape to ``(batch, -1)``) ``nn.Flatten``, Identity / Dropout ``nn.Identity``; Add and Sub
of two computed tensors (residual connections) stay additions. Anything else is refused naming the node
and its operator type (:class:`~reductions.validation.InvalidInputError`, field ``model``). The converted
model is checked against nothing external: ONNX Runtime is not a dependency; the tests compare it with
the torch model the ONNX graph was written from.

The converter is this project's own (a few operators, no dependency beyond ``onnx``): the general
converter onnx2torch needs torchvision, whose compiled operators must match the installed torch build.
"""

from __future__ import annotations

import operator
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.fx
from torch import nn

from reductions.validation import InvalidInputError, require

__all__ = ["load_onnx", "onnx_available", "ONNX_MISSING"]

#: The ``expected`` part of the error when the ``onnx`` package is missing.
ONNX_MISSING = "the optional onnx extra to read .onnx files (pip install 'lipexact[onnx]')"


def onnx_available() -> bool:
    """True when the ``onnx`` package can be imported."""
    try:
        import onnx  # noqa: F401
    except ImportError:
        return False
    return True


def _attributes(node: Any) -> dict:
    import onnx.helper

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _pair_pads(pads: list, dims: int, where: str) -> tuple:
    if not pads:
        return (0,) * dims
    begin, end = list(pads[:dims]), list(pads[dims:])
    require(begin == end, "model", f"symmetric padding in {where}", f"pads {pads}")
    return tuple(int(p) for p in begin)


class _Builder:
    """Builds the fx graph node by node; ``values`` maps ONNX tensor names to fx nodes or constants."""

    def __init__(self, constants: dict, ranks: dict):
        self.root = nn.Module()
        self.graph = torch.fx.Graph()
        self.values: dict[str, Any] = {}
        self.constants = constants
        self.ranks = ranks
        self.count = 0

    def add_module(self, module: nn.Module, source: Any, hint: str) -> torch.fx.Node:
        name = f"{hint}{self.count}"
        self.count += 1
        self.root.add_module(name, module)
        return self.graph.call_module(name, (source,))

    def constant(self, name: str, node: Any) -> np.ndarray:
        value = self.constants.get(name)
        if value is None:
            raise InvalidInputError("model", "constant weights (initializers) for the ONNX operator",
                                    f"{node.op_type} node {node.name or '?'} with a computed input {name!r}")
        return value

    def linear(self, node: Any, source: Any, weight: np.ndarray, bias: np.ndarray | None) -> torch.fx.Node:
        layer = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None, dtype=torch.float64)
        with torch.no_grad():
            layer.weight.copy_(torch.as_tensor(np.array(weight), dtype=torch.float64))
            if bias is not None:
                layer.bias.copy_(torch.as_tensor(np.array(np.broadcast_to(bias, (weight.shape[0],))), dtype=torch.float64))
        return self.add_module(layer, source, "linear")


_ACTIVATIONS = {"Relu": lambda a: nn.ReLU(), "Sigmoid": lambda a: nn.Sigmoid(), "Tanh": lambda a: nn.Tanh(),
                "Softplus": lambda a: nn.Softplus(), "LeakyRelu": lambda a: nn.LeakyReLU(a.get("alpha", 0.01)),
                "Elu": lambda a: nn.ELU(a.get("alpha", 1.0)), "Identity": lambda a: nn.Identity(),
                "Dropout": lambda a: nn.Identity()}


def _convert_node(builder: _Builder, node: Any) -> None:
    attrs = _attributes(node)
    inputs = list(node.input)
    source = builder.values.get(inputs[0]) if inputs else None
    kind = node.op_type
    if kind in ("Add", "Sub") and len(inputs) == 2:
        left, right = builder.values.get(inputs[0]), builder.values.get(inputs[1])
        if left is not None and right is not None:
            combine = operator.add if kind == "Add" else operator.sub
            builder.values[node.output[0]] = builder.graph.call_function(combine, (left, right))
            return
        computed, constant_name = (left, inputs[1]) if left is not None else (right, inputs[0])
        bias = builder.constant(constant_name, node)
        producer = computed.target if computed is not None and computed.op == "call_module" else None
        layer = getattr(builder.root, producer) if producer else None
        if kind == "Add" and isinstance(layer, nn.Linear) and layer.bias is None and bias.size in (1, layer.out_features):
            new = nn.Linear(layer.in_features, layer.out_features, dtype=torch.float64)
            with torch.no_grad():
                new.weight.copy_(layer.weight)
                new.bias.copy_(torch.as_tensor(np.array(np.broadcast_to(bias.reshape(-1), (layer.out_features,)))))
            setattr(builder.root, producer, new)
            builder.values[node.output[0]] = computed
            return
        raise InvalidInputError("model", "ONNX operators with a torch layer equivalent (an Add of a constant only "
                                "as the bias of a MatMul)", f"{kind} node {node.name or '?'}")
    require(source is not None, "model", "an ONNX graph whose operators act on the computed input",
            f"{kind} node {node.name or '?'}")
    if kind in _ACTIVATIONS:
        module = _ACTIVATIONS[kind](attrs)
    elif kind == "Gemm":
        require(attrs.get("transA", 0) == 0, "model", "Gemm with transA = 0", f"node {node.name or '?'}")
        weight = builder.constant(inputs[1], node).astype(np.float64) * attrs.get("alpha", 1.0)
        weight = weight if attrs.get("transB", 0) else weight.T
        bias = builder.constant(inputs[2], node).astype(np.float64) * attrs.get("beta", 1.0) if len(inputs) > 2 \
            and inputs[2] else None
        builder.values[node.output[0]] = builder.linear(node, source, weight, bias)
        return
    elif kind == "MatMul":
        weight = builder.constant(inputs[1], node).astype(np.float64)
        require(weight.ndim == 2, "model", "MatMul by a constant matrix", f"node {node.name or '?'}")
        builder.values[node.output[0]] = builder.linear(node, source, weight.T, None)
        return
    elif kind == "Conv":
        weight = builder.constant(inputs[1], node).astype(np.float64)
        dims = weight.ndim - 2
        require(attrs.get("auto_pad", b"NOTSET") in (b"NOTSET", "NOTSET"), "model", "Conv with explicit pads",
                f"node {node.name or '?'} auto_pad {attrs.get('auto_pad')}")
        groups = int(attrs.get("group", 1))
        conv = (nn.Conv1d, nn.Conv2d, nn.Conv3d)[dims - 1](
            weight.shape[1] * groups, weight.shape[0], tuple(weight.shape[2:]),
            stride=tuple(attrs.get("strides", [1] * dims)), padding=_pair_pads(attrs.get("pads", []), dims, "Conv"),
            dilation=tuple(attrs.get("dilations", [1] * dims)), groups=groups,
            bias=len(inputs) > 2 and bool(inputs[2]), dtype=torch.float64)
        with torch.no_grad():
            conv.weight.copy_(torch.as_tensor(np.array(weight)))
            if conv.bias is not None:
                conv.bias.copy_(torch.as_tensor(np.array(builder.constant(inputs[2], node), dtype=np.float64)))
        module = conv
    elif kind in ("MaxPool", "AveragePool"):
        kernel = tuple(attrs["kernel_shape"])
        dims = len(kernel)
        stride = tuple(attrs.get("strides", [1] * dims))
        padding = _pair_pads(attrs.get("pads", []), dims, kind)
        ceil = bool(attrs.get("ceil_mode", 0))
        if kind == "MaxPool":
            module = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)[dims - 1](
                kernel, stride, padding, tuple(attrs.get("dilations", [1] * dims)), ceil_mode=ceil)
        else:
            module = (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)[dims - 1](
                kernel, stride, padding, ceil_mode=ceil, count_include_pad=bool(attrs.get("count_include_pad", 0)))
    elif kind == "GlobalAveragePool":
        rank = builder.ranks.get(inputs[0], 4)
        module = (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d)[rank - 3](1)
    elif kind == "BatchNormalization":
        scale, shift, mean, var = (builder.constant(name, node).astype(np.float64) for name in inputs[1:5])
        rank = builder.ranks.get(inputs[0], 4)
        module = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)[max(rank - 3, 0)](
            len(scale), eps=float(attrs.get("epsilon", 1e-5)), dtype=torch.float64)
        with torch.no_grad():
            for tensor, value in ((module.weight, scale), (module.bias, shift), (module.running_mean, mean),
                                  (module.running_var, var)):
                tensor.copy_(torch.as_tensor(np.array(value)))
        module.eval()
    elif kind == "Flatten":
        require(attrs.get("axis", 1) == 1, "model", "Flatten with axis 1", f"axis {attrs.get('axis')}")
        module = nn.Flatten()
    elif kind == "Reshape":
        shape = [int(d) for d in builder.constant(inputs[1], node).reshape(-1)]
        require(len(shape) == 2 and (shape[1] == -1 or shape[0] in (-1, 0, 1)), "model",
                "a Reshape to (batch, -1)", f"shape {shape}")
        module = nn.Flatten()
    else:
        raise InvalidInputError("model", "ONNX operators with a torch layer equivalent (Gemm, MatMul, Add, Sub, "
                                "Conv, MaxPool, AveragePool, GlobalAveragePool, BatchNormalization, Relu, LeakyRelu, "
                                "Sigmoid, Tanh, Softplus, Elu, Flatten, Reshape, Identity, Dropout)",
                                f"{kind} node {node.name or '?'}")
    builder.values[node.output[0]] = builder.add_module(module, source, kind.lower())


def load_onnx(path: Any) -> torch.fx.GraphModule:
    """The ONNX model in ``path`` as a ``torch.fx.GraphModule`` of torch layers, in float64 and eval mode.

    Raises :class:`~reductions.validation.InvalidInputError` (field ``model``) when the ``onnx`` package is
    missing, the file is not a valid ONNX model, the graph has not exactly one input and one output, or an
    operator has no equivalent here.
    """
    if not onnx_available():
        raise InvalidInputError("model", ONNX_MISSING, f"{Path(path).name} (the onnx package is not installed)")
    import onnx
    import onnx.numpy_helper
    import onnx.shape_inference

    try:
        proto = onnx.load(str(path))
        onnx.checker.check_model(proto)
        proto = onnx.shape_inference.infer_shapes(proto)
    except Exception as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InvalidInputError("model", "a valid ONNX model", f"{path} ({type(error).__name__}: {reason[:120]})") \
            from None
    graph = proto.graph
    constants = {t.name: onnx.numpy_helper.to_array(t) for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant":
            constants[node.output[0]] = onnx.numpy_helper.to_array(_attributes(node)["value"])
    ranks = {v.name: len(v.type.tensor_type.shape.dim) for v in [*graph.input, *graph.value_info, *graph.output]
             if v.type.HasField("tensor_type") and v.type.tensor_type.HasField("shape")}
    inputs = [v.name for v in graph.input if v.name not in constants]
    require(len(inputs) == 1, "model", "an ONNX graph with exactly one input", f"{len(inputs)} inputs")
    require(len(graph.output) == 1, "model", "an ONNX graph with exactly one output", f"{len(graph.output)} outputs")
    builder = _Builder(constants, ranks)
    builder.values[inputs[0]] = builder.graph.placeholder("x")
    for node in graph.node:
        if node.op_type != "Constant":
            _convert_node(builder, node)
    output = builder.values.get(graph.output[0].name)
    require(output is not None, "model", "an output computed from the input", graph.output[0].name)
    builder.graph.output(output)
    module = torch.fx.GraphModule(builder.root, builder.graph)
    return module.eval()
