"""AutoLip: an upper bound on the Lipschitz constant from the computation graph (torch.fx).

The model is traced with ``torch.fx``; for every node ``k`` that depends on the input,
``L_k = sum over parents i of c_{k,i} * L_i``, where ``c_{k,i}`` is a Lipschitz constant of node ``k`` in
its ``i``-th argument and ``L_input = 1``. Concatenation (and tuple outputs) combine their parts as
``sqrt(sum_i L_i^2)``, which is valid because squared norms of concatenated blocks add. The bound is
the ``L`` of the output node.

Node constants
--------------
* Affine modules (Linear, Conv1d/2d/3d, ConvTranspose1d/2d/3d, AvgPool, AdaptiveAvgPool, BatchNorm in
  eval, Upsample, Flatten, Identity, Dropout in eval, zero padding): the spectral norm of the linear
  part, from :func:`lipexact.bounds.layer_norm.spectral_norm` (see its certification policy).
* Activations: ReLU, ReLU6, Hardtanh, clamp, Tanh, Softsign, Softplus, CELU(alpha > 0), LogSigmoid,
  Tanhshrink, Softshrink: 1; LeakyReLU(a) and ELU(alpha): ``max(1, |a|)``; PReLU: ``max(1, max |a|)``;
  Sigmoid: 1/4; Hardsigmoid: 1/6; Hardswish: 3/2; SELU: ``scale * alpha`` (about 1.7581); GELU:
  ``Phi(sqrt 2) + sqrt 2 phi(sqrt 2) = (1 + erf 1)/2 + 1/(e sqrt pi)`` (about 1.1289; the tanh
  approximation and SiLU are computed the same way, at the root of the second derivative).
* Max pooling: ``sqrt(c)`` with ``c`` the largest number of windows covering one input element
  (computed exactly from kernel, stride, padding, dilation and the traced shapes); 1 exactly when
  windows do not overlap. The constant is attained: a single positive entry at a most-covered
  element changes every window that covers it.
* Additions and subtractions add the constants of their input-dependent operands (times
  ``sqrt(broadcast factor)`` when an operand is broadcast); multiplication or division by constants
  scales by ``max |c|`` or ``1 / min |c|``; reshapes, permutations, slicing and constant padding: 1;
  means and sums: ``sqrt(out/in)`` and ``sqrt(in/out)``.

Anything else raises :class:`UnsupportedOperationError` naming the node; nothing is silently taken to
be 1-Lipschitz. The result is ``Status.UPPER_BOUND`` when every layer norm is certified (see
:mod:`lipexact.bounds.layer_norm`), else ``Status.HEURISTIC`` with the uncertified layers named in the
message. Per-node constants are in ``result.certificate["nodes"]``.

References
----------
Scaman, K. & Virmaux, A. Lipschitz regularity of deep neural networks: analysis and efficient
estimation. NeurIPS 2018, arXiv:1805.10965 (AutoLip, Algorithm 2).
"""

from __future__ import annotations

import math
import operator
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, Sequence

import torch
import torch.fx
import torch.nn.functional as F
from torch import nn

from lipexact.bounds.affine import AFFINE_MODULES
from lipexact.bounds.device import as_dtype, as_module, pick_device
from lipexact.bounds.errors import UnsupportedOperationError
from lipexact.bounds.layer_norm import OperatorNorm, spectral_norm
from lipexact.bounds.maxpool import MAXPOOLS, maxpool_constant
from lipexact.bounds.power import check_power_options
from lipexact.bounds.shapes import infer_input_shape
from lipexact.bounds.torchscript import unscript
from lipexact.bounds.tracing import Traced, trace
from lipexact.result import LipschitzResult, Status
from reductions.validation import InvalidInputError

__all__ = [
    "UnsupportedOperationError",
    "autolip",
    "check_affine",
    "validate_autolip",
    "skipped_layer_norm",
    "trace",
    "activation_constant",
    "maxpool_constant",
    "GELU_CONSTANT",
]


