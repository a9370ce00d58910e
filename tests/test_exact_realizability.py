import numpy as np
import pytest
from hypothesis import given, settings

from lipexact.domain import Box
from lipexact.exact.realizability import realizing_point
from lipexact.network import TwoLayerReLU

from .strategies import two_layer_nets


@settings(max_examples=40)
@given(two_layer_nets(max_hidden=6))
def test_every_sampled_pattern_is_realizable_and_points_realize_their_pattern(net):
    rng = np.random.default_rng(1)
    for x in rng.normal(size=(30, net.n_inputs)) * 4:
        pre = net.preactivation(x)
        if np.any(pre == 0):
            continue
        point = realizing_point(net, pre > 0)
        assert point is not None
        live = np.any(net.W1 != 0, axis=1)
        np.testing.assert_array_equal(net.pattern(point)[live], (pre > 0)[live])


def test_opposite_half_spaces_and_parallel_rows():
    net = TwoLayerReLU([[1.0, 0.0], [2.0, 0.0], [-1.0, 0.0]], [[1.0, 1.0, 1.0]])
    assert realizing_point(net, [True, True, False]) is not None
    assert realizing_point(net, [True, False, False]) is None   # parallel rows through 0 agree
    assert realizing_point(net, [True, True, True]) is None     # x1 > 0 and -x1 > 0


def test_partial_patterns_constrain_only_fixed_units():
    net = TwoLayerReLU([[1.0], [-1.0]], [[1.0, 1.0]])
    assert realizing_point(net, [True, True], fixed=[True, False]) is not None
    assert realizing_point(net, [True, True], fixed=[True, True]) is None


def test_dead_units_follow_the_sign_of_their_bias():
    net = TwoLayerReLU([[0.0], [1.0]], [[1.0, 1.0]], b1=[2.0, 0.0])
    assert realizing_point(net, [True, False]) is not None
    assert realizing_point(net, [False, False]) is None
    zero = TwoLayerReLU([[0.0]], [[1.0]], b1=[0.0])
    assert realizing_point(zero, [False]) is not None and realizing_point(zero, [True]) is None


def test_box_domain_restricts_regions_to_its_interior():
    net = TwoLayerReLU([[1.0]], [[1.0]], b1=[-2.0])   # active only for x > 2
    assert realizing_point(net, [True], domain=Box([0.0], [2.0])) is None
    inside = realizing_point(net, [True], domain=Box([0.0], [3.0]))
    assert inside is not None and 2.0 < inside[0] < 3.0


@pytest.mark.parametrize("scale", [1e-6, 1.0, 1e6])
def test_scales_do_not_break_the_exact_check(scale):
    net = TwoLayerReLU(np.array([[1.0, 1.0], [1.0, -1.0], [0.5, 2.0]]) * scale, [[1.0, 1.0, 1.0]],
                       b1=np.array([0.1, -0.2, 0.3]) * scale)
    for bits in ([True, True, True], [False, True, False], [True, False, True]):
        point = realizing_point(net, bits)
        assert point is None or np.array_equal(net.pattern(point), bits)
