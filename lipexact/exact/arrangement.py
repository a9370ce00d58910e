"""The search space of the exact solvers: the hyperplane groups of a problem and their Jacobians.

Units whose ``(w_i, b_i)`` are exactly proportional share one hyperplane (checked in exact rational
arithmetic): a positive multiple is on where the representative is, a negative one where it is off. Dead
units, and groups whose Jacobian contribution vanishes, leave the search (a hyperplane cannot cover an open
region, so either side of it will do); on a box domain the units whose hyperplane misses the box are fixed.
The Jacobian of a group pattern ``t in {0,1}^G`` is ``base + sum_g t_g A_g``.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from lipexact.domain import Box
from lipexact.exact.problem import Problem
from lipexact.exact.realizability import UndecidedRegionError, realizing_point
from lipexact.network import TwoLayerReLU
from lipexact.norms import jacobian_norms
from lipexact.threads import small_blas  # the one thread rule of the library (lipexact.threads)
from reductions.realizability import exact_signs, proportionality

__all__ = ["Arrangement", "build_arrangement", "small_blas"]

@dataclass(frozen=True, eq=False)
class Arrangement:
    """Hyperplane groups of a problem with their Jacobian contributions (see the module docstring)."""

    problem: Problem
    W: np.ndarray
    """``(G, n)`` unit-norm normal of each group's hyperplane (oriented as its representative unit)."""
    b: np.ndarray
    """``(G,)`` offsets, scaled with ``W``: the group is on where ``W x + b > 0``."""
    base: np.ndarray
    """``(m, n)`` Jacobian part that no search decision changes."""
    A: np.ndarray
    """``(G, m, n)`` Jacobian contribution of switching each group on."""
    box: Box | None
    """Box the regions must meet (the domain), None for the global constant."""
    scale: float
    """Length scale of the search (box width, the hyperplanes' distance from the origin, or 1 for cones)."""
    units: tuple
    """Original units of each group with their orientation, for reporting."""
    live: np.ndarray
    """Original units with a non-zero input row (their hyperplane must not carry the witness)."""

    @property
    def cone(self) -> bool:
        """Bias-free and global: every region is an open cone (and ``-x`` realizes the opposite pattern)."""
        return self.box is None and not self.problem.net.has_bias

    @property
    def complement_symmetric(self) -> bool:
        """Cones with ``2 base + sum_g A_g = 0``: the opposite pattern has the negated Jacobian, same norm."""
        if not self.cone or self.n_groups == 0:
            return False
        total = 2 * self.base + self.A.sum(axis=0)
        size = float(np.abs(self.base).sum() + np.abs(self.A).sum())
        return bool(np.max(np.abs(total)) <= 1e-14 * size)

    @property
    def n_groups(self) -> int:
        return self.W.shape[0]

    @property
    def n_inputs(self) -> int:
        return self.problem.net.n_inputs

    @property
    def norm(self) -> str:
        return self.problem.norm

    @property
    def scalar_output(self) -> bool:
        return self.A.shape[1] == 1

    def jacobians(self, patterns: np.ndarray) -> np.ndarray:
        """``base + sum_g t_g A_g`` for each row ``t`` of ``patterns`` (shape ``(k, G)``)."""
        T = np.asarray(patterns, dtype=np.float64)
        m, n = self.base.shape
        return self.base + (T @ self.A.reshape(self.n_groups, m * n)).reshape(-1, m, n)

    def values(self, patterns: np.ndarray) -> np.ndarray:
        """The norm of the Jacobian of each group pattern."""
        return jacobian_norms(self.jacobians(np.atleast_2d(patterns)), self.norm)

    def value_of_partial(self, jacobian: np.ndarray) -> float:
        return float(jacobian_norms(jacobian, self.norm))

    def preactivations(self, x: np.ndarray) -> np.ndarray:
        return self.W @ x + self.b

    def inside_box(self, x: np.ndarray) -> bool:
        return self.box is None or self.box.contains_interior(x)

    def witness(self, x: np.ndarray, seed: int = 0) -> np.ndarray | None:
        """A point of the same group cell as ``x`` that no live unit's hyperplane contains, or None.

        ``x`` must lie strictly inside its group cell; units left out of the search (zero contribution,
        fixed by the box) may still pass through it, so ``x`` is nudged by less than its distance to
        every group hyperplane and to the box. The reference LP is the fallback. "No hyperplane contains
        it" is decided in exact arithmetic, as :func:`~lipexact.exact.certificate.verify_witness` does.
        """
        net = self.problem.net
        domain = self.problem.domain
        x = np.asarray(x, dtype=np.float64)
        rows, offsets = self.own_rows()
        cell = exact_signs(rows, offsets, x)
        if np.any(cell == 0) or not self.inside_box(x):
            return None
        if self._acceptable(net, x, domain):
            return x
        z = self.preactivations(x)
        room = np.min(np.abs(z)) if z.size else self.scale
        if self.box is not None:
            room = min(room, float(np.min(np.minimum(x - self.box.lower, self.box.upper - x))))
        rng = np.random.default_rng(seed)
        for shrink in (0.5, 0.1, 1e-3):
            direction = rng.standard_normal(x.size)
            candidate = x + shrink * room * direction / max(np.linalg.norm(direction), 1e-300)
            if self.inside_box(candidate) and np.array_equal(exact_signs(rows, offsets, candidate), cell) \
                    and self._acceptable(net, candidate, domain):
                return candidate
        pattern = exact_signs(np.asarray(net.W1, dtype=np.float64), np.asarray(net.hidden_bias, dtype=np.float64), x)
        try:
            point = realizing_point(net, pattern > 0, fixed=pattern != 0, domain=domain)
        except UndecidedRegionError:
            return None
        return point if point is not None and self._acceptable(net, point, domain) else None

    def _acceptable(self, net: TwoLayerReLU, x: np.ndarray, domain: Box | None) -> bool:
        """Inside the open box, and on no live unit's hyperplane (decided exactly, as the certificate does)."""
        if domain is not None and not domain.contains_interior(x):
            return False
        live = np.flatnonzero(self.live)
        return bool(np.all(exact_signs(np.asarray(net.W1, dtype=np.float64)[live],
                                       np.asarray(net.hidden_bias, dtype=np.float64)[live], x) != 0))

    def own_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """The network's own ``(w, b)`` of each group's first unit (the unit whose orientation the group takes).

        Members of a group are exact multiples of it, so its exact signs are the group's; the normalized
        ``W``, ``b`` are for floating-point proposals only.
        """
        net = self.problem.net
        first = np.array([group[0][0] for group in self.units], dtype=int)
        return (np.asarray(net.W1, dtype=np.float64)[first].reshape(len(first), net.n_inputs),
                np.asarray(net.hidden_bias, dtype=np.float64)[first])


