"""The per-vertex branch and bound (l1, l_inf): equals brute force, re-checks its witness, brackets when stopped,
refuses what it does not cover, and keeps its safety checks (rounding margin, boundary points, undecided regions)."""

from fractions import Fraction
from itertools import count

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lipexact.domain import Box, as_box
from lipexact.exact import lipschitz
from lipexact.exact.certificate import verify_witness
from lipexact.exact.patterns import pattern_chunks, pattern_values
from lipexact.exact.problem import Clock, validate_problem
from lipexact.exact.vertices import (MAX_FUNCTIONALS, _VertexSearch, functional_count, functionals, rounding_margin,
                                     solve_vertices)
from lipexact.network import TwoLayerReLU
from lipexact.result import Status
from reductions.validation import InvalidInputError
from tests.strategies import exact_cases, integer_matrices

LINEAR_NORMS = ("1", "inf")


def close(a, b, rtol=1e-9):
    return abs(a - b) <= rtol * max(abs(a), abs(b))


def random_net(seed, n, h, m, scale=1.0):
    rng = np.random.default_rng(seed)
    return TwoLayerReLU(scale * rng.standard_normal((h, n)), rng.standard_normal((m, h)), scale * rng.standard_normal(h))


def assert_exact(net, norm, domain, **options):
    truth = lipschitz(net, "brute", norm=norm, domain=domain)
    assert truth.status is Status.OPTIMAL
    result = lipschitz(net, "vertices", norm=norm, domain=domain, **options)
    assert result.status is Status.OPTIMAL, result.message
    assert close(result.value, truth.value) and close(result.upper, truth.value), (result.value, truth.value)
    checked = verify_witness(net, result.witness, norm, as_box(domain, net.n_inputs))
    assert close(checked.value, result.value)
    return result


@given(exact_cases(max_hidden=8, max_outputs=3, norms=LINEAR_NORMS))
@settings(max_examples=80)
def test_vertices_agree_with_brute_force(case):
    net, norm, domain = case
    assert_exact(net, norm, domain)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("norm", LINEAR_NORMS)
@pytest.mark.parametrize("scope", ["global", "box"])
def test_float_weights_agree_with_brute_force(seed, norm, scope):
    net = random_net(seed, n=3, h=10, m=2)
    assert_exact(net, norm, None if scope == "global" else ([-1.0] * 3, [1.5] * 3))


@pytest.mark.parametrize("norm", LINEAR_NORMS)
def test_a_wider_net_agrees_with_branch_and_bound(norm):
    net = random_net(0, n=6, h=24, m=1)
    box = ([-3.0] * 6, [3.0] * 6)
    ours = lipschitz(net, "vertices", norm=norm, domain=box)
    theirs = lipschitz(net, "bnb", norm=norm, domain=box)
    assert ours.status is theirs.status is Status.OPTIMAL
    assert close(ours.value, theirs.value)


@given(st.integers(1, 4), st.integers(1, 6), st.integers(1, 3), st.sampled_from(LINEAR_NORMS), st.data())
@settings(max_examples=40)
def test_functionals_give_the_norm_of_every_pattern(n, h, m, norm, data):
    net = TwoLayerReLU(data.draw(integer_matrices(h, n)), data.draw(integer_matrices(m, h)))
    D = functionals(net, norm)
    assert D.shape == (h, functional_count(n, m, norm))
    patterns = np.concatenate(list(pattern_chunks(h)))
    assert np.allclose((patterns.astype(float) @ D).max(axis=1), pattern_values(net, patterns, norm), rtol=0, atol=0)


@given(st.integers(1, 3), st.integers(1, 5), st.sampled_from(LINEAR_NORMS), st.data())
@settings(max_examples=30)
def test_rounding_margin_covers_the_float_error_of_every_bound(n, h, norm, data):
    """Every node bound is a sum of at most h weights |d_i|: its float error stays below the margin."""
    elements = st.floats(-4.0, 4.0, allow_nan=False, allow_infinity=False, width=64)
    W1 = np.array(data.draw(st.lists(elements, min_size=h * n, max_size=h * n))).reshape(h, n)
    W2 = np.array(data.draw(st.lists(elements, min_size=h, max_size=h))).reshape(1, h)
    net = TwoLayerReLU(W1, W2)
    D = functionals(net, norm)
    margin = rounding_margin(net, norm)
    for k in range(D.shape[1]):
        sign = [1 if (k >> j) & 1 else -1 for j in range(n)]
        if norm == "inf":
            exact = [Fraction(W2[0, i]) * sum(Fraction(W1[i, j]) * sign[j] for j in range(n)) for i in range(h)]
        else:
            j, tau = k // 2, 1 if k % 2 else -1
            exact = [Fraction(W1[i, j]) * tau * Fraction(W2[0, i]) for i in range(h)]
        float_sum = 0.0
        for value in np.abs(D[:, k]):
            float_sum += value
        assert abs(Fraction(float_sum) - sum(abs(v) for v in exact)) <= Fraction(margin)


def test_the_norm_2_and_too_many_vertices_are_refused():
    net = random_net(0, n=3, h=4, m=1)
    with pytest.raises(InvalidInputError) as error:
        lipschitz(net, "vertices", norm=2)
    assert error.value.field == "norm"
    wide = random_net(0, n=17, h=4, m=1)  # 2^17 vertices for l_inf, 17 for l1
    assert functional_count(17, 1, "inf") > MAX_FUNCTIONALS
    with pytest.raises(InvalidInputError) as error:
        lipschitz(wide, "vertices", norm="inf")
    assert error.value.field == "net"
    assert lipschitz(wide, "vertices", norm="1", domain=([-1.0] * 17, [1.0] * 17)).status is Status.OPTIMAL


