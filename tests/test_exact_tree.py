"""The tree search shared by cell enumeration and branch and bound: a stopped search still brackets the truth."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lipexact.exact import lipschitz
from lipexact.network import TwoLayerReLU
from lipexact.result import Status
from tests.strategies import two_layer_nets

TREE_METHODS = ["bnb", "enumerate"]


@pytest.mark.parametrize("method", TREE_METHODS)
@given(data=st.data())
@settings(max_examples=25)
def test_tiny_time_limit_still_brackets_the_truth(method, data):
    max_hidden, max_outputs = (8, 2) if method == "bnb" else (7, 1)
    net = data.draw(two_layer_nets(max_inputs=3, max_hidden=max_hidden, max_outputs=max_outputs))
    norm = data.draw(st.sampled_from(["2", "1", "inf"]))
    truth = lipschitz(net, "brute", norm=norm).value
    result = lipschitz(net, method, norm=norm, time_limit=1e-3)
    slack = 1e-9 * max(1.0, truth)
    assert result.status in (Status.OPTIMAL, Status.TIME_LIMIT)
    assert result.upper is not None and result.upper >= truth - slack
    if result.lower is not None:
        assert result.lower <= truth + slack


@pytest.mark.parametrize("method, stop_at, h, n, seed", [("bnb", 3, 14, 3, 1), ("enumerate", 5, 8, 2, 0)])
def test_interrupt_returns_partial_result(monkeypatch, method, stop_at, h, n, seed):
    from lipexact.exact import tree

    calls = {"n": 0}
    original = tree.TreeSearch.process

    def interrupted(self, node, stack):
        calls["n"] += 1
        if calls["n"] == stop_at:
            raise KeyboardInterrupt
        return original(self, node, stack)

    monkeypatch.setattr(tree.TreeSearch, "process", interrupted)
    rng = np.random.default_rng(seed)
    net = TwoLayerReLU(rng.normal(size=(h, n)), rng.normal(size=(1, h)), rng.normal(size=h))
    result = lipschitz(net, method)
    monkeypatch.undo()
    truth = lipschitz(net, "brute").value
    assert result.status is Status.INTERRUPTED
    assert result.upper >= truth * (1 - 1e-12)
    if method == "bnb":  # bnb starts from a local-search incumbent; enumerate may not have met a cell yet
        assert result.lower is not None
    assert result.lower is None or result.lower <= truth * (1 + 1e-12)
