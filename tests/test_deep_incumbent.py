"""lipexact/deep/incumbent.py: the local search's candidates and the restarts of the branch and bound."""

from itertools import count

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lipexact.deep.enumerate import DeepSearch
from lipexact.deep.incumbent import RESTART_FIRST, cell_walk, local_search, pattern_norms, restart_effort
from lipexact.deep.network import ReLUNetwork
from lipexact.exact.problem import Clock
from lipexact.norms import jacobian_norms
from tests.test_deep_strategies import deep_nets


def random_net(sizes, seed):
    rng = np.random.default_rng(seed)
    return ReLUNetwork([(rng.standard_normal((o, i)) / np.sqrt(i), rng.standard_normal(o) / np.sqrt(i))
                        for i, o in zip(sizes[:-1], sizes[1:])])


@settings(max_examples=40)
@given(deep_nets(max_inputs=3, max_outputs=3), st.sampled_from(("2", "1", "inf")), st.integers(0, 2 ** 32 - 1))
def test_pattern_norms_are_the_norms_of_each_points_cell(net, norm, seed):
    # from the outputs where they are fewer than the inputs, from the inputs otherwise: the same Jacobians
    points = np.random.default_rng(seed).normal(size=(5, net.n_inputs)) * 3
    expected = [float(jacobian_norms(net.jacobian_of_patterns([z > 0 for z in net.preactivations(x)]), norm))
                for x in points]
    assert pattern_norms(net, points, norm) == pytest.approx(expected, rel=1e-12, abs=1e-300)
    assert pattern_norms(net, points[:0], norm).shape == (0,)  # no points: no values (not a reshape error)


def test_restarts_come_at_doubling_node_counts_with_doubling_effort():
    due = [n for n in range(1, 5000) if restart_effort(n) is not None]
    assert due == [256, 512, 1024, 2048, 4096] and RESTART_FIRST == 256
    efforts = [restart_effort(n) for n in due]
    assert all(b == (2 * a[0], 2 * a[1]) for a, b in zip(efforts[:2], efforts[1:3]))
    assert max(restart_effort(1 << k)[0] for k in range(8, 40)) == 1 << 16


def test_local_search_candidates_are_their_cells_values():
    net = random_net([3, 6, 6, 1], 1)
    found = local_search(net, "2", None, np.random.default_rng(0), samples=64, steps=32, keep=4)
    values = [v for v, _ in found]
    assert values == sorted(values, reverse=True)
    for value, x in found:
        assert value == float(pattern_norms(net, x, "2")[0])
    value, x = cell_walk(net, "2", found[-1][1], found[-1][0], None)
    assert value >= found[-1][0]


def test_a_branch_and_bound_restarts_its_local_search_and_keeps_a_checked_witness():
    net = random_net([6, 10, 10, 1], 0)
    search = DeepSearch(net, "2", None, Clock(), node_limit=RESTART_FIRST + 5, bnb=True)
    outcome = search.run()
    assert outcome.status.value == "node_limit" and outcome.stats["nodes"] == RESTART_FIRST + 5
    assert outcome.stats["restarts"] == 1
    assert outcome.value <= outcome.upper
    # the witness is its cell's value (two float evaluations of the same Jacobian: equal up to rounding)
    assert outcome.value == pytest.approx(float(pattern_norms(net, outcome.point, "2")[0]), rel=1e-12)


def test_no_restart_when_the_time_left_is_below_twice_its_cost():
    net = random_net([6, 10, 10, 1], 0)
    ticks = count()
    search = DeepSearch(net, "2", None, Clock(10.0, now=lambda: float(next(ticks)) * 1e-3), bnb=True)
    search.stats["nodes"] = RESTART_FIRST
    search.restart_seconds = 100.0  # the last restart cost more than the time left
    search.restart_incumbent()
    assert search.stats["restarts"] == 0
    search.restart_seconds = 0.0
    search.restart_incumbent()
    assert search.stats["restarts"] == 1 and search.best_value > -np.inf
