"""LipSDP-neuron node bounds of the deep branch and bound (lipexact.deep.sdp_bounds): never below the best realizable
completion of a node (checked by brute force over patterns, regions decided exactly), the root's equal to LipSDP's,
no number where nothing certifies, and the search with them equal to brute force with fewer nodes."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lipexact.bounds.sdp.lipsdp import certified_solution, lipsdp
from lipexact.deep.bounds import DeepBounds
from lipexact.deep.enumerate import DeepSearch
from lipexact.deep.sdp_bounds import node_sdp_bound
from lipexact.exact.problem import Clock
from lipexact.result import Status
from tests.test_deep_bnb import completions, draw_node
from tests.test_deep_enumerate import brute_force
from tests.test_deep_strategies import deep_nets


def node_bound(net, layer, state, affine):
    return node_sdp_bound([np.asarray(W, dtype=np.float64) for W in net.weights], layer, affine.float_linear(),
                          state, DeepBounds(net, "2").tails[layer + 1])[0]


@settings(max_examples=40, deadline=None)
@given(deep_nets(max_hidden=6), st.data())
def test_node_sdp_bound_is_at_least_every_realizable_completion(net, data):
    """Any node (its upstream patterns and fixed units drawn at random, empty regions included): the certified
    bound is at least the largest ||J||_2 of the patterns that extend it and occur somewhere in R^n."""
    _, layer, fixed, state, affine = draw_node(net, False, data)
    best = completions(net, "2", layer, fixed, state, realizable=True)
    assert best <= node_bound(net, layer, state, affine)


@settings(max_examples=15, deadline=None)
@given(deep_nets(max_hidden=6))
def test_root_bound_is_no_looser_than_lipsdp_and_brackets_the_exact_constant(net):
    from lipexact.deep.exact import ExactNetwork

    affine = ExactNetwork(net).first()
    state = np.full(net.hidden_sizes[0], -1, dtype=np.int8)
    value = node_bound(net, 0, state, affine)
    assert brute_force(net, "2") <= value
    reference = lipsdp(net)
    scale = math.prod(float(np.linalg.norm(np.asarray(W, dtype=np.float64), 2)) for W in net.weights)
    if reference.status is Status.UPPER_BOUND:  # no looser than LipSDP's own (up to the barrier's tolerance)
        assert value <= reference.value * (1 + 1e-3) + 1e-6 * scale


def test_units_fixed_off_are_removed_and_nothing_certified_gives_no_number():
    W1, W2 = np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[1.0, 1.0]])
    both, T = node_sdp_bound([W1, W2], 0, W1, np.array([-1, -1]), 1.5)  # relu(x1) + relu(x2): sqrt(2)
    one, _ = node_sdp_bound([W1, W2], 0, W1, np.array([-1, 0]), 1.5)  # unit 2 off: relu(x1), 1
    assert math.sqrt(2) <= both < math.sqrt(2) * (1 + 1e-6) and 1.0 <= one < 1.0 + 1e-6
    # an enclosing node's multipliers restricted to the units kept (the reduced LMI is a principal submatrix, so
    # they prove at most the enclosing value): with a target above that nothing is solved (t = 2 gives 2 / sqrt(3)
    # here, not the optimum 1); wrong ones (zeros) prove nothing and the SDP is solved
    restricted, _ = node_sdp_bound([W1, W2], 0, W1, np.array([-1, 0]), 1.5, start=[T[0][:1]], target=1.5)
    assert restricted == pytest.approx(2 / math.sqrt(3), rel=1e-6) and restricted <= both
    solved, _ = node_sdp_bound([W1, W2], 0, W1, np.array([-1, 0]), 1.5, start=[np.zeros(1)], target=1.5)
    assert 1.0 <= solved < 1.0 + 1e-6
    misshapen, _ = node_sdp_bound([W1, W2], 0, W1, np.array([-1, 0]), 1.5, start=[np.ones(2)], target=1e300)
    assert 1.0 <= misshapen < 1.0 + 1e-6  # a start of the wrong shape is ignored; a huge target is harmless
    assert node_sdp_bound([W1, W2], 0, W1, np.array([0, 0]), 1.5) == (0.0, None)  # every unit off: J = 0
    assert certified_solution([np.array([[np.nan]]), np.array([[1.0]])]) == (math.inf, None)
    assert node_sdp_bound([W1, W2], 0, np.array([[np.inf, 0.0], [0.0, 1.0]]), np.array([-1, -1]), 1.5) == (math.inf,
                                                                                                             None)


@settings(max_examples=10, deadline=None)
@given(deep_nets(max_hidden=6, depths=(3, 4)))
def test_search_with_sdp_bounds_at_every_node_equals_brute_force(net):
    import lipexact.deep.enumerate as module

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(module, "SDP_AFTER_NODES", 0)
        result = DeepSearch(net, "2", None, Clock(), bnb=True).run()
    assert result.status is Status.OPTIMAL
    assert result.value == pytest.approx(brute_force(net, "2"), rel=1e-9, abs=1e-12)


def test_sign_vectors_before_the_last_layer_stop_once_the_lipsdp_node_bounds_run():
    """Globally in l2, after SDP_AFTER_NODES nodes the node bounds leave out the sign vectors before the last ReLU
    layer (DeepBounds.early_signs); the search still proves the brute-force value. Without the LipSDP bounds they
    stay."""
    import lipexact.deep.enumerate as module
    from benchmarks.deep import random_network

    net = random_network([4, 6, 6, 1], 2)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(module, "SDP_AFTER_NODES", 3)
        search = DeepSearch(net, "2", None, Clock(), bnb=True)
        assert search.bounds.early_signs
        result = search.run()
        plain = DeepSearch(net, "2", None, Clock(), bnb=True)
        plain.sdp_bounds = False
        plain.run()
    assert result.stats["nodes"] > 3 and not search.bounds.early_signs and plain.bounds.early_signs
    assert result.status is Status.OPTIMAL
    assert result.value == pytest.approx(brute_force(net, "2"), rel=1e-9, abs=1e-12)


def test_sdp_bounds_at_every_node_keep_the_value_and_save_nodes():
    import lipexact.deep.enumerate as module
    from benchmarks.deep import random_network

    net = random_network([4, 8, 8, 2], 1)
    plain = DeepSearch(net, "2", None, Clock(), bnb=True)
    plain.sdp_bounds = False
    without = plain.run()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(module, "SDP_AFTER_NODES", 0)
        every = DeepSearch(net, "2", None, Clock(), bnb=True).run()
    assert without.status is every.status is Status.OPTIMAL
    assert every.value == pytest.approx(without.value, rel=1e-12)
    assert every.stats["sdp_bounds"] + every.stats.get("skip_bounds", 0) > 10 and every.stats["pruned_by_sdp"] > 0
    assert every.stats["nodes"] < without.stats["nodes"]


def test_a_stopped_global_search_keeps_its_bracket_under_the_root_lipsdp_value():
    """Global l2: the root's certified LipSDP value caps every node bound, so a search stopped by its node limit
    reports an upper end no larger; on a box no SDP bound runs during the search, one after it stopped (the box's cap,
    :meth:`DeepSearch.box_cap`); globally in l_inf one, at the root (its value times ``sqrt(n)``)."""
    from benchmarks.deep import random_network
    from lipexact.domain import as_box

    net = random_network([11, 12, 12, 1], 0)
    stopped = DeepSearch(net, "2", None, Clock(), node_limit=40, bnb=True).run()
    assert stopped.status is Status.NODE_LIMIT and stopped.stats["sdp_bounds"] >= 1  # the root's, then nodes'
    root = lipsdp(net)
    assert stopped.value <= stopped.upper <= root.value * (1 + 1e-3)
    boxed = DeepSearch(net, "2", as_box((-np.ones(11), np.ones(11)), 11), Clock(), node_limit=5, bnb=True).run()
    other = DeepSearch(net, "inf", None, Clock(), node_limit=5, bnb=True).run()
    assert boxed.stats["sdp_bounds"] == 1 and boxed.upper <= boxed.stats["box_cap"]
    assert other.stats["sdp_bounds"] == 1
    assert other.value <= other.upper <= math.sqrt(11) * root.value * (1 + 1e-3)


def test_a_node_with_its_ancestors_reduced_network_reuses_its_value():
    """Fixing a unit on leaves the reduced network (and its SDP) unchanged: the cached value comes back and
    nothing is solved (with the unit taken exactly, ``skip_bounds``, the value may only drop: a skip bound is
    solved instead, not after it); fixing one off solves the smaller SDP from the restricted multipliers, never
    above the enclosing value (a principal submatrix of a negative semidefinite matrix is one)."""
    from dataclasses import replace

    from benchmarks.deep import random_network

    net = random_network([4, 6, 6, 1], 0)
    search = DeepSearch(net, "2", None, Clock(), bnb=True)
    root = search.root()
    value = search.sdp_bound(root)
    assert search.stats["sdp_bounds"] == 1 and root.sdp.value == value and not root.sdp.skip
    on, off = root.current.copy(), root.current.copy()
    on[0], off[0] = 1, 0
    search.skip_bounds = False
    assert search.sdp_bound(replace(root, current=on)) == value and search.stats["sdp_bounds"] == 1
    search.skip_bounds = True
    assert search.sdp_bound(replace(root, current=on)) < value and search.stats["sdp_bounds"] == 1
    assert search.stats["skip_bounds"] == 1
    smaller = search.sdp_bound(replace(root, current=off))
    assert search.stats["sdp_bounds"] == 2 and smaller <= value * (1 + 1e-9)


def test_the_skip_bound_replaces_the_plain_one_and_starts_from_the_enclosing_multipliers(monkeypatch):
    """A node with a unit on takes the skip bound alone (no plain solve), started from the enclosing bound's
    multipliers restricted to its free units; its own record (the free units) is what a child with one more unit
    fixed starts from, again without a plain solve."""
    from dataclasses import replace

    import lipexact.deep.sdp_bounds as sdp_module
    from benchmarks.deep import random_network

    net = random_network([4, 6, 6, 1], 0)
    search = DeepSearch(net, "2", None, Clock(), bnb=True)
    root = search.root()
    value = search.sdp_bound(root)
    starts = []
    original = sdp_module.node_skip_bound

    def recording(*args, start=None, **kwargs):
        starts.append(start)
        return original(*args, start=start, **kwargs)

    monkeypatch.setattr(sdp_module, "node_skip_bound", recording)
    on = root.current.copy()
    on[0] = 1
    child = replace(root, current=on)
    first = search.sdp_bound(child)
    assert first < value and search.stats["sdp_bounds"] == 1 and search.stats["skip_bounds"] == 1
    assert [part.size for part in starts[0]] == [5, 6]
    assert child.sdp.skip and child.sdp.units.tolist() == [False] + [True] * 5
    off = on.copy()
    off[1] = 0
    grandchild = replace(child, current=off)
    second = search.sdp_bound(grandchild)
    assert search.stats["sdp_bounds"] == 1 and search.stats["skip_bounds"] == 2
    assert [part.size for part in starts[1]] == [4, 6] and second <= first * (1 + 1e-3)


def test_a_skip_bound_that_certifies_nothing_falls_back_to_the_plain_one(monkeypatch):
    """When the skip bound certifies nothing (inf), the node keeps the plain LipSDP bound (here its enclosing
    value, the reduced network being the same) instead of no bound; a whole search so crippled still ends optimal
    at the value found with the skip bounds."""
    from dataclasses import replace

    import lipexact.deep.enumerate as module
    import lipexact.deep.sdp_bounds as sdp_module
    from benchmarks.deep import random_network

    net = random_network([4, 6, 6, 1], 0)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(module, "SDP_AFTER_NODES", 0)
        working = DeepSearch(net, "2", None, Clock(), bnb=True).run()
    search = DeepSearch(net, "2", None, Clock(), bnb=True)
    root = search.root()
    value = search.sdp_bound(root)
    monkeypatch.setattr(sdp_module, "node_skip_bound", lambda *args, **kwargs: (math.inf, None))
    on = root.current.copy()
    on[2] = 1
    assert search.sdp_bound(replace(root, current=on)) == value and search.stats["skip_bounds"] == 1
    monkeypatch.setattr(module, "SDP_AFTER_NODES", 0)
    failing = DeepSearch(net, "2", None, Clock(), bnb=True).run()
    assert failing.status is working.status is Status.OPTIMAL
    assert failing.value == pytest.approx(working.value, rel=1e-12)
    assert failing.stats["skip_bounds"] > 0 and failing.stats["sdp_bounds"] > working.stats["sdp_bounds"]


def test_the_float_map_margin_is_added_in_proportion_to_the_tail():
    """The node's map M is the nearest float of an exact rational map: the bound adds tail * 2^-52 ||M||_F (and a
    subnormal allowance), so a larger proven tail norm raises the bound by exactly that (here made visible by a
    huge tail)."""
    from lipexact.deep.sdp_bounds import FLOAT_MAP_ERROR

    W1, W2 = np.array([[3.0, 4.0], [0.0, 1.0]]), np.array([[1.0, 1.0]])
    base, _ = node_sdp_bound([W1, W2], 0, W1, np.array([-1, -1]), 0.0)
    raised, _ = node_sdp_bound([W1, W2], 0, W1, np.array([-1, -1]), 2.0 ** 60)
    assert raised - base >= 2.0 ** 60 * FLOAT_MAP_ERROR * math.sqrt(26.0) * (1 - 1e-12)


def _last_layer_node(net, data):
    """A node of the last ReLU layer drawn by hypothesis: (fixed patterns of the layers before, state, exact map)."""
    from lipexact.deep.exact import ExactNetwork

    sizes = net.hidden_sizes
    fixed = [np.array(data.draw(st.lists(st.booleans(), min_size=w, max_size=w))) for w in sizes[:-1]]
    state = np.array(data.draw(st.lists(st.sampled_from((-1, 0, 1)), min_size=sizes[-1], max_size=sizes[-1])),
                     dtype=np.int8)
    affine = ExactNetwork(net).maps(fixed + [np.zeros(sizes[-1], dtype=bool)])[-1]
    return fixed, state, affine


@settings(max_examples=40, deadline=None)
@given(deep_nets(max_outputs=1), st.data())
def test_last_layer_pattern_bound_is_at_least_every_completion(net, data):
    """The certified Shor bound of the last layer's binary program: at least the largest ||J||_2 over every
    completion of the node (realizable or not), and never above the triangle inequality's sum of the parts."""
    from lipexact.deep.sdp_bounds import last_layer_pattern_bound

    fixed, state, affine = _last_layer_node(net, data)
    layer = len(net.hidden_sizes) - 1
    w = np.asarray(net.weights[-1], dtype=np.float64)
    value = last_layer_pattern_bound(w, affine.float_linear(), state)
    assert completions(net, "2", layer, fixed, state) <= value
    M = affine.float_linear()
    parts = float(np.linalg.norm(w[0, state == 1] @ M[state == 1])) + sum(
        abs(w[0, i]) * float(np.linalg.norm(M[i])) for i in np.flatnonzero(state < 0))
    assert value <= parts * (1 + 1e-6) + 1e-12


