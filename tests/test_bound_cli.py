import copy
import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

from lipexact.bound import main

PROG = [sys.executable, "-m", "lipexact.bound"]

NETS = """
import torch
from torch import nn


class Net(nn.Module):  # not a Sequential: functional activation in forward
    def __init__(self):
        super().__init__()
        self.inp, self.out = nn.Linear(3, 6), nn.Linear(6, 2)

    def forward(self, x):
        return self.out(torch.relu(self.inp(x)))


class Wider(Net):
    def __init__(self):
        super().__init__()
        self.inp, self.out = nn.Linear(3, 7), nn.Linear(7, 2)


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(3, 3), nn.Linear(3, 2)

    def forward(self, x):
        return self.fc2(x + torch.relu(self.fc1(x)))


class Normalized(nn.Module):  # BatchNorm, left in training mode by the constructor
    def __init__(self):
        super().__init__()
        self.fc1, self.bn, self.fc2 = nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 1)

    def forward(self, x):
        return self.fc2(torch.relu(self.bn(self.fc1(x))))
"""


def _nets(folder):
    import importlib.util

    spec = importlib.util.spec_from_file_location("nets", folder / "nets.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 6), nn.ReLU(), nn.Linear(6, 2)).double()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bound_cli")
    model = _mlp()
    torch.save(model, folder / "mlp.pt")
    torch.jit.script(model).save(str(folder / "scripted.pt"))
    torch.jit.trace(model, torch.zeros(1, 3, dtype=torch.float64)).save(str(folder / "traced.pt"))
    cnn = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2, stride=1), nn.Flatten(), nn.Linear(18, 2))
    torch.save(cnn.double(), folder / "cnn.pt")
    np.save(folder / "data.npy", np.random.default_rng(0).normal(size=(16, 3)))
    torch.save(torch.randn(4, 1, 6, 6, dtype=torch.float64), folder / "cnn_data.pt")
    torch.save(model.state_dict(), folder / "state.pt")
    (folder / "junk.pt").write_text("not a model")
    (folder / "nets.py").write_text(NETS)
    torch.manual_seed(1)
    torch.save(nn.Sequential(nn.Linear(3, 6), nn.Linear(6, 2)).state_dict(), folder / "seq_state.pt")
    net = _nets(folder).Net()
    torch.save(net.state_dict(), folder / "net_state.pt")
    return folder


