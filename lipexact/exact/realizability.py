"""Is an activation pattern realized on an open set? An exact linear program, no epsilon.

For a pattern ``s`` the open region ``R(s) = {x : (W1 x + b1)_i > 0 iff s_i}`` is non-empty iff the LP in
``(x, t)``

    (2 s_i - 1) (w_i . x + b_i t) >= 1  for every fixed live neuron i,   t >= 1

is feasible (scale an interior point; ``x / t`` is then a point of ``R(s)``). A box domain adds
``lower_j t + 1 <= x_j <= upper_j t - 1`` (the region must meet the box's interior). Bias-free networks
without a domain are cones, and ``t`` is dropped. Dead neurons (``w_i = 0``) are decided by the sign of
``b_i``. Every point returned is re-checked on the network itself.

References
----------
Scaman, K. and Virmaux, A. Lipschitz regularity of deep neural networks: analysis and efficient
estimation. NeurIPS 2018 (arXiv:1805.10965).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import linprog

from lipexact.domain import Box
from lipexact.network import TwoLayerReLU

__all__ = ["realizing_point", "NumericalTroubleError"]


class NumericalTroubleError(RuntimeError):
    """The LP solver reported a feasible region, but its point does not realize the pattern on the network."""


def _dead_rows_consistent(net: TwoLayerReLU, pattern: np.ndarray, rows: np.ndarray) -> bool:
    bias = net.hidden_bias[rows]
    return bool(np.all(pattern[rows] == (bias > 0)))


def realizing_point(net: TwoLayerReLU, pattern: Any, fixed: Any = None, domain: Box | None = None) -> np.ndarray | None:
    """A point of the open region of ``pattern`` (inside ``domain``), or None when the region is empty.

    Parameters
    ----------
    net : TwoLayerReLU
    pattern : array_like of bool, shape (h,)
        Wanted activation of each hidden unit.
    fixed : array_like of bool, shape (h,), optional
        Which units the pattern constrains (a partial pattern); all of them by default.
    domain : Box, optional
        Restrict to the interior of a box.

    Returns
    -------
    ndarray or None
        ``x`` with ``(W1 x + b1)_i > 0`` exactly for the fixed units with ``pattern_i`` true (and ``< 0`` for
        the other fixed live units), re-checked on the network; None when the LP is infeasible.

    Examples
    --------
    >>> net = TwoLayerReLU([[1.0, 0.0], [1.0, 0.0]], [[1.0, 1.0]])
    >>> realizing_point(net, [True, True]) is not None
    True
    >>> realizing_point(net, [True, False]) is None   # the same half-space cannot be on and off
    True
    """
    h, n = net.n_hidden, net.n_inputs
    s = np.asarray(pattern, dtype=bool).reshape(h)
    mask = np.ones(h, dtype=bool) if fixed is None else np.asarray(fixed, dtype=bool).reshape(h)
    live = np.any(net.W1 != 0, axis=1)
    if not _dead_rows_consistent(net, s, np.flatnonzero(mask & ~live)):
        return None
    rows = np.flatnonzero(mask & live)
    homogeneous = net.has_bias or domain is not None
    width = n + 1 if homogeneous else n
    sign = np.where(s[rows], 1.0, -1.0)[:, None]
    blocks = [-sign * net.W1[rows].astype(np.float64)]
    if homogeneous:
        blocks.append(-sign * net.hidden_bias[rows].astype(np.float64)[:, None])
    A = np.hstack(blocks) if rows.size else np.zeros((0, width))
    b = -np.ones(rows.size)
    if domain is not None:
        eye = np.eye(n)
        A = np.vstack([A, np.hstack([-eye, domain.lower[:, None]]), np.hstack([eye, -domain.upper[:, None]])])
        b = np.concatenate([b, -np.ones(2 * n)])
    bounds = [(None, None)] * n + ([(1.0, None)] if homogeneous else [])
    if A.shape[0] == 0:
        z = np.concatenate([np.zeros(n), [1.0]]) if homogeneous else np.zeros(n)
    else:
        # Scale rows so that HiGHS's absolute feasibility tolerance is relative to the data.
        scale = np.maximum(np.abs(A).max(axis=1), 1.0)
        outcome = linprog(np.zeros(width), A_ub=A / scale[:, None], b_ub=b / scale, bounds=bounds, method="highs")
        if outcome.status == 2:
            return None
        if outcome.status != 0:
            raise NumericalTroubleError(f"realizability LP ended with status {outcome.status}: {outcome.message}")
        z = outcome.x
    x = z[:n] / z[n] if homogeneous else z
    if not _realizes(net, x, s, mask & live, domain):
        raise NumericalTroubleError("the realizability LP's point does not realize the pattern")
    return x


def _realizes(net: TwoLayerReLU, x: np.ndarray, s: np.ndarray, rows: np.ndarray, domain: Box | None) -> bool:
    pre = net.preactivation(x)[rows]
    signs_ok = bool(np.all((pre > 0) == s[rows]) and np.all(pre != 0))
    return signs_ok and (domain is None or domain.contains_interior(x))
