"""The LipSDP-neuron matrix of a ReLU MLP, and the weights it is built from.

For ``f(x) = W_k relu(W_{k-1} ... relu(W_1 x + b_1) ... + b_{k-1}) + b_k`` with hidden layers
``1..k-1`` of widths ``n_1..n_{k-1}`` (input width ``n_0``), ReLU is slope-restricted in ``[0, 1]``: for
any two pre-activations ``v, v'`` the outputs satisfy, neuron by neuron, ``dw_j (dv_j - dw_j) >= 0``
(``dw_j = s dv_j`` with ``s`` in ``[0, 1]``). Weighting these by ``t_ij >= 0`` (one multiplier per neuron,
``T_i = diag(t_i)``), Fazlyab et al. (2019, Theorem 2 with ``alpha = 0``, ``beta = 1``; the "LipSDP-Neuron"
form) obtain the block-tridiagonal symmetric matrix, blocks indexed by the input (0) and hidden layers
``1..k-1``::

    M[0, 0]     = -rho I
    M[i, i]     = -2 T_i                      (hidden i < k-1)
    M[k-1, k-1] = -2 T_{k-1} + W_k^T W_k      (last hidden layer)
    M[i-1, i]   = W_i^T T_i,   M[i, i-1] = T_i W_i

and if ``M <= 0`` (negative semidefinite) then ``||f(x) - f(y)||_2 <= sqrt(rho) ||x - y||_2``.

Proof. Take ``z = (dx_0, dx_1, ..., dx_{k-1})`` with ``dx_0 = x - y`` and ``dx_i`` the difference of the
``i``-th hidden layer's outputs. Then ``z^T M z = -rho |dx_0|^2 + |W_k dx_{k-1}|^2 + sum_i 2 sum_j
t_ij (W_i dx_{i-1})_j (dx_i)_j - (dx_i)_j^2)``. Each inner term is ``t_ij dw (dv - dw) >= 0``, so
``0 >= z^T M z >= |f(x) - f(y)|^2 - rho |x - y|^2``. (With ``alpha = 0`` the ``-2 alpha beta W^T T W``
term of the general slope-restricted form vanishes: the diagonal blocks carry no ``W^T T W``.)
For one hidden layer this is the matrix of DESIGN.md section 7.

References
----------
Fazlyab, Robey, Hassani, Morari, Pappas. Efficient and accurate estimation of Lipschitz constants for deep
neural networks. NeurIPS 2019 (LipSDP; the neuron-level multipliers used here).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from lipexact.bounds.errors import NotApplicableError
from reductions.validation import InvalidInputError, require

__all__ = ["mlp_weights", "checked_mlp_weights", "lipsdp_matrix", "unchecked_matrix", "check_weights",
           "check_multipliers", "hidden_widths"]


def _flat_children(module: Any) -> list:
    from torch import nn

    if isinstance(module, nn.Sequential):
        out = []
        for child in module:
            out.extend(_flat_children(child))
        return out
    return [module]


def checked_mlp_weights(model: Any, input_shape: Any = None) -> list[np.ndarray]:
    """:func:`mlp_weights`, with ``input_shape`` (when given) checked against the first Linear layer's inputs.

    Examples
    --------
    >>> import torch
    >>> mlp = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    >>> checked_mlp_weights(mlp, input_shape=(2,))
    Traceback (most recent call last):
    ...
    reductions.validation.InvalidInputError: input_shape: expected a shape with 3 entries (the first Linear layer's inputs), got (2,)
    """
    weights = mlp_weights(model, input_shape)
    if input_shape is not None:
        n0 = weights[0].shape[1]
        try:
            shape = tuple(int(s) for s in input_shape)
        except (TypeError, ValueError):
            raise InvalidInputError("input_shape", "a tuple of positive integers", repr(input_shape)) from None
        require(all(s > 0 for s in shape) and math.prod(shape) == n0, "input_shape",
                f"a shape with {n0} entries (the first Linear layer's inputs)", repr(input_shape))
    return weights


def mlp_weights(model: Any, input_shape: Any = None) -> list[np.ndarray]:
    """The weight matrices ``W_1..W_k`` (float64, shapes ``(n_i, n_{i-1})``) of a ReLU MLP.

    Accepts a :class:`~lipexact.network.TwoLayerReLU`, a :class:`~lipexact.deep.network.ReLUNetwork`, or a
    torch module whose layers (an ``nn.Sequential``, nested ones flattened, or any module whose torch.fx graph
    is a chain: :func:`lipexact.bounds.chain.chain_layers`) are ``Linear`` layers separated by exactly one
    ``ReLU`` each, with ``Flatten``, ``Identity`` and ``Dropout`` (in eval mode: the identity) anywhere.
    Biases are ignored (they do not change the global Lipschitz constant). At least one hidden layer is
    required. ``input_shape`` (one input, no batch dimension) is used to trace a module that is not an
    ``nn.Sequential`` (read from its first Linear layer when omitted). A model of another form raises
    :class:`~lipexact.bounds.errors.NotApplicableError` (the method does not apply to it) naming ``model`` or
    the layer.

    Examples
    --------
    >>> import torch
    >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3, 4), torch.nn.ReLU(),
    ...                             torch.nn.Linear(4, 2))
    >>> [w.shape for w in mlp_weights(model)]
    [(4, 3), (2, 4)]
    >>> from lipexact.network import TwoLayerReLU
    >>> [w.tolist() for w in mlp_weights(TwoLayerReLU([[1, 2]], [[3]]))]
    [[[1.0, 2.0]], [[3.0]]]
    >>> mlp_weights(torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2)))
    Traceback (most recent call last):
    ...
    lipexact.bounds.errors.NotApplicableError: model[1]: expected Linear, ReLU, Flatten, Identity or Dropout ..., got Tanh
    """
    from lipexact.deep.network import ReLUNetwork
    from lipexact.network import TwoLayerReLU

    if isinstance(model, TwoLayerReLU):
        return check_weights([np.asarray(model.W1, dtype=np.float64), np.asarray(model.W2, dtype=np.float64)])
    if isinstance(model, ReLUNetwork):
        return check_weights([np.asarray(w, dtype=np.float64) for w in model.weights])
    try:
        from torch import nn
    except ImportError:  # pragma: no cover - torch is a dependency of the bounds
        raise InvalidInputError("model", "a TwoLayerReLU, a ReLUNetwork or a torch.nn.Sequential MLP",
                                type(model).__name__) from None
    if isinstance(model, nn.Module) and not isinstance(model, nn.Sequential):
        from lipexact.bounds.chain import chain_layers  # a custom class, functional calls, TorchScript: its fx chain

        try:
            model = chain_layers(model, input_shape).sequential()
        except NotApplicableError:
            raise
        except InvalidInputError as error:  # e.g. no input shape to trace with: not an MLP that starts with Linear
            raise NotApplicableError("model", "a chain of Linear and ReLU layers", str(error)) from None
    if not isinstance(model, nn.Sequential):
        raise NotApplicableError("model", "a TwoLayerReLU, a ReLUNetwork or a torch module of Linear and ReLU layers",
                                 type(model).__name__)
    weights: list[np.ndarray] = []
    expect_linear = True
    children = _flat_children(model)
    for index, layer in enumerate(children):
        if isinstance(layer, (nn.Flatten, nn.Identity, nn.Dropout)):
            continue
        if isinstance(layer, nn.Linear):
            if not expect_linear:
                raise NotApplicableError(f"model[{index}]", "a ReLU between two Linear layers", "Linear")
            weights.append(layer.weight.detach().to("cpu").double().numpy().copy())
            expect_linear = False
        elif isinstance(layer, nn.ReLU):
            if expect_linear:
                raise NotApplicableError(f"model[{index}]",
                                         "a Linear layer first and one ReLU after each Linear but the last", "ReLU")
            expect_linear = True
        else:
            raise NotApplicableError(f"model[{index}]",
                                     "Linear, ReLU, Flatten, Identity or Dropout (a ReLU MLP for LipSDP)",
                                     type(layer).__name__)
    if not weights or expect_linear:
        raise NotApplicableError("model", "a ReLU MLP ending with a Linear layer",
                                 "no Linear layer" if not weights else "a trailing ReLU")
    return check_weights(weights)


def check_weights(weights: Sequence[Any]) -> list[np.ndarray]:
    """``weights`` as finite float64 matrices with chained shapes and at least two layers.

    Examples
    --------
    >>> check_weights([[[1.0, 2.0]], [[1.0], [2.0]]])[1].shape
    (2, 1)
    >>> check_weights([[[1.0, 2.0]], [[1.0, 2.0]]])
    Traceback (most recent call last):
    ...
    reductions.validation.InvalidInputError: weights[1]: expected shape (*, 1) ..., got shape (1, 2)
    """
    try:
        raw = list(weights)
    except TypeError:
        raise InvalidInputError("weights", "a sequence of matrices", type(weights).__name__) from None
    require(len(raw) >= 2, "weights", "at least 2 layers (one hidden ReLU layer)", f"{len(raw)} layer(s)")
    out = []
    for i, w in enumerate(raw):
        try:
            array = np.array(w, dtype=np.float64)
        except (TypeError, ValueError):
            raise InvalidInputError(f"weights[{i}]", "a real matrix", type(w).__name__) from None
        require(array.ndim == 2 and array.size > 0, f"weights[{i}]", "a non-empty 2-D matrix",
                f"shape {array.shape}")
        require(bool(np.isfinite(array).all()), f"weights[{i}]", "finite entries", "inf or NaN")
        if out:
            width = out[-1].shape[0]
            require(array.shape[1] == width, f"weights[{i}]",
                    f"shape (*, {width}) to match the {width} outputs of weights[{i - 1}]", f"shape {array.shape}")
        out.append(array)
    return out


def hidden_widths(weights: Sequence[np.ndarray]) -> list[int]:
    """Widths ``n_1..n_{k-1}`` of the hidden layers (one multiplier vector each).

    Examples
    --------
    >>> hidden_widths([np.ones((4, 3)), np.ones((5, 4)), np.ones((1, 5))])
    [4, 5]
    """
    return [int(w.shape[0]) for w in list(weights)[:-1]]


def check_multipliers(weights: Sequence[np.ndarray], multipliers: Sequence[Any]) -> list[np.ndarray]:
    """``multipliers`` as finite float64 vectors, one per hidden layer, of the hidden widths.

    Negative entries are allowed here (the certifier decides what to do with them).

    Examples
    --------
    >>> check_multipliers([np.ones((2, 3)), np.ones((1, 2))], [[1, 2]])
    [array([1., 2.])]
    >>> check_multipliers([np.ones((2, 3)), np.ones((1, 2))], [[1, 2, 3]])
    Traceback (most recent call last):
    ...
    reductions.validation.InvalidInputError: multipliers[0]: expected a vector of 2 entries, got shape (3,)
    """
    widths = hidden_widths(weights)
    try:
        raw = list(multipliers)
    except TypeError:
        raise InvalidInputError("multipliers", "a sequence of vectors", type(multipliers).__name__) from None
    require(len(raw) == len(widths), "multipliers", f"{len(widths)} vectors (one per hidden layer)", str(len(raw)))
    out = []
    for i, (t, width) in enumerate(zip(raw, widths)):
        try:
            array = np.array(t, dtype=np.float64).reshape(-1) if np.ndim(t) <= 1 else np.array(t, dtype=np.float64)
        except (TypeError, ValueError):
            raise InvalidInputError(f"multipliers[{i}]", "a real vector", type(t).__name__) from None
        require(array.shape == (width,), f"multipliers[{i}]", f"a vector of {width} entries", f"shape {array.shape}")
        require(bool(np.isfinite(array).all()), f"multipliers[{i}]", "finite entries", "inf or NaN")
        out.append(array)
    return out


def lipsdp_matrix(weights: Sequence[Any], multipliers: Sequence[Any], rho: float) -> np.ndarray:
    """The LipSDP-neuron matrix ``M(T, rho)`` (float64, symmetric, size ``n_0 + n_1 + ... + n_{k-1}``).

    ``M <= 0`` with all multipliers ``>= 0`` proves ``L2(f) <= sqrt(rho)`` (see the module docstring). The
    entries are rounded floating-point values; :func:`lipexact.bounds.sdp.certify.certified_rho` accounts
    for that rounding.

    Parameters
    ----------
    weights : sequence of matrices
        ``W_1..W_k`` (see :func:`mlp_weights`).
    multipliers : sequence of vectors
        ``t_1..t_{k-1}``, one per hidden layer; ``T_i = diag(t_i)``.
    rho : float
        The squared Lipschitz candidate.

    Examples
    --------
    >>> lipsdp_matrix([[[1.0]], [[2.0]]], [[3.0]], 5.0)
    array([[-5.,  3.],
           [ 3., -2.]])
    """
    W = check_weights(weights)
    return unchecked_matrix(W, check_multipliers(W, multipliers), float(rho))


def unchecked_matrix(W: list[np.ndarray], T: list[np.ndarray], rho: float) -> np.ndarray:
    """:func:`lipsdp_matrix` for weights and multipliers already checked (float64 arrays of matching shapes):
    for the inner loops of the solvers, which build it thousands of times."""
    sizes = [W[0].shape[1]] + hidden_widths(W)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    M = np.zeros((offsets[-1], offsets[-1]))
    M[:sizes[0], :sizes[0]] = -rho * np.eye(sizes[0])
    for i in range(1, len(sizes)):
        a, b = offsets[i], offsets[i + 1]
        p, q = offsets[i - 1], offsets[i]
        block = W[i - 1].T * T[i - 1][None, :]  # W_i^T T_i, entry (a, j) = W_i[j, a] t_j
        M[p:q, a:b] = block
        M[a:b, p:q] = block.T
        M[a:b, a:b] = np.diag(-2.0 * T[i - 1])
    last = slice(offsets[-2], offsets[-1])
    M[last, last] += W[-1].T @ W[-1]
    return M
