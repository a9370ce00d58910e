"""The order of DESIGN.md section 6: lower bounds <= exact <= SeqLip (exact) <= AutoLip <= Frobenius, for
two-layer and deep (3 and 4 layer; integer and float weights; globally, and on a box, whose constant is at most
the global one) networks."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lipexact import lipschitz, lower_bound, upper_bound
from lipexact.result import Status
from tests.strategies import integer_matrices, two_layer_nets

RTOL = 1e-9


def lower_bounds(model, n_inputs, seed=0):
    data = np.random.default_rng(seed).normal(size=(32, n_inputs))
    results = [
        lower_bound(model, "data", data=data, device="cpu"),
        lower_bound(model, "gradient", device="cpu", restarts=4, steps=6, local_search=5, seed=seed),
        lower_bound(model, "annealing", device="cpu", chains=8, steps=30, seed=seed),
    ]
    if n_inputs <= 4:
        results.append(lower_bound(model, "grid", device="cpu", budget=300, seed=seed))
    for result in results:
        assert result.status == Status.LOWER_BOUND
    return [r.value for r in results]


def _upper(model, method):
    result = upper_bound(model, method, device="cpu")
    assert result.status == Status.UPPER_BOUND and result.upper == result.value
    return result


def upper_chain(model):
    """SeqLip (exact), AutoLip, Frobenius values, each a proven upper bound."""
    seq = _upper(model, "seqlip")
    assert all(pair["kind"] == "exact" for pair in seq.stats["pairs"])
    return seq.value, _upper(model, "autolip").value, _upper(model, "frobenius").value


def assert_ordered(values):
    for smaller, larger in zip(values, values[1:]):
        assert smaller <= larger * (1 + RTOL) + 1e-12, values


@pytest.mark.parametrize("bias", [False, True])
@settings(max_examples=15)
@given(data=st.data())
def test_two_layer_order(bias, data):
    net = data.draw(two_layer_nets(max_inputs=4, max_hidden=7, max_outputs=3, bias=bias))
    exact = lipschitz(net, method="brute")
    assert exact.status == Status.OPTIMAL
    seq, auto, frob = upper_chain(net)
    assert_ordered([max(lower_bounds(net, net.n_inputs)), exact.value, seq, auto, frob])


@settings(max_examples=10)
@given(data=st.data())
def test_deeper_mlp_order(data):
    depth = data.draw(st.integers(3, 4))
    widths = [data.draw(st.integers(1, 5))] + [data.draw(st.integers(1, 5)) for _ in range(depth - 1)]
    widths.append(data.draw(st.integers(1, 3)))
    scale = data.draw(st.sampled_from([1.0, 0.37, 2.9]))  # integer weights, or float ones (an integer times it)
    layers = []
    for i in range(depth):
        W = scale * np.asarray(data.draw(integer_matrices(widths[i + 1], widths[i])), dtype=np.float64)
        b = scale * np.asarray(data.draw(integer_matrices(1, widths[i + 1])), dtype=np.float64)[0]
        linear = torch.nn.Linear(widths[i], widths[i + 1], dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(torch.as_tensor(W))
            linear.bias.copy_(torch.as_tensor(b))
        layers += [linear, torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    seq, auto, frob = upper_chain(model)
    exact = lipschitz(model, time_limit=60)          # the deep exact search (global l2)
    assert exact.lower is not None and exact.upper is not None
    assert_ordered([max(lower_bounds(model, widths[0])), exact.upper])
    assert_ordered([exact.lower, seq, auto, frob])   # the proven lower side never exceeds an upper bound
    if exact.status == Status.OPTIMAL:
        assert_ordered([max(lower_bounds(model, widths[0])), exact.value, seq, auto, frob])
    on_box = lipschitz(model, domain=([-1.0] * widths[0], [1.0] * widths[0]), time_limit=60)  # local: below them
    assert on_box.lower is not None and on_box.upper is not None
    assert_ordered([on_box.lower, exact.upper, seq, auto, frob])


def test_small_cnn_order():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU(), torch.nn.Conv2d(2, 2, 2), torch.nn.ReLU(),
                              torch.nn.Flatten(), torch.nn.Linear(2, 1)).double()
    shape = (1, 4, 4)
    data = torch.randn(64, *shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    lowers = [lower_bound(net, "data", data=data, input_shape=shape, device="cpu").value,
              lower_bound(net, "annealing", input_shape=shape, device="cpu", chains=8, steps=30).value]
    uppers = [upper_bound(net, method, input_shape=shape, device="cpu")
              for method in ("seqlip", "autolip", "frobenius")]
    assert all(result.status == Status.UPPER_BOUND for result in uppers)
    assert_ordered([max(lowers)] + [result.value for result in uppers])
