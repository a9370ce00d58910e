"""SeqLip: exact enumeration against itertools, brackets around the exact constant, greedy and CNN variants."""

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lipexact import TwoLayerReLU, lipschitz
from lipexact.bounds.seqlip import (
    exact_pair_max,
    gray_flips,
    greedy_pair_max,
    iter_vertex_sq_norms,
    midpoint_pair_bound,
    pair_norm,
    split_pair_bound,
    seqlip,
    seqlip_cnn,
    seqlip_greedy,
)
from lipexact.result import Status
from reductions.validation import InvalidInputError
from tests.strategies import integer_matrices, two_layer_nets

RTOL = 1e-9
SLOPES = [(0.0, 1.0), (0.1, 1.0), (-0.5, 1.0), (0.0, 0.25)]


def t64(a):
    return torch.as_tensor(np.asarray(a, dtype=np.float64))


def naive_pair_max(P, Q, lo, hi):
    P, Q = np.asarray(P, float), np.asarray(Q, float)
    return max(np.linalg.norm((P * np.array(d)) @ Q, 2) for d in itertools.product([lo, hi], repeat=P.shape[1]))


def naive_two_layer(net):
    W1, W2 = np.asarray(net.W1, float), np.asarray(net.W2, float)
    return max(np.linalg.norm((W2 * np.array(s)) @ W1, 2) for s in itertools.product([0, 1], repeat=net.n_hidden))


def mlp(weights, activation=torch.nn.ReLU, bias=False):
    layers = []
    for i, W in enumerate(weights):
        W = np.asarray(W, dtype=np.float64)
        linear = torch.nn.Linear(W.shape[1], W.shape[0], bias=bias, dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(torch.as_tensor(W))
        layers.append(linear)
        if i + 1 < len(weights):
            layers.append(activation())
    return torch.nn.Sequential(*layers)


def max_over_all_pattern_tuples(weights):
    """max over every tuple of hidden patterns of ||W_K D_{K-1} ... D_1 W_1|| (>= the Lipschitz constant)."""
    weights = [np.asarray(W, float) for W in weights]
    widths = [W.shape[0] for W in weights[:-1]]
    best = 0.0
    for bits in itertools.product([0, 1], repeat=sum(widths)):
        J, start = weights[0], 0
        for W, width in zip(weights[1:], widths):
            J = W @ (np.array(bits[start:start + width])[:, None] * J)
            start += width
        best = max(best, np.linalg.norm(J, 2))
    return best


def spectral_product(weights):
    return float(np.prod([np.linalg.norm(np.asarray(W, float), 2) for W in weights]))


# ---------------------------------------------------------------- enumeration machinery

@pytest.mark.parametrize("bits", range(0, 11))
def test_gray_code_visits_every_code_exactly_once(bits):
    code, visited = 0, [0]
    for bit, value in gray_flips(bits):
        assert (code >> bit) & 1 == 1 - value  # each step really flips that bit
        code ^= 1 << bit
        visited.append(code)
    assert len(visited) == 2 ** bits
    assert sorted(visited) == list(range(2 ** bits))


@pytest.mark.parametrize("r1,r2,n,batch_bits", [(1, 1, 5, 0), (2, 3, 6, 2), (3, 2, 7, None), (4, 4, 6, 3),
                                                (1, 3, 4, 4)])
@pytest.mark.parametrize("lo,hi", SLOPES)
def test_vertex_enumeration_covers_each_vertex_once_with_correct_norms(r1, r2, n, batch_bits, lo, hi):
    generator = torch.Generator().manual_seed(r1 * 100 + n)
    P = torch.randn(r1, n, generator=generator, dtype=torch.float64)
    Q = torch.randn(n, r2, generator=generator, dtype=torch.float64)
    codes, norms = [], []
    for c, sq in iter_vertex_sq_norms(P, Q, lo, hi, batch_bits=batch_bits):
        codes.extend(c.tolist())
        norms.extend(sq.tolist())
    assert sorted(codes) == list(range(2 ** n))
    for code, sq in zip(codes, norms):
        d = torch.tensor([lo if not (code >> j) & 1 else hi for j in range(n)], dtype=torch.float64)
        assert sq == pytest.approx(pair_norm(P, Q, d) ** 2, rel=1e-10, abs=1e-12)


@settings(max_examples=60)
@given(st.data())
def test_exact_pair_max_matches_itertools_and_brackets(data):
    r1, r2, n = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4)), data.draw(st.integers(1, 8))
    P = t64(data.draw(integer_matrices(r1, n)))
    Q = t64(data.draw(integer_matrices(n, r2)))
    lo, hi = data.draw(st.sampled_from(SLOPES))
    batch_bits = data.draw(st.sampled_from([None, 0, 2]))
    exact, d, _ = exact_pair_max(P, Q, lo, hi, batch_bits=batch_bits)
    naive = naive_pair_max(P, Q, lo, hi)
    assert exact == pytest.approx(naive, rel=RTOL, abs=1e-12)
    assert set(d.tolist()) <= {lo, hi}
    assert pair_norm(P, Q, d) == pytest.approx(exact, rel=RTOL, abs=1e-12)  # the vertex attains it
    greedy, d_greedy, _ = greedy_pair_max(P, Q, lo, hi, seed=1)
    assert greedy <= exact * (1 + RTOL) + 1e-12
    assert pair_norm(P, Q, d_greedy) == pytest.approx(greedy, rel=RTOL, abs=1e-12)
    midpoint = midpoint_pair_bound(P, Q, lo, hi)
    assert exact <= midpoint * (1 + RTOL) + 1e-12
    product = max(abs(lo), abs(hi)) * float(torch.linalg.matrix_norm(P, 2) * torch.linalg.matrix_norm(Q, 2))
    assert midpoint <= product * (1 + RTOL) + 1e-12
    split, stats = split_pair_bound(P, Q, lo, hi, width=data.draw(st.integers(0, n)))
    assert exact <= split * (1 + RTOL) + 1e-12
    assert split <= midpoint
    assert split_pair_bound(P, Q, lo, hi, width=n)[0] == pytest.approx(exact, rel=RTOL, abs=1e-12)


