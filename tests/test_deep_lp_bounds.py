"""LP-tightened pre-activation intervals (lipexact.deep.lp_bounds): proven by weak duality whatever the dual vector,
checked against the exact range over small polygons; the exact certificate that fixes units in the tree refuses bad
multipliers and false claims; branch and bound with the region LPs equals brute force."""

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lipexact.deep.bounds import DeepBounds, float_offset
from lipexact.deep.enumerate import LP_BOUNDS, DeepSearch
from lipexact.deep.exact import ExactNetwork
from lipexact.deep.lp_bounds import certify_sign, proven_upper, region_intervals
from lipexact.domain import as_box
from lipexact.exact.problem import Clock
from lipexact.result import Status
from tests.test_deep_bnb import completions, draw_node
from tests.test_deep_enumerate import brute_force
from tests.test_deep_strategies import boxes, deep_nets

NORMS = ("2", "1", "inf")


def exact_range(m, e, A, c, low, high):
    """Exact ``(min, max)`` of ``m x + e`` over the polygon ``{x in [low, high]^2 : A x + c >= 0}`` (integers):
    the extremes of a linear function over a non-empty polygon are attained at vertices, every vertex is the
    intersection of two of its lines; None when the polygon is empty."""
    lines = [([Fraction(int(v)) for v in a], Fraction(int(b))) for a, b in zip(A, c)]
    for j in range(2):
        unit = [Fraction(int(j == 0)), Fraction(int(j == 1))]
        lines += [(unit, -Fraction(float(low[j]))), ([-v for v in unit], Fraction(float(high[j])))]
    values = []
    for (a1, b1), (a2, b2) in itertools.combinations(lines, 2):
        det = a1[0] * a2[1] - a1[1] * a2[0]
        if det == 0:
            continue
        x = [(-b1 * a2[1] + b2 * a1[1]) / det, (-a1[0] * b2 + a2[0] * b1) / det]
        if all(a[0] * x[0] + a[1] * x[1] + b >= 0 for a, b in lines):
            values.append(int(m[0]) * x[0] + int(m[1]) * x[1] + int(e))
    return (min(values), max(values)) if values else None


small = st.integers(-4, 4)
polygons = st.integers(1, 4).flatmap(lambda k: st.tuples(
    hnp.arrays(np.int64, (k, 2), elements=small), hnp.arrays(np.int64, (3, 2), elements=small),
    hnp.arrays(np.int64, (k,), elements=small), hnp.arrays(np.int64, (3,), elements=small)))


@settings(max_examples=80)
@given(polygons)
def test_proven_interval_contains_and_matches_the_exact_range(case):
    A, M, c, e = case
    low, high = np.array([-1.0, 0.0]), np.array([1.0, 2.0])
    bounds = region_intervals(M.astype(float), e.astype(float), A.astype(float), c.astype(float), low, high)
    for i in range(M.shape[0]):
        exact = exact_range(M[i], e[i], A, c, low, high)
        if exact is None:
            continue  # empty region: any interval is valid
        assert Fraction(float(bounds.lo[i])) <= exact[0] and exact[1] <= Fraction(float(bounds.hi[i]))
        scale = 1.0 + float(np.abs(M[i]).sum() * 2 + abs(e[i]))
        assert bounds.hi[i] - float(exact[1]) <= 1e-6 * scale  # the LP's dual is optimal: tight
        assert float(exact[0]) - bounds.lo[i] <= 1e-6 * scale


@settings(max_examples=60)
@given(polygons, hnp.arrays(np.float64, 4, elements=st.floats(-10, 10)))
def test_any_dual_vector_gives_a_valid_bound(case, forged):
    A, M, c, e = case
    low, high = np.array([-1.0, 0.0]), np.array([1.0, 2.0])
    Y = np.tile(forged[:A.shape[0]], (M.shape[0], 1))  # negative entries are clipped, not trusted
    upper = proven_upper(M.astype(float), e.astype(float), A.astype(float), c.astype(float), Y, low, high)
    optimal = region_intervals(M.astype(float), e.astype(float), A.astype(float), c.astype(float), low, high).hi
    for i in range(M.shape[0]):
        exact = exact_range(M[i], e[i], A, c, low, high)
        if exact is not None:  # (an empty region has every bound)
            assert exact[1] <= Fraction(float(upper[i]))
            assert upper[i] >= optimal[i] - 1e-9 * (1 + abs(optimal[i]))  # a forged dual is never tighter


def test_non_finite_duals_and_rows_give_no_information():
    A, c = np.array([[1.0, 0.0]]), np.array([0.0])
    value = proven_upper(np.array([[1.0, 1.0]]), np.zeros(1), A, c, np.array([[np.nan]]), np.zeros(2), np.ones(2))
    assert value[0] == math.inf
    bounds = region_intervals(np.array([[1.0, 1.0]]), np.zeros(1), np.array([[np.inf, 0.0]]), c, np.zeros(2),
                              np.ones(2))
    assert bounds.lo[0] == pytest.approx(0.0, abs=1e-8) and bounds.hi[0] == pytest.approx(2.0)  # the box interval
    assert bounds.lo[0] <= 0.0 and bounds.hi[0] >= 2.0
    forged = proven_upper(np.array([[1.0, 1.0]]), np.zeros(1), np.array([[np.inf, 0.0]]), c, np.array([[1.0]]),
                          np.zeros(2), np.ones(2))
    assert forged[0] == math.inf  # a weight on an overflowed row proves nothing


def test_the_sign_certificate_refuses_bad_multipliers_and_false_claims():
    rows = [([1, -1], 0, 1)]                       # x1 > x2 in the box (0, 1)^2
    lower, upper = np.zeros(2), np.ones(2)
    assert certify_sign(rows, ([1, -1], 0, 2), np.array([0.5]), lower, upper, 2)       # (x1 - x2) / 2 > 0
    assert not certify_sign(rows, ([1, -1], 0, 2), np.array([0.25]), lower, upper, 2)  # too small a multiplier
    assert not certify_sign(rows, ([1, -1], 0, 2), np.array([np.nan]), lower, upper, 2)
    assert not certify_sign(rows, ([1, -2], 0, 1), np.array([1.0]), lower, upper, 2)   # x1 > 2 x2: not implied
    # a float value that rounds the wrong way: x1 - x2 - 2^-60 > 0 does not follow from x1 > x2
    assert not certify_sign(rows, ([1 << 60, -(1 << 60)], -1, 1 << 60), np.array([1.0]), lower, upper, 2)