# ------------------------------------------------------------------------------------------ constants
def _bisect(fn: Callable[[float], float], low: float, high: float) -> float:
    """A root of ``fn`` in ``[low, high]`` (``fn`` changes sign there), to machine precision."""
    f_low = fn(low)
    assert f_low * fn(high) < 0, "no sign change"
    for _ in range(200):
        middle = (low + high) / 2
        if middle in (low, high):
            break
        if (fn(middle) < 0) == (f_low < 0):
            low = middle
        else:
            high = middle
    return (low + high) / 2


def _derivatives(function: Callable[[torch.Tensor], torch.Tensor]):
    def first(x: float) -> float:
        t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        (g,) = torch.autograd.grad(function(t), t)
        return float(g)

    def second(x: float) -> float:
        t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        (g,) = torch.autograd.grad(function(t), t, create_graph=True)
        (h,) = torch.autograd.grad(g, t)
        return float(h)

    return first, second


@lru_cache(maxsize=None)
def _smooth_constant(name: str) -> float:
    """``sup |f'|`` for GELU-like activations: the extremes of ``f'`` sit at the two roots of ``f''``.

    For these functions ``f'' = 0`` has exactly one root in ``(1, 3)`` (the maximum of ``f'``) and one in
    ``(-3, -1)`` (its minimum); ``f'`` tends to 1 and 0 at the ends.
    """
    function = {"gelu_tanh": lambda t: F.gelu(t, approximate="tanh"), "silu": F.silu}[name]
    first, second = _derivatives(function)
    top = first(_bisect(second, 1.0, 3.0))
    bottom = first(_bisect(second, -3.0, -1.0))
    return max(abs(top), abs(bottom), 1.0)


#: ``max |GELU'|`` (exact erf form): ``Phi(sqrt 2) + sqrt 2 * phi(sqrt 2)``, about 1.1289.
GELU_CONSTANT = (1 + math.erf(1.0)) / 2 + math.exp(-1.0) / math.sqrt(math.pi)
_SELU = 1.0507009873554804934193349852946 * 1.6732632423543772848170429916717

_UNIT_ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.Hardtanh, nn.Tanh, nn.Softsign, nn.Softplus, nn.LogSigmoid,
                     nn.Tanhshrink, nn.Softshrink)


def activation_constant(module: nn.Module) -> float | None:
    """The Lipschitz constant of an elementwise activation module, or None if it is not one.

    Examples
    --------
    >>> activation_constant(nn.LeakyReLU(0.1)), activation_constant(nn.Sigmoid())
    (1.0, 0.25)
    >>> round(activation_constant(nn.GELU()), 4), round(activation_constant(nn.SiLU()), 4)
    (1.1289, 1.0998)
    >>> activation_constant(nn.Linear(2, 2)) is None
    True
    """
    if isinstance(module, _UNIT_ACTIVATIONS):
        return 1.0
    if isinstance(module, nn.CELU):
        return 1.0 if module.alpha > 0 else None
    if isinstance(module, nn.LeakyReLU):
        return max(1.0, abs(float(module.negative_slope)))
    if isinstance(module, nn.ELU):
        return max(1.0, abs(float(module.alpha)))
    if isinstance(module, nn.PReLU):
        return max(1.0, float(module.weight.detach().abs().max()))
    if isinstance(module, nn.Sigmoid):
        return 0.25
    if isinstance(module, nn.Hardsigmoid):
        return 1 / 6
    if isinstance(module, nn.Hardswish):
        return 1.5
    if isinstance(module, nn.SELU):
        return _SELU
    if isinstance(module, nn.GELU):
        return GELU_CONSTANT if module.approximate == "none" else _smooth_constant("gelu_tanh")
    if isinstance(module, nn.SiLU):
        return _smooth_constant("silu")
    return None


def _arg(node: torch.fx.Node, index: int, name: str, default: Any) -> Any:
    if len(node.args) > index:
        return node.args[index]
    return node.kwargs.get(name, default)


