"""The deep witness check and the certified result refuse what they must."""

import math

import numpy as np
import pytest

from lipexact.deep.certificate import CertificateError, certified_deep_result, verify_deep_witness
from lipexact.deep.network import ReLUNetwork
from lipexact.domain import Box
from lipexact.exact.problem import Clock
from lipexact.result import Status

NET = ReLUNetwork([([[1, 0], [0, 1]], None), ([[1, 1]], [-1]), ([[3]], None)])
BEST = 3 * math.sqrt(2)


def test_a_good_witness_verifies():
    checked = verify_deep_witness(NET, [1.0, 2.0])
    assert checked.value == pytest.approx(BEST, rel=1e-15) and checked.evaluation == "autograd"
    assert checked.pattern.tolist() == [True, True, True]


@pytest.mark.parametrize("x, where", [([0.0, 2.0], "layer 0"), ([0.25, 0.75], "layer 1"),
                                      ([0.1, 0.9], "layer 1")])
def test_witness_on_a_kink_is_refused(x, where):
    # 0.1 + 0.9 is 1 exactly in floats? (it is 0.9999999999999999 + rounding): the exact sum decides
    exact_sum = sum(__import__("fractions").Fraction(v) for v in x) - 1
    if exact_sum != 0 and where == "layer 1":
        checked = verify_deep_witness(NET, x)
        assert checked.pattern[2] == (exact_sum > 0)
        return
    with pytest.raises(CertificateError, match=where):
        verify_deep_witness(NET, x)


def test_witness_outside_the_box_or_not_finite_is_refused():
    box = Box([0.0, 0.0], [1.0, 2.0])
    with pytest.raises(CertificateError, match="interior"):
        verify_deep_witness(NET, [1.0, 2.0], domain=box)      # on a face
    with pytest.raises(CertificateError, match="interior"):
        verify_deep_witness(NET, [3.0, 1.0], domain=box)
    with pytest.raises(CertificateError, match="NaN"):
        verify_deep_witness(NET, [float("nan"), 1.0])
    with pytest.raises(CertificateError, match="shape"):
        verify_deep_witness(NET, [1.0])


def test_constant_units_may_sit_at_zero():
    net = ReLUNetwork([([[1.0], [1.0]], None), ([[1.0, -1.0]], [0.0]), ([[5.0]], None)])
    assert verify_deep_witness(net, [2.0]).value == 0.0


def test_exact_pattern_is_used_when_floats_disagree():
    # z = x - 0.1 - 0.2 at x = 0.30000000000000004: exactly positive? floats say 0 or negative
    net = ReLUNetwork([([[1.0]], [-0.1]), ([[1.0]], [-0.2]), ([[7.0]], None)])
    x = 0.30000000000000004
    from fractions import Fraction
    z2 = Fraction(x) - Fraction(0.1) - Fraction(0.2)
    assert z2 != 0
    checked = verify_deep_witness(net, [x])
    assert checked.pattern[1] == (z2 > 0)
    assert checked.value == (7.0 if z2 > 0 else 0.0)
    assert checked.evaluation in ("autograd", "exact pattern")


def result(status, witness, upper):
    return certified_deep_result(NET, "2", None, "enumerate", Clock(), status=status, witness=witness, upper=upper,
                                 upper_proof="test")


def test_certified_result_rules():
    good = result(Status.OPTIMAL, [1.0, 2.0], BEST)
    assert good.status is Status.OPTIMAL and good.certificate["layer_sizes"] == [2, 1]
    assert good.value == good.lower and good.upper >= good.lower
    assert result(Status.OPTIMAL, [1.0, 2.0], BEST * (1 + 1e-6)).status is Status.ERROR   # wrong value claimed
    assert result(Status.OPTIMAL, [1.0, 2.0], 3.0).status is Status.ERROR                # witness above upper
    assert result(Status.OPTIMAL, [0.0, 2.0], BEST).status is Status.ERROR               # witness on a kink
    assert result(Status.OPTIMAL, None, BEST).status is Status.ERROR
    assert result(Status.OPTIMAL, [1.0, 2.0], None).status is Status.ERROR
    assert result(Status.OPTIMAL, [1.0, 2.0], math.nan).status is Status.ERROR
    assert result(Status.OPTIMAL, [1.0, 2.0], math.inf).status is Status.ERROR
    stopped = result(Status.TIME_LIMIT, [2.0, -2.0], 10.0)
    assert stopped.status is Status.TIME_LIMIT and stopped.lower == pytest.approx(3.0) and stopped.upper == 10.0
    assert np.array_equal(stopped.pattern, [True, False, True])
