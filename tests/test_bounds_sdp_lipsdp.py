import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings

import lipexact
from lipexact.bounds import upper_bound, validate_request
from lipexact.bounds.sdp import lipsdp as lipsdp_module
from lipexact.bounds.sdp.barrier import barrier_lipsdp
from lipexact.bounds.sdp.certify import certified_rho
from lipexact.bounds.sdp.lipsdp import compress_input, lipsdp, normalize_weights, solve_lipsdp, validate_lipsdp
from lipexact.deep.network import ReLUNetwork
from lipexact.network import TwoLayerReLU
from lipexact.result import Status
from reductions.validation import InvalidInputError

from .strategies import two_layer_nets
from .test_deep_strategies import deep_nets

RTOL = 1e-9


def _lower(net, n_inputs):
    data = np.random.default_rng(0).normal(scale=2.0, size=(32, n_inputs))
    model = net.to_torch(dtype=torch.float64) if isinstance(net, ReLUNetwork) else net
    return lipexact.lower_bound(model, "data", data=data, device="cpu").value


@settings(max_examples=8, deadline=None)
@given(two_layer_nets(max_inputs=3, max_hidden=5, max_outputs=2))
def test_two_layer_order_lower_exact_lipsdp_autolip(net):
    exact = lipexact.lipschitz(net, method="brute")
    result = lipsdp(net)
    auto = upper_bound(net, "autolip", device="cpu")
    assert exact.status is Status.OPTIMAL and result.status is Status.UPPER_BOUND and result.upper == result.value
    assert _lower(net, net.n_inputs) <= exact.value * (1 + RTOL) + 1e-12
    assert exact.value <= result.value * (1 + RTOL) + 1e-12
    assert result.value <= auto.value * (1 + 1e-7) + 1e-12  # LipSDP-neuron never exceeds the product of norms
    assert result.stats["certificate"]["proven"]


@settings(max_examples=5, deadline=None)
@given(deep_nets(depths=(3,), max_inputs=3, max_width=3, max_outputs=2, integer=True))
def test_three_layer_order_lower_exact_lipsdp_autolip(net):
    exact = lipexact.lipschitz(net, norm=2, time_limit=60)
    result = lipsdp(net)
    auto = upper_bound(net.to_torch(dtype=torch.float64), "autolip", device="cpu")
    assert result.status is Status.UPPER_BOUND
    assert exact.upper is not None and exact.lower <= result.value * (1 + RTOL) + 1e-12
    if exact.status is Status.OPTIMAL:
        assert _lower(net, net.n_inputs) <= exact.value * (1 + RTOL) + 1e-12 <= result.value * (1 + RTOL) + 2e-12
    assert result.value <= auto.value * (1 + 1e-7) + 1e-12


def test_known_values_and_the_solver_value():
    result = lipsdp(TwoLayerReLU([[3]], [[4]]))
    assert 12.0 <= result.value <= 12.0 * (1 + 1e-7)
    assert math.isclose(result.stats["solver_value"], 12.0, rel_tol=1e-6)
    # f = relu(x1) + relu(x2): the SDP is exact (sqrt 2); a 2x2 identity then a sum
    result = lipsdp(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU(), torch.nn.Linear(2, 1)).double()
                    .requires_grad_(False).apply(_set_identity_sum))
    assert math.sqrt(2) <= result.value <= math.sqrt(2) * (1 + 1e-7)


def _set_identity_sum(module):
    if isinstance(module, torch.nn.Linear):
        module.weight.copy_(torch.eye(2) if module.out_features == 2 else torch.ones(1, 2))


