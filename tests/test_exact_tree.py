"""The tree search shared by cell enumeration and branch and bound.

A stopped search still brackets the truth, and the tests stop it deterministically (a node limit, an
injected clock that expires after a fixed number of readings, a patched Ctrl-C), never by wall time: on a
loaded machine a tiny time limit may stop a search anywhere, or never before it closes. The incumbent is
stored with a point that certifies its value.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lipexact.exact import lipschitz
from lipexact.exact.arrangement import build_arrangement
from lipexact.exact.bnb import solve_bnb
from lipexact.exact.certificate import verify_witness
from lipexact.exact.enumerate import solve_enumerate
from lipexact.exact.problem import Clock, validate_problem
from lipexact.exact.tree import TreeSearch
from lipexact.network import TwoLayerReLU
from lipexact.norms import jacobian_norms
from lipexact.result import Status
from reductions.validation import InvalidInputError
from tests.strategies import exact_problems, two_layer_nets

TREE_METHODS = ["bnb", "enumerate"]
SOLVERS = {"bnb": solve_bnb, "enumerate": solve_enumerate}
NORMS = ["2", "1", "inf"]


class Ticks:
    """A time source that advances one second per reading."""

    def __init__(self):
        self.readings = 0

    def __call__(self):
        self.readings += 1
        return float(self.readings)


def ticking_clock(readings):
    """A clock whose time limit is spent at its ``readings``-th check after the start."""
    return Clock(float(readings), now=Ticks())


def random_net(seed, h=12, n=3):
    rng = np.random.default_rng(seed)
    return TwoLayerReLU(rng.normal(size=(h, n)), rng.normal(size=(1, h)), rng.normal(size=h))


# Seed 0: bnb needs 15 to 19 nodes (its first incumbent is not optimal), enumeration 1587.
NET = random_net(0)


def assert_brackets(result, net, norm, truth, domain=None):
    slack = 1e-9 * max(1.0, truth)
    assert result.upper is not None and result.upper >= truth - slack
    if result.lower is not None:
        assert result.lower <= truth + slack
        assert verify_witness(net, result.witness, norm, domain).value == result.lower


# ---------------------------------------------------------------------------------- node limits
@pytest.mark.parametrize("method", TREE_METHODS)
@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("limit", [1, 2, 5, 10])
def test_node_limit_stops_there_with_the_proven_bracket(method, norm, limit):
    truth = lipschitz(NET, "brute", norm=norm).value
    result = lipschitz(NET, method, norm=norm, node_limit=limit)
    assert result.status is Status.NODE_LIMIT, result.message
    assert result.stats["nodes"] == limit and not result.success
    assert "node_limit" in result.message
    assert_brackets(result, NET, norm, truth)
    if method == "bnb":  # the local-search incumbent is there before the first node
        assert result.lower is not None


@pytest.mark.parametrize("method", TREE_METHODS)
@given(data=st.data())
@settings(max_examples=25)
def test_any_node_limit_brackets_the_truth(method, data):
    max_hidden, max_outputs = (8, 2) if method == "bnb" else (7, 1)
    net = data.draw(two_layer_nets(max_inputs=3, max_hidden=max_hidden, max_outputs=max_outputs))
    norm = data.draw(st.sampled_from(NORMS))
    limit = data.draw(st.integers(1, 8))
    truth = lipschitz(net, "brute", norm=norm).value
    result = lipschitz(net, method, norm=norm, node_limit=limit)
    assert result.status in (Status.OPTIMAL, Status.NODE_LIMIT), result.message
    assert result.stats["nodes"] <= limit
    if result.status is Status.NODE_LIMIT:
        assert result.stats["nodes"] == limit
    assert_brackets(result, net, norm, truth)


@pytest.mark.parametrize("method", TREE_METHODS)
def test_a_node_limit_the_search_does_not_reach_changes_nothing(method):
    free = lipschitz(NET, method)
    limited = lipschitz(NET, method, node_limit=free.stats["nodes"])
    assert limited.status is Status.OPTIMAL
    assert (limited.value, limited.upper, limited.stats["nodes"]) == (free.value, free.upper, free.stats["nodes"])


@pytest.mark.parametrize("method", TREE_METHODS)
@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "10"])
def test_bad_node_limits_name_their_field(method, bad):
    with pytest.raises(InvalidInputError) as error:
        lipschitz(NET, method, node_limit=bad)
    assert error.value.field == "node_limit"
    with pytest.raises(InvalidInputError) as error:
        SOLVERS[method](validate_problem(NET), Clock(), node_limit=bad)
    assert error.value.field == "node_limit"


# ---------------------------------------------------------------------------------- injected clock
@pytest.mark.parametrize("method", TREE_METHODS)
@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("readings", [1, 3, 5, 10, 15])
def test_a_clock_that_expires_after_k_readings_stops_the_search(method, norm, readings):
    truth = lipschitz(NET, "brute", norm=norm).value
    clock = ticking_clock(readings)
    result = SOLVERS[method](validate_problem(NET, norm=norm), clock)
    assert result.status is Status.TIME_LIMIT, result.message
    assert result.stats["nodes"] < readings
    assert_brackets(result, NET, norm, truth)
    again = SOLVERS[method](validate_problem(NET, norm=norm), ticking_clock(readings))
    assert (again.stats["nodes"], again.lower, again.witness is None) == \
        (result.stats["nodes"], result.lower, result.witness is None)  # the same stop, whatever the load


@pytest.mark.parametrize("method", TREE_METHODS)
def test_a_clock_spent_before_the_root_still_bounds_the_constant(method):
    # The tree's first check finds the clock spent: no node processed, the root's bound is the upper bound.
    truth = lipschitz(NET, "brute").value
    result = SOLVERS[method](validate_problem(NET), ticking_clock(1))
    assert result.status is Status.TIME_LIMIT and result.stats["nodes"] == 0
    assert_brackets(result, NET, "2", truth)


# ---------------------------------------------------------------------------------- Ctrl-C
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


# ---------------------------------------------------------------------------------- the incumbent's point
def test_offer_stores_a_point_off_every_live_hyperplane():
    # Unit 1 has output weight 0: it leaves the search, but its hyperplane x2 = 0 still carries a kink of
    # no consequence that verify_witness refuses. The offered point lies on it; the stored one must not.
    net = TwoLayerReLU([[1.0, 0.0], [0.0, 1.0]], [[2.0, 0.0]])
    arrangement = build_arrangement(validate_problem(net))
    assert arrangement.n_groups == 1
    search = TreeSearch(arrangement, Clock(), "test")
    point = np.array([1.0, 0.0])
    assert search.offer(2.0, point)
    stored = search.best_point
    assert net.preactivation(stored)[1] != 0
    assert np.array_equal(arrangement.preactivations(stored) > 0, arrangement.preactivations(point) > 0)
    assert verify_witness(net, stored).value == search.best_value == 2.0
    assert not search.offer(2.0, np.array([3.0, 0.5]))  # not better: the incumbent stays


@pytest.mark.parametrize("method", TREE_METHODS)
def test_a_witness_on_a_left_out_units_kink_is_nudged_off_it(method):
    # The box centre (the root's point) lies on the hyperplane of unit 1 (output weight 0); the cell of
    # the centre is optimal, so the final witness comes from that point.
    net = TwoLayerReLU([[1.0, 0.0], [0.0, 1.0]], [[2.0, 0.0]], b1=[0.5, 0.0])
    result = lipschitz(net, method, domain=([-1.0, -1.0], [1.0, 1.0]))
    assert result.status is Status.OPTIMAL, result.message
    assert result.value == 2.0
    assert np.linalg.norm(net.jacobian(result.witness)) == 2.0


@pytest.mark.parametrize("method", TREE_METHODS)
@given(problem=exact_problems(max_inputs=3, max_hidden=7, max_outputs=2))
@settings(max_examples=40)
def test_the_final_witness_re_evaluates_to_the_value(method, problem):
    # Integer weights and integer boxes put box centres and LP points on the hyperplanes of units that
    # leave the search (zero output weight), where a stored parent point would fail the certificate.
    net, norm, domain = problem
    result = lipschitz(net, method, norm=norm, domain=domain)
    assert result.status is Status.OPTIMAL, result.message
    truth = lipschitz(net, "brute", norm=norm, domain=domain).value
    assert result.value == pytest.approx(truth, rel=1e-9, abs=1e-12)
    assert result.witness is not None
    J = net.jacobian(result.witness)
    assert float(jacobian_norms(J, norm)) == pytest.approx(result.value, rel=1e-12, abs=1e-12)
    live = np.any(net.W1 != 0, axis=1)
    assert np.all(net.preactivation(result.witness)[live] != 0)
    assert domain is None or domain.contains_interior(result.witness)
