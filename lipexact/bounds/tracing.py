"""A model's torch.fx graph, run once so that every node's value (and shape) is known.

Shared by AutoLip (:mod:`lipexact.bounds.autolip`, any graph) and by the chain reader
(:mod:`lipexact.bounds.chain`, graphs that are a chain of layers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import torch
import torch.fx
from torch import nn

from lipexact.bounds.errors import NotApplicableError, UnsupportedOperationError
from lipexact.bounds.torchscript import unscript
from reductions.validation import InvalidInputError

__all__ = ["Traced", "trace", "symbolic_graph", "is_shape_query"]


def symbolic_graph(model: nn.Module, input_shape: Sequence[int] | None = None) -> torch.fx.GraphModule:
    """``model``'s torch.fx graph (a TorchScript model rebuilt first, see :func:`~lipexact.bounds.torchscript.unscript`).

    Raises :class:`~lipexact.bounds.errors.UnsupportedOperationError` (field ``"model"``) when torch.fx cannot
    trace the model, and :class:`~lipexact.bounds.errors.NotApplicableError` when its forward takes more than
    one input.

    Examples
    --------
    >>> graph = symbolic_graph(nn.Sequential(nn.Linear(2, 2), nn.ReLU()))
    >>> [node.op for node in graph.graph.nodes]
    ['placeholder', 'call_module', 'call_module', 'output']
    """
    model = unscript(model, input_shape)
    try:
        graph_module = torch.fx.symbolic_trace(model)
    except Exception as error:  # fx raises many types (TraceError, TypeError, NotImplementedError, ...)
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise UnsupportedOperationError("model", "a module that torch.fx can trace",
                                        f"{type(error).__name__}: {message}") from None
    placeholders = [n for n in graph_module.graph.nodes if n.op == "placeholder"]
    if len(placeholders) != 1:
        raise NotApplicableError("model", "a forward with exactly one input", f"{len(placeholders)} inputs")
    return graph_module


class _Recorder(torch.fx.Interpreter):
    """Runs the graph once, keeping every node's value (batch of one)."""

    def __init__(self, module: torch.fx.GraphModule):
        super().__init__(module)
        self.values: dict[torch.fx.Node, Any] = {}

    def run_node(self, node: torch.fx.Node) -> Any:
        value = super().run_node(node)
        self.values[node] = value
        return value


@dataclass
class Traced:
    """A traced model: graph module, the value of every node on a zero input, input-dependent nodes."""

    module: torch.fx.GraphModule
    values: dict
    dependent: set
    input_shape: tuple[int, ...]
    submodules: dict = field(default_factory=dict)


_SHAPE_QUERIES = {"size", "dim", "numel", "shape", "ndim", "dtype", "device"}


def is_shape_query(node: torch.fx.Node) -> bool:
    if node.op == "call_method":
        return node.target in _SHAPE_QUERIES
    if node.op == "call_function" and node.target is getattr:
        return len(node.args) > 1 and node.args[1] in _SHAPE_QUERIES
    return node.op == "call_function" and node.target in (torch.numel,)


def trace(model: nn.Module, input_shape: Sequence[int], dtype: torch.dtype | None = None,
          device: torch.device | None = None) -> Traced:
    """Trace ``model`` with torch.fx and run it once on a zero input of shape ``(1, *input_shape)``.

    TorchScript modules cannot be traced by torch.fx: they raise :class:`UnsupportedOperationError`
    (field ``"model"``) unless they are scripted ``nn.Sequential`` of standard layers, which are
    rebuilt as ordinary modules (:func:`lipexact.bounds.torchscript.unscript`). ``dtype`` and ``device``
    default to those of the model's first parameter (float64 on CPU without parameters).
    """
    graph_module = symbolic_graph(model, input_shape)
    parameter = next(iter(graph_module.parameters()), None)
    if dtype is None:
        dtype = parameter.dtype if parameter is not None and parameter.is_floating_point() else torch.float64
    if device is None:
        device = parameter.device if parameter is not None else torch.device("cpu")
    recorder = _Recorder(graph_module)
    try:
        with torch.no_grad():
            recorder.run(torch.zeros((1, *input_shape), dtype=dtype, device=device))
    except Exception as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InvalidInputError("input_shape", "a shape the model accepts (without the batch dimension)",
                                f"{tuple(input_shape)}: {message}") from None
    dependent = set()
    for node in graph_module.graph.nodes:
        if node.op == "placeholder" or (not is_shape_query(node) and any(p in dependent for p in node.all_input_nodes)):
            dependent.add(node)
    return Traced(graph_module, recorder.values, dependent, tuple(input_shape),
                  dict(graph_module.named_modules()))
