import numpy as np
import pytest
from hypothesis import given

from reductions.base import Solution
from reductions.instances import ConvexQuadratic01, ConvexQuadraticPM1, MaxCut
from reductions.maxcut import MaxCutTo01, MaxCutToPM1, gershgorin_shift
from reductions.validation import InvalidInputError

from .strategies import maxcut_instances


@given(maxcut_instances(max_nodes=9, low=-3, high=3))
def test_pm1_reduction_preserves_the_optimum_exactly(graph):
    reduction = MaxCutToPM1()
    assert reduction.accepts(graph)
    target, inverse = reduction.apply(graph)
    assert isinstance(target, ConvexQuadraticPM1) and target.H.dtype == np.int64
    optimum, side = graph.brute_force()
    value, s = target.brute_force()
    assert reduction.source_value(value, inverse) == target.source_value(value) == optimum
    assert isinstance(reduction.source_value(value, inverse), int)
    back = reduction.invert(Solution.of(target, s), inverse)          # target optimum -> a maximum cut
    assert back.value == optimum == graph.cut_value(back.certificate)
    there = reduction.forward(Solution.of(graph, side), inverse)      # a maximum cut -> target optimum
    assert there.value == value == reduction.map_threshold(optimum, inverse)


@given(maxcut_instances(max_nodes=9, low=-3, high=3))
def test_pm1_certificates_map_both_ways_with_equal_values(graph):
    reduction = MaxCutToPM1()
    target, inverse = reduction.apply(graph)
    rng = np.random.default_rng(graph.n)
    for side in rng.integers(0, 2, (5, graph.n)).astype(bool):
        there = reduction.forward(Solution.of(graph, side), inverse)
        assert there.value == target.value(there.certificate)
        assert target.source_value(there.value) == graph.cut_value(side)
        back = reduction.invert(there, inverse)
        assert np.array_equal(back.certificate, side) and back.value == graph.cut_value(side)


@given(maxcut_instances(max_nodes=9, low=-4, high=3))
def test_gershgorin_shift_makes_the_laplacian_psd(graph):
    shift = gershgorin_shift(graph)
    assert isinstance(shift, int) and shift >= 0
    smallest = np.linalg.eigvalsh(graph.laplacian().astype(float))[0]
    assert shift >= -smallest - 1e-9
    assert (shift == 0) == (not graph.has_negative_weights)


@given(maxcut_instances(max_nodes=9, low=0, high=4))
def test_01_reduction_preserves_the_optimum_and_maps_certificates(graph):
    reduction = MaxCutTo01()
    assert reduction.accepts(graph)
    target, inverse = reduction.apply(graph)
    assert isinstance(target, ConvexQuadratic01) and np.array_equal(target.H, graph.laplacian())
    optimum, side = graph.brute_force()
    value, s = target.brute_force()
    assert value == optimum
    assert reduction.invert(Solution.of(target, s), inverse).value == optimum
    assert reduction.forward(Solution.of(graph, side), inverse).value == optimum
    rng = np.random.default_rng(1)
    for side in rng.integers(0, 2, (5, graph.n)).astype(bool):
        there = reduction.forward(Solution.of(graph, side), inverse)
        back = reduction.invert(there, inverse)
        assert there.value == back.value == graph.cut_value(side)
        assert np.array_equal(back.certificate, side)


def test_01_reduction_refuses_negative_weights():
    graph = MaxCut.from_edges(3, [(0, 1, 2), (1, 2, -1)])
    assert not MaxCutTo01().accepts(graph)
    with pytest.raises(InvalidInputError, match="non-negative edge weights"):
        MaxCutTo01().apply(graph)
    assert not MaxCutToPM1().accepts("not a graph")


def test_float_weights_give_a_float_map_that_still_agrees():
    graph = MaxCut.from_edges(3, [(0, 1, 1.5), (1, 2, -0.25), (0, 2, 2.0)])
    target, inverse = MaxCutToPM1().apply(graph)
    assert gershgorin_shift(graph) == 1
    value, s = target.brute_force()
    assert np.isclose(target.source_value(value), graph.brute_force()[0])


def test_inverse_data_of_another_reduction_is_rejected():
    graph = MaxCut.from_edges(2, [(0, 1)])
    _, inverse = MaxCutTo01().apply(graph)
    with pytest.raises(InvalidInputError, match="inverse"):
        MaxCutToPM1().invert(Solution(1, np.array([1, -1])), inverse)
