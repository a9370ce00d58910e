"""Realizability cuts for the pattern MILP: small partial patterns whose open region is empty.

A cut is a pair ``(units, values)``: no point of the domain's interior has ``(W1 x + b1)_i > 0`` exactly
for the units of ``units`` with ``values`` true (and ``< 0`` for the others). Every cut returned here is
proven by an emptiness certificate verified in exact rational arithmetic
(:func:`lipexact.exact.realizability.decide_pattern`), so adding ``sum_{values} (1 - s_i) + sum_{not values}
s_i >= 1`` to the MILP removes empty regions only: the MILP optimum stays an upper bound on the Lipschitz
constant. A region that no certificate decides is never cut.

The subset is found in two steps:

1. Certificate support. The units with a non-zero multiplier in the verified certificate of the whole
   partial pattern already form an empty system, typically of at most ``n + 1`` units.
2. Deletion filter. Drop one unit at a time while the smaller pattern is still proven empty; the result
   is irreducible among proven subsets.

A stronger cut (fewer units) removes every pattern that extends the empty partial pattern, not just the
one full pattern the MILP proposed (a no-good cut).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
from scipy.optimize import linprog

from lipexact.domain import Box
from lipexact.exact.realizability import decide_pattern
from reductions.realizability import proportionality
from lipexact.network import TwoLayerReLU

__all__ = ["Cut", "SubsetSearch", "infeasible_subset", "other_infeasible_subsets", "elastic_point", "pair_cuts",
           "box_fixings", "is_empty_partial_pattern"]

@dataclass(frozen=True)
class Cut:
    """The partial pattern ``values`` on ``units`` has an empty region (LP-checked)."""

    units: tuple[int, ...]
    values: tuple[bool, ...]

    def excludes(self, pattern: Sequence[bool]) -> bool:
        """True when ``pattern`` agrees with the cut's partial pattern (so the cut removes it)."""
        return all(bool(pattern[i]) == v for i, v in zip(self.units, self.values))

    def to_dict(self) -> dict:
        return {"units": list(self.units), "values": [bool(v) for v in self.values]}


@dataclass
class SubsetSearch:
    """Result of :func:`infeasible_subset`: the cut, the LPs it took, and the elastic LP's point (if any)."""

    cut: Cut
    lps: int = 0
    point: np.ndarray | None = field(default=None, repr=False)


def is_empty_partial_pattern(net: TwoLayerReLU, pattern: np.ndarray, units: Sequence[int],
                             domain: Box | None = None) -> bool:
    """True when a verified certificate proves that ``pattern`` restricted to ``units`` has an empty region.

    An undecided region counts as "not proven empty" (the caller then keeps a larger subset).

    Examples
    --------
    >>> net = TwoLayerReLU([[1.0], [1.0], [2.0]], [[1.0, 1.0, 1.0]])
    >>> is_empty_partial_pattern(net, np.array([True, False, True]), [0, 1])
    True
    >>> is_empty_partial_pattern(net, np.array([True, False, True]), [0, 2])
    False
    """
    return _certified_support(net, pattern, units, domain) is not None


def _certified_support(net: TwoLayerReLU, pattern: np.ndarray, units: Sequence[int],
                       domain: Box | None) -> list[int] | None:
    """The units of a verified emptiness certificate of ``pattern`` on ``units``; None unless proven empty."""
    mask = np.zeros(net.n_hidden, dtype=bool)
    mask[list(units)] = True
    decision = decide_pattern(net, pattern, fixed=mask, domain=domain)
    if not decision.empty:
        return None
    return sorted(i for i, y in decision.multipliers.items() if y != 0)


def _homogeneous(net: TwoLayerReLU, domain: Box | None) -> bool:
    return net.has_bias or domain is not None