def _run(*args, cwd=None):
    return subprocess.run([*PROG, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_pickled_model_table_and_json(files):
    out = files / "out.json"
    run = _run(files / "mlp.pt", "--methods", "autolip,frobenius,data", "--data", files / "data.npy",
               "--device", "cpu", "--json", out)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].split()[:4] == ["method", "kind", "status", "value"]
    rows = {line.split()[0]: line.split() for line in lines[1:4]}
    assert rows["autolip"][1:3] == ["upper", "upper_bound"] and rows["data"][1:3] == ["lower", "lower_bound"]
    assert lines[4].startswith("certified: ")
    report = json.loads(out.read_text())
    assert report["type"] == "bound_report" and report["input_shape"] == [3] and report["device"] == "cpu"
    by_method = {r["method"]: r for r in report["results"]}
    assert set(by_method) == {"autolip", "frobenius", "data"}
    assert by_method["data"]["value"] <= by_method["autolip"]["value"] <= by_method["frobenius"]["value"]
    assert float(rows["autolip"][3]) == pytest.approx(by_method["autolip"]["value"], rel=1e-5)
    assert report["lower"] == by_method["data"]["lower"] and report["upper"] == by_method["autolip"]["upper"]
    assert all(r["timings"]["total"] > 0 for r in report["results"])


def test_scripted_model_gives_the_same_bounds(files, capsys):
    run = _run(files / "scripted.pt", "--methods", "autolip", "--device", "cpu")
    assert run.returncode == 0, run.stderr
    assert main([str(files / "mlp.pt"), "--methods", "autolip", "--device", "cpu"]) == 0
    eager = capsys.readouterr().out
    assert run.stdout.splitlines()[1].split()[:4] == eager.splitlines()[1].split()[:4]


def test_traced_model_gets_a_not_applicable_autolip_row_saying_what_to_do_and_lower_bounds_run(files, capsys):
    code = main([str(files / "traced.pt"), "--methods", "autolip,gradient", "--input-shape", "3", "--device", "cpu",
                 "--json", str(files / "traced.json")])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    rows = {line.split()[0]: line.split() for line in captured.out.splitlines()[1:3]}
    assert rows["autolip"][1:3] == ["n/a", "not_applicable"] and rows["gradient"][1:3] == ["lower", "lower_bound"]
    assert "torch.save(model)" in captured.out and "--arch" in captured.out
    report = json.loads((files / "traced.json").read_text())
    autolip_row = report["results"][0]
    assert autolip_row["status"] == "not_applicable" and autolip_row["success"] is False
    assert autolip_row["value"] is None and report["upper"] is None and report["lower"] is not None


def test_only_inapplicable_methods_exit_1_with_their_rows(files, capsys):
    code = main([str(files / "mlp.pt"), "--methods", "power", "--device", "cpu"])
    captured = capsys.readouterr()
    assert code == 1 and captured.err == ""
    assert captured.out.splitlines()[1].split()[:3] == ["power", "n/a", "not_applicable"]
    assert "note (power): not applicable: _1: expected an affine operation" in captured.out


def test_cnn_with_input_shape_and_tensor_data(files, capsys):
    code = main([str(files / "cnn.pt"), "--input-shape", "1,6,6", "--methods", "autolip,data", "--data",
                 str(files / "cnn_data.pt"), "--device", "cpu"])
    table = capsys.readouterr().out
    assert code == 0
    assert "autolip" in table and "data" in table and "certified:" in table


def test_input_shape_is_read_from_data(files, capsys):
    code = main([str(files / "cnn.pt"), "--methods", "autolip,data", "--data", str(files / "cnn_data.pt"),
                 "--device", "cpu"])
    assert code == 0 and "upper_bound" in capsys.readouterr().out


@pytest.mark.parametrize("args, field", [
    (["missing.pt"], "model"),
    (["{files}/junk.pt"], "model"),
    (["{files}/state.pt"], "model"),
    (["{files}/mlp.pt", "--input-shape", "3,x"], "--input-shape"),
    (["{files}/mlp.pt", "--input-shape", "0"], "--input-shape"),
    (["{files}/mlp.pt", "--methods", "autolip,magic"], "--methods"),
    (["{files}/mlp.pt", "--methods", "data"], "--data"),
    (["{files}/mlp.pt", "--data", "{files}/missing.npy"], "--data"),
    (["{files}/mlp.pt", "--data", "{files}/junk.pt"], "--data"),
    (["{files}/cnn.pt", "--methods", "autolip"], "autolip: input_shape"),
    (["{files}/cnn.pt", "--methods", "autolip", "--input-shape", "2,6,6"], "autolip: input_shape"),
    (["{files}/mlp.pt", "--methods", "autolip", "--input-shape", "4"], "autolip: input_shape"),
    (["{files}/mlp.pt", "--device", "tpu"], "device"),
    (["{files}/mlp.pt", "--json", "{files}/no/such/dir/out.json"], "--json"),
    (["{files}/mlp.pt", "--threads", "0"], "--threads"),
    (["{files}/mlp.pt", "--seed", "-1"], "--seed"),
    (["{files}/cnn.pt", "--input-shape", "1,7,7", "--methods", "grid,autolip"], "autolip: input_shape"),
    (["{files}/mlp.pt", "--methods", "power,seqlip", "--input-shape", "2"], "power: input_shape"),
    (["{files}/mlp.pt", "--arch", "nets:Net", "--pythonpath", "{files}"], "model"),
    (["{files}/net_state.pt", "--arch", "nets:Missing", "--pythonpath", "{files}"], "--arch"),
    (["{files}/net_state.pt", "--arch", "nets:Wider", "--pythonpath", "{files}"], "model"),
    (["{files}/net_state.pt", "--arch", "nets.Net", "--pythonpath", "{files}"], "--arch"),
    (["{files}/net_state.pt", "--arch", "no_such_module:Net"], "--arch"),
    (["{files}/net_state.pt", "--arch", "nets:Net", "--pythonpath", "{files}/no/such/dir"], "--pythonpath"),
    (["{files}/mlp.pt", "--pythonpath", "{files}"], "--pythonpath"),
    (["{files}/mlp.pt", "--methods", "data", "--data", "{files}/cnn_data.pt"], "data: input_shape"),
    (["{files}/mlp.pt", "--methods", "gradient", "--data", "{files}/data.npy", "--input-shape", "4"],
     "gradient: input_shape"),
])
def test_bad_input_exits_2_with_one_line_and_no_output_file(files, capsys, args, field):
    out = files / "never.json"
    argv = [a.format(files=files) for a in args]
    if "--json" not in argv:
        argv += ["--json", str(out)]
    code = main(argv + ["--device", "cpu"] if "--device" not in argv else argv)
    captured = capsys.readouterr()
    assert code == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"python -m lipexact.bound: error: {field}:"), lines
    assert not out.exists() and captured.out == ""


