"""The deep ReLU network ``f = L_k o relu o ... o relu o L_1`` (``k >= 2`` affine layers).

Weights follow the ``torch.nn.Linear`` convention (``weight`` is ``out x in``). Integer weights are kept
as ``int64`` so that exact arithmetic stays possible (:mod:`lipexact.deep.exact`). The JSON format is the
one of ``../shared/networks`` (``{"type": "relu_network", "version": 1, "layers": [{"weight", "bias"}]}``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from reductions.validation import InvalidInputError, as_array, check_fields, require

__all__ = ["ReLUNetwork", "SCHEMA_VERSION"]

SCHEMA_VERSION = 1

#: Top-level keys of a network file read and ignored besides :data:`reductions.validation.DESCRIPTIVE_KEYS`
#: (``activation`` is checked to be ``"relu"``).
_NETWORK_KEYS = {"type", "version", "layers", "activation", "weight_convention", "origin", "published", "sizes"}


def _activation_name(value: Any) -> Any:
    """An activation as a JSON file may spell it (``"ReLU"``, ``" relu"``): lower case, stripped; non-strings as
    given."""
    return value.strip().lower() if isinstance(value, str) else value


@dataclass(frozen=True, eq=False)
class ReLUNetwork:
    """A frozen, validated ReLU network with ``k >= 2`` affine layers.

    Parameters
    ----------
    layers : sequence of (weight, bias)
        ``weight`` of shape ``(out_i, in_i)`` with ``in_{i+1} = out_i``; ``bias`` of shape ``(out_i,)`` or
        None (zeros). Finite, non-empty; integers stay ``int64``.

    Examples
    --------
    >>> net = ReLUNetwork([([[1, -1], [1, 1]], [0, -1]), ([[1, 1]], None), ([[2]], [3])])
    >>> net.sizes, net.n_hidden
    ([2, 2, 1, 1], 3)
    >>> [p.tolist() for p in net.pattern([1.0, 0.5])]
    [[True, True], [True]]
    >>> net.jacobian([1.0, 0.5])
    array([[4., 0.]])
    >>> ReLUNetwork([([[1.0, 2.0]], None), ([[1.0], [2.0]], [1.0, 2.0, 3.0])])
    Traceback (most recent call last):
    ...
    reductions.validation.InvalidInputError: layers[1].bias: expected shape (2,), got shape (3,)
    """

    layers: tuple

    def __post_init__(self) -> None:
        try:
            raw = list(self.layers)
        except TypeError:
            raise InvalidInputError("layers", "a sequence of (weight, bias) pairs", type(self.layers).__name__) from None
        require(len(raw) >= 2, "layers", "at least 2 affine layers (one hidden ReLU layer)", f"{len(raw)} layer(s)")
        checked = []
        width = None
        for i, layer in enumerate(raw):
            if isinstance(layer, dict):
                require("weight" in layer, f"layers[{i}].weight", "a matrix (field is missing)")
                weight, bias = layer["weight"], layer.get("bias")
            else:
                require(isinstance(layer, (tuple, list)) and len(layer) == 2, f"layers[{i}]",
                        "a (weight, bias) pair", type(layer).__name__)
                weight, bias = layer
            W = as_array(weight, f"layers[{i}].weight", ndim=2)
            if width is not None:
                require(W.shape[1] == width, f"layers[{i}].weight",
                        f"shape (*, {width}) to match the {width} outputs of layers[{i - 1}]", f"shape {W.shape}")
            b = np.zeros(W.shape[0], dtype=np.int64) if bias is None else \
                as_array(bias, f"layers[{i}].bias", ndim=1, shape=(W.shape[0],))
            if b.flags.writeable:
                b.setflags(write=False)
            checked.append((W, b))
            width = W.shape[0]
        object.__setattr__(self, "layers", tuple(checked))

    # ---------------------------------------------------------------- shape
    @property
    def depth(self) -> int:
        """Number of affine layers ``k``."""
        return len(self.layers)

    @property
    def sizes(self) -> list[int]:
        """``[n_inputs, width_1, ..., width_{k-1}, n_outputs]``."""
        return [self.layers[0][0].shape[1]] + [W.shape[0] for W, _ in self.layers]

    @property
    def n_inputs(self) -> int:
        return self.layers[0][0].shape[1]

    @property
    def n_outputs(self) -> int:
        return self.layers[-1][0].shape[0]

    @property
    def hidden_sizes(self) -> list[int]:
        """Widths of the ReLU layers."""
        return [W.shape[0] for W, _ in self.layers[:-1]]

    @property
    def n_hidden(self) -> int:
        """Total number of ReLU units."""
        return sum(self.hidden_sizes)

    @property
    def weights(self) -> list[np.ndarray]:
        return [W for W, _ in self.layers]

    @property
    def biases(self) -> list[np.ndarray]:
        return [b for _, b in self.layers]

    @property
    def is_integer(self) -> bool:
        return all(W.dtype.kind in "iu" and b.dtype.kind in "iu" for W, b in self.layers)

    # ---------------------------------------------------------------- evaluation
    def _inputs(self, x: Any) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.shape[-1:] != (self.n_inputs,) or x.ndim not in (1, 2):
            raise InvalidInputError("x", f"shape ({self.n_inputs},) or (k, {self.n_inputs})", f"shape {x.shape}")
        return x

    def preactivations(self, x: Any) -> list[np.ndarray]:
        """The pre-activations of every ReLU layer at ``x`` (one input ``(n,)`` or a batch ``(k, n)``), float64."""
        a = self._inputs(x)
        result = []
        for W, b in self.layers[:-1]:
            z = a @ np.asarray(W, dtype=np.float64).T + b
            result.append(z)
            a = np.maximum(z, 0.0)
        return result

    def __call__(self, x: Any) -> np.ndarray:
        a = self._inputs(x)
        for W, b in self.layers[:-1]:
            a = np.maximum(a @ np.asarray(W, dtype=np.float64).T + b, 0.0)
        W, b = self.layers[-1]
        return a @ np.asarray(W, dtype=np.float64).T + b

    def pattern(self, x: Any) -> list[np.ndarray]:
        """The float activation pattern per ReLU layer, ``z > 0`` (boolean)."""
        return [z > 0 for z in self.preactivations(x)]

    def check_patterns(self, patterns: Any) -> list[np.ndarray]:
        """``patterns`` as one boolean vector per ReLU layer; a concatenated vector is split."""
        sizes = self.hidden_sizes
        if isinstance(patterns, np.ndarray) and patterns.ndim == 1 or (
                isinstance(patterns, (list, tuple)) and len(patterns) and np.ndim(patterns[0]) == 0):
            flat = np.asarray(patterns)
            require(flat.shape == (self.n_hidden,), "patterns", f"{self.n_hidden} entries", f"shape {flat.shape}")
            patterns = np.split(flat, np.cumsum(sizes)[:-1])
        require(len(patterns) == len(sizes), "patterns", f"{len(sizes)} layer patterns", f"{len(patterns)}")
        result = []
        for i, (p, width) in enumerate(zip(patterns, sizes)):
            p = np.asarray(p)
            require(p.shape == (width,), f"patterns[{i}]", f"shape ({width},)", f"shape {p.shape}")
            result.append(p.astype(bool))
        return result

    def jacobian_of_patterns(self, patterns: Any) -> np.ndarray:
        """``J = W_k D_{k-1} W_{k-1} ... D_1 W_1`` (float64, ``out x in``) for one pattern per ReLU layer.

        Examples
        --------
        >>> net = ReLUNetwork([([[1, 0], [0, 1]], None), ([[3, 4]], None)])
        >>> net.jacobian_of_patterns([[True, False]]).tolist()
        [[3.0, 0.0]]
        """
        patterns = self.check_patterns(patterns)
        J = np.asarray(self.layers[0][0], dtype=np.float64)
        for (W, _), s in zip(self.layers[1:], patterns):
            J = np.asarray(W, dtype=np.float64)[:, s] @ J[s]
        return J

    def jacobian(self, x: Any) -> np.ndarray:
        """The Jacobian at ``x`` from the float pattern (defined where no pre-activation is zero)."""
        return self.jacobian_of_patterns(self.pattern(np.asarray(x, dtype=np.float64).reshape(self.n_inputs)))

    # ---------------------------------------------------------------- conversions
    def to_torch(self, dtype: Any = None, device: Any = None):
        """A ``torch.nn.Sequential`` of ``Linear`` and ``ReLU`` computing the same function (float64 default)."""
        import torch

        dtype = torch.float64 if dtype is None else dtype
        modules = []
        for i, (W, b) in enumerate(self.layers):
            linear = torch.nn.Linear(W.shape[1], W.shape[0], dtype=dtype, device=device)
            with torch.no_grad():
                linear.weight.copy_(torch.tensor(np.array(W, dtype=np.float64)))
                linear.bias.copy_(torch.tensor(np.array(b, dtype=np.float64)))
            modules.append(linear)
            if i < self.depth - 1:
                modules.append(torch.nn.ReLU())
        return torch.nn.Sequential(*modules)

    @classmethod
    def from_torch(cls, module: Any) -> "ReLUNetwork":
        """Read a ``torch.nn.Sequential`` of ``Linear`` layers with one ``ReLU`` between consecutive ones.

        ``Flatten`` (of a vector input) and ``Identity`` are skipped; any other module, a ``ReLU`` that does
        not sit between two ``Linear`` layers, or two ``ReLU`` in a row is refused naming its index.

        Examples
        --------
        >>> import torch
        >>> torch.manual_seed(0) is not None
        True
        >>> model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 3),
        ...                             torch.nn.ReLU(), torch.nn.Identity(), torch.nn.Linear(3, 1))
        >>> ReLUNetwork.from_torch(model).sizes
        [2, 3, 3, 1]
        >>> ReLUNetwork.from_torch(torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1)))
        Traceback (most recent call last):
        ...
        reductions.validation.InvalidInputError: module[1]: expected Linear, ReLU, Flatten or Identity, got Tanh
        """
        import torch

        require(isinstance(module, torch.nn.Sequential), "module", "a torch.nn.Sequential of Linear and ReLU",
                type(module).__name__)
        layers = []
        expect_linear = True  # after a ReLU (or at the start) the next real module must be a Linear
        relu_since_linear = False
        for index, part in enumerate(module):
            if isinstance(part, (torch.nn.Identity, torch.nn.Flatten)):
                continue
            if isinstance(part, torch.nn.Linear):
                if layers and not relu_since_linear:
                    raise InvalidInputError(f"module[{index}]", "a ReLU between two Linear layers",
                                            "Linear directly after Linear")
                weight = part.weight.detach().cpu().double().numpy()
                bias = None if part.bias is None else part.bias.detach().cpu().double().numpy()
                layers.append((weight, bias))
                expect_linear, relu_since_linear = False, False
            elif isinstance(part, torch.nn.ReLU):
                if expect_linear:
                    raise InvalidInputError(f"module[{index}]", "a ReLU only between two Linear layers",
                                            "ReLU before any Linear" if not layers else "two ReLU in a row")
                expect_linear, relu_since_linear = True, True
            else:
                raise InvalidInputError(f"module[{index}]", "Linear, ReLU, Flatten or Identity", type(part).__name__)
        require(not relu_since_linear, "module", "a Linear layer last (no ReLU after the output layer)",
                "a trailing ReLU")
        require(len(layers) >= 2, "module", "at least two Linear layers with a ReLU between them",
                f"{len(layers)} Linear layer(s)")
        return cls(layers)

    @classmethod
    def from_two_layer(cls, net: Any) -> "ReLUNetwork":
        """The same function as a :class:`~lipexact.network.TwoLayerReLU` (weights kept as they are)."""
        return cls([(net.W1, net.hidden_bias), (net.W2, net.output_bias)])

    def to_dict(self) -> dict:
        """The JSON object of ``../shared/networks`` (``"type": "relu_network"``, ``"version": 1``)."""
        return {"type": "relu_network", "version": SCHEMA_VERSION,
                "layers": [{"weight": W.tolist(), "bias": b.tolist()} for W, b in self.layers]}

    @classmethod
    def from_dict(cls, data: Any) -> "ReLUNetwork":
        """Read the JSON object of :meth:`to_dict`; descriptive keys (``"name"``, ``"source"``, ``"license"``,
        ``"dataset"``, ``"notes"``, ...: :data:`reductions.validation.DESCRIPTIVE_KEYS`, also in a layer) are allowed
        and ignored, any other key is refused.

        Examples
        --------
        >>> ReLUNetwork.from_dict({"type": "relu_network", "version": 1, "name": "tiny",
        ...                        "layers": [{"weight": [[1.0]], "bias": [0.5]}, {"weight": [[2.0]]}]}).sizes
        [1, 1, 1]
        """
        require(isinstance(data, dict), "network", "a JSON object", type(data).__name__)
        require(data.get("type") == "relu_network", "type", '"relu_network"', repr(data.get("type")))
        require(data.get("version", SCHEMA_VERSION) == SCHEMA_VERSION, "version", str(SCHEMA_VERSION),
                repr(data.get("version")))
        activation = data.get("activation", "relu")
        require(_activation_name(activation) == "relu", "activation", '"relu"', repr(activation))
        check_fields(data, _NETWORK_KEYS, "relu_network")
        require("layers" in data, "layers", "a list of layers (field is missing)")
        layers = data["layers"]
        require(isinstance(layers, list), "layers", "a list of {weight, bias} objects", type(layers).__name__)
        for i, layer in enumerate(layers):
            require(isinstance(layer, dict), f"layers[{i}]", "a {weight, bias} object", type(layer).__name__)
            check_fields(layer, {"weight", "bias", "activation"}, "layer", prefix=f"layers[{i}].")
            if "activation" in layer:  # optional: the ReLU after every layer but the last
                given = layer["activation"]
                name = _activation_name(given)
                if i + 1 < len(layers):
                    require(name == "relu", f"layers[{i}].activation", '"relu"', repr(given))
                else:
                    require(name in (None, "none", "linear", "identity"), f"layers[{i}].activation",
                            'none (f has no activation after its last layer)', repr(given))
        return cls(layers)

    def __repr__(self) -> str:
        return f"ReLUNetwork(sizes={self.sizes})"


def as_network(net: Any) -> ReLUNetwork:
    """Accept a :class:`ReLUNetwork`, a ``torch.nn.Sequential``, a ``TwoLayerReLU`` or a JSON dict.

    Examples
    --------
    >>> from lipexact.network import TwoLayerReLU
    >>> as_network(TwoLayerReLU([[1, 2]], [[3]])).sizes
    [2, 1, 1]
    """
    if isinstance(net, ReLUNetwork):
        return net
    if isinstance(net, dict):
        return ReLUNetwork.from_dict(net)
    from lipexact.network import TwoLayerReLU

    if isinstance(net, TwoLayerReLU):
        return ReLUNetwork.from_two_layer(net)
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a required dependency
        torch = None
    if torch is not None and isinstance(net, torch.nn.Module):
        return ReLUNetwork.from_torch(net)
    raise InvalidInputError("net", "a ReLUNetwork, torch.nn.Sequential, TwoLayerReLU or relu_network dict",
                            type(net).__name__)


__all__.append("as_network")



def normalized_by_powers_of_two(net: ReLUNetwork) -> tuple[ReLUNetwork, int]:
    """A copy of ``net`` whose every layer has its largest absolute weight in ``[0.5, 1)``, and the exponent
    ``E`` with ``L(net) = 2^E L(copy)`` in every norm, on every box and globally.

    Layer ``j``'s weights are multiplied by ``2^-e_j`` and its bias by ``2^-(e_1 + ... + e_j)``: every
    pre-activation of layer ``j`` is multiplied by that power of two, so (relu being positively homogeneous)
    every joint activation region stays exactly the same and every Jacobian is multiplied by ``2^-E``,
    ``E = e_1 + ... + e_k``. Powers of two multiply floats exactly; when a scaled entry would overflow or leave
    the normal range (so that the product is no longer exact), the network is returned unchanged with ``E = 0``.

    Examples
    --------
    >>> net = ReLUNetwork([([[3.0, -8.0]], [5.0]), ([[0.25]], [1.0])])
    >>> copy, exponent = normalized_by_powers_of_two(net)
    >>> [W.tolist() for W in copy.weights], [b.tolist() for b in copy.biases], exponent
    ([[[0.1875, -0.5]], [[0.5]]], [[0.3125], [0.125]], 3)
    """
    import math

    layers, total, exponent = [], 0, 0
    for W, b in zip(net.weights, net.biases):
        W = np.asarray(W, dtype=np.float64)
        largest = float(np.max(np.abs(W))) if W.size else 0.0
        e = math.frexp(largest)[1] if largest > 0 and math.isfinite(largest) else 0
        total += e
        exponent += e
        scaled_W = np.ldexp(W, -e)
        scaled_b = None if b is None else np.ldexp(np.asarray(b, dtype=np.float64), -total)
        for original, scaled, shift in ((W, scaled_W, e), (b, scaled_b, total)):
            if original is not None and not np.array_equal(np.ldexp(scaled, shift), np.asarray(original, np.float64)):
                return net, 0  # a product left the exactly representable range
            if original is not None and np.any((scaled != 0) & (np.abs(scaled) < np.finfo(np.float64).tiny)):
                return net, 0  # subnormal: later products would round
        layers.append((scaled_W, scaled_b))
    return ReLUNetwork(layers), exponent


__all__.append("normalized_by_powers_of_two")
