"""The deep enumeration against an independent brute force over every joint pattern, and sampled gradients."""

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lipexact.deep import lipschitz_deep
from lipexact.deep.network import ReLUNetwork
from lipexact.norms import jacobian_norms
from lipexact.result import Status
from reductions.realizability import decide_region
from tests.test_deep_strategies import boxes, deep_nets

NORMS = ("2", "1", "inf")


def rational(value) -> Fraction:
    return Fraction(*float(value).as_integer_ratio()) if not isinstance(value, (int, np.integer)) else Fraction(int(value))


def composed_rows(net: ReLUNetwork, patterns):
    """Exact rows of a joint pattern, composed in Fractions independently of lipexact.deep.exact: a list of
    (row, offset) for every unit, with the pre-activation ``row . x + offset`` within the upstream region."""
    M = [[rational(v) for v in row] for row in np.asarray(net.weights[0]).tolist()]
    d = [rational(v) for v in np.asarray(net.biases[0]).tolist()]
    layers = [(M, d)]
    for W, b, s in zip(net.weights[1:-1], net.biases[1:-1], patterns):
        W = [[rational(v) for v in row] for row in np.asarray(W).tolist()]
        M = [[sum((W[i][j] * M[j][k] for j in range(len(s)) if s[j]), Fraction(0)) for k in range(net.n_inputs)]
             for i in range(len(W))]
        d = [sum((W[i][j] * layers[-1][1][j] for j in range(len(s)) if s[j]), Fraction(0)) + rational(b[i])
             for i in range(len(W))]
        layers.append((M, d))
    return layers


def brute_force(net: ReLUNetwork, norm: str, lower=None, upper=None):
    """max ||J(s)|| over every joint pattern s whose region (meeting the open box) is non-empty."""
    best = -math.inf
    sizes = net.hidden_sizes
    for flat in itertools.product((False, True), repeat=sum(sizes)):
        patterns = np.split(np.array(flat), np.cumsum(sizes)[:-1])
        if region_is_empty(net, patterns, lower, upper):
            continue
        best = max(best, float(jacobian_norms(net.jacobian_of_patterns(patterns), norm)))
    return best


def region_is_empty(net: ReLUNetwork, patterns, lower=None, upper=None) -> bool:
    """Whether no input of the open box (or of R^n) has these activation patterns, decided exactly."""
    A_q, c_q = [], []
    for (M, d), s in zip(composed_rows(net, patterns), patterns):
        for row, offset, on in zip(M, d, s):
            if not any(row):  # constant unit: its pattern is the sign of its offset (0 counts as off)
                if on != (offset > 0):
                    return True
                continue
            sign = 1 if on else -1
            A_q.append([sign * v for v in row])
            c_q.append(sign * offset)
    if not A_q:
        return False
    A = np.array([[float(v) for v in row] for row in A_q])
    c = np.array([float(v) for v in c_q])
    decision = decide_region(A, c, lower, upper, exact=(A_q, c_q))
    assert not decision.undecided, decision.message
    return decision.empty


def sampled_gradient_norms(net, norm, points):
    model = net.to_torch()
    values = []
    for x in points:
        J = torch.autograd.functional.jacobian(model, torch.tensor(x)).numpy().reshape(net.n_outputs, net.n_inputs)
        values.append(float(jacobian_norms(J, norm)))
    return values


@settings(max_examples=30)
@given(deep_nets(max_hidden=7), st.sampled_from(NORMS), st.booleans(), st.data())
def test_enumeration_equals_brute_force_and_dominates_sampled_gradients(net, norm, use_box, data):
    box = data.draw(boxes(net.n_inputs)) if use_box else None
    lower, upper = (None, None) if box is None else box
    result = lipschitz_deep(net, norm=norm, domain=box)
    assert result.status is Status.OPTIMAL, result.message
    expected = brute_force(net, norm, lower, upper)
    assert result.value == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert result.lower <= result.upper
    assert len(result.pattern) == net.n_hidden and result.certificate["layer_sizes"] == net.hidden_sizes
    rng = np.random.default_rng(0)
    if box is None:
        points = rng.normal(size=(40, net.n_inputs)) * 4
    else:
        points = lower + rng.random((40, net.n_inputs)) * (upper - lower)
    for value in sampled_gradient_norms(net, norm, points):
        assert value <= result.value * (1 + 1e-9) + 1e-12


@settings(max_examples=10)
@given(deep_nets(depths=(4,), max_width=3, max_inputs=2, integer=True), st.sampled_from(NORMS))
def test_four_layer_integer_nets_global(net, norm):
    result = lipschitz_deep(net, norm=norm)
    assert result.status is Status.OPTIMAL
    assert result.value == pytest.approx(brute_force(net, norm), rel=1e-9, abs=1e-12)


def test_two_layer_nets_agree_with_the_two_layer_solver():
    from lipexact import TwoLayerReLU, lipschitz

    net = TwoLayerReLU([[1, 2], [-1, 1], [2, -1]], [[1, -1, 2]], b1=[0, 1, -1])
    for norm in NORMS:
        assert lipschitz_deep(net, norm=norm).value == pytest.approx(lipschitz(net, norm=norm).value, rel=1e-12)
        box = ([-1, -1], [1, 1])
        assert lipschitz_deep(net, norm=norm, domain=box).value == \
            pytest.approx(lipschitz(net, norm=norm, domain=box).value, rel=1e-12)


