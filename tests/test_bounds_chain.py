import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lipexact.bounds.chain import as_sequential, chain_layers
from lipexact.bounds.errors import NotApplicableError
from lipexact.bounds.layers import extract_segments
from lipexact.bounds.lower import gradient_ascent
from lipexact.bounds.seqlip import seqlip, seqlip_greedy
from lipexact.result import Status
from reductions.validation import InvalidInputError


class Functional(nn.Module):
    """``forward = out(relu(inp(x)))`` with functional activations and a second hidden layer."""

    def __init__(self):
        super().__init__()
        self.inp, self.mid, self.out = nn.Linear(3, 5), nn.Linear(5, 4), nn.Linear(4, 2)

    def forward(self, x):
        return self.out(F.leaky_relu(self.mid(torch.relu(self.inp(x))), 0.1))


class ConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.fc = nn.Linear(2 * 2 * 2, 1)

    def forward(self, x):
        h = F.max_pool2d(self.conv(x).relu(), 2)
        return self.fc(h.view(h.size(0), -1))


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 3)

    def forward(self, x):
        return x + torch.relu(self.fc(x))


class TwoOutputs(Functional):
    def forward(self, x):
        h = self.inp(x)
        return self.out(self.mid(h)), h


class MixesTheBatch(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(x.reshape(-1, 4))  # on (B, 2, 2) this is a chain; on (B, 8) it mixes rows


def _sequential_twin(model: Functional) -> nn.Sequential:
    return nn.Sequential(model.inp, nn.ReLU(), model.mid, nn.LeakyReLU(0.1), model.out)


def test_a_custom_class_with_functional_activations_is_a_chain_with_its_input_shape():
    torch.manual_seed(0)
    model = Functional().double()
    chain = chain_layers(model, device="cpu")
    assert chain.input_shape == (3,)
    assert [(layer.name, type(layer.module).__name__) for layer in chain.layers] == [
        ("model.inp", "Linear"), ("model:relu", "ReLU"), ("model.mid", "Linear"), ("model:leaky_relu", "LeakyReLU"),
        ("model.out", "Linear")]
    assert chain.layers[3].module.negative_slope == 0.1
    x = torch.randn(7, 3, dtype=torch.float64)
    assert torch.allclose(chain.sequential()(x), model(x))


def test_functional_pooling_method_activations_and_views_become_modules():
    torch.manual_seed(1)
    model = ConvNet().double()
    chain = chain_layers(model, (1, 6, 6), device="cpu")
    kinds = [type(layer.module).__name__ for layer in chain.layers]
    assert kinds == ["Conv2d", "ReLU", "MaxPool2d", "Flatten", "Linear"]
    x = torch.randn(3, 1, 6, 6, dtype=torch.float64)
    assert torch.allclose(chain.sequential()(x), model(x))
    segmented = extract_segments(model, (1, 6, 6), device="cpu")
    assert len(segmented.segments) == 2 and segmented.poolings[0].constant == 1.0


def test_nested_sequentials_are_named_by_their_path_and_f_linear_keeps_its_bias():
    inner = nn.Sequential(nn.Linear(2, 3), nn.Tanh())
    chain = chain_layers(nn.Sequential(inner, nn.Linear(3, 1)), device="cpu")
    assert [layer.name for layer in chain.layers] == ["model[0][0]", "model[0][1]", "model[1]"]

    class FunctionalLinear(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(torch.randn(2, 3))
            self.bias = nn.Parameter(torch.randn(2))

        def forward(self, x):
            return F.linear(x, self.weight, self.bias).sigmoid()

    model = FunctionalLinear().double()
    chain = chain_layers(model, (3,), device="cpu")
    x = torch.randn(4, 3, dtype=torch.float64)
    assert torch.allclose(chain.sequential()(x), model(x))


@pytest.mark.parametrize("model, shape, field", [
    (Residual(), (3,), "model:add"),
    (TwoOutputs(), (3,), "model"),
    (MixesTheBatch(), (8,), "model"),
])
def test_models_that_are_not_chains_are_not_applicable(model, shape, field):
    with pytest.raises(NotApplicableError) as error:
        chain_layers(model, shape, device="cpu")
    assert error.value.field == field
    assert as_sequential(model, shape, device="cpu") is None


def test_a_reshape_that_keeps_the_batch_is_accepted():
    model = MixesTheBatch().double()
    chain = chain_layers(model, (2, 2), device="cpu")
    x = torch.randn(3, 2, 2, dtype=torch.float64)
    assert torch.allclose(chain.sequential()(x), model(x))


def test_a_bad_shape_is_bad_input_not_a_missing_method():
    with pytest.raises(InvalidInputError) as error:
        chain_layers(Functional(), (4,), device="cpu")
    assert error.value.field == "input_shape" and not isinstance(error.value, NotApplicableError)


def test_torchscript_sequentials_are_read_and_traced_modules_are_not_applicable_with_what_to_do():
    net = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)).double()
    chain = chain_layers(torch.jit.script(net), device="cpu")
    assert [type(layer.module).__name__ for layer in chain.layers] == ["Linear", "ReLU", "Linear"]
    traced = torch.jit.trace(net, torch.zeros(1, 2, dtype=torch.float64))
    with pytest.raises(NotApplicableError) as error:
        chain_layers(traced, (2,), device="cpu")
    assert "torch.save(model)" in error.value.expected and "--arch" in error.value.expected


@pytest.mark.parametrize("method", [seqlip, seqlip_greedy])
def test_seqlip_on_a_custom_class_equals_seqlip_on_its_sequential_twin(method):
    torch.manual_seed(2)
    model = Functional().double()
    custom = method(model, device="cpu")
    twin = method(_sequential_twin(model), device="cpu")
    assert custom.status == twin.status and custom.value == pytest.approx(twin.value, rel=1e-12)


def test_seqlip_on_a_residual_net_is_not_applicable_naming_the_addition():
    with pytest.raises(NotApplicableError) as error:
        seqlip(Residual(), input_shape=(3,), device="cpu")
    assert error.value.field == "model:add"


def test_the_region_walk_sees_functional_relus_of_a_custom_class():
    torch.manual_seed(3)
    model = Functional().double()
    result = gradient_ascent(model, device="cpu", restarts=2, steps=3, local_search=3)
    assert result.status == Status.LOWER_BOUND
    assert result.certificate["differentiability_checked"] is True  # the kink check read the chain
    assert result.value <= seqlip(model, device="cpu").value * (1 + 1e-9)
