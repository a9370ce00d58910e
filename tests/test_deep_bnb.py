"""The deep branch and bound (method bnb): the enumeration's and an independent brute force's values, proven
brackets when stopped, and node bounds that never fall below the best completion."""

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lipexact.deep import lipschitz_deep
from lipexact.deep.bounds import DeepBounds
from lipexact.deep.exact import ExactNetwork
from lipexact.deep.network import ReLUNetwork
from lipexact.norms import jacobian_norms
from lipexact.result import Status
from tests.test_deep_enumerate import brute_force, region_is_empty
from tests.test_deep_strategies import boxes, deep_nets

NORMS = ("2", "1", "inf")


@settings(max_examples=40)
@given(deep_nets(max_hidden=7), st.sampled_from(NORMS), st.booleans(), st.sampled_from(("first", "largest")),
       st.data())
def test_bnb_equals_enumeration_and_brute_force(net, norm, use_box, branch, data):
    box = data.draw(boxes(net.n_inputs)) if use_box else None
    lower, upper = (None, None) if box is None else box
    result = lipschitz_deep(net, method="bnb", norm=norm, domain=box, branch=branch)
    assert result.status is Status.OPTIMAL, result.message
    enumerated = lipschitz_deep(net, method="enumerate", norm=norm, domain=box)
    assert result.value == pytest.approx(enumerated.value, rel=1e-9, abs=1e-12)
    assert result.value == pytest.approx(brute_force(net, norm, lower, upper), rel=1e-9, abs=1e-12)
    assert result.lower <= result.upper
    assert box is None or (np.all(result.witness > lower) and np.all(result.witness < upper))


@settings(max_examples=15)
@given(deep_nets(depths=(3, 4), max_width=5, max_hidden=10), st.sampled_from(NORMS), st.booleans(), st.data())
def test_bnb_equals_enumeration_on_wider_nets(net, norm, use_box, data):
    box = data.draw(boxes(net.n_inputs)) if use_box else None
    result = lipschitz_deep(net, method="bnb", norm=norm, domain=box)
    enumerated = lipschitz_deep(net, method="enumerate", norm=norm, domain=box)
    assert result.status is Status.OPTIMAL and enumerated.status is Status.OPTIMAL, result.message
    assert result.value == pytest.approx(enumerated.value, rel=1e-9, abs=1e-12)


def random_net(sizes, seed):
    rng = np.random.default_rng(seed)
    return ReLUNetwork([(rng.standard_normal((o, i)) / np.sqrt(i), rng.standard_normal(o) / np.sqrt(i))
                        for i, o in zip(sizes[:-1], sizes[1:])])


@pytest.mark.parametrize("box", [None, ([-1.0] * 3, [1.0] * 3)])
def test_node_limits_bracket_the_truth_deterministically(box):
    net = random_net([3, 5, 5, 2], 0)
    exact = lipschitz_deep(net, method="enumerate", domain=box)
    assert exact.status is Status.OPTIMAL
    for limit in (1, 2, 5, 20, 60):
        stopped = lipschitz_deep(net, method="bnb", domain=box, node_limit=limit)
        again = lipschitz_deep(net, method="bnb", domain=box, node_limit=limit)
        assert (stopped.lower, stopped.upper, stopped.status) == (again.lower, again.upper, again.status)
        assert stopped.status in (Status.NODE_LIMIT, Status.OPTIMAL)
        assert stopped.status is Status.OPTIMAL or stopped.stats["nodes"] == limit
        assert stopped.upper >= exact.value * (1 - 1e-12)
        assert stopped.lower is None or stopped.lower <= exact.value * (1 + 1e-12)


def test_time_limit_returns_a_proven_bracket():
    from lipexact.deep.enumerate import run_search
    from lipexact.exact.problem import Clock

    net = random_net([3, 5, 5, 2], 1)
    exact = lipschitz_deep(net, method="enumerate")
    ticks = itertools.count()
    outcome = run_search(net, "2", None, Clock(3.0, now=lambda: float(next(ticks))), bnb=True)
    assert outcome.status is Status.TIME_LIMIT
    assert outcome.upper >= exact.value * (1 - 1e-12)
    assert outcome.value is None or outcome.value <= exact.value * (1 + 1e-12)


