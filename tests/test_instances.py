import itertools
from fractions import Fraction

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reductions.instances import (
    QUBO,
    ConvexQuadratic01,
    ConvexQuadraticPM1,
    LipCst,
    MaxCut,
    decode_number,
    encode_number,
    exact_number,
    quadratic_form,
    source_value,
    target_value,
)
from reductions.validation import InvalidInputError

from .oracles import autograd_gradient
from .strategies import integer_matrices, maxcut_instances, psd_integer_matrices, qubo_instances


def naive_cut(weights, side):
    n = len(side)
    return sum(int(weights[i, j]) for i in range(n) for j in range(i + 1, n) if side[i] != side[j])


def naive_qubo(Q, x):
    n = len(x)
    return sum(int(Q[i, i]) * x[i] for i in range(n)) + 2 * sum(
        int(Q[i, j]) * x[i] * x[j] for i in range(n) for j in range(i + 1, n))


# ------------------------------------------------------------------------------------------ numbers
def test_exact_numbers():
    assert exact_number(Fraction(4, 2)) == 2 and isinstance(exact_number(Fraction(4, 2)), int)
    assert source_value(10, 2, 4) == 2 and isinstance(source_value(10, 2, 4), int)
    assert source_value(9, 2, 4) == Fraction(7, 4)
    assert target_value(Fraction(7, 4), 2, 4) == 9
    assert isinstance(source_value(9.0, 2, 4), float)
    for value in (3, -2, Fraction(-7, 3), 2.5):
        assert decode_number(encode_number(value), "v") == value
    with pytest.raises(InvalidInputError, match="offset"):
        decode_number("a/b", "offset")
    with pytest.raises(InvalidInputError, match="v"):
        decode_number(True, "v")
    assert quadratic_form(np.array([[2**40, 0], [0, 2**40]]), np.array([2**12, 2**12])) == 2 * 2**64


# ------------------------------------------------------------------------------------------ Max-Cut
@given(maxcut_instances(max_nodes=9))
def test_cut_value_is_the_weight_of_the_cut_edges(graph):
    rng = np.random.default_rng(graph.n)
    for _ in range(4):
        side = rng.integers(0, 2, graph.n).astype(bool)
        value = graph.cut_value(side)
        assert isinstance(value, int)
        assert value == naive_cut(graph.weights, side)


@given(maxcut_instances(max_nodes=9))
def test_maxcut_brute_force_matches_plain_enumeration(graph):
    value, side = graph.brute_force()
    best = max(naive_cut(graph.weights, s) for s in itertools.product([0, 1], repeat=graph.n))
    assert value == best == naive_cut(graph.weights, side)
    assert side.dtype == bool and side.shape == (graph.n,)


@given(maxcut_instances(max_nodes=7))
def test_maxcut_networkx_and_dict_round_trips(graph):
    back = MaxCut.from_networkx(graph.to_networkx())
    assert np.array_equal(back.weights, graph.weights)
    again = MaxCut.from_dict(graph.to_dict())
    assert np.array_equal(again.weights, graph.weights) and again.weights.dtype == np.int64


def test_descriptive_keys_are_ignored_and_other_keys_refused():
    described = {"name": "K3", "source": "textbook", "license": "public domain", "notes": ["triangle"]}
    graph = MaxCut.from_edges(3, [(0, 1), (1, 2), (0, 2)])
    assert np.array_equal(MaxCut.from_dict({**graph.to_dict(), **described}).weights, graph.weights)
    qubo = QUBO([[1, 2], [2, -3]])
    assert np.array_equal(QUBO.from_dict({**qubo.to_dict(), **described}).Q, qubo.Q)
    with pytest.raises(InvalidInputError) as error:
        QUBO.from_dict({**qubo.to_dict(), "q": [[0]]})  # a misspelt field is not descriptive
    assert error.value.field == "q"


