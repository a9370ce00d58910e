import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lipexact.bounds.autolip import (
    GELU_CONSTANT,
    UnsupportedOperationError,
    activation_constant,
    autolip,
    check_affine,
    maxpool_constant,
)
from lipexact.result import Status
from reductions.validation import InvalidInputError


def _seeded(module: nn.Module, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    module = module.double()
    for sub in module.modules():
        if isinstance(sub, nn.modules.batchnorm._BatchNorm):
            with torch.no_grad():
                sub.running_mean.normal_()
                sub.running_var.uniform_(0.2, 2.0)
                sub.weight.normal_()
    return module.eval()


def _max_sampled_jacobian_norm(model: nn.Module, shape, points: int, seed: int = 0, scale: float = 2.0) -> float:
    generator = torch.Generator().manual_seed(seed)
    best = 0.0
    for _ in range(points):
        x = scale * torch.randn(shape, generator=generator, dtype=torch.float64)
        jacobian = torch.autograd.functional.jacobian(lambda v: model(v[None])[0], x)
        best = max(best, float(torch.linalg.matrix_norm(jacobian.reshape(-1, x.numel()), ord=2)))
    return best


class ResidualCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(2, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 2, 3, padding=1)
        self.pool = nn.MaxPool2d(3, stride=1, padding=1)
        self.avg = nn.AvgPool2d(2)
        self.fc = nn.Linear(16, 3)

    def forward(self, x):
        y = F.relu(self.bn(self.conv1(x)))
        x = x + 0.5 * self.conv2(y)
        x = self.avg(self.pool(x))
        x = torch.flatten(x, 1)
        return self.fc(torch.cat([x, torch.tanh(x)], dim=1))


class ResidualMLP(nn.Module):
    def __init__(self, width: int = 6):
        super().__init__()
        self.inp = nn.Linear(3, width)
        self.blocks = nn.ModuleList([nn.Sequential(nn.Linear(width, width), nn.GELU(), nn.Linear(width, width))
                                     for _ in range(2)])
        self.out = nn.Linear(width, 2)

    def forward(self, x):
        x = self.inp(x)
        for block in self.blocks:
            x = x + block(x)
        return self.out(F.leaky_relu(x, 0.2) / 2)


@pytest.mark.parametrize("make, shape, seed", [(ResidualCNN, (2, 4, 4), 0), (ResidualCNN, (2, 4, 4), 1),
                                               (ResidualMLP, (3,), 2), (ResidualMLP, (3,), 3)])
def test_autolip_is_above_sampled_jacobian_norms_of_residual_networks(make, shape, seed):
    model = _seeded(make(), seed)
    result = autolip(model, shape, device="cpu")
    assert result.status is Status.UPPER_BOUND and result.upper == result.value and result.success
    sampled = _max_sampled_jacobian_norm(model, shape, points=60, seed=seed)
    assert 0 < sampled <= result.value
    assert result.timings["total"] > 0 and result.certificate["input_shape"] == list(shape)


def test_residual_addition_adds_constants():
    layer = nn.Linear(3, 3, bias=False, dtype=torch.float64)
    with torch.no_grad():
        layer.weight.copy_(torch.diag(torch.tensor([2.0, -5.0, 1.0])))

    class Skip(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = layer

        def forward(self, x):
            return x + self.layer(x) - 3 * x

    result = autolip(Skip(), (3,), device="cpu")
    # AutoLip adds 1 + 5 + 3 (the exact constant of x -> (W - 2 I) x is 7): valid, and not tighter.
    assert math.isclose(result.value, 9.0, rel_tol=1e-9)
    constants = {r["node"]: r["constant"] for r in result.certificate["nodes"]}
    assert math.isclose(constants["layer"], 5.0, rel_tol=1e-9) and constants["mul"] == 3.0


def test_per_node_constants_multiply_along_a_chain():
    model = _seeded(nn.Sequential(nn.Linear(4, 5), nn.Sigmoid(), nn.Linear(5, 2), nn.Softplus()), 4)
    result = autolip(model, device="cpu")
    records = result.certificate["nodes"]
    product = math.prod(r["constant"] for r in records)
    assert math.isclose(result.value, product, rel_tol=1e-12)
    assert [r["kind"] for r in records] == ["input", "affine", "activation", "affine", "activation", "output"]
    assert records[2]["constant"] == 0.25
    norms = [float(torch.linalg.matrix_norm(model[i].weight.detach(), ord=2)) for i in (0, 2)]
    assert math.isclose(result.value, 0.25 * norms[0] * norms[1], rel_tol=1e-9)
    assert result.value >= 0.25 * norms[0] * norms[1]


# ---------------------------------------------------------------- max pooling
POOLS = [
    (nn.MaxPool1d(3, stride=1), (1, 7)),
    (nn.MaxPool1d(4, stride=2, padding=2, dilation=1), (2, 9)),
    (nn.MaxPool1d(2, stride=1, dilation=2), (1, 8)),
    (nn.MaxPool2d(2), (1, 4, 6)),
    (nn.MaxPool2d(3, stride=2, padding=1), (2, 7, 7)),
    (nn.MaxPool2d((3, 2), stride=(1, 2), ceil_mode=True), (1, 6, 5)),
    (nn.MaxPool2d(3, stride=2, ceil_mode=True), (1, 6, 6)),
    (nn.MaxPool3d(2, stride=1), (1, 3, 3, 3)),
    (nn.AdaptiveMaxPool1d(4), (1, 7)),
    (nn.AdaptiveMaxPool2d((3, 2)), (1, 5, 5)),
]


@pytest.mark.parametrize("pool, shape", POOLS, ids=[f"{type(p).__name__}-{i}" for i, (p, _) in enumerate(POOLS)])
def test_maxpool_constant_matches_the_definition(pool, shape):
    n = math.prod(shape)
    basis = torch.eye(n, dtype=torch.float64).reshape(n, *shape)
    with torch.no_grad():
        out = pool(basis)
    # pool(e_i) is 1 on every window covering i and 0 elsewhere: its norm^2 counts those windows,
    # and e_i against 0 attains the constant.
    per_element = out.reshape(n, -1).norm(dim=1)
    constant = maxpool_constant(pool, shape, tuple(out.shape[1:]))
    assert math.isclose(constant, float(per_element.max()), rel_tol=1e-12)
    # The constant bounds every difference quotient (random pairs, including near-ties).
    generator = torch.Generator().manual_seed(0)
    x = torch.randn((400, *shape), generator=generator, dtype=torch.float64)
    y = x + 0.1 * torch.randn((400, *shape), generator=generator, dtype=torch.float64)
    with torch.no_grad():
        ratios = (pool(x) - pool(y)).reshape(400, -1).norm(dim=1) / (x - y).reshape(400, -1).norm(dim=1)
    assert float(ratios.max()) <= constant * (1 + 1e-12)
    result = autolip(nn.Sequential(pool), shape, device="cpu")
    assert math.isclose(result.value, constant, rel_tol=1e-12)


def test_overlapping_maxpool_is_not_one_lipschitz():
    pool = nn.MaxPool2d(3, stride=1)
    x = torch.zeros((1, 1, 5, 5), dtype=torch.float64)
    x[0, 0, 2, 2] = 1.0  # covered by all nine windows
    with torch.no_grad():
        gain = float(pool(x).norm())
    assert gain == 3.0 == maxpool_constant(pool, (1, 5, 5), (1, 3, 3))


def test_functional_max_pool_is_handled():
    class Functional(nn.Module):
        def forward(self, x):
            return F.max_pool1d(x, 3, 1)

    assert math.isclose(autolip(Functional(), (1, 6), device="cpu").value, math.sqrt(3), rel_tol=1e-12)


# ---------------------------------------------------------------- activations
ACTIVATIONS = [nn.ReLU(), nn.ReLU6(), nn.LeakyReLU(0.1), nn.LeakyReLU(-1.5), nn.Tanh(), nn.ELU(0.5), nn.ELU(2.0),
               nn.Sigmoid(), nn.Softplus(), nn.Softplus(beta=3.0), nn.GELU(), nn.GELU(approximate="tanh"), nn.SiLU(),
               nn.SELU(), nn.CELU(0.7), nn.Hardswish(), nn.Hardsigmoid(), nn.Hardtanh(), nn.Softsign(),
               nn.LogSigmoid(), nn.Tanhshrink(), nn.Softshrink()]


@pytest.mark.parametrize("activation", ACTIVATIONS, ids=[repr(a) for a in ACTIVATIONS])
def test_activation_constant_is_the_supremum_of_the_derivative(activation):
    x = torch.linspace(-30, 30, 600001, dtype=torch.float64, requires_grad=True)
    (derivative,) = torch.autograd.grad(activation(x).sum(), x)
    sampled = float(derivative.abs().max())
    constant = activation_constant(activation)
    assert sampled <= constant * (1 + 1e-7)  # torch's backward of CELU / Hardsigmoid rounds via float32 constants
    assert sampled >= constant * (1 - 1e-6)  # attained (up to the grid) by every activation here


def test_gelu_constant_is_stated():
    assert math.isclose(GELU_CONSTANT, 1.1289, abs_tol=1e-4)
    assert activation_constant(nn.GELU()) == GELU_CONSTANT


# ---------------------------------------------------------------- functional operations
def test_functional_operations_and_concatenation():
    class Ops(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("scale", torch.tensor([0.5, -2.0, 1.0], dtype=torch.float64))

        def forward(self, x):
            a = x.clamp(min=0) * self.scale   # max |c| = 2
            b = x.view(x.size(0), -1) / 4     # 1/4
            c = torch.cat([a, b, x], dim=1)   # sqrt(4 + 1/16 + 1)
            return c.mean(dim=1, keepdim=True) + x.sum(dim=1, keepdim=True)  # sqrt(1/9) L_c + sqrt(3)

    result = autolip(Ops(), (3,), device="cpu")
    expected = math.sqrt(4 + 1 / 16 + 1) / 3 + math.sqrt(3)
    assert math.isclose(result.value, expected, rel_tol=1e-12)


def test_broadcast_addition_counts_repetitions():
    class Broadcast(nn.Module):
        def forward(self, x):
            return x[:, :1] + torch.zeros(1, 4, dtype=x.dtype)  # one input repeated four times

    assert math.isclose(autolip(Broadcast(), (2,), device="cpu").value, 2.0, rel_tol=1e-12)


@pytest.mark.parametrize("forward, node", [
    (lambda self, x: torch.sin(x), "sin"),
    (lambda self, x: x * x, "mul"),
    (lambda self, x: self.norm(x), "norm"),
    (lambda self, x: torch.relu(x)[:, [0, 0]], "getitem"),
    (lambda self, x: x / (x + 1), "truediv"),
    (lambda self, x: F.hardshrink(x), "hardshrink"),
])
def test_unknown_operations_raise_naming_the_node(forward, node):
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.norm = nn.LayerNorm(3)

        def forward(self, x):
            return forward(self, x)

    with pytest.raises(UnsupportedOperationError) as error:
        autolip(Model(), (3,), device="cpu")
    assert error.value.field == node and isinstance(error.value, ValueError)
    assert node in str(error.value)


def test_batchnorm_without_running_statistics_is_rejected():
    model = nn.Sequential(nn.BatchNorm1d(3, track_running_stats=False))
    with pytest.raises(UnsupportedOperationError) as error:
        autolip(model, (3, 4), device="cpu")
    assert error.value.field == "_0"


def test_untraceable_model_is_an_input_error():
    class DataDependent(nn.Module):
        def forward(self, x):
            return x if x.sum() > 0 else -x

    with pytest.raises(UnsupportedOperationError) as error:
        autolip(DataDependent(), (2,), device="cpu")
    assert error.value.field == "model"


def test_wrong_input_shape_is_an_input_error():
    with pytest.raises(InvalidInputError) as error:
        autolip(nn.Sequential(nn.Conv2d(1, 2, 3)), (3, 8, 8), device="cpu")
    assert error.value.field == "input_shape"
    with pytest.raises(InvalidInputError) as error:
        autolip(nn.Sequential(nn.Conv2d(1, 2, 3)), device="cpu")
    assert error.value.field == "input_shape"
    with pytest.raises(InvalidInputError) as error:
        autolip(nn.Linear(2, 2), (2,), device="cpu", iterationz=3)
    assert error.value.field == "iterationz"


# ---------------------------------------------------------------- certification policy
def test_large_layers_use_certified_structured_bounds():
    model = _seeded(nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.AvgPool2d(3, stride=2),
                                  nn.Flatten(), nn.Linear(2 * 7 * 7, 2)), 5)
    exact = autolip(model, (1, 16, 16), device="cpu")
    structured = autolip(model, (1, 16, 16), device="cpu", exact_max_dim=100)
    assert structured.status is Status.UPPER_BOUND
    methods = structured.stats["layer_methods"]
    assert methods == {"_0": "fft", "_2": "schur", "_3": "closed_form", "_4": "closed_form"}
    assert structured.value >= exact.value


def test_uncertified_layers_make_the_result_heuristic():
    model = _seeded(nn.Sequential(nn.Conv1d(1, 1, 3, padding=1, padding_mode="circular"), nn.ReLU()), 6)
    result = autolip(model, (1, 12), device="cpu", exact_max_dim=8, rtol=1e-12, iterations=5000)
    assert result.status is Status.HEURISTIC and result.upper is None
    assert "_0" in result.message and "power-method" in result.message
    certified = autolip(model, (1, 12), device="cpu")
    assert certified.status is Status.UPPER_BOUND
    assert math.isclose(result.value, certified.value, rel_tol=1e-8)


def test_float32_and_two_layer_networks():
    from lipexact.network import TwoLayerReLU

    net = TwoLayerReLU([[1, 2], [3, -1], [0, 1]], [[1, -1, 2]], [1, 0, -1])
    result = autolip(net, device="cpu", dtype=torch.float32)
    W1, W2 = np.asarray(net.W1, float), np.asarray(net.W2, float)
    expected = np.linalg.norm(W1, 2) * np.linalg.norm(W2, 2)
    assert expected <= result.value <= expected * (1 + 1e-3)


# ---------------------------------------------------------------- TorchScript and affinity
def test_scripted_sequential_is_rebuilt_and_traced_modules_are_rejected():
    model = _seeded(nn.Sequential(nn.Conv2d(1, 2, 3, stride=2), nn.BatchNorm2d(2), nn.LeakyReLU(0.3),
                                  nn.MaxPool2d(2, stride=1), nn.Flatten(), nn.Linear(8, 2)), 7)
    eager = autolip(model, (1, 7, 7), device="cpu")
    scripted = autolip(torch.jit.script(model), (1, 7, 7), device="cpu")
    assert scripted.value == eager.value
    traced = torch.jit.trace(model, torch.zeros(1, 1, 7, 7, dtype=torch.float64))
    with pytest.raises(InvalidInputError) as error:
        autolip(traced, (1, 7, 7), device="cpu")
    assert error.value.field == "model" and "TorchScript" in str(error.value)


def test_check_affine():
    check_affine(nn.Sequential(nn.Conv1d(1, 2, 3), nn.Flatten(), nn.Linear(8, 2)).double(), (1, 6))
    with pytest.raises(UnsupportedOperationError) as error:
        check_affine(nn.Sequential(nn.Linear(2, 2), nn.Tanh()).double(), (2,))
    assert error.value.field == "_1"
