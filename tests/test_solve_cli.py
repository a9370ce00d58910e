import json
import subprocess
import sys

import numpy as np
import pytest

from lipexact import TwoLayerReLU, lipschitz
from lipexact.io import save
from lipexact.result import LipschitzResult, Status
from lipexact.solve import main

NET = TwoLayerReLU([[1, 2], [-1, 1], [2, -1]], [[1, -1, 2]], b1=[0, 1, -1])


@pytest.fixture
def net_file(tmp_path):
    path = tmp_path / "net.json"
    save(NET, path)
    return path


def test_solves_and_writes_the_certified_result(net_file, tmp_path, capsys):
    out = tmp_path / "result.json"
    assert main([str(net_file), "--method", "brute", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    document = json.loads(out.read_text())
    assert document["status"] == "optimal" and document["success"] is True
    assert document["value"] == pytest.approx(lipschitz(NET).value)
    assert "witness x" in printed and "optimal" in printed


def test_norm_and_box_options(net_file, capsys):
    assert main([str(net_file), "--norm", "inf", "--box", "-1", "1"]) == 0
    assert "optimal" in capsys.readouterr().out


@pytest.mark.parametrize(
    "content, field",
    [
        ("{not json", "valid JSON"),
        ('{"type": "mystery"}', "type"),
        ('{"type": "two_layer_relu", "W1": [[1, 2]], "W2": [[1, 2]]}', "W2"),
        ('{"type": "two_layer_relu", "W1": [[1, NaN]], "W2": [[1]]}', "finite"),
        ('[1, 2]', "JSON object"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_no_output(tmp_path, content, field):
    source = tmp_path / "bad.json"
    source.write_text(content)
    out = tmp_path / "out.json"
    run = subprocess.run([sys.executable, "-m", "lipexact.solve", str(source), "-o", str(out)],
                         capture_output=True, text=True)
    assert run.returncode == 2
    assert len(run.stderr.strip().splitlines()) == 1 and field in run.stderr
    assert not out.exists()


def test_missing_file_and_bad_options_exit_2(tmp_path, net_file):
    assert main([str(tmp_path / "absent.json")]) == 2
    assert main([str(net_file), "--time-limit", "-3"]) == 2
    with pytest.raises(SystemExit) as exit_info:
        main([str(net_file), "--method", "nope"])
    assert exit_info.value.code == 2


def test_help_lists_every_option(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for option in ("--method", "--norm", "--time-limit", "--box", "--box-file", "--seed", "--progress", "--output"):
        assert option in text


def test_ctrl_c_returns_the_partial_result_with_its_bounds(tmp_path):
    import signal
    import time

    import numpy as np

    rng = np.random.default_rng(0)
    hard = TwoLayerReLU(rng.normal(size=(120, 12)), rng.normal(size=(1, 120)), rng.normal(size=120))
    source, out = tmp_path / "hard.json", tmp_path / "partial.json"
    save(hard, source)
    # a non-interactive shell starts background jobs (`pytest ... &`, a CI script run in the background) with
    # SIGINT ignored, and a child inherits that: Python then installs no KeyboardInterrupt handler and the solve
    # ran on past the test's timeout. The child starts with the default disposition, as under a terminal.
    process = subprocess.Popen([sys.executable, "-m", "lipexact.solve", str(source), "--method", "bnb",
                                "--progress", "-o", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    first_progress_line = process.stderr.readline()
    assert first_progress_line.startswith("[bnb]") and "gap=" in first_progress_line
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    stdout, _ = process.communicate(timeout=60)
    assert process.returncode == 130
    document = json.loads(out.read_text())
    assert document["status"] == "interrupted" and document["success"] is False
    assert document["lower"] <= document["upper"] and "interrupted" in stdout


def _error_result(*args, **kwargs):
    from lipexact.result import LipschitzResult, Status

    return LipschitzResult(Status.ERROR, None, "brute", message="the solver broke down")


def test_solver_error_exits_1_and_still_writes_the_result(net_file, tmp_path, monkeypatch, capsys):
    import lipexact.solve

    monkeypatch.setattr(lipexact.solve, "lipschitz", _error_result)
    out = tmp_path / "result.json"
    assert main([str(net_file), "-o", str(out)]) == 1
    assert "error" in capsys.readouterr().out
    assert json.loads(out.read_text())["status"] == "error"


@pytest.mark.parametrize("writable", [True, False])
def test_output_folder_is_checked_before_solving(net_file, tmp_path, monkeypatch, capsys, writable):
    import lipexact.solve
    from reductions import files

    calls = []
    monkeypatch.setattr(lipexact.solve, "lipschitz", lambda *a, **k: calls.append(a))
    if writable:
        out = tmp_path / "no" / "such" / "result.json"
    else:
        monkeypatch.setattr(files, "_writable", lambda path: False)
        out = tmp_path / "result.json"
    assert main([str(net_file), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert calls == [] and len(err) == 1 and "-o/--output" in err[0] and not out.exists()


def _qubo_network(tmp_path, n=50):
    from reductions import QUBO, reduce_to_lipcst

    rng = np.random.default_rng(1)
    Q = rng.integers(-20, 20, size=(n, n))
    Q = np.triu(Q) + np.triu(Q, 1).T
    Q[rng.random((n, n)) < 0.8] = 0
    Q = np.triu(Q) + np.triu(Q, 1).T
    reduced = reduce_to_lipcst(QUBO(Q), via="pm1")
    source = tmp_path / "qubo.lipcst.json"
    source.write_text(json.dumps(reduced.lipcst.to_dict()))
    return source, reduced.lipcst


def test_progress_sends_the_solver_log_to_stderr_and_stdout_holds_the_result(tmp_path):
    source, lipcst = _qubo_network(tmp_path)
    out = tmp_path / "result.json"
    run = subprocess.run([sys.executable, "-m", "lipexact.solve", str(source), "--method", "milp", "--progress",
                          "-o", str(out)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith("milp: optimal")
    assert [line.split()[0] for line in lines[1:]] == ["witness", "pattern", "stats:"]
    assert "HiGHS" not in run.stdout and "HiGHS" in run.stderr      # the solver's log went to stderr
    assert "[milp]" in run.stderr
    document = json.loads(out.read_text())
    assert len(document["witness"]) == lipcst.n_inputs and len(document["pattern"]) == lipcst.n_hidden


def test_console_shows_a_summary_of_long_vectors_and_the_file_holds_them(tmp_path, capsys):
    rng = np.random.default_rng(3)
    wide = TwoLayerReLU(rng.normal(size=(6, 50)), rng.normal(size=(1, 6)))
    source, out = tmp_path / "wide.json", tmp_path / "result.json"
    save(wide, source)
    assert main([str(source), "--method", "brute", "-o", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) <= 4
    witness_line = next(line for line in printed if line.startswith("witness x"))
    assert "50 coordinates" in witness_line and "||x||_2 = " in witness_line and str(out) in witness_line
    witness = np.array(json.loads(out.read_text())["witness"])
    assert witness.shape == (50,)
    norm = float(witness_line.split("||x||_2 = ")[1].split(";")[0])
    assert norm == pytest.approx(np.linalg.norm(witness), rel=1e-5)
    assert main([str(source), "--method", "brute"]) == 0
    assert "-o writes the full vector" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------- deep networks
DEEP = {"type": "relu_network", "version": 1,
        "layers": [{"weight": [[1, 0], [0, 1]], "bias": [0, 0]}, {"weight": [[1, 1]], "bias": [-1]},
                   {"weight": [[3]], "bias": [0]}]}


def _written(tmp_path, data, name="deep.json"):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


def test_a_deep_network_is_solved_and_written(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main([_written(tmp_path, DEEP), "--norm", "inf", "--box", "0", "1", "-o", str(out)]) == 0
    result = LipschitzResult.from_dict(json.loads(out.read_text()))
    assert result.status is Status.OPTIMAL and result.value == 6.0 and result.certificate["layer_sizes"] == [2, 1]
    assert "optimal" in capsys.readouterr().out
    assert main([_written(tmp_path, DEEP), "--method", "enumerate", "--node-limit", "1", "-o", str(out)]) == 0
    assert LipschitzResult.from_dict(json.loads(out.read_text())).status is Status.NODE_LIMIT


def test_bad_deep_input_exits_2_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "r.json"
    missing_bias_shape = {"type": "relu_network", "layers": [{"weight": [[1.0]], "bias": [0.0, 1.0]},
                                                             {"weight": [[1.0]]}]}
    assert main([_written(tmp_path, missing_bias_shape), "-o", str(out)]) == 2
    assert main([_written(tmp_path, DEEP), "--box", "1", "0", "-o", str(out)]) == 2
    assert main([_written(tmp_path, DEEP), "--node-limit", "0", "-o", str(out)]) == 2
    assert not out.exists()
    assert "error" in capsys.readouterr().err


def test_a_deep_error_status_exits_1(tmp_path, monkeypatch):
    from lipexact import solve

    monkeypatch.setattr(solve, "lipschitz", lambda *a, **k: LipschitzResult(Status.ERROR, None, "enumerate",
                                                                          message="stub"))
    assert main([_written(tmp_path, DEEP)]) == 1


def _box_file(tmp_path, data, name="box.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def test_a_box_given_per_coordinate_gives_the_constant_of_that_box(tmp_path, net_file):
    lower, upper = [-0.5, 0.25], [0.75, 2.0]
    out = tmp_path / "r.json"
    box = _box_file(tmp_path, {"type": "box", "lower": lower, "upper": upper})
    assert main([str(net_file), "--norm", "inf", "--box-file", box, "-o", str(out)]) == 0
    result = LipschitzResult.from_dict(json.loads(out.read_text()))
    expected = lipschitz(NET, norm="inf", domain=(np.array(lower), np.array(upper)))
    assert result.status is Status.OPTIMAL and result.value == pytest.approx(expected.value, rel=1e-12)
    inside = np.asarray(result.witness)
    assert np.all(inside > lower) and np.all(inside < upper)  # the witness lies in that box, not in [-1, 1]^2
    uniform = lipschitz(NET, norm="inf", domain=(np.full(2, -0.5), np.full(2, 2.0)))
    assert uniform.value != pytest.approx(expected.value)  # the two boxes differ here: the file was read


@pytest.mark.parametrize(
    "content, field",
    [
        ({"lower": [0, 0], "upper": [1]}, "--box-file"),  # lengths differ
        ({"lower": [0, 0, 0], "upper": [1, 1, 1]}, "dimension 2"),  # not the network's inputs
        ({"lower": [0, 1], "upper": [1, 1]}, "coordinate 1"),  # an empty side
        ({"lower": [0, 0]}, "upper"),  # a missing bound
        ({"type": "ball", "lower": [0, 0], "upper": [1, 1]}, "type"),
        ([0, 1], "JSON object"),
        ("{not json", "valid JSON"),
    ],
)
def test_a_bad_box_file_exits_2_with_one_line_and_no_output(tmp_path, net_file, content, field):
    out = tmp_path / "out.json"
    run = subprocess.run([sys.executable, "-m", "lipexact.solve", str(net_file), "--box-file",
                          _box_file(tmp_path, content), "-o", str(out)], capture_output=True, text=True)
    assert run.returncode == 2
    assert len(run.stderr.strip().splitlines()) == 1 and field in run.stderr, run.stderr
    assert not out.exists()


def test_box_and_box_file_are_exclusive_and_a_missing_box_file_exits_2(tmp_path, net_file, capsys):
    box = _box_file(tmp_path, {"lower": [0, 0], "upper": [1, 1]})
    with pytest.raises(SystemExit) as exit_info:
        main([str(net_file), "--box", "0", "1", "--box-file", box])
    assert exit_info.value.code == 2
    assert main([str(net_file), "--box-file", str(tmp_path / "absent.json")]) == 2
    assert "absent.json" in capsys.readouterr().err
