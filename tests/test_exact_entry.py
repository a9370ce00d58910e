import numpy as np
import pytest

from lipexact import TwoLayerReLU, lipschitz
from lipexact.exact import METHODS, choose_method, opposite_pairs
from lipexact.exact.problem import validate_problem
from reductions.validation import InvalidInputError

NET = TwoLayerReLU([[1.0, 2.0], [-1.0, 0.5], [0.0, 1.0]], [[1.0, -2.0, 0.5]], b1=[0.1, 0.2, -0.3])


def test_accepts_a_torch_sequential_and_reports_the_auto_choice():
    result = lipschitz(NET.to_torch())
    assert result.status.value == "optimal" and result.stats["auto"] == "brute"
    assert "auto" in result.message and result.timings["total"] >= 0
    assert result.value == pytest.approx(lipschitz(NET, method="brute").value)


def test_auto_picks_branch_and_bound_for_wide_networks():
    wide = TwoLayerReLU(np.ones((30, 2)), np.ones((1, 30)))
    assert choose_method(validate_problem(wide))[0] == "bnb"


def _qubo_net(size: int, seed: int = 3) -> TwoLayerReLU:
    from reductions import QUBO, reduce_to_lipcst

    rng = np.random.default_rng(seed)
    B = rng.integers(-9, 10, size=(size, size))
    lipcst = reduce_to_lipcst(QUBO(B + B.T)).lipcst
    return TwoLayerReLU(lipcst.M1, lipcst.M2)


def test_auto_picks_the_milp_only_for_large_absolute_value_networks():
    small, large = _qubo_net(9), _qubo_net(40)
    assert opposite_pairs(small) and opposite_pairs(large)
    assert 12 < small.n_hidden <= 64 < large.n_hidden
    assert choose_method(validate_problem(small))[0] == "bnb"
    assert choose_method(validate_problem(large))[0] == "milp"
    assert choose_method(validate_problem(large, norm="inf"))[0] == "bnb"
    assert choose_method(validate_problem(large, domain=(-np.ones(large.n_inputs), np.ones(large.n_inputs))))[0] == "bnb"
    auto = lipschitz(small)
    assert auto.stats["auto"] == "bnb" and auto.status.value == "optimal"
    assert auto.value == pytest.approx(lipschitz(small, method="milp").value, rel=1e-9)


def test_auto_uses_brute_force_only_for_small_global_problems():
    box = (-np.ones(2), np.ones(2))
    assert choose_method(validate_problem(NET))[0] == "brute"
    assert choose_method(validate_problem(NET, domain=box))[0] == "bnb"
    seven = TwoLayerReLU(np.arange(14.0).reshape(7, 2) - 6, np.ones((1, 7)))
    assert choose_method(validate_problem(seven))[0] == "bnb"


def _stopped_with_the_lower_side(problem, clock):
    from lipexact.exact.brute import solve_brute
    from lipexact.result import Status

    exact = solve_brute(problem, clock)
    return exact.replace(status=Status.TIME_LIMIT, upper=2 * exact.upper, method="bnb")


def _stopped_with_the_upper_side(problem, clock):
    from lipexact.exact.brute import solve_brute
    from lipexact.result import Status

    exact = solve_brute(problem, clock)
    return exact.replace(status=Status.TIME_LIMIT, value=None, lower=None, witness=None, pattern=None, method="milp")


def test_auto_runs_the_other_search_when_the_first_stalls_and_keeps_the_tighter_sides(monkeypatch):
    from lipexact import exact

    net = TwoLayerReLU(np.arange(14.0).reshape(7, 2) - 6, np.linspace(-1, 1, 7)[None, :], b1=np.linspace(0, 1, 7))
    truth = lipschitz(net, method="brute").value
    monkeypatch.setitem(exact.METHODS, "bnb", "tests.test_exact_entry:_stopped_with_the_lower_side")
    monkeypatch.setitem(exact.METHODS, "milp", "tests.test_exact_entry:_stopped_with_the_upper_side")
    result = lipschitz(net, time_limit=60)
    assert result.stats["auto"] == "milp" and "then milp" in result.message
    assert result.status.value == "optimal"              # bnb's witness meets milp's upper bound
    assert result.lower == pytest.approx(truth, rel=1e-12) and result.upper == pytest.approx(truth, rel=1e-12)
    assert result.certificate["upper_method"] == "milp"
    without_limit = lipschitz(net)                        # no time limit: the first choice alone, as it ended
    assert without_limit.status.value == "time_limit" and without_limit.upper == pytest.approx(2 * truth)