def _functional_activation(node: torch.fx.Node) -> float | None:
    """Constant of a functional or method activation (``F.relu(x)``, ``x.tanh()``), or None."""
    target = node.target
    if node.op == "call_method":
        simple = {"relu": 1.0, "relu_": 1.0, "tanh": 1.0, "tanh_": 1.0, "sigmoid": 0.25, "sigmoid_": 0.25,
                  "clamp": 1.0, "clamp_": 1.0, "clip": 1.0, "clip_": 1.0}
        return simple.get(target)
    if node.op != "call_function":
        return None
    unit = {torch.relu, F.relu, F.relu6, F.hardtanh, torch.tanh, F.tanh, F.softsign, F.softplus, F.logsigmoid,
            F.tanhshrink, F.softshrink, torch.relu_, F.relu_, torch.clamp, torch.clip}
    if target in unit:
        return 1.0
    if target in (torch.sigmoid, F.sigmoid):
        return 0.25
    if target is F.hardsigmoid:
        return 1 / 6
    if target is F.hardswish:
        return 1.5
    if target in (F.selu, torch.selu):
        return _SELU
    if target is F.leaky_relu:
        return max(1.0, abs(float(_arg(node, 1, "negative_slope", 0.01))))
    if target is F.elu:
        return max(1.0, abs(float(_arg(node, 1, "alpha", 1.0))))
    if target is F.celu:
        return 1.0 if float(_arg(node, 1, "alpha", 1.0)) > 0 else None
    if target is F.gelu:
        return GELU_CONSTANT if _arg(node, 1, "approximate", "none") == "none" else _smooth_constant("gelu_tanh")
    if target is F.silu:
        return _smooth_constant("silu")
    return None


def _functional_module(node: torch.fx.Node, values: dict) -> nn.Module | None:
    """An equivalent module for a functional pooling / linear call (``F.max_pool2d(x, 2)``), or None."""
    target = node.target
    rest = [values.get(a, a) if isinstance(a, torch.fx.Node) else a for a in node.args[1:]]
    kwargs = {k: values.get(v, v) if isinstance(v, torch.fx.Node) else v for k, v in node.kwargs.items()}
    pools = {F.max_pool1d: nn.MaxPool1d, F.max_pool2d: nn.MaxPool2d, F.max_pool3d: nn.MaxPool3d,
             F.avg_pool1d: nn.AvgPool1d, F.avg_pool2d: nn.AvgPool2d, F.avg_pool3d: nn.AvgPool3d,
             F.adaptive_avg_pool1d: nn.AdaptiveAvgPool1d, F.adaptive_avg_pool2d: nn.AdaptiveAvgPool2d,
             F.adaptive_avg_pool3d: nn.AdaptiveAvgPool3d, F.adaptive_max_pool1d: nn.AdaptiveMaxPool1d,
             F.adaptive_max_pool2d: nn.AdaptiveMaxPool2d, F.adaptive_max_pool3d: nn.AdaptiveMaxPool3d}
    if target in pools:
        return pools[target](*rest, **kwargs)
    if target is F.linear:
        weight = rest[0] if rest else kwargs["weight"]
        if not isinstance(weight, torch.Tensor):
            return None
        layer = nn.Linear(weight.shape[1], weight.shape[0], bias=False, dtype=weight.dtype, device=weight.device)
        with torch.no_grad():
            layer.weight.copy_(weight)
        return layer
    return None


# ------------------------------------------------------------------------------------------ node rules
@dataclass
class Step:
    """How one node's constant combines its parents: ``sum`` (``sum c L``) or ``l2`` (``sqrt(sum (c L)^2)``)."""

    kind: str
    terms: list  # (parent node, factor)
    combine: str = "sum"
    constant: float = 1.0
    method: str = "formula"
    certified: bool = True
    detail: dict = field(default_factory=dict)


