import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings

import lipexact
from lipexact.bounds import upper_bound, validate_request
from lipexact.bounds.sdp import first_order as first_order_module
from lipexact.bounds.sdp.barrier import barrier_lipsdp
from lipexact.bounds.sdp.first_order import (
    lipsdp_first_order,
    minimize_schur_value,
    schur_value,
    validate_lipsdp_first_order,
)
from lipexact.bounds.sdp.lipsdp import lipsdp
from lipexact.deep.network import ReLUNetwork
from lipexact.network import TwoLayerReLU
from lipexact.result import Status
from reductions.validation import InvalidInputError

from .strategies import two_layer_nets


def _net(seed, sizes):
    rng = np.random.default_rng(seed)
    return ReLUNetwork([(rng.normal(size=(b, a)), None) for a, b in zip(sizes[:-1], sizes[1:])])


def test_schur_value_matches_the_closed_form_and_refuses_outside_the_domain():
    W = [torch.tensor([[3.0]], dtype=torch.float64), torch.tensor([[4.0]], dtype=torch.float64)]
    for t in (9.0, 16.0, 40.0):
        assert math.isclose(float(schur_value(W, [torch.tensor([t], dtype=torch.float64)])), 9 * t * t / (2 * t - 16))
    assert math.isinf(float(schur_value(W, [torch.tensor([8.0], dtype=torch.float64)])))  # -N = 0: not PD


@pytest.mark.parametrize("sizes", [(4, 6, 2), (3, 5, 4, 1), (6, 8, 3)])
def test_close_to_the_interior_point_value_and_never_below_it(sizes):
    net = _net(sum(sizes), sizes)
    reference = lipsdp(net, solver="barrier")
    result = lipsdp_first_order(net, device="cpu", iterations=100)
    assert result.status is Status.UPPER_BOUND and result.upper == result.value
    assert result.stats["certificate"]["proven"]
    # any certified multipliers give at least the SDP optimum (the barrier's value is within 1e-7 of it)
    assert result.value >= reference.value * (1 - 1e-6)
    assert result.value <= reference.value * 1.02


@settings(max_examples=6, deadline=None)
@given(two_layer_nets(max_inputs=3, max_hidden=5, max_outputs=2))
def test_order_exact_first_order_autolip(net):
    exact = lipexact.lipschitz(net, method="brute")
    result = lipsdp_first_order(net, device="cpu", iterations=40)
    auto = upper_bound(net, "autolip", device="cpu")
    assert exact.value <= result.value * (1 + 1e-9) + 1e-12
    assert result.value <= auto.value * 1.05 + 1e-12  # a few steps from the best uniform multipliers


def test_iteration_limit_and_determinism():
    net = _net(2, (5, 7, 3))
    one = lipsdp_first_order(net, device="cpu", iterations=1)
    assert one.status is Status.UPPER_BOUND and one.stats["iterations"] == 1
    many = lipsdp_first_order(net, device="cpu", iterations=60)
    assert many.value <= one.value * (1 + 1e-9)
    again = lipsdp_first_order(net, device="cpu", iterations=60)
    assert again.value == many.value
    history = minimize_schur_value([np.asarray(w, float) for w in net.weights], iterations=30)["history"]
    assert len(history) == 4 and history[-1] <= history[0]


def test_float32_iterations_still_certify_in_float64():
    net = _net(4, (6, 5, 2))
    result = lipsdp_first_order(net, device="cpu", dtype=torch.float32, iterations=60)
    assert result.status is Status.UPPER_BOUND and result.stats["dtype"] == "float32"
    assert result.value >= lipsdp(net, solver="barrier").value * (1 - 1e-6)


def test_bad_proposals_do_not_certify(monkeypatch):
    net = TwoLayerReLU([[3]], [[4]])

    def useless(weights, **kwargs):  # T = 0 proves nothing, whatever value is claimed
        return {"multipliers": [np.array([0.0])], "rho": 1.0, "iterations": 1, "rejected": 0, "history": [1.0]}

    monkeypatch.setattr(first_order_module, "minimize_schur_value", useless)
    result = lipsdp_first_order(net, device="cpu")
    assert result.status is Status.ERROR and result.value is None and "did not certify" in result.message

    def optimistic(weights, **kwargs):  # claims L = 1 with multipliers that prove only 144 = 12^2
        return {"multipliers": [np.array([16.0 * 2.0 ** -4])], "rho": 2.0 ** -10, "iterations": 1, "rejected": 0,
                "history": [1.0]}

    monkeypatch.setattr(first_order_module, "minimize_schur_value", optimistic)
    result = lipsdp_first_order(net, device="cpu")
    assert result.status is Status.UPPER_BOUND and result.value >= 12.0 and result.stats["solver_value"] < 12.0


def test_barrier_start_and_first_order_agree_on_a_deeper_net():
    net = _net(9, (3, 4, 4, 4, 2))
    weights = [np.asarray(w, float) for w in net.weights]
    reference = barrier_lipsdp(weights)["rho"]
    out = minimize_schur_value(weights, iterations=200)
    assert reference * (1 - 1e-6) <= out["rho"] <= reference * 1.03 ** 2  # L = sqrt(rho) within 3%


@pytest.mark.parametrize("kwargs, field", [
    ({"norm": "inf"}, "norm"),
    ({"iterations": 0}, "iterations"),
    ({"lr": -1.0}, "lr"),
    ({"seed": -1}, "seed"),
    ({"dtype": "float16"}, "dtype"),
    ({"momentum": 0.9}, "momentum"),
    ({"input_shape": (2, 2)}, "input_shape"),
])
def test_bad_requests_are_refused(kwargs, field):
    net = TwoLayerReLU([[1, 2], [3, 4]], [[1, 1]])
    with pytest.raises(InvalidInputError) as info:
        validate_lipsdp_first_order(net, **kwargs)
    assert info.value.field == field
    with pytest.raises(InvalidInputError) as info:
        lipsdp_first_order(net, **kwargs)
    assert info.value.field == field


def test_registered_and_validated_through_the_registry():
    net = TwoLayerReLU([[1, -2], [3, 1]], [[1, 2]])
    result = upper_bound(net, "lipsdp_first_order", device="cpu", iterations=20)
    assert result.method == "lipsdp_first_order" and result.status is Status.UPPER_BOUND
    with pytest.raises(InvalidInputError) as info:
        validate_request("lipsdp_first_order", net, norm=1)
    assert info.value.field == "norm"