def elastic_point(net: TwoLayerReLU, pattern: np.ndarray, units: Sequence[int],
                  domain: Box | None = None) -> tuple[np.ndarray | None, np.ndarray]:
    """Solve the elastic realizability LP; return ``(x, multipliers)``.

    ``x`` is the LP's point mapped back to input space (``x / t``; None when the LP failed) and
    ``multipliers[k]`` the absolute dual value of the sign row of ``units[k]`` (zeros when the LP failed).

    Examples
    --------
    >>> net = TwoLayerReLU([[1.0], [1.0], [1.0]], [[1.0, 1.0, 1.0]], b1=[0.0, -1.0, 5.0])
    >>> x, y = elastic_point(net, np.array([False, True, False]), [0, 1, 2])  # x < 0, x > 1, x < -5
    >>> (y > 0).tolist()          # the dual support {1, 2} (x > 1 and x < -5) is already an empty system
    [False, True, True]
    """
    units = np.asarray(list(units), dtype=int)
    n = net.n_inputs
    homogeneous = _homogeneous(net, domain)
    width = n + 1 if homogeneous else n
    k = units.size
    sign = np.where(pattern[units], 1.0, -1.0)[:, None]
    rows = [-sign * net.W1[units].astype(np.float64)]
    if homogeneous:
        rows.append(-sign * net.hidden_bias[units].astype(np.float64)[:, None])
    A_sign = np.hstack(rows)
    scale = np.maximum(np.abs(A_sign).max(axis=1), 1.0)
    A = np.hstack([A_sign / scale[:, None], -np.eye(k) / scale[:, None]])
    b = -np.ones(k) / scale
    if domain is not None:
        eye = np.eye(n)
        box = np.vstack([np.hstack([-eye, domain.lower[:, None]]), np.hstack([eye, -domain.upper[:, None]])])
        box_scale = np.maximum(np.abs(box).max(axis=1), 1.0)
        A = np.vstack([A, np.hstack([box / box_scale[:, None], np.zeros((2 * n, k))])])
        b = np.concatenate([b, -np.ones(2 * n) / box_scale])
    bounds = [(None, None)] * n + ([(1.0, None)] if homogeneous else []) + [(0.0, None)] * k
    cost = np.concatenate([np.zeros(width), np.ones(k)])
    outcome = linprog(cost, A_ub=A, b_ub=b, bounds=bounds, method="highs")
    if outcome.status != 0:
        return None, np.zeros(k)
    z = outcome.x[:width]
    x = z[:n] / z[n] if homogeneous else z
    multipliers = np.abs(np.asarray(outcome.ineqlin.marginals[:k], dtype=np.float64))
    return x, multipliers


def infeasible_subset(net: TwoLayerReLU, pattern: np.ndarray, units: Sequence[int], domain: Box | None = None,
                      minimize: bool = True, clock: Any = None) -> SubsetSearch:
    """An irreducible subset of ``units`` on which ``pattern``'s region is already empty.

    ``pattern`` restricted to ``units`` must be proven empty (a verified certificate); otherwise
    ``ValueError``. With ``minimize`` False the cut is the whole of ``units`` (a no-good cut). When
    ``clock`` (anything with ``expired()``) runs out, the deletion filter stops with the proven subset it has.

    Examples
    --------
    >>> net = TwoLayerReLU([[1.0], [2.0], [1.0], [-1.0]], [[1.0, 1.0, 1.0, 1.0]])
    >>> search = infeasible_subset(net, np.array([True, True, False, False]), [0, 1, 2, 3])
    >>> search.cut.units in {(0, 2), (1, 2), (2, 3)}
    True
    """
    pattern = np.asarray(pattern, dtype=bool)
    units = sorted(int(i) for i in units)
    search = SubsetSearch(cut=Cut(tuple(units), tuple(bool(pattern[i]) for i in units)))
    search.lps += 1
    support = _certified_support(net, pattern, units, domain)
    if support is None:
        raise ValueError("the partial pattern is not proven empty (realizable or undecided): no cut")
    if not minimize:
        return search
    point, multipliers = elastic_point(net, pattern, units, domain)  # a witness candidate for the caller
    search.lps += 1
    search.point = point
    current = support
    # Deletion filter: units with small multipliers first, they are the likeliest to be unnecessary.
    weight = dict(zip(units, multipliers))
    for unit in sorted(current, key=lambda i: weight.get(i, 0.0)):
        if len(current) == 1 or (clock is not None and clock.expired()):
            break
        if unit not in current:
            continue
        trial = [i for i in current if i != unit]
        search.lps += 1
        smaller = _certified_support(net, pattern, trial, domain)
        if smaller is not None:
            current = smaller
    search.cut = Cut(tuple(current), tuple(bool(pattern[i]) for i in current))
    return search