def _unsupported(node: torch.fx.Node, why: str = "an operation with a known Lipschitz constant") -> None:
    name = node.target if isinstance(node.target, str) else getattr(node.target, "__name__", repr(node.target))
    raise UnsupportedOperationError(node.name, why, f"{node.op} {name!r}")


def _numel(value: Any) -> int:
    return value.numel() if isinstance(value, torch.Tensor) else 1


def _nodes_in(argument: Any) -> list:
    found: list = []
    torch.fx.node.map_aggregate(argument, lambda a: found.append(a) if isinstance(a, torch.fx.Node) else None)
    return found


def _simple_index(index: Any) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, (int, slice)) or i is None or i is Ellipsis for i in items)


_RESHAPES_METHODS = {"view", "reshape", "flatten", "permute", "transpose", "t", "contiguous", "squeeze",
                     "unsqueeze", "clone", "unflatten", "movedim", "swapaxes"}
_RESHAPE_FUNCTIONS = {torch.flatten, torch.reshape, torch.permute, torch.transpose, torch.squeeze,
                      torch.unsqueeze, torch.t, torch.clone, torch.movedim, torch.swapaxes, torch.unflatten}
_ADDS = {operator.add, operator.iadd, torch.add, operator.sub, operator.isub, torch.sub}
_MULS = {operator.mul, operator.imul, torch.mul}
_DIVS = {operator.truediv, operator.itruediv, torch.div, torch.true_divide}