def _hyperplane_groups(rows: np.ndarray, units: np.ndarray) -> list[list[tuple[int, int]]]:
    """Group the units whose rows ``(w, b)`` are exactly proportional; each member with its orientation."""
    buckets: dict[tuple, list[list[tuple[int, int]]]] = {}
    groups: list[list[tuple[int, int]]] = []
    for unit in units.tolist():
        row = rows[unit]
        pivot = row[np.flatnonzero(row)[0]]
        key = tuple(np.round(row / abs(pivot), 9) * np.sign(pivot))
        placed = False
        for group in buckets.get(key, []):
            orientation = proportionality(row, rows[group[0][0]])
            if orientation:
                group.append((unit, orientation))
                placed = True
                break
        if not placed:
            group = [(unit, 1)]
            groups.append(group)
            buckets.setdefault(key, []).append(group)
    return groups


def build_arrangement(problem: Problem) -> Arrangement:
    """The group arrangement of ``problem`` (see :class:`Arrangement`).

    Examples
    --------
    >>> from lipexact.exact.problem import validate_problem
    >>> net = TwoLayerReLU([[1, 0], [2, 0], [-1, 0], [0, 1], [0, 0]], [[1, 1, 1, 1, 5]])
    >>> arrangement = build_arrangement(validate_problem(net))
    >>> arrangement.n_groups, arrangement.units[0]
    (2, ((0, 1), (1, 1), (2, -1)))
    >>> arrangement.values([[1, 1]]).tolist()   # x_1 > 0, x_2 > 0: gradient (1 + 2 - 0, 1)
    [3.1622776601683795]
    """
    net = problem.net
    W1 = np.asarray(net.W1, dtype=np.float64)
    b1 = np.asarray(net.hidden_bias, dtype=np.float64)
    W2 = np.asarray(net.W2, dtype=np.float64)
    h, n = W1.shape
    m = W2.shape[0]
    live = np.any(W1 != 0, axis=1)
    box = problem.domain
    rows = np.hstack([W1, b1[:, None]])
    contribution = W2.T[:, :, None] * W1[:, None, :]  # (h, m, n): a_i = W2[:, i] W1[i]
    base = np.zeros((m, n))
    kept_rows, kept_A, kept_units = [], [], []
    for group in _hyperplane_groups(rows, np.flatnonzero(live)):
        A = np.zeros((m, n))
        for unit, orientation in group:
            if orientation > 0:
                A += contribution[unit]
            else:
                base += contribution[unit]
                A -= contribution[unit]
        representative = rows[group[0][0]]
        fixed = _fixed_by_box(representative, box) if problem.domain is not None else None
        if fixed is not None:
            if fixed:
                base += A
            continue
        if not np.any(A != 0):
            continue
        kept_rows.append(representative)
        kept_A.append(A)
        kept_units.append(tuple(group))
    G = len(kept_rows)
    R = np.array(kept_rows).reshape(G, n + 1)
    lengths = np.linalg.norm(R[:, :n], axis=1) if G else np.zeros(0)
    W = R[:, :n] / lengths[:, None] if G else np.zeros((0, n))
    b = R[:, n] / lengths if G else np.zeros(0)
    if box is not None:
        scale = float(np.min(box.upper - box.lower))
    else:
        scale = 1.0 + (float(np.max(np.abs(b))) if G else 0.0)  # 1 for cones
    A = np.array(kept_A).reshape(G, m, n)
    return Arrangement(problem=problem, W=W, b=b, base=base, A=A, box=box, scale=scale, units=tuple(kept_units),
                       live=live)


def _fixed_by_box(row: np.ndarray, box: Box) -> bool | None:
    """True/False when the unit is on/off on the whole open box, else None; decided in exact arithmetic.

    On the open box a live unit's pre-activation lies strictly between its minimum and maximum over the
    closed box, so ``min >= 0`` means on and ``max <= 0`` off.

    Examples
    --------
    >>> box = Box([0.1], [0.1 + 1e-9])
    >>> _fixed_by_box(np.array([1.0, -0.1]), box), _fixed_by_box(np.array([1.0, -0.1 - 1e-12]), box)
    (True, None)
    """
    w, bias = row[:-1].tolist(), Fraction(float(row[-1]))
    lower, upper = box.lower.tolist(), box.upper.tolist()
    low = high = bias
    for a, l, u in zip(w, lower, upper):
        if a == 0:
            continue
        ends = (Fraction(a) * Fraction(l), Fraction(a) * Fraction(u))
        low, high = low + min(ends), high + max(ends)
    if low >= 0:
        return True
    if high <= 0:
        return False
    return None
