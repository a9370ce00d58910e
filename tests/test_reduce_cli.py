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
    ("huge.rudy", "100000 1\n1 2 1\n", [], "huge.rudy line 1: expected a size whose dense arrays fit in memory"),
    ("huge.sparse", "1000000000 0\n", [], "got n = 1000000000 (needs about"),
    ("huge.json", {"type": "maxcut", "n": 10**9, "edges": [[0, 1]]}, [], "n: expected a size whose dense arrays"),
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


def _error_result(*args, **kwargs):
    from lipexact.result import LipschitzResult, Status

    return LipschitzResult(Status.ERROR, None, "milp", message="the solver broke down")


def test_solver_error_exits_1_and_still_writes_the_document(tmp_path, monkeypatch, capsys):
    import lipexact.exact

    monkeypatch.setattr(lipexact.exact, "lipschitz", _error_result)
    source = write(tmp_path / "k3.rudy", "3 3\n1 2 1\n2 3 1\n1 3 1\n")
    out = tmp_path / "out.json"
    assert main([str(source), "-o", str(out), "--solve"]) == 1
    assert "status: error" in capsys.readouterr().out
    assert json.loads(out.read_text())["solution"]["lipschitz_result"]["status"] == "error"


def test_unwritable_output_folder_is_refused_before_reading_or_solving(tmp_path, monkeypatch, capsys):
    import lipexact.exact
    from reductions import files

    calls = []
    monkeypatch.setattr(lipexact.exact, "lipschitz", lambda *a, **k: calls.append(a))
    monkeypatch.setattr(files, "_writable", lambda path: False)
    source = write(tmp_path / "k3.rudy", "3 3\n1 2 1\n2 3 1\n1 3 1\n")
    assert main([str(source), "-o", str(tmp_path / "out.json"), "--solve"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert calls == [] and len(err) == 1 and "-o/--output" in err[0] and "not writable" in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k3.rudy"]


def test_a_reduction_that_cannot_fit_in_memory_is_refused_before_it_is_built(tmp_path, monkeypatch, capsys):
    from reductions import sizes

    n = 120                                  # K_120: dense arrays of about 1 MiB, a 120 x 7140 network
    lines = [f"{i} {j} 1" for i in range(1, n + 1) for j in range(i + 1, n + 1)]
    source = write(tmp_path / "k120.rudy", f"{n} {len(lines)}\n" + "\n".join(lines) + "\n")
    monkeypatch.setattr(sizes, "available_memory", lambda: 4 * 2**20)
    assert main([str(source), "-o", str(tmp_path / "out.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "k120.rudy: expected a size whose dense arrays fit in memory (4 MiB available)" in err[0]
    assert "7140 non-zero pairs" in err[0] and not (tmp_path / "out.json").exists()


# ------------------------------------------------------------------ mapped-back bounds (source_bound)
def _at(upper):
    from lipexact.result import LipschitzResult

    return LipschitzResult("time_limit", upper, "milp", lower=upper, upper=upper)


def _float_map(reduced, upper):
    """The former mapping: square in float and map in float."""
    from reductions.instances import source_value

    return float(source_value(float(upper) ** 2, *reduced.value_map))


@pytest.mark.parametrize("instance, optimum", [
    (MaxCut.from_edges(2, [(0, 1, 3)]), 3),                          # sqrt(3) ** 2 == 2.9999999999999996
    (MaxCut.from_edges(3, [(0, 1, 13), (1, 2, -2)]), 13),           # via pm1: offset and scale
    (QUBO([[-295]]), -295),                                           # a minimum: the bound must be <= it
    (QUBO([[-3, 2], [2, -1]]), -3),
])
def test_source_bound_at_the_float_square_root_lands_on_the_right_side(instance, optimum):
    import math

    from lipexact.reduce import source_bound
    from reductions.chain import reduce_to_lipcst
    from reductions.instances import target_value

    reduced = reduce_to_lipcst(instance)
    assert instance.brute_force()[0] == optimum
    upper = math.sqrt(target_value(optimum, *reduced.value_map))  # what a solver reports at the optimum
    bound = source_bound(reduced, _at(upper))
    assert bound == optimum and isinstance(bound, int)
    maximum = reduced.value_map[1] > 0
    if optimum in (3, -295):                                          # the float map lands on the wrong side
        assert (_float_map(reduced, upper) < optimum) if maximum else (_float_map(reduced, upper) > optimum)


def test_source_bound_squares_exactly_and_rounds_outward_to_an_integer():
    import math

    from lipexact.reduce import source_bound
    from reductions.chain import reduce_to_lipcst

    reduced = reduce_to_lipcst(MaxCut.from_edges(2, [(0, 1, 3)]))      # value map: identity
    assert source_bound(reduced, _at(math.sqrt(3.9))) == 3             # L(f)^2 <= 3.9: the cut is at most 3
    assert source_bound(reduced, _at(2.0)) == 4
    assert source_bound(reduced, _at(math.nextafter(2.0, 3.0))) == 4
    assert source_bound(reduced, _at(float("inf"))) is None
    negative = reduce_to_lipcst(MaxCut.from_edges(3, [(0, 1, 13), (1, 2, -2)]))   # pm1: scale 4
    offset, scale = negative.value_map
    assert scale == 4
    assert source_bound(negative, _at(math.sqrt(offset + 13 * scale + 2))) == 13  # 13.5 rounds down to 13



def test_source_bound_rounds_an_integer_network_square_down_before_mapping():
    import math

    from lipexact.reduce import source_bound
    from reductions.chain import reduce_to_lipcst
    from reductions.instances import ConvexQuadraticPM1, LipCst

    quadratic = reduce_to_lipcst(ConvexQuadraticPM1([[2, -1], [-1, 2]]))     # max of s^T H s, an integer
    assert source_bound(quadratic, _at(math.sqrt(6.5))) == 6                # not 13/2: L(f)^2 is an integer
    lipcst = reduce_to_lipcst(LipCst([[1, 0], [0, 1], [1, 1]], [[1, 1, 1]]))
    assert source_bound(lipcst, _at(math.sqrt(8.7))) == 8


def test_source_bound_of_float_data_is_rounded_outward():
    from fractions import Fraction

    from lipexact.reduce import UPPER_MARGIN, source_bound
    from reductions.chain import reduce_to_lipcst

    reduced = reduce_to_lipcst(QUBO([[-0.3, 0.1], [0.1, -0.7]]))
    offset, scale = reduced.value_map
    rounded_up = 0
    for upper in np.linspace(1.0, 2.0, 41):
        exact = ((Fraction(upper) * (1 + UPPER_MARGIN)) ** 2 - Fraction(offset)) / Fraction(scale)
        bound = source_bound(reduced, _at(float(upper)))
        assert isinstance(bound, float) and Fraction(bound) <= exact  # a lower bound on a minimum: rounded down
        assert exact - Fraction(bound) < Fraction(1, 10**12)
        rounded_up += Fraction(float(exact)) > exact
    assert rounded_up > 0                                              # nearest rounding would have gone wrong


def test_source_bound_in_the_document_is_exact(tmp_path, monkeypatch):
    import math

    import lipexact.exact
    from lipexact.result import LipschitzResult

    def at_float_sqrt(net, **kwargs):                 # a solver stopped at the float square root of the optimum
        return LipschitzResult("time_limit", None, "milp", upper=math.sqrt(3))

    monkeypatch.setattr(lipexact.exact, "lipschitz", at_float_sqrt)
    source = write(tmp_path / "edge.rudy", "2 1\n1 2 3\n")
    out = tmp_path / "out.json"
    assert main([str(source), "-o", str(out), "--solve"]) == 0
    assert json.loads(out.read_text())["solution"]["source_bound"] == 3


INSTANCES = Path(__file__).resolve().parents[2] / "shared" / "instances"


@pytest.mark.skipif(not (INSTANCES / "qubo" / "beasley" / "bqp50-2.sparse").is_file(),
                    reason=f"shared instances not found at {INSTANCES}")
def test_bqp50_2_bound_is_the_optimum(tmp_path, capsys):
    out = tmp_path / "out.json"
    assert main([str(INSTANCES / "qubo" / "beasley" / "bqp50-2.sparse"), "-o", str(out), "--solve", "--method",
                 "milp", "--time-limit", "120"]) == 0
    solution = json.loads(out.read_text())["solution"]
    assert solution["lipschitz_result"]["status"] == "optimal"
    assert solution["source_bound"] == solution["source_solution"]["value"] == -3702
