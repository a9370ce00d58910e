"""Planar regions as polygons: cuts, certain decisions and the covering box, checked by sampling."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lipexact.exact.planar import Lines, covering_box


def unit_lines(draw_W, draw_b):
    W = np.asarray(draw_W, dtype=float)
    keep = np.any(W != 0, axis=1)
    W, b = W[keep], np.asarray(draw_b, dtype=float)[keep]
    lengths = np.linalg.norm(W, axis=1)
    return W / lengths[:, None], b / lengths


@st.composite
def line_sets(draw, max_lines=7):
    k = draw(st.integers(1, max_lines))
    W = draw(hnp.arrays(np.int64, (k, 2), elements=st.integers(-3, 3)))
    b = draw(hnp.arrays(np.int64, (k,), elements=st.integers(-4, 4)))
    W, b = unit_lines(W, b)
    return W, b


def inside(lines, signs, points):
    """Points strictly inside the box and on the wanted side of every fixed line."""
    ok = np.all((points > lines.lower) & (points < lines.upper), axis=1)
    for g, s in signs.items():
        z = points @ lines.W[g] + lines.b[g]
        ok &= (z > 0) if s == 1 else (z < 0)
    return ok


@given(line_sets(), st.integers(0, 2 ** 31 - 1))
@settings(max_examples=60)
def test_cut_decisions_agree_with_sampling(case, seed):
    W, b = case
    if W.shape[0] == 0:
        return
    lower, upper = covering_box(W, b)
    lines = Lines(W, b, lower, upper)
    rng = np.random.default_rng(seed)
    points = rng.uniform(lower, upper, size=(20000, 2))
    polygon, signs = lines.box(), {}
    for g in range(W.shape[0]):
        side = int(rng.integers(0, 2))
        sign = 1.0 if side else -1.0
        verdict = polygon.side(lines, g, sign)
        signs[g] = side
        found = inside(lines, signs, points)
        if verdict < 0:
            assert not np.any(found)  # certain emptiness is never wrong
            return
        polygon = polygon.cut(lines, g, sign)
        if verdict > 0 and polygon.vertices.shape[0] >= 3:
            point = polygon.interior_point()
            assert inside(lines, signs, point[None])[0]
        # every sampled point of the region lies in the polygon (convex hull of its vertices, with rounding)
        if np.any(found) and polygon.vertices.shape[0] >= 3:
            V = polygon.vertices
            edges = np.roll(V, -1, axis=0) - V
            cross = edges[:, 0][None, :] * (points[found][:, None, 1] - V[None, :, 1]) - \
                edges[:, 1][None, :] * (points[found][:, None, 0] - V[None, :, 0])
            assert np.all(cross >= -1e-9 * np.abs(V).max())


@given(line_sets(max_lines=6))
@settings(max_examples=60)
def test_forced_lines_never_cut_the_region(case):
    W, b = case
    if W.shape[0] < 2:
        return
    lower, upper = covering_box(W, b)
    lines = Lines(W, b, lower, upper)
    polygon = lines.box().cut(lines, 0, 1.0)
    rng = np.random.default_rng(0)
    points = rng.uniform(lower, upper, size=(20000, 2))
    region = points[inside(lines, {0: 1}, points)]
    sides = polygon.sides(lines, np.arange(1, W.shape[0]))
    for g, side in zip(range(1, W.shape[0]), sides):
        z = region @ W[g] + b[g]
        if side == 1:
            assert np.all(z > 0)
        elif side == -1:
            assert np.all(z < 0)


def test_covering_box_holds_every_crossing_and_nearest_point():
    rng = np.random.default_rng(3)
    W = rng.normal(size=(30, 2))
    W /= np.linalg.norm(W, axis=1)[:, None]
    b = rng.normal(size=30) * 5
    lower, upper = covering_box(W, b)
    lines = Lines(W, b, lower, upper)
    for i in range(30):
        assert np.all(np.abs(-b[i] * W[i]) < upper)
        for j in range(i + 1, 30):
            point, _ = lines.crossing(i, j)
            assert np.all(np.abs(point) < upper)