def node_rows(net, fixed, state, affine):
    """The exact rows of a drawn node: the upstream fixed patterns and the fixed units of its layer."""
    maps = ExactNetwork(net).maps(list(fixed) + [np.zeros(net.hidden_sizes[len(fixed)], dtype=bool)])
    rows = []
    for layer_map, pattern in zip(maps, list(fixed)):
        rows += [layer_map.row(i, 1 if on else -1) for i, on in enumerate(pattern) if not layer_map.zero_row(i)]
    rows += [affine.row(i, 1 if s == 1 else -1) for i, s in enumerate(state) if s >= 0 and not affine.zero_row(i)]
    return rows


@settings(max_examples=40)
@given(deep_nets(max_hidden=7), st.sampled_from(NORMS), st.data())
def test_node_bound_with_region_intervals_never_falls_below_the_best_completion(net, norm, data):
    box, layer, fixed, state, affine = draw_node(net, True, data)
    lower, upper = box
    rows = node_rows(net, fixed, state, affine)
    region = None
    if rows:
        from lipexact.deep.exact import exact_rows

        exact = exact_rows(rows, net.n_inputs)
        found = region_intervals(affine.float_linear(), float_offset(affine), exact.A, exact.c, lower, upper)
        region = (found.lo, found.hi)
    bound = DeepBounds(net, norm, box).bound(layer, state, affine, region)
    best = completions(net, norm, layer, fixed, state, lower, upper)
    assert best <= bound, (best, bound)


@settings(max_examples=30, deadline=None)
@given(deep_nets(max_hidden=7), st.sampled_from(NORMS), st.sampled_from(LP_BOUNDS[1:]), st.sampled_from((8, 1)),
       st.data())
def test_bnb_with_region_lps_equals_brute_force(net, norm, mode, units, data):
    lower, upper = data.draw(boxes(net.n_inputs))
    search = DeepSearch(net, norm, as_box((lower, upper), net.n_inputs), Clock(), bnb=True, lp_bounds=mode)
    search.lp_units = units  # 1: the cap on the units solved per node
    outcome = search.run()
    assert outcome.status is Status.OPTIMAL
    assert outcome.value == pytest.approx(brute_force(net, norm, lower, upper), rel=1e-9, abs=1e-12)
    assert outcome.upper >= outcome.value


def test_region_lps_fix_units_and_keep_the_value_on_a_deeper_net():
    rng = np.random.default_rng(3)
    from lipexact.deep.network import ReLUNetwork

    net = ReLUNetwork([(0.65 * rng.standard_normal((o, i)), -0.35 + 0.9 * rng.standard_normal(o))
                       for i, o in zip([4, 8, 8, 2], [8, 8, 2])])
    box = as_box((np.zeros(4), np.full(4, 0.5)), 4)
    plain = DeepSearch(net, "2", box, Clock(), bnb=True, lp_bounds="off").run()
    tightened = DeepSearch(net, "2", box, Clock(), bnb=True, lp_bounds="node").run()
    assert plain.status is tightened.status is Status.OPTIMAL
    assert tightened.value == pytest.approx(plain.value, rel=1e-12)
    assert tightened.stats["region_lps"] > 0 and tightened.stats["nodes"] <= plain.stats["nodes"]
    with pytest.raises(ValueError):
        DeepSearch(net, "2", box, Clock(), bnb=True, lp_bounds="always")


@settings(max_examples=80)
@given(st.integers(1, 4).flatmap(lambda k: st.tuples(
    hnp.arrays(np.int64, (k, 2), elements=small), hnp.arrays(np.int64, (k,), elements=small),
    hnp.arrays(np.int64, (k,), elements=st.integers(0, 3)))), st.booleans())
def test_the_integer_farkas_check_agrees_with_certify_empty(case, use_box):
    from reductions.realizability import certify_empty

    from lipexact.deep.lp_bounds import farkas_holds

    A, c, y = case
    lower, upper = (np.array([-0.5, 0.25]), np.array([1.0, 2.75])) if use_box else (None, None)
    expected = certify_empty(A.astype(float), c.astype(float), {i: int(v) for i, v in enumerate(y)}, lower, upper)
    assert farkas_holds(A.tolist(), c.tolist(), [int(v) for v in y], lower, upper, 2) == expected
    assert not farkas_holds(A.tolist(), c.tolist(), [-1] + [int(v) for v in y[1:]], lower, upper, 2)  # refused


def test_hints_skip_lps_and_never_make_a_bound_invalid():
    low, high = np.zeros(2), np.ones(2)
    M, e = np.array([[-1.0, 1.0]]), np.zeros(1)  # z = x2 - x1, max 0 on x1 >= x2
    A, c = np.array([[1.0, -1.0]]), np.array([0.0])
    parent = region_intervals(M, e, A, c, low, high)
    assert parent.lps == 1 and parent.points_high[0] is not None
    child_A, child_c = np.array([[1.0, -1.0], [-1.0, 0.0]]), np.array([0.0, 1.0])  # and x1 <= 1 (no cut)
    child = region_intervals(M, e, child_A, child_c, low, high, hints=parent)
    assert child.lps == 0 and child.duals_high[0] is None  # the parent's optimum is in the child region
    assert child.hi[0] >= 1.0  # the side keeps the box bound (proven); the caller intersects with the parent's
    # a forged hint (inside the region, far from optimal) only skips the LP: the box bound stays valid
    parent.points_high[0] = np.array([1.0, 0.0])
    forged = region_intervals(M, e, child_A, child_c, low, high, hints=parent)
    assert forged.lps == 0 and forged.hi[0] >= 0.0
    # a hint outside the child region: the LP is solved
    cut_A, cut_c = np.array([[1.0, -1.0], [-1.0, 0.0]]), np.array([0.0, 0.5])  # x1 <= 1/2
    parent.points_high[0] = np.array([1.0, 1.0])
    cut = region_intervals(M, e, cut_A, cut_c, low, high, hints=parent)
    assert cut.lps == 2 and abs(cut.hi[0]) <= 1e-6  # (and the min side: its corner (1, 0) is cut off too)


