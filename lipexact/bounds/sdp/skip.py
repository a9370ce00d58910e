"""LipSDP-neuron for a ReLU MLP whose second hidden layer also reads the input (a skip connection).

The deep branch and bound's node at ReLU layer ``l`` has units fixed on, whose activation IS the pre-activation
(slope exactly 1), units fixed off (removed) and free units. With ``M`` the node's pre-activation map, ``F`` the
free and ``O`` the on units, every completion's Jacobian is that of

    g(x) = W_k relu( ... relu(W_{l+1}[:, F] relu(M_F x) + S x) ... ),   S = W_{l+1}[:, O] M_O,

a network with hidden layers ``F``, ``l+1``, ..., ``k-1`` and the skip ``S`` from the input to its second hidden
layer. The LipSDP-neuron argument (:mod:`lipexact.bounds.sdp.lmi`) goes through unchanged: with ``dx`` the input
difference and ``dz_i`` the hidden outputs' differences, the second layer's pre-activation difference is
``W_2 dz_1 + S dx``, so the matrix ``M(T, rho)`` gains the block ``S^T T_2`` between the input and the second
hidden layer (and its transpose), nothing else; ``M <= 0`` still gives ``||g(x) - g(y)|| <= sqrt(rho) ||x - y||``.
The units fixed on no longer take any slope in ``[0, 1]``: on a random 11-24-24-1 net this bound was 0.5-9% below
the one with those units in ``[0, 1]`` (more on units, more gain), and the open nodes that set the upper end of
its global search are exactly such nodes (12-19 units on, 4-7 off).

Certification as in :mod:`lipexact.bounds.sdp.certify`: the float matrix ``F = fl(-M)`` (assembled as in
:mod:`lipexact.bounds.sdp.barrier`: each off-diagonal entry one rounded product ``w t``, the last block
``fl(fl(W_k^T W_k) + 2 T)``), the entrywise error bound ``E`` of the chain plus ``u |S^T| T_2 + eta`` on the skip
block, Rump's test on the balanced matrix; ``rho`` raised from the float Schur candidate until it passes. The bound
is for the float ``S`` given: callers add the rounding of forming it.

Examples
--------
>>> chain = [np.array([[1.0, 0.0]]), np.array([[1.0]]), np.array([[1.0]])]   # g = relu(relu(x1) + x2)
>>> value, _ = certified_skip_bound(chain, np.array([[0.0, 1.0]]))
>>> 2 ** 0.5 <= value < 2 ** 0.5 * (1 + 1e-5)                                   # both slopes 1 where x1, x1 + x2 > 0
True
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from lipexact.bounds.sdp.barrier import _SkipStructure, barrier_lipsdp, feasible_multipliers
from lipexact.bounds.sdp.certify import DEFAULT_SCALES, _formation_error, raise_until_proven, schur_candidate
from lipexact.bounds.sdp.inert import constant, drop_units, expand_multipliers, inert_masks, restrict_multipliers
from lipexact.bounds.sdp.lipsdp import (certified_solution, layer_exponents, normalize_weights, rescale_multipliers,
                                        scaled_goal)
from lipexact.bounds.sdp.psd import SMALLEST_SUBNORMAL, UNIT_ROUNDOFF

__all__ = ["certified_skip_rho", "certified_skip_bound"]


def certified_skip_rho(chain: Sequence[np.ndarray], skip: np.ndarray, multipliers: Sequence[np.ndarray],
                       max_raises: int = 60) -> tuple[float, list | None]:
    """``(rho, T)``: a ``rho`` PROVEN to satisfy ``M(T, rho) <= 0`` for the network ``chain`` (float64 ``W_1..W_k``,
    at least two hidden layers) with ``skip`` (``n_2 x n_0``) into its second hidden layer, and the multipliers
    ``T`` (``max(T, 0)`` times the first scale of :data:`lipexact.bounds.sdp.certify.DEFAULT_SCALES` that works);
    ``(inf, None)`` when nothing is proven.

    >>> chain = [np.array([[1.0, 0.0]]), np.array([[1.0]]), np.array([[1.0]])]
    >>> rho, T = certified_skip_rho(chain, np.array([[0.0, 1.0]]), [np.array([2.0]), np.array([1.0])])  # optimal
    >>> 2.0 <= rho < 2.0 * (1 + 1e-6)
    True
    >>> round(certified_skip_rho(chain, np.array([[0.0, 1.0]]), [np.array([4.0]), np.array([2.0])])[0], 6)  # others
    2.894427
    >>> certified_skip_rho(chain, np.array([[0.0, 1.0]]), [np.array([0.0]), np.array([0.0])])[0]   # T = 0: no proof
    inf
    """
    W = [np.asarray(w, dtype=np.float64) for w in chain]
    skip = np.asarray(skip, dtype=np.float64)
    if len(W) < 3 or skip.shape != (W[1].shape[0], W[0].shape[1]) or not np.all(np.isfinite(skip)):
        return math.inf, None
    st = _SkipStructure(W, skip)
    T = [np.maximum(np.asarray(t, dtype=np.float64).ravel(), 0.0) for t in multipliers]
    if [t.shape[0] for t in T] != [w.shape[0] for w in W[:-1]]:
        return math.inf, None
    n0 = st.n0
    for scale in DEFAULT_SCALES:
        Ts = [t * scale for t in T]
        if not all(np.isfinite(t).all() for t in Ts):
            continue
        t = np.concatenate(Ts)
        candidate = schur_candidate(st.S(t, 0.0), n0)
        if math.isnan(candidate):
            continue
        E = _formation_error(W, Ts)
        cols = slice(st.offsets[2], st.offsets[3])
        block = np.abs(skip.T) * Ts[1][None, :] * UNIT_ROUNDOFF + SMALLEST_SUBNORMAL  # fl(s t): one product each
        E[:n0, cols] += block
        E[cols, :n0] += block.T
        ok, rho, _, _, _ = raise_until_proven(lambda r: st.S(t, r), E, candidate, n0, max_raises)
        if ok:
            return rho, Ts
    return math.inf, None


def certified_skip_bound(chain: Sequence[np.ndarray], skip: np.ndarray, tol: float = 1e-4,
                         start: Sequence[np.ndarray] | None = None, target: float | None = None) -> tuple:
    """``(value, multipliers)``: a certified upper bound on the l2 Lipschitz constant of ``chain`` with ``skip``
    (see the module docstring), and the multipliers (for the weights as given) that proved it; ``(inf, None)``
    when nothing certifies. Solved by the barrier method of :mod:`lipexact.bounds.sdp.barrier` on weights
    normalized by powers of two (the skip scaled with the first two layers: the same network up to the exact
    factor), from ``start`` when it fits; ``target``: the solver may stop once it knows the optimum's side. Hidden
    units no Jacobian sees are removed first, as in :func:`lipexact.bounds.sdp.lipsdp.certified_solution` (all of
    the first hidden layer's: the chain ``S, W_3, ...`` that remains, solved there).
    """
    W = [np.asarray(w, dtype=np.float64) for w in chain]
    skip = np.asarray(skip, dtype=np.float64)
    if len(W) < 3 or not all(np.isfinite(w).all() for w in W) or not np.all(np.isfinite(skip)):
        return math.inf, None
    keep = inert_masks(W, skip)
    if keep is not None and constant(keep, skip=True):
        return 0.0, [np.ones(mask.size) for mask in keep]
    if keep is not None:  # units no Jacobian sees: solved without them (lipexact.bounds.sdp.inert)
        if not keep[0].any():  # only the skip carries the input: the plain chain S, W_3, ...
            value, multipliers = certified_solution(drop_units([skip] + W[2:], keep[1:]), tol=tol, target=target)
            rest = expand_multipliers(multipliers, keep[1:])
            return value, None if rest is None else [np.ones(keep[0].size)] + rest
        value, multipliers = certified_skip_bound(drop_units(W, keep), skip[keep[1]], tol,
                                                  restrict_multipliers(start, keep), target)
        return value, expand_multipliers(multipliers, keep)
    exponents = layer_exponents(W)
    scaled, exponent = normalize_weights(W, exponents)
    scaled_skip = np.ldexp(skip, -(exponents[0] + exponents[1]))
    warm = None
    if start is not None and len(start) == len(W) - 1:
        warm = rescale_multipliers(start, exponents, to_scaled=True)
    try:
        out = barrier_lipsdp(scaled, tol=tol, target=scaled_goal(target, exponent), start=warm, skip=scaled_skip)
        candidates = [out["multipliers"]]
    except (ValueError, ArithmeticError, np.linalg.LinAlgError):
        candidates = []
    candidates.append(feasible_multipliers(scaled))
    for multipliers in candidates:
        rho, proven = certified_skip_rho(scaled, scaled_skip, multipliers)
        if proven is not None:
            value = math.ldexp(float(np.nextafter(math.sqrt(rho), np.inf)), exponent)
            return value, rescale_multipliers(proven, exponents, to_scaled=False)
    return math.inf, None
