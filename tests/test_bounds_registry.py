import inspect
import math

import numpy as np
import pytest
import torch
from torch import nn

import lipexact
from lipexact.bounds import (
    LOWER_METHODS,
    UPPER_METHODS,
    VALIDATORS,
    lower_bound,
    resolve_method,
    upper_bound,
    validate_request,
)
from lipexact.bounds.autolip import UnsupportedOperationError
from lipexact.bounds.affine_model import affine_lipschitz
from lipexact.network import TwoLayerReLU
from lipexact.result import LipschitzResult, Status
from reductions.validation import InvalidInputError

NET = TwoLayerReLU([[1, -2], [3, 1], [0, 2]], [[1, 2, -1]], [0, 1, -1])


def test_registries_hold_the_specified_names():
    assert list(UPPER_METHODS) == ["autolip", "frobenius", "power", "pattern_sdp", "seqlip", "seqlip_greedy",
                                   "seqlip_cnn", "eclipse", "eclipse_fast", "lipsdp", "lipsdp_first_order"]
    assert list(LOWER_METHODS) == ["data", "gradient", "annealing", "grid"]
    assert UPPER_METHODS["seqlip"] == "lipexact.bounds.seqlip:seqlip"
    assert UPPER_METHODS["seqlip_cnn"] == "lipexact.bounds.seqlip:seqlip_cnn"
    assert LOWER_METHODS["grid"] == "lipexact.bounds.lower:grid_search"
    assert lipexact.UPPER_METHODS is UPPER_METHODS and lipexact.upper_bound is upper_bound
    assert lipexact.LOWER_METHODS is LOWER_METHODS and lipexact.lower_bound is lower_bound


@pytest.mark.parametrize("registry, extra", [(UPPER_METHODS, ()), (LOWER_METHODS, ("data",))])
def test_every_registered_function_has_the_common_signature(registry, extra):
    for name in registry:
        parameters = inspect.signature(resolve_method(name, registry)).parameters
        for keyword in ("input_shape", "device", "dtype", "seed", *extra):
            assert keyword in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values()), (name, keyword)
        assert parameters["dtype"].default is torch.float64 and parameters["seed"].default == 0, name


@pytest.mark.parametrize("entry", [upper_bound, lower_bound])
def test_unknown_method_names_the_field_and_lists_the_choices(entry):
    with pytest.raises(InvalidInputError) as error:
        entry(NET, method="nope")
    assert error.value.field == "method"
    registry = UPPER_METHODS if entry is upper_bound else LOWER_METHODS
    assert all(name in str(error.value) for name in registry)
    with pytest.raises(InvalidInputError):
        entry(NET, method=None)


def test_methods_resolve_lazily_and_callables_are_accepted(monkeypatch):
    monkeypatch.setitem(UPPER_METHODS, "missing", "lipexact.bounds.not_written_yet:fn")
    with pytest.raises(InvalidInputError) as error:
        upper_bound(NET, method="missing")
    assert error.value.field == "method" and "not_written_yet" in str(error.value)

    def constant(model, *, input_shape=None, device=None, dtype=torch.float64, seed=0, **options):
        return LipschitzResult(Status.UPPER_BOUND, 7.0, "constant", upper=7.0, timings={"total": -1.0})

    monkeypatch.setitem(UPPER_METHODS, "constant", constant)
    result = upper_bound(NET, method="constant")
    assert result.value == 7.0 and result.timings["total"] >= 0  # the entry point's own timing replaces it


def test_seqlip_cnn_is_registered_as_a_labelled_heuristic():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 4 * 4, 2)).double()
    result = upper_bound(model, "seqlip_cnn", input_shape=(1, 6, 6), device="cpu", k=4)
    assert result.method == "seqlip_cnn" and result.status is Status.HEURISTIC and result.upper is None
    assert "NOT a guaranteed upper bound" in result.message and result.timings["total"] > 0
    # each factor is attained at a vertex of a truncated pair (a submatrix): never above the proven SeqLip
    proven = upper_bound(model, "seqlip", input_shape=(1, 6, 6), device="cpu")
    assert proven.status is Status.UPPER_BOUND and 0 < result.value <= proven.value
    with pytest.raises(InvalidInputError) as error:
        upper_bound(model, "seqlip_cnn", input_shape=(1, 6, 6), device="cpu", dtype="float16")
    assert error.value.field == "dtype"


def test_entry_points_time_the_call_and_bracket_the_constant():
    upper = upper_bound(NET, device="cpu")
    assert upper.method == "autolip" and upper.status is Status.UPPER_BOUND and upper.timings["total"] > 0
    data = np.random.default_rng(0).normal(size=(64, 2))
    lower = lower_bound(NET, data=data, device="cpu")
    assert lower.status is Status.LOWER_BOUND and lower.timings["total"] > 0
    exact = lipexact.lipschitz(NET, method="brute")
    assert lower.value <= exact.value * (1 + 1e-9) <= upper.value * (1 + 2e-9)
    frobenius = upper_bound(NET, "frobenius", device="cpu")
    assert upper.value <= frobenius.value