def next_layer_case(net, data):
    """A node below the last ReLU layer on a box, its region rows and proven intervals, and the LP relaxation's
    intervals of every unit of the next layer."""
    from lipexact.deep.exact import exact_rows
    from lipexact.deep.lp_bounds import next_layer_intervals

    box, layer, fixed, state, affine = draw_node(net, True, data, below_last=True)
    lower, upper = box
    rows = node_rows(net, fixed, state, affine)
    exact = exact_rows(rows, net.n_inputs)
    linear, offset = affine.float_linear(), float_offset(affine)
    found = region_intervals(linear, offset, exact.A, exact.c, lower, upper)
    width = net.hidden_sizes[layer + 1]
    following = next_layer_intervals(linear, offset, state, found.lo, found.hi, exact.A, exact.c, lower, upper,
                                     net.weights[layer + 1], net.biases[layer + 1], range(width))
    return box, layer, fixed, state, affine, exact, found, following.lo, following.hi


def region_samples(net, box, exact, layer, fixed, state, count):
    """Sampled points of the box strictly inside a drawn node's region: its rows positive, and its constant
    units (no row) fixed to their own signs (a constant fixed against its sign leaves the region empty; the
    search never fixes one so)."""
    lower, upper = box
    points = lower + (upper - lower) * np.random.default_rng(0).random((count, net.n_inputs))
    inside = np.all(points @ exact.A.T + exact.c > 0, axis=1) if exact.A.size else np.ones(len(points), bool)
    values = net.preactivations(points)
    for z, pattern in zip(values, [np.where(f, 1, 0) for f in fixed] + [np.asarray(state)]):
        agree = ((z > 0) == (pattern == 1)) | (z == 0)
        inside &= np.all(agree[:, pattern >= 0], axis=1)
    return points[inside]


@settings(max_examples=60, deadline=None)
@given(deep_nets(max_hidden=7), st.data())
def test_next_layer_intervals_contain_the_next_layer_at_every_point_of_the_region(net, data):
    """Sampled points strictly inside the node's region: the next layer's actual pre-activations lie in the
    relaxation's intervals (whatever the free units of the node's layer do there)."""
    box, layer, fixed, state, affine, exact, found, lo2, hi2 = next_layer_case(net, data)
    lower, upper = box
    assert np.all(lo2 <= hi2)
    z = net.preactivations(region_samples(net, box, exact, layer, fixed, state, 4000))[layer + 1]
    scale = 1e-9 * (1 + np.abs(z))
    assert np.all(z >= lo2 - scale) and np.all(z <= hi2 + scale)


@settings(max_examples=40, deadline=None)
@given(deep_nets(max_hidden=6), st.sampled_from(NORMS), st.data())
def test_node_bound_with_next_layer_intervals_never_falls_below_the_best_completion(net, norm, data):
    box, layer, fixed, state, affine, exact, found, lo2, hi2 = next_layer_case(net, data)
    bound = DeepBounds(net, norm, box).bound(layer, state, affine, (found.lo, found.hi, found, (lo2, hi2)))
    best = completions(net, norm, layer, fixed, state, box[0], box[1])
    assert best <= bound, (best, bound)


def test_the_relaxation_keeps_exact_optima_and_refuses_non_finite_data():
    """relu(x) + relu(-x) - 1 = |x| - 1 over x in [-1, 1] has exact range [-1, 0]: the proven interval contains it
    (margins push outward, never inward); with a non-finite row no bound comes out."""
    from lipexact.deep.lp_bounds import next_layer_intervals

    args = (np.array([[1.0], [-1.0]]), np.zeros(2), np.array([-1, -1]), np.array([-1.0, -1.0]), np.array([1.0, 1.0]),
            np.zeros((0, 1)), np.zeros(0), -np.ones(1), np.ones(1), np.array([[1.0, 1.0]]), np.array([-1.0]), [0])
    found = next_layer_intervals(*args)
    assert found.lps == 2 and -1.0 - 1e-6 <= found.lo[0] <= -1.0 and 0.0 <= found.hi[0] <= 1e-6
    broken = list(args)
    broken[3] = np.array([-np.inf, -1.0])
    found = next_layer_intervals(*broken)
    assert (found.lo[0], found.hi[0], found.lps) == (-np.inf, np.inf, 0)


def test_next_layer_hints_skip_only_lps_whose_optimum_still_holds():
    """The same relaxation again with its own optima as hints: every LP is skipped and the bound falls back to
    the box bound (looser, still valid); hints moved off the region, or an a-value that contradicts a unit fixed
    since, are refused and the LPs solved again, with the same intervals as without hints."""
    from lipexact.deep.lp_bounds import next_layer_intervals

    rng = np.random.default_rng(4)
    linear, offset = rng.standard_normal((5, 3)), 0.3 * rng.standard_normal(5)
    A, c = rng.standard_normal((2, 3)), np.array([0.5, 0.5])
    low, high = -np.ones(3), np.ones(3)
    W, b = rng.standard_normal((4, 5)), rng.standard_normal(4)
    found = region_intervals(linear, offset, A, c, low, high)
    state = np.full(5, -1, dtype=np.int8)
    first = next_layer_intervals(linear, offset, state, found.lo, found.hi, A, c, low, high, W, b, range(4))
    assert first.lps == 8 and len(first.points) == 8
    again = next_layer_intervals(linear, offset, state, found.lo, found.hi, A, c, low, high, W, b, range(4),
                                 hints=first.points)
    assert again.lps == 0 and np.all(again.hi >= first.hi - 1e-12) and np.all(again.lo <= first.lo + 1e-12)
    far = {key: (x + 10.0, a) for key, (x, a) in first.points.items()}  # outside the box
    assert next_layer_intervals(linear, offset, state, found.lo, found.hi, A, c, low, high, W, b, range(4),
                                hints=far).lps == 8
    fixed = state.copy()
    fixed[0] = 0  # unit 0 now off: a hint whose a_0 is positive no longer fits
    wrong = {key: (x, np.where(np.arange(5) == 0, 1.0, a)) for key, (x, a) in first.points.items()}
    plain = next_layer_intervals(linear, offset, fixed, found.lo, found.hi, A, c, low, high, W, b, range(4))
    hinted = next_layer_intervals(linear, offset, fixed, found.lo, found.hi, A, c, low, high, W, b, range(4),
                                  hints=wrong)
    assert hinted.lps == plain.lps == 8
    np.testing.assert_allclose(hinted.hi, plain.hi)
    np.testing.assert_allclose(hinted.lo, plain.lo)


