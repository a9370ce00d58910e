import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lipexact.io import load
from lipexact.reduce import main
from reductions.base import Solution
from reductions.chain import ReducedInstance
from reductions.instances import QUBO, MaxCut

PETERSEN_RUDY = "10 15 \n" + "\n".join(
    f"{i} {j} 1" for i, j in [(1, 2), (1, 5), (1, 6), (2, 3), (2, 7), (3, 4), (3, 8), (4, 5), (4, 9), (5, 10),
                              (6, 8), (6, 9), (7, 9), (7, 10), (8, 10)]) + "\n"


def write(path: Path, content) -> Path:
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def test_json_round_trip_preserves_the_optimum(tmp_path):
    graph = MaxCut.from_edges(5, [(0, 1, 2), (1, 2, -1), (2, 3, 3), (3, 4, 1), (4, 0, 1), (0, 2, 1)])
    source = write(tmp_path / "g.json", graph.to_dict())
    out = tmp_path / "out.json"
    assert main([str(source), "-o", str(out)]) == 0
    reduced = load(out)
    assert isinstance(reduced, ReducedInstance)
    assert reduced.chain.names == ["maxcut_to_pm1", "pm1_to_lipcst"]
    value, pattern = reduced.lipcst.brute_force()
    back = reduced.map_back(Solution.of(reduced.lipcst, pattern))
    assert back.value == graph.brute_force()[0] == reduced.chain.source_value(value, reduced.inverse)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left


def test_rudy_file_solve_prints_the_cut(tmp_path, capsys):
    source = write(tmp_path / "petersen", PETERSEN_RUDY)
    out = tmp_path / "out.json"
    assert main([str(source), "-o", str(out), "--solve", "--method", "brute"]) == 0
    captured = capsys.readouterr()
    assert "maxcut_to_01" in captured.err and "01_to_lipcst" in captured.err
    assert "status: optimal" in captured.out and "maximum cut value: 12" in captured.out
    assert "agrees with" in captured.out
    document = json.loads(out.read_text())
    solution = document["solution"]["source_solution"]
    assert solution["value"] == 12 and document["solution"]["mapped_value"] == 12
    side = np.array(solution["certificate"], dtype=bool)
    assert MaxCut.from_dict(document["source"]).cut_value(side) == 12
    assert document["solution"]["lipschitz_result"]["status"] == "optimal"


def test_qubo_file_to_stdout_with_pm1_and_threshold(tmp_path, capsys):
    source = write(tmp_path / "q.sparse", "3 4\n1 1 -3\n1 2 2\n2 2 -1\n2 3 1\n")
    assert main([str(source), "--to", "pm1", "--threshold", "-3", "--solve", "--method", "brute"]) == 0
    captured = capsys.readouterr()
    document = json.loads(captured.out)                     # stdout holds only the JSON document
    assert document["type"] == "lipcst_reduction" and document["chain"][0] == "qubo_to_maxcut"
    assert "minimum QUBO value: -3" in captured.err and "decision: yes" in captured.err
    qubo = QUBO.from_dict(document["source"])
    assert qubo.brute_force()[0] == -3 == document["solution"]["source_solution"]["value"]


def test_format_option_overrides_the_extension(tmp_path, capsys):
    source = write(tmp_path / "data.txt", "2 2\n1 1 -1\n2 2 -1\n")
    assert main([str(source), "--format", "qubo"]) == 0
    assert json.loads(capsys.readouterr().out)["source"]["type"] == "qubo"


@pytest.mark.parametrize("name, content, argv, field", [
    ("bad.json", '{"type": "maxcut", "n": 2,', [], "bad.json"),
    ("unknown.json", {"type": "graph", "n": 2}, [], "type"),
    ("shape.json", {"type": "lipcst", "M1": [[1, 2]], "M2": [[1, 1]]}, [], "M2"),
    ("nan.json", '{"type": "qubo", "Q": [[NaN]]}', [], "(json)"),
    ("inf.json", '{"type": "qubo", "Q": [[1e999]]}', [], "Q"),
    ("asym.json", {"type": "qubo", "Q": [[1, 2], [3, 4]]}, [], "Q"),
    ("psd.json", {"type": "convex_quadratic_01", "H": [[1, 2], [2, 1]]}, [], "H"),
    ("ell.json", {"type": "lipcst", "M1": [[1]], "M2": [[1]], "ell": -1}, [], "ell"),
    ("empty.json", {"type": "maxcut", "n": 0, "edges": []}, [], "n"),
    ("empty.rudy", "0 0\n", [], "empty.rudy line 1"),
    ("edge.rudy", "3 1\n1 4 1\n", [], "edge.rudy line 2"),
    ("neg.json", {"type": "maxcut", "n": 2, "edges": [[0, 1, -1]]}, ["--to", "01"], "--to"),
    ("ok.json", {"type": "maxcut", "n": 2, "edges": [[0, 1]]}, ["--time-limit", "0", "--solve"], "--time-limit"),
    ("ok.json", {"type": "maxcut", "n": 2, "edges": [[0, 1]]}, ["--threshold", "x"], "--threshold"),
    ("ok.json", {"type": "maxcut", "n": 2, "edges": [[0, 1]]}, ["--solve", "--method", "magic"], "--method"),
])
def test_bad_input_exits_2_with_one_line_and_no_output(tmp_path, capsys, name, content, argv, field):
    source = write(tmp_path / name, content)
    out = tmp_path / "out.json"
    assert main([str(source), "-o", str(out), *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("python -m lipexact.reduce: error: ")
    assert field in err[0] and "expected" in err[0]
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_missing_file_and_missing_output_directory(tmp_path, capsys):
    assert main([str(tmp_path / "nope.json"), "-o", str(tmp_path / "out.json")]) == 2
    assert "nope.json: expected an existing file" in capsys.readouterr().err
    source = write(tmp_path / "g.json", {"type": "maxcut", "n": 2, "edges": [[0, 1]]})
    assert main([str(source), "-o", str(tmp_path / "no" / "out.json")]) == 2
    assert "--output" in capsys.readouterr().err


def test_help_explains_every_option():
    run = subprocess.run([sys.executable, "-m", "lipexact.reduce", "--help"], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert run.returncode == 0
    for option in ("--output", "--to", "--format", "--threshold", "--solve", "--method", "--time-limit"):
        assert option in run.stdout
    assert "value map" in run.stdout.lower() or "Value map" in run.stdout


def test_subprocess_run_writes_the_document(tmp_path):
    source = write(tmp_path / "g.rudy", "3 3\n1 2 1\n2 3 1\n1 3 1\n")
    out = tmp_path / "out.json"
    run = subprocess.run([sys.executable, "-m", "lipexact.reduce", str(source), "-o", str(out)],
                         capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
    assert run.returncode == 0, run.stderr
    assert "chain: maxcut (n=3 nodes, 3 edges)" in run.stderr
    assert load(out).lipcst.n_hidden == 3


def test_stopped_search_without_witness_is_reported(tmp_path, capsys):
    source = write(tmp_path / "k3.rudy", "3 3\n1 2 1\n2 3 1\n1 3 1\n")
    out = tmp_path / "out.json"
    assert main([str(source), "-o", str(out), "--solve", "--method", "brute", "--time-limit", "1e-9"]) == 0
    printed = capsys.readouterr().out
    assert "status: time_limit" in printed and "no witness found" in printed
    document = json.loads(out.read_text())
    assert document["solution"]["source_solution"] is None
    assert document["solution"]["lipschitz_result"]["status"] == "time_limit"