def test_help_warns_about_pickles():
    run = _run("--help")
    assert run.returncode == 0
    text = " ".join(run.stdout.split())
    assert "executes" in text and "trust" in text and "--input-shape" in text


def _recording(monkeypatch):
    import lipexact.bounds

    calls = []
    for name in ("upper_bound", "lower_bound"):
        original = getattr(lipexact.bounds, name)

        def wrapper(model, method, *args, _original=original, **kwargs):
            calls.append(method)
            return _original(model, method, *args, **kwargs)

        monkeypatch.setattr(lipexact.bounds, name, wrapper)
    return calls


@pytest.mark.parametrize("methods", ["autolip,data,grid", "grid,autolip", "data,seqlip_greedy,power"])
def test_a_bad_request_fails_before_any_method_runs(files, capsys, monkeypatch, methods):
    calls = _recording(monkeypatch)
    out = files / "never_written.json"
    code = main([str(files / "cnn.pt"), "--input-shape", "1,7,7", "--methods", methods, "--data",
                 str(files / "cnn_data.pt"), "--device", "cpu", "--json", str(out)])
    captured = capsys.readouterr()
    assert code == 2 and calls == [] and captured.out == "" and not out.exists()
    first_bad = [m for m in methods.split(",") if m != "grid"][0]  # grid is not applicable: no error of its own
    assert captured.err.startswith(f"python -m lipexact.bound: error: {first_bad}: ")


def test_a_method_failing_at_run_time_keeps_the_other_results(files, capsys, monkeypatch):
    from lipexact.bounds import LOWER_METHODS, UPPER_METHODS
    from reductions.validation import InvalidInputError

    def late_input_error(model, **kwargs):  # registered callables have no validator: checked when they run
        raise InvalidInputError("option", "something only found out while running", "oops")

    def crash(model, **kwargs):
        raise RuntimeError("out of luck")

    monkeypatch.setitem(UPPER_METHODS, "late", late_input_error)
    monkeypatch.setitem(LOWER_METHODS, "crash", crash)
    out = files / "kept.json"
    code = main([str(files / "mlp.pt"), "--methods", "autolip,late,data,crash", "--data", str(files / "data.npy"),
                 "--device", "cpu", "--threads", "1", "--json", str(out)])
    captured = capsys.readouterr()
    assert code == 1 and "autolip" in captured.out and "late" in captured.out
    report = json.loads(out.read_text())
    by_method = {r["method"]: r for r in report["results"]}
    assert list(by_method) == ["autolip", "late", "data", "crash"] and report["threads"] == 1
    assert by_method["autolip"]["status"] == "upper_bound" and by_method["data"]["status"] == "lower_bound"
    assert by_method["late"]["status"] == "error" and "something only found out" in by_method["late"]["message"]
    assert by_method["crash"]["status"] == "error" and "RuntimeError: out of luck" in by_method["crash"]["message"]
    assert report["lower"] == by_method["data"]["lower"] and report["upper"] == by_method["autolip"]["upper"]


