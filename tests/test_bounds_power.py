import math

import numpy as np
import pytest
import torch
from torch import nn

from lipexact.bounds.power import (
    EXACT_MAX_DIM,
    exact_operator_norm,
    operator_matrix,
    power_method,
    top_k_singular,
)
from lipexact.bounds.layer_norm import spectral_norm
from lipexact.bounds.matrices import GRAM_SLACK, matrix_spectral_norm, rounding_margin
from reductions.validation import InvalidInputError


def _randomized(module: nn.Module, seed: int) -> nn.Module:
    """Float64 eval copy with reproducible random parameters and BatchNorm statistics."""
    generator = torch.Generator().manual_seed(seed)
    module = module.double()
    with torch.no_grad():
        for tensor in module.parameters():
            tensor.copy_(torch.randn(tensor.shape, generator=generator, dtype=torch.float64))
        for sub in module.modules():
            if isinstance(sub, nn.modules.batchnorm._BatchNorm):
                sub.running_mean.copy_(torch.randn(sub.running_mean.shape, generator=generator, dtype=torch.float64))
                sub.running_var.copy_(torch.rand(sub.running_var.shape, generator=generator, dtype=torch.float64) + 0.1)
    return module.eval()


def _svd(module, shape) -> torch.Tensor:
    return torch.linalg.svdvals(operator_matrix(module, shape, device="cpu"))


# Small affine layers and compositions with the shape of one input.
LAYERS = [
    ("linear", lambda: nn.Linear(7, 5), (7,)),
    ("linear_rows", lambda: nn.Linear(4, 6), (3, 4)),
    ("conv1d", lambda: nn.Conv1d(2, 3, 4, stride=3, padding=1), (2, 11)),
    ("conv1d_dilated", lambda: nn.Conv1d(2, 3, 3, padding=2, dilation=2), (2, 9)),
    ("conv2d", lambda: nn.Conv2d(2, 3, 3, stride=2, padding=1), (2, 7, 6)),
    ("conv2d_groups", lambda: nn.Conv2d(4, 6, 3, padding=2, dilation=2, groups=2), (4, 5, 5)),
    ("conv2d_same", lambda: nn.Conv2d(2, 3, (2, 3), padding="same"), (2, 5, 6)),
    ("conv3d", lambda: nn.Conv3d(2, 2, (2, 3, 2), stride=(1, 2, 1), padding=1), (2, 3, 4, 3)),
    ("convT1d", lambda: nn.ConvTranspose1d(4, 2, 3, stride=2, groups=2, dilation=2), (4, 6)),
    ("convT2d", lambda: nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1, output_padding=1), (2, 4, 5)),
    ("convT3d", lambda: nn.ConvTranspose3d(1, 2, 2, stride=(2, 1, 1)), (1, 3, 2, 3)),
    ("avgpool", lambda: nn.AvgPool2d(3, stride=2, padding=1), (2, 6, 6)),
    ("avgpool_nopad", lambda: nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False), (1, 5, 5)),
    ("adaptive_avg", lambda: nn.AdaptiveAvgPool2d((2, 3)), (2, 5, 7)),
    ("batchnorm", lambda: nn.BatchNorm2d(3), (3, 4, 4)),
    ("composition", lambda: nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2), nn.AvgPool2d(2),
                                          nn.Flatten(), nn.Linear(8, 3)), (1, 4, 4)),
]


# Dilated float64 convolutions take a slow CPU path; the power method is generic, and dilation is
# covered by the exact and FFT tests.
UNDILATED = [layer for layer in LAYERS if "dilated" not in layer[0]]


@pytest.mark.parametrize("name, make, shape", UNDILATED, ids=[layer[0] for layer in UNDILATED])
def test_power_method_equals_svd_of_unrolled_operator(name, make, shape):
    module = _randomized(make(), seed=300 + len(name))  # seeds whose spectral gaps keep this test fast
    singular = _svd(module, shape)
    result = power_method(module, shape, iterations=20000, rtol=1e-12, restarts=3, device="cpu")
    assert math.isclose(result.sigma, float(singular[0]), rel_tol=1e-6)
    # sigma is ||A v|| for a unit v: never above the true norm (up to rounding), and u = A v / sigma.
    assert result.sigma <= float(singular[0]) * (1 + 1e-12)
    assert math.isclose(float(result.v.norm()), 1.0, rel_tol=1e-12)
    A = operator_matrix(module, shape, device="cpu")
    torch.testing.assert_close(A @ result.v.reshape(-1), result.sigma * result.u.reshape(-1), rtol=1e-9, atol=1e-12)
    assert len(result.restarts) == 3 and max(result.restarts) == result.sigma


@pytest.mark.parametrize("name, make, shape", LAYERS[2:9], ids=[layer[0] for layer in LAYERS[2:9]])
def test_top_k_singular_values_equal_svd(name, make, shape):
    module = _randomized(make(), seed=7)
    singular = _svd(module, shape)
    k = 3
    result = top_k_singular(module, shape, k, iterations=20000, rtol=1e-12, device="cpu")
    torch.testing.assert_close(result.values, singular[:k], rtol=1e-6, atol=1e-9)
    A = operator_matrix(module, shape, device="cpu")
    for i in range(k):
        image = A @ result.v[i].reshape(-1)
        torch.testing.assert_close(image, result.values[i] * result.u[i].reshape(-1), rtol=1e-5, atol=1e-7)
    gram = result.v.reshape(k, -1) @ result.v.reshape(k, -1).T
    torch.testing.assert_close(gram, torch.eye(k, dtype=torch.float64), rtol=0, atol=1e-10)