@pytest.mark.parametrize("solver", ["clarabel", "barrier"])
def test_solvers_agree_and_every_value_is_recertified(solver):
    rng = np.random.default_rng(3)
    weights = [rng.normal(size=(5, 4)), rng.normal(size=(4, 5)), rng.normal(size=(2, 4))]
    net = ReLUNetwork([(w, None) for w in weights])
    result = lipsdp(net, solver=solver)
    reference = lipsdp(net, solver="barrier" if solver == "clarabel" else "clarabel")
    assert result.stats["solver"] == solver
    assert math.isclose(result.value, reference.value, rel_tol=1e-5)
    scaled, exponent = normalize_weights(weights)  # the multipliers belong to the normalized weights
    assert exponent == result.certificate["scale_exponent"]
    again = certified_rho(scaled, result.certificate["multipliers"], scales=[1.0])
    assert again.proven and math.isclose(math.ldexp(math.sqrt(again.value), exponent), result.value, rel_tol=1e-12)


def test_barrier_reaches_the_sdp_optimum_of_a_closed_form_case():
    # one neuron: rho(t) = 9 t^2 / (2 t - 16), minimum 144 at t = 16
    out = barrier_lipsdp([np.array([[3.0]]), np.array([[4.0]])], tol=1e-10)
    assert out["status"] == "optimal" and math.isclose(out["rho"], 144.0, rel_tol=1e-8)
    assert math.isclose(float(out["multipliers"][0][0]), 16.0, rel_tol=1e-4)


def test_input_compression_keeps_the_value():
    rng = np.random.default_rng(5)
    weights = [rng.normal(size=(3, 9)), rng.normal(size=(2, 3))]
    small = compress_input(weights)
    assert small[0].shape == (3, 3)
    full = solve_lipsdp(weights, "clarabel")  # compresses internally; certify on the full weights
    assert certified_rho(weights, full["multipliers"]).proven
    direct = barrier_lipsdp(weights)
    assert math.isclose(full["rho"], direct["rho"], rel_tol=1e-5)


def test_scaling_the_weights_scales_the_bound_exactly():
    rng = np.random.default_rng(1)
    weights = [rng.normal(size=(4, 3)), rng.normal(size=(1, 4))]
    base = lipsdp(ReLUNetwork([(w, None) for w in weights]), solver="barrier")
    scaled = lipsdp(ReLUNetwork([(weights[0] * 2.0 ** 40, None), (weights[1] * 2.0 ** -25, None)]),
                    solver="barrier")
    assert math.isclose(scaled.value, base.value * 2.0 ** 15, rel_tol=1e-9)


def test_a_solver_answer_is_never_trusted(monkeypatch):
    net = TwoLayerReLU([[3]], [[4]])

    def lying(weights, solver="auto", verbose=False):  # claims a tiny rho with multipliers that prove far more
        return {"rho": 1e-6, "multipliers": [np.array([16.0])], "solver": "liar", "status": "optimal",
                "attempts": []}

    monkeypatch.setattr(lipsdp_module, "solve_lipsdp", lying)
    result = lipsdp(net)
    assert result.status is Status.UPPER_BOUND and result.value >= 12.0
    assert result.stats["solver_value"] < result.value

    def useless(weights, solver="auto", verbose=False):  # T = 0 proves nothing
        return {"rho": 1.0, "multipliers": [np.array([0.0])], "solver": "liar", "status": "optimal", "attempts": []}

    monkeypatch.setattr(lipsdp_module, "solve_lipsdp", useless)
    result = lipsdp(net)  # the ECLipsE-Fast floor still proves a bound
    assert result.status is Status.UPPER_BOUND and result.value >= 12.0
    assert result.stats["certified_multipliers"] == "eclipse_fast"
    monkeypatch.setattr(lipsdp_module, "fast_start", lambda weights: [np.array([0.0])])
    result = lipsdp(net)
    assert result.status is Status.ERROR and result.value is None and "did not certify" in result.message

    def failing(weights, solver="auto", verbose=False):
        raise RuntimeError("clarabel: status infeasible")

    monkeypatch.setattr(lipsdp_module, "solve_lipsdp", failing)
    result = lipsdp(net)
    assert result.status is Status.ERROR and "no SDP solver" in result.message