def test_last_layer_pattern_bound_adds_its_rounding_margins_and_refuses_non_finite_maps():
    """The solver's certified value of the float program plus the float-map and formation margins: with the solver
    replaced by a fixed answer the margins show up in full; a non-finite map proves nothing."""
    import lipexact.bounds.sdp.pattern as pattern
    from lipexact.deep.sdp_bounds import FLOAT_MAP_ERROR, last_layer_pattern_bound

    w = np.array([[2.0, -1.0, 1.0]])
    M = np.array([[3.0, 4.0], [1.0, 0.0], [0.0, 1.0]])
    state = np.array([1, -1, -1], dtype=np.int8)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pattern, "binary_norm_bound", lambda c, rows, **options: pattern.PatternBound(1.0, True, "pm1"))
        value = last_layer_pattern_bound(w, M * 2.0 ** 40, state)
    float_map = math.sqrt(6.0) * FLOAT_MAP_ERROR * math.sqrt(27.0) * 2.0 ** 40
    formation = 5 * 2.0 ** -52 * float(np.linalg.norm(np.abs(w[0]) @ np.abs(M))) * 2.0 ** 40  # 3 live units + 2
    assert value - 1.0 >= (float_map + formation) * (1 - 1e-9)  # both margins, each in full
    assert last_layer_pattern_bound(w, np.where(M > 3, np.inf, M), state) == math.inf
    assert last_layer_pattern_bound(w, M, np.array([1, 1, 1])) == pytest.approx(math.sqrt(106.0), rel=1e-9)  # (5, 9)