class _Rules:
    """Computes the :class:`Step` of each input-dependent node; ``layer_norm`` gives affine modules' constants."""

    def __init__(self, traced: Traced, layer_norm: Callable[[nn.Module, tuple, str], OperatorNorm]):
        self.traced = traced
        self.layer_norm = layer_norm

    def dependent(self, argument: Any) -> list:
        return [n for n in _nodes_in(argument) if n in self.traced.dependent]

    def shape_of(self, node: torch.fx.Node) -> tuple[int, ...]:
        value = self.traced.values[node]
        if not isinstance(value, torch.Tensor):
            raise UnsupportedOperationError(node.name, "a tensor", type(value).__name__)
        return tuple(value.shape[1:])

    def single_parent(self, node: torch.fx.Node) -> torch.fx.Node:
        parents = self.dependent((node.args, node.kwargs))
        if len(parents) != 1:
            _unsupported(node, "an operation with one input-dependent argument")
        return parents[0]

    def affine(self, node: torch.fx.Node, module: nn.Module) -> Step:
        parent = self.single_parent(node)
        try:
            norm = self.layer_norm(module, self.shape_of(parent), node.name)
        except InvalidInputError as error:
            if error.field != "module":
                raise
            raise UnsupportedOperationError(node.name, error.expected, error.got) from None
        return Step("affine", [(parent, norm.value)], constant=norm.value, method=norm.method,
                    certified=norm.certified, detail={"layer": type(module).__name__, **norm.details})

    def step(self, node: torch.fx.Node) -> Step:
        if node.op == "placeholder":
            return Step("input", [])
        if node.op == "output":
            return Step("output", [(n, 1.0) for n in self.dependent(node.args)], combine="l2")
        if node.op == "call_module":
            return self.module_step(node, self.traced.submodules[node.target])
        if node.op in ("call_function", "call_method"):
            return self.function_step(node)
        _unsupported(node)

    def module_step(self, node: torch.fx.Node, module: nn.Module) -> Step:
        if isinstance(module, MAXPOOLS):
            parent = self.single_parent(node)
            constant = maxpool_constant(module, self.shape_of(parent), self.shape_of(node))
            return Step("maxpool", [(parent, constant)], constant=constant, detail={"layer": type(module).__name__})
        constant = activation_constant(module)
        if constant is not None:
            return Step("activation", [(self.single_parent(node), constant)], constant=constant,
                        detail={"layer": type(module).__name__})
        if isinstance(module, AFFINE_MODULES):
            return self.affine(node, module)
        _unsupported(node, "a module with a known Lipschitz constant (see lipexact.bounds.autolip)")

    def function_step(self, node: torch.fx.Node) -> Step:
        target, values = node.target, self.traced.values
        constant = _functional_activation(node)
        if constant is not None:
            return Step("activation", [(self.single_parent(node), constant)], constant=constant)
        is_method = node.op == "call_method"
        if (is_method and target in _RESHAPES_METHODS) or (not is_method and target in _RESHAPE_FUNCTIONS):
            return Step("reshape", [(self.single_parent(node), 1.0)])
        if not is_method and target is operator.getitem:
            parent = self.single_parent(node)
            if isinstance(values[parent], (tuple, list)) or _simple_index(node.args[1]):
                return Step("reshape", [(parent, 1.0)])
            _unsupported(node, "indexing by integers and slices (an index list may repeat elements)")
        if not is_method and target is F.dropout:
            if _arg(node, 2, "training", True):
                raise UnsupportedOperationError(node.name, "dropout with training=False", "training=True")
            return Step("reshape", [(self.single_parent(node), 1.0)])
        if not is_method and target is F.pad:
            if _arg(node, 2, "mode", "constant") != "constant":
                raise UnsupportedOperationError(node.name, "constant padding", repr(_arg(node, 2, "mode", "constant")))
            return Step("reshape", [(self.single_parent(node), 1.0)])
        if (is_method and target in ("add", "sub", "add_", "sub_")) or target in _ADDS:
            return self.add_step(node)
        if (is_method and target in ("mul", "mul_")) or target in _MULS:
            return self.scale_step(node, divide=False)
        if (is_method and target in ("div", "div_")) or target in _DIVS:
            return self.scale_step(node, divide=True)
        if (is_method and target in ("neg", "neg_")) or target in (operator.neg, torch.neg):
            return Step("scale", [(self.single_parent(node), 1.0)])
        if target in (torch.cat, torch.concat, torch.stack, torch.hstack, torch.vstack):
            return Step("concat", [(n, 1.0) for n in self.dependent(node.args[0] if node.args else node.kwargs)],
                        combine="l2")
        if (is_method and target in ("mean", "sum")) or target in (torch.mean, torch.sum):
            parent = self.single_parent(node)
            ratio = _numel(values[node]) / _numel(values[parent])
            factor = math.sqrt(ratio if target in ("mean", torch.mean) else 1 / ratio)
            return Step("reduce", [(parent, factor)], constant=factor)
        if not is_method:
            module = _functional_module(node, values)
            if module is not None:
                return self.module_step(node, module)
        _unsupported(node)

    def add_step(self, node: torch.fx.Node) -> Step:
        values = self.traced.values
        operands = list(node.args[:2]) + [node.kwargs[k] for k in ("input", "other") if k in node.kwargs]
        alpha = node.kwargs.get("alpha", 1)
        terms = []
        for position, operand in enumerate(operands):
            if isinstance(operand, torch.fx.Node) and operand in self.traced.dependent:
                scale = abs(float(alpha)) if position == 1 else 1.0
                broadcast = _numel(values[node]) / _numel(values[operand])
                terms.append((operand, scale * math.sqrt(max(1.0, broadcast))))
        if len(self.dependent((node.args, node.kwargs))) != len(terms):
            _unsupported(node, "addition with input-dependent operands in positional or input/other arguments")
        return Step("add", terms, constant=max((t[1] for t in terms), default=0.0))

    def scale_step(self, node: torch.fx.Node, divide: bool) -> Step:
        values = self.traced.values
        parent = self.single_parent(node)
        operands = list(node.args[:2]) + [node.kwargs[k] for k in ("input", "other") if k in node.kwargs]
        if len(operands) != 2 or operands[0] is not parent and (divide or operands[1] is not parent):
            _unsupported(node, "multiplication or division of an input-dependent tensor by a constant")
        other = operands[1] if operands[0] is parent else operands[0]
        if "rounding_mode" in node.kwargs and node.kwargs["rounding_mode"] is not None:
            _unsupported(node, "true division by a constant")
        value = values[other] if isinstance(other, torch.fx.Node) else other
        if not isinstance(value, (torch.Tensor, int, float)) or isinstance(value, bool):
            _unsupported(node, "multiplication or division by a number or a constant tensor")
        magnitude = torch.as_tensor(value, dtype=torch.float64).abs()
        if divide:
            smallest = float(magnitude.min())
            if smallest == 0:
                _unsupported(node, "division by a constant without zeros")
            factor = 1 / smallest
        else:
            factor = float(magnitude.max())
        broadcast = _numel(values[node]) / _numel(values[parent])
        factor *= math.sqrt(max(1.0, broadcast))
        return Step("scale", [(parent, factor)], constant=factor)


