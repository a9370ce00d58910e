import numpy as np
import pytest
import torch
from hypothesis import given

from lipexact.network import TwoLayerReLU
from reductions.validation import InvalidInputError

from .strategies import two_layer_nets


@given(two_layer_nets(max_outputs=3))
def test_torch_round_trip_computes_the_same_function(net):
    x = np.linspace(-2, 2, 5 * net.n_inputs).reshape(5, net.n_inputs)
    module = net.to_torch()
    np.testing.assert_allclose(module(torch.as_tensor(x)).detach().numpy(), net(x), rtol=1e-12, atol=1e-12)
    back = TwoLayerReLU.from_torch(module)
    np.testing.assert_array_equal(back.W1, net.W1)
    np.testing.assert_array_equal(back.W2, net.W2)


@given(two_layer_nets(max_outputs=3))
def test_jacobian_matches_autograd(net):
    x = np.arange(1, net.n_inputs + 1) * 0.37 - 0.5
    module = net.to_torch()
    auto = torch.autograd.functional.jacobian(module, torch.as_tensor(x)).numpy()
    np.testing.assert_allclose(net.jacobian(x), auto, rtol=1e-12, atol=1e-12)


@given(two_layer_nets(max_outputs=2))
def test_dict_round_trip(net):
    back = TwoLayerReLU.from_dict(net.to_dict())
    for name in ("W1", "W2", "b1", "b2"):
        a, b = getattr(net, name), getattr(back, name)
        assert (a is None and b is None) or np.array_equal(a, b)


def test_dict_descriptive_keys_are_ignored_and_other_keys_refused():
    net = TwoLayerReLU([[1, 2]], [[3]], b1=[1])
    back = TwoLayerReLU.from_dict({**net.to_dict(), "name": "tiny", "source": "hand-made", "dataset": "none"})
    assert np.array_equal(back.W1, net.W1) and np.array_equal(back.b1, net.b1)
    with pytest.raises(InvalidInputError) as error:
        TwoLayerReLU.from_dict({**net.to_dict(), "w2": [[1]]})
    assert error.value.field == "w2"


def test_frozen_and_read_only():
    net = TwoLayerReLU([[1.0, 2.0]], [[3.0]])
    with pytest.raises(AttributeError):
        net.W1 = np.zeros((1, 2))
    with pytest.raises(ValueError):
        net.W1[0, 0] = 5.0


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(W1=[[1.0, float("nan")]], W2=[[1.0]]), "W1"),
        (dict(W1=[[1.0, 2.0]], W2=[[1.0, 2.0]]), "W2"),
        (dict(W1=[[1.0, 2.0]], W2=[[1.0]], b1=[1.0, 2.0]), "b1"),
        (dict(W1=[1.0, 2.0], W2=[[1.0]]), "W1"),
        (dict(W1=[[1.0]], W2=[[float("inf")]]), "W2"),
        (dict(W1="abc", W2=[[1.0]]), "W1"),
    ],
)
def test_bad_input_names_the_field(kwargs, field):
    with pytest.raises(InvalidInputError) as error:
        TwoLayerReLU(**kwargs)
    assert error.value.field == field


def test_bias_free_network_reports_no_bias():
    assert not TwoLayerReLU([[1]], [[1]]).has_bias
    assert not TwoLayerReLU([[1]], [[1]], b1=[0]).has_bias
    assert TwoLayerReLU([[1]], [[1]], b1=[2]).has_bias
