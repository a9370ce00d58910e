"""ECLipsE / ECLipsE-Fast (lipexact.bounds.sdp.eclipse), their stage solver and the layer-wise certifier.

Orders tested (each proven in exact arithmetic, see the module docstring of lipexact.bounds.sdp.eclipse):
exact <= ECLipsE, exact <= ECLipsE-Fast, ECLipsE-Fast <= AutoLip, ECLipsE <= AutoLip, and with one hidden
layer ECLipsE (= LipSDP) <= ECLipsE-Fast. The certified values carry a tiny relative raise (the certifier's
step above the floating-point Schur value, below 1e-6 here), which is the tolerance of the upper-bound
comparisons; the comparison with the exact constant has none.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings

from lipexact import lipschitz, upper_bound
from lipexact.bounds import validate_request
from lipexact.bounds.sdp.certify import certified_rho, prove_lmi
from lipexact.bounds.sdp.eclipse import eclipse, eclipse_fast, eclipse_multipliers, fast_multipliers
from lipexact.bounds.sdp.eclipse_stage import solve_stage, stage_matrix
from lipexact.bounds.sdp.layerwise_certify import (block_is_psd, certified_rho_layerwise, prove_lmi_layerwise,
                                                   schur_candidate_layerwise)
from lipexact.bounds.sdp.lmi import mlp_weights
from lipexact.deep.network import ReLUNetwork
from lipexact.network import TwoLayerReLU
from lipexact.result import Status
from reductions.validation import InvalidInputError
from tests.exact_lmi import exact_neg_lmi
from tests.test_deep_strategies import deep_nets

RAISE = 1e-6  # relative: certified values vs floating-point ones (measured below 1e-7)


def _random_weights(seed, sizes, integer=False):
    rng = np.random.default_rng(seed)
    if integer:
        return [rng.integers(-3, 4, size=(b, a)).astype(float) for a, b in zip(sizes[:-1], sizes[1:])]
    return [rng.standard_normal((b, a)) / math.sqrt(a) for a, b in zip(sizes[:-1], sizes[1:])]


def _sequential(weights):
    layers = []
    for w in weights:
        linear = torch.nn.Linear(w.shape[1], w.shape[0], dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(torch.as_tensor(np.array(w, dtype=np.float64)))
            linear.bias.zero_()
        layers += [linear, torch.nn.ReLU()]
    return torch.nn.Sequential(*layers[:-1])


def _exactly_psd(A):
    """Symmetric rational A: positive semidefinite? (LDL^T with zero-pivot handling, exact.)"""
    A = [row[:] for row in A]
    n = len(A)
    for k in range(n):
        if A[k][k] < 0:
            return False
        if A[k][k] == 0:
            if any(A[k][j] != 0 for j in range(k + 1, n)):
                return False
            continue
        for i in range(k + 1, n):
            factor = A[i][k] / A[k][k]
            if factor:
                for j in range(k, n):
                    A[i][j] -= factor * A[k][j]
    return True


# ---------------------------------------------------------------- orders on random networks

@settings(max_examples=20, deadline=None)
@given(net=deep_nets(depths=(2, 3, 4), max_inputs=3, max_width=4, max_outputs=2, bias=False))
def test_order_exact_eclipse_fast_autolip(net):
    weights = net.weights
    model = _sequential(weights) if net.depth > 2 else TwoLayerReLU(weights[0], weights[1])
    fast = eclipse_fast(model)
    acc = eclipse(model)
    auto = upper_bound(model, "autolip", device="cpu")
    assert fast.status == acc.status == Status.UPPER_BOUND
    exact = lipschitz(model, norm=2, time_limit=60)
    assert exact.lower is not None
    for bound in (fast, acc):  # a proven lower value never exceeds a proven upper bound
        assert exact.lower <= bound.value, (exact.lower, bound.value, bound.method)
    if exact.status == Status.OPTIMAL:
        assert exact.value <= min(fast.value, acc.value)
    assert fast.value <= auto.value * (1 + RAISE) + 1e-12
    assert acc.value <= auto.value * (1 + RAISE) + 1e-12
    if net.depth == 2:  # one hidden layer: ECLipsE's single stage is LipSDP itself
        assert acc.value <= fast.value * (1 + RAISE) + 1e-12
    for bound in (fast, acc):  # every value re-certified independently, on the whole matrix
        if bound.value > 0:
            scaled = [np.ldexp(w, -e) for w, e in zip(mlp_weights(model), _exponents(mlp_weights(model)))]
            assert sum(_exponents(mlp_weights(model))) == bound.certificate["scale_exponent"]
            ok, _ = prove_lmi(scaled, bound.certificate["multipliers"], bound.certificate["rho_normalized"])
            assert ok


def _exponents(weights):
    return [math.frexp(float(np.linalg.norm(w)))[1] if np.any(w) else 0 for w in weights]


def test_one_hidden_layer_values_are_lipsdp_and_exact_when_tight():
    relu_sum = TwoLayerReLU([[1.0, 0.0], [0.0, 1.0]], [[1.0, 1.0]])  # relu(x1) + relu(x2): L = sqrt 2
    for method in (eclipse, eclipse_fast):
        result = method(relu_sum)
        assert math.sqrt(2) <= result.value <= math.sqrt(2) * (1 + 1e-7)
    scalar = TwoLayerReLU([[3.0]], [[-4.0]])
    assert 12.0 <= eclipse_fast(scalar).value <= 12.0 * (1 + 1e-7)


def test_zero_layer_gives_zero():
    result = eclipse(TwoLayerReLU([[0.0, 0.0]], [[5.0]]))
    assert result.status == Status.UPPER_BOUND and result.value == 0.0


def test_scale_free_and_deterministic():
    weights = _random_weights(3, [4, 6, 6, 2])
    base = eclipse(_sequential(weights)).value
    assert eclipse(_sequential(weights)).value == base
    scaled = [weights[0] * 1e6, weights[1] * 1e-3, weights[2] * 7.0]
    assert eclipse(_sequential(scaled)).value == pytest.approx(base * 7e3, rel=1e-6)


def test_matches_the_reference_fast_estimate():
    eclipse_nn = pytest.importorskip("eclipse_nn")
    weights = _random_weights(5, [5, 12, 12, 12, 3])
    model = _sequential(weights)
    theirs = float(eclipse_nn.LipConstEstimator(model=model).estimate("ECLipsE_Fast"))
    ours = eclipse_fast(model)
    assert ours.stats["estimate"] == pytest.approx(theirs, rel=1e-6)
    assert ours.value <= theirs * (1 + RAISE)


def test_eclipse_tighter_than_fast_on_deeper_nets():
    # not a theorem for depth >= 3 (the stages are greedy), but what the paper reports and what we measure
    weights = _random_weights(11, [6, 16, 16, 16, 2])
    model = _sequential(weights)
    assert eclipse(model).value < eclipse_fast(model).value


# ---------------------------------------------------------------- the stage SDP

@pytest.mark.parametrize("seed", range(4))
def test_stage_matches_a_conic_solver(seed):
    cp = pytest.importorskip("cvxpy")
    rng = np.random.default_rng(seed)
    n = 3 + seed
    A = rng.standard_normal((n, n)) / math.sqrt(n)
    B = rng.standard_normal((2, n)) / math.sqrt(n)
    K, V = A @ A.T, B.T @ B
    t, c, info = solve_stage(K, V)
    assert info["converged"]
    assert np.linalg.eigvalsh(stage_matrix(K, V, t, c)).min() > -1e-9
    tv, cv = cp.Variable(n), cp.Variable()
    F = np.linalg.cholesky(K + 1e-12 * np.eye(n))
    T = cp.diag(tv)
    lmi = cp.bmat([[2 * T - cv * V, T @ F], [F.T @ T, np.eye(n)]])
    cp.Problem(cp.Maximize(cv), [(lmi + lmi.T) / 2 >> 0]).solve(solver=cp.CLARABEL)
    assert c == pytest.approx(float(cv.value), rel=1e-5)


def test_stage_on_a_wide_rank_deficient_layer():
    # K of rank 20 in 200 dimensions (a hidden layer much wider than its input): a barrier started with too
    # large a weight once drifted to c < 0 and stopped there (then X_1 was indefinite and ECLipsE failed)
    rng = np.random.default_rng(0)
    A = rng.standard_normal((200, 20)) / math.sqrt(20)
    B = rng.standard_normal((200, 200)) / math.sqrt(200)
    K, V = A @ A.T, B.T @ B
    t_fast = np.full(200, 1.0 / np.linalg.eigvalsh(K)[-1])
    start = np.linalg.eigvalsh(stage_matrix(K, V, t_fast, 0.0))[0] / np.linalg.eigvalsh(V)[-1]
    t, c, info = solve_stage(K, V)
    assert info["converged"] and c > start > 0
    assert np.linalg.cholesky(stage_matrix(K, V, t, 0.0)) is not None  # X(t) positive definite


def test_stage_refuses_an_infeasible_start():
    _, c, info = solve_stage(np.eye(2), np.eye(2), t0=np.array([3.0, 3.0]))  # 2t - t^2 < 0
    assert c == -math.inf and not info["converged"]


# ---------------------------------------------------------------- the layer-wise certifier

@pytest.mark.parametrize("sizes", [[3, 5, 4], [4, 6, 6, 2], [2, 7, 3, 5, 1], [5, 4, 4, 4, 4, 3]])
def test_layerwise_agrees_with_the_full_certifier(sizes):
    weights = _random_weights(sum(sizes), sizes)
    proposal = fast_multipliers(weights)
    T = [t * proposal.rho for t in proposal.multipliers]
    full = certified_rho(weights, T)
    layerwise = certified_rho_layerwise(weights, T)
    assert full.proven and layerwise.proven
    assert layerwise.value == pytest.approx(full.value, rel=1e-9)
    assert layerwise.value >= schur_candidate_layerwise(weights, T)


@pytest.mark.parametrize("seed", range(3))
def test_layerwise_proofs_hold_in_exact_arithmetic(seed):
    sizes = [2, 3, 3, 2]
    weights = _random_weights(seed, sizes, integer=True)
    proposal = eclipse_multipliers(weights)
    T = [t * proposal.rho for t in proposal.multipliers]
    cert = certified_rho_layerwise(weights, T)
    assert cert.proven
    assert _exactly_psd(exact_neg_lmi(weights, T, cert.value))
    # below the Schur value the exact matrix is indefinite, and the prover refuses it
    below = cert.candidate * (1 - 1e-6)
    assert not _exactly_psd(exact_neg_lmi(weights, T, below))
    assert not prove_lmi_layerwise(weights, T, below)[0]


def test_layerwise_refuses_bad_multipliers():
    weights = _random_weights(7, [3, 4, 4, 2])
    proposal = fast_multipliers(weights)
    good = [t * proposal.rho for t in proposal.multipliers]
    assert certified_rho_layerwise(weights, good).proven
    assert not certified_rho_layerwise(weights, [np.zeros_like(t) for t in good]).proven
    tiny = [t * 1e-3 for t in good]  # 2 T - W^T W indefinite: no rho can work
    assert not certified_rho_layerwise(weights, tiny).proven
    negative = [t.copy() for t in good]
    negative[0][0] = -negative[0][0]
    assert not prove_lmi_layerwise(weights, negative, 1e6)[0]
    rho = certified_rho_layerwise(weights, good).value
    assert prove_lmi_layerwise(weights, good, rho)[0]
    assert not prove_lmi_layerwise(weights, good, rho * (1 - 1e-4))[0]


def test_a_value_below_the_true_constant_is_never_proven():
    weights = [np.array([[3.0]]), np.array([[4.0]])]  # L = 12
    for t in (1.0, 16.0, 100.0):
        assert not prove_lmi_layerwise(weights, [[t]], 143.999)[0]


def test_block_check_refuses():
    assert block_is_psd(np.array([[2.0, 1.0], [1.0, 2.0]]), np.zeros((2, 2)))[0]
    assert not block_is_psd(np.array([[1.0, 2.0], [2.0, 1.0]]), np.zeros((2, 2)))[0]  # indefinite
    # PD in floats, but a radius larger than its smallest eigenvalue admits indefinite matrices
    assert not block_is_psd(np.array([[1.0, 0.0], [0.0, 1e-12]]), np.full((2, 2), 1e-9))[0]
    assert not block_is_psd(np.array([[1.0, 0.5], [0.5, 0.0]]), np.zeros((2, 2)))[0]  # zero pivot, nonzero row
    assert not block_is_psd(np.array([[1.0, 0.0], [1e-300, 1.0]]), np.zeros((2, 2)))[0]  # not symmetric


def test_deep_net_layerwise_matches_full_and_stays_below_autolip():
    weights = _random_weights(2, [8] + [12] * 30 + [3])
    model = _sequential(weights)
    layerwise = eclipse_fast(model, certifier="layerwise")
    full = eclipse_fast(model, certifier="full")
    assert layerwise.stats["certifier"] == "layerwise" and full.stats["certifier"] == "full"
    assert layerwise.value == pytest.approx(full.value, rel=1e-7)
    auto = upper_bound(model, "autolip", device="cpu").value
    assert layerwise.value < auto
    lower = max(np.linalg.norm(ReLUNetwork([(w, None) for w in weights]).jacobian(x), 2)
                for x in np.random.default_rng(0).standard_normal((20, 8)))
    assert lower <= layerwise.value


# ---------------------------------------------------------------- input checks and the registry

def test_bad_input_is_refused_before_any_work():
    tanh = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1))
    relu = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
    for method in ("eclipse", "eclipse_fast"):
        with pytest.raises(InvalidInputError, match="model"):
            validate_request(method, tanh, device="cpu")
        with pytest.raises(InvalidInputError, match="norm"):
            validate_request(method, relu, device="cpu", norm="inf")
        with pytest.raises(InvalidInputError, match="certifier"):
            validate_request(method, relu, device="cpu", certifier="trust me")
        with pytest.raises(InvalidInputError, match="bogus"):
            validate_request(method, relu, device="cpu", bogus=1)
        with pytest.raises(InvalidInputError, match="input_shape"):
            validate_request(method, relu, device="cpu", input_shape=(3,))
        validate_request(method, relu, device="cpu")


def test_registered_methods_run_through_upper_bound():
    model = _sequential(_random_weights(1, [3, 5, 5, 1]))
    for method in ("eclipse", "eclipse_fast"):
        result = upper_bound(model, method, device="cpu")
        assert result.status == Status.UPPER_BOUND and result.method == method
        assert {"multipliers", "certify", "total"} <= set(result.timings)
