"""LipSDP-neuron node bounds for the deep branch and bound (l2): a certified bound on every completion of a node.

At a node of ReLU layer ``l`` the layers before ``l`` are fixed, so on the node's region the pre-activations of
layer ``l`` are the exact affine map ``z = M x + e`` (:mod:`lipexact.deep.exact`), and the units of ``l`` fixed
off are negative there. At every point ``x`` of the region where ``f`` is differentiable, ``f`` coincides near
``x`` with the network ``g = W_k relu( ... W_{l+1}' relu(M' x + e') ...)`` in which the off units are removed
(``M'`` the rows of ``M`` not fixed off, ``W_{l+1}'`` the matching columns); so ``J_f(x) = J_g(x)`` and
``||J_f(x)||_2 <= Lip_2(g)``, which the certified LipSDP-neuron value of ``g``'s weights bounds
(:func:`lipexact.bounds.sdp.lipsdp.certified_solution`; biases do not enter). Units fixed on keep the ReLU's
``[0, 1]`` slope range there (valid, a little loose); :func:`node_skip_bound` takes them exactly (slope 1) through
an LMI with a skip from the input into the next layer (:mod:`lipexact.bounds.sdp.skip`). The weights
are those of the float map ``M``: the exact ``J`` differs from one with ``M``'s nearest floats by at most
``||W_k|| ... ||W_{l+1}|| ||M - fl(M)||_2 <= tail * 2^-52 ||M||_F`` (plus ``2^-1074`` an entry for
subnormal results), which is added.

Used globally (no box), where the interval bounds of :mod:`lipexact.deep.bounds` leave every later unit free and
prune nothing until a layer is nearly fixed: on a random 11-24-24-1 net, with 8 / 16 / 24 of the 24 first-layer
units fixed at random points' signs, 42% / 100% / 92% of these bounds were below the best value found (1.251),
against a global LipSDP value of 1.575 (the search itself meets the harder regions, next to the maximum: there
about one SDP bound in eight pruned; :mod:`lipexact.deep.enumerate` has the brackets).

At the last ReLU layer of a network with one output the node's completions are a binary program: ``J = w^T D M =
c + sum_i t_i w_i M_i`` over the free units ``i`` (``t`` in ``{0, 1}``), ``c`` the sum over the units fixed on,
so :func:`last_layer_pattern_bound` bounds ``max_t ||J||_2`` by the certified Shor relaxation of
:func:`lipexact.bounds.sdp.pattern.binary_norm_bound` (a few milliseconds for 24 free units, against tens for a
LipSDP solve). Units fixed on enter exactly there. Measured on a random 11-24-24-1 net (global l2, the first
90 s of a search, 1,643 nodes of the last layer with LipSDP bounds): it pruned 220 of them where the LipSDP
bounds pruned 143, at a median 1 ms (with the incumbent as target) against 15 ms a LipSDP solve.

References
----------
M. Fazlyab, A. Robey, H. Hassani, M. Morari, G. Pappas. Efficient and accurate estimation of Lipschitz
constants for deep neural networks. NeurIPS 2019.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["node_sdp_bound", "node_skip_bound", "last_layer_pattern_bound", "float_map_slack", "FLOAT_MAP_ERROR",
           "SDP_TOLERANCE"]

#: Relative error of the nearest-float map ``fl(M)`` entrywise (``2^-53``), doubled for room.
FLOAT_MAP_ERROR = 2.0 ** -52
#: The barrier method's relative gap for node bounds (measured: 1e-8 / 1e-5 / 1e-3 took 103 / 39 / 32 ms a node on
#: 11-12-12-1 nets, the certified values equal to 5 digits).
SDP_TOLERANCE = 1e-4


def float_map_slack(M: np.ndarray, gain: float) -> float:
    """``gain * ||M_exact - M||_2`` bounded from above, ``M`` the nearest floats of an exact map and ``gain`` a proven
    bound on the norm of what multiplies it: ``gain (2^-52 ||M||_F + 2^-1074 per entry)`` (:data:`FLOAT_MAP_ERROR`;
    the subnormal term for underflowed entries), the Frobenius norm with a relative ``1e-6`` for its own rounding.

    >>> float_map_slack(np.array([[3.0, 4.0]]), 2.0) == 2.0 * (FLOAT_MAP_ERROR * 5.0 * (1 + 1e-6) + 2 * 2.0 ** -1074)
    True
    """
    with np.errstate(over="ignore", invalid="ignore"):
        return gain * (FLOAT_MAP_ERROR * float(np.linalg.norm(M)) * (1 + 1e-6) + M.size * 2.0 ** -1074)


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
    slack = float_map_slack(M, tail)
    value, multipliers = certified_solution([M, following] + rest, tol=SDP_TOLERANCE, start=start,
                                            target=None if target is None else target - slack)
    total = value + slack
    return (total, multipliers) if math.isfinite(total) else (math.inf, None)


def node_skip_bound(weights: list, layer: int, linear: np.ndarray, state: np.ndarray, tails: list,
                    start: list | None = None, target: float | None = None) -> tuple:
    """``(bound, multipliers)``: like :func:`node_sdp_bound`, with the units fixed ON taken exactly (slope 1)
    instead of in ``[0, 1]``: their pre-activations ``M_O x`` pass to layer ``l + 1`` as a skip ``S = W_{l+1}[:, O]
    M_O`` (:mod:`lipexact.bounds.sdp.skip`); the free units stay ReLUs, the off units are removed. Only for a node
    whose layer is not the last ReLU layer and that has units fixed on; ``(inf, None)`` otherwise or when nothing
    certifies. ``tails``: the proven ``||W_i|| ... ||W_k||`` of :class:`lipexact.deep.bounds.DeepBounds`.

    Rounding: the float map's error as in :func:`node_sdp_bound` (gain ``tails[l + 1]``: ``J`` is linear in ``M``
    through ``W_{l+1} D``), and the float product ``S``: at most ``gamma_{|O| + 2} |W_O| |M_O|`` entrywise, whose
    Frobenius norm times ``tails[l + 2]`` (the layers after ``l + 1``) is added.

    Examples
    --------
    >>> W1, W2, W3 = np.eye(2), np.array([[1.0, 1.0]]), np.array([[1.0]])
    >>> value, _ = node_skip_bound([W1, W2, W3], 0, W1, np.array([-1, 1]), [2.0, 2.0, 1.0])   # relu(relu(x1) + x2)
    >>> 2 ** 0.5 <= value < 2 ** 0.5 * (1 + 1e-4)
    True
    """
    from lipexact.bounds.sdp.lipsdp import certified_solution
    from lipexact.bounds.sdp.psd import gamma
    from lipexact.bounds.sdp.skip import certified_skip_bound

    state = np.asarray(state)
    free, on = np.flatnonzero(state < 0), np.flatnonzero(state == 1)
    if layer + 2 >= len(weights) or not on.size:
        return math.inf, None
    M = np.asarray(linear, dtype=np.float64)
    following = np.asarray(weights[layer + 1], dtype=np.float64)
    rest = [np.asarray(W, dtype=np.float64) for W in weights[layer + 2:]]
    with np.errstate(over="ignore", invalid="ignore"):
        skip = following[:, on] @ M[on]
        product = np.abs(following[:, on]) @ np.abs(M[on])
        slack = float_map_slack(M[state != 0], tails[layer + 1])
        slack += tails[layer + 2] * (gamma(on.size + 2) * float(np.linalg.norm(product)) * (1 + 1e-6)
                                     + product.size * 2.0 ** -1074)
    if not math.isfinite(slack):
        return math.inf, None
    goal = None if target is None else target - slack
    if not free.size:  # the whole layer is linear here: the chain S, W_{l+2}, ...
        value, multipliers = certified_solution([skip] + rest, tol=SDP_TOLERANCE, target=goal)
    else:
        value, multipliers = certified_skip_bound([M[free], following[:, free]] + rest, skip, tol=SDP_TOLERANCE,
                                                  start=start, target=goal)
    total = value + slack
    return (total, multipliers) if math.isfinite(total) else (math.inf, None)


def last_layer_pattern_bound(last: np.ndarray, linear: np.ndarray, state: np.ndarray,
                             target: float | None = None) -> float:
    """A proven upper bound on ``||J||_2`` over the completions of a node of the last ReLU layer of a network with
    one output (module docstring); ``inf`` when nothing is proven.

    ``last``: the output row ``w`` (``1 x width``); ``linear``: the node's float pre-activation map ``M``;
    ``state``: its units (1 on, 0 off, -1 free); ``target``: the solver may stop once the bound is proven below it.

    Rounding: the exact map differs from its nearest floats by at most ``2^-52 ||M||_F`` (plus ``2^-1074`` an entry
    for subnormal results), which moves ``J`` by at most ``||w|| 2^-52 ||M||_F`` for every completion; forming
    ``c`` (sums of at most ``h`` products) and the rows ``w_i M_i`` (one product each) moves every entry by at most
    ``gamma_h`` times ``(|w|^T |M|)_j`` (plus underflow), so by at most ``(h + 2) 2^-52 |||w|^T |M|||_2`` in norm.
    Both are added to the certified value of :func:`lipexact.bounds.sdp.pattern.binary_norm_bound`, which takes
    the float ``c`` and rows as exact.

    Examples
    --------
    >>> M = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> w = np.array([[1.0, 1.0, -1.0]])
    >>> value = last_layer_pattern_bound(w, M, np.array([-1, -1, 0]))    # J in {0, e1, e2, e1 + e2}
    >>> 2 ** 0.5 <= value < 2 ** 0.5 * (1 + 1e-8)
    True
    >>> last_layer_pattern_bound(w, M, np.array([1, 1, 1])) < 1e-12        # e1 + e2 - (e1 + e2) = 0
    True
    """
    from lipexact.bounds.sdp.pattern import binary_norm_bound

    w = np.asarray(last, dtype=np.float64).reshape(-1)
    M = np.asarray(linear, dtype=np.float64)
    state = np.asarray(state)
    on, free = state == 1, state < 0
    live = on | free
    with np.errstate(all="ignore"):
        c = w[on] @ M[on]
        rows = w[free][:, None] * M[free]
        units, width = int(np.count_nonzero(live)), M.shape[1]
        absolute = float(np.linalg.norm(np.abs(w[live]) @ np.abs(M[live])))
        formation = (units + 2) * 2.0 ** -52 * absolute * (1 + 1e-6) + (units + 2) * width * 2.0 ** -1074
        slack = formation + float_map_slack(M[live], float(np.linalg.norm(w[live])) * (1 + 1e-6))
    if not (math.isfinite(slack) and np.all(np.isfinite(c)) and np.all(np.isfinite(rows))):
        return math.inf
    found = binary_norm_bound(c, rows, target=None if target is None else target - slack)
    total = found.value + slack
    return total if math.isfinite(total) else math.inf
