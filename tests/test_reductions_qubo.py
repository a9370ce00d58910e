import itertools

import numpy as np
from hypothesis import given

from reductions.base import Solution
from reductions.instances import QUBO, MaxCut
from reductions.qubo import QUBOToMaxCut

from .strategies import qubo_instances


@given(qubo_instances(max_size=7))
def test_every_assignment_has_qubo_value_minus_its_cut(qubo):
    reduction = QUBOToMaxCut()
    graph, inverse = reduction.apply(qubo)
    assert isinstance(graph, MaxCut) and graph.n == qubo.n + 1 and graph.weights.dtype == np.int64
    for x in itertools.product([0, 1], repeat=qubo.n):
        there = reduction.forward(Solution.of(qubo, x), inverse)
        assert there.value == graph.cut_value(there.certificate) == -qubo.value(x)
        assert reduction.source_value(there.value, inverse) == qubo.value(x)
        back = reduction.invert(there, inverse)
        assert back.certificate.tolist() == list(x) and back.value == qubo.value(x)


@given(qubo_instances(max_size=8))
def test_optimum_is_preserved_and_maps_back(qubo):
    reduction = QUBOToMaxCut()
    graph, inverse = reduction.apply(qubo)
    minimum, x = qubo.brute_force()
    maximum, side = graph.brute_force()
    assert minimum == -maximum == reduction.source_value(maximum, inverse)
    assert reduction.map_threshold(minimum, inverse) == maximum
    back = reduction.invert(Solution.of(graph, side), inverse)
    assert back.value == minimum
    flipped = reduction.invert(Solution.of(graph, ~side), inverse)  # node 0 on either side
    assert flipped.value == minimum and np.array_equal(flipped.certificate, back.certificate)


def test_documented_weights():
    graph, _ = QUBOToMaxCut().apply(QUBO([[1, -2, 0], [-2, 3, 4], [0, 4, -5]]))
    # w(0, i+1) = -(row sum of Q), w(i+1, j+1) = Q_ij
    assert graph.weights[0, 1:].tolist() == [1, -5, 1]
    assert graph.weights[1:, 1:].tolist() == [[0, -2, 0], [-2, 0, 4], [0, 4, 0]]