def test_last_layer_pattern_bounds_prune_a_global_search_and_keep_its_value():
    """Global l2, one output, a last layer of 14 units: the pattern bounds (from the first node on here) prune and
    the value is the one found without them; on a box, in l_inf or with two outputs they never run."""
    import lipexact.deep.enumerate as module
    from benchmarks.deep import random_network
    from lipexact.domain import as_box

    net = random_network([5, 3, 14, 1], 5)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(module, "SDP_AFTER_NODES", 0)
        searches = [DeepSearch(net, "2", None, Clock(), bnb=True) for _ in range(2)]
        for search in searches:
            search.global_lp = False  # the region LPs leave these nodes few free units: the pattern bounds alone
        searches[1].pattern_bounds = False
        used, without = (search.run() for search in searches)
        boxed = DeepSearch(net, "2", as_box((-np.ones(5), np.ones(5)), 5), Clock(), node_limit=30, bnb=True).run()
        other = DeepSearch(net, "inf", None, Clock(), node_limit=30, bnb=True).run()
        two = DeepSearch(random_network([5, 3, 14, 2], 5), "2", None, Clock(), node_limit=30, bnb=True).run()
    assert used.status is without.status is Status.OPTIMAL
    assert used.value == pytest.approx(without.value, rel=1e-12)
    assert used.stats["pruned_by_pattern"] >= 1 and used.stats["nodes"] <= without.stats["nodes"]
    assert all("pattern_bounds" not in run.stats for run in (boxed, other, two, without))