def small_box_runs(norm, switch):
    """An 8-16-16-2 net on ``[0, 0.3]^8``, branch and bound with the search attribute ``switch`` off and on."""
    from benchmarks.deep import small_box_network

    net = small_box_network([8, 16, 16, 2], 0)
    box = as_box((np.zeros(8), np.full(8, 0.3)), 8)
    runs = {}
    for value in (False, True):
        search = DeepSearch(net, norm, box, Clock(), bnb=True)
        setattr(search, switch, value)
        runs[value] = search.run()
    return runs


def test_next_layer_lps_keep_the_value_and_save_nodes_on_a_small_box():
    runs = small_box_runs("inf", "next_lp")
    assert runs[True].status is runs[False].status is Status.OPTIMAL
    assert runs[True].value == pytest.approx(runs[False].value, rel=1e-12)
    assert runs[True].stats.get("next_lps", 0) > 0 and "next_lps" not in runs[False].stats
    assert runs[True].stats["nodes"] < runs[False].stats["nodes"]


@settings(max_examples=40, deadline=None)
@given(deep_nets(max_hidden=7), st.data())
def test_solving_one_side_first_keeps_every_sign_the_two_sides_prove(net, data):
    """With ``first``, a side that alone proves a sign spares the other LP; every unit both sides show stable is
    still shown stable (with the same sign), every interval stays valid (it contains the next layer's values at
    sampled points of the region), and no more LPs are solved. (The two runs' shared ends may differ in the LP
    solver's last digits: the warm starts differ; both are proven.)"""
    from lipexact.deep.lp_bounds import next_layer_intervals

    box, layer, fixed, state, affine, exact, found, lo2, hi2 = next_layer_case(net, data)
    width = net.hidden_sizes[layer + 1]
    first = np.array(data.draw(st.lists(st.sampled_from((1, -1)), min_size=width, max_size=width)))
    args = (affine.float_linear(), float_offset(affine), state, found.lo, found.hi, exact.A, exact.c, box[0], box[1],
            net.weights[layer + 1], net.biases[layer + 1], range(width))
    both, one = next_layer_intervals(*args), next_layer_intervals(*args, first=first)
    assert one.lps <= both.lps
    assert np.array_equal(one.hi < 0, both.hi < 0) and np.array_equal(one.lo > 0, both.lo > 0)
    z = net.preactivations(region_samples(net, box, exact, layer, fixed, state, 2000))[layer + 1]
    scale = 1e-9 * (1 + np.abs(z))
    assert np.all(z >= one.lo - scale) and np.all(z <= one.hi + scale)


def node_around_point(net, data):
    """A node below the last ReLU layer on a box, built around a drawn point ``x`` of the box: the upstream
    patterns and the fixed units of its layer are ``x``'s own, so ``x`` lies in the node's closed region. Returns
    ``(box, layer, state, affine, rows, x)``."""
    box = data.draw(boxes(net.n_inputs))
    fractions = np.array(data.draw(st.lists(st.integers(1, 15), min_size=net.n_inputs, max_size=net.n_inputs)))
    x = box[0] + fractions / 16 * (box[1] - box[0])
    sizes = net.hidden_sizes
    layer = data.draw(st.integers(0, len(sizes) - 2))
    values = [z[0] for z in net.preactivations(x[None])]
    fixed = [values[j] > 0 for j in range(layer)]
    free = np.array(data.draw(st.lists(st.booleans(), min_size=sizes[layer], max_size=sizes[layer])))
    state = np.where(free, -1, values[layer] > 0).astype(np.int8)
    affine = ExactNetwork(net).maps(fixed + [np.zeros(sizes[layer], dtype=bool)])[layer]
    return box, layer, state, affine, node_rows(net, fixed, state, affine), x


@settings(max_examples=40, deadline=None)
@given(deep_nets(max_hidden=7), st.data())
def test_one_side_per_unit_from_a_region_point_keeps_every_sign(net, data):
    """``first`` from :func:`sides_at` at a point of the region: the side not solved could not prove a sign (the
    unit has the other sign at that point). So one LP per unit at most (``other_side=False`` for the next layer),
    the same units shown stable with the same signs as with both sides, and every interval still valid (the
    skipped ends keep their box bounds): it contains the values at the point and at sampled points of the
    region."""
    from lipexact.deep.exact import exact_rows
    from lipexact.deep.lp_bounds import next_layer_intervals, sides_at

    box, layer, state, affine, rows, x = node_around_point(net, data)
    exact = exact_rows(rows, net.n_inputs)
    linear, offset = affine.float_linear(), float_offset(affine)
    points = box[0] + (box[1] - box[0]) * np.random.default_rng(0).random((2000, net.n_inputs))
    inside = np.all(points @ exact.A.T + exact.c > 0, axis=1) if exact.A.size else np.ones(len(points), bool)
    points = np.vstack([x[None], points[inside]])
    values = net.preactivations(points)

    def contains(lo, hi, z):
        scale = 1e-9 * (1 + np.abs(z))
        return bool(np.all(z >= lo - scale) and np.all(z <= hi + scale))

    both = region_intervals(linear, offset, exact.A, exact.c, box[0], box[1])
    one = region_intervals(linear, offset, exact.A, exact.c, box[0], box[1], first=sides_at(linear @ x + offset))
    assert one.lps <= both.lps
    assert np.array_equal(one.hi < 0, both.hi < 0) and np.array_equal(one.lo > 0, both.lo > 0)
    assert contains(one.lo, one.hi, values[layer])
    only = region_intervals(linear, offset, exact.A, exact.c, box[0], box[1], first=sides_at(linear @ x + offset),
                            other_side=False)
    assert only.lps <= min(one.lps, linear.shape[0])
    assert np.array_equal(only.hi < 0, both.hi < 0) and np.array_equal(only.lo > 0, both.lo > 0)
    assert contains(only.lo, only.hi, values[layer])
    W, b = net.weights[layer + 1], net.biases[layer + 1]
    args = (linear, offset, state, both.lo, both.hi, exact.A, exact.c, box[0], box[1], W, b, range(W.shape[0]))
    full = next_layer_intervals(*args)
    single = next_layer_intervals(*args, first=sides_at(W @ np.maximum(linear @ x + offset, 0.0) + b),
                                  other_side=False)
    assert single.lps <= W.shape[0] and single.lps <= full.lps
    assert np.array_equal(single.hi < 0, full.hi < 0) and np.array_equal(single.lo > 0, full.lo > 0)
    assert contains(single.lo, single.hi, values[layer + 1])
    witnessed = next_layer_intervals(*args, first=sides_at(W @ np.maximum(linear @ x + offset, 0.0) + b),
                                     other_side=False, witnesses=points[:50])
    assert witnessed.lps + witnessed.skipped <= W.shape[0] and witnessed.lps <= single.lps
    assert np.array_equal(witnessed.hi < 0, full.hi < 0) and np.array_equal(witnessed.lo > 0, full.lo > 0)
    assert contains(witnessed.lo, witnessed.hi, values[layer + 1])


