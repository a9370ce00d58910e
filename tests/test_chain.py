import itertools
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings

import lipexact
from lipexact.io import from_dict
from reductions.base import Solution
from reductions.chain import REDUCTIONS, Chain, ChainInverse, ReducedInstance, reduce_to_lipcst, to_lipcst
from reductions.instances import QUBO, ConvexQuadratic01, ConvexQuadraticPM1, LipCst, MaxCut
from reductions.maxcut import MaxCutTo01, MaxCutToPM1
from reductions.validation import InvalidInputError

from .strategies import maxcut_instances, qubo_instances
from .oracles import autograd_norm_squared, pattern_brute_force


def check_chain_end_to_end(instance, via):
    reduced = reduce_to_lipcst(instance, via=via)
    lipcst = reduced.lipcst
    optimum, certificate = instance.brute_force()
    # LIP-CST side by brute force over every hidden pattern, mapped back by the composed value map
    upper = pattern_brute_force(lipcst.M1, lipcst.M2)
    assert lipcst.is_integer and isinstance(upper.item(), int)
    assert reduced.chain.source_value(int(upper), reduced.inverse) == optimum
    # the source optimum goes forward to a witness of exactly L(f)^2, and back to an optimum
    there = reduced.map_forward(Solution.of(instance, certificate))
    assert there.value == upper and there.witness is not None
    assert lipcst.value_at(there.witness) == upper
    assert np.isclose(autograd_norm_squared(lipcst.M1, lipcst.M2, there.witness), upper)
    back = reduced.map_back(Solution(there.value, there.pattern, there.witness, None))
    assert back.value == optimum
    return reduced, int(upper)


@settings(max_examples=30)
@given(maxcut_instances(max_nodes=7, low=-2, high=3))
def test_maxcut_chains_preserve_the_optimum(graph):
    for via in ("pm1", "01"):
        if via == "01" and graph.has_negative_weights:
            with pytest.raises(InvalidInputError, match="via"):
                to_lipcst(graph, via="01")
            continue
        check_chain_end_to_end(graph, via)


@settings(max_examples=30)
@given(qubo_instances(max_size=6, low=-4, high=4))
def test_qubo_chain_preserves_the_optimum(qubo):
    reduced, value = check_chain_end_to_end(qubo, None)
    assert reduced.chain.names[0] == "qubo_to_maxcut"
    offset, scale = reduced.value_map
    assert scale < 0 and (value - offset) / scale == qubo.brute_force()[0]


@settings(max_examples=20)
@given(qubo_instances(max_size=5, low=-3, high=3))
def test_every_qubo_assignment_maps_forward_and_back_with_its_value(qubo):
    reduced = reduce_to_lipcst(qubo, via="pm1")
    graph = reduced.inverse.steps[1].source
    connected = np.any(graph.weights[1:] != 0, axis=1)  # an isolated variable's value is arbitrary
    for x in itertools.product([0, 1], repeat=qubo.n):
        there = reduced.map_forward(Solution.of(qubo, x))
        assert reduced.chain.source_value(there.value, reduced.inverse) == qubo.value(x)
        back = reduced.map_back(Solution(there.value, there.pattern, None, there.pattern))
        assert back.value == qubo.value(x)
        assert np.array_equal(back.certificate[connected], np.array(x)[connected])


def test_solver_answer_maps_back_to_an_optimal_cut():
    graph = MaxCut.from_edges(5, [(0, 1), (1, 2), (2, 3), (3, 4), (4, 0), (0, 2, 2)])
    reduced = reduce_to_lipcst(graph)
    result = lipexact.lipschitz(lipexact.TwoLayerReLU(reduced.lipcst.M1, reduced.lipcst.M2), method="brute")
    cut = reduced.map_back(Solution.at_witness(reduced.lipcst, result.witness))
    assert cut.value == graph.brute_force()[0] == round(result.value ** 2)


def test_to_lipcst_choices_and_errors():
    assert to_lipcst(ConvexQuadratic01([[1]])).names == ["01_to_lipcst"]
    assert to_lipcst(ConvexQuadraticPM1([[1]])).names == ["pm1_to_lipcst"]
    assert to_lipcst(LipCst([[1]], [[1]])).names == [] and to_lipcst(LipCst([[1]], [[1]])).name == "identity"
    assert to_lipcst(QUBO([[-1, 0], [0, -1]])).names == ["qubo_to_maxcut", "maxcut_to_01", "01_to_lipcst"]
    with pytest.raises(InvalidInputError, match="via"):
        to_lipcst(ConvexQuadratic01([[1]]), via="pm1")
    with pytest.raises(InvalidInputError, match="via"):
        to_lipcst(MaxCut.from_edges(2, [(0, 1)]), via="zero-one")
    with pytest.raises(InvalidInputError, match="instance"):
        to_lipcst("a graph")


