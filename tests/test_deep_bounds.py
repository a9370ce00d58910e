"""The deep node bounds (lipexact.deep.bounds): the sign-vector and last-layer bounds are sound, never looser
than the entrywise interval bound (up to the rounding slack), exact at the last layer, and strictly tighter
where signs cancel."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lipexact.deep.bounds import (LAST_LAYER_FREE, PRODUCT_SLACK, VERTEX_FREE, DeepBounds, _completions, _sign_vectors,
                                  float_offset)
from lipexact.deep.exact import ExactNetwork
from lipexact.deep.network import ReLUNetwork
from lipexact.norms import jacobian_norms
from tests.test_deep_bnb import completions, draw_node, ones_net, random_net
from tests.test_deep_strategies import deep_nets

NORMS = ("2", "1", "inf")


def test_sign_vectors_and_completions_enumerate_each_vector_once():
    U = _sign_vectors(3)
    assert U.shape == (3, 4) and np.all(U[0] == 1)
    assert len({tuple(c) for c in U.T} | {tuple(-c) for c in U.T}) == 8
    C = _completions(3)
    assert C.shape == (8, 3) and len({tuple(r) for r in C}) == 8


@settings(max_examples=40)
@given(deep_nets(max_hidden=7), st.sampled_from(NORMS), st.booleans(), st.data())
def test_signed_bound_is_sound_and_never_looser_than_the_interval_bound(net, norm, use_box, data):
    box, layer, fixed, state, affine = draw_node(net, use_box, data)
    lower, upper = (None, None) if box is None else box
    signed = DeepBounds(net, norm, box, "signed").bound(layer, state, affine)
    interval = DeepBounds(net, norm, box, "interval").bound(layer, state, affine)
    best = completions(net, norm, layer, fixed, state, lower, upper)
    assert best <= signed, (best, signed)
    assert signed <= interval * (1 + 1e-9) + 1e-300


@settings(max_examples=30)
@given(deep_nets(max_hidden=8), st.sampled_from(NORMS), st.data())
def test_last_layer_bound_is_the_maximum_over_every_completion(net, norm, data):
    """Globally, at the last ReLU layer with at most LAST_LAYER_FREE free units, the bound is the largest norm
    over every completion (realizable or not): the enumeration is exact up to the rounding slack."""
    sizes = net.hidden_sizes
    layer = len(sizes) - 1
    fixed = [np.array(data.draw(st.lists(st.booleans(), min_size=w, max_size=w))) for w in sizes[:layer]]
    state = np.array(data.draw(st.lists(st.sampled_from((-1, 0, 1)), min_size=sizes[layer], max_size=sizes[layer])),
                     dtype=np.int8)
    assert np.count_nonzero(state < 0) <= LAST_LAYER_FREE
    affine = ExactNetwork(net).maps(fixed + [np.zeros(sizes[layer], dtype=bool)])[layer]
    bound = DeepBounds(net, norm).bound(layer, state, affine)
    best = completions(net, norm, layer, fixed, state, None, None)
    assert best <= bound <= best * (1 + 1e-8) + 1e-12 * (1 + abs(best))


@settings(max_examples=40)
@given(deep_nets(max_hidden=10, max_outputs=3), st.sampled_from(NORMS), st.data())
def test_vertex_bound_is_the_maximum_over_every_completion_at_any_layer(net, norm, data):
    """Globally, with at most VERTEX_FREE free units in all (any layer, the later layers all free), the node
    bound is the largest norm over every completion, realizable or not: J is multilinear in the free units."""
    sizes = net.hidden_sizes
    layer = data.draw(st.integers(0, len(sizes) - 1))
    fixed = [np.array(data.draw(st.lists(st.booleans(), min_size=w, max_size=w))) for w in sizes[:layer]]
    state = np.array(data.draw(st.lists(st.sampled_from((-1, 0, 1)), min_size=sizes[layer], max_size=sizes[layer])),
                     dtype=np.int8)
    assert np.count_nonzero(state < 0) + sum(sizes[layer + 1:]) <= VERTEX_FREE
    affine = ExactNetwork(net).maps(fixed + [np.zeros(sizes[layer], dtype=bool)])[layer]
    bounds = DeepBounds(net, norm)
    linear = affine.float_linear()
    exact = bounds.vertices(layer, bounds.stability(layer, state, linear, None), linear)
    best = completions(net, norm, layer, fixed, state, None, None)
    reach = np.abs(linear) * (state != 0)[:, None]  # the absolute product whose norm scales the rounding slack
    for W in net.weights[layer + 1:]:
        reach = np.abs(np.asarray(W, dtype=np.float64)) @ reach
    slack = 2 * PRODUCT_SLACK * float(jacobian_norms(reach, norm))
    assert exact is not None and best <= exact <= best * (1 + 1e-9) + slack
    assert bounds.bound(layer, state, affine) == pytest.approx(exact, rel=1e-9, abs=1e-300)
    import lipexact.deep.bounds as module

    chunk, module._SPECTRAL_CHUNK = module._SPECTRAL_CHUNK, 1  # the Frobenius-ordered stop, one norm at a time
    try:
        assert bounds.vertices(layer, bounds.stability(layer, state, linear, None), linear) == exact
    finally:
        module._SPECTRAL_CHUNK = chunk


def test_vertex_bound_steps_aside_beyond_its_budget_and_is_far_tighter_than_riesz_thorin():
    rng = np.random.default_rng(4)
    net = ReLUNetwork([(rng.standard_normal((6, 4)), None), (rng.standard_normal((5, 6)), None),
                       (rng.standard_normal((3, 5)), None)])
    first = ExactNetwork(net).first()
    bounds = DeepBounds(net, "2")
    linear = first.float_linear()
    free = bounds.stability(0, np.full(6, -1, dtype=np.int8), linear, None)  # 11 free units in all
    import lipexact.deep.bounds as module

    budget, module.VERTEX_FREE = module.VERTEX_FREE, 10
    try:
        assert bounds.vertices(0, free, linear) is None
        other = bounds.bound(0, np.full(6, -1, dtype=np.int8), first)
    finally:
        module.VERTEX_FREE = budget
    entries, module.VERTEX_ENTRIES = module.VERTEX_ENTRIES, (1 << 11) * 3 * 6 - 1  # 2^11 stacks of 3 x 6
    try:
        assert bounds.vertices(0, free, linear) is None
        assert bounds.bound(0, np.full(6, -1, dtype=np.int8), first) == other
        module.VERTEX_ENTRIES += 1
        assert bounds.vertices(0, free, linear) is not None
    finally:
        module.VERTEX_ENTRIES = entries
    exact = bounds.bound(0, np.full(6, -1, dtype=np.int8), first)
    best = completions(net, "2", 0, [], np.full(6, -1, dtype=np.int8))
    assert best <= exact <= best * (1 + 1e-9) and exact < 0.9 * other


def test_vertex_bound_keeps_taking_spectral_norms_past_the_largest_frobenius_norm():
    # on this net the completion of largest Frobenius norm has spectral norm 3.154, the largest is 3.186
    rng = np.random.default_rng(0)
    net = ReLUNetwork([(rng.standard_normal((6, 3)), None), (rng.standard_normal((3, 6)), None)])
    first = ExactNetwork(net).first()
    linear = first.float_linear()
    best = completions(net, "2", 0, [], np.full(6, -1, dtype=np.int8))
    import lipexact.deep.bounds as module

    chunk, module._SPECTRAL_CHUNK = module._SPECTRAL_CHUNK, 1
    try:
        bounds = DeepBounds(net, "2")
        value = bounds.vertices(0, bounds.stability(0, np.full(6, -1, dtype=np.int8), linear, None), linear)
    finally:
        module._SPECTRAL_CHUNK = chunk
    assert best == pytest.approx(3.185530556552948, rel=1e-12) and best <= value <= best * (1 + 1e-9)


def test_signed_bound_is_strictly_tighter_where_signs_cancel():
    # y = relu(x1 + x2) - relu(x1 - x2) + ...: the entrywise bound adds magnitudes that no completion reaches
    net = random_net([11, 12, 12, 1], 0)
    first = ExactNetwork(net).first()
    state = np.full(12, -1, dtype=np.int8)
    for norm in ("inf", "2"):
        signed = DeepBounds(net, norm, None, "signed").bound(0, state, first)
        interval = DeepBounds(net, norm, None, "interval").bound(0, state, first)
        assert signed < 0.8 * interval, (norm, signed, interval)


def test_without_early_signs_the_bound_skips_the_sign_vectors_before_the_last_layer_only():
    """``early_signs=False`` (the deep search's setting once its LipSDP node bounds run): before the last ReLU layer the
    bound is the one without the sign vectors, still above every completion; at the last layer nothing changes."""
    net = random_net([6, 7, 7, 1], 0)
    exact = ExactNetwork(net)
    first = exact.first()
    state = np.full(7, -1, dtype=np.int8)
    full, late = DeepBounds(net, "2"), DeepBounds(net, "2")
    late.early_signs = False
    early = full.bound(0, state, first)
    skipped = late.bound(0, state, first)
    assert completions(net, "2", 0, [], state) <= early < skipped
    last = exact.maps([np.ones(7, dtype=bool), np.zeros(7, dtype=bool)])[1]
    assert full.bound(1, state, last) == late.bound(1, state, last)


def test_several_outputs_use_the_output_sign_vectors():
    net = ReLUNetwork([([[1.0, 0.0], [0.0, 1.0]], None), ([[1.0, 1.0], [1.0, -1.0]], None),
                       ([[1.0, 1.0], [1.0, -1.0]], None)])
    first = ExactNetwork(net).first()
    state = np.array([-1, -1], dtype=np.int8)
    bounds = DeepBounds(net, "1")
    linear = first.float_linear()
    states = bounds.stability(0, state, linear, None)
    columns = bounds.column_sums(0, states, linear)
    entrywise = bounds.entrywise(0, states, linear).sum(axis=0)
    assert columns is not None and np.all(columns <= entrywise * (1 + 1e-9))
    best = completions(net, "1", 0, [], state, None, None)
    assert best <= bounds.bound(0, state, first)


def test_unknown_bound_kind_is_refused():
    with pytest.raises(ValueError, match="jacobian"):
        DeepBounds(random_net([2, 3, 3, 1], 0), "2", None, "exactish")


def test_infinite_weights_products_give_an_infinite_bound_not_a_small_one():
    big = 1e200
    net = ReLUNetwork([([[big, big]], None), ([[big]], None), ([[big]], None)])
    bound = DeepBounds(net, "2").bound(0, np.array([-1], dtype=np.int8), ExactNetwork(net).first())
    assert bound == math.inf  # the true bound 2^0.5 1e600 does not fit in a float: never a finite (wrong) one
    wide = ReLUNetwork([([[big, big], [big, -big]], None), ([[big, big], [-big, big]], None),
                        ([[big, big], [big, -big]], None)])  # two outputs: the spectral-norm path of the vertices
    linear = ExactNetwork(wide).first().float_linear()
    for norm in NORMS:
        state = np.array([-1, -1], dtype=np.int8)
        bounds = DeepBounds(wide, norm)
        assert bounds.bound(0, state, ExactNetwork(wide).first()) == math.inf
        # the enumeration itself says inf (its products met inf - inf and inf * 0: NaN, never passed on)
        assert bounds.vertices(0, bounds.stability(0, state, linear, None), linear) == math.inf


def test_next_layer_intervals_tighten_only_the_next_layer():
    """A fourth region entry bounds the NEXT layer only: here z1 = relu(z0) lies in [1, 2] and z2 = -z1 in
    [-2, -1]; the given [1, 2] makes layer 1 certainly on and must not be applied to layer 2 (certainly off)."""
    net = ReLUNetwork([([[1.0], [1.0]], [1.0, 1.0]), ([[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]),
                       ([[-1.0, 0.0], [0.0, -1.0]], [0.0, 0.0]), ([[1.0, 1.0]], [0.0])])
    bounds = DeepBounds(net, "2", (np.zeros(1), np.ones(1)))
    affine = ExactNetwork(net).first()
    linear, offset = affine.float_linear(), float_offset(affine)
    state = np.array([1, 1], dtype=np.int8)
    region = (np.array([1.0, 1.0]), np.array([2.0, 2.0]), None)
    plain = bounds.stability(0, state, linear, offset, region)
    spans = []
    given = bounds.stability(0, state, linear, offset, region + ((np.array([1.0, 1.0]), np.array([2.0, 2.0])),),
                             spans)
    assert [s.tolist() for s in given] == [[1, 1], [1, 1], [0, 0]] == [s.tolist() for s in plain]
    assert len(spans) == 3 and np.all(spans[2][1] < 0)


@settings(max_examples=40)
@given(deep_nets(max_hidden=7), st.sampled_from(("1", "inf")), st.data())
def test_split_bound_through_the_spectral_norm_is_sound(net, norm, data):
    """With the enumeration of completions switched off the l1 / l_inf bound on a box goes through the layer-norm
    split, which also takes ``sqrt(m)`` (l1) or ``sqrt(n)`` (l_inf) times the spectral chain: never below the best
    completion."""
    import lipexact.deep.bounds as module

    box, layer, fixed, state, affine = draw_node(net, True, data)
    lower, upper = box
    budget, module.VERTEX_FREE = module.VERTEX_FREE, -1
    try:
        bound = DeepBounds(net, norm, box).bound(layer, state, affine)
    finally:
        module.VERTEX_FREE = budget
    assert completions(net, norm, layer, fixed, state, lower, upper) <= bound


@pytest.mark.parametrize("norm", ["1", "inf"])
def test_spectral_factor_is_attained_so_it_cannot_be_smaller(norm):
    """l_inf: ``J = [1, ..., 1]`` (n inputs, one output), ``||J||_inf = n = sqrt(n) ||J||_2``; l1: its transpose
    (one input, m outputs), ``||J||_1 = m = sqrt(m) ||J||_2``. The spectral chain is tight there, so a factor
    below ``sqrt(n)`` (``sqrt(m)``) would cut the truth."""
    k = 9
    net = ones_net(norm, k)
    bounds = DeepBounds(net, norm, (-np.ones(net.n_inputs), np.ones(net.n_inputs)))
    assert bounds.spectral_split and not DeepBounds(net, norm).spectral_split  # globally: the root's LipSDP instead
    linear = ExactNetwork(net).first().float_linear()
    states = [np.full(k, -1, dtype=np.int8), np.full(k, -1, dtype=np.int8)]
    collect: list = []
    bounds.entrywise(0, states, linear, collect)
    spectral = bounds._split(collect, linear, "2", *bounds.spectral)
    assert math.sqrt(k) <= spectral <= math.sqrt(k) * (1 + 1e-7)  # ||J||_2 = sqrt(k): the chain is tight
    assert k <= bounds.split(collect, linear, states[0]) <= k * (1 + 1e-7)


def test_spectral_chain_tightens_wide_l1_and_linf_bounds():
    """A wide deep net on a box: the products of l1 / l_inf layer norms grow with the widths, the spectral ones do
    not."""
    import lipexact.deep.bounds as module

    net = random_net([6, 40, 40, 40, 2], 3)
    first = ExactNetwork(net).first()
    budget, module.VERTEX_FREE = module.VERTEX_FREE, -1
    try:
        for norm in ("1", "inf"):
            bounds = DeepBounds(net, norm, (-np.ones(6), np.ones(6)))
            linear = first.float_linear()
            states = bounds.stability(0, np.full(40, -1, dtype=np.int8), linear, float_offset(first))
            collect: list = []
            bounds.entrywise(0, states, linear, collect)
            alone = bounds._split(collect, linear, norm, bounds.layer_norms, bounds.tails)
            assert bounds.split(collect, linear, states[0]) < 0.5 * alone
    finally:
        module.VERTEX_FREE = budget
