"""Is an activation pattern realized on an open set? The network's side of :mod:`reductions.realizability`.

For a pattern ``s`` the open region ``R(s) = {x : (W1 x + b1)_i > 0 iff s_i}`` (inside the open box of a
domain) is decided by :func:`reductions.realizability.decide_region` on the rows ``s_i (w_i, b_i)`` of the
fixed live units: ``nonempty`` with a point whose signs were verified in exact rational arithmetic,
``empty`` with a Farkas certificate verified the same way, or ``undecided``. Dead units (``w_i = 0``) have
the pattern of their bias (``b_i > 0``) everywhere; a pattern that asks otherwise is empty.

References
----------
Scaman, K. and Virmaux, A. Lipschitz regularity of deep neural networks: analysis and efficient
estimation. NeurIPS 2018 (arXiv:1805.10965).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

from lipexact.domain import Box
from lipexact.network import TwoLayerReLU
from reductions.realizability import (EMPTY, RegionDecision, UndecidedRegionError, decide_region, exact_signs,
                                      rows_of_pattern)

__all__ = ["decide_pattern", "realizing_point", "realizes", "UndecidedRegionError"]


def decide_pattern(net: TwoLayerReLU, pattern: Any, fixed: Any = None, domain: Box | None = None) -> RegionDecision:
    """Decide the open region of ``pattern`` (restricted to the ``fixed`` units) inside ``domain``.

    The multipliers of an ``empty`` decision are keyed by hidden unit: their support is a set of units
    whose signs alone already leave no point.

    Examples
    --------
    >>> net = TwoLayerReLU([[1.0], [1.0], [1.0]], [[1.0, 1.0, 1.0]], b1=[0.0, -1.0, 5.0])
    >>> decision = decide_pattern(net, [False, True, False])     # x < 0, x > 1, x < -5: the last two clash
    >>> decision.status, sorted(decision.multipliers)
    ('empty', [1, 2])
    """
    h = net.n_hidden
    s = np.asarray(pattern, dtype=bool).reshape(h)
    mask = np.ones(h, dtype=bool) if fixed is None else np.asarray(fixed, dtype=bool).reshape(h)
    live = np.any(net.W1 != 0, axis=1)
    bias = np.asarray(net.hidden_bias, dtype=np.float64)
    wrong_dead = np.flatnonzero(mask & ~live & (s != (bias > 0)))
    if wrong_dead.size:
        return RegionDecision(EMPTY, multipliers={int(wrong_dead[0]): Fraction(1)})
    units = np.flatnonzero(mask & live)
    A, c = rows_of_pattern(np.asarray(net.W1, dtype=np.float64)[units], bias[units], s[units])
    if domain is None:
        decision = decide_region(A, c)
    else:
        decision = decide_region(A, c, domain.lower, domain.upper)
    if decision.multipliers is not None:
        decision = RegionDecision(decision.status, multipliers={int(units[i]): y for i, y in decision.multipliers.items()})
    return decision


def realizing_point(net: TwoLayerReLU, pattern: Any, fixed: Any = None, domain: Box | None = None) -> np.ndarray | None:
    """A point of the open region of ``pattern`` (inside ``domain``), None when the region is proven empty.

    Raises :class:`UndecidedRegionError` when neither certificate verifies.

    Examples
    --------
    >>> net = TwoLayerReLU([[1.0, 0.0], [1.0, 0.0]], [[1.0, 1.0]])
    >>> realizing_point(net, [True, True]) is not None
    True
    >>> realizing_point(net, [True, False]) is None   # the same half-space cannot be on and off
    True
    """
    decision = decide_pattern(net, pattern, fixed, domain)
    if decision.undecided:
        raise UndecidedRegionError(decision.message)
    return decision.point


def realizes(net: TwoLayerReLU, x: Any, pattern: Any, fixed: Any = None, domain: Box | None = None) -> bool:
    """Whether ``x`` lies in the open region of ``pattern`` (fixed live units), checked in exact arithmetic.

    Examples
    --------
    >>> net = TwoLayerReLU([[1.0, 0.0]], [[1.0]])
    >>> realizes(net, [1.0, 5.0], [True]), realizes(net, [0.0, 5.0], [False])   # 0 is on no side
    (True, False)
    """
    h = net.n_hidden
    x = np.asarray(x, dtype=np.float64).reshape(net.n_inputs)
    if not np.all(np.isfinite(x)) or (domain is not None and not domain.contains_interior(x)):
        return False
    mask = np.ones(h, dtype=bool) if fixed is None else np.asarray(fixed, dtype=bool).reshape(h)
    units = np.flatnonzero(mask & np.any(net.W1 != 0, axis=1))
    if units.size == 0:
        return True
    A, c = rows_of_pattern(np.asarray(net.W1, dtype=np.float64)[units],
                           np.asarray(net.hidden_bias, dtype=np.float64)[units],
                           np.asarray(pattern, dtype=bool).reshape(h)[units])
    return bool(np.all(exact_signs(A, c, x) > 0))
