"""benchmarks/measure.py: the watchdog shared by the benchmark sections."""

import time

import pytest

from benchmarks.measure import Hang, call_with_watchdog


def test_the_watchdog_stops_a_call_that_ignores_its_time_limit():
    with pytest.raises(Hang):
        call_with_watchdog(lambda: time.sleep(5), 0.2)
    assert call_with_watchdog(lambda: 7, 1.0) == 7


def test_no_watchdog_runs_the_call_as_it_is():
    assert call_with_watchdog(lambda: 7, None) == 7
