"""The SDP node bound of bnb: valid on every node, same optimum as without it, refused where it does not apply."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import lipexact
from lipexact.exact import sdp_bound
from lipexact.exact.sdp_bound import SdpNodeBound, data_error
from lipexact.network import TwoLayerReLU
from lipexact.result import Status
from reductions.validation import InvalidInputError
from tests.strategies import two_layer_nets


def _random_net(seed: int, h: int, n: int, bias: bool = True) -> TwoLayerReLU:
    rng = np.random.default_rng(seed)
    return TwoLayerReLU(rng.standard_normal((h, n)), rng.standard_normal((1, h)),
                        rng.standard_normal(h) if bias else None)


@settings(max_examples=30)
@given(st.integers(0, 10 ** 6), st.integers(1, 9), st.integers(1, 4))
def test_the_node_bound_is_at_least_the_best_completion(seed, k, n):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((k, 1, n))
    c = rng.standard_normal((1, n)) * rng.integers(0, 2)
    bound = SdpNodeBound(A, "2", error=0.0, exhaustive=0, eigen_iterations=0, min_free=1)
    free = np.arange(k)
    value, _ = bound.refine(c, free, -math.inf, None)
    best = max(np.linalg.norm(c + np.array(t) @ A[:, 0, :]) for t in itertools.product((0.0, 1.0), repeat=k))
    assert best <= value and bound.sdp_calls == 1


@settings(max_examples=25)
@given(two_layer_nets(max_inputs=3, max_hidden=10))
def test_bnb_with_the_sdp_node_bound_finds_the_same_optimum(net):
    plain = lipexact.lipschitz(net, method="bnb")
    with_sdp = lipexact.lipschitz(net, method="bnb", node_bound="sdp", exhaustive=2)
    brute = lipexact.lipschitz(net, method="brute")
    assert plain.status is with_sdp.status is Status.OPTIMAL
    assert abs(with_sdp.value - plain.value) <= 1e-9 * max(1.0, plain.value)
    assert abs(with_sdp.value - brute.value) <= 1e-9 * max(1.0, brute.value)


@pytest.mark.parametrize("seed", range(6))
def test_node_counts_not_larger_on_random_nets(seed):
    """Measured on these draws (not a theorem: a tighter bound can change the order of the search)."""
    net = _random_net(seed, h=18, n=3)
    plain = lipexact.lipschitz(net, method="bnb")
    with_sdp = lipexact.lipschitz(net, method="bnb", node_bound="sdp")
    assert plain.status is with_sdp.status is Status.OPTIMAL
    assert abs(with_sdp.value - plain.value) <= 1e-9 * plain.value
    assert with_sdp.stats["nodes"] <= plain.stats["nodes"]
    assert with_sdp.stats["node_bound"] == "sdp" and with_sdp.stats["sdp_calls"] >= 0


def test_a_node_limit_stops_deterministically_with_a_valid_bracket():
    net = _random_net(7, h=24, n=4)
    exact = lipexact.lipschitz(net, method="bnb")
    stopped = lipexact.lipschitz(net, method="bnb", node_bound="sdp", node_limit=5)
    assert stopped.status is Status.NODE_LIMIT and stopped.stats["nodes"] == 5
    assert stopped.lower <= exact.value * (1 + 1e-9) and exact.value <= stopped.upper


def test_a_solver_returning_nonsense_does_not_prune_wrongly(monkeypatch):
    import lipexact.bounds.sdp.pattern as pattern

    # the IPM proposes y = 0: the certificate must correct it, so bnb still proves the right optimum
    monkeypatch.setattr(pattern, "solve_pm1_dual", lambda K, **kw: (np.zeros(K.shape[0]), {
        "iterations": 0, "stopped": "target", "gap": 0.0}))
    net = _random_net(3, h=14, n=3)
    with_sdp = lipexact.lipschitz(net, method="bnb", node_bound="sdp", exhaustive=2, eigen_iterations=0)
    brute = lipexact.lipschitz(net, method="brute")
    assert with_sdp.status is Status.OPTIMAL
    assert abs(with_sdp.value - brute.value) <= 1e-9 * brute.value


@pytest.mark.parametrize("options, field", [({"node_bound": "magic"}, "node_bound"),
                                            ({"node_bound": "sdp", "norm": "inf"}, "node_bound")])
def test_refused_where_it_does_not_apply(options, field):
    with pytest.raises(InvalidInputError) as error:
        lipexact.lipschitz(_random_net(0, 4, 2), method="bnb", **options)
    assert error.value.field == field
    vector = TwoLayerReLU(np.eye(2), np.eye(2))
    with pytest.raises(InvalidInputError) as error:
        lipexact.lipschitz(vector, method="bnb", node_bound="sdp")
    assert error.value.field == "node_bound"


def test_data_error_is_tiny_and_positive():
    net = _random_net(1, 10, 3)
    error = data_error(net.W1, net.W2, 10)
    assert 0 < error < 1e-12 * float(np.abs(net.W2).sum() * np.abs(net.W1).max())
    with pytest.raises(InvalidInputError):
        SdpNodeBound(np.zeros((2, 1, 2)), "2", error=-1.0)
    with pytest.raises(InvalidInputError) as refused:
        SdpNodeBound(np.zeros((2, 2, 2)), "2", error=0.0)
    assert refused.value.field == "node_bound"
    assert sdp_bound.NODE_BOUNDS == ("eigen", "sdp")


def test_the_sdp_is_only_sampled_once_it_stops_paying():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((10, 1, 3))
    bound = SdpNodeBound(A, "2", error=0.0, exhaustive=0, eigen_iterations=0, min_free=1, probe=2,
                         min_prune_rate=0.5, sample_every=3)
    free = np.arange(10)
    for _ in range(11):  # threshold -inf: no call can prune
        value, _ = bound.refine(np.zeros((1, 3)), free, -math.inf, None)
        assert math.isinf(value) or value > 0
    # 2 probing calls, then 9 candidates of which every third is sampled
    assert bound.sdp_calls == 2 + 3 and bound.sdp_skipped == 6 and bound.sdp_pruned == 0
    always = SdpNodeBound(A, "2", error=0.0, exhaustive=0, eigen_iterations=0, min_free=1, probe=2,
                          min_prune_rate=0.0)
    for _ in range(5):
        always.refine(np.zeros((1, 3)), free, -math.inf, None)
    assert always.sdp_calls == 5 and always.sdp_skipped == 0