def test_the_wrong_side_first_proves_nothing_without_the_other():
    """``other_side=False`` with the side that cannot prove a sign: the unit stays unknown (the caller loses a sign,
    never validity); with both sides, or the right side first, it is shown stable."""
    from lipexact.deep.lp_bounds import next_layer_intervals

    # z = x on the region x <= -1/2 of the box [-1, 1], z's interval given as [-1, 1]: the chord gives
    # relu(x) <= (x + 1) / 2 <= 1/4 there, so relu(x) - 1/2 < 0; the box bound alone (relu <= 1) does not show it
    args = (np.array([[1.0]]), np.zeros(1), np.array([-1]), np.array([-1.0]), np.array([1.0]), np.array([[-1.0]]),
            np.array([-0.5]), -np.ones(1), np.ones(1), np.array([[1.0]]), np.array([-0.5]), [0])
    assert next_layer_intervals(*args).hi[0] < 0
    right = next_layer_intervals(*args, first=np.array([1]), other_side=False)
    assert right.lps == 1 and right.hi[0] < 0
    wrong = next_layer_intervals(*args, first=np.array([-1]), other_side=False)
    assert wrong.lps == 1 and not wrong.hi[0] < 0 and wrong.lo[0] <= -0.5


def test_a_witness_outside_the_region_costs_a_sign_never_validity():
    """``witnesses`` only choose which LPs to solve: a point of the region where the next-layer unit has the sign
    the LP would exclude spares that LP; a point wrongly given (outside the region) spares an LP that would have
    proved the sign, which is then lost, but the interval still holds every value of the region."""
    from lipexact.deep.lp_bounds import next_layer_intervals

    # as above: relu(x) - 1/2 < 0 on the region x <= -1/2 of [-1, 1], shown by the LP of its maximum
    args = (np.array([[1.0]]), np.zeros(1), np.array([-1]), np.array([-1.0]), np.array([1.0]), np.array([[-1.0]]),
            np.array([-0.5]), -np.ones(1), np.ones(1), np.array([[1.0]]), np.array([-0.5]), [0])
    inside = next_layer_intervals(*args, first=np.array([1]), other_side=False, witnesses=np.array([[-0.75]]))
    assert inside.lps == 1 and inside.skipped == 0 and inside.hi[0] < 0
    outside = next_layer_intervals(*args, first=np.array([1]), other_side=False, witnesses=np.array([[0.9]]))
    assert outside.lps == 0 and outside.skipped == 1 and not outside.hi[0] < 0
    values = np.maximum(np.linspace(-1.0, -0.5, 11), 0.0) - 0.5
    assert np.all(outside.lo[0] <= values) and np.all(values <= outside.hi[0])
    both_sides = next_layer_intervals(*args, witnesses=np.array([[0.9]]))  # both sides asked: no LP is spared
    assert both_sides.skipped == 0 and both_sides.hi[0] < 0


def test_witnessed_lps_keep_the_value_and_the_nodes_with_fewer_lps_on_a_small_box():
    runs = small_box_runs("2", "lp_witnesses")
    assert runs[True].status is runs[False].status is Status.OPTIMAL
    assert runs[True].value == pytest.approx(runs[False].value, rel=1e-12)
    assert runs[True].stats["next_lps_witnessed"] > 0 == runs[False].stats["next_lps_witnessed"]
    assert runs[True].stats["next_lps"] < runs[False].stats["next_lps"]
    assert runs[True].stats["nodes"] <= runs[False].stats["nodes"]


def test_one_side_per_unit_keeps_the_value_with_fewer_lps_on_a_small_box():
    runs = small_box_runs("2", "point_sides")
    assert runs[True].status is runs[False].status is Status.OPTIMAL
    assert runs[True].value == pytest.approx(runs[False].value, rel=1e-12)
    lps = {key: run.stats["region_lps"] + run.stats.get("next_lps", 0) for key, run in runs.items()}
    assert lps[True] < lps[False]


def test_region_lps_solve_the_other_side_when_the_first_proves_nothing():
    """z = x over the region x >= 1/2 of the box [0, 1]: its minimum 1/2 proves it positive. With the minimum first
    the maximum is not solved (it keeps the box bound); with the maximum first (which cannot prove a sign) the
    minimum is still solved and proves it."""
    args = (np.array([[1.0]]), np.zeros(1), np.array([[1.0]]), np.array([-0.5]), np.zeros(1), np.ones(1))
    right = region_intervals(*args, first=np.array([-1]))
    wrong = region_intervals(*args, first=np.array([1]))
    assert right.lps == 1 and right.lo[0] > 0 and right.hi[0] >= 1.0 and right.duals_high[0] is None
    assert wrong.lps == 1 and wrong.lo[0] > 0
    only = region_intervals(*args, first=np.array([1]), other_side=False)  # the maximum alone: no sign, box bound
    assert only.lps == 0 and not only.lo[0] > 0 and only.hi[0] >= 1.0