def test_identity_chain_maps_lipcst_solutions_to_themselves():
    problem = LipCst([[1, 0], [0, 1]], [[1, 1]])
    reduced = reduce_to_lipcst(problem)
    solution = Solution.at_witness(problem, [1.0, 1.0])
    assert reduced.map_back(solution) is solution and reduced.value_map == (0, 1)


def test_chain_composes_value_maps_and_checks_inverse_data():
    graph = MaxCut.from_edges(3, [(0, 1, -1), (1, 2, 2)])
    chain = Chain([MaxCutToPM1(), REDUCTIONS["pm1_to_lipcst"]])
    target, inverse = chain.apply(graph)
    assert chain.accepts(graph) and not Chain([MaxCutTo01()]).accepts(graph)
    assert chain.value_map(inverse) == (2 * 3, 4)
    with pytest.raises(InvalidInputError, match="inverse"):
        Chain([MaxCutToPM1()]).invert(Solution(0, np.zeros(3)), inverse)


def test_threshold_becomes_an_exact_ell_squared():
    graph = MaxCut.from_edges(3, [(0, 1), (1, 2), (0, 2)])
    assert reduce_to_lipcst(graph, threshold=2).lipcst.ell_squared == 2
    assert reduce_to_lipcst(graph, via="pm1", threshold=2).lipcst.ell_squared == 8
    assert reduce_to_lipcst(graph, via="pm1", threshold=Fraction(3, 2)).lipcst.ell_squared == 6
    assert reduce_to_lipcst(graph, threshold=-5).lipcst.ell_squared == 0


def test_reduced_instance_json_round_trip():
    qubo = QUBO([[-3, 2, 0], [2, -1, 1], [0, 1, 2]])
    reduced = reduce_to_lipcst(qubo, threshold=-3)
    data = reduced.to_dict()
    back = from_dict(data)
    assert isinstance(back, ReducedInstance) and back.chain.names == reduced.chain.names
    assert np.array_equal(back.lipcst.M1, reduced.lipcst.M1) and back.lipcst.ell_squared == reduced.lipcst.ell_squared
    assert back.value_map == reduced.value_map
    value, pattern = back.lipcst.brute_force()
    assert back.map_back(Solution.of(back.lipcst, pattern)).value == qubo.brute_force()[0]
    assert isinstance(from_dict(data["inverse"]), ChainInverse)
    broken = dict(data, chain=["maxcut_to_01"])
    with pytest.raises(InvalidInputError, match="inverse"):
        ReducedInstance.from_dict(broken)
    with pytest.raises(InvalidInputError, match="chain"):
        ReducedInstance.from_dict(dict(data, chain=["nope"]))
    tampered = dict(data, lipcst=dict(data["lipcst"], M1=(np.array(data["lipcst"]["M1"]) * 2).tolist()))
    with pytest.raises(InvalidInputError, match="lipcst"):
        ReducedInstance.from_dict(tampered)
    with pytest.raises(InvalidInputError, match="source"):
        ReducedInstance.from_dict(dict(data, source=QUBO([[1]]).to_dict()))
    steps = [dict(step) for step in data["inverse"]["steps"]]
    steps[1]["source"] = QUBO([[1]]).to_dict()      # maxcut_to_pm1 with a QUBO source
    with pytest.raises(InvalidInputError, match="inverse.source"):
        ReducedInstance.from_dict(dict(data, inverse=dict(data["inverse"], steps=steps)))


@pytest.mark.parametrize("instance", [
    QUBO([[-1.5, 0.25, 0.0], [0.25, 2.0, -1.0], [0.0, -1.0, 0.5]]),
    MaxCut.from_edges(4, [(0, 1, 2.5), (1, 2, 0.5), (2, 3, 1.0), (0, 3, 3.0), (0, 2, 2.0)]),
])
def test_float_data_goes_through_with_float_values(instance):
    for via in ("pm1", "01"):
        try:
            reduced = reduce_to_lipcst(instance, via=via)
        except InvalidInputError:
            continue
        optimum, certificate = instance.brute_force()
        there = reduced.map_forward(Solution.of(instance, certificate))
        assert there.witness is not None
        assert np.isclose(reduced.chain.source_value(reduced.lipcst.value_at(there.witness), reduced.inverse),
                          optimum)
        value, pattern = reduced.lipcst.brute_force()
        assert np.isclose(reduced.chain.source_value(value, reduced.inverse), optimum)
        assert np.isclose(reduced.map_back(Solution.of(reduced.lipcst, pattern)).value, optimum)
