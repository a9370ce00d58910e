"""LipSDP-neuron node bounds for the deep branch and bound (l2): a certified bound on every completion of a node.

At a node of ReLU layer ``l`` the layers before ``l`` are fixed, so on the node's region the pre-activations of
layer ``l`` are the exact affine map ``z = M x + e`` (:mod:`lipexact.deep.exact`), and the units of ``l`` fixed
off are negative there. At every point ``x`` of the region where ``f`` is differentiable, ``f`` coincides near
``x`` with the network ``g = W_k relu( ... W_{l+1}' relu(M' x + e') ...)`` in which the off units are removed
(``M'`` the rows of ``M`` not fixed off, ``W_{l+1}'`` the matching columns); so ``J_f(x) = J_g(x)`` and
``||J_f(x)||_2 <= Lip_2(g)``, which the certified LipSDP-neuron value of ``g``'s weights bounds
(:func:`lipexact.bounds.sdp.lipsdp.certified_solution`; biases do not enter). Units fixed on keep the ReLU's
``[0, 1]`` slope range there (valid, a little loose; their exact slope 1 would need another LMI). The weights
are those of the float map ``M``: the exact ``J`` differs from one with ``M``'s nearest floats by at most
``||W_k|| ... ||W_{l+1}|| ||M - fl(M)||_2 <= tail * 2^-52 ||M||_F`` (plus ``2^-1074`` an entry for
subnormal results), which is added.

Used globally (no box), where the interval bounds of :mod:`lipexact.deep.bounds` leave every later unit free and
prune nothing until a layer is nearly fixed: on a random 11-24-24-1 net, with 8 / 16 / 24 of the 24 first-layer
units fixed at random points' signs, 42% / 100% / 92% of these bounds were below the best value found (1.251),
against a global LipSDP value of 1.575 (the search itself meets the harder regions, next to the maximum: there
about one SDP bound in eight pruned; :mod:`lipexact.deep.enumerate` has the brackets).

References
----------
M. Fazlyab, A. Robey, H. Hassani, M. Morari, G. Pappas. Efficient and accurate estimation of Lipschitz
constants for deep neural networks. NeurIPS 2019.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["node_sdp_bound", "FLOAT_MAP_ERROR", "SDP_TOLERANCE"]

#: Relative error of the nearest-float map ``fl(M)`` entrywise (``2^-53``), doubled for room.
FLOAT_MAP_ERROR = 2.0 ** -52
#: The barrier method's relative gap for node bounds (measured: 1e-8 / 1e-5 / 1e-3 took 103 / 39 / 32 ms a node on
#: 11-12-12-1 nets, the certified values equal to 5 digits).
SDP_TOLERANCE = 1e-4


def node_sdp_bound(weights: list, layer: int, linear: np.ndarray, state: np.ndarray, tail: float,
                   start: list | None = None, target: float | None = None) -> tuple:
    """``(bound, multipliers)``: a proven upper bound on ``||J||_2`` over the completions of a node of ReLU layer
    ``layer`` (module docstring) and the LipSDP multipliers that proved it (one vector per hidden layer of the
    reduced network ``g``, the first for the kept units of ``layer``; None when nothing certified and the bound
    is ``inf``). ``weights``: the network's ``W_1..W_k`` (floats); ``linear``: the node's float pre-activation map
    ``M``; ``state``: its layer's units (1 on, 0 off, -1 free); ``tail``: a proven bound on
    ``||W_k|| ... ||W_{l+1}||_2``. ``start``: multipliers for ``g`` to certify first (an enclosing node's,
    restricted); when they prove a bound at most ``target`` no SDP is solved.

    Examples
    --------
    >>> W1, W2 = np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[1.0, 1.0]])
    >>> value, T = node_sdp_bound([W1, W2], 0, W1, np.array([-1, 0]), 1.5)    # unit 2 off: relu(x1), L = 1
    >>> 1.0 <= value < 1.0 + 1e-6, len(T[0])
    (True, 1)
    """
    from lipexact.bounds.sdp.lipsdp import certified_solution

    keep = np.asarray(state) != 0
    if not keep.any():
        return 0.0, None
    M = np.asarray(linear, dtype=np.float64)[keep]
    following = np.asarray(weights[layer + 1], dtype=np.float64)[:, keep]
    rest = [np.asarray(W, dtype=np.float64) for W in weights[layer + 2:]]
    with np.errstate(over="ignore", invalid="ignore"):
        slack = tail * (FLOAT_MAP_ERROR * float(np.linalg.norm(M)) * (1 + 1e-6) + M.size * 2.0 ** -1074)
    value, multipliers = certified_solution([M, following] + rest, tol=SDP_TOLERANCE, start=start,
                                            target=None if target is None else target - slack)
    total = value + slack
    return (total, multipliers) if math.isfinite(total) else (math.inf, None)
