"""The order of DESIGN.md section 6: lower bounds <= exact <= SeqLip (exact) <= AutoLip <= Frobenius."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lipexact import lipschitz, lower_bound, upper_bound
from lipexact.result import Status
from reductions.validation import InvalidInputError
from tests.strategies import integer_matrices, two_layer_nets

RTOL = 1e-9


def lower_bounds(model, n_inputs, seed=0):
    data = np.random.default_rng(seed).normal(size=(32, n_inputs))
    results = [
        lower_bound(model, "data", data=data, device="cpu"),
        lower_bound(model, "gradient", device="cpu", restarts=4, steps=6, seed=seed),
        lower_bound(model, "annealing", device="cpu", chains=8, steps=30, seed=seed),
    ]
    if n_inputs <= 4:
        results.append(lower_bound(model, "grid", device="cpu", budget=300, seed=seed))
    for result in results:
        assert result.status == Status.LOWER_BOUND
    return [r.value for r in results]


def _weights(model):
    from lipexact.bounds.device import as_module

    return [m.weight.detach().numpy() for m in as_module(model, device="cpu") if isinstance(m, torch.nn.Linear)]


def _registered(model, method, placeholder):
    # PLACEHOLDER until lipexact.bounds.autolip / frobenius land: the same products computed directly.
    try:
        result = upper_bound(model, method, device="cpu")
    except InvalidInputError as error:
        if error.field != "method":
            raise
        return placeholder(_weights(model))
    assert result.status == Status.UPPER_BOUND and result.upper == result.value
    return result.value


def upper_chain(model):
    """SeqLip (exact), AutoLip, Frobenius values, each a proven upper bound."""
    seq = upper_bound(model, "seqlip", device="cpu")
    assert seq.status == Status.UPPER_BOUND and seq.upper == seq.value
    assert all(pair["kind"] == "exact" for pair in seq.stats["pairs"])
    auto = _registered(model, "autolip", lambda ws: float(np.prod([np.linalg.norm(W, 2) for W in ws])))
    frob = _registered(model, "frobenius", lambda ws: float(np.prod([np.linalg.norm(W) for W in ws])))
    return seq.value, auto, frob


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
    widths = [data.draw(st.integers(1, 5))] + [data.draw(st.integers(1, 8)) for _ in range(depth - 1)]
    widths.append(data.draw(st.integers(1, 3)))
    layers = []
    for i in range(depth):
        W = np.asarray(data.draw(integer_matrices(widths[i + 1], widths[i])), dtype=np.float64)
        b = np.asarray(data.draw(integer_matrices(1, widths[i + 1])), dtype=np.float64)[0]
        linear = torch.nn.Linear(widths[i], widths[i + 1], dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(torch.as_tensor(W))
            linear.bias.copy_(torch.as_tensor(b))
        layers += [linear, torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    seq, auto, frob = upper_chain(model)
    assert_ordered([max(lower_bounds(model, widths[0])), seq, auto, frob])
