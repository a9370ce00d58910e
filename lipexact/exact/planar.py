"""Regions of a planar arrangement (input dimension 2) as convex polygons, cut one line at a time.

Every region of the search lies in a box: the domain, or for the global constant a box containing every
crossing point of two lines and the point of every line nearest the origin, so that every cell of the
arrangement meets its interior. A node's region is that box cut by the half-planes of its fixed units; a
child's polygon is its parent's cut by one more half-plane (linear in the number of vertices). Each edge
remembers the line it lies on, so every vertex is computed afresh as the crossing of two input lines: its
rounding error is local, whatever the size of the box.

Decisions are taken with a margin only. With ``d_v`` the signed distance from vertex ``v`` to the new line,
the open half-plane holds interior points of the (closed, convex) polygon when some ``d_v > margin_v`` (points
of the interior lie near that vertex), and none when every ``d_v < -margin_v``. ``margin_v`` grows with the
vertex's size and with the conditioning of the two lines that define it. Undecided cases are left to the
region LP.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Lines", "Polygon", "covering_box", "RELATIVE_MARGIN"]

#: Margin of a decision, relative to the size of the numbers involved (and to the vertex conditioning).
RELATIVE_MARGIN = 1e-10


def covering_box(W: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A square ``[-R, R]^2`` whose interior meets every cell of the lines ``W x + b = 0`` (unit normals).

    ``R`` exceeds twice every coordinate of every crossing point (exactly parallel lines excepted) and of
    every line's point nearest the origin.

    Examples
    --------
    >>> low, high = covering_box(np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([-3.0, 4.0]))
    >>> float(high[0])   # the lines cross at (3, -4)
    9.0
    """
    reach = float(np.max(np.abs(b))) if b.size else 0.0
    a, c = W[:, 0], W[:, 1]
    for start in range(0, W.shape[0], 256):  # pairs in blocks of rows: memory stays small
        rows = slice(start, start + 256)
        det = a[rows, None] * c[None, :] - c[rows, None] * a[None, :]
        crossing = det != 0
        if np.any(crossing):
            with np.errstate(divide="ignore", invalid="ignore"):
                x = (c[rows, None] * b[None, :] - b[rows, None] * c[None, :]) / det
                y = (b[rows, None] * a[None, :] - a[rows, None] * b[None, :]) / det
            reach = max(reach, float(np.max(np.abs(x[crossing]))), float(np.max(np.abs(y[crossing]))))
    radius = 2.0 * reach + 1.0
    return np.full(2, -radius), np.full(2, radius)


class Lines:
    """The unit-normal lines ``W_i x + b_i = 0`` of the groups, followed by the four sides of the box.

    Examples
    --------
    >>> lines = Lines(np.array([[1.0, 0.0]]), np.array([-1.0]), np.array([-2.0, -2.0]), np.array([2.0, 2.0]))
    >>> lines.crossing(0, 2)[0].tolist()   # the line x = 1 meets the bottom side y = -2
    [1.0, -2.0]
    """

    def __init__(self, W: np.ndarray, b: np.ndarray, lower: np.ndarray, upper: np.ndarray):
        sides_W = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
        sides_b = np.array([-lower[0], -lower[1], upper[0], upper[1]])  # inside the box: every side >= 0
        self.W = np.vstack([W, sides_W])
        self.b = np.concatenate([b, sides_b])
        self.groups = W.shape[0]
        self.lower, self.upper = lower, upper

    def crossing(self, i: int, j: int) -> tuple[np.ndarray, float] | None:
        """The crossing point of lines ``i`` and ``j`` and ``1 / |det|`` (its conditioning); None if parallel."""
        (a1, c1), (a2, c2) = self.W[i], self.W[j]
        b1, b2 = self.b[i], self.b[j]
        det = a1 * c2 - c1 * a2
        if det == 0:
            return None
        return np.array([(c1 * b2 - b1 * c2) / det, (b1 * a2 - a1 * b2) / det]), 1.0 / abs(det)

    def box(self) -> "Polygon":
        lo, hi = self.lower, self.upper
        G = self.groups
        vertices = np.array([[lo[0], lo[1]], [hi[0], lo[1]], [hi[0], hi[1]], [lo[0], hi[1]]])
        # edge k runs from vertex k to vertex k + 1: bottom (y >= lo), right (x <= hi), top, left
        return Polygon(vertices, np.array([G + 1, G + 2, G + 3, G + 0]), np.ones(4))


