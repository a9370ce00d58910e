"""A cheap local search for a good cell of a deep ReLU network: the branch and bound's first incumbent.

Sample points (uniform in the box, or Gaussian around the origin at several scales globally), take the
cells (float activation patterns) of the best Jacobian norms, then walk: perturb the best point at
decreasing step sizes and keep any point whose cell is better, then walk across hyperplanes to neighbouring
cells while that improves (:func:`cell_walk`). :func:`perturb_walk` then iterates from a pool of such cells:
jump from one of them at a random scale, walk, keep what improves (an iterated local search). Every point
returned is only a candidate:
the search accepts it after checking that it lies strictly inside its joint region (exact signs,
:func:`lipexact.deep.certificate.verify_deep_witness`), and the final witness check re-evaluates it again.

Examples
--------
>>> from lipexact.deep.network import ReLUNetwork
>>> net = ReLUNetwork([([[1, 0], [0, 1]], None), ([[1, 1]], [-1]), ([[3]], None)])
>>> value, x = local_search(net, "2", None, np.random.default_rng(0))[0]
>>> round(value, 9)
4.242640687
"""

from __future__ import annotations

import numpy as np

from lipexact.deep.network import ReLUNetwork
from lipexact.domain import Box
from lipexact.norms import jacobian_norms

__all__ = ["local_search", "perturb_walk", "pattern_norms", "cell_walk", "neighbours", "restart_effort",
           "RESTART_FIRST"]

#: The branch and bound restarts the local search after this many nodes, then at every power of two.
RESTART_FIRST = 256


def pattern_norms(net: ReLUNetwork, points: np.ndarray, norm: str) -> np.ndarray:
    """The Jacobian norm of the float cell of every point (rows of ``points``)."""
    points = np.atleast_2d(points)
    pre = net.preactivations(points)
    weights = [np.asarray(W, dtype=np.float64) for W in net.weights]
    count, m, n = len(points), weights[-1].shape[0], weights[0].shape[1]
    if m <= n:  # from the outputs: one (points * m) x width product per layer (3-9x faster at 1024 points)
        J = np.broadcast_to(weights[-1], (count,) + weights[-1].shape)
        for W, z in zip(reversed(weights[:-1]), reversed(pre)):
            J = ((J * (z > 0)[:, None, :]).reshape(count * m, W.shape[0]) @ W).reshape(count, m, W.shape[1])
    else:
        J = np.broadcast_to(weights[0], (count,) + weights[0].shape)
        for W, z in zip(weights[1:], pre):
            J = W @ (J * (z > 0)[:, :, None])
    with np.errstate(all="ignore"):
        values = jacobian_norms(J, norm)
    return np.where(np.isfinite(values), values, -np.inf)


def neighbours(net: ReLUNetwork, x: np.ndarray, domain: Box | None, overshoot: float = 0.05) -> np.ndarray:
    """One point across each unit's hyperplane from ``x`` (along the unit's gradient within the cell of ``x``,
    ``1 + overshoot`` times the distance to it): points of the neighbouring cells, when no other hyperplane
    is closer. Points outside the open box are pulled back inside."""
    rows = []
    G = np.asarray(net.weights[0], dtype=np.float64)
    pre = net.preactivations(x)
    for layer, z in enumerate(pre):
        if layer:
            W = np.asarray(net.weights[layer], dtype=np.float64)
            G = W @ (G * (pre[layer - 1] > 0)[:, None])
        squared = np.einsum("ij,ij->i", G, G)
        with np.errstate(all="ignore"):
            steps = -(z / squared)[:, None] * G * (1 + overshoot)
        rows.append(steps[np.isfinite(steps).all(axis=1) & (squared > 0)])
    candidates = x + np.vstack(rows) if rows else np.empty((0, x.size))
    if domain is not None:
        inset = 1e-6 * (domain.upper - domain.lower)
        candidates = np.clip(candidates, domain.lower + inset, domain.upper - inset)
    return candidates


def cell_walk(net: ReLUNetwork, norm: str, x: np.ndarray, value: float, domain: Box | None,
              moves: int = 40) -> tuple[float, np.ndarray]:
    """Greedy walk over neighbouring cells (:func:`neighbours`) while the Jacobian norm increases."""
    for _ in range(moves):
        candidates = neighbours(net, x, domain)
        if not len(candidates):
            break
        scores = pattern_norms(net, candidates, norm)
        best = int(np.argmax(scores))
        if not scores[best] > value:
            break
        x, value = candidates[best], float(scores[best])
    return value, x


