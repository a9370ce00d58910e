"""Cell enumeration: agrees with brute force, certifies its witness, brackets the truth when stopped."""

import numpy as np
import pytest
from hypothesis import given, settings

from lipexact.exact import lipschitz
from lipexact.exact.certificate import verify_witness
from lipexact.exact.enumerate import max_cells
from lipexact.network import TwoLayerReLU
from lipexact.result import Status
from tests.strategies import exact_problems

NORMS = ["2", "1", "inf"]


def close(a, b, rtol=1e-9):
    return abs(a - b) <= rtol * max(abs(a), abs(b))


def assert_exact(net, norm="2", domain=None):
    truth = lipschitz(net, "brute", norm=norm, domain=domain)
    result = lipschitz(net, "enumerate", norm=norm, domain=domain)
    assert truth.status is Status.OPTIMAL
    assert result.status is Status.OPTIMAL, result.message
    assert close(result.value, truth.value), (result.value, truth.value)
    assert close(result.upper, truth.value)
    checked = verify_witness(net, result.witness, norm, result_domain(net, domain))
    assert close(checked.value, result.value)
    return result


def result_domain(net, domain):
    from lipexact.domain import as_box

    return as_box(domain, net.n_inputs)


@given(exact_problems(max_hidden=6))
@settings(max_examples=60)
def test_enumerate_agrees_with_brute_force(case):
    net, norm, domain = case
    assert_exact(net, norm, domain)


def test_cells_of_a_generic_arrangement_are_all_found():
    rng = np.random.default_rng(3)
    for n, h in [(1, 5), (2, 7), (3, 6), (5, 4)]:
        net = TwoLayerReLU(rng.normal(size=(h, n)), rng.normal(size=(1, h)), rng.normal(size=h))
        result = assert_exact(net)
        assert result.stats["cells"] == max_cells(h, n)


def test_bias_free_cells_are_cones():
    # 3 lines through the origin of the plane cut it into 6 cones
    net = TwoLayerReLU([[1, 0], [0, 1], [1, 1]], [[1, 2, 3]])
    result = assert_exact(net)
    assert result.stats["cells"] == 6


@pytest.mark.parametrize("norm", NORMS)
def test_degenerate_networks(norm):
    cases = [
        TwoLayerReLU([[0, 0], [1, 2]], [[5, 1]], b1=[1, 0]),  # a dead unit (zero row) with a positive bias
        TwoLayerReLU([[1, 2], [1, 2], [2, 4], [-1, -2]], [[1, -2, 1, 3]]),  # duplicate, parallel, opposite rows
        TwoLayerReLU([[1, 2], [1, 2]], [[1, 1]], b1=[0, -1]),  # parallel hyperplanes, different offsets
        TwoLayerReLU([[1, 2], [3, -1]], [[0, 0]]),  # zero output weights: constant 0
        TwoLayerReLU([[0, 0]], [[1]]),  # nothing alive
        TwoLayerReLU([[2]], [[-3]], b1=[1]),  # h = 1, n = 1
        TwoLayerReLU([[1], [-1], [2], [1]], [[1, 1, -1, 2]], b1=[0, 1, -1, 3]),  # n = 1
        TwoLayerReLU(1e6 * np.array([[1.0, 2], [3, -1], [1, 1]]), 1e6 * np.array([[1.0, -1, 2]]), b1=1e6 * np.ones(3)),
        TwoLayerReLU(1e-6 * np.array([[1.0, 2], [3, -1], [1, 1]]), 1e-6 * np.array([[1.0, -1, 2]]), b1=[1e-6, 0, -2e-6]),
        TwoLayerReLU([[1, 0], [0, 1], [1, 1]], [[1, -1, 1], [2, 0, -1]], b1=[0, 0, -1]),  # vector output
    ]
    for net in cases:
        assert_exact(net, norm)
        assert_exact(net, norm, domain=([-1.0] * net.n_inputs, [2.0] * net.n_inputs))


def test_dead_box_units_are_fixed_and_the_witness_stays_inside():
    net = TwoLayerReLU([[1, 0], [0, 1], [1, 1]], [[1, -1, 2]], b1=[-5, 0, 0])  # unit 0 is off on the box
    result = assert_exact(net, "2", domain=([-1.0, -1.0], [1.0, 1.0]))
    assert np.all(np.abs(result.witness) < 1)
