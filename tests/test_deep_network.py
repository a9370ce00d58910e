"""ReLUNetwork: validation, loaders (torch, JSON, two-layer) and evaluation."""

import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lipexact.deep.network import ReLUNetwork, as_network
from lipexact.network import TwoLayerReLU
from reductions.validation import InvalidInputError
from tests.test_deep_strategies import deep_nets


def small_net():
    return ReLUNetwork([([[1, -1], [1, 1], [0, 2]], [0, -1, 1]), ([[1, 1, -1]], [2]), ([[2], [-3]], None)])


def test_shapes_and_integer_weights_are_kept():
    net = small_net()
    assert net.sizes == [2, 3, 1, 2] and net.hidden_sizes == [3, 1] and net.n_hidden == 4 and net.depth == 3
    assert net.is_integer and all(W.dtype == np.int64 for W in net.weights)
    assert net.biases[2].tolist() == [0, 0]


@pytest.mark.parametrize("layers, field", [
    ([([[1.0]], None)], "layers"),
    ([([[1.0, 2.0]], None), ([[1.0, 2.0]], None)], "layers[1].weight"),
    ([([[1.0, float("nan")]], None), ([[1.0]], None)], "layers[0].weight"),
    ([([[1.0]], [float("inf")]), ([[1.0]], None)], "layers[0].bias"),
    ([([[1.0]], [1.0, 2.0]), ([[1.0]], None)], "layers[0].bias"),
    ([(np.zeros((0, 2)), None), ([[1.0]], None)], "layers[0].weight"),
    ([([[1.0]], None), "oops"], "layers[1]"),
    ([([[1.0]], None), ([1.0], None)], "layers[1].weight"),
])
def test_bad_layers_name_the_field(layers, field):
    with pytest.raises(InvalidInputError) as error:
        ReLUNetwork(layers)
    assert error.value.field == field


def test_evaluation_matches_torch():
    net = small_net()
    model = net.to_torch()
    x = np.array([[0.3, -0.7], [1.5, 2.0], [-1.0, 0.1]])
    assert np.allclose(net(x), model(torch.tensor(x)).detach().numpy())
    for point in x:
        J = torch.autograd.functional.jacobian(model, torch.tensor(point)).numpy()
        assert np.allclose(net.jacobian(point), J)
    assert [z.shape for z in net.preactivations(x)] == [(3, 3), (3, 1)]


def test_patterns_flat_or_per_layer():
    net = small_net()
    per_layer = net.jacobian_of_patterns([[True, False, True], [True]])
    flat = net.jacobian_of_patterns(np.array([True, False, True, True]))
    assert np.array_equal(per_layer, flat)
    with pytest.raises(InvalidInputError):
        net.jacobian_of_patterns([[True, False], [True]])


def test_torch_round_trip_and_refusals():
    net = small_net()
    again = ReLUNetwork.from_torch(net.to_torch())
    assert all(np.array_equal(a, b) for a, b in zip(net.weights, again.weights))
    flat = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Identity(),
                               torch.nn.Linear(3, 1))
    assert ReLUNetwork.from_torch(flat).sizes == [2, 3, 1]
    bad = {
        "module[2]": torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Sigmoid(), torch.nn.Linear(3, 1)),
        "module[0]": torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1)),
        "module[1]": torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Linear(3, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1)),
    }
    for field, model in bad.items():
        with pytest.raises(InvalidInputError) as error:
            ReLUNetwork.from_torch(model)
        assert error.value.field == field
    with pytest.raises(InvalidInputError):
        ReLUNetwork.from_torch(torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1),
                                                   torch.nn.ReLU()))
    with pytest.raises(InvalidInputError):
        ReLUNetwork.from_torch(torch.nn.Linear(2, 3))