def draw_node(net, use_box, data, below_last=False):
    """A search node drawn by hypothesis: ``(box or None, layer, fixed patterns, state of layer, its exact map)``;
    ``below_last``: a layer that has a next ReLU layer."""
    box = data.draw(boxes(net.n_inputs)) if use_box else None
    sizes = net.hidden_sizes
    layer = data.draw(st.integers(0, len(sizes) - 1 - int(below_last)))
    fixed = [np.array(data.draw(st.lists(st.booleans(), min_size=w, max_size=w))) for w in sizes[:layer]]
    state = np.array(data.draw(st.lists(st.sampled_from((-1, 0, 1)), min_size=sizes[layer], max_size=sizes[layer])),
                     dtype=np.int8)
    affine = ExactNetwork(net).maps(fixed + [np.zeros(sizes[layer], dtype=bool)])[layer]
    return box, layer, fixed, state, affine


def completions(net, norm, layer, fixed, state, lower=None, upper=None, realizable=False):
    """Best ||J|| over every full pattern extending (``fixed`` layers, ``state`` of ``layer``) whose region meets
    the open box (globally: every extension, realizable or not, unless ``realizable``: those occurring in R^n)."""
    sizes = net.hidden_sizes
    free = [i for i in range(sizes[layer]) if state[i] < 0]
    rest = sum(sizes[layer + 1:])
    best = -math.inf
    for bits in itertools.product((False, True), repeat=len(free) + rest):
        current = np.array(state > 0)
        current[free] = bits[:len(free)]
        tail = np.split(np.array(bits[len(free):], dtype=bool), np.cumsum(sizes[layer + 1:])[:-1]) if rest else []
        patterns = list(fixed) + [current] + list(tail)
        if (lower is not None or realizable) and region_is_empty(net, patterns, lower, upper):
            continue
        best = max(best, float(jacobian_norms(net.jacobian_of_patterns(patterns), norm)))
    return best


@settings(max_examples=40)
@given(deep_nets(max_hidden=7), st.sampled_from(NORMS), st.booleans(), st.data())
def test_node_bound_never_falls_below_the_best_completion(net, norm, use_box, data):
    box, layer, fixed, state, affine = draw_node(net, use_box, data)
    lower, upper = (None, None) if box is None else box
    bound = DeepBounds(net, norm, box).bound(layer, state, affine)
    best = completions(net, norm, layer, fixed, state, lower, upper)
    assert best <= bound, (best, bound)
    # and never above the plain |W| product
    linear = np.abs(affine.float_linear())
    linear[state == 0] = 0.0
    for W in net.weights[layer + 1:]:
        linear = np.abs(np.asarray(W, dtype=np.float64)) @ linear
    assert bound <= float(jacobian_norms(linear, norm)) * (1 + 1e-9) + 1e-300


def test_auto_picks_bnb_for_deep_networks_and_enumerate_stays_reachable():
    from lipexact import lipschitz

    net = random_net([3, 5, 5, 1], 2)
    auto = lipschitz(net)
    assert auto.status is Status.OPTIMAL and auto.stats["auto"] == "bnb"
    named = lipschitz(net, method="enumerate")
    assert named.method == "enumerate" and named.value == pytest.approx(auto.value, rel=1e-9)


def test_global_searches_pick_best_first_boxes_dive_and_both_orders_give_the_same_value():
    from benchmarks.deep import random_network
    from lipexact.deep.enumerate import DeepSearch
    from lipexact.domain import as_box
    from lipexact.exact.problem import Clock

    net = random_network([4, 8, 8, 2], 1)
    box = as_box((-np.ones(4), np.ones(4)), 4)
    for domain, default in ((None, False), (box, True)):
        values = []
        for plunge in (True, False):
            search = DeepSearch(net, "2", domain, Clock(), bnb=True)
            assert search.plunge is default
            search.plunge = plunge
            outcome = search.run()
            assert outcome.status is Status.OPTIMAL
            values.append(outcome.value)
        assert values[0] == pytest.approx(values[1], rel=1e-12)


