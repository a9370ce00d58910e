"""The independent witness check: a point on a kink (a live pre-activation exactly 0), outside the open box
or on its boundary, or not a point at all, certifies nothing; a good witness re-evaluates to its value."""

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lipexact.domain import Box
from lipexact.exact.certificate import CertificateError, verify_witness
from lipexact.network import TwoLayerReLU
from lipexact.norms import jacobian_norms
from tests.strategies import two_layer_nets

# f(x) = 3 relu(x1) + 4 relu(x2) - relu(x1 + x2 - 1)
NET = TwoLayerReLU([[1, 0], [0, 1], [1, 1]], [[3, 4, -1]], b1=[0, 0, -1])


def test_an_interior_point_re_evaluates_to_its_gradient_norm():
    checked = verify_witness(NET, [2.0, 2.0])
    assert checked.value == pytest.approx(math.hypot(2.0, 3.0), rel=1e-15)
    assert checked.pattern.tolist() == [True, True, True]
    assert checked.margin == 2.0
    assert verify_witness(NET, [0.25, 0.25]).value == 5.0


@pytest.mark.parametrize("point, unit", [([0.0, 2.0], 0), ([2.0, 0.0], 1), ([0.5, 0.5], 2), ([0.0, 0.0], 0),
                                         ([-0.0, 3.0], 0), ([1.0, 0.0], 1)])
def test_a_point_on_a_kink_is_refused(point, unit):
    with pytest.raises(CertificateError, match="boundary of a region") as error:
        verify_witness(NET, point)
    assert str(unit) in str(error.value)


def test_a_point_exactly_on_a_kink_that_floating_point_misses_is_refused():
    # 3 * (-0.2) + 3 * 0.2 is exactly 0, but a fused multiply-add (as in BLAS) gives +-5.6e-17.
    net = TwoLayerReLU([[3, 3], [-1, 1]], [[1, 1]])
    x = [-0.2, 0.2]
    assert sum(Fraction(w) * Fraction(v) for w, v in zip([3, 3], x)) == 0
    with pytest.raises(CertificateError, match="boundary"):
        verify_witness(net, x)


def test_a_point_a_hair_off_a_kink_is_accepted():
    x = [float(np.nextafter(0.5, 1.0)), 0.5]       # x1 + x2 - 1 = one ulp of 0.5 > 0
    checked = verify_witness(NET, x)
    assert checked.pattern.tolist() == [True, True, True]
    assert checked.value == pytest.approx(math.hypot(2.0, 3.0), rel=1e-15)


def test_dead_units_are_no_kinks():
    net = TwoLayerReLU([[1.0, 0.0], [0.0, 0.0]], [[2.0, 5.0]], b1=[0.0, 1.0])   # unit 1: constant 1
    assert verify_witness(net, [1.0, 0.0]).value == 2.0


BOX = Box([0.0, -1.0], [2.0, 1.0])


@pytest.mark.parametrize("point", [
    [0.0, 0.5],            # on the face x1 = lower
    [2.0, 0.5],            # on the face x1 = upper
    [1.5, -1.0],           # on the face x2 = lower
    [1.5, 1.0],            # on the face x2 = upper
    [2.0, 1.0],            # a corner
    [2.5, 0.5],            # outside
    [1.5, -3.0],           # outside
    [float(np.nextafter(2.0, 3.0)), 0.5],   # one ulp outside
])
def test_a_point_outside_the_open_box_is_refused(point):
    # (1.5, 0.5) is inside and off every kink: only the box refuses these points
    assert verify_witness(NET, [1.5, 0.5], domain=BOX).value == pytest.approx(math.hypot(2.0, 3.0))
    with pytest.raises(CertificateError, match="domain"):
        verify_witness(NET, point, domain=BOX)


def test_a_point_one_ulp_inside_the_box_is_accepted():
    x = [float(np.nextafter(2.0, 0.0)), float(np.nextafter(-1.0, 0.0))]
    assert verify_witness(NET, x, domain=BOX).value == 3.0   # x1 > 0, x2 < 0, x1 + x2 - 1 < 0


@pytest.mark.parametrize("point", [[math.nan, 1.0], [1.0, math.inf], [-math.inf, 1.0]])
def test_a_point_that_is_not_finite_is_refused(point):
    with pytest.raises(CertificateError):
        verify_witness(NET, point)


@given(two_layer_nets(max_inputs=3, max_hidden=6, max_outputs=2), st.sampled_from(["2", "1", "inf"]),
       st.integers(0, 2 ** 31 - 1))
@settings(max_examples=40)
def test_the_value_is_the_norm_of_the_jacobian_of_the_region(net, norm, seed):
    x = np.random.default_rng(seed).normal(size=net.n_inputs) * 2
    live = np.any(net.W1 != 0, axis=1)
    if np.any(net.preactivation(x)[live] == 0):
        with pytest.raises(CertificateError):
            verify_witness(net, x, norm)
        return
    checked = verify_witness(net, x, norm)
    pattern = net.preactivation(x) > 0
    assert checked.pattern[live].tolist() == pattern[live].tolist()
    expected = float(jacobian_norms(net.jacobian_of_pattern(pattern), norm))
    assert checked.value == pytest.approx(expected, rel=1e-12, abs=1e-12)