def test_dict_round_trip_and_descriptive_keys():
    net = small_net()
    data = json.loads(json.dumps(net.to_dict()))
    again = ReLUNetwork.from_dict({**data, "name": "x", "activation": "ReLU", "weight_convention": "out x in"})
    assert all(np.array_equal(a, b) for a, b in zip(net.weights, again.weights))
    assert again.is_integer
    described = {**data, "source": "repo@commit:path", "license": "MIT", "dataset": "wine quality", "notes": ["n"],
                 "metadata": {"epochs": 300}, "layers": [{**layer, "name": f"fc{i}"} for i, layer in
                                                          enumerate(data["layers"])]}
    assert all(np.array_equal(a, b) for a, b in zip(net.weights, ReLUNetwork.from_dict(described).weights))
    last = len(data["layers"]) - 1
    marked = {**data, "layers": [{**layer, "activation": "ReLU" if i < last else None}
                                 for i, layer in enumerate(data["layers"])]}
    assert ReLUNetwork.from_dict(marked).sizes == net.sizes
    for i, activation in [(0, "tanh"), (last, "relu")]:
        wrong = {**data, "layers": [{**layer, "activation": activation} if j == i else layer
                                    for j, layer in enumerate(data["layers"])]}
        with pytest.raises(InvalidInputError) as error:
            ReLUNetwork.from_dict(wrong)
        assert error.value.field == f"layers[{i}].activation"
    for bad, field in [({**data, "type": "two_layer_relu"}, "type"), ({**data, "surprise": 1}, "surprise"),
                       ({**data, "activation": "tanh"}, "activation"), ({"type": "relu_network"}, "layers"),
                       ({**data, "activaton": "tanh"}, "activaton"),
                       ({**data, "layers": [{"weight": [[1.0]], "bias": [0.0], "w": 1}, {"weight": [[1.0]]}]},
                        "layers[0].w")]:
        with pytest.raises(InvalidInputError) as error:
            ReLUNetwork.from_dict(bad)
        assert error.value.field == field


def test_from_two_layer_and_as_network():
    two = TwoLayerReLU([[1, 2], [-1, 1]], [[1, -1]], b1=[0, 1])
    net = as_network(two)
    x = np.array([0.4, -0.2])
    assert np.allclose(net(x), two(x)) and np.allclose(net.jacobian(x), two.jacobian(x))
    assert as_network(net.to_dict()).sizes == net.sizes
    assert as_network(net.to_torch()).sizes == net.sizes
    with pytest.raises(InvalidInputError):
        as_network("net.json")


@settings(max_examples=25)
@given(deep_nets(), st.integers(0, 2 ** 31))
def test_jacobian_of_float_pattern_matches_autograd(net, seed):
    model = net.to_torch()
    rng = np.random.default_rng(seed)
    for x in rng.normal(size=(3, net.n_inputs)) * 2:
        if any(np.any(np.abs(z) < 1e-9) for z in net.preactivations(x)):
            continue
        J = torch.autograd.functional.jacobian(model, torch.tensor(x)).numpy().reshape(net.n_outputs, net.n_inputs)
        assert np.allclose(net.jacobian(x), J, atol=1e-9)


def test_power_of_two_normalization_keeps_the_regions_and_refuses_inexact_scalings():
    from lipexact.deep.network import normalized_by_powers_of_two

    net = ReLUNetwork([([[3.0, -8.0], [1e-3, 2.0]], [5.0, -0.5]), ([[0.25, 7.0]], [1.0]), ([[1e6]], [3.0])])
    copy, exponent = normalized_by_powers_of_two(net)
    assert all(0.5 <= np.max(np.abs(W)) < 1 for W in copy.weights)
    x = np.array([[0.3, -1.7], [2.0, 0.1]])
    for layer, (a, b) in enumerate(zip(net.preactivations(x), copy.preactivations(x))):
        assert np.array_equal(np.sign(a), np.sign(b))
    assert np.allclose(net(x), copy(x) * 2.0 ** exponent)
    # a bias pushed below the normal range by the scaling would no longer be exact: the network is kept as is
    tiny = ReLUNetwork([([[2.0 ** 600]], [2.0 ** -500]), ([[1.0]], None)])  # bias 2^-1101: below the normals
    same, zero = normalized_by_powers_of_two(tiny)
    assert same is tiny and zero == 0
