"""A good first witness for the exact search: seeded sampling, then a local search over neighbouring cells.

This is a heuristic (it proves nothing about optimality); the exact methods use its cell as their starting
incumbent, whose value is a certified lower bound once the witness is re-checked.

The local search moves between cells of the hyperplane arrangement along lines. On the line ``x + tau d``
the pattern changes at every crossing ``tau_g = -(W_g x + b_g) / (W_g d)``; the Jacobian of each cell
along the line follows by adding or removing one contribution per crossing, so every cell the line meets is
scored at once and the best one is kept (:func:`best_cell_on_line`). The directions tried from a cell are:
towards the hyperplanes whose single flip improves the value most (a pattern-flip step), the input
direction that the current Jacobian stretches most (for a bias-free scalar net, following the gradient
``x <- grad f(x)`` is a flip-improvement step of the underlying box quadratic program), and a few random
ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lipexact.exact.arrangement import Arrangement
from lipexact.exact.problem import Clock
from lipexact.norms import jacobian_norms

__all__ = ["Cell", "best_cell_on_line", "local_search", "sample_cells", "find_incumbent"]


@dataclass
class Cell:
    """A point strictly inside a cell, its group pattern, Jacobian and value."""

    point: np.ndarray
    pattern: np.ndarray
    jacobian: np.ndarray
    value: float


def cell_at(arrangement: Arrangement, x: np.ndarray) -> Cell | None:
    """The cell of ``x``, or None when ``x`` lies on a group hyperplane or outside the search box.

    Examples
    --------
    >>> from lipexact.network import TwoLayerReLU
    >>> from lipexact.exact.problem import validate_problem
    >>> from lipexact.exact.arrangement import build_arrangement
    >>> arrangement = build_arrangement(validate_problem(TwoLayerReLU([[1.0], [-1.0]], [[2.0, 1.0]])))
    >>> cell_at(arrangement, np.array([0.5])).value, cell_at(arrangement, np.array([0.0])) is None
    (2.0, True)
    """
    z = arrangement.preactivations(x)
    if np.any(z == 0) or not arrangement.inside_box(x):
        return None
    pattern = z > 0
    jacobian = arrangement.jacobians(pattern[None])[0]
    return Cell(x, pattern, jacobian, float(jacobian_norms(jacobian, arrangement.norm)))


def _box_limits(arrangement: Arrangement, x: np.ndarray, d: np.ndarray) -> tuple[float, float]:
    """The open interval of ``tau`` with ``x + tau d`` inside the search box."""
    if arrangement.box is None:
        return -math.inf, math.inf
    with np.errstate(divide="ignore", invalid="ignore"):
        to_upper = (arrangement.box.upper - x) / d
        to_lower = (arrangement.box.lower - x) / d
    high = np.where(d > 0, to_upper, np.where(d < 0, to_lower, np.inf))
    low = np.where(d > 0, to_lower, np.where(d < 0, to_upper, -np.inf))
    return float(np.max(low)), float(np.min(high))


def best_cell_on_line(arrangement: Arrangement, cell: Cell, d: np.ndarray) -> Cell | None:
    """The best cell met by the ray ``cell.point + tau d`` (``tau > 0``, inside the box), other than ``cell``.

    Examples
    --------
    >>> from lipexact.network import TwoLayerReLU
    >>> from lipexact.exact.problem import validate_problem
    >>> from lipexact.exact.arrangement import build_arrangement
    >>> net = TwoLayerReLU([[1.0], [1.0]], [[1.0, 2.0]], b1=[0.0, -1.0])
    >>> arrangement = build_arrangement(validate_problem(net))
    >>> start = cell_at(arrangement, np.array([-1.0]))
    >>> start.value, best_cell_on_line(arrangement, start, np.array([1.0])).value
    (0.0, 3.0)
    """
    x = cell.point
    z = arrangement.preactivations(x)
    rate = arrangement.W @ d
    _, limit = _box_limits(arrangement, x, d)
    with np.errstate(divide="ignore", invalid="ignore"):
        crossing = -z / rate
    hits = np.flatnonzero((rate != 0) & (crossing > 0) & (crossing < limit))
    if hits.size == 0:
        return None
    order = hits[np.argsort(crossing[hits], kind="stable")]
    taus = crossing[order]
    flips = np.where(cell.pattern[order], -1.0, 1.0)
    steps = flips[:, None, None] * arrangement.A[order]
    jacobians = cell.jacobian + np.cumsum(steps, axis=0)  # the cell after each crossing
    ends = np.append(taus[1:], limit)
    real = ends > taus  # cells of positive length (ties cross together)
    if not np.any(real):
        return None
    values = jacobian_norms(jacobians, arrangement.norm)
    values = np.where(real, values, -np.inf)
    k = int(np.argmax(values))
    if math.isinf(ends[k]):
        tau = taus[k] + max(1.0, abs(taus[k]))
    else:
        tau = 0.5 * (taus[k] + ends[k])
    point = x + tau * d
    found = cell_at(arrangement, point)
    if found is None:
        return None
    return found


def stretch_direction(jacobian: np.ndarray, norm: str) -> np.ndarray:
    """An input direction ``d`` maximizing ``||J d|| / ||d||`` for the norm pair (up to sign).

    Examples
    --------
    >>> J = np.array([[3.0, -4.0]])
    >>> stretch_direction(J, "2").tolist(), stretch_direction(J, "inf").tolist(), stretch_direction(J, "1").tolist()
    ([3.0, -4.0], [1.0, -1.0], [0.0, 1.0])
    """
    m, n = jacobian.shape
    if norm == "2":
        if m == 1:
            return jacobian[0].copy()
        return np.linalg.svd(jacobian)[2][0]
    if norm == "inf":  # ||J||_inf = max row l1 norm, attained at d = sign(row)
        row = int(np.argmax(np.abs(jacobian).sum(axis=1)))
        return np.sign(jacobian[row]) + 0.0
    column = int(np.argmax(np.abs(jacobian).sum(axis=0)))  # ||J||_1 = max column l1 norm, at d = e_column
    d = np.zeros(n)
    d[column] = 1.0
    return d


def local_search(arrangement: Arrangement, cell: Cell, rng: np.random.Generator, max_moves: int = 50,
                 flip_directions: int = 4, random_directions: int = 2, clock: Clock | None = None) -> Cell:
    """Move to the best cell on a few lines through the current one until no line improves (a heuristic).

    Examples
    --------
    >>> from lipexact.network import TwoLayerReLU
    >>> from lipexact.exact.problem import validate_problem
    >>> from lipexact.exact.arrangement import build_arrangement
    >>> net = TwoLayerReLU([[1.0, 0.0], [0.0, 1.0]], [[1.0, 1.0]], b1=[-1.0, -1.0])
    >>> arrangement = build_arrangement(validate_problem(net))
    >>> start = cell_at(arrangement, np.array([0.0, 0.0]))   # both units off: value 0
    >>> round(local_search(arrangement, start, np.random.default_rng(0)).value, 6)   # both on: sqrt(2)
    1.414214
    """
    W = arrangement.W
    A = arrangement.A
    n = arrangement.n_inputs
    for _ in range(max_moves):
        if clock is not None and clock.expired():
            return cell
        directions = []
        z = arrangement.preactivations(cell.point)
        if W.shape[0]:
            flipped = cell.jacobian + np.where(cell.pattern, -1.0, 1.0)[:, None, None] * A
            gains = jacobian_norms(flipped, arrangement.norm) - cell.value
            for g in np.argsort(-gains, kind="stable")[:flip_directions]:
                if gains[g] > 0:
                    directions.append(-np.sign(z[g]) * W[g])
        stretch = stretch_direction(cell.jacobian, arrangement.norm)
        if np.any(stretch != 0):
            directions.extend([stretch, -stretch])
            if arrangement.box is None or not arrangement.problem.net.has_bias:
                directions.append(stretch - cell.point * (stretch @ cell.point) / max(cell.point @ cell.point, 1e-300))
        for _ in range(random_directions):
            directions.append(rng.standard_normal(n))
        best = cell
        for d in directions:
            if not np.any(d != 0):
                continue
            found = best_cell_on_line(arrangement, cell, d)
            if found is not None and found.value > best.value * (1 + 1e-12):
                best = found
        if best is cell:
            return cell
        cell = best
    return cell


def sample_cells(arrangement: Arrangement, rng: np.random.Generator, count: int) -> list[Cell]:
    """Cells of ``count`` random points (distinct patterns, best first): uniform in the search box, or
    Gaussian at several scales.

    Examples
    --------
    >>> from lipexact.network import TwoLayerReLU
    >>> from lipexact.exact.problem import validate_problem
    >>> from lipexact.exact.arrangement import build_arrangement
    >>> arrangement = build_arrangement(validate_problem(TwoLayerReLU([[1.0], [-1.0]], [[2.0, 1.0]])))
    >>> [cell.value for cell in sample_cells(arrangement, np.random.default_rng(0), 50)]
    [2.0, 1.0]
    """
    n = arrangement.n_inputs
    if arrangement.box is not None:
        low, high = arrangement.box.lower, arrangement.box.upper
        X = low + (high - low) * rng.uniform(0.001, 0.999, size=(count, n))
    else:
        scales = arrangement.scale * np.array([0.3, 1.0, 3.0, 30.0])
        X = rng.standard_normal((count, n)) * scales[np.arange(count) % scales.size, None]
    Z = X @ arrangement.W.T + arrangement.b
    keep = np.all(Z != 0, axis=1)
    X, Z = X[keep], Z[keep]
    patterns = Z > 0
    values = jacobian_norms(arrangement.jacobians(patterns), arrangement.norm) if X.shape[0] else np.zeros(0)
    order = np.argsort(-values, kind="stable")
    cells, seen = [], set()
    for i in order:
        key = patterns[i].tobytes()
        if key in seen:
            continue
        seen.add(key)
        jacobian = arrangement.jacobians(patterns[i][None])[0]
        cells.append(Cell(X[i], patterns[i], jacobian, float(values[i])))
    return cells


def find_incumbent(arrangement: Arrangement, seed: int = 0, samples: int = 512, starts: int = 8,
                   max_moves: int = 50, clock: Clock | None = None) -> Cell | None:
    """The best cell found by sampling ``samples`` points and local search from the ``starts`` best (heuristic).

    Deterministic for a given ``seed`` (unless ``clock`` runs out: the search then stops early).

    Examples
    --------
    >>> from lipexact.network import TwoLayerReLU
    >>> from lipexact.exact.problem import validate_problem
    >>> from lipexact.exact.arrangement import build_arrangement
    >>> net = TwoLayerReLU([[1, 0], [0, 1], [1, 1]], [[1, 1, 1]], b1=[0, 0, -1])
    >>> round(find_incumbent(build_arrangement(validate_problem(net))).value, 12)   # all on: (2, 2)
    2.828427124746
    """
    rng = np.random.default_rng(seed)
    cells = sample_cells(arrangement, rng, samples)
    if not cells:
        return None
    best = cells[0]
    for cell in cells[:starts]:
        found = local_search(arrangement, cell, rng, max_moves=max_moves, clock=clock)
        if found.value > best.value:
            best = found
    return best