def local_search(net: ReLUNetwork, norm: str, domain: Box | None, rng: np.random.Generator, samples: int = 1024,
                 steps: int = 400, keep: int = 16) -> list[tuple[float, np.ndarray]]:
    """Up to ``keep`` candidate cells ``(value, point)``, best first (see the module docstring)."""
    n = net.n_inputs
    if domain is not None:
        low, high = domain.lower, domain.upper
        points = low + (high - low) * rng.random((samples, n))
        points = np.vstack([domain.center, points])
    else:
        scales = np.repeat([0.1, 1.0, 10.0, 100.0], max(1, samples // 4))
        points = rng.standard_normal((len(scales), n)) * scales[:, None]
    values = pattern_norms(net, points, norm)
    order = np.argsort(-values)[:keep]
    results = []
    for start in order:
        x, value = points[start].copy(), float(values[start])
        scale = (float(np.max(domain.upper - domain.lower)) if domain is not None else 1.0 + float(np.abs(x).max())) / 4
        for _ in range(steps // keep):
            candidates = x + scale * rng.standard_normal((8, n))
            if domain is not None:
                inset = 1e-6 * (domain.upper - domain.lower)
                candidates = np.clip(candidates, domain.lower + inset, domain.upper - inset)
            scores = pattern_norms(net, candidates, norm)
            best = int(np.argmax(scores))
            if scores[best] > value:
                x, value = candidates[best], float(scores[best])
            else:
                scale /= 2
        results.append(cell_walk(net, norm, x, value, domain))
    results.sort(key=lambda item: -item[0])
    return results


def perturb_walk(net: ReLUNetwork, norm: str, domain: Box | None, pool: list, rng: np.random.Generator,
                 rounds: int, candidates: int = 64) -> list[tuple[float, np.ndarray]]:
    """An iterated local search from ``pool`` (``(value, point)`` pairs, e.g. :func:`local_search`'s): each of the
    ``rounds`` picks a member at random, samples ``candidates`` Gaussian points around it at a scale drawn
    log-uniformly (from 1e-3 to 3 times ``1 + max |x_i|`` globally, from 1e-3 to 1 times the box's widest side on a
    box), walks from the best of them (:func:`cell_walk`) and replaces the member when that ends higher. The walk
    alone stops at the first cell none of whose neighbours is better; the jumps leave such local optima.
    Returns the pool, best first.

    Measured (11-24-24-1 random net, global l2): :func:`local_search` with 8,192 samples ended at 1.12-1.21 in 0.1 s
    (six seeds); these rounds from its cells reached 1.33-1.35 within 0.4-10 s (three seeds), where the branch and
    bound's own restarts had needed about 600 s of search for 1.35.

    Examples
    --------
    >>> net = ReLUNetwork([([[1, 0], [0, 1]], [0, -5]), ([[1, 1]], [-1]), ([[3]], None)])
    >>> rng = np.random.default_rng(0)
    >>> start = [(float(pattern_norms(net, np.array([3.0, 0.0]), "2")[0]), np.array([3.0, 0.0]))]  # x1 alone: 3
    >>> [round(value, 6) for value, _ in perturb_walk(net, "2", None, start, rng, rounds=50)]  # both: 3 sqrt(2)
    [4.242641]
    """
    pool = [(float(value), np.asarray(x, dtype=np.float64)) for value, x in pool]
    if not pool:
        return pool
    n = pool[0][1].size
    width = float(np.max(domain.upper - domain.lower)) if domain is not None else None
    for _ in range(rounds):
        i = int(rng.integers(len(pool)))
        value, x = pool[i]
        if domain is None:
            scale = 10 ** rng.uniform(-3.0, 0.5) * (1.0 + float(np.abs(x).max()))
        else:
            scale = 10 ** rng.uniform(-3.0, 0.0) * width
        points = x + scale * rng.standard_normal((candidates, n))
        if domain is not None:
            inset = 1e-6 * (domain.upper - domain.lower)
            points = np.clip(points, domain.lower + inset, domain.upper - inset)
        scores = pattern_norms(net, points, norm)
        best = int(np.argmax(scores))
        if not np.isfinite(scores[best]):
            continue
        found, y = cell_walk(net, norm, points[best], float(scores[best]), domain)
        if found > value:
            pool[i] = (found, y)
    pool.sort(key=lambda item: -item[0])
    return pool


def restart_effort(nodes: int) -> tuple[int, int] | None:
    """``(samples, keep)`` of the local-search restart that a branch and bound makes once it has processed
    ``nodes`` nodes, or None: restarts at 256, 512, 1024, ... nodes, each with twice the samples and kept cells
    of the one before (up to 65,536 samples and 256 cells), so their total cost stays a small share of the search.

    Measured (seed-0 random nets, N(0, 1)/sqrt(fan-in) weights and biases, global l2, 60 s, one run each way on
    the 2-core machine at load 2-3.6): the lower end of the bracket went from 0.838 to 0.907 on 10-20-20-1
    and from 1.117 to 1.241 on 11-24-24-1 (where the search without restarts reached 1.25 only after 600 s),
    for 5-10% fewer nodes in the same time; the upper ends were unchanged (2.00 / 2.01 and 2.68 / 2.68).

    Examples
    --------
    >>> [restart_effort(n) for n in (100, 256, 300, 512, 1 << 20)]
    [None, (2048, 32), None, (4096, 64), (65536, 256)]
    """
    if nodes < RESTART_FIRST or nodes & (nodes - 1):
        return None
    doublings = (nodes // RESTART_FIRST).bit_length()
    return min(1024 << doublings, 1 << 16), min(16 << doublings, 256)
