import pytest

from reductions import sizes
from reductions.instances import LipCst, MaxCut
from reductions.reduction_size import require_reduction_fits
from reductions.validation import InvalidInputError


def test_a_small_maxcut_fits():
    assert require_reduction_fits(MaxCut.from_edges(4, [(0, 1), (1, 2), (2, 3)]), None, "g.rudy") is None


def test_the_network_estimate_refuses_when_the_dense_part_alone_would_fit(monkeypatch):
    graph = MaxCut.from_edges(40, [(i, j) for i in range(40) for j in range(i + 1, 40)])
    dense_only = sizes.dense_bytes(40, 40, copies=8)
    monkeypatch.setattr(sizes, "available_memory", lambda: dense_only + 1)
    with pytest.raises(InvalidInputError, match=r"g\.rudy.*non-zero pairs"):
        require_reduction_fits(graph, None, "g.rudy")


def test_the_dense_estimate_refuses_first(monkeypatch):
    graph = MaxCut.from_edges(40, [(0, 1)])
    monkeypatch.setattr(sizes, "available_memory", lambda: 1000)
    with pytest.raises(InvalidInputError, match=r"g\.rudy.*n = 40\b"):
        require_reduction_fits(graph, None, "g.rudy")


def test_a_lipcst_instance_needs_no_estimate(monkeypatch):
    instance = LipCst([[1.0, 0.0], [0.0, 1.0]], [[1.0, 1.0]])
    monkeypatch.setattr(sizes, "available_memory", lambda: 1)
    assert require_reduction_fits(instance, None, "net.json") is None