# ------------------------------------------------------------------------------------------ engine
def propagate(traced: Traced, layer_norm: Callable[[nn.Module, tuple, str], OperatorNorm]) -> tuple[float, list]:
    """Run the AutoLip recurrence; returns the output's constant and one record per dependent node."""
    rules = _Rules(traced, layer_norm)
    lipschitz: dict[torch.fx.Node, float] = {}
    records = []
    output = None
    for node in traced.module.graph.nodes:
        if node not in traced.dependent and node.op != "output":
            continue
        step = rules.step(node)
        if node.op == "placeholder":
            value = 1.0
        elif step.combine == "sum":
            value = sum(factor * lipschitz[parent] for parent, factor in step.terms)
        else:
            value = math.sqrt(sum((factor * lipschitz[parent]) ** 2 for parent, factor in step.terms))
        lipschitz[node] = value
        target = node.target if isinstance(node.target, str) else getattr(node.target, "__name__", str(node.target))
        records.append({"node": node.name, "op": node.op, "target": target, "kind": step.kind,
                        "constant": step.constant, "lipschitz": value, "method": step.method,
                        "certified": step.certified, **step.detail})
        if node.op == "output":
            output = value
    return float(output), records


def _power_layer_norm(dtype: torch.dtype, device: torch.device, options: dict):
    def layer_norm(module: nn.Module, shape: tuple, name: str) -> OperatorNorm:
        return spectral_norm(module, shape, dtype=dtype, device=device, **options)

    return layer_norm


def run_graph_bound(model: Any, input_shape: Any, device: Any, dtype: Any,
                    make_norm: Callable[[torch.dtype, torch.device], Callable]) -> tuple:
    """Shared front end of :func:`autolip` and Frobenius: prepare, trace, propagate."""
    dtype, device = as_dtype(dtype), pick_device(device)
    if isinstance(model, torch.jit.ScriptModule):
        model = unscript(model, input_shape)
    shape = infer_input_shape(model, input_shape)
    module = as_module(model, dtype=dtype, device=device)
    traced = trace(module, shape, dtype, device)
    value, records = propagate(traced, make_norm(dtype, device))
    return value, records, shape


