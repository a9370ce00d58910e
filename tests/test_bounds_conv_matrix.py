"""lipexact/bounds/conv_matrix.py: sparse convolution matrices and their certified spectral norms."""

import numpy as np
import scipy.sparse
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lipexact.bounds.conv_matrix import certified_sparse_norm, conv_sparse_matrix
from lipexact.bounds.layer_norm import spectral_norm
from lipexact.bounds.power import operator_matrix


@st.composite
def convolutions(draw):
    dims = draw(st.sampled_from([1, 2, 3]))
    groups = draw(st.sampled_from([1, 2]))
    c_in, c_out = groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 3))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(dims))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(dims))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(dims))
    padding = tuple(draw(st.integers(0, 2)) for _ in range(dims))
    size = tuple(max(1, d * (k - 1) + 1 - 2 * p) + draw(st.integers(0, 4 if dims < 3 else 1))
                 for k, d, p in zip(kernel, dilation, padding))
    conv = getattr(torch.nn, f"Conv{dims}d")(c_in, c_out, kernel, stride=stride, padding=padding, dilation=dilation,
                                             groups=groups, bias=draw(st.booleans()), dtype=torch.float64)
    torch.manual_seed(draw(st.integers(0, 2 ** 16)))
    with torch.no_grad():
        conv.weight.copy_(torch.randn_like(conv.weight))
    return conv, (c_in,) + size


@settings(max_examples=60, deadline=None)
@given(convolutions())
def test_the_sparse_matrix_is_the_operator(case):
    conv, shape = case
    A = conv_sparse_matrix(conv, shape)
    assert A is not None
    # the columns g(e_j) - g(0) of autograd's matrix round once where there is a bias
    scale = float(conv.weight.abs().max()) + (float(conv.bias.abs().max()) if conv.bias is not None else 0.0)
    assert np.allclose(A.toarray(), operator_matrix(conv, shape, device="cpu").numpy(), rtol=0, atol=1e-15 * scale)


@settings(max_examples=40, deadline=None)
@given(convolutions())
def test_the_certified_norm_is_above_the_exact_norm_and_within_1e_8(case):
    conv, shape = case
    A = conv_sparse_matrix(conv, shape).toarray()
    exact = float(np.linalg.norm(A, 2)) if A.size else 0.0
    bound = certified_sparse_norm(scipy.sparse.csr_matrix(A))
    assert bound >= exact
    assert bound <= exact * (1 + 1e-8) + 1e-300


def test_layers_it_does_not_cover_are_refused():
    assert conv_sparse_matrix(torch.nn.Conv2d(1, 1, 3, padding=1, padding_mode="reflect"), (1, 5, 5)) is None
    assert conv_sparse_matrix(torch.nn.Conv2d(1, 1, 3, padding="same"), (1, 5, 5)) is None
    assert conv_sparse_matrix(torch.nn.Linear(3, 2), (3,)) is None
    assert conv_sparse_matrix(torch.nn.Conv2d(2, 1, 3), (1, 5, 5)) is None  # wrong channel count
    assert conv_sparse_matrix(torch.nn.Conv2d(1, 4, 3), (1, 30, 30), max_entries=100) is None


def test_a_failing_certificate_returns_none_not_a_number(monkeypatch):
    import lipexact.bounds.conv_matrix as module

    A = scipy.sparse.csr_matrix(np.arange(1.0, 7.0).reshape(2, 3))
    assert certified_sparse_norm(A) >= np.linalg.norm(A.toarray(), 2)

    class Failed:
        info = torch.tensor(1)

    monkeypatch.setattr(module.torch.linalg, "cholesky_ex", lambda M: Failed())
    assert certified_sparse_norm(A) is None
    bad = scipy.sparse.csr_matrix(np.array([[np.inf, 1.0]]))
    assert certified_sparse_norm(bad) is None


def test_strided_mnist_layer_is_certified_to_the_exact_norm_where_fft_is_percent_above():
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(32, 64, 3, stride=2, dtype=torch.float64)
    shape = (32, 12, 12)
    exact = float(np.linalg.norm(operator_matrix(conv, shape, device="cpu").numpy(), 2))
    result = spectral_norm(conv, shape, device="cpu")
    assert result.certified and result.method == "exact" and "kernel" in result.details["via"]
    assert exact <= result.value <= exact * (1 + 1e-8)
    fast = spectral_norm(conv, shape, device="cpu", exact_max_dim=0)
    assert fast.method == "fft" and fast.value > exact * 1.001  # the bound this path replaces