def test_the_global_sign_certificate_projects_the_duals_exactly_and_refuses_false_claims():
    rows = [([1, -1], 0, 1), ([0, 1], 0, 1)]  # x1 > x2 > 0, no box: float duals never cancel x exactly
    assert certify_sign(rows, ([1, 0], 0, 1), np.array([0.9999999, 1.0000001]), None, None, 2)  # x1 > 0
    assert certify_sign(rows, ([1, 0], 1, 1), np.array([1.0, 1.0]), None, None, 2)              # x1 + 1 > 0
    assert not certify_sign(rows, ([1, 0], -1, 1), np.array([1.0, 1.0]), None, None, 2)         # x1 > 1: false
    assert not certify_sign(rows, ([1, -2], 0, 1), np.array([1.0, 1.0]), None, None, 2)         # x1 > 2 x2: false
    assert not certify_sign(rows, ([1, 0], 0, 1), np.array([1.0, 0.0]), None, None, 2)          # row 2 missing
    assert not certify_sign(rows, ([1, 0], 0, 1), np.array([np.nan, 1.0]), None, None, 2)
    assert not certify_sign(rows, ([1, 0], 0, 1), np.array([-1.0, 1.0]), None, None, 2)
    # true only up to rounding: x1 > 2^-60 fails at x = (2^-61, 2^-62)
    assert not certify_sign(rows, ([1 << 60, 0], -1, 1 << 60), np.array([1.0, 1.0]), None, None, 2)


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 4).flatmap(lambda k: st.tuples(
    hnp.arrays(np.int64, (k, 2), elements=small), hnp.arrays(np.int64, (k,), elements=small),
    hnp.arrays(np.int64, (2,), elements=small), st.integers(-4, 4))))
def test_a_global_sign_certificate_holds_only_where_the_exact_decision_finds_no_point_of_the_other_sign(case):
    """Random polygons without a box: the float LP's duals (any) are certified only when the region with the
    unit's other sign is empty, as the exact region decision says."""
    from scipy.optimize import linprog

    from lipexact.deep.exact import exact_rows
    from reductions.realizability import decide_region

    A, c, m, e = case
    rows = [([int(v) for v in a], int(b), 1) for a, b in zip(A, c)]
    unit = ([int(v) for v in m], int(e), 1)
    found = linprog(m.astype(float), A_ub=-A.astype(float), b_ub=c.astype(float), bounds=[(None, None)] * 2,
                    method="highs")
    duals = -np.asarray(found.ineqlin.marginals) if found.status == 0 else np.ones(len(rows))
    if certify_sign(rows, unit, duals, None, None, 2):
        other = exact_rows(rows + [([-v for v in unit[0]], -unit[1], 1)], 2)
        assert decide_region(other.A, other.c, exact=other).empty


@settings(max_examples=10, deadline=None)
@given(deep_nets(max_hidden=7, depths=(3, 4)), st.sampled_from(("2", "inf")))
def test_global_region_lps_at_every_node_keep_the_brute_force_value(net, norm):
    """Globally, units of one sign over a node's region are fixed by LP and exact certificate (from the first node
    on here): the value is still the brute force's."""
    import lipexact.deep.enumerate as module

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(module, "SDP_AFTER_NODES", 0)
        search = DeepSearch(net, norm, None, Clock(), bnb=True)
        search.global_lp_layer = 0
        result = search.run()
    assert result.status is Status.OPTIMAL
    assert result.value == pytest.approx(brute_force(net, norm), rel=1e-9, abs=1e-12)


def _global_runs(switch: str, patch=None) -> dict:
    """Global l2 searches of a random 6-10-10-1 net with the costly bounds from the first node, the search's
    attribute ``switch`` True and False: ``{True: outcome, False: outcome}``."""
    import lipexact.deep.enumerate as module
    from benchmarks.deep import random_network

    net = random_network([6, 10, 10, 1], 2)
    runs = {}
    with pytest.MonkeyPatch.context() as own:
        (patch or own).setattr(module, "SDP_AFTER_NODES", 0)
        for use in (True, False):
            search = DeepSearch(net, "2", None, Clock(), bnb=True)
            setattr(search, switch, use)
            runs[use] = search.run()
    return runs


def test_global_region_lps_fix_units_keep_the_value_and_save_nodes():
    runs = _global_runs("global_lp")
    assert runs[True].status is runs[False].status is Status.OPTIMAL
    assert runs[True].value == pytest.approx(runs[False].value, rel=1e-12)
    assert runs[True].stats["stable_by_lp"] > 0 and "stable_by_lp" not in runs[False].stats
    assert runs[True].stats["nodes"] < runs[False].stats["nodes"]


def test_an_unbounded_region_lp_reports_a_recession_direction_along_which_the_cost_grows():
    """The region x1 >= x2 (no box): max x1 + x2 is unbounded and the ray is a recession direction (A d >= 0) with
    a positive cost; a bounded LP leaves no ray, and a later solve clears an earlier one."""
    from lipexact.deep.lp_bounds import RegionLP

    A, c = np.array([[1.0, -1.0], [-1.0, 0.0]]), np.array([0.0, 1.0])  # x1 >= x2, x1 <= 1
    lp = RegionLP(A, c, np.full(2, -np.inf), np.full(2, np.inf))
    lp.dual_for_max(np.array([-1.0, -1.0]))  # min x1 + x2: x2 -> -inf
    assert lp.point is None and lp.ray is not None
    assert np.all(A @ lp.ray >= -1e-12) and float(np.array([-1.0, -1.0]) @ lp.ray) > 0
    lp.dual_for_max(np.array([1.0, 0.0]))  # max x1 = 1
    assert lp.ray is None and lp.point is not None and lp.point[0] == pytest.approx(1.0)