def other_infeasible_subsets(net: TwoLayerReLU, pattern: np.ndarray, units: Sequence[int], first: Cut,
                             domain: Box | None = None, limit: int = 2, clock: Any = None) -> tuple[list[Cut], int]:
    """Up to ``limit`` further irreducible empty subsets of the same pattern, each avoiding one unit of ``first``.

    Different subsets cut off different sets of patterns near the same unrealizable optimum, so fewer
    MILP rounds are needed. Returns the new cuts and the number of LPs.

    Examples
    --------
    >>> net = TwoLayerReLU([[1.0], [2.0], [1.0], [-1.0]], [[1.0, 1.0, 1.0, 1.0]])
    >>> pattern = np.array([True, True, False, False])
    >>> first = infeasible_subset(net, pattern, [0, 1, 2, 3]).cut
    >>> more, lps = other_infeasible_subsets(net, pattern, [0, 1, 2, 3], first, limit=3)
    >>> cuts = [first] + more        # unit 2 wants x < 0, the three others x > 0
    >>> all(is_empty_partial_pattern(net, pattern, cut.units) for cut in cuts), len({cut.units for cut in cuts})
    (True, 2)
    """
    pattern = np.asarray(pattern, dtype=bool)
    found = [first]
    lps = 0
    for unit in first.units:
        if len(found) > limit or (clock is not None and clock.expired()):
            break
        rest = [i for i in units if i != unit]
        lps += 1
        if not rest or not is_empty_partial_pattern(net, pattern, rest, domain):
            continue
        search = infeasible_subset(net, pattern, rest, domain, clock=clock)
        lps += search.lps
        if all(set(search.cut.units) != set(cut.units) for cut in found):
            found.append(search.cut)
    return found[1:], lps


def pair_cuts(net: TwoLayerReLU, units: Sequence[int]) -> tuple[list[Cut], int]:
    """Cuts tying units whose hyperplanes coincide: ``(w_j, b_j) = c (w_i, b_i)`` exactly.

    Parallel rows (``c > 0``) always share their sign (cuts ``(1, 0)`` and ``(0, 1)``), opposite rows
    (``c < 0``) never do (cuts ``(1, 1)`` and ``(0, 0)``). Candidates are found by hashing normalized rows and
    confirmed in exact arithmetic (:func:`reductions.realizability.proportionality`), which proves both cuts:
    for the excluded sign pairs ``|c| s_i (w_i . x + b_i) + s_j (w_j . x + b_j) = 0`` identically, so the two
    strict inequalities cannot hold together (a two-row Farkas certificate). Returns the cuts and the number
    of pairs checked (no LP is needed).

    Examples
    --------
    >>> net = TwoLayerReLU([[1, 2], [-2, -4], [1, 0]], [[1, 1, 1]])
    >>> cuts, checks = pair_cuts(net, [0, 1, 2])
    >>> sorted((c.units, c.values) for c in cuts)
    [((0, 1), (False, False)), ((0, 1), (True, True))]
    """
    rows = np.hstack([np.asarray(net.W1, dtype=np.float64), np.asarray(net.hidden_bias, dtype=np.float64)[:, None]])
    buckets: dict[bytes, list[int]] = {}
    for i in units:
        row = rows[int(i)]
        pivot = row[np.flatnonzero(row)[0]]
        key = np.round(row / abs(pivot) * np.sign(pivot), 12) + 0.0
        buckets.setdefault(key.tobytes(), []).append(int(i))
    cuts: list[Cut] = []
    checks = 0
    for members in buckets.values():
        for i, j in zip(members, members[1:]):
            orientation = proportionality(rows[j], rows[i])
            if orientation == 0:
                continue
            checks += 1
            for value_i in (True, False):
                cuts.append(Cut((i, j), (value_i, (not value_i) if orientation > 0 else value_i)))
    return cuts, checks


def box_fixings(net: TwoLayerReLU, units: Sequence[int], domain: Box, clock: Any = None) -> tuple[list[Cut], int]:
    """Single-unit cuts for units whose sign is constant on the box (interval bounds, then the exact LP).

    Examples
    --------
    >>> net = TwoLayerReLU([[1.0], [1.0]], [[1.0, 1.0]], b1=[5.0, 0.0])
    >>> box_fixings(net, [0, 1], Box([-1.0], [1.0]))[0]
    [Cut(units=(0,), values=(False,))]
    """
    W1 = np.asarray(net.W1, dtype=np.float64)
    centre = W1 @ domain.center + net.hidden_bias
    radius = np.abs(W1) @ ((domain.upper - domain.lower) / 2)
    cuts: list[Cut] = []
    lps = 0
    pattern = np.zeros(net.n_hidden, dtype=bool)
    for i in units:
        if clock is not None and clock.expired():
            break  # fewer fixings: the model is only less tight
        i = int(i)
        if centre[i] - radius[i] >= 0 or centre[i] + radius[i] <= 0:
            impossible = not bool(centre[i] - radius[i] >= 0)
            pattern[i] = impossible
            lps += 1
            if is_empty_partial_pattern(net, pattern, [i], domain):
                cuts.append(Cut((i,), (impossible,)))
    return cuts, lps