@settings(max_examples=40, deadline=None)
@given(convolutions())
def test_positions_first_numbering_permutes_rows_and_columns(case):
    conv, shape = case
    channels_first = conv_sparse_matrix(conv, shape).toarray()
    positions_first = conv_sparse_matrix(conv, shape, positions_first=True).toarray()
    rows, cols = channels_first.shape
    c_out, c_in = conv.out_channels, shape[0]
    row_order = np.arange(rows).reshape(c_out, rows // c_out).T.reshape(-1)  # position-major -> channel-major
    col_order = np.arange(cols).reshape(c_in, cols // c_in).T.reshape(-1)
    assert np.array_equal(positions_first, channels_first[np.ix_(row_order, col_order)])


@settings(max_examples=40, deadline=None)
@given(convolutions(), st.sampled_from(["sparse", "dense", 1, 2, 5, 16]))
def test_every_gram_product_gives_the_same_matrix(case, method):
    from lipexact.bounds.conv_matrix import _gram

    conv, shape = case
    A = conv_sparse_matrix(conv, shape, positions_first=True)
    dense = A.toarray()
    expected = dense.T @ dense
    got = _gram(A, method)
    scale = float((np.abs(dense).T @ np.abs(dense)).max()) if dense.size else 0.0
    assert got.shape == expected.shape
    assert np.allclose(got, expected, rtol=0, atol=1e-13 * max(scale, 1e-300))


def test_the_banded_gram_is_chosen_for_a_strided_layer_and_skips_the_zeros():
    from lipexact.bounds.conv_matrix import _chunk_spans

    torch.manual_seed(0)
    conv = torch.nn.Conv2d(32, 64, 3, stride=2, dtype=torch.float64)
    A = conv_sparse_matrix(conv, (32, 12, 12), positions_first=True)
    low, high = _chunk_spans(A, (64,))[64]  # one output position per chunk: its 3x3 window
    assert int(np.max(high - low)) <= (2 * 12 + 3) * 32 < A.shape[1] / 5


def test_a_low_eigenvalue_estimate_is_corrected_by_the_float64_one(monkeypatch):
    import lipexact.bounds.conv_matrix as module

    rng = np.random.default_rng(3)
    A = scipy.sparse.csr_matrix(rng.standard_normal((120, 90)))
    exact = float(np.linalg.norm(A.toarray(), 2))
    calls = []
    monkeypatch.setattr(module, "_lanczos_float32", lambda G: calls.append("low") or 0.5 * exact ** 2)
    bound = certified_sparse_norm(A)
    assert calls == ["low"]
    assert exact <= bound <= exact * (1 + 1e-9)


def test_estimates_that_stay_below_the_top_end_in_none(monkeypatch):
    import lipexact.bounds.conv_matrix as module

    rng = np.random.default_rng(4)
    A = scipy.sparse.csr_matrix(rng.standard_normal((120, 90)))
    low = 0.5 * float(np.linalg.norm(A.toarray(), 2)) ** 2
    monkeypatch.setattr(module, "_lanczos_float32", lambda G: low)
    monkeypatch.setattr(module, "_lanczos_float64", lambda G: low)
    assert certified_sparse_norm(A) is None


@settings(max_examples=60, deadline=None)
@given(convolutions())
def test_the_kernel_gram_is_the_gram_of_the_smaller_side(case):
    from lipexact.bounds.conv_matrix import conv_gram

    conv, shape = case
    A = conv_sparse_matrix(conv, shape, positions_first=True).toarray()
    G, m, row_sum, column_sum = conv_gram(conv, shape)
    expected = A.T @ A if A.shape[1] <= A.shape[0] else A @ A.T
    scale = float((np.abs(A).T @ np.abs(A)).max()) if A.size else 0.0
    assert G.shape == expected.shape and m == max(A.shape)
    assert np.allclose(G, expected, rtol=0, atol=1e-13 * max(scale, 1e-300))
    assert np.isclose(row_sum, np.abs(A).sum(axis=1).max(), rtol=1e-12)
    assert np.isclose(column_sum, np.abs(A).sum(axis=0).max(), rtol=1e-12)


@settings(max_examples=40, deadline=None)
@given(convolutions())
def test_the_certified_conv_norm_is_above_the_exact_norm_and_within_1e_8(case):
    from lipexact.bounds.conv_matrix import certified_conv_norm

    conv, shape = case
    A = conv_sparse_matrix(conv, shape).toarray()
    exact = float(np.linalg.norm(A, 2)) if A.size else 0.0
    bound = certified_conv_norm(conv, shape)
    assert exact <= bound <= exact * (1 + 1e-8) + 1e-300


def test_the_kernel_gram_refuses_what_the_sparse_matrix_refuses():
    from lipexact.bounds.conv_matrix import certified_conv_norm, conv_gram

    assert conv_gram(torch.nn.Conv2d(1, 1, 3, padding=1, padding_mode="reflect"), (1, 5, 5)) is None
    assert conv_gram(torch.nn.Linear(3, 2), (3,)) is None
    assert certified_conv_norm(torch.nn.Conv2d(2, 1, 3), (1, 5, 5)) is None  # wrong channel count


def test_a_non_finite_gram_or_sum_is_refused():
    from lipexact.bounds.conv_matrix import _certify

    G = np.eye(3)
    assert _certify(G, 3, 1.0, 1.0) >= 1.0
    bad = G.copy()
    bad[0, 1] = np.nan
    assert _certify(bad, 3, 1.0, 1.0) is None
    assert _certify(G, 3, np.inf, 1.0) is None


def test_many_channels_on_few_positions_take_the_sparse_product(monkeypatch):
    import lipexact.bounds.conv_matrix as module

    calls = []
    product = module._gram
    monkeypatch.setattr(module, "_gram", lambda small, method=None: calls.append(small.shape) or product(small))
    torch.manual_seed(1)
    conv = torch.nn.Conv2d(128, 128, 3, padding=1, bias=False, dtype=torch.float64)  # (9 x 128)^2 > 2^20
    A = conv_sparse_matrix(conv, (128, 1, 1), positions_first=True).toarray()
    G, m, _, _ = module.conv_gram(conv, (128, 1, 1))
    assert calls == [(128, 128)]
    assert np.allclose(G, A.T @ A, rtol=0, atol=1e-12) and m == 128


def test_the_formation_slack_uses_the_inflated_absolute_sums():
    """With ``m`` large the formation term ``gamma_m ||A||_1 ||A||_inf`` is visible: the certificate must carry it
    with both float sums inflated by their own rounding ``gamma_{m+n}``."""
    from lipexact.bounds.conv_matrix import _certify, _gamma

    m, sums = 1 << 40, 1000.0
    bound = _certify(np.array([[1.0]]), m, sums, sums)
    assert bound ** 2 >= 1.0 + _gamma(m) * (sums * (1 + _gamma(m + 1))) ** 2