def test_region_lp_witnesses_skip_only_lps_that_cannot_fix_a_unit():
    """Globally, an LP whose maximum a point of the region or a recession direction already shows to be >= 0 is not
    solved (a point found by an earlier LP, a ray of an unbounded one): the same units are fixed, the same tree,
    fewer LPs. Directions that are not recession directions of the region are ignored; witnesses that claim both
    signs for every unit cost every fix, never the value."""
    from benchmarks.deep import random_network
    from lipexact.deep.lp_bounds import RegionLP

    net = random_network([6, 10, 10, 1], 2)
    with pytest.MonkeyPatch.context() as patch:
        runs = _global_runs("lp_witnesses", patch)
        solve, rng = RegionLP.dual_for_max, np.random.default_rng(0)

        def bogus_rays(self, cost):  # every optimal solve also claims a random "recession direction"
            duals = solve(self, cost)
            if self.point is not None:
                self.ray = rng.standard_normal(self.n)
            return duals

        patch.setattr(RegionLP, "dual_for_max", bogus_rays)
        filtered = DeepSearch(net, "2", None, Clock(), bnb=True).run()
        patch.setattr(RegionLP, "dual_for_max", solve)
        patch.setattr(DeepSearch, "shows_both_signs", staticmethod(lambda *args: True))
        blind = DeepSearch(net, "2", None, Clock(), bnb=True).run()
    assert filtered.stats["stable_by_lp"] == runs[True].stats["stable_by_lp"]  # not recession directions: ignored
    assert runs[True].status is runs[False].status is blind.status is Status.OPTIMAL
    assert runs[True].value == pytest.approx(runs[False].value, rel=1e-12)
    assert blind.value == pytest.approx(runs[False].value, rel=1e-12)
    assert runs[True].stats["stable_by_lp"] == runs[False].stats["stable_by_lp"] > 0
    assert runs[True].stats["nodes"] == runs[False].stats["nodes"]
    assert runs[True].stats["region_lps"] < runs[False].stats["region_lps"]
    assert runs[True].stats["region_lps_witnessed"] > 0 and "region_lps_witnessed" not in runs[False].stats
    assert "stable_by_lp" not in blind.stats and "region_lps" not in blind.stats


def test_children_inherit_the_sign_lp_witnesses_that_still_hold():
    """A node's children start from the points and rays its sign LPs found, those that satisfy the child's rows:
    fewer LPs than with each node's own witnesses alone, the same fixes and tree. The filter drops a point outside
    the region and a direction that leaves it."""
    from types import SimpleNamespace

    from lipexact.deep.network import ReLUNetwork

    A, c = np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([0.0, -1.0])  # x1 >= 0, x2 >= 1
    inside, outside = np.array([0.5, 2.0]), np.array([0.5, 0.5])
    along, leaving = np.array([1.0, 1.0]), np.array([-1.0, 0.0])
    search = DeepSearch(ReLUNetwork([(np.eye(2), None), (np.ones((1, 2)), None)]), "2", None, Clock(), bnb=True)
    node = SimpleNamespace(witnesses=([inside, outside], [along, leaving]))
    points, rays = search.inherited_witnesses(node, A, c)
    assert [p.tolist() for p in points] == [inside.tolist()] and [d.tolist() for d in rays] == [along.tolist()]
    assert search.inherited_witnesses(SimpleNamespace(witnesses=None), A, c) == ([], [])

    inherited = _global_runs("lp_witnesses")[True]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DeepSearch, "inherited_witnesses", lambda self, node, A, c: ([], []))
        own = _global_runs("lp_witnesses")[True]
    assert inherited.value == pytest.approx(own.value, rel=1e-12)
    assert inherited.stats["stable_by_lp"] == own.stats["stable_by_lp"] and inherited.stats["nodes"] == own.stats["nodes"]
    assert inherited.stats["region_lps"] < own.stats["region_lps"]


def test_an_open_node_keeps_a_bounded_number_of_witness_floats(monkeypatch):
    """A node passes at most WITNESSES_KEPT points and rays each to its children, and at most WITNESS_FLOATS floats
    in all (wide inputs keep fewer; 6 inputs here), never fewer than one of each."""
    import lipexact.deep.enumerate as module
    from benchmarks.deep import random_network

    monkeypatch.setattr(module, "SDP_AFTER_NODES", 0)
    original = DeepSearch.inherited_witnesses
    for floats, kept in ((2048, 16), (24, 2), (1, 1)):
        monkeypatch.setattr(module, "WITNESS_FLOATS", floats)
        passed = []

        def recording(self, node, A, c):
            if node.witnesses is not None:
                passed.append(max(len(part) for part in node.witnesses))
            return original(self, node, A, c)

        monkeypatch.setattr(DeepSearch, "inherited_witnesses", recording)
        DeepSearch(random_network([6, 10, 10, 1], 2), "2", None, Clock(), bnb=True).run()
        assert passed and max(passed) <= kept
        assert kept > 2 or max(passed) == kept


def test_the_witness_rule_of_the_global_sign_lps():
    """shows_both_signs: a point where the function is >= 0, or a direction along which it grows, shows that its
    maximum is not negative; points below 0 and directions along which it falls or stays show nothing."""
    cost, constant = np.array([1.0, -2.0]), -1.0
    assert DeepSearch.shows_both_signs(cost, constant, [np.array([1.0, 0.0])], [])  # 1 - 1 = 0
    assert DeepSearch.shows_both_signs(cost, constant, [], [np.array([0.0, -1.0])])  # grows by 2
    assert not DeepSearch.shows_both_signs(cost, constant, [np.array([0.5, 0.0])], [np.array([2.0, 1.0])])
    assert not DeepSearch.shows_both_signs(cost, constant, [], [])