@pytest.mark.parametrize("kwargs, field", [
    ({"norm": "inf"}, "norm"),
    ({"norm": 1}, "norm"),
    ({"solver": "mosek"}, "solver"),
    ({"max_dim": 0}, "max_dim"),
    ({"tolerance": 1e-3}, "tolerance"),
    ({"input_shape": (3,)}, "input_shape"),
    ({"max_dim": 2}, "model"),
    ({"device": "abacus"}, "device"),
])
def test_bad_requests_are_refused_before_solving(kwargs, field):
    net = TwoLayerReLU([[1, 2], [3, 4]], [[1, 1]])
    with pytest.raises(InvalidInputError) as info:
        validate_lipsdp(net, **kwargs)
    assert info.value.field == field
    with pytest.raises(InvalidInputError) as info:
        lipsdp(net, **kwargs)
    assert info.value.field == field


def test_registered_and_validated_through_the_registry():
    net = TwoLayerReLU([[1, -2], [3, 1]], [[1, 2]])
    result = upper_bound(net, "lipsdp", device="cpu")
    assert result.method == "lipsdp" and result.status is Status.UPPER_BOUND and result.timings["total"] > 0
    with pytest.raises(InvalidInputError) as info:
        validate_request("lipsdp", net, norm="1")
    assert info.value.field == "norm"
    gelu = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.GELU(), torch.nn.Linear(3, 1))
    with pytest.raises(InvalidInputError) as info:
        validate_request("lipsdp", gelu)
    assert info.value.field == "model[1]"


def test_a_solver_that_stops_short_never_leaves_the_bound_above_eclipse_fast(monkeypatch):
    from lipexact.bounds.sdp.barrier import feasible_multipliers

    torch.manual_seed(3)
    model = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.ReLU(), torch.nn.Linear(6, 6), torch.nn.ReLU(),
                                torch.nn.Linear(6, 6), torch.nn.ReLU(), torch.nn.Linear(6, 2)).double()

    def stopped_short(weights, solver="auto", verbose=False):  # a crude feasible point, as an early stop leaves
        return {"rho": 1.0, "multipliers": feasible_multipliers(list(weights)), "solver": "barrier",
                "status": "iteration_limit", "attempts": []}

    honest = lipsdp(model)
    monkeypatch.setattr(lipsdp_module, "solve_lipsdp", stopped_short)
    short = lipsdp(model)
    fast = upper_bound(model, "eclipse_fast", device="cpu")
    assert short.status is Status.UPPER_BOUND and short.stats["certified_multipliers"] == "eclipse_fast"
    assert honest.value <= short.value <= fast.value * (1 + 1e-6)


def test_barrier_target_stops_once_the_side_is_known_and_certified_solution_keeps_proving():
    """``target`` above the optimum: the barrier stops at a centred rho at most the target; below: once the gap
    bound shows the optimum above it, within TARGET_TOLERANCE (10%). Either way certified_solution returns a proven
    value on the right side of the target (multipliers re-certified on the original weights)."""
    from lipexact.bounds.sdp.barrier import TARGET_TOLERANCE
    from lipexact.bounds.sdp.lipsdp import certified_solution, normalize_weights

    rng = np.random.default_rng(3)
    weights = [rng.standard_normal((8, 5)), rng.standard_normal((8, 8)), rng.standard_normal((1, 8))]
    scaled, _ = normalize_weights(weights)
    full = barrier_lipsdp(scaled, tol=1e-8)
    above = barrier_lipsdp(scaled, target=1.2 * full["rho"])
    below = barrier_lipsdp(scaled, target=0.8 * full["rho"])
    assert above["status"] == below["status"] == "target"
    assert full["rho"] <= above["rho"] <= 1.2 * full["rho"] and above["newton_steps"] < full["newton_steps"]
    assert below["rho"] * (1 - TARGET_TOLERANCE) <= full["rho"] * (1 + 1e-9) and below["gap_bound"] <= TARGET_TOLERANCE
    tight = barrier_lipsdp(scaled, target=0.8 * full["rho"], target_tol=1e-2)
    assert tight["gap_bound"] <= 1e-2 and tight["newton_steps"] > below["newton_steps"]
    optimum = certified_solution(weights)[0]
    value, multipliers = certified_solution(weights, target=1.1 * optimum)
    assert optimum <= value <= 1.1 * optimum and certified_rho(weights, multipliers).lipschitz == value
    value, _ = certified_solution(weights, target=0.9 * optimum)
    assert optimum <= value <= optimum / (1 - TARGET_TOLERANCE)


