import numpy as np
import pytest
import torch
from torch import nn

from lipexact.bound import main
from lipexact.models import build_architecture, load_model, load_state_dict_model
from lipexact.onnx_model import ONNX_MISSING, load_onnx, onnx_available
from reductions.validation import InvalidInputError

needs_onnx = pytest.mark.skipif(not onnx_available(), reason="the optional onnx extra is not installed "
                                                              "(pip install 'lipexact[onnx]')")


# ---------------------------------------------------------------- --arch and state dicts

def test_build_architecture_imports_from_pythonpath_and_leaves_sys_path_as_it_was(tmp_path):
    import sys

    (tmp_path / "archs_for_test.py").write_text("import torch\ndef make():\n    return torch.nn.Linear(2, 1)\n")
    before = list(sys.path)
    model = build_architecture("archs_for_test:make", str(tmp_path))
    assert isinstance(model, nn.Linear) and sys.path == before


@pytest.mark.parametrize("arch, field", [("torch.nn", "--arch"), ("torch.nn:Nope", "--arch"),
                                         ("torch.nn:Linear", "--arch"),  # needs arguments
                                         ("math:pi", "--arch"), ("no_such_module_xyz:Net", "--arch")])
def test_bad_architectures_are_refused_naming_arch(arch, field):
    with pytest.raises(InvalidInputError) as error:
        build_architecture(arch)
    assert error.value.field == field


def test_a_state_dict_keeps_its_dtype_and_refuses_mismatched_or_non_finite_weights(tmp_path):
    (tmp_path / "archs_sd.py").write_text(
        "import torch\nclass Net(torch.nn.Sequential):\n    def __init__(self):\n"
        "        super().__init__(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))\n")
    torch.manual_seed(0)
    source = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)).double()
    torch.save(source.state_dict(), tmp_path / "ok.pt")
    model = load_state_dict_model(tmp_path / "ok.pt", "archs_sd:Net", str(tmp_path))
    assert model[0].weight.dtype is torch.float64 and torch.equal(model[0].weight, source[0].weight)
    torch.save({"state_dict": source.state_dict()}, tmp_path / "checkpoint.pt")
    assert torch.equal(load_state_dict_model(tmp_path / "checkpoint.pt", "archs_sd:Net", str(tmp_path))[2].bias,
                       source[2].bias)
    wrong = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 1))
    torch.save(wrong.state_dict(), tmp_path / "wrong.pt")
    with pytest.raises(InvalidInputError) as error:
        load_state_dict_model(tmp_path / "wrong.pt", "archs_sd:Net", str(tmp_path))
    assert error.value.field == "model" and "archs_sd:Net" in error.value.expected
    with torch.no_grad():
        source[0].weight[0, 0] = float("nan")
    torch.save(source.state_dict(), tmp_path / "nan.pt")
    with pytest.raises(InvalidInputError) as error:
        load_model(str(tmp_path / "nan.pt"), arch="archs_sd:Net", pythonpath=str(tmp_path))
    assert error.value.field == "0.weight" and error.value.got == "NaN"
    torch.save(source, tmp_path / "pickled.pt")  # a pickled module is not read with weights_only
    with pytest.raises(InvalidInputError) as error:
        load_state_dict_model(tmp_path / "pickled.pt", "archs_sd:Net", str(tmp_path))
    assert error.value.field == "model" and "state_dict" in error.value.expected


# ---------------------------------------------------------------- ONNX

def _onnx_file(path, nodes, initializers, in_shape, out_shape):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(nodes, "net", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, *in_shape])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, *out_shape])],
                              [numpy_helper.from_array(np.asarray(v, dtype=np.float32), k)
                               for k, v in initializers.items()])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    return path


def _as64(array):
    return torch.as_tensor(np.asarray(array, dtype=np.float32), dtype=torch.float64)


@needs_onnx
def test_an_onnx_mlp_computes_what_its_weights_say(tmp_path):
    from onnx import helper

    rng = np.random.default_rng(0)
    W1, b1, W2, b2 = rng.normal(size=(4, 3)), rng.normal(size=4), rng.normal(size=(2, 4)), rng.normal(size=2)
    nodes = [helper.make_node("Gemm", ["x", "W1", "b1"], ["h"], transB=1), helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("MatMul", ["r", "W2T"], ["m"]), helper.make_node("Add", ["m", "b2"], ["y"])]
    path = _onnx_file(tmp_path / "mlp.onnx", nodes, {"W1": W1, "b1": b1, "W2T": W2.T, "b2": b2}, [3], [2])
    model = load_onnx(path)
    x = torch.randn(5, 3, dtype=torch.float64)
    expected = torch.relu(x @ _as64(W1).T + _as64(b1)) @ _as64(W2).T + _as64(b2)
    assert torch.allclose(model(x), expected)
    assert [type(m).__name__ for m in model.children()] == ["Linear", "ReLU", "Linear"]  # the Add became a bias


