"""The warm-started region LP agrees with the reference realizability LP on every partial pattern it sees."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from lipexact.exact.arrangement import build_arrangement
from lipexact.exact.problem import validate_problem
from lipexact.exact.realizability import realizing_point
from lipexact.exact.region_lp import RegionLP, representative_rows, strictly_inside
from lipexact.network import TwoLayerReLU
from tests.strategies import boxes_for, two_layer_nets


def reference(arrangement, signs):
    """The realizability of the network's own rows (each group's first unit), decided by the reference."""
    fixed = signs >= 0
    if not np.any(fixed):
        return True
    rows, offsets = representative_rows(arrangement)
    net = TwoLayerReLU(rows[fixed], np.ones((1, int(fixed.sum()))), b1=offsets[fixed])
    return realizing_point(net, signs[fixed] == 1, domain=arrangement.box) is not None


@given(two_layer_nets(max_inputs=3, max_hidden=7), st.booleans(), st.data())
@settings(max_examples=50)
def test_region_lp_agrees_with_the_reference_lp(net, with_box, data):
    box = data.draw(boxes_for(net.n_inputs)) if with_box else None
    arrangement = build_arrangement(validate_problem(net, domain=box))
    G = arrangement.n_groups
    if G == 0:
        return
    lp = RegionLP(arrangement)
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 31 - 1)))
    for _ in range(12):  # a sequence of partial patterns, as a search would ask them (warm starts)
        signs = rng.integers(-1, 2, size=G).astype(np.int8)
        point = lp.point(signs)
        assert (point is not None) == reference(arrangement, signs)
        if point is not None:
            assert strictly_inside(arrangement, signs, point)


def test_thin_and_touching_regions():
    # three lines through one point: the six sectors exist, the "triangle" patterns do not
    net = TwoLayerReLU([[1, 0], [0, 1], [1, 1]], [[1, 1, 1]], b1=[0, 0, 0])
    arrangement = build_arrangement(validate_problem(net))
    lp = RegionLP(arrangement)
    for signs, exists in [([1, 1, 1], True), ([1, 1, 0], False), ([0, 0, 1], False), ([1, 0, 1], True)]:
        assert (lp.point(np.array(signs, dtype=np.int8)) is not None) == exists
    # two parallel lines 1e-6 apart: the slab between them is a region
    net = TwoLayerReLU([[1.0, 0.0], [1.0, 0.0]], [[1.0, -1.0]], b1=[0.0, -1e-6])
    arrangement = build_arrangement(validate_problem(net))
    lp = RegionLP(arrangement)
    assert lp.point(np.array([1, 0], dtype=np.int8)) is not None
    assert lp.point(np.array([0, 1], dtype=np.int8)) is None
