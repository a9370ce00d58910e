"""Branch and bound: agrees with brute force and with cell enumeration, certifies, brackets when stopped."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lipexact.domain import as_box
from lipexact.exact import lipschitz
from lipexact.exact.bnb import BRANCHING_RULES
from lipexact.exact.certificate import verify_witness
from lipexact.network import TwoLayerReLU
from lipexact.result import Status
from reductions.validation import InvalidInputError
from tests.strategies import exact_problems, two_layer_nets

NORMS = ["2", "1", "inf"]


def close(a, b, rtol=1e-9):
    return abs(a - b) <= rtol * max(abs(a), abs(b))


def assert_exact(net, norm="2", domain=None, **options):
    truth = lipschitz(net, "brute", norm=norm, domain=domain)
    result = lipschitz(net, "bnb", norm=norm, domain=domain, **options)
    assert result.status is Status.OPTIMAL, result.message
    assert close(result.value, truth.value), (result.value, truth.value)
    assert close(result.upper, truth.value)
    checked = verify_witness(net, result.witness, norm, as_box(domain, net.n_inputs))
    assert close(checked.value, result.value)
    for key in ("nodes", "lps", "pruned_by_bound", "pruned_infeasible", "max_frontier"):
        assert key in result.stats
    return result


@given(exact_problems(max_hidden=7))
@settings(max_examples=60)
def test_bnb_agrees_with_brute_force(case):
    net, norm, domain = case
    assert_exact(net, norm, domain)


@given(two_layer_nets(max_inputs=4, max_hidden=9, max_outputs=1), st.sampled_from(sorted(BRANCHING_RULES)),
       st.booleans())
@settings(max_examples=20)
def test_every_branching_rule_and_node_selection_is_exact(net, branching, best_first):
    assert_exact(net, "2", branching=branching, best_first=best_first)


@given(two_layer_nets(max_inputs=3, max_hidden=8, max_outputs=2), st.sampled_from(NORMS))
@settings(max_examples=25)
def test_bnb_agrees_with_cell_enumeration(net, norm):
    bnb = lipschitz(net, "bnb", norm=norm)
    cells = lipschitz(net, "enumerate", norm=norm)
    assert bnb.status is Status.OPTIMAL and cells.status is Status.OPTIMAL
    assert close(bnb.value, cells.value)


def test_larger_random_networks_against_brute_force():
    rng = np.random.default_rng(11)
    for n, h, m, bias in [(2, 14, 1, True), (5, 14, 1, True), (10, 14, 1, True), (4, 12, 1, False), (3, 11, 2, True)]:
        net = TwoLayerReLU(rng.normal(size=(h, n)), rng.normal(size=(m, h)), rng.normal(size=h) if bias else None)
        for norm in NORMS:
            assert_exact(net, norm)
        assert_exact(net, "2", domain=(-np.ones(n), np.ones(n)))


@pytest.mark.parametrize("norm", NORMS)
def test_degenerate_networks(norm):
    cases = [
        TwoLayerReLU([[0, 0], [1, 2]], [[5, 1]], b1=[1, 0]),
        TwoLayerReLU([[1, 2], [1, 2], [2, 4], [-1, -2]], [[1, -2, 1, 3]]),
        TwoLayerReLU([[1, 2], [1, 2]], [[1, 1]], b1=[0, -1]),
        TwoLayerReLU([[1, 2], [3, -1]], [[0, 0]]),
        TwoLayerReLU([[0, 0]], [[1]]),
        TwoLayerReLU([[2]], [[-3]], b1=[1]),
        TwoLayerReLU([[1], [-1], [2], [1]], [[1, 1, -1, 2]], b1=[0, 1, -1, 3]),
        TwoLayerReLU(1e6 * np.array([[1.0, 2], [3, -1], [1, 1]]), 1e6 * np.array([[1.0, -1, 2]]), b1=1e6 * np.ones(3)),
        TwoLayerReLU(1e-6 * np.array([[1.0, 2], [3, -1], [1, 1]]), 1e-6 * np.array([[1.0, -1, 2]]), b1=[1e-6, 0, -2e-6]),
        TwoLayerReLU([[1, 0], [0, 1], [1, 1]], [[1, -1, 1], [2, 0, -1]], b1=[0, 0, -1]),
    ]
    for net in cases:
        assert_exact(net, norm)
        assert_exact(net, norm, domain=([-1.0] * net.n_inputs, [2.0] * net.n_inputs))


def test_unknown_branching_rule_is_rejected():
    with pytest.raises(InvalidInputError, match="branching"):
        lipschitz(TwoLayerReLU([[1.0]], [[1.0]]), "bnb", branching="random")


def test_memory_is_the_open_frontier_only():
    rng = np.random.default_rng(2)
    net = TwoLayerReLU(rng.normal(size=(24, 6)), rng.normal(size=(1, 24)), rng.normal(size=24))
    depth_first = lipschitz(net, "bnb", best_first=False)
    best_first = lipschitz(net, "bnb")
    assert depth_first.status is Status.OPTIMAL and best_first.status is Status.OPTIMAL
    assert close(depth_first.value, best_first.value)
    # depth-first: at most one waiting sibling per level, plus the two children just pushed
    assert depth_first.stats["max_frontier"] <= depth_first.stats["groups"] + 2
    assert best_first.stats["max_frontier"] <= best_first.stats["nodes"]


@pytest.mark.parametrize("checks", [1, 2, 5, 20, 60])
@pytest.mark.parametrize("method", ["bnb", "enumerate"])
def test_stopping_mid_search_brackets_the_truth(monkeypatch, checks, method):
    from lipexact.exact.problem import Clock

    counter = {"n": 0}

    def expired(self):
        counter["n"] += 1
        return counter["n"] > checks

    rng = np.random.default_rng(checks)
    nets = [TwoLayerReLU(rng.normal(size=(12, 3)), rng.normal(size=(1, 12)), rng.normal(size=12)),
            TwoLayerReLU(rng.integers(-3, 4, size=(10, 4)), rng.integers(-3, 4, size=(2, 10)))]
    for net in nets:
        for norm in NORMS:
            truth = lipschitz(net, "brute", norm=norm).value
            counter["n"] = 0
            monkeypatch.setattr(Clock, "expired", expired)
            result = lipschitz(net, method, norm=norm)
            monkeypatch.undo()
            assert result.upper >= truth * (1 - 1e-12)
            assert result.lower is None or result.lower <= truth * (1 + 1e-12)
            if result.status is Status.TIME_LIMIT:
                assert result.stats["nodes"] <= checks


def test_interrupt_during_the_incumbent_search(monkeypatch):
    import lipexact.exact.bnb as bnb

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(bnb, "find_incumbent", interrupted)
    rng = np.random.default_rng(4)
    net = TwoLayerReLU(rng.normal(size=(10, 3)), rng.normal(size=(1, 10)), rng.normal(size=10))
    result = lipschitz(net, "bnb")
    monkeypatch.undo()
    assert result.status is Status.INTERRUPTED
    assert result.upper >= lipschitz(net, "brute").value * (1 - 1e-12)