def test_a_node_limit_returns_a_valid_bracket():
    net = random_net(1, n=5, h=20, m=1)
    box = ([-4.0] * 5, [4.0] * 5)
    truth = lipschitz(net, "vertices", norm="inf", domain=box)
    assert truth.status is Status.OPTIMAL and truth.stats["nodes"] > 3
    stopped = lipschitz(net, "vertices", norm="inf", domain=box, node_limit=3)
    assert stopped.status is Status.NODE_LIMIT
    assert stopped.upper is not None and stopped.upper >= truth.value * (1 - 1e-12)
    assert stopped.lower is None or stopped.lower <= truth.value * (1 + 1e-12)
    assert stopped.stats["nodes"] == 3


def test_an_injected_clock_stops_the_search_deterministically():
    net = random_net(1, n=5, h=20, m=1)
    box = Box([-4.0] * 5, [4.0] * 5)
    truth = lipschitz(net, "vertices", norm="inf", domain=box)
    ticks = count()
    problem = validate_problem(net, "inf", box)
    clock = Clock(10.0, now=lambda: float(next(ticks)))
    stopped = solve_vertices(problem, clock)
    assert stopped.status is Status.TIME_LIMIT
    assert stopped.upper >= truth.value * (1 - 1e-12)
    again = solve_vertices(problem, Clock(10.0, now=lambda ticks=count(): float(next(ticks))))
    assert again.stats["nodes"] == stopped.stats["nodes"]


def test_points_on_a_hyperplane_or_outside_the_open_box_are_not_witnesses():
    net = TwoLayerReLU([[1.0, 0.0], [0.0, 1.0]], [[1.0, 1.0]], b1=[0.0, 0.0])
    search = _VertexSearch(validate_problem(net, "inf", ([-1.0, -1.0], [1.0, 1.0])), Clock(), None)
    for bad in ([0.0, 0.5], [1.0, 0.5], [0.5, -1.0]):
        x = np.array(bad)
        search.offer(x, search.signs_at(x))
        assert search.best_point is None
    good = np.array([0.5, 0.5])
    search.offer(good, search.signs_at(good))
    assert search.best_value == 2.0


def test_undecided_regions_are_never_called_optimal(monkeypatch):
    net = random_net(2, n=3, h=8, m=1)
    box = ([-3.0] * 3, [3.0] * 3)
    truth = lipschitz(net, "brute", norm="inf", domain=box)
    original = _VertexSearch.decide

    def undecided_below_the_root(self, fixed):
        return original(self, fixed) if not fixed else ("undecided", None)

    monkeypatch.setattr(_VertexSearch, "decide", undecided_below_the_root)
    result = lipschitz(net, "vertices", norm="inf", domain=box)
    assert result.status is Status.ERROR and "no exact certificate" in result.message
    assert result.upper >= truth.value * (1 - 1e-12)


@pytest.mark.parametrize("exponent", [-40, 40])
def test_scaling_the_weights_by_powers_of_two_scales_the_value(exponent):
    net = random_net(3, n=4, h=14, m=2)
    box = ([-2.0] * 4, [2.0] * 4)
    base = lipschitz(net, "vertices", norm="inf", domain=box)
    factor = 2.0 ** exponent
    scaled = TwoLayerReLU(net.W1 * factor, net.W2 * factor, net.b1 * factor)
    result = lipschitz(scaled, "vertices", norm="inf", domain=box)
    assert base.status is result.status is Status.OPTIMAL
    assert close(result.value, base.value * factor * factor)


def test_progress_lines_go_to_stderr(capsys):
    net = random_net(1, n=5, h=20, m=1)
    result = lipschitz(net, "vertices", norm="inf", domain=([-4.0] * 5, [4.0] * 5), progress=True)
    err = capsys.readouterr().err
    assert result.status is Status.OPTIMAL
    assert "[vertices]" in err and "upper=" in err


@pytest.mark.parametrize("after", [1, 2, 5, 9, 14])
def test_ctrl_c_returns_a_valid_bracket(after, monkeypatch):
    """A KeyboardInterrupt (raised deterministically inside the n-th region decision, after its node left the
    stack) ends the search ``interrupted`` with a proven upper end: the open nodes, the node in hand and the
    vertices not searched yet."""
    net = random_net(1, n=5, h=20, m=1)
    box = ([-4.0] * 5, [4.0] * 5)
    truth = lipschitz(net, "vertices", norm="inf", domain=box)
    assert truth.status is Status.OPTIMAL and truth.stats["lps"] > 14
    calls = count(1)
    original = _VertexSearch.decide

    def interrupted(self, fixed):
        if next(calls) == after:
            raise KeyboardInterrupt
        return original(self, fixed)

    monkeypatch.setattr(_VertexSearch, "decide", interrupted)
    stopped = lipschitz(net, "vertices", norm="inf", domain=box)
    assert stopped.status is Status.INTERRUPTED
    assert stopped.upper is not None and stopped.upper >= truth.value * (1 - 1e-12)
    assert stopped.lower is None or stopped.lower <= truth.value * (1 + 1e-12)