def test_constant_units_and_thin_regions():
    # the second layer's unit sees x1 - x1 = 0: constant, follows its bias
    net = ReLUNetwork([([[1.0], [1.0]], None), ([[1.0, -1.0]], [0.0]), ([[5.0]], None)])
    result = lipschitz_deep(net)
    assert result.status is Status.OPTIMAL and result.value == 0.0
    # a cone of angular width 1e-9 holds the largest gradient
    thin = ReLUNetwork([([[1.0, 0.0], [-1.0, 1e-9]], None), ([[1.0, 0.0], [1.0, 1.0]], None),
                        ([[0.0, 1.0]], None)])
    assert lipschitz_deep(thin).status is Status.OPTIMAL


def test_limits_return_proven_brackets():
    torch.manual_seed(3)
    model = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.ReLU(), torch.nn.Linear(5, 5), torch.nn.ReLU(),
                                torch.nn.Linear(5, 2))
    exact = lipschitz_deep(model)
    assert exact.status is Status.OPTIMAL
    for limit in (1, 5, 30):
        stopped = lipschitz_deep(model, node_limit=limit)
        assert stopped.status is Status.NODE_LIMIT and stopped.stats["nodes"] == limit
        assert stopped.upper >= exact.value * (1 - 1e-12)
        assert stopped.lower is None or stopped.lower <= exact.value * (1 + 1e-12)
    ticks = itertools.count()
    from lipexact.deep import enumerate as module
    from lipexact.exact.problem import Clock

    outcome = module.run_search(ReLUNetwork.from_torch(model), "2", None, Clock(3.0, now=lambda: float(next(ticks))))
    assert outcome.status is Status.TIME_LIMIT and outcome.upper >= exact.value * (1 - 1e-12)


def test_interrupt_returns_the_bracket(monkeypatch):
    from lipexact.deep import enumerate as module

    net = ReLUNetwork([([[1, 2], [-1, 1], [2, -1]], [0, 1, -1]), ([[1, -1, 2], [1, 1, 1]], [1, -2]),
                       ([[1, 1]], None)])
    exact = lipschitz_deep(net)
    original, calls = module.DeepSearch.process, itertools.count()

    def interrupt_later(self, node, stack):
        if next(calls) == 6:
            raise KeyboardInterrupt
        return original(self, node, stack)

    monkeypatch.setattr(module.DeepSearch, "process", interrupt_later)
    stopped = lipschitz_deep(net)
    assert stopped.status is Status.INTERRUPTED and stopped.upper >= exact.value * (1 - 1e-12)


def test_undecided_regions_end_in_error_with_a_valid_bracket(monkeypatch):
    from lipexact.deep import enumerate as module
    from reductions.realizability import RegionDecision

    net = ReLUNetwork([([[1, 2], [-1, 1], [2, -1]], [0, 1, -1]), ([[1, -1, 2]], [1]), ([[3]], None)])
    exact = lipschitz_deep(net)
    monkeypatch.setattr(module, "decide_region", lambda *a, **k: RegionDecision("undecided", message="stub"))
    monkeypatch.setattr(module.DeepSearch, "ray_point", lambda self, rows, x: None)
    monkeypatch.setattr(module.RegionDecider, "decide", lambda self, A, c, exact: None)  # no fast answer either
    result = lipschitz_deep(net)
    assert result.status is Status.ERROR and result.upper >= exact.value * (1 - 1e-12)
    assert result.lower is None or result.lower <= exact.value * (1 + 1e-12)


def test_bad_input_is_refused_and_failures_become_errors(monkeypatch):
    from reductions.validation import InvalidInputError

    net = ReLUNetwork([([[1.0, 2.0]], None), ([[1.0]], None)])
    for kwargs in ({"norm": 3}, {"method": "nope"}, {"branch": "nope"}, {"time_limit": -1}, {"node_limit": 0}, {"seed": -1},
                   {"domain": ([0.0], [1.0])}, {"time_limit": float("nan")}):
        with pytest.raises(InvalidInputError):
            lipschitz_deep(net, **kwargs)
    with pytest.raises(InvalidInputError):
        lipschitz_deep({"type": "relu_network", "layers": [{"weight": [[1.0]]}]})
    from lipexact.deep import solve

    def broken(*args, **kwargs):
        raise FloatingPointError("boom")

    monkeypatch.setattr(solve, "run_search", broken)
    result = lipschitz_deep(net)
    assert result.status is Status.ERROR and "boom" in result.message


@pytest.mark.parametrize("bnb", [False, True])
def test_no_unit_stable_on_the_box_is_left_to_branch_on(bnb):
    """Box stability is checked once per layer and inherited by the children of that layer: every unit a node
    branches on must still straddle 0 over the box (exact range), at every layer."""
    from benchmarks.deep import small_box_network
    from lipexact.deep.enumerate import DeepSearch
    from lipexact.domain import as_box
    from lipexact.exact.problem import Clock

    class Checking(DeepSearch):
        layers = set()

        def choose(self, node):
            for i in np.flatnonzero(node.current < 0).tolist():
                low, high = node.affine.box_range(i, self.box_low, self.box_high)
                assert low < 0 < high, (node.layer, i)
            self.layers.add(node.layer)
            return super().choose(node)

    net = small_box_network([4, 8, 8, 8, 2], 3)
    search = Checking(net, "2", as_box(([0.0] * 4, [0.5] * 4), 4), Clock(), node_limit=300, bnb=bnb)
    search.run()
    assert search.layers == {0, 1, 2} and search.stats["stable_by_box"] > 0