def test_no_lipsdp_solve_at_the_last_layer_where_other_bounds_dominate_it():
    """LipSDP bounds every completion (any slopes in [0, 1]), so at the last ReLU layer it cannot beat the exact
    enumeration of at most LAST_LAYER_FREE free units, nor (one output) the binary program's bound, which keeps
    the units fixed on exact: no LipSDP solve happens there; with ``last_layer_sdp`` (the earlier rule) it does,
    and the value is the same."""
    import lipexact.deep.enumerate as module
    from benchmarks.deep import random_network

    net = random_network([4, 6, 6, 1], 0)
    layers = {}
    original = DeepSearch.sdp_bound

    def recording(self, node):
        layers.setdefault(self.last_layer_sdp, []).append(node.layer)
        return original(self, node)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(module, "SDP_AFTER_NODES", 0)
        patch.setattr(DeepSearch, "sdp_bound", recording)
        now = DeepSearch(net, "2", None, Clock(), bnb=True).run()
        earlier = DeepSearch(net, "2", None, Clock(), bnb=True)
        earlier.last_layer_sdp = True
        before = earlier.run()
    assert now.status is before.status is Status.OPTIMAL and now.value == pytest.approx(before.value, rel=1e-12)
    assert layers[False] and 1 not in layers[False] and 1 in layers[True]