def ones_net(norm, k=9, bias=True):
    """A net whose Jacobian, with every unit on, is a row of ones (l_inf: ``k`` inputs, one output) or a column of
    ones (l1: one input, ``k`` outputs): ``||J|| = k = sqrt(k) ||J||_2``, where the norm factor is attained. With
    ``bias`` the units are on wherever the inputs exceed -1; without, on the positive orthant."""
    b = np.ones(k) if bias else None
    if norm == "inf":
        return ReLUNetwork([(np.eye(k), b), (np.eye(k), b), (np.ones((1, k)), None)])
    return ReLUNetwork([(np.ones((k, 1)), b), (np.eye(k), b), (np.eye(k), None)])


@pytest.mark.parametrize("norm", ["1", "inf"])
def test_global_l1_linf_root_is_capped_by_lipsdp_times_the_norm_factor(norm):
    """Globally in l1 / l_inf the root's bound is at most ``factor * LipSDP`` (``sqrt(m)`` for l1, ``sqrt(n)`` for
    l_inf); on a net whose Jacobian is a row (column) of ones that cap is exactly the truth ``k``, so a smaller
    factor would put the proven upper end below the value."""
    from lipexact.deep.enumerate import DeepSearch
    from lipexact.exact.problem import Clock

    k = 9
    search = DeepSearch(ones_net(norm, k), norm, None, Clock(), bnb=True)
    assert k <= search.spectral_root_bound(search.root()) <= k * (1 + 1e-6)
    out = search.run()
    assert out.status is Status.OPTIMAL and out.value == pytest.approx(k, rel=1e-12)


def test_global_l1_linf_root_cap_tightens_the_bracket_of_a_deep_net():
    from lipexact.deep import enumerate as search_module
    from lipexact.exact.problem import Clock

    net = random_net([10, 30, 30, 30, 3], 0)
    for norm in ("1", "inf"):
        capped = search_module.run_search(net, norm, None, Clock(), node_limit=1, bnb=True)
        search = search_module.DeepSearch(net, norm, None, Clock(), node_limit=1, bnb=True)
        search.spectral_root = False
        plain = search.run()
        assert capped.value == plain.value and capped.upper < 0.5 * plain.upper


@pytest.mark.parametrize("norm", ["2", "1", "inf"])
def test_a_stopped_box_search_caps_its_upper_end_by_the_box_lipsdp_bound(norm, monkeypatch):
    """Stopped without a proof on a box, the search takes the certified LipSDP bound of the box (times the norm
    factor) as a cap. On a net whose Jacobian on the positive orthant is a row (column) of ones the cap is the
    truth ``k``, so a smaller factor would cut it; nets too large for the LMI, and proofs, solve nothing."""
    from lipexact.deep import enumerate as search_module
    from lipexact.domain import as_box
    from lipexact.exact.problem import Clock

    k = 9
    net = ones_net("1" if norm == "1" else "inf", k, bias=False)
    n = net.n_inputs
    box = as_box((-np.ones(n), np.ones(n)), n)
    truth = {"1": k, "inf": k, "2": math.sqrt(k)}[norm]
    out = search_module.run_search(net, norm, box, Clock(), node_limit=0, bnb=True)  # the root stays open
    assert out.status is Status.NODE_LIMIT
    assert truth * (1 - 1e-12) <= out.stats["box_cap"] <= truth * (1 + 1e-6)
    assert truth * (1 - 1e-12) <= out.upper <= out.stats["box_cap"]
    monkeypatch.setattr(search_module, "BOX_CAP_SIZE", n + 2 * k - 1)
    assert "box_cap" not in search_module.run_search(net, norm, box, Clock(), node_limit=0, bnb=True).stats
    monkeypatch.undo()
    proven = search_module.run_search(random_net([3, 4, 4, 1], 0), norm, as_box((-np.ones(3), np.ones(3)), 3),
                                      Clock(), bnb=True)
    assert proven.status is Status.OPTIMAL and "box_cap" not in proven.stats


