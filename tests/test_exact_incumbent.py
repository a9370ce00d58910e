"""The incumbent heuristic: its cells are real, its values exact, its search monotone and seeded."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from lipexact.exact import lipschitz
from lipexact.exact.certificate import verify_witness
from lipexact.exact.incumbent import (
    best_cell_on_line,
    cell_at,
    find_incumbent,
    local_search,
    sample_cells,
    stretch_direction,
)
from lipexact.exact.problem import validate_problem
from lipexact.exact.arrangement import build_arrangement
from lipexact.network import TwoLayerReLU
from lipexact.norms import jacobian_norm
from tests.strategies import boxes_for, two_layer_nets

NORMS = ["2", "1", "inf"]


@st.composite
def arrangements(draw):
    net = draw(two_layer_nets(max_inputs=3, max_hidden=7, max_outputs=2))
    norm = draw(st.sampled_from(NORMS))
    domain = draw(st.none() | boxes_for(net.n_inputs))
    return build_arrangement(validate_problem(net, norm=norm, domain=domain))


def assert_real_cell(arrangement, cell):
    """The cell's point is strictly inside it, and its value is the network's Jacobian norm there."""
    net = arrangement.problem.net
    z = arrangement.preactivations(cell.point)
    assert np.all(z != 0) and np.array_equal(z > 0, cell.pattern)
    assert arrangement.inside_box(cell.point)
    value = jacobian_norm(net.jacobian_of_pattern(net.preactivation(cell.point) > 0), arrangement.norm)
    assert abs(value - cell.value) <= 1e-9 * max(1.0, value)


@given(arrangements(), st.integers(0, 10))
@settings(max_examples=40)
def test_incumbent_is_a_real_cell_not_above_the_optimum(arrangement, seed):
    cell = find_incumbent(arrangement, seed=seed, samples=64, starts=3)
    if cell is None:
        return
    assert_real_cell(arrangement, cell)
    problem = arrangement.problem
    truth = lipschitz(problem.net, "brute", norm=problem.norm, domain=problem.domain).value
    assert cell.value <= truth * (1 + 1e-9) + 1e-12
    witness = arrangement.witness(cell.point)
    assert witness is not None
    checked = verify_witness(problem.net, witness, problem.norm, problem.domain)
    assert abs(checked.value - cell.value) <= 1e-9 * max(1.0, cell.value)


@given(arrangements(), st.integers(0, 10))
@settings(max_examples=40)
def test_local_search_never_gets_worse(arrangement, seed):
    rng = np.random.default_rng(seed)
    for cell in sample_cells(arrangement, rng, 8)[:3]:
        found = local_search(arrangement, cell, rng, max_moves=10)
        assert found.value >= cell.value
        assert_real_cell(arrangement, found)


def test_line_search_finds_the_best_cell_on_the_line():
    rng = np.random.default_rng(4)
    net = TwoLayerReLU(rng.normal(size=(9, 2)), rng.normal(size=(1, 9)), rng.normal(size=9))
    arrangement = build_arrangement(validate_problem(net))
    start = cell_at(arrangement, np.array([-3.0, 0.5]))
    d = np.array([1.0, 0.2])
    found = best_cell_on_line(arrangement, start, d)
    taus = np.linspace(1e-6, 200, 200001)
    Z = (start.point + taus[:, None] * d) @ arrangement.W.T + arrangement.b
    patterns = Z[np.all(Z != 0, axis=1)] > 0
    patterns = patterns[np.any(patterns != start.pattern, axis=1)]
    best = float(np.max(arrangement.values(np.unique(patterns, axis=0))))
    assert abs(found.value - best) <= 1e-12 * best
    assert_real_cell(arrangement, found)


def test_incumbent_is_deterministic_for_a_seed():
    rng = np.random.default_rng(7)
    net = TwoLayerReLU(rng.normal(size=(20, 5)), rng.normal(size=(1, 20)), rng.normal(size=20))
    arrangement = build_arrangement(validate_problem(net))
    a, b = find_incumbent(arrangement, seed=3), find_incumbent(arrangement, seed=3)
    assert a.value == b.value and np.array_equal(a.point, b.point)


def test_incumbent_finds_the_optimum_of_a_bias_free_positive_network():
    # output weights >= 0 and no bias: the box-QP optimum is realizable and gradient steps reach it
    rng = np.random.default_rng(5)
    net = TwoLayerReLU(rng.normal(size=(12, 4)), np.abs(rng.normal(size=(1, 12))))
    arrangement = build_arrangement(validate_problem(net))
    cell = find_incumbent(arrangement, seed=0)
    assert abs(cell.value - lipschitz(net, "brute").value) <= 1e-9 * cell.value


def test_stretch_direction_attains_the_norm():
    rng = np.random.default_rng(1)
    J = rng.normal(size=(3, 4))
    for norm, p in (("2", 2), ("1", 1), ("inf", np.inf)):
        d = stretch_direction(J, norm)
        ratio = np.linalg.norm(J @ d, p) / np.linalg.norm(d, p)
        assert abs(ratio - jacobian_norm(J, norm)) <= 1e-9 * ratio