def test_a_one_hidden_layer_root_gets_both_costly_bounds():
    """One hidden layer of 14 units, globally: the root is a node of the last layer; neither the binary program's
    Shor bound nor LipSDP dominates the other without units fixed (here LipSDP is 0.15% lower), and the root's
    bound caps every node, so both run there; below the root only the binary program does."""
    from benchmarks.deep import random_network

    net = random_network([3, 14, 1], 0)
    stopped = DeepSearch(net, "2", None, Clock(), node_limit=1, bnb=True).run()
    assert stopped.stats["pattern_bounds"] == 1 and stopped.stats["sdp_bounds"] == 1
    assert stopped.upper <= lipsdp(net).value * (1 + 1e-4)


@pytest.mark.parametrize("seed", range(4))
def test_the_skip_bound_covers_every_completion_with_the_on_units_exact(seed):
    """node_skip_bound: units fixed on pass their pre-activation (slope 1), off units are removed, free units and
    the later layers take 0 or 1: the largest Jacobian norm over all those completions is below the bound, and
    the bound is never above the LipSDP one with the on units in [0, 1] by more than the solver's tolerance."""
    import itertools

    from benchmarks.deep import random_network
    from lipexact.deep.bounds import DeepBounds
    from lipexact.deep.sdp_bounds import node_sdp_bound, node_skip_bound

    net = random_network([3, 5, 4, 2], seed)
    W = [np.asarray(w, dtype=np.float64) for w in net.weights]
    tails = DeepBounds(net, "2").tails
    state = np.array([1, 0, -1, 1, -1] if seed % 2 else [1, 1, 1, 0, -1], dtype=np.int8)
    M = W[0]
    value, _ = node_skip_bound(W, 0, M, state, tails)
    plain, _ = node_sdp_bound(W, 0, M, state, tails[1])
    free = np.flatnonzero(state < 0)
    best = 0.0
    for bits in itertools.product((0.0, 1.0), repeat=free.size + W[1].shape[0]):
        d0 = (state == 1).astype(float)
        d0[free] = bits[:free.size]
        d1 = np.array(bits[free.size:])
        J = W[2] @ (d1[:, None] * (W[1] @ (d0[:, None] * M)))
        best = max(best, float(np.linalg.norm(J, 2)))
    assert best <= value <= plain * (1 + 1e-3)
    assert node_skip_bound(W, 1, W[1] @ W[0], np.array([1, -1, 0, 1]), tails) == (math.inf, None)  # last layer
    assert node_skip_bound(W, 0, M, np.array([0, -1, -1, 0, -1]), tails) == (math.inf, None)  # no unit on


