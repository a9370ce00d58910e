import json
import subprocess
import sys

import pytest

from lipexact import TwoLayerReLU, lipschitz
from lipexact.io import save
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
    for option in ("--method", "--norm", "--time-limit", "--box", "--seed", "--progress", "--output"):
        assert option in text


def test_ctrl_c_returns_the_partial_result_with_its_bounds(tmp_path):
    import signal
    import time

    import numpy as np

    rng = np.random.default_rng(0)
    hard = TwoLayerReLU(rng.normal(size=(120, 12)), rng.normal(size=(1, 120)), rng.normal(size=120))
    source, out = tmp_path / "hard.json", tmp_path / "partial.json"
    save(hard, source)
    process = subprocess.Popen([sys.executable, "-m", "lipexact.solve", str(source), "--method", "bnb",
                                "--progress", "-o", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first_progress_line = process.stderr.readline()
    assert first_progress_line.startswith("[bnb]") and "gap=" in first_progress_line
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    stdout, _ = process.communicate(timeout=60)
    assert process.returncode == 130
    document = json.loads(out.read_text())
    assert document["status"] == "interrupted" and document["success"] is False
    assert document["lower"] <= document["upper"] and "interrupted" in stdout
