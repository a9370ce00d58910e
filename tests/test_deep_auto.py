"""Method auto for deep networks (lipexact.deep.solve): the rule, the fallback with the rest of the time and
the combined bracket, and that the result says what it picked."""

import numpy as np
import pytest

import lipexact.deep.solve as solve
from lipexact.deep import lipschitz_deep
from lipexact.deep.enumerate import DeepOutcome
from lipexact.deep.solve import choose_deep_method
from lipexact.result import Status
from tests.test_deep_bnb import random_net


def test_rule():
    assert choose_deep_method("2", None)[:2] == ("bnb", None)
    assert choose_deep_method("inf", None)[:2] == ("bnb", None)
    box = object()
    assert choose_deep_method("2", box)[:2] == ("bnb", None)
    assert choose_deep_method("inf", box)[:2] == ("bnb", "milp")
    assert choose_deep_method("1", box)[:2] == ("bnb", "milp")
    assert choose_deep_method("1", box, node_limit=5)[:2] == ("bnb", None)


@pytest.mark.parametrize("norm, box", [("2", None), ("inf", ([-1.0] * 3, [1.0] * 3))])
def test_auto_says_what_it_picked_and_equals_the_enumeration(norm, box):
    net = random_net([3, 4, 4, 2], 3)
    auto = lipschitz_deep(net, "auto", norm, box)
    exact = lipschitz_deep(net, "enumerate", norm, box)
    assert auto.status is Status.OPTIMAL and auto.stats["auto"] == "bnb" and "[auto:" in auto.message
    assert auto.value == pytest.approx(exact.value, rel=1e-9)


def test_fallback_gets_the_rest_of_the_time_and_the_brackets_are_combined(monkeypatch):
    """bnb is made to stop unproven with a loose bracket (an injected outcome, no wall clock involved): the
    MILP then runs on the rest of the time limit and proves the constant; the combined result is optimal and
    says so."""
    net = random_net([3, 4, 4, 1], 1)
    box = ([-1.0] * 3, [1.0] * 3)
    exact = lipschitz_deep(net, "enumerate", "inf", box)
    seen = {}

    def stopped(network, norm, domain, clock, **kwargs):
        seen["limit"] = clock.time_limit
        return DeepOutcome(Status.TIME_LIMIT, None, None, 10 * exact.value, {"nodes": 0, "cells": 0, "lps": 0})

    monkeypatch.setattr(solve, "run_search", stopped)
    result = lipschitz_deep(net, "auto", "inf", box, time_limit=100.0)
    assert seen["limit"] == pytest.approx(solve.AUTO_FIRST_SHARE * 100.0)
    assert result.status is Status.OPTIMAL and result.stats["auto"] == "milp"
    assert result.value == pytest.approx(exact.value, rel=1e-9)
    assert "bnb ended time_limit, then milp" in result.message


def test_no_fallback_without_one(monkeypatch):
    net = random_net([3, 4, 4, 1], 1)

    def stopped(network, norm, domain, clock, **kwargs):
        return DeepOutcome(Status.TIME_LIMIT, None, None, 5.0, {"nodes": 0, "cells": 0, "lps": 0})

    monkeypatch.setattr(solve, "run_search", stopped)
    result = lipschitz_deep(net, "auto", "2", None, time_limit=10.0)
    assert result.status is Status.TIME_LIMIT and result.stats["auto"] == "bnb" and result.upper == 5.0


def test_entry_point_routes_auto_to_the_deep_rule():
    from lipexact import lipschitz

    result = lipschitz(random_net([2, 3, 3, 1], 0), norm=1, domain=([0.0, 0.0], [1.0, 1.0]))
    assert result.status is Status.OPTIMAL and result.stats["auto"] == "bnb"
    assert np.all(result.witness > 0) and np.all(result.witness < 1)
