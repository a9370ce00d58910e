"""python -m lipexact.deep: result printed and written, exit 2 on bad input, 1 on an error status."""

import json

from lipexact.deep.__main__ import main
from lipexact.deep.network import ReLUNetwork
from lipexact.result import LipschitzResult, Status

NET = ReLUNetwork([([[1, 0], [0, 1]], None), ([[1, 1]], [-1]), ([[3]], None)])


def write(tmp_path, data, name="net.json"):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


def test_solves_and_writes(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main([write(tmp_path, NET.to_dict()), "--norm", "inf", "--box", "0", "1", "-o", str(out)]) == 0
    result = LipschitzResult.from_dict(json.loads(out.read_text()))
    assert result.status is Status.OPTIMAL and result.value == 6.0
    assert "optimal" in capsys.readouterr().out


def test_bad_input_exits_2_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main([write(tmp_path, {"type": "relu_network", "layers": [{"weight": [[1.0]]}]}), "-o", str(out)]) == 2
    assert main([write(tmp_path, NET.to_dict()), "--box", "1", "0"]) == 2
    assert main([write(tmp_path, NET.to_dict()), "--time-limit", "-1"]) == 2
    assert main([write(tmp_path, NET.to_dict()), "-o", str(tmp_path / "missing" / "r.json")]) == 2
    assert main([str(tmp_path / "absent.json")]) == 2
    assert not out.exists()
    assert "error" in capsys.readouterr().err


def test_error_status_exits_1(tmp_path, monkeypatch):
    from lipexact.deep import __main__ as cli

    monkeypatch.setattr(cli, "lipschitz_deep", lambda *a, **k: LipschitzResult(Status.ERROR, None, "enumerate",
                                                                              message="stub"))
    assert main([write(tmp_path, NET.to_dict())]) == 1
