import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lipexact.domain import Box
from lipexact.exact import lipschitz
from lipexact.exact.brute import solve_brute
from lipexact.exact.certificate import verify_witness
from lipexact.exact.problem import Clock, validate_problem
from lipexact.exact.realizability import realizing_point
from lipexact.network import TwoLayerReLU
from lipexact.norms import jacobian_norm

from .strategies import boxes_for, two_layer_nets


def exhaustive_maximum(net, norm="2", domain=None):
    """Every pattern's LP, no ordering trick: the slow, obviously correct oracle."""
    best = -1.0
    for bits in itertools.product([False, True], repeat=net.n_hidden):
        if realizing_point(net, bits, domain=domain) is not None:
            best = max(best, jacobian_norm(net.jacobian_of_pattern(bits), norm))
    return best


@settings(max_examples=40)
@given(two_layer_nets(max_hidden=6, max_outputs=2), st.sampled_from(["2", "1", "inf"]))
def test_brute_equals_exhaustive_enumeration(net, norm):
    result = lipschitz(net, method="brute", norm=norm)
    assert result.status.value == "optimal"
    assert result.value == pytest.approx(exhaustive_maximum(net, norm), rel=1e-9, abs=1e-12)


@settings(max_examples=30)
@given(two_layer_nets(max_hidden=6, max_outputs=2).flatmap(lambda net: boxes_for(net.n_inputs).map(lambda b: (net, b))))
def test_local_constant_on_a_box_equals_exhaustive_enumeration(net_and_box):
    net, box = net_and_box
    result = lipschitz(net, method="brute", domain=box)
    assert result.value == pytest.approx(exhaustive_maximum(net, domain=box), rel=1e-9, abs=1e-12)
    assert box.contains_interior(result.witness)


@given(two_layer_nets(max_hidden=7, max_outputs=2))
def test_certificate_re_evaluates_and_dominates_sampled_gradients(net):
    result = lipschitz(net, method="brute")
    assert verify_witness(net, result.witness).value == pytest.approx(result.value, rel=1e-12, abs=1e-12)
    points = np.random.default_rng(0).normal(size=(200, net.n_inputs)) * 3
    sampled = max(jacobian_norm(net.jacobian(x)) for x in points)
    assert sampled <= result.value * (1 + 1e-12) + 1e-12
    assert result.lower <= result.upper


def test_known_value_with_bias_makes_a_region_unreachable_only_locally():
    # f(x) = relu(x) + relu(x - 1): slope 2 beyond x = 1, slope 1 on (0, 1).
    net = TwoLayerReLU([[1.0], [1.0]], [[1.0, 1.0]], b1=[0.0, -1.0])
    assert lipschitz(net, method="brute").value == pytest.approx(2.0)
    assert lipschitz(net, method="brute", domain=Box([-1.0], [0.5])).value == pytest.approx(1.0)


def test_time_limit_returns_a_valid_bracket():
    rng = np.random.default_rng(3)
    net = TwoLayerReLU(rng.normal(size=(10, 2)), rng.normal(size=(1, 10)))
    exact = lipschitz(net, method="brute").value
    stopped = solve_brute(validate_problem(net, time_limit=1e-9), Clock(1e-9))
    assert stopped.status.value == "time_limit" and not stopped.success
    assert stopped.upper >= exact * (1 - 1e-12)


def test_too_many_hidden_units_is_an_input_error():
    from reductions.validation import InvalidInputError

    net = TwoLayerReLU(np.ones((30, 1)), np.ones((1, 30)))
    with pytest.raises(InvalidInputError) as error:
        solve_brute(validate_problem(net), Clock(), max_hidden=20)
    assert error.value.field == "net"


@settings(max_examples=25)
@given(two_layer_nets(max_hidden=6))
def test_exhaustive_mode_counts_every_region_and_keeps_the_value(net):
    fast = lipschitz(net, method="brute")
    full = lipschitz(net, method="brute", exhaustive=True)
    assert full.value == pytest.approx(fast.value, rel=1e-12)
    regions = sum(realizing_point(net, bits) is not None for bits in itertools.product([False, True], repeat=net.n_hidden))
    assert full.stats["realizable_patterns"] == regions