def test_greedy_power_iteration_path_matches_its_vertex(monkeypatch):
    import lipexact.bounds.seqlip_pairs as module

    generator = torch.Generator().manual_seed(5)
    P = torch.randn(4, 12, generator=generator, dtype=torch.float64)
    Q = torch.randn(12, 5, generator=generator, dtype=torch.float64)
    exact, _, _ = exact_pair_max(P, Q)
    monkeypatch.setattr(module, "_DENSE_GREEDY", 0)  # force the factored power iteration
    value, d, stats = greedy_pair_max(P, Q, seed=2)
    assert stats["dense"] is False
    assert value <= exact * (1 + RTOL)
    assert value == pytest.approx(pair_norm(P, Q, d), rel=1e-8)


def test_exact_pair_max_with_incumbent_is_unchanged():
    generator = torch.Generator().manual_seed(3)
    P = torch.randn(3, 10, generator=generator, dtype=torch.float64)
    Q = torch.randn(10, 3, generator=generator, dtype=torch.float64)
    plain, _, _ = exact_pair_max(P, Q)
    incumbent = greedy_pair_max(P, Q)
    pruned, d, stats = exact_pair_max(P, Q, incumbent=incumbent[:2])
    assert pruned == pytest.approx(plain, rel=1e-12)
    assert pair_norm(P, Q, d) == pytest.approx(plain, rel=1e-12)
    assert stats["eigen_evaluations"] < 2 ** 10  # the incumbent and the cheap bounds pruned something


# ---------------------------------------------------------------- SeqLip on networks

@settings(max_examples=40)
@given(two_layer_nets(max_inputs=4, max_hidden=7, max_outputs=3))
def test_two_layer_seqlip_is_max_of_pattern_jacobians_and_brackets_exact(net):
    result = seqlip(net, device="cpu")
    assert result.status == Status.UPPER_BOUND and result.upper == result.value
    assert len(result.stats["pair_factors"]) == 1  # the (only) pair, also for scalar outputs
    assert result.value == pytest.approx(naive_two_layer(net), rel=RTOL, abs=1e-12)
    exact = lipschitz(net, method="brute").value
    assert exact <= result.value * (1 + RTOL) + 1e-12
    assert result.value <= spectral_product([net.W1, net.W2]) * (1 + RTOL) + 1e-12
    greedy = seqlip_greedy(net, device="cpu")
    assert greedy.status == Status.HEURISTIC and greedy.upper is None
    assert greedy.value <= result.value * (1 + RTOL) + 1e-12


