"""Reading networks as chains of affine blocks and activations."""

import pytest
import torch

from lipexact import TwoLayerReLU
from lipexact.bounds.layers import extract_chain, infer_input_shape
from reductions.validation import InvalidInputError


def _jacobian_of(block, shape):
    x = torch.zeros(shape, dtype=torch.float64)
    return torch.autograd.functional.jacobian(lambda v: block(v[None]).reshape(-1), x).reshape(-1, x.numel())


def test_consecutive_affine_modules_merge_and_matrices_match_autograd():
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 2, 3, padding=1), torch.nn.BatchNorm2d(2), torch.nn.ReLU(),
        torch.nn.Sequential(torch.nn.AvgPool2d(2), torch.nn.Dropout(0.5), torch.nn.Flatten()),
        torch.nn.Linear(2 * 2 * 2, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1),
    ).double()
    net[1].running_mean.fill_(0.5)
    net[1].running_var.fill_(4.0)
    chain = extract_chain(net, (1, 4, 4), device="cpu")
    assert len(chain.blocks) == 3 and [a.name for a in chain.activations] == ["ReLU", "Tanh"]
    assert chain.widths == [32, 3]
    assert chain.blocks[1].in_shape == (2, 4, 4) and chain.blocks[1].out_shape == (3,)
    for block in chain.blocks:
        assert torch.allclose(block.matrix(), _jacobian_of(block, block.in_shape), atol=1e-12)
    assert net.training  # the caller's module is untouched (the chain uses an eval copy)


def test_dense_block_matrix_is_product_of_weights():
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2), torch.nn.ReLU(), torch.nn.Linear(2, 1))
    chain = extract_chain(net, device="cpu")
    first = chain.blocks[0]
    assert first.is_dense
    expected = (net[1].weight @ net[0].weight).double()
    assert torch.allclose(first.matrix(), expected, atol=1e-6)


def test_activation_compositions_leading_and_trailing():
    net = torch.nn.Sequential(torch.nn.Sigmoid(), torch.nn.Linear(2, 2), torch.nn.ReLU(), torch.nn.Tanh(),
                              torch.nn.Linear(2, 1), torch.nn.LeakyReLU(2.0))
    chain = extract_chain(net, device="cpu")
    assert chain.leading.slope_high == 0.25 and chain.trailing.slope_high == 2.0
    composed = chain.activations[0]
    assert (composed.slope_low, composed.slope_high) == (0.0, 1.0)
    assert chain.outer_scale == 0.5
    assert [type(m).__name__ for m, _ in [item for kind, item in chain.sequence if kind == "activation"]] == \
        ["Sigmoid", "ReLU", "Tanh", "LeakyReLU"]


def test_preactivations_feed_each_activation():
    net = TwoLayerReLU([[1.0, -1.0], [2.0, 0.0]], [[1.0, 1.0]], [0.5, -1.0])
    chain = extract_chain(net, device="cpu")
    x = torch.tensor([[1.0, 3.0]], dtype=torch.float64)
    [(activation, z)] = chain.preactivations(x)
    assert activation.name == "ReLU" and activation.kinks == (0.0,)
    assert torch.allclose(z, torch.tensor([[-1.5, 1.0]], dtype=torch.float64))


@pytest.mark.parametrize("module,low,high", [
    (torch.nn.ReLU(), 0.0, 1.0), (torch.nn.LeakyReLU(0.2), 0.2, 1.0), (torch.nn.ELU(2.0), 0.0, 2.0),
    (torch.nn.ELU(-0.5), -0.5, 1.0), (torch.nn.Hardsigmoid(), 0.0, 1 / 6), (torch.nn.Softplus(), 0.0, 1.0),
])
def test_slope_ranges_contain_sampled_derivatives(module, low, high):
    net = torch.nn.Sequential(torch.nn.Linear(1, 1), module)
    chain = extract_chain(net, device="cpu")
    act = chain.trailing
    assert (act.slope_low, act.slope_high) == pytest.approx((low, high))
    z = torch.linspace(-8, 8, 2001, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(module.double()(z).sum(), z)
    # 1e-7 relative: torch's Hardsigmoid backward uses the float32 constant 1/6 even in float64
    assert float(grad.min()) >= act.slope_low - 1e-7 and float(grad.max()) <= act.slope_high * (1 + 1e-7)


def test_input_shape_inference_and_errors():
    assert infer_input_shape(TwoLayerReLU([[1, 2, 3]], [[1]])) == (3,)
    assert infer_input_shape(torch.nn.Sequential(torch.nn.Dropout(), torch.nn.Linear(5, 1))) == (5,)
    with pytest.raises(InvalidInputError) as error:
        infer_input_shape(torch.nn.Sequential(torch.nn.Conv1d(1, 1, 2)))
    assert error.value.field == "input_shape"
    with pytest.raises(InvalidInputError) as error:
        infer_input_shape(torch.nn.Linear(2, 1), (2, -1))
    assert error.value.field == "input_shape"
    with pytest.raises(InvalidInputError) as error:
        extract_chain(torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.GELU(), torch.nn.Linear(3, 1)))
    assert error.value.field == "model[1]"
    with pytest.raises(InvalidInputError) as error:
        extract_chain(torch.nn.Sequential(torch.nn.ReLU()), (2,))
    assert error.value.field == "model"
    with pytest.raises(InvalidInputError) as error:
        extract_chain(torch.nn.Sequential(torch.nn.Linear(2, 3)), (4,))
    assert error.value.field == "input_shape"


def test_max_pooling_splits_into_segments_with_its_constant():
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, padding=1), torch.nn.ReLU(),
                              torch.nn.MaxPool2d(3, stride=1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                              torch.nn.Flatten(), torch.nn.Linear(2, 1))
    with pytest.raises(InvalidInputError) as error:
        extract_chain(net, (1, 5, 5))
    assert error.value.field == "model[2]"
    from lipexact.bounds.layers import extract_segments

    segmented = extract_segments(net, (1, 5, 5), device="cpu")
    first, second = segmented.segments
    assert len(first.blocks) == 1 and first.trailing.name == "ReLU"
    assert second.leading.name == "ReLU" and second.blocks[0].in_shape == (2, 3, 3)
    assert second.blocks[0].out_shape == (1,)
    pool = segmented.poolings[0]
    assert (pool.index, pool.in_shape, pool.out_shape) == (2, (2, 5, 5), (2, 3, 3))
    assert pool.constant == pytest.approx(3.0)  # the centre pixel lies in 9 windows
