"""Batched Jacobians: equal to per-point autograd Jacobians; norms and singular vectors."""

import pytest
import torch

from lipexact.bounds.jacobians import JacobianEvaluator, spectral_norms, top_singular
from reductions.validation import InvalidInputError


@pytest.mark.parametrize("outputs", [1, 3, 12])
def test_batched_jacobians_match_per_point_autograd(outputs):
    torch.manual_seed(outputs)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
                              torch.nn.Linear(2 * 3 * 3, outputs), torch.nn.Tanh()).double()
    evaluator = JacobianEvaluator(net, (1, 8, 8), torch.float64, torch.device("cpu"))
    X = torch.randn(5, 1, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    J = evaluator.jacobians(X)
    for x, jac in zip(X, J):
        expected = torch.autograd.functional.jacobian(lambda v: net(v[None]).reshape(-1), x).reshape(outputs, -1)
        assert torch.allclose(jac, expected, rtol=1e-12, atol=1e-14)
    sigma, U, V = evaluator.top(X)
    svd = torch.linalg.svdvals(J)[:, 0]
    assert torch.allclose(sigma, svd, rtol=1e-10) and torch.allclose(evaluator.norms(X), svd, rtol=1e-10)
    assert torch.allclose((J @ V[:, :, None])[:, :, 0].norm(dim=1), sigma, rtol=1e-9)  # v is a top right vector
    assert torch.allclose(evaluator.projected(X, U), sigma, rtol=1e-9)  # ||J^T u|| = ||J|| for the top u
    other = torch.nn.functional.normalize(torch.randn(5, outputs, dtype=torch.float64), dim=1)
    assert bool(torch.all(evaluator.projected(X, other) <= sigma * (1 + 1e-12)))


@pytest.mark.parametrize("shape", [(4, 1, 7), (4, 6, 3), (3, 5, 5)])
def test_norms_and_singular_vectors_match_the_svd(shape):
    J = torch.randn(*shape, dtype=torch.float64, generator=torch.Generator().manual_seed(sum(shape)))
    U, S, Vh = torch.linalg.svd(J)
    sigma, u, v = top_singular(J)
    assert torch.allclose(sigma, S[:, 0], rtol=1e-12) and torch.allclose(spectral_norms(J), S[:, 0], rtol=1e-12)
    assert torch.allclose((u[:, :, None] * v[:, None, :] * sigma[:, None, None]).abs(),
                          (U[:, :, :1] * Vh[:, :1, :] * S[:, :1, None]).abs(), atol=1e-10)


def test_a_model_rejecting_the_shape_is_an_input_error():
    with pytest.raises(InvalidInputError) as error:
        JacobianEvaluator(torch.nn.Linear(3, 2).double(), (4,), torch.float64, torch.device("cpu"))
    assert error.value.field == "input_shape"