@settings(max_examples=25)
@given(st.data())
def test_deep_seqlip_dominates_every_pattern_tuple_and_is_below_spectral_product(data):
    depth = data.draw(st.integers(3, 4))
    widths = [data.draw(st.integers(1, 3))] + [data.draw(st.integers(1, 4)) for _ in range(depth - 1)]
    widths.append(data.draw(st.integers(1, 2)))
    weights = [data.draw(integer_matrices(widths[i + 1], widths[i])) for i in range(depth)]
    result = seqlip(mlp(weights, bias=data.draw(st.booleans())), device="cpu")
    assert result.status == Status.UPPER_BOUND
    assert len(result.stats["pair_factors"]) == depth - 1
    assert max_over_all_pattern_tuples(weights) <= result.value * (1 + RTOL) + 1e-9
    assert result.value <= spectral_product(weights) * (1 + RTOL) + 1e-9
    greedy = seqlip_greedy(mlp(weights), device="cpu")
    assert greedy.value <= result.value * (1 + RTOL) + 1e-9


def test_deeper_mlp_width_eight_below_spectral_product():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 8), torch.nn.ReLU(),
                              torch.nn.Linear(8, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1)).double()
    weights = [m.weight.detach().numpy() for m in net if isinstance(m, torch.nn.Linear)]
    result = seqlip(net, device="cpu")
    assert [p["kind"] for p in result.stats["pairs"]] == ["exact"] * 3
    assert result.value <= spectral_product(weights)
    # every vertex of every pair lies below the factor: check the reported vertices attain the factors
    assert len(result.certificate["pair_vertices"]) == 3


def numpy_seqlip(weights):
    """The SeqLip formula written out independently: numpy SVDs, itertools over each pair's vertices."""
    svds = [np.linalg.svd(np.asarray(W, float), full_matrices=False) for W in weights]
    last, value = len(svds) - 1, 1.0
    for i in range(last):
        U_i, S_i, _ = svds[i]
        _, S_next, Vh_next = svds[i + 1]
        right = U_i * (S_i if i == 0 else np.sqrt(S_i))  # U_i S~_i
        left = (S_next if i + 1 == last else np.sqrt(S_next))[:, None] * Vh_next  # S~_{i+1} V_{i+1}^T
        value *= naive_pair_max(left, right, 0.0, 1.0)
    return value


@settings(max_examples=15)
@given(st.data())
def test_seqlip_matches_an_independent_numpy_implementation(data):
    depth = data.draw(st.integers(2, 4))
    widths = [data.draw(st.integers(1, 4)) for _ in range(depth)] + [data.draw(st.integers(1, 3))]
    weights = [data.draw(integer_matrices(widths[i + 1], widths[i])) for i in range(depth)]
    result = seqlip(mlp(weights), device="cpu")
    assert result.value == pytest.approx(numpy_seqlip(weights), rel=1e-9, abs=1e-12)


def test_scalar_output_includes_last_pair():
    W1 = [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]
    W2 = [[2.0, -1.0, 1.0], [0.0, 1.0, 1.0]]
    W3 = [[1.0, -3.0]]
    result = seqlip(mlp([W1, W2, W3]), device="cpu")
    assert len(result.stats["pair_factors"]) == 2
    assert max_over_all_pattern_tuples([W1, W2, W3]) <= result.value * (1 + RTOL)


def test_wide_pair_falls_back_to_proven_split_bound():
    net = TwoLayerReLU(np.arange(30).reshape(10, 3) % 7 - 3, [np.arange(10) % 5 - 2])
    exact = seqlip(net, device="cpu")
    wide = seqlip(net, device="cpu", max_exact_width=4)
    assert wide.status == Status.UPPER_BOUND
    pair = wide.stats["pairs"][0]
    assert pair["kind"] == "split" and pair["enumerated_width"] == 4 and "midpoint" in wide.message
    assert exact.value <= wide.value * (1 + RTOL)
    assert wide.value <= pair["midpoint"] <= spectral_product([net.W1, net.W2]) * (1 + RTOL)
    tighter = seqlip(net, device="cpu", max_exact_width=4, split_width=8)
    assert exact.value <= tighter.value * (1 + RTOL)


