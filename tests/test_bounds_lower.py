"""Lower bounds: every witness re-checks, kinks are avoided, inputs are validated."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings

from lipexact import TwoLayerReLU, lipschitz
from lipexact.bounds.lower import (
    data_lower_bound,
    gradient_ascent,
    grid_search,
    jacobian_norm_at,
    simulated_annealing,
)
from lipexact.result import Status
from reductions.validation import InvalidInputError
from tests.strategies import two_layer_nets

RTOL = 1e-9
FAST = {
    "data": lambda net, **kw: data_lower_bound(
        net, data=np.random.default_rng(0).normal(size=(64, net.n_inputs)), **kw),
    "gradient": lambda net, **kw: gradient_ascent(net, restarts=4, steps=8, local_search=6, **kw),
    "annealing": lambda net, **kw: simulated_annealing(net, chains=8, steps=40, **kw),
    "grid": lambda net, **kw: grid_search(net, budget=400, **kw),
}


def numpy_norm(net, x):
    """||J(x)||_2 from the network's own numpy Jacobian (independent of torch)."""
    return float(np.linalg.norm(net.jacobian(np.asarray(x, float)), 2))


@pytest.mark.parametrize("method", sorted(FAST))
@settings(max_examples=12)
@given(net=two_layer_nets(max_inputs=3, max_hidden=6, max_outputs=2))
def test_witness_rechecks_and_lies_below_exact(method, net):
    result = FAST[method](net, device="cpu")
    assert result.status == Status.LOWER_BOUND
    assert result.upper is None and result.value == result.lower
    assert result.witness.shape == (net.n_inputs,)
    assert result.value == pytest.approx(numpy_norm(net, result.witness), rel=RTOL, abs=1e-12)
    assert result.value == pytest.approx(jacobian_norm_at(net, result.witness), rel=RTOL, abs=1e-12)
    assert result.certificate["differentiability_checked"] is True
    assert np.array_equal(result.pattern, net.pattern(result.witness))
    live = np.any(net.W1 != 0, axis=1)  # dead neurons (zero rows) have no kink in x
    assert np.all(np.abs(net.preactivation(result.witness)[live]) > 0)  # strictly inside a region
    assert result.value <= lipschitz(net, method="brute").value * (1 + RTOL) + 1e-12
    assert result.timings["total"] >= 0


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES + [None])  # None: the default device, CUDA where there is one
@pytest.mark.parametrize("method", sorted(FAST))
def test_every_search_runs_on_every_device_and_its_witness_rechecks_on_the_cpu(method, device):
    # the search runs on `device`; the kink check and the pattern are computed beside it, the re-check on the CPU
    net = TwoLayerReLU([[1.0, -2.0], [0.5, 1.0], [-1.0, 0.0]], [[1.0, -1.0, 2.0]], [0.5, -0.25, 1.0])
    result = FAST[method](net, device=device)
    assert result.status == Status.LOWER_BOUND, result.message
    assert result.stats["device"].startswith(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    assert result.value == pytest.approx(numpy_norm(net, result.witness), rel=RTOL)
    assert np.array_equal(result.pattern, net.pattern(result.witness))
    assert result.value <= lipschitz(net, method="brute").value * (1 + RTOL)


def test_kink_witness_is_moved_off_the_kink():
    # f(x) = -relu(x) + relu(-x) + 2 relu(x + 1) has L = 1, but autograd at x = 0 (relu'(0) = 0) gives 2.
    net = TwoLayerReLU([[1.0], [-1.0], [1.0]], [[-1.0, 1.0, 2.0]], [0.0, 0.0, 1.0])
    assert lipschitz(net, method="brute").value == pytest.approx(1.0)
    assert jacobian_norm_at(net, [0.0]) == pytest.approx(2.0)  # the trap
    result = data_lower_bound(net, data=[[0.0]], device="cpu")
    assert result.status == Status.LOWER_BOUND
    assert result.value == pytest.approx(1.0, rel=RTOL)
    assert result.stats["jittered"] > 0 and result.certificate["kink_margin"] > 0


def test_data_bound_is_the_argmax_over_the_data():
    net = TwoLayerReLU([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], [[1.0, -2.0, 1.0], [0.5, 0.0, 1.0]], [0.5, -0.5, 0.0])
    data = np.random.default_rng(1).normal(size=(50, 2))
    result = data_lower_bound(net, data=torch.tensor(data), device="cpu")
    norms = [numpy_norm(net, x) for x in data]
    assert result.value == pytest.approx(max(norms), rel=RTOL)
    assert any(np.array_equal(result.witness, x) for x in data)  # a data point (ties: same region)
    assert numpy_norm(net, result.witness) == pytest.approx(max(norms), rel=RTOL)
    assert result.stats["points"] == 50


def test_searches_are_seeded():
    net = TwoLayerReLU([[1.0, -1.0], [2.0, 1.0], [0.0, 1.0]], [[1.0, -1.0, 2.0]], [0.3, -0.2, 0.1])
    for search in (gradient_ascent, simulated_annealing, grid_search):
        kwargs = {"steps": 5} if search is not grid_search else {"budget": 50}
        kwargs.update({"local_search": 5} if search is gradient_ascent else {})
        first = search(net, device="cpu", seed=3, **kwargs)
        again = search(net, device="cpu", seed=3, **kwargs)
        assert np.array_equal(first.witness, again.witness) and first.value == again.value


def test_gradient_ascent_autograd_finds_smooth_maximum():
    # f(x) = tanh(x): |f'| = sech^2(x) is maximal (1) at x = 0; starting points are N(0, 4).
    net = torch.nn.Sequential(torch.nn.Linear(1, 1, bias=False), torch.nn.Tanh()).double()
    with torch.no_grad():
        net[0].weight.fill_(1.0)
    result = gradient_ascent(net, device="cpu", estimator="autograd", restarts=2, steps=100, lr=0.1, scale=2.0)
    assert 0.999 <= result.value <= 1.0 + 1e-12
    assert gradient_ascent(net, device="cpu", steps=1, local_search=1).stats["estimator"] == "auto"


def test_gradient_ascent_auto_smooths_piecewise_linear_networks():
    net = TwoLayerReLU([[1.0, -1.0], [2.0, 1.0]], [[1.0, -1.0]], [0.3, -0.2])
    assert gradient_ascent(net, device="cpu", steps=1, local_search=1).stats["estimator"] == "smoothed"


def test_annealing_and_ascent_improve_on_their_starts():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 6), torch.nn.ReLU(), torch.nn.Linear(6, 6), torch.nn.ReLU(),
                              torch.nn.Linear(6, 2)).double()
    starts = torch.randn(8, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    at_starts = data_lower_bound(net, data=starts, device="cpu").value
    for search in (gradient_ascent, simulated_annealing):
        result = search(net, data=starts, device="cpu", steps=10,
                        **({"local_search": 3} if search is gradient_ascent else {}))
        assert result.value >= at_starts * (1 - RTOL)
        assert result.value == pytest.approx(jacobian_norm_at(net, result.witness), rel=RTOL)


def test_models_without_a_chain_are_unchecked_but_rechecked():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv1d(1, 2, 2), torch.nn.MaxPool1d(2), torch.nn.Flatten(),
                              torch.nn.Linear(8, 1)).double()
    result = simulated_annealing(net, input_shape=(1, 9), device="cpu", steps=20)
    assert result.status == Status.LOWER_BOUND and result.witness.shape == (1, 9)
    assert result.certificate["differentiability_checked"] is False
    assert result.value == pytest.approx(jacobian_norm_at(net, result.witness, (1, 9)), rel=RTOL)


