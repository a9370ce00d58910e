"""Hyperplane groups: every pattern keeps its Jacobian, merges are exact, fixed units are right."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lipexact.exact import lipschitz
from lipexact.exact.arrangement import build_arrangement
from lipexact.exact.patterns import pattern_chunks, pattern_values
from lipexact.exact.problem import validate_problem
from lipexact.network import TwoLayerReLU
from lipexact.result import Status
from tests.strategies import boxes_for, two_layer_nets


@given(two_layer_nets(max_inputs=3, max_hidden=7, max_outputs=2), st.sampled_from(["2", "1", "inf"]),
       st.integers(0, 2 ** 31 - 1))
@settings(max_examples=60)
def test_group_jacobians_equal_the_network_jacobians(net, norm, seed):
    arrangement = build_arrangement(validate_problem(net, norm=norm))
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(50, net.n_inputs)) * 3
    for x in X:
        pre = net.preactivation(x)
        if np.any(pre[np.any(net.W1 != 0, axis=1)] == 0):
            continue
        groups = arrangement.preactivations(x) > 0
        expected = pattern_values(net, (pre > 0)[None], norm)[0]
        assert abs(arrangement.values(groups[None])[0] - expected) <= 1e-9 * max(1.0, expected)


def test_parallel_and_opposite_rows_merge_exactly():
    W1 = np.array([[1.0, 2.0], [0.5, 1.0], [-3.0, -6.0], [1.0, 2.0 + 1e-12], [0.0, 0.0]])
    arrangement = build_arrangement(validate_problem(TwoLayerReLU(W1, [[1.0, 1.0, 1.0, 1.0, 1.0]])))
    members = sorted(sorted(group) for group in arrangement.units)
    assert members == [[(0, 1), (1, 1), (2, -1)], [(3, 1)]]  # the nearly parallel row stays apart


def test_zero_contributions_and_dead_units_leave_the_search():
    net = TwoLayerReLU([[1, 0], [0, 1], [0, 0], [1, 1]], [[1, 0, 7, 2]], b1=[0, 0, 3, 1])
    arrangement = build_arrangement(validate_problem(net))
    assert arrangement.n_groups == 2  # unit 1 has output weight 0, unit 2 is dead


@given(two_layer_nets(max_inputs=3, max_hidden=6), st.data())
@settings(max_examples=40)
def test_units_fixed_by_the_box_have_one_sign_on_it(net, data):
    box = data.draw(boxes_for(net.n_inputs))
    arrangement = build_arrangement(validate_problem(net, domain=box))
    kept = {unit for group in arrangement.units for unit, _ in group}
    rng = np.random.default_rng(0)
    X = rng.uniform(box.lower, box.upper, size=(400, net.n_inputs))
    pre = net.preactivation(X)
    for unit in range(net.n_hidden):
        if unit in kept or not np.any(net.W1[unit] != 0) or not np.any(net.W2[:, unit] != 0):
            continue
        assert np.all(pre[:, unit] > 0) or np.all(pre[:, unit] < 0)


def test_complement_symmetry_is_detected_only_where_it_holds():
    F = np.array([[1, -1, 0], [-1, 0, 1], [0, 1, -1]])  # rows sum to zero: f(-x) has the negated gradient
    assert build_arrangement(validate_problem(TwoLayerReLU(F, [[1, 1, 1]]))).complement_symmetric
    assert not build_arrangement(validate_problem(TwoLayerReLU(F, [[1, 2, 1]]))).complement_symmetric
    assert not build_arrangement(validate_problem(TwoLayerReLU(F, [[1, 1, 1]], b1=[0, 0, 1]))).complement_symmetric


def test_all_patterns_of_a_small_net_through_the_groups():
    rng = np.random.default_rng(5)
    net = TwoLayerReLU(rng.integers(-2, 3, size=(6, 3)), rng.integers(-2, 3, size=(2, 6)))
    arrangement = build_arrangement(validate_problem(net, norm="inf"))
    patterns = np.concatenate(list(pattern_chunks(arrangement.n_groups)))
    values = arrangement.values(patterns)
    assert values.shape == (2 ** arrangement.n_groups,) and np.all(values >= 0)


def exact_preactivations(net, x):
    from fractions import Fraction

    point = [Fraction(v) for v in np.asarray(x, dtype=np.float64).tolist()]
    return [Fraction(b) + sum(Fraction(w) * v for w, v in zip(row, point))
            for row, b in zip(net.W1.tolist(), net.hidden_bias.tolist())]


def test_a_witness_exactly_on_a_left_out_hyperplane_is_nudged_off_it():
    # Unit 0 (output weight 0) leaves the search. At x = (-0.2, 0.2) its pre-activation 3 x1 + 3 x2 is
    # exactly 0, but floating point (a fused multiply-add) computes -5.6e-17: a float test accepts x.
    net = TwoLayerReLU([[3, 3], [-1, 1]], [[0, 1]])
    arrangement = build_arrangement(validate_problem(net))
    x = np.array([-0.2, 0.2])
    assert exact_preactivations(net, x)[0] == 0
    witness = arrangement.witness(x)
    assert witness is not None
    assert all(value != 0 for value in exact_preactivations(net, witness))
    assert np.array_equal(arrangement.preactivations(witness) > 0, arrangement.preactivations(x) > 0)


@pytest.mark.parametrize("method", ["bnb", "enumerate", "brute", "milp"])
def test_exact_kinks_of_left_out_units_do_not_break_the_certificate(method):
    net = TwoLayerReLU([[3, 3], [-1, 1]], [[0, 1]])
    result = lipschitz(net, method)
    assert result.status is Status.OPTIMAL, result.message
    assert result.value == pytest.approx(np.sqrt(2), rel=1e-12)
    assert all(value != 0 for value in exact_preactivations(net, result.witness))


# f(x) = |20 x1 - 21 x2| - |x1 - x2| as pairs relu(a.x) + relu(-a.x): bias-free with contributions summing to
# zero, so on R^n (a cone arrangement) x -> -x maps the cell of each pattern onto that of its complement,
# with the same gradient norm. On the box [0.5, 2]^2 it does not: the best cell, 20 x1 / 21 < x2 < x1
# (where the two kinks' signs differ), has a complement (x1 < x2 < 20 x1 / 21) that is empty there, so fixing
# one unit "on" as the symmetry allows would lose it.
ABS_PAIRS = TwoLayerReLU([[20, -21], [-20, 21], [1, -1], [-1, 1]], [[-1, -1, 1, 1]])
ASYMMETRIC_BOX = ([0.5, 0.5], [2.0, 2.0])


def test_complement_symmetry_is_not_claimed_on_a_box():
    assert build_arrangement(validate_problem(ABS_PAIRS)).complement_symmetric
    for box in (ASYMMETRIC_BOX, ([-2.0, -2.0], [2.0, 2.0])):
        assert not build_arrangement(validate_problem(ABS_PAIRS, domain=box)).complement_symmetric


def test_the_symmetry_is_used_globally_and_agrees_with_brute_force():
    truth = lipschitz(ABS_PAIRS, "brute").value
    result = lipschitz(ABS_PAIRS, "bnb")
    assert result.stats["symmetry"] and result.status is Status.OPTIMAL
    assert result.value == pytest.approx(truth, rel=1e-12)


@pytest.mark.parametrize("method", ["bnb", "enumerate", "brute"])
@pytest.mark.parametrize("incumbent", [True, False])
def test_no_complement_symmetry_on_an_asymmetric_box(monkeypatch, method, incumbent):
    # The exact value on the box, independently: the best of the three cells the box meets.
    X = np.random.default_rng(0).uniform(0.5, 2.0, size=(4000, 2))
    sampled = max(np.linalg.norm(ABS_PAIRS.jacobian(x)) for x in X)
    truth = lipschitz(ABS_PAIRS, "brute", domain=ASYMMETRIC_BOX).value
    assert truth == pytest.approx(sampled, rel=1e-12)
    if not incumbent:  # without the local-search incumbent, only the tree itself can find the best cell
        import lipexact.exact.bnb as bnb

        monkeypatch.setattr(bnb, "find_incumbent", lambda *args, **kwargs: None)
    result = lipschitz(ABS_PAIRS, method, domain=ASYMMETRIC_BOX)
    assert result.status is Status.OPTIMAL, result.message
    assert result.value == pytest.approx(truth, rel=1e-12)
    assert not result.stats.get("symmetry", False)