@pytest.mark.parametrize("parameter, value, got", [("0.weight", float("nan"), "NaN"),
                                                   ("2.bias", float("inf"), "infinity"),
                                                   ("2.weight", -float("inf"), "infinity")])
@pytest.mark.parametrize("scripted", [False, True])
def test_non_finite_weights_exit_2_naming_the_parameter_and_write_nothing(tmp_path, capsys, monkeypatch, parameter,
                                                                        value, got, scripted):
    calls = _recording(monkeypatch)
    model = _mlp()
    with torch.no_grad():
        dict(model.named_parameters())[parameter].view(-1)[1] = value
    path = tmp_path / "bad.pt"
    if scripted:
        torch.jit.script(model).save(str(path))
    else:
        torch.save(model, path)
    out = tmp_path / "bounds.json"
    code = main([str(path), "--methods", "autolip,frobenius,seqlip", "--device", "cpu", "--json", str(out)])
    captured = capsys.readouterr()
    assert code == 2 and calls == [] and captured.out == "" and not out.exists()
    assert captured.err.strip().splitlines() == [
        f"python -m lipexact.bound: error: {parameter}: expected finite values, got {got}"]


def test_unwritable_json_folder_is_refused_before_any_method_runs(files, capsys, monkeypatch):
    from reductions import files as output_files

    calls = _recording(monkeypatch)
    monkeypatch.setattr(output_files, "_writable", lambda path: False)
    out = files / "never.json"
    code = main([str(files / "mlp.pt"), "--methods", "autolip", "--device", "cpu", "--json", str(out)])
    captured = capsys.readouterr()
    assert code == 2 and calls == [] and captured.out == "" and not out.exists()
    assert captured.err.startswith("python -m lipexact.bound: error: --json: expected a file in a writable folder")


# ---------------------------------------------------------------- any model, --arch, BatchNorm, ONNX

def _report(path):
    return {r["method"]: r for r in json.loads(path.read_text())["results"]}


def _custom_and_twin(files, capsys, methods: str, out, twin_name: str):
    """The reports of ``methods`` on the custom class ``nets:Net`` (from its state_dict) and on its Sequential
    twin with the same weights."""
    code = main([str(files / "net_state.pt"), "--arch", "nets:Net", "--pythonpath", str(files), "--methods", methods,
                 "--device", "cpu", "--json", str(out)])
    assert code == 0, capsys.readouterr().err
    custom = _report(out)
    net = _nets(files).Net()
    net.load_state_dict(torch.load(files / "net_state.pt"))
    torch.save(nn.Sequential(net.inp, nn.ReLU(), net.out), files / twin_name)
    assert main([str(files / twin_name), "--methods", methods, "--device", "cpu", "--json", str(out)]) == 0
    return custom, _report(out)


def test_a_custom_class_from_a_state_dict_runs_every_method_as_its_sequential_twin(files, capsys):
    out = files / "net.json"
    methods = "autolip,seqlip,seqlip_greedy,gradient"
    custom, sequential = _custom_and_twin(files, capsys, methods, out, "twin.pt")
    capsys.readouterr()
    assert [custom[m]["status"] for m in methods.split(",")] == ["upper_bound", "upper_bound", "heuristic",
                                                                  "lower_bound"]
    for method in ("autolip", "seqlip", "seqlip_greedy"):
        assert custom[method]["value"] == pytest.approx(sequential[method]["value"], rel=1e-12)
    assert custom["gradient"]["value"] <= custom["seqlip"]["value"] * (1 + 1e-9)
    assert json.loads(out.read_text())["input_shape"] == [3]  # read from the first Linear of the traced graph


