"""The shape of one input of a model (leaf module of :mod:`lipexact.bounds`).

Every bound takes ``input_shape`` (one input, no batch dimension); when it is None the shape is read
from the model: ``(n_inputs,)`` of a :class:`~lipexact.network.TwoLayerReLU`, or ``(in_features,)`` of
the first Linear layer (of a Sequential, or of any module's torch.fx graph), reached from the input
through activations, Dropout and Identity only.
"""

from __future__ import annotations

from typing import Any

import torch

from lipexact.bounds.layer_kinds import describe_activation, is_dropout
from lipexact.network import TwoLayerReLU
from reductions.validation import InvalidInputError, require

__all__ = ["infer_input_shape", "sequential_leaves"]


def sequential_leaves(module) -> list:
    """The modules of a (nested) ``nn.Sequential`` in order; any other module is its own only leaf.

    Examples
    --------
    >>> net = torch.nn.Sequential(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU()), torch.nn.Tanh())
    >>> [type(m).__name__ for m in sequential_leaves(net)]
    ['Linear', 'ReLU', 'Tanh']
    """
    if isinstance(module, torch.nn.Sequential):
        return [leaf for child in module for leaf in sequential_leaves(child)]
    return [module]


def _passes_shape(leaf) -> bool:
    """True for modules that keep the shape of their input (activations, Dropout, Identity)."""
    return is_dropout(leaf) or isinstance(leaf, torch.nn.Identity) or describe_activation(leaf) is not None


_SHAPE_KEEPING_CALLS = {"relu", "relu_", "tanh", "sigmoid", "leaky_relu", "elu", "relu6", "hardtanh", "softplus",
                        "selu", "softsign", "dropout", "contiguous", "clone"}


def _first_linear_of_graph(model: torch.nn.Module) -> tuple[int, ...] | None:
    """``(in_features,)`` of the first Linear layers (modules or ``F.linear``) of ``model``'s torch.fx graph,
    reached from the input through shape-keeping calls only (every such path, e.g. both sides of a
    residual block; they must agree); None when there is none (or no graph)."""
    import torch.fx

    if isinstance(model, torch.jit.ScriptModule):
        return None
    try:
        graph = torch.fx.symbolic_trace(model)
    except Exception:  # not traceable: the caller says the shape cannot be read
        return None
    found: set[int] = set()
    frontier = [n for n in graph.graph.nodes if n.op == "placeholder"][:1]
    seen: set = set()
    while frontier:
        node = frontier.pop()
        for user in node.users:
            if user in seen:
                continue
            seen.add(user)
            if user.op == "call_module":
                module = graph.get_submodule(user.target)
                if isinstance(module, torch.nn.Linear):
                    found.add(int(module.in_features))
                elif _passes_shape(module):
                    frontier.append(user)
            elif user.op in ("call_function", "call_method"):
                name = user.target if isinstance(user.target, str) else getattr(user.target, "__name__", "")
                weight = user.args[1] if name == "linear" and len(user.args) > 1 else None
                if isinstance(weight, torch.fx.Node) and weight.op == "get_attr":
                    found.add(int(graph.get_parameter(weight.target).shape[1]))
                elif name in _SHAPE_KEEPING_CALLS:
                    frontier.append(user)
    return (found.pop(),) if len(found) == 1 else None


def infer_input_shape(model: Any, input_shape: Any = None) -> tuple[int, ...]:
    """The shape of one input: ``input_shape`` validated, or ``(in_features,)`` of a leading Linear layer.

    Examples
    --------
    >>> infer_input_shape(torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU()))
    (3,)
    >>> infer_input_shape(torch.nn.Conv2d(1, 2, 3), (1, 8, 8))
    (1, 8, 8)
    >>> class Net(torch.nn.Module):  # any module: the first Linear of its torch.fx graph
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.inp = torch.nn.Linear(5, 2)
    ...     def forward(self, x):
    ...         return torch.relu(self.inp(torch.tanh(x)))
    >>> infer_input_shape(Net())
    (5,)
    """
    if input_shape is not None:
        if isinstance(input_shape, int) and not isinstance(input_shape, bool):
            input_shape = (input_shape,)
        ok = (isinstance(input_shape, (tuple, list)) and len(input_shape) > 0
              and all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in input_shape))
        require(ok, "input_shape", "a non-empty tuple of positive integers (one input, no batch dimension)",
                repr(input_shape))
        return tuple(int(d) for d in input_shape)
    if isinstance(model, TwoLayerReLU):
        return (model.n_inputs,)
    require(isinstance(model, torch.nn.Module), "model", "a TwoLayerReLU or a torch.nn.Module", type(model).__name__)
    if isinstance(model, torch.nn.Sequential):
        for leaf in sequential_leaves(model):
            if isinstance(leaf, torch.nn.Linear):
                return (int(leaf.in_features),)
            if _passes_shape(leaf):
                continue
            break
    else:
        found = _first_linear_of_graph(model)
        if found is not None:
            return found
    raise InvalidInputError("input_shape", "the shape of one input (it cannot be read from a model that "
                            "does not start with a Linear layer)", "None")
