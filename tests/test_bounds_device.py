import pytest
import torch
from torch import nn

from lipexact.bounds.device import as_dtype, as_module, pick_device
from lipexact.network import TwoLayerReLU
from reductions.validation import InvalidInputError


def test_pick_device():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert pick_device().type == expected
    assert pick_device("cpu") == torch.device("cpu") == pick_device(torch.device("cpu"))


@pytest.mark.parametrize("device", ["abacus", 3, "meta", "cuda:99"])
def test_pick_device_rejects(device):
    with pytest.raises(InvalidInputError) as error:
        pick_device(device)
    assert error.value.field == "device"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on machines without CUDA")
def test_cuda_without_cuda_is_an_input_error():
    with pytest.raises(InvalidInputError, match="CUDA is not available"):
        pick_device("cuda")


def test_as_dtype():
    assert as_dtype(None) is torch.float64 and as_dtype("float32") is torch.float32
    with pytest.raises(InvalidInputError) as error:
        as_dtype(torch.int64)
    assert error.value.field == "dtype"


def test_as_module_copies_instead_of_changing_the_caller_s_module():
    model = nn.Sequential(nn.Linear(2, 3), nn.Dropout(0.5), nn.BatchNorm1d(3))
    module = as_module(model, device="cpu")
    assert module is not model and not module.training and module[0].weight.dtype is torch.float64
    assert model.training and model[0].weight.dtype is torch.float32
    assert as_module(module, device="cpu") is module  # already ready: no copy
    assert torch.equal(module[0].weight, model[0].weight.double())


def test_as_module_of_a_two_layer_network():
    net = TwoLayerReLU([[1, 2], [0, -1]], [[3, 1]], [1, 0])
    module = as_module(net, dtype="float32", device="cpu")
    assert not module.training and module[2].weight.dtype is torch.float32
    x = torch.tensor([[0.5, -1.0]])
    assert torch.allclose(module(x).double(), torch.as_tensor(net(x.double().numpy())))
    with pytest.raises(InvalidInputError) as error:
        as_module("model.pt")
    assert error.value.field == "model"
