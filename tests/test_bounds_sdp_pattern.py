"""pattern_sdp: a proven upper bound between the exact constant and AutoLip; its certificate refuses bad duals."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import lipexact
from lipexact.bounds import upper_bound
from lipexact.bounds.errors import NotApplicableError
from lipexact.bounds.sdp import pattern
from lipexact.bounds.sdp.pattern import (binary_norm_bound, certify_pm1_dual, certify_qcqp, pattern_sdp,
                                         pm1_quadratic_bound, qcqp_bound)
from lipexact.network import TwoLayerReLU
from lipexact.norms import jacobian_norm
from lipexact.result import Status
from reductions.validation import InvalidInputError
from tests.strategies import two_layer_nets

SLACK = 1e-7  # relative: the SDPs are solved to a relative gap of 1e-9 and certified with far smaller roundings


def all_patterns_max(net: TwoLayerReLU, norm: str = "2") -> float:
    """max over every s in {0,1}^h (realizable or not) of ||W2 diag(s) W1||."""
    W1, W2 = np.asarray(net.W1, float), np.asarray(net.W2, float)
    return max(jacobian_norm(W2 @ np.diag(s) @ W1, norm) for s in itertools.product((0.0, 1.0), repeat=W1.shape[0]))


@settings(max_examples=40)
@given(two_layer_nets(max_inputs=3, max_hidden=7))
def test_scalar_l2_exact_le_all_patterns_le_pattern_sdp_le_autolip(net):
    bound = pattern_sdp(net)
    assert bound.status is Status.UPPER_BOUND and bound.upper == bound.value
    exact = lipexact.lipschitz(net, method="brute")
    assert exact.status is Status.OPTIMAL
    assert exact.value <= bound.value
    assert all_patterns_max(net) <= bound.value
    autolip = upper_bound(net, "autolip", device="cpu").value
    assert bound.value <= autolip * (1 + SLACK)


@settings(max_examples=25)
@given(two_layer_nets(max_inputs=3, max_hidden=5, max_outputs=3))
def test_vector_outputs_exact_le_pattern_sdp_le_autolip(net):
    bound = pattern_sdp(net)
    assert bound.status is Status.UPPER_BOUND
    exact = lipexact.lipschitz(net, method="brute")
    assert all_patterns_max(net) <= bound.value and exact.value <= bound.value
    assert bound.value <= upper_bound(net, "autolip", device="cpu").value * (1 + SLACK)


@settings(max_examples=25)
@given(two_layer_nets(max_inputs=3, max_hidden=6))
def test_scalar_l1_and_linf(net):
    one = pattern_sdp(net, norm="1")
    assert all_patterns_max(net, "1") <= one.value <= all_patterns_max(net, "1") * (1 + SLACK) + 1e-300
    assert lipexact.lipschitz(net, method="brute", norm="1").value <= one.value
    inf = pattern_sdp(net, norm="inf")
    assert inf.status is Status.UPPER_BOUND
    assert all_patterns_max(net, "inf") <= inf.value
    assert lipexact.lipschitz(net, method="brute", norm="inf").value <= inf.value


def test_scalar_relaxations_agree_with_the_vector_form():
    """The {-1,1} Shor bound and the free-sign QCQP bound coincide on scalar outputs (measured, not a theorem
    used anywhere: each is proven on its own)."""
    rng = np.random.default_rng(4)
    for _ in range(3):
        W1, W2 = rng.standard_normal((8, 3)), rng.standard_normal((1, 8))
        shor = pattern_sdp(TwoLayerReLU(W1, W2)).value
        qcqp = qcqp_bound(W1, W2).value
        assert abs(shor - qcqp) <= 1e-5 * shor


def test_maxcut_network_gives_the_goemans_williamson_bound():
    # triangle: max cut 2; the {0,1} LIP-CST network f = 1^T relu(F x) with F F^T = L has L(f)^2 = 2
    from reductions.chain import reduce_to_lipcst
    from reductions.instances import MaxCut

    reduced = reduce_to_lipcst(MaxCut(np.array([[0, 1, 1], [1, 0, 1], [1, 1, 0]])))
    net = TwoLayerReLU(reduced.lipcst.M1, reduced.lipcst.M2)
    value = pattern_sdp(net).value
    assert 2.0 <= value * value <= 2.25 * (1 + 1e-8)  # the SDP bound of the triangle is 9/4


def test_homogeneous_in_the_weights():
    rng = np.random.default_rng(1)
    W1, W2, b1 = rng.standard_normal((6, 3)), rng.standard_normal((1, 6)), rng.standard_normal(6)
    base = pattern_sdp(TwoLayerReLU(W1, W2, b1)).value
    for scale in (1e-150, 1e-8, 1e8, 1e150):
        scaled = pattern_sdp(TwoLayerReLU(W1 * scale, W2, b1)).value
        assert abs(scaled / scale - base) <= 1e-7 * base


def test_torch_sequential_and_registry():
    model = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.ReLU(), torch.nn.Linear(5, 1)).double()
    result = upper_bound(model, "pattern_sdp", device="cpu")
    assert result.status is Status.UPPER_BOUND and result.method == "pattern_sdp"
    net = TwoLayerReLU.from_torch(model)
    assert all_patterns_max(net) <= result.value


@pytest.mark.parametrize("model, options, field", [
    (TwoLayerReLU([[1.0]], [[1.0], [2.0]]), {"norm": "inf"}, "norm"),
    (TwoLayerReLU([[1.0]], [[1.0], [2.0]]), {"norm": "1"}, "norm"),
    (TwoLayerReLU([[1.0]], [[1.0]]), {"norm": "3"}, "norm"),
    (TwoLayerReLU([[1.0]], [[1.0]]), {"solver": "mosek"}, "solver"),
    (TwoLayerReLU([[1.0]], [[1.0], [2.0]]), {"solver": "ipm"}, "solver"),
    (TwoLayerReLU(np.ones((5, 4)), np.ones((2, 5))), {"max_size": 8}, "model"),
    (torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU(), torch.nn.Linear(2, 2), torch.nn.ReLU(),
                         torch.nn.Linear(2, 1)), {}, "model"),
    (TwoLayerReLU([[1.0]], [[1.0]]), {"input_shape": (3,)}, "input_shape"),
])
def test_bad_requests_name_the_field(model, options, field):
    with pytest.raises(InvalidInputError) as error:
        pattern_sdp(model, **options)
    assert error.value.field == field
    # a model or norm the method does not cover is "not applicable" (a row of the CLI), not malformed input
    assert isinstance(error.value, NotApplicableError) == (field in ("model", "norm") and options.get("norm") != "3")


def test_any_module_whose_graph_is_linear_relu_linear():
    class Custom(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inp, self.out = torch.nn.Linear(3, 4), torch.nn.Linear(4, 1)

        def forward(self, x):
            return self.out(torch.relu(self.inp(x)))

    model = Custom().double()
    result = pattern_sdp(model)
    net = TwoLayerReLU(model.inp.weight.detach().numpy(), model.out.weight.detach().numpy(),
                       model.inp.bias.detach().numpy())
    assert result.status is Status.UPPER_BOUND and all_patterns_max(net) <= result.value


# --------------------------------------------------------------------------- the certificate refuses bad duals
def _pm1_max(K: np.ndarray) -> float:
    return max(float(np.array(x) @ K @ np.array(x)) for x in itertools.product((-1.0, 1.0), repeat=K.shape[0]))


@given(st.integers(0, 10 ** 6))
def test_a_lowered_dual_is_corrected_never_trusted(seed):
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((6, 3))
    K = Z @ Z.T
    optimum = _pm1_max(K)
    assert optimum <= pm1_quadratic_bound(K).value  # the proper solve is a valid bound
    # a forged dual point: the solver's y lowered so that sum(y) is below the true maximum
    good = pattern.solve_pm1_dual(pattern._symmetric(K))[0]
    forged = good - (good.sum() - 0.9 * optimum) / good.size
    assert forged.sum() < optimum
    bound, deficit = certify_pm1_dual(pattern._symmetric(K), forged)
    assert deficit > 0 and bound >= optimum


def test_non_finite_duals_prove_nothing():
    K = np.eye(3)
    assert certify_pm1_dual(K, np.array([1.0, np.nan, 1.0])) == (math.inf, math.inf)
    assert certify_qcqp(np.eye(2), np.ones((1, 2)), math.inf, np.ones(2))[0] == math.inf


def test_a_solver_returning_nonsense_only_costs_tightness(monkeypatch):
    net = TwoLayerReLU([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], [[1.0, -2.0, 1.0]])
    monkeypatch.setattr(pattern, "solve_pm1_dual", lambda K, **kw: (np.zeros(K.shape[0]), {
        "iterations": 0, "stopped": "gap", "gap": 0.0}))
    result = pattern_sdp(net)
    assert result.status is Status.UPPER_BOUND and result.certificate["deficit"] > 0
    assert all_patterns_max(net) <= result.value


def test_a_failed_certificate_is_an_error_without_a_value(monkeypatch):
    monkeypatch.setattr(pattern, "certified_min_eigenvalue", lambda *a, **k: -math.inf)
    result = pattern_sdp(TwoLayerReLU([[1.0, 2.0]], [[3.0]]))
    assert result.status is Status.ERROR and result.value is None and result.upper is None


@pytest.mark.parametrize("solver", ["clarabel", "scs"])
def test_cvxpy_solvers_give_certified_bounds(solver):
    rng = np.random.default_rng(2)
    net = TwoLayerReLU(rng.standard_normal((6, 2)), rng.standard_normal((1, 6)), rng.standard_normal(6))
    ipm = pattern_sdp(net).value
    other = pattern_sdp(net, solver=solver)
    assert other.status is Status.UPPER_BOUND and all_patterns_max(net) <= other.value
    assert abs(other.value - ipm) <= 1e-3 * ipm  # SCS is first order: looser, still certified


def test_a_solver_that_fails_is_named_as_such_and_the_fallback_bound_stays_certified(monkeypatch):
    # SCS missing (or failing) on a machine: the dual point comes from the diagonal fallback, and says so
    rng = np.random.default_rng(2)
    net = TwoLayerReLU(rng.standard_normal((6, 2)), rng.standard_normal((1, 6)), rng.standard_normal(6))
    monkeypatch.setattr(pattern, "_solve_cvxpy_pm1", lambda K, solver: None)
    result = pattern_sdp(net, solver="scs")
    assert result.status is Status.UPPER_BOUND and all_patterns_max(net) <= result.value
    assert "scs failed or is not installed; dual point from the diagonal dominance fallback" in result.message
    assert "fallback" not in pattern_sdp(net).message


def test_binary_norm_bound_with_a_fixed_part_and_a_target():
    rng = np.random.default_rng(3)
    c, rows = rng.standard_normal(4), rng.standard_normal((7, 4))
    best = max(np.linalg.norm(c + np.array(t) @ rows) for t in itertools.product((0.0, 1.0), repeat=7))
    full = binary_norm_bound(c, rows)
    assert best <= full.value <= best * 1.5
    early = binary_norm_bound(c, rows, target=full.value * 1.2)  # stops once below the target
    assert full.value <= early.value * (1 + 1e-6) and best <= early.value
    assert early.details["stopped"] in ("target", "gap")
