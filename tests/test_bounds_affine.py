import math

import pytest
import torch
from torch import nn

from lipexact.bounds.affine import (
    closed_form_norm,
    conv_fft_bound,
    fft_applies,
    nonnegative_operator,
    schur_bound,
)
from lipexact.bounds.torchscript import unscript
from lipexact.bounds.power import operator_matrix
from reductions.validation import InvalidInputError

from .test_bounds_power import LAYERS, _randomized


def _exact(module, shape) -> float:
    return float(torch.linalg.matrix_norm(operator_matrix(module, shape, device="cpu"), ord=2))


CONVS = [layer for layer in LAYERS if "conv" in layer[0]] + [
    ("conv2d_stride3_dilated", lambda: nn.Conv2d(2, 2, 3, stride=(3, 2), padding=(2, 0), dilation=(2, 3)), (2, 8, 9)),
    ("convT2d_stride3", lambda: nn.ConvTranspose2d(3, 2, (3, 2), stride=(3, 2), padding=(1, 0), groups=1), (3, 3, 4)),
    ("conv1d_depthwise", lambda: nn.Conv1d(3, 6, 4, stride=2, groups=3), (3, 12)),
]


@pytest.mark.parametrize("name, make, shape", CONVS, ids=[c[0] for c in CONVS])
@pytest.mark.parametrize("seed", [0, 1])
def test_fft_bound_is_above_the_exact_norm(name, make, shape, seed):
    module = _randomized(make(), seed=seed * 100 + len(name))
    assert fft_applies(module)
    # Equality holds for non-overlapping kernels; the rounding margin of spectral_norm covers the last ulp.
    assert conv_fft_bound(module, shape) >= _exact(module, shape) * (1 - 1e-13)


@pytest.mark.parametrize("make, shape", [
    (lambda: nn.Conv1d(2, 3, 5, stride=2, padding=2), (2, 400)),
    (lambda: nn.ConvTranspose1d(3, 2, 4, stride=2, padding=1), (3, 300)),
])
def test_fft_bound_is_tight_on_long_inputs(make, shape):
    module = _randomized(make(), seed=11)
    exact = _exact(module, shape)
    assert exact <= conv_fft_bound(module, shape) <= exact * 1.002


def test_fft_bound_equals_the_symbol_maximum_for_a_single_channel():
    conv = nn.Conv1d(1, 1, 3, bias=False, dtype=torch.float64)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([[[1.0, -2.0, 1.0]]]))
    # |1 - 2 e^{-iw} + e^{-2iw}| = |1 - e^{-iw}|^2 = 2 - 2 cos w: the bound is a grid maximum of it,
    # never above its supremum 4, never below the exact norm, and close to 4 on long inputs.
    for length in (3, 7, 8, 60):
        bound = conv_fft_bound(conv, (1, length))
        assert _exact(conv, (1, length)) <= bound <= 4.0
    assert bound >= 3.99
    assert not fft_applies(nn.Conv1d(1, 1, 3, padding=1, padding_mode="reflect"))


@pytest.mark.parametrize("make, shape, tight", [
    (lambda: nn.AvgPool2d(2), (2, 6, 6), True),
    (lambda: nn.AvgPool2d(3, stride=2, padding=1), (1, 7, 7), False),
    (lambda: nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False), (1, 7, 7), False),
    (lambda: nn.AdaptiveAvgPool1d(4), (2, 10), False),
    (lambda: nn.Upsample(scale_factor=2, mode="bilinear"), (1, 3, 4), False),
    (lambda: nn.Upsample(scale_factor=3, mode="nearest"), (1, 2, 3), True),
])
def test_schur_bound_for_nonnegative_operators(make, shape, tight):
    module = make().double().eval()
    assert nonnegative_operator(module)
    assert bool((operator_matrix(module, shape, device="cpu") >= 0).all())
    exact = _exact(module, shape)
    bound = schur_bound(module, shape)
    assert bound >= exact * (1 - 1e-12)
    if tight:
        assert bound <= exact * (1 + 1e-9)
    assert not nonnegative_operator(nn.Upsample(scale_factor=2, mode="bicubic"))


def test_closed_forms():
    bn = _randomized(nn.BatchNorm1d(3), seed=2)
    assert math.isclose(closed_form_norm(bn, (3, 5)), _exact(bn, (3, 5)), rel_tol=1e-12)
    linear = _randomized(nn.Linear(3, 4), seed=3)
    assert math.isclose(closed_form_norm(linear, (2, 3)), _exact(linear, (2, 3)), rel_tol=1e-12)
    assert closed_form_norm(nn.Dropout(0.5).eval(), (4,)) == 1.0
    assert closed_form_norm(nn.Conv1d(1, 1, 2), (1, 4)) is None
    with pytest.raises(InvalidInputError) as error:
        closed_form_norm(nn.Dropout(0.5), (4,))  # training mode: not an identity
    assert error.value.field == "module"


def test_unscript_rebuilds_scripted_sequentials_exactly():
    model = _randomized(nn.Sequential(nn.Conv1d(1, 2, 3, stride=2, padding=1), nn.BatchNorm1d(2), nn.ELU(0.5),
                                      nn.Flatten(), nn.Linear(8, 2)), seed=4)
    rebuilt = unscript(torch.jit.script(model), (1, 8))
    assert isinstance(rebuilt, nn.Sequential) and not isinstance(rebuilt, torch.jit.ScriptModule)
    for mine, theirs in zip(rebuilt.state_dict().values(), model.state_dict().values()):
        assert torch.equal(mine, theirs)
    assert rebuilt[2].alpha == 0.5 and rebuilt[0].stride == (2,)
    assert unscript(model, (1, 8)) is model

    class Custom(nn.Module):
        def forward(self, x):
            return x * 2

    with pytest.raises(InvalidInputError) as error:
        unscript(torch.jit.script(Custom()), (3,))
    assert error.value.field == "model" and "TorchScript" in str(error.value)


@pytest.mark.parametrize("rows, cols", [(3, 7), (7, 3), (5, 5), (1, 4)])
def test_largest_block_norm_squared_equals_the_largest_squared_singular_value(rows, cols):
    from lipexact.bounds.affine import largest_block_norm_squared

    generator = torch.Generator().manual_seed(rows * 10 + cols)
    blocks = torch.complex(torch.randn(6, rows, cols, generator=generator, dtype=torch.float64),
                           torch.randn(6, rows, cols, generator=generator, dtype=torch.float64))
    expected = float(torch.linalg.matrix_norm(blocks, ord=2).max()) ** 2
    assert largest_block_norm_squared(blocks) == pytest.approx(expected, rel=1e-12)
    assert largest_block_norm_squared(blocks[:0]) == 0.0
