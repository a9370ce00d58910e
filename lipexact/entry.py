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
        if method == "auto" and not options and _many_unstable_on_a_box(network, norm, domain):
            return _two_layer_big_m(network, norm, domain, time_limit, seed, progress)
        from lipexact.exact import lipschitz as two_layer

        return two_layer(network, method, norm, domain, time_limit, seed, progress, **options)
    from lipexact.deep.solve import DEEP_METHODS, lipschitz_deep

    choices = list(DEEP_METHODS)
    require(method in choices, "method", f"one of {choices} for a network of depth {network.depth}", repr(method))
    # auto: lipexact.deep.solve.choose_deep_method (measured rule; says which it picked in stats["auto"])
    return lipschitz_deep(network, method, norm, domain, time_limit, seed=seed, progress=progress, **options)


#: ``auto`` on a two-layer network, a box and the l1 or l_inf norm hands networks with at least this many units
#: unstable on the box to the LipMIP-class MILP of :mod:`lipexact.deep.milp` (see :func:`_many_unstable_on_a_box`).
BIG_M_MIN_UNSTABLE = 40


def _many_unstable_on_a_box(network: Any, norm: Any, domain: Any) -> bool:
    """Whether ``auto`` should solve a two-layer network by the deep MILP: a box, norm 1 or inf, a dual ball with
    more vertices than the per-vertex search takes (:data:`lipexact.exact.vertices.MAX_FUNCTIONALS`: ``m 2^n``
    for l_inf, ``n 2^m`` for l1; below that the two-layer ``auto`` runs it, 9-47x faster than a big-M MILP on
    the anchor below), and at least :data:`BIG_M_MIN_UNSTABLE` units whose pre-activation interval over the box
    (float interval arithmetic, with a relative margin: only a routing decision) contains 0.

    Measured (``python -m benchmarks.anchor``, n = 10, scalar output, l_inf, every unit unstable on the box,
    5 seeds, 60 s limit, medians, two runs on the shared 2-core machine at load 2-5): h = 48: the two-layer
    ``auto`` (branch and bound, then the lazy-cut MILP) 18.0 / 27.7 s with 4 / 3 of 5 proven, the deep MILP
    8.1 / 12.8 s with 5 / 5; h = 64: 60 s (0 / 5 proven, twice) against 55.9 / 60 s (3 / 5 and 2 / 5); at h = 32
    branch and bound is faster (0.31 / 0.54 s against 1.99 / 2.67 s), hence the threshold between the two.

    Examples
    --------
    >>> import numpy as np
    >>> from lipexact.network import TwoLayerReLU
    >>> wide = TwoLayerReLU(np.ones((50, 17)), np.ones((1, 50)), np.zeros(50))   # 2^17 vertices for l_inf
    >>> box = ([-1] * 17, [1] * 17)
    >>> _many_unstable_on_a_box(wide, "inf", box), _many_unstable_on_a_box(wide, 2, box)
    (True, False)
    >>> _many_unstable_on_a_box(wide, "1", box)  # 17 vertices for l1: the per-vertex search
    False
    >>> _many_unstable_on_a_box(wide, "inf", ([1] * 17, [2] * 17))  # every unit on: stable
    False
    """
    import numpy as np

    from lipexact.domain import as_box
    from lipexact.norms import parse_norm

    try:
        parsed = parse_norm(norm)
        box = as_box(domain, network.n_inputs)
    except Exception:  # bad input: the solver's own validation reports it
        return False
    if box is None or parsed not in ("1", "inf") or network.n_hidden < BIG_M_MIN_UNSTABLE:
        return False
    from lipexact.exact.vertices import MAX_FUNCTIONALS, functional_count

    if functional_count(network.n_inputs, network.n_outputs, parsed) <= MAX_FUNCTIONALS:
        return False  # the per-vertex branch and bound of the two-layer solvers (lipexact.exact.choose_method)
    W1 = np.asarray(network.W1, dtype=np.float64)
    b1 = np.zeros(W1.shape[0]) if network.b1 is None else np.asarray(network.b1, dtype=np.float64)
    centre, radius = (box.lower + box.upper) / 2, (box.upper - box.lower) / 2
    middle, spread = W1 @ centre + b1, np.abs(W1) @ radius
    margin = 1e-9 * (np.abs(W1) @ np.abs(centre) + np.abs(b1) + spread)
    unstable = (middle - spread - margin < 0) & (middle + spread + margin > 0)
    return int(np.count_nonzero(unstable)) >= BIG_M_MIN_UNSTABLE


def _two_layer_big_m(network: Any, norm: Any, domain: Any, time_limit: Any, seed: int,
                     progress: bool) -> LipschitzResult:
    """``auto``'s route for :func:`_many_unstable_on_a_box`: the deep MILP on the two-layer network."""
    from lipexact.deep.network import ReLUNetwork
    from lipexact.deep.solve import lipschitz_deep

    deep = ReLUNetwork([(network.W1, network.b1), (network.W2, network.b2)])
    result = lipschitz_deep(deep, "milp", norm, domain, time_limit, seed=seed, progress=progress)
    reason = (f"two layers, a box, norm {result.norm}, at least {BIG_M_MIN_UNSTABLE} units unstable on it: the "
              "LipMIP-class MILP (lipexact.deep.milp)")
    return result.replace(stats={**result.stats, "auto": "deep milp"}, message=f"{result.message} [auto: {reason}]")