def test_a_state_dict_without_arch_says_to_give_one(files, capsys):
    assert main([str(files / "seq_state.pt"), "--device", "cpu"]) == 2
    assert "--arch module:Class" in capsys.readouterr().err


def test_seqlip_on_a_residual_net_is_a_not_applicable_row_while_the_others_run(tmp_path, files, capsys):
    residual = _nets(files).Residual().double()
    path = tmp_path / "residual.pt"
    torch.save(residual.state_dict(), path)
    out = tmp_path / "residual.json"
    code = main([str(path), "--arch", "nets:Residual", "--pythonpath", str(files), "--methods",
                 "autolip,seqlip,seqlip_cnn,gradient", "--device", "cpu", "--json", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    rows = {line.split()[0]: line.split()[1:3] for line in captured.out.splitlines()[1:5]}
    assert rows == {"autolip": ["upper", "upper_bound"], "seqlip": ["n/a", "not_applicable"],
                    "seqlip_cnn": ["n/a", "not_applicable"], "gradient": ["lower", "lower_bound"]}
    report = _report(out)
    assert "residual connection" in report["seqlip"]["message"] and "model:add" in report["seqlip"]["message"]
    assert report["gradient"]["value"] <= report["autolip"]["value"] * (1 + 1e-9)


def test_batchnorm_in_training_mode_is_bounded_in_eval_mode_and_the_result_says_so(tmp_path, files, capsys):
    torch.manual_seed(3)
    model = _nets(files).Normalized().double()
    with torch.no_grad():
        model.bn.running_mean.normal_()
        model.bn.running_var.uniform_(0.5, 2.0)
    assert model.bn.training
    path = tmp_path / "bn_state.pt"
    torch.save(model.state_dict(), path)
    out = tmp_path / "bn.json"
    code = main([str(path), "--arch", "nets:Normalized", "--pythonpath", str(files), "--methods", "autolip,seqlip",
                 "--device", "cpu", "--json", str(out)])
    assert code == 0, capsys.readouterr().err
    report = _report(out)
    for method in ("autolip", "seqlip"):
        assert "BatchNorm layer(s) bn in training mode: bounded in eval mode" in report[method]["message"]
        assert report[method]["stats"]["batchnorm_eval_mode"] == ["bn"]
    from lipexact.bounds.seqlip import seqlip

    in_eval = seqlip(copy.deepcopy(model).eval(), device="cpu")  # the same number as the eval-mode model's
    assert in_eval.value == pytest.approx(report["seqlip"]["value"], rel=1e-12) and "BatchNorm" not in in_eval.message
    assert report["seqlip"]["value"] <= report["autolip"]["value"] * (1 + 1e-9)


def test_lipsdp_methods_read_a_custom_class_through_its_fx_chain_and_skip_a_cnn(files, capsys):
    out = files / "sdp.json"
    custom, sequential = _custom_and_twin(files, capsys, "lipsdp,eclipse,eclipse_fast,seqlip", out, "sdp_twin.pt")
    for method in ("lipsdp", "eclipse", "eclipse_fast"):
        assert custom[method]["status"] == "upper_bound"
        assert custom[method]["value"] == pytest.approx(sequential[method]["value"], rel=1e-9)
        assert custom[method]["value"] >= custom["seqlip"]["value"] * (1 - 1e-9)  # SeqLip is exact on 2 layers
    code = main([str(files / "cnn.pt"), "--input-shape", "1,6,6", "--methods", "lipsdp,autolip", "--device", "cpu",
                 "--json", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    cnn = _report(out)
    assert cnn["lipsdp"]["status"] == "not_applicable" and "Conv2d" in cnn["lipsdp"]["message"]
    assert cnn["autolip"]["status"] == "upper_bound"
