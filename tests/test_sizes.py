import networkx as nx
import pytest

from reductions import sizes
from reductions.instances import MaxCut
from reductions.validation import InvalidInputError


def test_available_memory_falls_back_source_by_source(monkeypatch):
    def broken():
        raise OSError("no answer")

    monkeypatch.setattr(sizes, "SOURCES", (broken, lambda: None, lambda: 12345))
    assert sizes.available_memory() == 12345
    monkeypatch.setattr(sizes, "SOURCES", (broken, lambda: 0, lambda: None))
    assert sizes.available_memory() == sizes.FALLBACK_BYTES


def test_each_source_answers_or_fails_cleanly():
    for source in sizes.SOURCES:
        try:
            value = source()
        except Exception:
            continue
        assert value is None or value > 0


def test_require_fits_names_the_field_and_the_size(monkeypatch):
    monkeypatch.setattr(sizes, "available_memory", lambda: 3 * 2**30)
    sizes.require_fits(3 * 2**30, "n", "n = 1")
    with pytest.raises(InvalidInputError) as error:
        sizes.require_fits(sizes.dense_bytes(20000, 20000, copies=4), "g line 1", "n = 20000")
    assert str(error.value) == ("g line 1: expected a size whose dense arrays fit in memory (3 GiB available), "
                                "got n = 20000 (needs about 11.9 GiB)")


@pytest.mark.parametrize("build", [lambda: MaxCut.from_edges(10**9, [(0, 1)]),
                                   lambda: MaxCut.from_dict({"type": "maxcut", "n": 200000, "edges": []}),
                                   lambda: MaxCut.from_networkx(nx.empty_graph(200000))])
def test_maxcut_with_a_huge_declared_size_is_refused(build):
    with pytest.raises(InvalidInputError, match="fit in memory"):
        build()