def test_maxcut_from_networkx_labels_defaults_and_floats():
    graph = nx.Graph()
    graph.add_edge("a", "b", weight=2.5)
    graph.add_edge("b", "c")
    cut = MaxCut.from_networkx(graph)
    assert cut.weights.dtype == np.float64 and cut.weights[0, 1] == 2.5 and cut.weights[1, 2] == 1.0
    assert cut.brute_force()[0] == 3.5
    assert MaxCut.from_networkx(nx.petersen_graph()).brute_force()[0] == 12
    custom = nx.Graph([(0, 1, {"w": -4})])
    assert MaxCut.from_networkx(custom, weight="w").weights[0, 1] == -4


def test_maxcut_from_dict_accepts_a_weight_matrix():
    cut = MaxCut.from_dict({"type": "maxcut", "version": 1, "weights": [[0, 2], [2, 0]]})
    assert cut.brute_force()[0] == 2


@pytest.mark.parametrize("build, field", [
    (lambda: MaxCut(np.zeros((0, 0))), "weights"),
    (lambda: MaxCut([[0, 1], [2, 0]]), "weights"),
    (lambda: MaxCut([[1, 1], [1, 0]]), "weights"),
    (lambda: MaxCut([[0, float("nan")], [float("nan"), 0]]), "weights"),
    (lambda: MaxCut.from_edges(0, []), "n"),
    (lambda: MaxCut.from_edges(3, [(0, 1), (1, 0)]), "edges[1]"),
    (lambda: MaxCut.from_edges(3, [(0, 0)]), "edges[0]"),
    (lambda: MaxCut.from_edges(3, [(0, 3)]), "edges[0]"),
    (lambda: MaxCut.from_edges(3, [(0, 1, float("inf"))]), "edges[0].weight"),
    (lambda: MaxCut.from_networkx(nx.Graph()), "graph"),
    (lambda: MaxCut.from_networkx(nx.DiGraph([(0, 1)])), "graph"),
    (lambda: MaxCut.from_dict({"type": "maxcut", "n": 0, "edges": []}), "n"),
    (lambda: MaxCut.from_dict({"type": "maxcut", "n": 2, "edges": [], "colour": 1}), "colour"),
    (lambda: MaxCut.from_dict({"type": "qubo", "n": 2}), "type"),
    (lambda: MaxCut.from_edges(2, [(0, 1)]).cut_value([1, 0, 1]), "side"),
    (lambda: MaxCut.from_edges(2, [(0, 1)]).cut_value([2, 0]), "side"),
])
def test_maxcut_rejects_bad_input_naming_the_field(build, field):
    with pytest.raises(InvalidInputError) as error:
        build()
    assert error.value.field == field


def test_brute_force_refuses_large_instances():
    with pytest.raises(InvalidInputError, match="n"):
        MaxCut(np.zeros((21, 21), dtype=int)).brute_force()


# ------------------------------------------------------------------------------------------ QUBO
@given(qubo_instances(max_size=8))
def test_qubo_value_is_the_biqmac_objective_and_brute_force_minimizes(qubo):
    value, x = qubo.brute_force()
    values = {tuple(v): naive_qubo(qubo.Q, v) for v in itertools.product([0, 1], repeat=qubo.n)}
    assert value == min(values.values()) == qubo.value(x)
    for v in list(values)[:16]:
        assert qubo.value(v) == values[v]
    assert np.array_equal(QUBO.from_dict(qubo.to_dict()).Q, qubo.Q)


def test_qubo_rejects_non_symmetric_and_bad_vectors():
    with pytest.raises(InvalidInputError, match="Q: expected a symmetric"):
        QUBO([[1, 2], [3, 4]])
    with pytest.raises(InvalidInputError, match="x"):
        QUBO([[1]]).value([0.5])


