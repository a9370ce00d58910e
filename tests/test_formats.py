from pathlib import Path

import numpy as np
import pytest
from hypothesis import given

from reductions.formats import (
    format_qubo_sparse,
    format_rudy,
    guess_format,
    parse_qubo_sparse,
    parse_rudy,
    read_qubo_sparse,
    read_rudy,
    read_text_instance,
    write_qubo_sparse,
    write_rudy,
)
from reductions.instances import QUBO, MaxCut
from reductions.validation import InvalidInputError

from .strategies import maxcut_instances, qubo_instances

INSTANCES = Path(__file__).resolve().parents[2] / "shared" / "instances"
needs_instances = pytest.mark.skipif(not INSTANCES.is_dir(),
                                     reason=f"shared instances not found at {INSTANCES}")


@given(maxcut_instances(max_nodes=9))
def test_rudy_text_round_trip(graph):
    back = parse_rudy(format_rudy(graph))
    assert np.array_equal(back.weights, graph.weights) and back.weights.dtype == np.int64


@given(qubo_instances(max_size=9))
def test_qubo_sparse_text_round_trip(qubo):
    back = parse_qubo_sparse(format_qubo_sparse(qubo))
    assert np.array_equal(back.Q, qubo.Q)


def test_file_round_trips_and_float_weights(tmp_path):
    graph = MaxCut.from_edges(4, [(0, 1, 2.5), (2, 3, -1.25)])
    write_rudy(graph, tmp_path / "g.rudy")
    assert np.array_equal(read_rudy(tmp_path / "g.rudy").weights, graph.weights)
    qubo = QUBO([[1, -2], [-2, 0]])
    write_qubo_sparse(qubo, tmp_path / "q.sparse")
    assert read_qubo_sparse(tmp_path / "q.sparse").Q.tolist() == [[1, -2], [-2, 0]]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.rudy", "q.sparse"]  # no temporary left


def test_header_with_trailing_spaces_blank_lines_and_lower_triangle_entries():
    graph = parse_rudy("3 2   \n\n1 2 1 \n3 2 4\n\n")
    assert graph.weights.tolist() == [[0, 1, 0], [1, 0, 4], [0, 4, 0]]
    assert parse_qubo_sparse("2 2\n2 1 3\n2 2 -1\n").Q.tolist() == [[0, 3], [3, -1]]


@pytest.mark.parametrize("text, line, expected", [
    ("", None, "header"),
    ("3\n", 1, "header"),
    ("a b\n", 1, "header"),
    ("0 0\n", 1, "n >= 1"),
    ("3 2\n1 2 1\n", 3, "2 entry lines"),
    ("3 1\n1 2 1\n2 3 1\n", 3, "only 1 entry lines"),
    ("3 1\n1 2\n", 2, "three fields"),
    ("3 1\n1 4 1\n", 2, "indices in 1..3"),
    ("3 1\n0 2 1\n", 2, "indices in 1..3"),
    ("3 1\n1 x 1\n", 2, "integer indices"),
    ("3 1\n1 2 w\n", 2, "a number"),
    ("3 1\n1 2 nan\n", 2, "finite"),
    ("3 2\n1 2 1\n2 1 1\n", 3, "listed once"),
    ("3 1\n2 2 1\n", 2, "no self-loops"),
])
def test_rudy_errors_name_the_line(text, line, expected):
    with pytest.raises(InvalidInputError) as error:
        parse_rudy(text, "g.txt")
    assert error.value.field == ("g.txt" if line is None else f"g.txt line {line}")
    assert expected in str(error.value)


def test_qubo_errors_name_the_line():
    with pytest.raises(InvalidInputError, match="q line 3: expected each pair listed once"):
        parse_qubo_sparse("2 2\n1 2 1\n2 1 1\n", "q")
    with pytest.raises(InvalidInputError, match="missing: expected an existing file"):
        read_qubo_sparse("missing")


def test_guess_format(tmp_path):
    (tmp_path / "a").write_text("{}")
    (tmp_path / "b.0").write_text("2 1\n1 2 1\n")
    assert [guess_format(tmp_path / p) for p in ("a", "b.0")] == ["json", "rudy"]
    assert guess_format("x.json") == "json" and guess_format("bqp50-1.sparse") == "qubo"
    assert guess_format("x.rudy") == "rudy"
    with pytest.raises(InvalidInputError, match="format"):
        read_text_instance(tmp_path / "a", "csv")


@needs_instances
def test_shared_files_have_the_right_sizes():
    graph = read_rudy(INSTANCES / "maxcut" / "rudy" / "g05_60.0")
    assert graph.n == 60 and len(graph.edges) == 885
    assert set(np.unique(graph.weights)) == {0, 1}
    qubo = read_qubo_sparse(INSTANCES / "qubo" / "beasley" / "bqp50-1.sparse")
    upper = np.count_nonzero(np.triu(qubo.Q))
    assert qubo.n == 50 and upper == 111
    petersen = read_text_instance(INSTANCES / "classic" / "petersen", guess_format(INSTANCES / "classic" / "petersen"))
    assert petersen.n == 10 and len(petersen.edges) == 15


@pytest.mark.parametrize("parse, text", [(parse_rudy, "100000 1\n1 2 1\n"), (parse_qubo_sparse, "1000000000 0\n"),
                                         (parse_rudy, "123456789012 0\n")])
def test_a_header_whose_matrix_cannot_fit_is_refused_naming_the_size(parse, text):
    n = text.split()[0]
    with pytest.raises(InvalidInputError) as error:
        parse(text, "big.txt")
    assert error.value.field == "big.txt line 1"
    assert "fit in memory" in error.value.expected and error.value.got.startswith(f"n = {n} (needs about")


def test_the_size_check_uses_the_memory_available(monkeypatch):
    from reductions import sizes

    text = "300 1\n1 2 -1\n"                              # 4 dense copies of 300 x 300 int64: about 2.7 MiB
    assert parse_qubo_sparse(text).n == 300
    monkeypatch.setattr(sizes, "available_memory", lambda: 2**20)
    expected = r"q line 1: .*\(1 MiB available\), got n = 300 \(needs about 2.75 MiB\)"
    with pytest.raises(InvalidInputError, match=expected):
        parse_qubo_sparse(text, "q")