@pytest.mark.parametrize("activation,lo,hi", [(torch.nn.ReLU, 0.0, 1.0), (torch.nn.Tanh, 0.0, 1.0),
                                              (torch.nn.Sigmoid, 0.0, 0.25),
                                              (lambda: torch.nn.LeakyReLU(0.1), 0.1, 1.0)])
def test_activation_slope_ranges_enter_the_pair(activation, lo, hi):
    W1 = [[1.0, 2.0], [-1.0, 1.0], [0.5, -2.0], [2.0, 0.0]]
    W2 = [[1.0, -1.0, 2.0, 1.0], [0.0, 1.0, -1.0, 1.0]]
    result = seqlip(mlp([W1, W2], activation), device="cpu")
    assert result.value == pytest.approx(naive_pair_max(np.array(W2), np.array(W1), lo, hi), rel=RTOL)


def test_leading_and_trailing_activations_scale_the_bound():
    W1, W2 = [[1.0, 2.0], [-1.0, 1.0]], [[1.0, -1.0]]
    plain = seqlip(mlp([W1, W2]), device="cpu").value
    wrapped = torch.nn.Sequential(torch.nn.Tanh(), mlp([W1, W2]), torch.nn.Sigmoid())
    assert seqlip(wrapped, device="cpu").value == pytest.approx(0.25 * plain, rel=RTOL)


def test_single_linear_layer_is_its_spectral_norm():
    W = [[3.0, 0.0], [4.0, 5.0]]
    assert seqlip(mlp([W]), device="cpu").value == pytest.approx(np.linalg.norm(W, 2), rel=RTOL)


def test_float32_model_is_not_modified():
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    before = [p.clone() for p in net.parameters()]
    seqlip(net, device="cpu")
    assert all(p.dtype == torch.float32 and torch.equal(p, q) for p, q in zip(net.parameters(), before))


# ---------------------------------------------------------------- convolutions

def _small_cnn():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU(), torch.nn.Conv2d(2, 2, 2),
                               torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(2 * 1 * 1, 1)).double()