def autolip(model: Any, input_shape: Sequence[int] | None = None, *, device: Any = None,
            dtype: Any = torch.float64, seed: int = 0, **power_options: Any) -> LipschitzResult:
    """AutoLip upper bound on the l2 Lipschitz constant of a traceable model.

    Parameters
    ----------
    model : torch.nn.Module or TwoLayerReLU
        Evaluated as an eval-mode copy in ``dtype`` on ``device``.
    input_shape : sequence of int, optional
        Shape of one input (no batch dimension); inferred for MLPs and TwoLayerReLU.
    device, dtype
        Where and in which precision to compute (CUDA when available, float64).
    seed : int
        Seed of the power method's random starts (only used for uncertified large layers).
    **power_options
        ``iterations``, ``rtol``, ``restarts`` and ``exact_max_dim`` of
        :func:`lipexact.bounds.layer_norm.spectral_norm`.

    Returns
    -------
    LipschitzResult
        ``Status.UPPER_BOUND`` (``upper = value``) when every layer norm is certified, else
        ``Status.HEURISTIC``. ``certificate["nodes"]`` lists each node's constant and running bound.

    Examples
    --------
    >>> model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    >>> with torch.no_grad():
    ...     _ = model[0].weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 2.0], [0.0, 0.0]]))
    ...     _ = model[2].weight.copy_(torch.tensor([[3.0, 0.0, 0.0]]))
    >>> result = autolip(model, device="cpu")
    >>> result.status.value, round(result.value, 6)
    ('upper_bound', 6.0)
    >>> [(r["node"], round(r["constant"], 9)) for r in result.certificate["nodes"]]
    [('input_1', 1.0), ('_0', 2.0), ('_1', 1.0), ('_2', 3.0), ('output', 1.0)]

    References
    ----------
    Scaman & Virmaux 2018, arXiv:1805.10965, Section 4 (AutoLip).
    """
    start = time.perf_counter()
    check_power_options(power_options, seed)
    options = {"seed": seed, **power_options}
    value, records, shape = run_graph_bound(
        model, input_shape, device, dtype, lambda dt, dev: _power_layer_norm(dt, dev, options))
    uncertified = [r["node"] for r in records if not r["certified"]]
    layers = sum(r["kind"] == "affine" for r in records)
    stats = {"nodes": len(records), "affine_layers": layers,
             "layer_methods": {r["node"]: r["method"] for r in records if r["kind"] == "affine"}}
    timings = {"total": time.perf_counter() - start}
    if uncertified:
        message = (f"AutoLip estimate, NOT a proven bound: the spectral norms of {', '.join(uncertified)} are "
                   f"converged power-method estimates (rtol={power_options.get('rtol', 1e-8)}), which lie below "
                   f"the true norms; raise exact_max_dim to certify them")
        return LipschitzResult(Status.HEURISTIC, value, "autolip", message=message,
                               certificate={"nodes": records, "input_shape": list(shape)}, timings=timings,
                               stats=stats)
    message = f"AutoLip bound over {len(records)} graph nodes ({layers} affine layers, every norm certified)"
    return LipschitzResult(Status.UPPER_BOUND, value, "autolip", upper=value, message=message,
                           certificate={"nodes": records, "input_shape": list(shape)}, timings=timings, stats=stats)


def skipped_layer_norm(dtype: torch.dtype, device: torch.device) -> Callable:
    """A layer-norm callback that computes nothing (for checking a graph's operations up front)."""
    def layer_norm(module: nn.Module, shape: tuple, name: str) -> OperatorNorm:
        return OperatorNorm(1.0, None, True, "skipped")

    return layer_norm


def validate_autolip(model: Any, input_shape: Sequence[int] | None = None, *, device: Any = None,
                     dtype: Any = torch.float64, seed: int = 0, **power_options: Any) -> None:
    """Raise what :func:`autolip` raises for bad input (options, model, input shape, an operation
    without a known constant), without computing any layer norm.

    Examples
    --------
    >>> validate_autolip(nn.Sequential(nn.Linear(2, 3), nn.GELU()), device="cpu", restarts=1)
    >>> validate_autolip(nn.Sequential(nn.Linear(2, 3)), device="cpu", tol=1e-3)
    Traceback (most recent call last):
    ...
    reductions.validation.InvalidInputError: tol: expected an option among iterations, ..., got unknown option
    """
    check_power_options(power_options, seed)
    run_graph_bound(model, input_shape, device, dtype, skipped_layer_norm)


def check_affine(module: nn.Module, input_shape: Sequence[int]) -> None:
    """Raise :class:`UnsupportedOperationError` unless every input-dependent node of the graph is affine."""
    traced = trace(module, tuple(input_shape))
    rules = _Rules(traced, skipped_layer_norm(torch.float64, torch.device("cpu")))
    for node in traced.module.graph.nodes:
        if node in traced.dependent or node.op == "output":
            step = rules.step(node)
            if step.kind in ("activation", "maxpool"):
                raise UnsupportedOperationError(node.name, "an affine operation (the power method needs an "
                                                "affine model)", step.detail.get("layer", str(node.target)))