def test_opposite_pairs_needs_every_unit_paired_without_bias():
    a = np.array([[1.0, -2.0], [0.5, 3.0]])
    paired = TwoLayerReLU(np.vstack([a, -a]), np.array([[1.0, 2.0, 1.0, 2.0]]))
    assert opposite_pairs(paired)
    assert not opposite_pairs(TwoLayerReLU(paired.W1, paired.W2, np.array([1.0, 0.0, 0.0, 0.0])))
    assert not opposite_pairs(TwoLayerReLU(np.vstack([a, a]), paired.W2))
    assert not opposite_pairs(TwoLayerReLU(paired.W1, np.array([[1.0, 2.0, 2.0, 1.0]])))


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(method="magic"), "method"),
        (dict(norm="fro"), "norm"),
        (dict(time_limit=0), "time_limit"),
        (dict(time_limit=float("nan")), "time_limit"),
        (dict(seed=-1), "seed"),
        (dict(domain=([0.0], [1.0])), "domain"),
    ],
)
def test_bad_arguments_name_their_field(kwargs, field):
    with pytest.raises(InvalidInputError) as error:
        lipschitz(NET, **kwargs)
    assert error.value.field == field


def test_bad_network_is_rejected():
    with pytest.raises(InvalidInputError) as error:
        lipschitz([[1.0]])
    assert error.value.field == "net"


def test_registry_names_every_method():
    assert set(METHODS) == {"brute", "enumerate", "bnb", "milp", "vertices"}


@pytest.mark.parametrize("method", ["brute", "milp"])
def test_node_limit_is_refused_for_methods_without_a_tree(method):
    with pytest.raises(InvalidInputError) as error:
        lipschitz(NET, method=method, node_limit=5)
    assert error.value.field == "node_limit"
    assert "bnb" in str(error.value)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "3"])
def test_bad_node_limits_are_refused_before_any_work(bad):
    with pytest.raises(InvalidInputError) as error:
        lipschitz(NET, node_limit=bad)
    assert error.value.field == "node_limit"


def test_node_limit_reaches_branch_and_bound_through_auto():
    rng = np.random.default_rng(0)
    wide = TwoLayerReLU(rng.normal(size=(14, 3)), rng.normal(size=(1, 14)), rng.normal(size=14))
    assert choose_method(validate_problem(wide))[0] == "bnb"
    result = lipschitz(wide, node_limit=2)
    assert result.stats["auto"] == "bnb"
    assert result.status.value == "node_limit" and result.stats["nodes"] == 2
    small = lipschitz(NET, node_limit=2)  # auto picks brute force, which has no tree: the limit does not apply
    assert small.stats["auto"] == "brute" and small.status.value == "optimal"


# ---------------------------------------------------------------------------------- thin boxes
THIN_BOXES = [([0.1, 0.1], [0.1 + 1e-9, 0.1 + 1e-9]), ([1e10, 1e10], [1e10 + 1, 1e10 + 1]),
              ([-1e-200, -1e-200], [1e-200, 1e-200])]
# relu(x1 - x2) crosses every one of them along its diagonal; relu(x1 + x2) is on in the first two.
CROSSED = TwoLayerReLU([[1.0, -1.0], [1.0, 1.0]], [[3.0, 1.0]])


@pytest.mark.parametrize("method", ["brute", "bnb", "enumerate", "milp"])
@pytest.mark.parametrize("box", THIN_BOXES[:2])
def test_thin_far_boxes_are_accepted_and_solved(method, box):
    # No hyperplane of NET meets these boxes: the constant is the gradient norm of the one cell.
    expected = float(np.linalg.norm(NET.jacobian(np.asarray(box[0]) + (np.asarray(box[1]) - box[0]) / 2)))
    result = lipschitz(NET, method=method, domain=box)
    assert result.status.value == "optimal", result.message
    assert result.value == pytest.approx(expected, rel=1e-9)
    assert validate_problem(NET, domain=box).domain.contains_interior(result.witness)


@pytest.mark.parametrize("method", ["brute", "bnb", "enumerate", "milp"])
@pytest.mark.parametrize("box", THIN_BOXES)
def test_a_hyperplane_across_a_thin_box_is_resolved(method, box):
    # Both sides of x1 = x2 meet the box; relu(x1 + x2) is on (first two boxes) or crosses too (the third).
    expected = float(np.hypot(4.0, 2.0))     # x1 > x2, x1 + x2 > 0: gradient 3 (1, -1) + (1, 1)
    result = lipschitz(CROSSED, method=method, domain=box)
    assert result.status.value == "optimal", result.message
    assert result.value == pytest.approx(expected, rel=1e-9)
    assert validate_problem(CROSSED, domain=box).domain.contains_interior(result.witness)
