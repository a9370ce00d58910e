"""The two-layer ReLU network ``f(x) = W2 relu(W1 x + b1) + b2``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from reductions.validation import InvalidInputError, as_array, check_fields, require

__all__ = ["TwoLayerReLU"]

SCHEMA_VERSION = 1


@dataclass(frozen=True, eq=False)
class TwoLayerReLU:
    """A two-layer ReLU network ``f(x) = W2 relu(W1 x + b1) + b2``, frozen and validated.

    Parameters
    ----------
    W1 : array_like, shape (h, n)
    W2 : array_like, shape (m, h)
    b1 : array_like, shape (h,), optional
        Hidden biases; ``None`` means a bias-free network (zeros, and :attr:`has_bias` is False).
    b2 : array_like, shape (m,), optional
        Output biases (they never change the Lipschitz constant).

    Integer weights are kept as ``int64`` so that exact arithmetic is possible.

    Examples
    --------
    >>> net = TwoLayerReLU([[1, 0], [0, 1]], [[1, 1]])
    >>> net([1.0, -2.0])
    array([1.])
    >>> net.pattern([1.0, -2.0])
    array([ True, False])
    >>> net.jacobian([1.0, -2.0])
    array([[1., 0.]])
    """

    W1: np.ndarray
    W2: np.ndarray
    b1: np.ndarray | None = None
    b2: np.ndarray | None = None

    def __post_init__(self) -> None:
        W1 = as_array(self.W1, "W1", ndim=2)
        h, n = W1.shape
        W2 = as_array(self.W2, "W2", ndim=2)
        require(W2.shape[1] == h, "W2", f"shape (m, {h}) to match W1's {h} hidden units", f"shape {W2.shape}")
        b1 = None if self.b1 is None else as_array(self.b1, "b1", ndim=1, shape=(h,))
        b2 = None if self.b2 is None else as_array(self.b2, "b2", ndim=1, shape=(W2.shape[0],))
        object.__setattr__(self, "W1", W1)
        object.__setattr__(self, "W2", W2)
        object.__setattr__(self, "b1", b1)
        object.__setattr__(self, "b2", b2)

    # ---------------------------------------------------------------- shape
    @property
    def n_inputs(self) -> int:
        return self.W1.shape[1]

    @property
    def n_hidden(self) -> int:
        return self.W1.shape[0]

    @property
    def n_outputs(self) -> int:
        return self.W2.shape[0]

    @property
    def has_bias(self) -> bool:
        """True when the hidden layer has a non-zero bias (the output bias does not matter)."""
        return self.b1 is not None and bool(np.any(self.b1 != 0))

    @property
    def hidden_bias(self) -> np.ndarray:
        """``b1``, or zeros for a bias-free network."""
        return self.b1 if self.b1 is not None else np.zeros(self.n_hidden)

    @property
    def output_bias(self) -> np.ndarray:
        return self.b2 if self.b2 is not None else np.zeros(self.n_outputs)

    # ---------------------------------------------------------------- evaluation
    def _inputs(self, x: Any) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.shape[-1:] != (self.n_inputs,) or x.ndim not in (1, 2):
            raise InvalidInputError("x", f"shape ({self.n_inputs},) or (k, {self.n_inputs})", f"shape {x.shape}")
        return x

    def preactivation(self, x: Any) -> np.ndarray:
        """``W1 x + b1`` for one input ``(n,)`` or a batch ``(k, n)``."""
        x = self._inputs(x)
        return x @ self.W1.T + self.hidden_bias

    def __call__(self, x: Any) -> np.ndarray:
        return np.maximum(self.preactivation(x), 0.0) @ self.W2.T + self.output_bias

    def pattern(self, x: Any) -> np.ndarray:
        """The activation pattern ``s_i = [(W1 x + b1)_i > 0]`` (boolean)."""
        return self.preactivation(x) > 0

    def jacobian_of_pattern(self, s: Any) -> np.ndarray:
        """``J(s) = W2 diag(s) W1``, shape ``(m, n)``, for a pattern ``s`` in ``{0,1}^h``."""
        s = np.asarray(s, dtype=np.float64)
        require(s.shape == (self.n_hidden,), "s", f"shape ({self.n_hidden},)", f"shape {s.shape}")
        return (self.W2 * s) @ self.W1

    def jacobian(self, x: Any) -> np.ndarray:
        """The Jacobian at ``x`` (defined where no pre-activation is exactly zero)."""
        return self.jacobian_of_pattern(self.pattern(x))

    # ---------------------------------------------------------------- conversions
    def to_torch(self, dtype: Any = None, device: Any = None):
        """A ``torch.nn.Sequential(Linear, ReLU, Linear)`` computing the same function (float64 default)."""
        import torch

        dtype = torch.float64 if dtype is None else dtype
        linear1 = torch.nn.Linear(self.n_inputs, self.n_hidden, dtype=dtype, device=device)
        linear2 = torch.nn.Linear(self.n_hidden, self.n_outputs, dtype=dtype, device=device)
        with torch.no_grad():
            linear1.weight.copy_(torch.tensor(np.array(self.W1, dtype=np.float64)))
            linear1.bias.copy_(torch.tensor(np.array(self.hidden_bias, dtype=np.float64)))
            linear2.weight.copy_(torch.tensor(np.array(self.W2, dtype=np.float64)))
            linear2.bias.copy_(torch.tensor(np.array(self.output_bias, dtype=np.float64)))
        return torch.nn.Sequential(linear1, torch.nn.ReLU(), linear2)

    @classmethod
    def from_torch(cls, module: Any) -> "TwoLayerReLU":
        """Read a ``Sequential(Linear, ReLU, Linear)`` (the inverse of :meth:`to_torch`)."""
        import torch

        layers = list(module) if isinstance(module, torch.nn.Sequential) else None
        ok = (
            layers is not None
            and len(layers) == 3
            and isinstance(layers[0], torch.nn.Linear)
            and isinstance(layers[1], torch.nn.ReLU)
            and isinstance(layers[2], torch.nn.Linear)
        )
        require(ok, "module", "torch.nn.Sequential(Linear, ReLU, Linear)", type(module).__name__)
        first, _, second = layers

        def numpy(t):
            return None if t is None else t.detach().cpu().double().numpy()

        return cls(numpy(first.weight), numpy(second.weight), numpy(first.bias), numpy(second.bias))

    def to_dict(self) -> dict:
        """A JSON-ready dict with ``"type": "two_layer_relu"`` and a schema version."""

        def listed(a):
            return None if a is None else a.tolist()

        return {
            "type": "two_layer_relu",
            "version": SCHEMA_VERSION,
            "W1": listed(self.W1),
            "b1": listed(self.b1),
            "W2": listed(self.W2),
            "b2": listed(self.b2),
        }

    @classmethod
    def from_dict(cls, data: Any) -> "TwoLayerReLU":
        require(isinstance(data, dict), "network", "a JSON object", type(data).__name__)
        require(data.get("type") == "two_layer_relu", "type", '"two_layer_relu"', repr(data.get("type")))
        require(data.get("version", SCHEMA_VERSION) == SCHEMA_VERSION, "version", str(SCHEMA_VERSION),
                repr(data.get("version")))
        for key in ("W1", "W2"):
            require(key in data, key, "a matrix (field is missing)")
        check_fields(data, {"type", "version", "W1", "b1", "W2", "b2"}, "two_layer_relu")
        return cls(data["W1"], data["W2"], data.get("b1"), data.get("b2"))

    def __repr__(self) -> str:
        return (f"TwoLayerReLU(n={self.n_inputs}, h={self.n_hidden}, m={self.n_outputs}, "
                f"bias={self.has_bias})")
