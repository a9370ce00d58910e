import json
import math

import numpy as np
import pytest

from lipexact.result import LipschitzResult, Status
from reductions.validation import InvalidInputError


def test_success_is_derived_from_status():
    assert LipschitzResult(Status.OPTIMAL, 2.0, "bnb", lower=2.0, upper=2.0).success
    assert LipschitzResult(Status.UPPER_BOUND, 3.0, "autolip", upper=3.0).success
    assert not LipschitzResult(Status.TIME_LIMIT, 1.0, "bnb", lower=1.0, upper=4.0).success
    assert not LipschitzResult(Status.ERROR, None, "milp", message="boom").success


def test_json_round_trip_keeps_every_field():
    result = LipschitzResult(
        Status.TIME_LIMIT, 1.5, "bnb", lower=1.5, upper=float("inf"), norm="inf->1", message="stopped",
        witness=np.array([0.5, -1.0]), pattern=np.array([True, False]), certificate={"verified_value": 1.5},
        timings={"total": 0.1}, stats={"nodes": 7},
    )
    back = LipschitzResult.from_dict(json.loads(result.to_json()))
    assert back.status is Status.TIME_LIMIT and back.upper == float("inf") and back.lower == 1.5
    np.testing.assert_array_equal(back.witness, result.witness)
    np.testing.assert_array_equal(back.pattern, result.pattern)
    assert back.stats == {"nodes": 7} and back.norm == "inf->1" and back.gap == float("inf")


def test_bracket_must_be_ordered():
    with pytest.raises(InvalidInputError):
        LipschitzResult(Status.OPTIMAL, 2.0, "bnb", lower=3.0, upper=2.0)


def test_unknown_status_is_rejected():
    with pytest.raises(InvalidInputError) as error:
        LipschitzResult.from_dict({"type": "lipschitz_result", "version": 1, "status": "done"})
    assert error.value.field == "status"


@pytest.mark.parametrize("lower, upper", [(2.0 + 1e-6, 2.0), (1.0, -math.inf), (1e12 * (1 + 1e-8), 1e12), (0.0, -1e-3)])
def test_a_lower_bound_above_the_upper_bound_is_refused(lower, upper):
    with pytest.raises(InvalidInputError) as error:
        LipschitzResult(Status.TIME_LIMIT, lower, "bnb", lower=lower, upper=upper)
    assert error.value.field == "lower"


@pytest.mark.parametrize("lower, upper", [(2.0, 2.0), (2.0 * (1 + 5e-10), 2.0), (1.0, math.inf), (0.0, 0.0)])
def test_a_bracket_within_the_relative_tolerance_is_accepted(lower, upper):
    assert LipschitzResult(Status.OPTIMAL, lower, "bnb", lower=lower, upper=upper).upper == upper


@pytest.mark.parametrize("field", ["value", "lower", "upper"])
def test_nan_bounds_are_refused(field):
    numbers = {"value": 1.0, "lower": 1.0, "upper": 2.0, field: math.nan}
    with pytest.raises(InvalidInputError) as error:
        LipschitzResult(Status.TIME_LIMIT, numbers.pop("value"), "bnb", **numbers)
    assert error.value.field == field


@pytest.mark.parametrize("status", [Status.NODE_LIMIT, Status.TIME_LIMIT, Status.INTERRUPTED, Status.ERROR])
def test_stopped_and_failed_results_are_not_successes(status):
    result = LipschitzResult(status, 1.0, "bnb", lower=1.0, upper=2.0)
    assert not result.success
    back = LipschitzResult.from_dict(json.loads(result.to_json()))
    assert back.status is status and not back.success and (back.lower, back.upper) == (1.0, 2.0)