@pytest.mark.parametrize("box", [None, ([-1.0] * 4, [1.0] * 4)])
def test_progress_lines_show_a_proven_upper_end_that_never_rises(box):
    import io
    import re

    from lipexact.deep.enumerate import DeepSearch
    from lipexact.domain import Box
    from lipexact.exact.problem import Clock
    from lipexact.exact.progress import SearchProgress

    net = random_net([4, 6, 6, 2], 3)
    truth = lipschitz_deep(net, method="enumerate", domain=box).value
    search = DeepSearch(net, "2", None if box is None else Box(*map(np.asarray, box)), Clock(), bnb=True)
    stream = io.StringIO()
    search.progress = SearchProgress("deep-bnb", True, interval=0.0, stream=stream)
    outcome = search.run()
    assert outcome.status is Status.OPTIMAL
    uppers = [float(u) for u in re.findall(r"upper=([0-9.e+-]+)", stream.getvalue())]
    assert len(uppers) > 3  # one line per node, the last one forced at the end
    for earlier, later in zip(uppers, uppers[1:]):
        assert later <= earlier * (1 + 1e-7)
    assert min(uppers) >= truth * (1 - 1e-7)  # printed with 8 significant digits


def degenerate_net(kind, seed):
    """Integer 2-3-3-2-1 nets with one degenerate unit: ``kind`` duplicate / opposite of another unit, a zero row
    (constant pre-activation 0, or 1), a first-layer hyperplane on the face ``x1 = 1`` of ``[0, 1]^2`` or through
    its corner 0, or a zero last layer."""
    rng = np.random.default_rng(seed)
    sizes = (2, 3, 3, 2, 1)
    layers = [[rng.integers(-2, 3, size=(o, i)).astype(float), rng.integers(-2, 3, size=o).astype(float)]
              for i, o in zip(sizes[:-1], sizes[1:])]
    W, b = layers[seed % 3]   # the first, second or third hidden layer
    if kind == "duplicate":
        W[1], b[1] = W[0], b[0]
    elif kind == "opposite":
        W[1], b[1] = -W[0], -b[0]
    elif kind in ("zero", "constant"):
        W[0], b[0] = 0.0, 0.0 if kind == "zero" else 1.0
    elif kind == "face":
        layers[0][0][0], layers[0][1][0] = [1.0, 0.0], -1.0
    elif kind == "corner":
        layers[0][0][0], layers[0][1][0] = [1.0, 1.0], 0.0
    elif kind == "dead_output":
        layers[-1][0][:] = 0.0
    return ReLUNetwork([(W, b) for W, b in layers])


@pytest.mark.filterwarnings("error::RuntimeWarning")   # a zero row once sent the LipSDP barrier to overflow
@pytest.mark.parametrize("kind", ["duplicate", "opposite", "zero", "constant", "face", "corner", "dead_output"])
@pytest.mark.parametrize("seed", range(3))
def test_degenerate_units_every_method_agrees_with_brute_force(kind, seed):
    net = degenerate_net(kind, seed)
    for norm, box in (("2", None), ("inf", ([0.0] * 2, [1.0] * 2))):
        truth = brute_force(net, norm, *((None, None) if box is None else box))
        methods = ["enumerate", "bnb", "auto"] + (["milp"] if box is not None and norm != "2" else [])
        for method in methods:
            result = lipschitz_deep(net, method=method, norm=norm, domain=box)
            assert result.status is Status.OPTIMAL, (method, norm, result.message)
            assert result.value == pytest.approx(truth, rel=1e-9, abs=1e-12), (method, norm)
