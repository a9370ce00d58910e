"""The solvers' clock and the certified result builder: an optimality claim the witness does not back, or a
witness above the proven upper bound, is an error, never a result."""

import math
import time

import numpy as np
import pytest

from lipexact.domain import Box
from lipexact.exact.problem import RELATIVE_TOLERANCE, Clock, certified_result, validate_problem
from lipexact.network import TwoLayerReLU
from lipexact.result import Status
from reductions.validation import InvalidInputError

# f(x) = 3 relu(x1) + 4 relu(x2): the gradient norm is 5 at (1, 1), 3 at (1, -1), 4 at (-1, 1).
NET = TwoLayerReLU([[1, 0], [0, 1]], [[3, 4]])
VALUE = 5.0
WITNESS = [1.0, 1.0]
STOPPED = [Status.TIME_LIMIT, Status.NODE_LIMIT, Status.INTERRUPTED]


class Ticks:
    """A time source that advances one second per reading."""

    def __init__(self):
        self.readings = 0

    def __call__(self):
        self.readings += 1
        return float(self.readings)


def certify(status, upper, witness=WITNESS, domain=None, norm="2"):
    problem = validate_problem(NET, norm=norm, domain=domain)
    return certified_result(problem, "test", Clock(), status=status, witness=witness, upper=upper,
                            upper_proof="given by the test")


# ---------------------------------------------------------------------------------- Clock
def test_injected_clock_counts_its_readings():
    ticks = Ticks()
    clock = Clock(3.0, now=ticks)
    assert clock.start == 1.0 and ticks.readings == 1
    assert [clock.expired() for _ in range(4)] == [False, False, True, True]
    assert clock.elapsed() == 5.0 and clock.remaining() == 0.0
    assert ticks.readings == 7


def test_clock_without_a_limit_never_expires_and_reads_no_time():
    ticks = Ticks()
    clock = Clock(now=ticks)
    assert not any(clock.expired() for _ in range(100))
    assert clock.remaining() is None
    assert ticks.readings == 1  # the start only


def test_remaining_time_counts_down_to_zero():
    clock = Clock(2.5, now=Ticks())
    assert [clock.remaining() for _ in range(4)] == [1.5, 0.5, 0.0, 0.0]


def test_default_clock_uses_wall_time():
    before = time.perf_counter()
    clock = Clock(60.0)
    assert before <= clock.start <= time.perf_counter()
    assert 0.0 <= clock.elapsed() < 60.0 and not clock.expired()
    assert Clock(1.0, start=0.0, now=lambda: 2.0).expired()


def test_clock_refuses_a_time_source_that_is_not_callable():
    with pytest.raises(InvalidInputError) as error:
        Clock(1.0, now=3.0)
    assert error.value.field == "now"


# ---------------------------------------------------------------------------------- certified_result
def test_a_witness_that_meets_the_upper_bound_is_optimal():
    result = certify(Status.OPTIMAL, VALUE)
    assert result.status is Status.OPTIMAL and result.success
    assert result.value == result.lower == result.upper == VALUE
    assert result.certificate["verified_value"] == VALUE


@pytest.mark.parametrize("gap", [0.0, 0.5, 0.99])
def test_agreement_within_the_relative_tolerance_stays_optimal(gap):
    upper = VALUE * (1 + gap * RELATIVE_TOLERANCE)
    result = certify(Status.OPTIMAL, upper)
    assert result.status is Status.OPTIMAL, result.message
    assert result.lower == VALUE and result.upper >= result.lower


@pytest.mark.parametrize("upper", [VALUE * (1 + 3 * RELATIVE_TOLERANCE), VALUE * (1 + 1e-6), VALUE + 1e-3,
                                   2 * VALUE, 1e300, math.inf])
def test_optimal_with_the_witness_below_the_upper_bound_is_an_error(upper):
    result = certify(Status.OPTIMAL, upper)
    assert result.status is Status.ERROR, result.message
    assert not result.success
    assert result.upper is None or result.upper >= upper  # the proven bracket is not narrowed


@pytest.mark.parametrize("witness, value", [([1.0, -1.0], 3.0), ([-1.0, 1.0], 4.0)])
def test_optimal_with_a_witness_from_a_worse_region_is_an_error(witness, value):
    result = certify(Status.OPTIMAL, VALUE, witness=witness)
    assert result.status is Status.ERROR, result.message
    assert result.lower is None or result.lower == value


@pytest.mark.parametrize("status", [Status.OPTIMAL, *STOPPED])
@pytest.mark.parametrize("upper", [VALUE * (1 - 3 * RELATIVE_TOLERANCE), VALUE * (1 - 1e-6), 1.0, 0.0, -1.0,
                                   -math.inf])
def test_a_witness_above_the_upper_bound_is_an_error(status, upper):
    result = certify(status, upper)
    assert result.status is Status.ERROR, result.message
    assert not result.success


@pytest.mark.parametrize("status", STOPPED)
def test_a_stopped_search_keeps_its_bracket(status):
    result = certify(status, 2 * VALUE)
    assert result.status is status
    assert (result.lower, result.upper) == (VALUE, 2 * VALUE)


def test_a_witness_a_hair_above_the_upper_bound_raises_the_upper_bound():
    result = certify(Status.OPTIMAL, VALUE * (1 - 0.5 * RELATIVE_TOLERANCE))
    assert result.status is Status.OPTIMAL
    assert result.upper >= result.lower == VALUE


def test_optimal_without_a_witness_is_an_error():
    assert certify(Status.OPTIMAL, VALUE, witness=None).status is Status.ERROR


def test_optimal_without_an_upper_bound_is_an_error():
    assert certify(Status.OPTIMAL, None).status is Status.ERROR


def test_a_nan_upper_bound_is_never_optimal():
    try:
        result = certify(Status.OPTIMAL, math.nan)
    except Exception:  # refusing outright is fine too
        return
    assert result.status is Status.ERROR


@pytest.mark.parametrize("witness", [[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
@pytest.mark.parametrize("status", [Status.OPTIMAL, *STOPPED])
def test_a_witness_on_a_kink_is_an_error(witness, status):
    result = certify(status, VALUE, witness=witness)
    assert result.status is Status.ERROR
    assert result.lower is None


@pytest.mark.parametrize("witness", [[2.0, 2.0], [0.5, 2.0], [3.0, 0.5], [np.nextafter(2.0, 3.0), 1.0]])
def test_a_witness_outside_or_on_the_face_of_the_box_is_an_error(witness):
    box = Box([0.0, 0.0], [2.0, 2.0])
    assert certify(Status.OPTIMAL, VALUE, domain=box).status is Status.OPTIMAL
    result = certify(Status.OPTIMAL, VALUE, witness=witness, domain=box)
    assert result.status is Status.ERROR
    assert result.lower is None


@pytest.mark.parametrize("witness", [[math.nan, 1.0], [math.inf, 1.0]])
def test_a_witness_that_is_not_a_point_is_an_error(witness):
    assert certify(Status.OPTIMAL, VALUE, witness=witness).status is Status.ERROR


@pytest.mark.parametrize("norm, value", [("1", 4.0), ("inf", 7.0)])
def test_the_witness_is_re_evaluated_in_the_problems_norm(norm, value):
    # norm "1": ||J||_{1->1} = largest column sum 4; norm "inf" (scalar output): ||grad||_1 = 7.
    assert certify(Status.OPTIMAL, value, norm=norm).status is Status.OPTIMAL
    assert certify(Status.OPTIMAL, VALUE, norm=norm).status is Status.ERROR