# ------------------------------------------------------------------------------------------ convex quadratics
@given(psd_integer_matrices(max_size=8))
def test_convex_quadratic_brute_force_matches_enumeration(H):
    for cls, domain in ((ConvexQuadratic01, (0, 1)), (ConvexQuadraticPM1, (-1, 1))):
        problem = cls(H)
        value, s = problem.brute_force()
        best = max(int(np.array(v) @ H @ np.array(v)) for v in itertools.product(domain, repeat=len(H)))
        assert value == best == problem.value(s)
        assert set(np.unique(s)) <= set(domain)


def test_convex_quadratic_value_map_and_round_trip():
    problem = ConvexQuadraticPM1([[2, -1], [-1, 2]], offset=Fraction(1, 3), scale=4)
    back = ConvexQuadraticPM1.from_dict(problem.to_dict())
    assert back.offset == Fraction(1, 3) and back.scale == 4 and np.array_equal(back.H, problem.H)
    assert problem.source_value(6) == Fraction(17, 12)
    with pytest.raises(InvalidInputError, match="positive semi-definite"):
        ConvexQuadratic01([[1, 2], [2, 1]])
    with pytest.raises(InvalidInputError, match="scale"):
        ConvexQuadratic01([[1]], scale=0)
    with pytest.raises(InvalidInputError, match="s"):
        ConvexQuadraticPM1([[1]]).value([0])


# ------------------------------------------------------------------------------------------ LIP-CST


@settings(max_examples=30)
@given(integer_matrices(st.integers(1, 6), st.integers(1, 3)), st.data())
def test_lipcst_closed_form_gradient_matches_autograd(M1, data):
    M2 = data.draw(integer_matrices(1, M1.shape[0]))
    problem = LipCst(M1, M2)
    x = np.arange(1, M1.shape[1] + 1) * 0.731 - 0.417
    np.testing.assert_allclose(problem.gradient_at(x)[0], autograd_gradient(M1, M2, x), atol=1e-12)


@settings(max_examples=30)
@given(integer_matrices(st.integers(1, 6), st.integers(1, 3)), st.data())
def test_lipcst_brute_force_is_the_realized_maximum(M1, data):
    M2 = data.draw(integer_matrices(1, M1.shape[0]))
    problem = LipCst(M1, M2)
    value, pattern = problem.brute_force()
    x = problem.realize(pattern)
    assert x is not None and problem.value_at(x) == value
    assert np.isclose(np.sum(autograd_gradient(M1, M2, x) ** 2), value)
    rng = np.random.default_rng(0)
    for point in rng.normal(size=(200, M1.shape[1])):  # no sampled gradient exceeds the maximum
        assert problem.value_at(point) <= value
    import lipexact

    exact = lipexact.lipschitz(lipexact.TwoLayerReLU(M1, M2), method="brute")
    assert np.isclose(exact.value ** 2, value, rtol=1e-9, atol=1e-9)


def test_lipcst_threshold_is_exact_and_validated():
    assert LipCst.with_ell([[1]], [[1]], 3).ell_squared == 9
    assert LipCst.with_ell([[1]], [[1]], Fraction(1, 2)).ell_squared == Fraction(1, 4)
    problem = LipCst.from_dict({"type": "lipcst", "M1": [[1]], "M2": [[1]], "ell_squared": "9/4"})
    assert problem.ell_squared == Fraction(9, 4)
    assert LipCst.from_dict(problem.to_dict()).ell_squared == Fraction(9, 4)
    with pytest.raises(InvalidInputError, match="ell_squared"):
        LipCst([[1]], [[1]], -1)
    with pytest.raises(InvalidInputError, match="ell"):
        LipCst.from_dict({"type": "lipcst", "M1": [[1]], "M2": [[1]], "ell": -2})
    with pytest.raises(InvalidInputError, match="M2"):
        LipCst([[1, 2], [3, 4]], [[1, 2, 3]])


def test_lipcst_dead_units_and_unrealizable_patterns():
    problem = LipCst([[1], [-1], [0]], [[1, 1, 5]])
    assert problem.realize([True, True, False]) is None
    assert problem.brute_force()[0] == 1
    assert problem.live.tolist() == [True, True, False]