def test_float32_search_still_rechecks_in_float64():
    net = torch.nn.Sequential(torch.nn.Linear(2, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3))
    result = gradient_ascent(net, device="cpu", dtype=torch.float32, steps=5, local_search=3)
    assert result.value == pytest.approx(jacobian_norm_at(net, result.witness), rel=RTOL)
    assert result.certificate["search_value"] == pytest.approx(result.value, rel=1e-5)
    assert net[0].weight.dtype == torch.float32


def test_errors_name_the_field():
    net = TwoLayerReLU([[1.0] * 5], [[1.0]])
    cases = [
        (lambda: data_lower_bound(net), "data"),
        (lambda: data_lower_bound(net, data=np.zeros((3, 4))), "data"),
        (lambda: grid_search(net), "input_shape"),
        (lambda: gradient_ascent(net, estimator="magic"), "estimator"),
        (lambda: gradient_ascent(net, steps=-1), "steps"),
        (lambda: simulated_annealing(net, T0=0.0), "T0"),
        (lambda: simulated_annealing(net, colour="red"), "colour"),
        (lambda: gradient_ascent(torch.nn.Conv1d(1, 1, 2)), "input_shape"),
    ]
    for call, field in cases:
        with pytest.raises(InvalidInputError) as error:
            call()
        assert error.value.field == field


# ---------------------------------------------------------------- gradient ascent on ReLU networks

def _random_net(seed, n, h, m, bias=True):
    rng = np.random.default_rng(seed)
    return TwoLayerReLU(rng.normal(size=(h, n)), rng.normal(size=(m, h)), rng.normal(size=h) if bias else None)


def test_gradient_ascent_on_relu_networks_is_close_to_exact():
    ratios = []
    for seed, (n, h, m) in enumerate([(2, 10, 1), (3, 8, 3), (5, 10, 1), (8, 12, 2)]):
        net = _random_net(100 + seed, n, h, m, bias=seed != 2)
        exact = lipschitz(net, method="brute").value
        result = gradient_ascent(net, device="cpu", restarts=8, steps=10, local_search=15)
        assert result.status == Status.LOWER_BOUND and result.stats["local_search_rounds"] > 0
        assert result.value == pytest.approx(numpy_norm(net, result.witness), rel=RTOL)
        assert result.value <= exact * (1 + RTOL)
        ratios.append(result.value / exact)
    assert min(ratios) >= 0.95 and np.mean(ratios) >= 0.99, ratios


@pytest.mark.parametrize("method", sorted(FAST))
def test_every_lower_bound_is_rechecked_and_below_brute_force(method):
    for seed, (n, h, m) in enumerate([(2, 6, 1), (3, 7, 2), (1, 5, 3)]):
        net = _random_net(seed, n, h, m, bias=seed != 1)
        result = FAST[method](net, device="cpu")
        exact = lipschitz(net, method="brute")
        assert result.status == Status.LOWER_BOUND and result.lower == result.value
        assert result.certificate["verified_value"] == result.value
        assert result.value == pytest.approx(numpy_norm(net, result.witness), rel=RTOL)
        assert result.certificate["kink_margin"] > 1e-8
        assert 0 < result.value <= exact.value * (1 + RTOL)
