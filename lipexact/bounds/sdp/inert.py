"""Hidden units that no Jacobian sees, removed before a LipSDP solve.

A hidden unit whose incoming row is exactly zero has a constant pre-activation, so its output is a constant (it
only shifts the next layer's biases); a unit whose outgoing column is exactly zero reaches nothing. Either way
every Jacobian ``W_k D_{k-1} ... D_1 W_1`` (any slopes ``D`` in ``[0, 1]``) is the same with the unit removed
(its row of ``W_j`` and column of ``W_{j+1}``), and biases do not enter LipSDP, so the LipSDP bound of the
reduced network is a bound for the original one. Removing them is not only smaller: with a zero incoming row the
unit's multiplier only ever helps the LMI, the barrier problem is unbounded along it, and the barrier method ran
into its iteration limit (measured: a random 8-20-20-1 net with one zero row per hidden layer and one zero
column, 1.83 s for the certified bound against 0.022 s with the units removed, values within 6e-6 relative, the
reduced one lower). Pruned networks have such units.

Only exact zeros count: a unit with any non-zero weight stays.

Examples
--------
>>> W1, W2, W3 = np.array([[1.0, 2.0], [0.0, 0.0]]), np.array([[3.0, 4.0], [0.0, 5.0]]), np.array([[1.0, 0.0]])
>>> [mask.tolist() for mask in inert_masks([W1, W2, W3])]   # unit 2 of layer 1: row 0; unit 2 of layer 2: column 0
[[True, False], [True, False]]
>>> [W.tolist() for W in drop_units([W1, W2, W3], inert_masks([W1, W2, W3]))]
[[[1.0, 2.0]], [[3.0]], [[1.0]]]
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["inert_masks", "constant", "drop_units", "restrict_multipliers", "expand_multipliers", "REMOVE"]

#: False: :func:`inert_masks` removes nothing (the side-by-side measurement of ``python -m benchmarks.deep``).
REMOVE = True


def inert_masks(chain: Sequence[np.ndarray], skip: np.ndarray | None = None) -> list[np.ndarray] | None:
    """The hidden units to keep, one bool mask per hidden layer of ``chain`` (``W_1..W_k``), after removing every
    unit with an exactly zero incoming row or outgoing column (repeatedly: a removal can zero another unit's row or
    column); ``skip`` (``n_2 x n_0``), when given, also feeds the second hidden layer, so a unit there is kept when
    its skip row is non-zero. None when nothing is removed. A mask without any unit means every Jacobian of the
    chain is zero (without a skip, or at a layer after the skip's; :func:`constant`)."""
    if not REMOVE:
        return None
    W = [np.asarray(w) for w in chain]
    keep = [np.ones(w.shape[0], dtype=bool) for w in W[:-1]]
    changed = True
    while changed:
        changed = False
        for j in range(len(keep)):
            rows = W[j] if j == 0 else W[j][:, keep[j - 1]]
            incoming = np.any(rows != 0, axis=1)
            if j == 1 and skip is not None:
                incoming |= np.any(np.asarray(skip) != 0, axis=1)
            following = W[j + 1] if j + 1 == len(keep) else W[j + 1][keep[j + 1]]
            outgoing = np.any(following != 0, axis=0)
            new = keep[j] & incoming & outgoing
            if not np.array_equal(new, keep[j]):
                keep[j], changed = new, True
    return None if all(mask.all() for mask in keep) else keep


def constant(keep: Sequence[np.ndarray], skip: bool = False) -> bool:
    """Whether the masks of :func:`inert_masks` leave a hidden layer without units that every path from the input
    crosses: then every Jacobian is zero. With a skip into the second hidden layer the first is not on every path.

    >>> constant([np.array([False]), np.array([True])]), constant([np.array([False]), np.array([True])], skip=True)
    (True, False)
    """
    return any(not mask.any() for mask in keep[1 if skip else 0:])


def drop_units(chain: Sequence[np.ndarray], keep: Sequence[np.ndarray]) -> list[np.ndarray]:
    """``chain`` with the hidden units outside ``keep`` removed (rows of ``W_j``, columns of ``W_{j+1}``)."""
    W = [np.asarray(w) for w in chain]
    out = []
    for j, w in enumerate(W):
        if j < len(keep):
            w = w[keep[j]]
        if j > 0:
            w = w[:, keep[j - 1]]
        out.append(w)
    return out


def restrict_multipliers(multipliers: Sequence[np.ndarray] | None, keep: Sequence[np.ndarray]) -> list | None:
    """The entries of the kept units of multipliers given for the original network (a warm start); None when they
    are None or do not fit its shapes.

    >>> restrict_multipliers([np.array([2.0, 5.0, 3.0])], [np.array([True, False, True])])[0].tolist()
    [2.0, 3.0]
    """
    if multipliers is None or len(multipliers) != len(keep):
        return None
    out = []
    for t, mask in zip(multipliers, keep):
        t = np.asarray(t, dtype=np.float64).ravel()
        if t.shape != mask.shape:
            return None
        out.append(t[mask])
    return out


def expand_multipliers(multipliers: Sequence[np.ndarray] | None, keep: Sequence[np.ndarray]) -> list | None:
    """Multipliers of the reduced network back in the original's shapes, a removed unit given its layer's largest
    multiplier: a hint for warm starts only (every use certifies multipliers afresh, and :func:`inert_masks` removes
    such units again before that).

    >>> expand_multipliers([np.array([2.0, 3.0])], [np.array([True, False, True])])[0].tolist()
    [2.0, 3.0, 3.0]
    """
    if multipliers is None:
        return None
    out = []
    for t, mask in zip(multipliers, keep):
        t = np.asarray(t, dtype=np.float64)
        full = np.full(mask.shape[0], float(t.max()) if t.size else 0.0)
        full[mask] = t
        out.append(full)
    return out