@dataclass
class Polygon:
    """A convex polygon: vertices in order, the line of each edge (vertex k to k + 1), vertex conditioning.

    Examples
    --------
    >>> lines = Lines(np.array([[1.0, 0.0]]), np.array([-1.0]), np.array([-2.0, -2.0]), np.array([2.0, 2.0]))
    >>> right = lines.box().cut(lines, 0, 1.0)   # keep x >= 1
    >>> right.vertices.tolist()
    [[1.0, -2.0], [2.0, -2.0], [2.0, 2.0], [1.0, 2.0]]
    >>> right.side(lines, 0, 1.0), right.side(lines, 0, -1.0)   # x > 1 holds interior points; x < 1 only touches
    (1, 0)
    """

    vertices: np.ndarray
    edges: np.ndarray
    conditioning: np.ndarray

    def margins(self, offset_sizes: np.ndarray | float) -> np.ndarray:
        size = np.abs(self.vertices).max(axis=1) + offset_sizes
        return RELATIVE_MARGIN * (size + 1e-300) * self.conditioning

    def side(self, lines: Lines, line: int, sign: float) -> int:
        """1: the open half-plane ``sign (W x + b) > 0`` holds interior points; -1: it holds none; 0: unsure."""
        d = sign * (self.vertices @ lines.W[line] + lines.b[line])
        margin = self.margins(abs(lines.b[line]))
        if np.any(d > margin):
            return 1
        if np.all(d < -margin):
            return -1
        return 0

    def sides(self, lines: Lines, indices: np.ndarray) -> np.ndarray:
        """For each line of ``indices``: 1 if the polygon is certainly on its positive side, -1 on its negative
        side, 0 if the line cuts it or the margin cannot tell."""
        d = self.vertices @ lines.W[indices].T + lines.b[indices]  # (vertices, lines)
        margin = RELATIVE_MARGIN * (np.abs(self.vertices).max(axis=1)[:, None] + np.abs(lines.b[indices])[None, :]
                                    + 1e-300) * self.conditioning[:, None]
        positive = np.all(d > margin, axis=0)
        negative = np.all(d < -margin, axis=0)
        return positive.astype(np.int8) - negative.astype(np.int8)

    def cut(self, lines: Lines, line: int, sign: float) -> "Polygon":
        """The polygon cut by the closed half-plane ``sign (W x + b) >= 0``."""
        d = sign * (self.vertices @ lines.W[line] + lines.b[line])
        inside = d >= 0
        if np.all(inside):
            return self
        vertices, edges, conditioning = [], [], []
        count = self.vertices.shape[0]
        for i in range(count):
            j = (i + 1) % count
            if inside[i]:
                vertices.append(self.vertices[i])
                edges.append(self.edges[i])
                conditioning.append(self.conditioning[i])
            if inside[i] != inside[j]:
                point = lines.crossing(line, int(self.edges[i]))
                if point is None:  # numerically parallel: interpolate along the edge instead
                    t = d[i] / (d[i] - d[j])
                    point = (self.vertices[i] + t * (self.vertices[j] - self.vertices[i]), 1e6)
                vertices.append(point[0])
                conditioning.append(point[1])
                edges.append(line if inside[i] else self.edges[i])
        if not vertices:
            return Polygon(np.zeros((0, 2)), np.zeros(0, dtype=int), np.zeros(0))
        return Polygon(np.array(vertices), np.array(edges), np.array(conditioning))

    def interior_point(self) -> np.ndarray | None:
        """The mean of the vertices (inside a convex polygon with an interior)."""
        if self.vertices.shape[0] < 3:
            return None
        return self.vertices.mean(axis=0)
