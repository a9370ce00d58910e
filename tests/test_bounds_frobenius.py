import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from torch import nn

import lipexact
from lipexact.bounds.autolip import UnsupportedOperationError, autolip
from lipexact.bounds.frobenius import frobenius, frobenius_norm
from lipexact.bounds.power import operator_matrix
from lipexact.result import Status

from .strategies import two_layer_nets


def _sampled_gradient_norm(net, points: int = 200, seed: int = 0) -> float:
    x = np.random.default_rng(seed).normal(scale=3.0, size=(points, net.n_inputs))
    return max(float(np.linalg.norm(net.jacobian(point), 2)) for point in x)


@settings(max_examples=30)
@given(two_layer_nets(max_inputs=4, max_hidden=6, max_outputs=2))
def test_two_layer_order_exact_autolip_frobenius(net):
    auto = autolip(net, device="cpu")
    frob = frobenius(net, device="cpu")
    assert auto.status is Status.UPPER_BOUND and frob.status is Status.UPPER_BOUND
    exact = lipexact.lipschitz(net, method="brute")
    assert exact.status is Status.OPTIMAL
    assert _sampled_gradient_norm(net) <= exact.value * (1 + 1e-9) + 1e-12
    assert exact.value <= auto.value * (1 + 1e-9) + 1e-12
    assert auto.value <= frob.value * (1 + 1e-9) + 1e-12
    W1, W2 = np.asarray(net.W1, float), np.asarray(net.W2, float)
    product = np.linalg.norm(W1) * np.linalg.norm(W2)
    assert math.isclose(frob.value, product, rel_tol=1e-9, abs_tol=1e-12)


LAYERS = [
    (lambda: nn.Linear(4, 3), (2, 4)),
    (lambda: nn.Conv1d(2, 3, 3, stride=2, padding=1, dilation=2), (2, 9)),
    (lambda: nn.Conv2d(4, 2, 3, padding=2, groups=2), (4, 5, 4)),
    (lambda: nn.Conv2d(1, 2, (2, 3), padding="same"), (1, 4, 5)),
    (lambda: nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1, output_padding=1), (2, 3, 4)),
    (lambda: nn.ConvTranspose1d(2, 2, 4, stride=3, dilation=2, groups=2), (2, 5)),
    (lambda: nn.BatchNorm2d(3), (3, 2, 3)),
    (lambda: nn.AvgPool2d(3, stride=2, padding=1), (2, 5, 5)),
]


@pytest.mark.parametrize("make, shape", LAYERS)
def test_frobenius_norm_equals_the_unrolled_operator(make, shape):
    torch.manual_seed(0)
    module = make().double().eval()
    if isinstance(module, nn.BatchNorm2d):
        with torch.no_grad():
            module.running_var.uniform_(0.5, 2.0)
            module.weight.normal_()
    value, how = frobenius_norm(module, shape)
    expected = float(torch.linalg.matrix_norm(operator_matrix(module, shape, device="cpu"), ord="fro"))
    assert math.isclose(value, expected, rel_tol=1e-12)
    assert how == ("exact" if isinstance(module, nn.AvgPool2d) else "closed_form")


def test_frobenius_is_above_autolip_on_a_residual_cnn():
    from .test_bounds_autolip import ResidualCNN, _seeded

    model = _seeded(ResidualCNN(), 3)
    auto = autolip(model, (2, 4, 4), device="cpu")
    frob = frobenius(model, (2, 4, 4), device="cpu")
    assert auto.value <= frob.value
    # Per layer, the Frobenius factor is never below the spectral one.
    spectral = {r["node"]: r["constant"] for r in auto.certificate["nodes"]}
    for record in frob.certificate["nodes"]:
        assert record["constant"] >= spectral[record["node"]] * (1 - 1e-12)


def test_frobenius_of_a_sequential_net_is_the_product():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Conv1d(1, 2, 3), nn.Tanh(), nn.Flatten(), nn.Linear(8, 2)).double()
    result = frobenius(model, (1, 6), device="cpu")
    conv = float(torch.linalg.matrix_norm(operator_matrix(model[0], (1, 6), device="cpu"), ord="fro"))
    linear = float(torch.linalg.matrix_norm(model[3].weight.detach(), ord="fro"))
    assert math.isclose(result.value, conv * linear, rel_tol=1e-9)
    assert result.value >= conv * linear


def test_frobenius_errors_name_the_node():
    with pytest.raises(UnsupportedOperationError) as error:
        frobenius(nn.Sequential(nn.Linear(3, 3), nn.LayerNorm(3)), device="cpu")
    assert error.value.field == "_1"
    with pytest.raises(UnsupportedOperationError) as error:
        frobenius(nn.Sequential(nn.AvgPool1d(2)), (1, 40), exact_max_dim=10, device="cpu")
    assert error.value.field == "_0" and "closed-form" in str(error.value)
