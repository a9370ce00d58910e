"""One entry point for every feed-forward ReLU network: two layers go to the two-layer solvers
(:mod:`lipexact.exact`), deeper networks to :mod:`lipexact.deep`.

A network with one hidden layer is always solved by the two-layer code, whatever form it comes in (a
``ReLUNetwork`` of two layers, a ``relu_network`` document, a ``Sequential(Linear, ReLU, Linear)``), so
there is one code path per depth.
"""

from __future__ import annotations

from typing import Any

from lipexact.result import LipschitzResult
from reductions.validation import require

__all__ = ["lipschitz", "as_any_network"]


def as_any_network(net: Any) -> Any:
    """A :class:`~lipexact.network.TwoLayerReLU` for one hidden layer, else a
    :class:`~lipexact.deep.network.ReLUNetwork` (from either, a torch ``Sequential`` or a JSON dict).

    Examples
    --------
    >>> type(as_any_network({"type": "relu_network", "layers": [{"weight": [[1.0]], "bias": [0.0]},
    ...                                                          {"weight": [[2.0]], "bias": [0.0]}]})).__name__
    'TwoLayerReLU'
    """
    from lipexact.deep.network import ReLUNetwork, as_network
    from lipexact.network import TwoLayerReLU

    if isinstance(net, TwoLayerReLU):
        return net
    if isinstance(net, dict) and net.get("type") == "two_layer_relu":
        return TwoLayerReLU.from_dict(net)
    deep = net if isinstance(net, ReLUNetwork) else as_network(net)
    if deep.depth > 2:
        return deep
    (W1, b1), (W2, b2) = zip(deep.weights, deep.biases)
    return TwoLayerReLU(W1, W2, b1, b2)


def lipschitz(net: Any, method: str = "auto", norm: Any = 2, domain: Any = None, time_limit: Any = None,
              seed: int = 0, progress: bool = False, **options: Any) -> LipschitzResult:
    """The exact Lipschitz constant of a ReLU network of any depth, with its certificate.

    Parameters
    ----------
    net : TwoLayerReLU, ReLUNetwork, torch.nn.Sequential of Linear and ReLU, or a JSON dict
    method : str
        ``"auto"`` or a method of :data:`lipexact.exact.METHODS` (one hidden layer) or of
        :data:`lipexact.deep.solve.DEEP_METHODS` (deeper networks).
    norm, domain, time_limit, seed, progress, **options
        As for :func:`lipexact.exact.lipschitz` (deep networks take ``node_limit`` as an option).

    Examples
    --------
    >>> import torch
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> model = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.ReLU(), torch.nn.Linear(4, 3), torch.nn.ReLU(),
    ...                             torch.nn.Linear(3, 1))
    >>> result = lipschitz(model, domain=([-1, -1], [1, 1]))
    >>> result.status.value, result.stats["auto"], result.certificate["layer_sizes"]
    ('optimal', 'bnb', [4, 3])
    """
    network = as_any_network(net)
    from lipexact.network import TwoLayerReLU

    if isinstance(network, TwoLayerReLU):
        from lipexact.exact import lipschitz as two_layer

        return two_layer(network, method, norm, domain, time_limit, seed, progress, **options)
    from lipexact.deep.solve import DEEP_METHODS, lipschitz_deep

    choices = list(DEEP_METHODS)
    require(method in choices, "method", f"one of {choices} for a network of depth {network.depth}", repr(method))
    # auto: lipexact.deep.solve.choose_deep_method (measured rule; says which it picked in stats["auto"])
    return lipschitz_deep(network, method, norm, domain, time_limit, seed=seed, progress=progress, **options)