def test_barrier_warm_start_reaches_the_same_optimum_in_fewer_steps_and_ignores_bad_starts():
    """From an enclosing problem's multipliers (a unit of the first hidden layer removed, the rest restricted) the
    path starts near the optimum: fewer Newton steps, the same rho. Starts that do not fit (wrong length, NaN,
    all zero) are ignored: the run is the cold one, step for step."""
    from lipexact.bounds.sdp.barrier import _Structure, _warm_start

    rng = np.random.default_rng(5)
    weights = [rng.standard_normal((9, 6)), rng.standard_normal((8, 9)), rng.standard_normal((1, 8))]
    scaled, _ = normalize_weights(weights)
    parent = barrier_lipsdp(scaled, tol=1e-8)["multipliers"]
    keep = np.arange(9) != 4  # the child: unit 4 of the first hidden layer fixed off
    child = [scaled[0][keep], scaled[1][:, keep], scaled[2]]
    cold = barrier_lipsdp(child, tol=1e-8)
    warm = barrier_lipsdp(child, tol=1e-8, start=[parent[0][keep], parent[1]])
    assert cold["status"] == warm["status"] == "optimal"
    assert warm["newton_steps"] < cold["newton_steps"]
    assert warm["rho"] == pytest.approx(cold["rho"], rel=1e-6)
    for bad in ([parent[0], parent[1]], [np.full(8, np.nan), parent[1]], [np.zeros(8), np.zeros(8)], None):
        assert _warm_start(_Structure(child), bad) is None
        again = barrier_lipsdp(child, tol=1e-8, start=bad)
        assert again["newton_steps"] == cold["newton_steps"] and again["rho"] == cold["rho"]


def test_certified_solution_warm_starts_from_start_and_still_proves(monkeypatch):
    """certified_solution hands ``start`` (rescaled to the normalized weights) to the barrier method; the value
    is proven either way and the same as without the warm start (up to the solver's gap)."""
    from lipexact.bounds.sdp.lipsdp import certified_solution

    rng = np.random.default_rng(6)
    weights = [3.0 * rng.standard_normal((7, 5)), 0.25 * rng.standard_normal((6, 7)), rng.standard_normal((2, 6))]
    optimum, multipliers = certified_solution(weights)
    loose = [2.0 * t for t in multipliers]  # valid, worse than the optimum: the solve still runs (target below)
    seen = []
    original = lipsdp_module.barrier_lipsdp
    monkeypatch.setattr(lipsdp_module, "barrier_lipsdp",
                        lambda *args, **kwargs: seen.append(kwargs.get("start")) or original(*args, **kwargs))
    value, proven = certified_solution(weights, start=loose, target=0.5 * optimum)
    assert seen[-1] is not None and len(seen[-1]) == 2
    scaled, exponent = normalize_weights(weights)  # the start in the normalized coordinates: the same bound
    assert math.ldexp(certified_rho(scaled, seen[-1]).lipschitz, exponent) == pytest.approx(
        certified_rho(weights, loose).lipschitz, rel=1e-9)
    assert certified_rho(weights, proven).lipschitz == value and value == pytest.approx(optimum, rel=1e-2)
    monkeypatch.setattr(lipsdp_module, "WARM_START", False)
    certified_solution(weights, start=loose, target=0.5 * optimum)
    assert seen[-1] is None