# ---------------------------------------------------------------- the "power" method (affine models)
def test_power_method_on_an_affine_model_is_its_exact_norm():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv1d(1, 2, 3, padding=1), nn.AvgPool1d(2), nn.Flatten(), nn.Linear(8, 3)).double()
    result = upper_bound(model, "power", input_shape=(1, 8), device="cpu", rtol=1e-13, iterations=5000)
    jacobian = torch.autograd.functional.jacobian(lambda x: model(x[None])[0], torch.zeros(1, 8, dtype=torch.float64))
    exact = float(torch.linalg.matrix_norm(jacobian.reshape(3, 8), ord=2))
    assert result.status is Status.UPPER_BOUND and result.upper == result.value
    assert exact <= result.value <= exact * (1 + 2e-10)
    assert result.lower <= exact and math.isclose(result.lower, exact, rel_tol=1e-9)
    witness = torch.tensor(result.witness)[None]
    with torch.no_grad():
        gain = float((model(witness) - model(torch.zeros_like(witness))).norm() / witness.norm())
    assert math.isclose(gain, result.lower, rel_tol=1e-9)  # the witness direction re-checks the lower side


def test_power_method_on_a_large_affine_model_is_a_labelled_estimate():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(30, 20), nn.Linear(20, 10)).double()
    result = affine_lipschitz(model, device="cpu", exact_max_dim=10, rtol=1e-13, iterations=5000)
    exact = float(torch.linalg.matrix_norm(model[1].weight.detach() @ model[0].weight.detach(), ord=2))
    assert result.status is Status.HEURISTIC and result.upper is None and result.lower == result.value
    assert result.value <= exact * (1 + 1e-12) and math.isclose(result.value, exact, rel_tol=1e-8)
    assert "not an upper bound" in result.message


def test_power_method_rejects_non_affine_models_naming_the_node():
    with pytest.raises(UnsupportedOperationError) as error:
        upper_bound(NET, "power", device="cpu")
    assert error.value.field == "_1"
    with pytest.raises(InvalidInputError) as error:
        upper_bound(nn.Linear(2, 2), "power", device="cpu", restart=3)
    assert error.value.field == "restart"


# ---------------------------------------------------------------- up-front validation
GELU_NET = nn.Sequential(nn.Linear(2, 3), nn.GELU(), nn.Linear(3, 1))
CONV = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 4 * 4, 1))
BAD_REQUESTS = [
    ("upper", "autolip", NET, {"tol": 1e-3}, "tol"),
    ("upper", "autolip", NET, {"restarts": 0}, "restarts"),
    ("upper", "autolip", CONV, {}, "input_shape"),
    ("upper", "frobenius", NET, {"exact_max_dim": -1}, "exact_max_dim"),
    ("upper", "power", NET, {}, "_1"),
    ("upper", "power", nn.Linear(2, 2), {"iterations": 0}, "iterations"),
    ("upper", "seqlip", GELU_NET, {}, "model[1]"),
    ("upper", "seqlip", NET, {"max_exact_width": -1}, "max_exact_width"),
    ("upper", "seqlip_greedy", CONV, {"input_shape": (2, 6, 6)}, "input_shape"),
    ("upper", "seqlip_cnn", NET, {"rtol": 0.0}, "rtol"),
    ("lower", "data", NET, {}, "data"),
    ("lower", "data", NET, {"data": np.zeros((4, 3))}, "data"),
    ("lower", "gradient", NET, {"estimator": "magic"}, "estimator"),
    ("lower", "gradient", NET, {"data": np.zeros((4, 5))}, "data"),
    ("lower", "annealing", NET, {"T0": 0.0}, "T0"),
    ("lower", "grid", CONV, {"input_shape": (1, 6, 6)}, "input_shape"),
    ("lower", "grid", CONV, {"input_shape": (1, 6, 6), "max_dim": 36, "points": 1}, "points"),
] + [(kind, method, NET, {option: value, **({"data": np.zeros((4, 2))} if kind == "lower" else {})}, option)
      for kind, registry in (("upper", UPPER_METHODS), ("lower", LOWER_METHODS))
      for method in registry if method != "power"
      for option, value in (("seed", -1), ("dtype", "float16"), ("device", "abacus"))]


@pytest.mark.parametrize("kind, method, model, kwargs, field", BAD_REQUESTS)
def test_validation_raises_what_the_method_raises(kind, method, model, kwargs, field):
    kwargs = {"device": "cpu", **kwargs}
    with pytest.raises(InvalidInputError) as checked:
        validate_request(method, model, kind=kind, **kwargs)
    entry = upper_bound if kind == "upper" else lower_bound
    with pytest.raises(InvalidInputError) as ran:
        entry(model, method, **kwargs)
    assert checked.value.field == ran.value.field == field
    assert str(checked.value) == str(ran.value)


def test_every_registered_method_has_a_validator_that_accepts_a_good_request():
    assert {target for target in VALIDATORS} == {*UPPER_METHODS.values(), *LOWER_METHODS.values()}
    data = np.random.default_rng(0).normal(size=(4, 2))
    affine = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    for method in UPPER_METHODS:
        assert validate_request(method, affine if method == "power" else NET, device="cpu") is None
    for method in LOWER_METHODS:
        assert validate_request(method, NET, kind="lower", data=data, device="cpu") is None
    with pytest.raises(InvalidInputError) as error:
        validate_request("grid", NET, kind="sideways")
    assert error.value.field == "kind"
    with pytest.raises(InvalidInputError) as error:
        validate_request("autolip", NET, kind="lower")
    assert error.value.field == "method"


def test_callables_registered_by_users_are_checked_when_they_run(monkeypatch):
    def fussy(model, **kwargs):
        raise InvalidInputError("colour", "red", "blue")

    monkeypatch.setitem(UPPER_METHODS, "fussy", fussy)
    assert validate_request("fussy", NET, device="cpu") is None
    with pytest.raises(InvalidInputError):
        upper_bound(NET, "fussy")