def test_operator_matrix_is_the_jacobian():
    module = _randomized(nn.Conv2d(2, 3, 3, stride=2, padding=1), seed=3)
    shape = (2, 5, 4)
    jacobian = torch.autograd.functional.jacobian(lambda x: module(x[None])[0], torch.zeros(shape, dtype=torch.float64))
    torch.testing.assert_close(operator_matrix(module, shape, device="cpu", chunk=7), jacobian.reshape(-1, 40))


@pytest.mark.parametrize("rows, cols", [(515, 530), (540, 520)])
def test_exact_norm_of_large_operators_is_certified_through_the_gram_matrix(rows, cols):
    generator = torch.Generator().manual_seed(1)
    W = torch.randn(rows, cols, generator=generator, dtype=torch.float64)
    W[:, ::2] = 0  # a sparse operator takes the scipy path
    for matrix in (W, torch.randn(rows, cols, generator=generator, dtype=torch.float64)):
        value, v = exact_operator_norm(lambda x: x @ matrix.T, (cols,), device="cpu")
        exact = float(torch.linalg.matrix_norm(matrix, ord=2))
        assert exact <= value <= exact * (1 + GRAM_SLACK)
        assert math.isclose(float((matrix @ v).norm()), exact, rel_tol=1e-9)


def test_a_wrong_lanczos_value_falls_back_to_the_eigendecomposition(monkeypatch):
    import scipy.sparse.linalg

    def wrong(operand, **kwargs):  # a Ritz value below the top eigenvalue must not be certified
        return np.array([1.0]), np.ones((operand.shape[0], 1)) / np.sqrt(operand.shape[0])

    monkeypatch.setattr(scipy.sparse.linalg, "eigsh", wrong)
    generator = torch.Generator().manual_seed(2)
    W = torch.randn(600, 520, generator=generator, dtype=torch.float64)
    value, v = matrix_spectral_norm(W)
    assert math.isclose(value, float(torch.linalg.matrix_norm(W, ord=2)), rel_tol=1e-12)


def test_power_method_is_deterministic_and_handles_the_zero_map():
    module = _randomized(nn.Conv1d(1, 2, 3), seed=5)
    a = power_method(module, (1, 8), seed=4, device="cpu")
    b = power_method(module, (1, 8), seed=4, device="cpu")
    assert a.sigma == b.sigma and torch.equal(a.v, b.v)
    zero = power_method(lambda x: 0 * x + 3.0, (4,), device="cpu")
    assert zero.sigma == 0.0 and zero.converged and zero.iterations == 2


def test_power_method_reports_non_convergence():
    diag = torch.tensor([1.0, 0.999999, 0.5], dtype=torch.float64)
    result = power_method(lambda x: x * diag, (3,), iterations=3, rtol=0.0, device="cpu")
    assert not result.converged and result.iterations == 3 and result.sigma <= 1.0


@pytest.mark.parametrize("kwargs, field", [
    (dict(input_shape=(0, 3)), "input_shape"),
    (dict(input_shape="3"), "input_shape"),
    (dict(input_shape=(3,), iterations=0), "iterations"),
    (dict(input_shape=(3,), rtol=-1.0), "rtol"),
    (dict(input_shape=(3,), restarts=0), "restarts"),
    (dict(input_shape=(3,), device="abacus"), "device"),
])
def test_power_method_validates(kwargs, field):
    with pytest.raises(InvalidInputError) as error:
        power_method(nn.Linear(3, 2), **kwargs)
    assert error.value.field == field


# ---------------------------------------------------------------- spectral_norm policy
@pytest.mark.parametrize("name, make, shape", LAYERS, ids=[layer[0] for layer in LAYERS])
def test_spectral_norm_small_layers_are_certified_and_exact(name, make, shape):
    module = _randomized(make(), seed=len(name) + 1)
    exact = float(_svd(module, shape)[0])
    result = spectral_norm(module, shape, device="cpu")
    assert result.certified and result.method in ("exact", "closed_form")
    assert exact <= result.value <= exact * (1 + 2 * rounding_margin(torch.float64))


def test_spectral_norm_dispatches_large_layers_to_structured_bounds():
    conv = _randomized(nn.Conv2d(1, 2, 3, padding=1), seed=1)
    pool = nn.AvgPool2d(2).double()
    exact = [float(_svd(layer, (1, 6, 6))[0]) for layer in (conv, pool)]
    fft = spectral_norm(conv, (1, 6, 6), exact_max_dim=10, device="cpu")
    schur = spectral_norm(pool, (1, 6, 6), exact_max_dim=10, device="cpu")
    assert (fft.method, schur.method) == ("fft", "schur") and fft.certified and schur.certified
    assert fft.value >= exact[0] and schur.value >= exact[1] and fft.lower is None


def test_large_unstructured_operator_falls_back_to_an_uncertified_estimate():
    generator = torch.Generator().manual_seed(2)
    W = torch.randn(30, 40, generator=generator, dtype=torch.float64)
    result = spectral_norm(lambda x: x @ W.T, (40,), exact_max_dim=10, rtol=1e-14, iterations=5000, device="cpu")
    exact = float(torch.linalg.matrix_norm(W, ord=2))
    assert result.method == "power" and not result.certified
    assert result.lower == result.value <= exact * (1 + 1e-12)
    assert math.isclose(result.value, exact, rel_tol=1e-8)
    assert result.details["converged"]


def test_spectral_norm_checks_the_input_shape():
    with pytest.raises(InvalidInputError) as error:
        spectral_norm(nn.Linear(3, 2), (4,), device="cpu")
    assert error.value.field == "input_shape"
    assert EXACT_MAX_DIM == 4096