@pytest.mark.parametrize("sizes", [[5, 7, 1], [3, 4, 5, 6, 2], [6, 2, 9, 3]])
def test_the_barrier_assembles_the_same_matrix_as_the_lmi_module(sizes):
    """The barrier's S(t, rho) (assembled from a fixed part and the multipliers) is -M(T, rho) entry for entry."""
    from lipexact.bounds.sdp.barrier import _Structure
    from lipexact.bounds.sdp.lmi import unchecked_matrix

    rng = np.random.default_rng(len(sizes))
    weights = [rng.standard_normal((o, i)) for i, o in zip(sizes[:-1], sizes[1:])]
    structure = _Structure(weights)
    for _ in range(3):
        t, rho = rng.random(structure.m) + 0.1, float(rng.random() * 5)
        assert np.array_equal(structure.S(t, rho), -unchecked_matrix(weights, structure.split(t), rho))


def test_the_barrier_lapack_helpers_factor_invert_and_refuse():
    """The direct LAPACK calls: the factor and the inverse match numpy's; a matrix that is not positive definite,
    or holds a NaN, has no factor; an indefinite Hessian is refused (the barrier then takes a least-squares step)."""
    from lipexact.bounds.sdp.barrier import _chol, _inverse, _solve_positive

    rng = np.random.default_rng(3)
    B = rng.standard_normal((6, 6))
    S = B @ B.T + 0.5 * np.eye(6)
    factor = _chol(S)
    assert np.allclose(np.tril(factor), np.linalg.cholesky(S))
    assert np.allclose(_inverse(factor), np.linalg.inv(S))
    g = rng.standard_normal(6)
    assert np.allclose(_solve_positive(S, g), np.linalg.solve(S, g))
    indefinite = S - 10.0 * np.eye(6) * np.linalg.eigvalsh(S).max()
    assert _chol(indefinite) is None
    nan = S.copy()
    nan[2, 3] = nan[3, 2] = np.nan
    assert _chol(nan) is None
    with pytest.raises(np.linalg.LinAlgError):
        _solve_positive(indefinite, g)


def test_units_no_jacobian_sees_are_removed_and_the_certificate_says_which():
    rng = np.random.default_rng(0)
    W1, W2, W3 = rng.standard_normal((40, 8)), rng.standard_normal((40, 40)), rng.standard_normal((1, 40))
    W1[3], W2[5] = 0.0, 0.0   # a pruned network: two units with zero rows in (side 88: the barrier method)
    net = ReLUNetwork([(W1, rng.standard_normal(40)), (W2, rng.standard_normal(40)), (W3, None)])
    result = lipsdp(net)
    kept = [np.delete(W1, 3, 0), np.delete(np.delete(W2, 5, 0), 3, 1), np.delete(W3, 5, 1)]
    reference = lipsdp(ReLUNetwork([(w, None) for w in kept]))
    assert result.status is Status.UPPER_BOUND and result.certificate["removed_units"] == [[3], [5]]
    # with the zero rows kept the barrier's multipliers diverged and ECLipsE-Fast's 443.3 was reported
    assert math.isclose(result.value, reference.value, rel_tol=1e-6)
    scaled, exponent = normalize_weights(kept)   # the multipliers belong to the network without the removed units
    again = certified_rho(scaled, result.certificate["multipliers"], scales=[1.0])
    assert again.proven and math.isclose(math.ldexp(math.sqrt(again.value), exponent), result.value, rel_tol=1e-12)
    assert reference.certificate["removed_units"] is None


def test_a_network_whose_hidden_layer_sees_nothing_has_bound_zero():
    net = ReLUNetwork([(np.ones((3, 2)), [1.0, 0.0, -1.0]), (np.zeros((2, 3)), [1.0, 2.0]), (np.ones((1, 2)), None)])
    result = lipsdp(net)
    assert result.status is Status.UPPER_BOUND and result.value == 0.0
    assert result.certificate["removed_units"] == [[0, 1, 2], [0, 1]]
    points = np.random.default_rng(1).normal(scale=3.0, size=(50, 2))
    assert np.ptp(net.to_torch(dtype=torch.float64)(torch.tensor(points)).detach().numpy()) == 0.0   # constant