def test_the_skip_bound_adds_the_rounding_of_the_skip_product():
    """S = W_{l+1}[:, O] M_O is a float product: its error, gamma_{|O|+2} |W_O| |M_O| entrywise, times the norm of
    the layers after l + 1 (tails[l + 2]) is added; raising that tail raises the bound by exactly that."""
    from lipexact.bounds.sdp.psd import gamma
    from lipexact.deep.sdp_bounds import node_skip_bound

    rng = np.random.default_rng(4)
    W = [rng.standard_normal((5, 3)), rng.standard_normal((4, 5)), rng.standard_normal((1, 4))]
    state = np.array([1, -1, 1, 0, -1], dtype=np.int8)
    low, _ = node_skip_bound(W, 0, W[0], state, [10.0, 10.0, 1.0, 1.0])
    high, _ = node_skip_bound(W, 0, W[0], state, [10.0, 10.0, 1e6, 1.0])
    on = state == 1
    product = np.abs(W[1][:, on]) @ np.abs(W[0][on])
    per_tail = gamma(int(on.sum()) + 2) * float(np.linalg.norm(product)) * (1 + 1e-6) + product.size * 2.0 ** -1074
    expected = (1e6 - 1.0) * per_tail
    assert high - low == pytest.approx(expected, rel=1e-6) and expected > 0