@needs_onnx
def test_an_onnx_cnn_with_batchnorm_pooling_and_flatten_matches_torch(tmp_path):
    from onnx import helper

    torch.manual_seed(1)
    reference = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1, stride=2), nn.BatchNorm2d(2), nn.ReLU(),
                              nn.MaxPool2d(2), nn.Flatten(), nn.Linear(2 * 2 * 2, 1)).double().eval()
    with torch.no_grad():
        reference[1].running_mean.normal_()
        reference[1].running_var.uniform_(0.5, 2)
    conv, bn, fc = reference[0], reference[1], reference[5]
    nodes = [helper.make_node("Conv", ["x", "Wc", "bc"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                              strides=[2, 2]),
             helper.make_node("BatchNormalization", ["c", "g", "b", "mu", "var"], ["n"], epsilon=bn.eps),
             helper.make_node("Relu", ["n"], ["r"]),
             helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Flatten", ["p"], ["f"], axis=1),
             helper.make_node("Gemm", ["f", "Wf", "bf"], ["y"], transB=1)]
    weights = {"Wc": conv.weight, "bc": conv.bias, "g": bn.weight, "b": bn.bias, "mu": bn.running_mean,
               "var": bn.running_var, "Wf": fc.weight, "bf": fc.bias}
    path = _onnx_file(tmp_path / "cnn.onnx", nodes, {k: v.detach().numpy() for k, v in weights.items()},
                      [1, 8, 8], [1])
    model = load_onnx(path)
    with torch.no_grad():  # the ONNX file holds float32 weights: compare with the rounded reference
        for tensor in [*reference.parameters(), *reference.buffers()]:
            if tensor.is_floating_point():
                tensor.copy_(tensor.float().double())
    x = torch.randn(3, 1, 8, 8, dtype=torch.float64)
    assert torch.allclose(model(x), reference(x), rtol=1e-10, atol=1e-12)


@needs_onnx
def test_unsupported_or_broken_onnx_files_are_refused_naming_the_operator(tmp_path, capsys):
    from onnx import helper

    nodes = [helper.make_node("Softmax", ["x"], ["y"])]
    path = _onnx_file(tmp_path / "softmax.onnx", nodes, {}, [3], [3])
    with pytest.raises(InvalidInputError) as error:
        load_onnx(path)
    assert error.value.field == "model" and "Softmax" in error.value.got
    (tmp_path / "broken.onnx").write_bytes(b"not onnx")
    assert main([str(tmp_path / "broken.onnx"), "--device", "cpu"]) == 2
    assert "a valid ONNX model" in capsys.readouterr().err


@needs_onnx
def test_the_bound_cli_reads_onnx_files(tmp_path, capsys):
    from onnx import helper

    rng = np.random.default_rng(2)
    W1, W2 = rng.normal(size=(5, 3)), rng.normal(size=(1, 5))
    nodes = [helper.make_node("Gemm", ["x", "W1"], ["h"], transB=1), helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("Gemm", ["r", "W2"], ["y"], transB=1)]
    path = _onnx_file(tmp_path / "net.onnx", nodes, {"W1": W1, "W2": W2}, [3], [1])
    assert main([str(path), "--methods", "autolip,seqlip,gradient", "--device", "cpu"]) == 0
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()[1:4]}
    assert [rows[m][2] for m in ("autolip", "seqlip", "gradient")] == ["upper_bound", "upper_bound", "lower_bound"]
    twin = nn.Sequential(nn.Linear(3, 5, bias=False), nn.ReLU(), nn.Linear(5, 1, bias=False)).double()
    with torch.no_grad():
        twin[0].weight.copy_(_as64(W1))
        twin[2].weight.copy_(_as64(W2))
    from lipexact.bounds.seqlip import seqlip

    assert float(rows["seqlip"][3]) == pytest.approx(seqlip(twin, device="cpu").value, rel=1e-5)


def test_without_the_onnx_package_an_onnx_file_is_refused_with_the_extra_to_install(tmp_path, capsys, monkeypatch):
    import lipexact.onnx_model

    monkeypatch.setattr(lipexact.onnx_model, "onnx_available", lambda: False)
    (tmp_path / "net.onnx").write_bytes(b"anything")
    assert main([str(tmp_path / "net.onnx"), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert ONNX_MISSING in err and err.startswith("python -m lipexact.bound: error: model:")
