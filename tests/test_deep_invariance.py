"""Scale invariance of the deep exact solvers: the constant is positively homogeneous in each layer.

Scaling layer ``j``'s weights by ``2^k_j`` and its bias by ``2^(k_1 + ... + k_j)`` multiplies every
pre-activation of layer ``j`` by ``2^(k_1 + ... + k_j)`` (relu is positively homogeneous) and so the regions do
not move, while the constant is multiplied by ``2^(k_1 + ... + k_k)``. Powers of two keep the data exact, so
the scaled network has exactly the same joint activation regions. The last layer is also scaled by an arbitrary
float ``s`` (``1e-6 .. 1e6``): it defines no region, and its rounding moves the constant by a relative ulp only.
Every method must give the scaled value (1e-9 relative) with the same status: nothing in the search may depend
on the magnitude of the weights (no absolute epsilon).
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lipexact.deep import lipschitz_deep
from lipexact.deep.network import ReLUNetwork
from lipexact.result import Status
from tests.strategies import log_uniform_scales
from tests.test_deep_strategies import boxes, deep_nets

NORMS = ("2", "1", "inf")


def scaled_network(net: ReLUNetwork, exponents: list[int], last: float) -> tuple[ReLUNetwork, float]:
    """The scaled copy of ``net`` (module docstring) and the factor its constant is multiplied by."""
    layers, total = [], 0
    for j, (W, b) in enumerate(zip(net.weights, net.biases)):
        total += exponents[j]
        w_factor, b_factor = math.ldexp(1.0, exponents[j]), math.ldexp(1.0, total)
        if j == len(net.weights) - 1:
            w_factor, b_factor = w_factor * last, b_factor * last
        layers.append((W * w_factor, None if b is None else b * b_factor))
    return ReLUNetwork(layers), math.ldexp(last, total)


@st.composite
def scaled_cases(draw):
    net = draw(deep_nets(max_hidden=7, integer=True))
    exponents = draw(st.lists(st.integers(-40, 40), min_size=len(net.weights), max_size=len(net.weights)))
    last = draw(log_uniform_scales())
    norm = draw(st.sampled_from(NORMS))
    box = draw(boxes(net.n_inputs)) if draw(st.booleans()) else None
    return net, exponents, last, norm, box


@pytest.mark.parametrize("method", ["enumerate", "bnb", "milp"])
@settings(max_examples=20)
@given(case=scaled_cases())
def test_scaling_the_layers_scales_the_constant(method, case):
    net, exponents, last, norm, box = case
    if method == "milp" and (box is None or norm == "2"):
        return  # the MILP covers boxes with l1 / l_inf only (its refusal is tested in test_deep_milp)
    scaled, factor = scaled_network(net, exponents, last)
    original = lipschitz_deep(net, method=method, norm=norm, domain=box)
    transformed = lipschitz_deep(scaled, method=method, norm=norm, domain=box)
    assert original.status is Status.OPTIMAL, original.message
    assert transformed.status is Status.OPTIMAL, transformed.message
    expected = original.value * factor
    assert transformed.value == pytest.approx(expected, rel=1e-9, abs=1e-300), (original.value, factor)
    assert transformed.lower <= transformed.upper


def test_scaled_network_scales_the_pre_activations_exactly():
    import numpy as np

    net = ReLUNetwork([([[1, -2], [3, 1]], [1, -1]), ([[2, 1]], [3]), ([[1]], [-2])])
    scaled, factor = scaled_network(net, [3, -5, 7], 1.0)
    x = np.array([[0.25, -0.5]])
    for a, b, k in zip(net.preactivations(x), scaled.preactivations(x), (3, -2)):
        assert np.array_equal(b, a * 2.0 ** k)
    assert factor == 2.0 ** 5