def test_global_region_lps_are_scale_free():
    """Weights scaled by 2^-20 per layer (biases by its powers, so every region stays): the LPs fix the same units
    and the search takes the same nodes (HiGHS's absolute tolerances would otherwise see rows of size 2^-40)."""
    import lipexact.deep.enumerate as module
    from benchmarks.deep import random_network
    from lipexact.deep.network import ReLUNetwork

    net = random_network([6, 10, 10, 1], 2)
    scale = 2.0 ** -20
    small_net = ReLUNetwork([(scale * W, scale ** (layer + 1) * b)
                             for layer, (W, b) in enumerate(zip(net.weights, net.biases))])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(module, "SDP_AFTER_NODES", 0)
        plain, scaled = (DeepSearch(candidate, "inf", None, Clock(), bnb=True).run() for candidate in (net, small_net))
    assert plain.status is scaled.status is Status.OPTIMAL
    assert scaled.value == pytest.approx(plain.value * scale ** 3, rel=1e-12)
    assert scaled.stats["stable_by_lp"] == plain.stats["stable_by_lp"] > 0
    assert scaled.stats["nodes"] == plain.stats["nodes"]


def test_region_lp_duals_do_not_depend_on_the_scale_of_rows_and_costs():
    """HiGHS's tolerances are absolute: rows and costs of size 2^-40 would read as zero. The model scales them and
    scales the duals back, so they equal the unscaled problem's (times the ratio of the scales)."""
    from lipexact.deep.lp_bounds import RegionLP

    A, c = np.array([[1.0, 1.0], [1.0, -2.0]]), np.array([-1.5, 0.25])
    cost = np.array([-1.0, -0.5])
    low, high = np.zeros(2), np.ones(2)
    plain = RegionLP(A, c, low, high).dual_for_max(cost)
    tiny = 2.0 ** -40
    scaled = RegionLP(A * tiny, c * tiny, low, high).dual_for_max(cost * tiny)
    assert plain.max() > 0 and np.allclose(scaled, plain, rtol=1e-9, atol=0)
    huge = RegionLP(A, c, low, high).dual_for_max(cost * 2.0 ** 60)
    assert np.allclose(huge, plain * 2.0 ** 60, rtol=1e-9, atol=0)


def test_region_lp_duals_do_not_depend_on_the_scale_of_the_variables():
    """The same LP with its variables rescaled (``x_j = d_j x'_j``, ``d = (2^-30, 2^30)``): the same duals, the
    optimum scaled back. Unscaled, the row ``(2^-30, 2^30)`` would read as ``(0, 1)`` to HiGHS."""
    from lipexact.deep.lp_bounds import RegionLP

    A, c = np.array([[1.0, 1.0], [1.0, -2.0]]), np.array([-1.5, 0.25])
    cost = np.array([-1.0, -0.5])
    plain_lp = RegionLP(A, c, np.zeros(2), np.ones(2))
    plain = plain_lp.dual_for_max(cost)
    d = np.array([2.0 ** -30, 2.0 ** 30])
    scaled_lp = RegionLP(A * d, c, np.zeros(2), 1.0 / d)
    scaled = scaled_lp.dual_for_max(cost * d)
    assert plain.max() > 0 and np.allclose(scaled, plain, rtol=1e-9, atol=0)
    assert np.allclose(scaled_lp.point * d, plain_lp.point, rtol=1e-9, atol=1e-12)
    bound = proven_upper((cost * d)[None], np.zeros(1), A * d, c, scaled[None], np.zeros(2), 1.0 / d)[0]
    assert bound == pytest.approx(float(cost @ plain_lp.point), rel=1e-8)


def test_a_small_box_search_is_scale_free():
    """A 10-30-30-30-3 net on [0, 0.1]^10 with its weights scaled by 2^-20 and 2^16 per layer (biases by the powers,
    so every region stays): optimal, the value scaled exactly, the same nodes and LPs (powers of two: the scaled LP
    models are the same bit for bit); at 2^16 the LPs had failed before (HiGHS reported "optimal" with no dual
    values), and the next-layer LPs' activation variables, unscaled, took 75 and 86 nodes against 68."""
    from benchmarks.deep import small_box_network
    from lipexact.deep.network import ReLUNetwork

    net = small_box_network([10, 30, 30, 30, 3], 0)
    box = as_box((np.zeros(10), np.full(10, 0.1)), 10)
    values, counts = {}, {}
    for exponent in (0, -20, 16):
        scale = 2.0 ** exponent
        scaled = ReLUNetwork([(scale * W, scale ** (layer + 1) * b)
                              for layer, (W, b) in enumerate(zip(net.weights, net.biases))])
        outcome = DeepSearch(scaled, "inf", box, Clock(), bnb=True).run()
        assert outcome.status is Status.OPTIMAL, exponent
        values[exponent] = outcome.value / scale ** 4
        counts[exponent] = [outcome.stats[key] for key in ("nodes", "region_lps", "next_lps", "stable_by_lp")]
    assert values[-20] == pytest.approx(values[0], rel=1e-12) and values[16] == pytest.approx(values[0], rel=1e-12)
    assert counts[-20] == counts[0] == counts[16]


def test_an_optimal_status_without_dual_values_gives_the_box_bound():
    """HiGHS once answered "optimal" with empty dual and primal vectors (rows of size 2^64 before the model scaled
    them): the LP then proposes nothing (zero duals, no point) instead of failing."""
    from types import SimpleNamespace

    from lipexact.deep.lp_bounds import RegionLP

    lp = RegionLP(np.array([[1.0, 1.0]]), np.array([-1.5]), np.zeros(2), np.ones(2))

    class Empty:
        def __init__(self, model):
            self.model = model

        def __getattr__(self, name):
            return getattr(self.model, name)

        def getSolution(self):
            return SimpleNamespace(row_dual=[], col_value=[])

    lp.model = Empty(lp.model)
    y = lp.dual_for_max(np.array([-1.0, 0.0]))
    assert y.tolist() == [0.0] and lp.point is None


def test_a_refused_cost_leaves_no_optimum_of_an_earlier_solve():
    """A non-finite cost is not solved: zero duals and no point, not the previous solve's optimum (a hint for the
    children's LPs that would belong to another objective)."""
    from lipexact.deep.lp_bounds import RegionLP

    lp = RegionLP(np.array([[1.0, 1.0]]), np.array([-1.5]), np.zeros(2), np.ones(2))
    assert lp.dual_for_max(np.array([-1.0, 0.0])).tolist() == [1.0] and lp.point is not None
    for cost in ([np.nan, 0.0], [np.inf, 1.0]):
        assert lp.dual_for_max(np.array(cost)).tolist() == [0.0] and lp.point is None
