"""The rational-rows path of reductions.realizability (composed rows of deep networks)."""

from fractions import Fraction as F

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from reductions.realizability import ExactRows, certify_empty, certify_point, decide_region, exact_signs


def test_rational_rows_decide_what_their_floats_cannot():
    # x > 1/3 and 3x < 1: empty, but the float rows leave the interval (fl(1/3), 1/3)
    rows = ExactRows.from_fractions([[F(1)], [F(-3)]], [F(-1, 3), F(1)])
    decision = decide_region(rows.A, rows.c, exact=rows)
    assert decision.status == "empty"
    assert certify_empty(rows.A, rows.c, decision.multipliers, exact=rows)
    assert not certify_empty(rows.A, rows.c, {0: 1, 1: 1}, exact=rows)
    boxed = decide_region(rows.A, rows.c, lower=[0.0], upper=[1.0], exact=([[F(1)], [F(-3)]], [F(-1, 3), F(1)]))
    assert boxed.status == "empty"


def test_thin_rational_region_gets_a_verified_point():
    width = F(1, 10 ** 12)
    A_q, c_q = [[F(1)], [F(-3)]], [F(-1, 3), F(1) + width]
    rows = ExactRows.from_fractions(A_q, c_q)
    decision = decide_region(rows.A, rows.c, exact=rows)
    assert decision.status == "nonempty"
    x = F(float(decision.point[0]))
    assert F(1, 3) < x < (F(1) + width) / 3
    assert certify_point(rows.A, rows.c, decision.point, exact=(A_q, c_q))


def test_exact_signs_of_rational_rows_and_zero_rows():
    rows = ExactRows.from_fractions([[F(1, 3), F(1, 7)], [F(0), F(0)]], [F(0), F(-1, 5)])
    assert exact_signs(rows.A, rows.c, np.array([3.0, -7.0]), exact=rows).tolist() == [0, -1]
    assert exact_signs(rows.A, rows.c, np.array([3.0, -6.0]), exact=rows).tolist() == [1, -1]
    assert decide_region(rows.A, rows.c, exact=rows).status == "empty"      # 0 > 1/5 fails
    assert not certify_point(rows.A, rows.c, [3.0, -7.0], exact=rows)
    opposite = ExactRows.from_fractions([[F(1, 3), F(1, 7)], [F(-1, 3), F(-1, 7)]], [F(0), F(0)])
    assert decide_region(opposite.A, opposite.c, exact=opposite).status == "empty"
    with pytest.raises(ValueError):
        decide_region(np.zeros((1, 2)), np.zeros(1), exact=opposite)


def test_representation_error_is_accounted_for():
    # row value 1e-30 at x = 1 is positive exactly; its nearest floats evaluate to 0 or to a rounded value
    tiny = F(1, 10 ** 30)
    rows = ExactRows.from_fractions([[F(1, 3)]], [-F(1, 3) + tiny])
    assert exact_signs(rows.A, rows.c, np.array([1.0]), exact=rows).tolist() == [1]
    rows = ExactRows.from_fractions([[F(1, 3)]], [-F(1, 3) - tiny])
    assert exact_signs(rows.A, rows.c, np.array([1.0]), exact=rows).tolist() == [-1]


@settings(max_examples=40)
@given(st.integers(1, 3).flatmap(lambda n: st.tuples(
    hnp.arrays(np.int64, (4, n), elements=st.integers(-3, 3)), hnp.arrays(np.int64, (4,), elements=st.integers(-3, 3)))),
    st.integers(1, 9), st.booleans())
def test_rational_path_agrees_with_the_float_path_on_float_rows(data, denominator, box):
    A, c = data[0].astype(float), data[1].astype(float)
    n = A.shape[1]
    lower, upper = (np.full(n, -1.0), np.full(n, 2.0)) if box else (None, None)
    plain = decide_region(A, c, lower, upper)
    # the same rows divided by a positive rational: the same region
    A_q = [[F(int(v), denominator) for v in row] for row in data[0]]
    c_q = [F(int(v), denominator) for v in data[1]]
    rows = ExactRows.from_fractions(A_q, c_q, n=n)
    rational = decide_region(rows.A, rows.c, lower, upper, exact=rows)
    assert plain.status == rational.status != "undecided"
    if rational.nonempty:
        assert certify_point(A, c, rational.point, lower, upper)
    else:
        assert certify_empty(rows.A, rows.c, rational.multipliers, lower, upper, exact=rows)