def test_cnn_seqlip_unrolled_brackets_sampled_jacobians():
    net = _small_cnn()
    result = seqlip(net, input_shape=(1, 4, 4), device="cpu")
    assert result.status == Status.UPPER_BOUND
    x = torch.randn(200, 1, 4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    jac = torch.func.vmap(torch.func.jacrev(lambda v: net(v[None]).reshape(-1)))(x).reshape(200, 1, -1)
    assert float(torch.linalg.matrix_norm(jac.detach(), 2).max()) <= result.value * (1 + RTOL)
    from lipexact.bounds.layers import extract_chain

    chain = extract_chain(net, (1, 4, 4))
    product = np.prod([float(torch.linalg.matrix_norm(b.matrix(), 2)) for b in chain.blocks])
    assert result.value <= product * (1 + RTOL)


def test_cnn_top_k_is_labelled_heuristic_and_large_layers_fall_back():
    net = _small_cnn()
    top = seqlip_cnn(net, input_shape=(1, 4, 4), k=3, device="cpu")
    assert top.status == Status.HEURISTIC and top.upper is None and "NOT a guaranteed" in top.message
    power = seqlip_cnn(net, input_shape=(1, 4, 4), k=3, device="cpu", max_unroll=10)
    assert "power" in power.stats["singular_source"]
    assert power.value == pytest.approx(top.value, rel=1e-3)  # same top-3 subspaces, up to the power method
    fallback = seqlip(net, input_shape=(1, 4, 4), device="cpu", max_unroll=10)
    assert fallback.status == Status.HEURISTIC and "too large to unroll" in fallback.message


def test_single_block_segments_use_the_certified_spectral_norm():
    # a conv block with more than 512 columns: Lanczos on the Gram matrix, no SVD, still a proven bound
    torch.manual_seed(2)
    conv = torch.nn.Conv2d(1, 2, 3).double()
    net = torch.nn.Sequential(conv, torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
                              torch.nn.Linear(2 * 11 * 11, 3)).double()
    from lipexact.bounds.layers import extract_chain

    exact = float(torch.linalg.svdvals(extract_chain(conv, (1, 24, 24)).blocks[0].matrix())[0])
    for method in (seqlip, seqlip_greedy):
        result = method(net, input_shape=(1, 24, 24), device="cpu")
        assert result.stats["singular_source"] == ["spectral_norm", "spectral_norm"]
        first = result.stats["pair_factors"][0]
        assert exact <= first <= exact * (1 + 2e-9)
    assert seqlip(net, input_shape=(1, 24, 24), device="cpu").status == Status.UPPER_BOUND


def test_gram_svd_of_a_tall_and_a_wide_matrix_reconstructs_it():
    from lipexact.bounds.seqlip_pairs import gram_svd

    generator = torch.Generator().manual_seed(0)
    A = torch.randn(530, 520, dtype=torch.float64, generator=generator)
    A[:, 0] = 0.0  # rank-deficient: the zero singular value is dropped
    eye = torch.eye(519, dtype=torch.float64)
    for matrix in (A, A.T):  # orthonormal factors that reconstruct the matrix: an SVD
        U, S, Vh = gram_svd(matrix)
        assert S.shape == (519,) and bool(torch.all(S[:-1] >= S[1:])) and float(S[-1]) > 0
        assert torch.allclose((U * S) @ Vh, matrix, atol=1e-9)
        assert torch.allclose(U.T @ U, eye, atol=1e-8) and torch.allclose(Vh @ Vh.T, eye, atol=1e-10)


# ---------------------------------------------------------------- max-pooling

def test_overlapping_max_pooling_is_not_one_lipschitz():
    # f = maxpool(3, stride 1) on 5 inputs: at x = e_3 all three windows pick x_3, so L = sqrt(3).
    identity = torch.nn.Conv1d(1, 1, 1, bias=False).double()
    with torch.no_grad():
        identity.weight.fill_(1.0)
    net = torch.nn.Sequential(identity, torch.nn.MaxPool1d(3, stride=1))
    result = seqlip(net, input_shape=(1, 5), device="cpu")
    assert result.status == Status.UPPER_BOUND
    assert result.stats["pool_constants"] == [pytest.approx(3 ** 0.5)]
    assert result.value >= 3 ** 0.5
    from lipexact.bounds.lower import jacobian_norm_at

    assert jacobian_norm_at(net, [[0.0, 0.0, 1.0, 0.0, 0.0]], (1, 5)) == pytest.approx(3 ** 0.5)


def test_max_pooling_splits_the_network_into_segments():
    torch.manual_seed(1)
    head = torch.nn.Sequential(torch.nn.Conv1d(1, 2, 2), torch.nn.ReLU())
    tail = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(2 * 4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
    net = torch.nn.Sequential(head, torch.nn.MaxPool1d(2), tail).double()
    result = seqlip(net, input_shape=(1, 9), device="cpu")
    assert result.status == Status.UPPER_BOUND and result.stats["segments"] == 2
    first = seqlip(head.double(), input_shape=(1, 9), device="cpu").value
    second = seqlip(tail.double(), input_shape=(2, 4), device="cpu").value
    assert result.value == pytest.approx(first * 1.0 * second, rel=1e-9)  # non-overlapping pooling: 1
    x = torch.randn(300, 1, 9, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    jac = torch.func.vmap(torch.func.jacrev(lambda v: net(v[None]).reshape(-1)))(x).reshape(300, -1)
    assert float(jac.detach().norm(dim=1).max()) <= result.value


# ---------------------------------------------------------------- input errors

def test_errors_name_the_field():
    with pytest.raises(InvalidInputError) as error:
        seqlip(torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.GELU(), torch.nn.Linear(4, 1)))
    assert error.value.field == "model[1]"
    with pytest.raises(InvalidInputError) as error:
        seqlip(torch.nn.Sequential(torch.nn.Conv2d(1, 1, 2)))
    assert error.value.field == "input_shape"
    with pytest.raises(InvalidInputError) as error:
        seqlip(mlp([[[1.0]]]), colour="red")
    assert error.value.field == "colour"
    with pytest.raises(InvalidInputError) as error:
        seqlip(mlp([[[1.0]]]), norm=1)
    assert error.value.field == "norm"
    with pytest.raises(InvalidInputError) as error:
        seqlip(mlp([[[1.0]]]), max_exact_width=-1)
    assert error.value.field == "max_exact_width"
    with pytest.raises(InvalidInputError) as error:
        seqlip("not a model")
    assert error.value.field == "model"
