import itertools
import json
import os
import signal
import threading
import time
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lipexact.domain import Box
from lipexact.exact import lipschitz
from lipexact.exact.certificate import verify_witness
from lipexact.exact.cuts import infeasible_subset, is_empty_partial_pattern, pair_cuts
from lipexact.exact.milp import solve_milp
from lipexact.exact.milp_model import PatternMILP, relevant_units
from lipexact.exact.problem import Clock, validate_problem
from lipexact.exact.realizability import realizing_point
from lipexact.network import TwoLayerReLU
from lipexact.result import Status
from reductions.validation import InvalidInputError

from .strategies import boxes_for, exact_cases, two_layer_nets

RELATIVE = 1e-9


def realizable_patterns(net, domain=None):
    return [np.array(bits) for bits in itertools.product([False, True], repeat=net.n_hidden)
            if realizing_point(net, bits, domain=domain) is not None]


def assert_certified(result, net, norm, domain):
    assert result.status is Status.OPTIMAL, result.message
    assert result.lower == result.value
    assert result.upper == pytest.approx(result.value, rel=RELATIVE, abs=1e-12)
    checked = verify_witness(net, result.witness, norm, domain)
    assert checked.value == pytest.approx(result.value, rel=1e-12, abs=1e-12)
    if domain is not None:
        assert domain.contains_interior(result.witness)


@settings(max_examples=25)
@given(exact_cases(min_hidden=4, max_hidden=10))
def test_highs_agrees_with_brute_force_and_its_certificate_re_evaluates(case):
    net, norm, domain = case
    expected = lipschitz(net, method="brute", norm=norm, domain=domain).value
    result = lipschitz(net, method="milp", norm=norm, domain=domain)
    assert result.value == pytest.approx(expected, rel=RELATIVE, abs=1e-12)
    assert_certified(result, net, norm, domain)
    assert result.stats["solver"] == "highs"
    assert result.stats["rounds"] >= int(relevant_units(net).any())


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("solver", ["highs", "cbc"])
def test_nets_with_few_inputs_need_cuts_and_still_agree_with_brute_force(seed, solver):
    # One or two inputs, biases and 8-10 hidden units: most patterns are unrealizable, so the first
    # relaxation optimum usually is too (seeded numpy draws; hypothesis's derandomized draws rarely are).
    rng = np.random.default_rng(seed)
    n, h, norm = 1 + seed % 2, 8 + seed % 3, ["2", "1", "inf"][seed % 3]
    net = TwoLayerReLU(rng.integers(-3, 4, (h, n)), rng.integers(-3, 4, (1 if norm == "2" else 2, h)),
                       rng.integers(-3, 4, h))
    domain = Box(-np.ones(n), 2 * np.ones(n)) if seed % 4 == 3 else None
    result = lipschitz(net, method="milp", norm=norm, domain=domain, solver=solver)
    expected = lipschitz(net, method="brute", norm=norm, domain=domain).value
    assert result.value == pytest.approx(expected, rel=RELATIVE, abs=1e-12)
    assert_certified(result, net, norm, domain)
    if seed in (1, 5, 8):
        assert result.stats["cuts"] >= 5


@settings(max_examples=12)
@given(exact_cases(min_hidden=3, max_hidden=7))
def test_cbc_agrees_with_brute_force(case):
    net, norm, domain = case
    expected = lipschitz(net, method="brute", norm=norm, domain=domain).value
    result = lipschitz(net, method="milp", norm=norm, domain=domain, solver="cbc")
    assert result.value == pytest.approx(expected, rel=RELATIVE, abs=1e-12)
    assert_certified(result, net, norm, domain)
    assert result.stats["solver"] == "cbc"


CUT_OPTIONS = [{}, {"cuts": "nogood"}, {"cuts_per_round": 1, "subsets_per_pattern": 1},
               {"cuts_per_round": 20, "subsets_per_pattern": 6}]


@settings(max_examples=25)
@given(exact_cases(min_hidden=3, max_hidden=7), st.sampled_from(CUT_OPTIONS))
def test_cuts_are_lp_proven_and_never_remove_a_realizable_pattern(case, options):
    net, norm, domain = case
    result = lipschitz(net, method="milp", norm=norm, domain=domain, keep_cuts=True, **options)
    expected = lipschitz(net, method="brute", norm=norm, domain=domain).value
    assert result.value == pytest.approx(expected, rel=RELATIVE, abs=1e-12)
    cuts = result.stats["cut_list"]
    assert len(cuts) == result.stats["cuts"] + result.stats["structural_cuts"]
    realizable = realizable_patterns(net, domain)
    for cut in cuts:
        pattern = np.zeros(net.n_hidden, dtype=bool)
        pattern[cut["units"]] = cut["values"]
        assert realizing_point(net, pattern, fixed=np.isin(np.arange(net.n_hidden), cut["units"]),
                               domain=domain) is None
        for bits in realizable:
            assert not all(bits[i] == v for i, v in zip(cut["units"], cut["values"]))


@settings(max_examples=20)
@given(two_layer_nets(max_hidden=7), st.data())
def test_infeasible_subset_is_irreducible_and_empty(net, data):
    domain = data.draw(st.one_of(st.none(), boxes_for(net.n_inputs)))
    units = np.flatnonzero(np.any(net.W1 != 0, axis=1))
    unrealizable = [np.array(bits) for bits in itertools.product([False, True], repeat=net.n_hidden)
                    if is_empty_partial_pattern(net, np.array(bits), units, domain)]
    for pattern in unrealizable[:4]:
        cut = infeasible_subset(net, pattern, units, domain).cut
        assert set(cut.units) <= set(units.tolist())
        assert is_empty_partial_pattern(net, pattern, cut.units, domain)
        for unit in cut.units:
            smaller = [i for i in cut.units if i != unit]
            assert not smaller or not is_empty_partial_pattern(net, pattern, smaller, domain)


@settings(max_examples=20)
@given(exact_cases(min_hidden=3, max_hidden=8), st.sampled_from([1e-4, 0.02]))
def test_interval_contains_the_exact_value_under_a_tiny_time_limit(case, time_limit):
    net, norm, domain = case
    expected = lipschitz(net, method="brute", norm=norm, domain=domain).value
    result = lipschitz(net, method="milp", norm=norm, domain=domain, time_limit=time_limit)
    assert result.status in (Status.OPTIMAL, Status.TIME_LIMIT)
    assert result.upper is not None and result.upper >= expected * (1 - RELATIVE) - 1e-12
    if result.lower is not None:
        assert result.lower <= expected * (1 + RELATIVE) + 1e-12
        assert verify_witness(net, result.witness, norm, domain).value == pytest.approx(result.lower, rel=1e-12)


@settings(max_examples=20)
@given(exact_cases(min_hidden=3, max_hidden=8))
def test_one_round_brackets_the_exact_value(case):
    net, norm, domain = case
    expected = lipschitz(net, method="brute", norm=norm, domain=domain).value
    result = lipschitz(net, method="milp", norm=norm, domain=domain, max_rounds=1)
    assert result.status in (Status.OPTIMAL, Status.NODE_LIMIT)
    assert result.upper >= expected * (1 - RELATIVE) - 1e-12
    assert result.lower is None or result.lower <= expected * (1 + RELATIVE) + 1e-12
    if result.status is Status.NODE_LIMIT:
        assert result.stats["rounds"] == 1 and result.stats["cuts"] >= 1


def test_a_cut_removes_the_unrealizable_optimum():
    # relu(x) - 2 relu(x - 1): slopes 0, 1, -1; the pattern (0, 1) (slope -2) needs x > 1 and x < 0.
    net = TwoLayerReLU([[1.0], [1.0]], [[1.0, -2.0]], b1=[0.0, -1.0])
    result = lipschitz(net, method="milp", keep_cuts=True)
    assert result.value == pytest.approx(1.0)
    assert (result.stats["rounds"], result.stats["cuts"]) == (2, 1)
    assert result.stats["cut_list"] == [{"units": [0, 1], "values": [False, True]}]
    assert lipschitz(net, method="milp", cuts="nogood").value == pytest.approx(1.0)


def test_box_domain_fixes_units_and_changes_the_answer():
    net = TwoLayerReLU([[1.0], [1.0]], [[1.0, 1.0]], b1=[0.0, -1.0])
    assert lipschitz(net, method="milp").value == pytest.approx(2.0)
    local = lipschitz(net, method="milp", domain=Box([-1.0], [0.5]))
    assert local.value == pytest.approx(1.0)
    assert local.stats["structural_cuts"] == 1


def test_opposite_units_are_tied_by_structural_cuts():
    # sum_i |F_i x| as relu(F_i x) + relu(-F_i x): each pair is tied by two cuts proven by exact proportionality.
    F = np.array([[1, 2, 0], [0, 1, -1], [3, 0, 1]])
    net = TwoLayerReLU(np.vstack([F, -F]), np.ones((1, 6)))
    cuts, pairs = pair_cuts(net, range(6))
    assert len(cuts) == 6 and pairs == 3
    result = lipschitz(net, method="milp")
    assert result.value == pytest.approx(lipschitz(net, method="brute").value, rel=RELATIVE)
    assert result.stats["ties"] == 3 and result.stats["binaries"] == 3
    assert result.stats["symmetry_fixed"]


def test_rows_that_are_only_nearly_opposite_are_not_tied():
    # -0.30000000000000004 is not exactly -0.3: the two hyperplanes differ, and the thin wedges between them
    # are regions of their own (exact semantics), so no structural cut may remove them
    net = TwoLayerReLU([[1.0, 0.3], [-1.0, -0.30000000000000004]], [[1.0, 1.0]])
    assert pair_cuts(net, [0, 1]) == ([], 0)
    assert pair_cuts(TwoLayerReLU([[1.0, 0.3], [-2.0, -0.6]], [[1.0, 1.0]]), [0, 1])[1] == 1


@settings(max_examples=15)
@given(st.integers(1, 4).flatmap(lambda n: st.tuples(st.integers(1, 4).flatmap(
    lambda k: two_layer_nets(max_inputs=n, max_hidden=k, bias=False)), st.sampled_from(["2", "1", "inf"]))))
def test_tied_and_symmetric_models_agree_with_brute_force(net_and_norm):
    # Doubling every unit with its opposite ties s_i' = 1 - s_i; with equal output weights the contributions
    # cancel in pairs (complement symmetry), with opposite output weights they add up.
    net, norm = net_and_norm
    W1 = np.vstack([net.W1, -net.W1])
    for W2 in (np.hstack([net.W2, net.W2]), np.hstack([net.W2, -net.W2])):
        doubled = TwoLayerReLU(W1, W2)
        result = lipschitz(doubled, method="milp", norm=norm)
        expected = lipschitz(doubled, method="brute", norm=norm).value
        assert result.value == pytest.approx(expected, rel=RELATIVE, abs=1e-12)
        assert_certified(result, doubled, norm, None)


def test_maxcut_reduction_of_the_petersen_graph_is_solved_in_one_round():
    # f(x) = 1^T relu(F x) with F = B^T (B the oriented incidence matrix): F F^T is the Laplacian, so
    # L(f)^2 = max over s in {0,1}^n of s^T L s = maxcut = 12 for the Petersen graph.
    graph = nx.petersen_graph()
    B = nx.incidence_matrix(graph, oriented=True).toarray().T.astype(np.int64)
    net = TwoLayerReLU(B.T, np.ones((1, graph.number_of_nodes()), dtype=np.int64))
    result = lipschitz(net, method="milp")
    assert result.status is Status.OPTIMAL
    assert result.value ** 2 == pytest.approx(12.0, rel=1e-12)
    assert result.stats["rounds"] == 1


INSTANCES = Path(__file__).resolve().parents[2] / "shared" / "instances"


@pytest.mark.skipif(not (INSTANCES / "optima.json").is_file(),
                    reason=f"shared instances not found at {INSTANCES} (expected ../shared/instances beside "
                           "the checkout)")
@pytest.mark.parametrize("name", ["qubo/beasley/bqp50-1.sparse", "qubo/gka/gka6a.sparse"])
def test_published_qubo_optimum_through_the_reduction_in_one_round(name):
    from reductions.chain import reduce_to_lipcst
    from reductions.formats import read_qubo_sparse

    published = json.loads((INSTANCES / "optima.json").read_text())[name]["optimum"]
    reduced = reduce_to_lipcst(read_qubo_sparse(INSTANCES / name))
    net = TwoLayerReLU(reduced.lipcst.M1, reduced.lipcst.M2)
    result = lipschitz(net, method="milp", time_limit=120)
    assert result.status is Status.OPTIMAL and result.stats["rounds"] == 1
    assert result.stats["ties"] == net.n_hidden // 2      # the 2n units of sum_i |F_i x| pair up
    offset, scale = reduced.value_map
    assert (round(result.value ** 2) - offset) / scale == published
    assert abs(result.value ** 2 - round(result.value ** 2)) < 1e-6


def test_zero_jacobian_is_optimal_at_zero():
    net = TwoLayerReLU([[1.0, 0.0]], [[0.0]], b1=[1.0])
    result = lipschitz(net, method="milp")
    assert (result.status, result.value, result.upper) == (Status.OPTIMAL, 0.0, 0.0)


def test_spectral_norm_of_vector_outputs_is_refused_naming_the_norm():
    net = TwoLayerReLU([[1.0], [2.0]], [[1.0, 1.0], [0.0, 1.0]])
    with pytest.raises(InvalidInputError) as error:
        lipschitz(net, method="milp", norm=2)
    assert error.value.field == "norm"
    assert "brute" in str(error.value)


@pytest.mark.parametrize("options, field", [({"solver": "gurobi"}, "solver"), ({"threads": 0}, "threads"),
                                            ({"max_rounds": 0}, "max_rounds"), ({"cuts": "all"}, "cuts"),
                                            ({"cuts_per_round": 0}, "cuts_per_round"),
                                            ({"subsets_per_pattern": True}, "subsets_per_pattern")])
def test_bad_options_name_their_field(options, field):
    net = TwoLayerReLU([[1.0]], [[1.0]])
    with pytest.raises(InvalidInputError) as error:
        lipschitz(net, method="milp", **options)
    assert error.value.field == field


def test_time_limited_milp_is_never_called_optimal():
    # The PuLP trap: a stopped MILP with an incumbent has status "Optimal" but sol_status IntegerFeasible.
    rng = np.random.default_rng(0)
    net = TwoLayerReLU(rng.integers(-3, 4, (80, 6)), rng.integers(-3, 4, (1, 80)))
    model = PatternMILP(net, "2")
    outcome = model.solve(time_limit=0.2)
    assert not outcome.optimal and outcome.reason == "time_limit"
    if outcome.pattern is not None and outcome.bound is not None:
        assert outcome.bound >= outcome.objective - 1e-6
    result = lipschitz(net, method="milp", time_limit=0.3)
    assert result.status is Status.TIME_LIMIT
    assert result.lower is not None and result.lower <= result.upper
    assert verify_witness(net, result.witness).value == pytest.approx(result.lower, rel=1e-12)


def test_interrupt_returns_the_partial_result(monkeypatch):
    net = TwoLayerReLU([[1.0], [1.0]], [[1.0, -2.0]], b1=[0.0, -1.0])
    real_solve = PatternMILP.solve
    calls = []

    def solve_then_interrupt(self, *args, **kwargs):
        calls.append(1)
        if len(calls) > 1:
            raise KeyboardInterrupt
        return real_solve(self, *args, **kwargs)

    monkeypatch.setattr(PatternMILP, "solve", solve_then_interrupt)
    result = solve_milp(validate_problem(net), Clock())
    assert result.status is Status.INTERRUPTED
    assert result.upper == pytest.approx(2.0)   # the first relaxation's optimum, proven
    assert result.lower is not None and result.lower <= 1.0 + 1e-12


@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT to itself")
def test_ctrl_c_during_a_highs_solve_stops_it_with_its_bounds():
    rng = np.random.default_rng(1)
    net = TwoLayerReLU(rng.integers(-3, 4, (120, 6)), rng.integers(-3, 4, (1, 120)))
    timer = threading.Timer(2.0, lambda: os.kill(os.getpid(), signal.SIGINT))
    start = time.perf_counter()
    timer.start()
    try:
        result = lipschitz(net, method="milp", time_limit=40)
    finally:
        timer.cancel()
    assert result.status is Status.INTERRUPTED
    assert time.perf_counter() - start < 25
    if result.stats["rounds"]:     # the signal arrived during the first MILP solve, as intended
        assert result.upper is not None
        assert result.lower is not None and result.lower <= result.upper


def test_model_leaves_out_units_that_cannot_change_the_jacobian():
    net = TwoLayerReLU([[1, 0], [0, 0], [2, 1], [1, 1]], [[1, 1, 0, -1]], b1=[0, 1, 0, 0])
    assert relevant_units(net).tolist() == [True, False, False, True]
    model = PatternMILP(net, "2")
    assert model.size["binaries"] == 2 and model.size["products"] == 1
    result = lipschitz(net, method="milp")
    assert result.value == pytest.approx(lipschitz(net, method="brute").value, rel=RELATIVE)


def test_progress_lines_go_to_stderr(capsys):
    net = TwoLayerReLU([[1.0], [1.0]], [[1.0, -2.0]], b1=[0.0, -1.0])
    lipschitz(net, method="milp", solver="cbc", progress=True)
    assert "[milp]" in capsys.readouterr().err


@pytest.mark.parametrize("threads", [1, 2])
def test_milp_runs_after_other_highs_solves_in_the_process(threads):
    import highspy

    other = highspy.Highs()  # another HiGHS user in this process, with its own thread count
    other.setOptionValue("output_flag", False)
    other.setOptionValue("threads", 3 - threads)
    other.addVar(0.0, 1.0)
    other.run()
    rng = np.random.default_rng(5)
    net = TwoLayerReLU(rng.normal(size=(10, 3)), rng.normal(size=(1, 10)), rng.normal(size=10))
    milp = lipschitz(net, "milp", threads=threads)
    assert milp.status is Status.OPTIMAL, milp.message
    tree = lipschitz(net, "bnb")  # its region LPs run after a MILP of another thread count
    assert tree.status is Status.OPTIMAL and tree.stats["lps"] > 0
    assert milp.value == pytest.approx(tree.value, rel=RELATIVE)


# ---------------------------------------------------------------------------------- complement symmetry on boxes
# f(x) = |20 x1 - 21 x2| - |x1 - x2|: bias-free, contributions summing to zero. On R^n, x -> -x maps each
# pattern's region onto its complement's (same value), so one unit may be fixed on. On the box [0.5, 2]^2 the
# best cell (20 x1 / 21 < x2 < x1) has an empty complement: fixing unit 0 on leaves only unrealizable patterns
# of that value, the cuts remove them, and the MILP would prove a smaller optimum.
SYMMETRIC_PAIRS = TwoLayerReLU([[20, -21], [-20, 21], [1, -1], [-1, 1]], [[-1, -1, 1, 1]])


def test_complement_symmetry_is_not_used_on_an_asymmetric_box():
    box = Box([0.5, 0.5], [2.0, 2.0])
    X = np.random.default_rng(0).uniform(0.5, 2.0, size=(4000, 2))
    sampled = max(np.linalg.norm(SYMMETRIC_PAIRS.jacobian(x)) for x in X)
    truth = lipschitz(SYMMETRIC_PAIRS, method="brute", domain=box).value
    assert truth == pytest.approx(sampled, rel=1e-12)
    result = lipschitz(SYMMETRIC_PAIRS, method="milp", domain=box)
    assert result.value == pytest.approx(truth, rel=RELATIVE)
    assert_certified(result, SYMMETRIC_PAIRS, "2", box)
    assert not result.stats["symmetry_fixed"]


@pytest.mark.parametrize("domain", [None, Box([-2.0, -2.0], [2.0, 2.0])])
def test_complement_symmetry_is_used_where_it_holds(domain):
    result = lipschitz(SYMMETRIC_PAIRS, method="milp", domain=domain)
    assert result.stats["symmetry_fixed"]
    assert result.value == pytest.approx(lipschitz(SYMMETRIC_PAIRS, method="brute", domain=domain).value,
                                         rel=RELATIVE)
    assert_certified(result, SYMMETRIC_PAIRS, "2", domain)


# ---------------------------------------------------------------------------------- the PuLP status trap
# relu(x) + 2 relu(x - 1): slopes 0 (x < 0), 1 (0 < x < 1) and 3 (x > 1); the pattern (0, 1) is empty.
# The exact value is 3; the pattern (1, 0), of value 1, is a feasible but not optimal MILP solution.
TRAP_NET = TwoLayerReLU([[1.0], [1.0]], [[1.0, 2.0]], b1=[0.0, -1.0])
TRAP_INCUMBENT = {0: True, 1: False}


def _stop_every_solve_with_an_incumbent(monkeypatch, forced):
    """Make every MILP solve end as a time-limited one with an incumbent does: PuLP ``status`` Optimal,
    ``sol_status`` IntegerFeasible, HiGHS model status time limit and no dual bound; the incumbent is the
    best solution with the ``forced`` pattern variables (a real solve of the model with them fixed)."""
    import highspy
    import pulp
    from types import SimpleNamespace

    real_solve = pulp.LpProblem.solve

    class StoppedHighs:
        def getModelStatus(self):
            return highspy.HighsModelStatus.kTimeLimit

        def getInfo(self):
            return SimpleNamespace(valid=False, mip_dual_bound=float("nan"))

    def solve(self, solver=None, **kwargs):
        restricted = self.deepcopy()  # shares the variables: solving it sets their values
        variables = {v.name: v for v in self.variables()}
        for unit, value in forced.items():
            if f"s_{unit}" in variables:
                restricted += variables[f"s_{unit}"] == int(value), f"forced_{unit}"
        real_solve(restricted, solver, **kwargs)
        assert restricted.sol_status == pulp.LpSolutionOptimal
        self.status, self.sol_status = pulp.LpStatusOptimal, pulp.LpSolutionIntegerFeasible
        self.solverModel = StoppedHighs()
        return self.status

    monkeypatch.setattr(pulp.LpProblem, "solve", solve)


@pytest.mark.parametrize("solver", ["highs", "cbc"])
def test_status_optimal_with_an_integer_feasible_solution_is_not_optimal(monkeypatch, solver):
    model = PatternMILP(TRAP_NET, "2")
    _stop_every_solve_with_an_incumbent(monkeypatch, TRAP_INCUMBENT)
    outcome = model.solve(solver, time_limit=30.0)
    monkeypatch.undo()
    assert outcome.optimal is False
    assert outcome.pattern.tolist() == [True, False] and outcome.objective == pytest.approx(1.0)
    assert outcome.reason == "time_limit"
    assert outcome.bound is None


@pytest.mark.parametrize("solver", ["highs", "cbc"])
def test_the_lazy_milp_never_proves_a_stopped_solves_incumbent(monkeypatch, solver):
    _stop_every_solve_with_an_incumbent(monkeypatch, TRAP_INCUMBENT)
    result = solve_milp(validate_problem(TRAP_NET), Clock(30.0), solver=solver)
    monkeypatch.undo()
    assert result.status is Status.TIME_LIMIT, result.message
    assert result.upper >= 3.0 * (1 - RELATIVE)
    assert result.lower is None or result.lower <= 3.0 * (1 + RELATIVE)
    assert lipschitz(TRAP_NET, method="milp", solver=solver).value == pytest.approx(3.0, rel=RELATIVE)


def test_a_cut_needs_a_verified_certificate(monkeypatch):
    # an empty pattern is cut only when decide_pattern returns a verified certificate: undecided means no cut
    from lipexact.exact import cuts
    from reductions.realizability import RegionDecision

    net = TwoLayerReLU([[1.0], [2.0], [1.0], [-1.0]], [[1.0, 1.0, 1.0, 1.0]])
    pattern = np.array([True, True, False, False])
    assert cuts.is_empty_partial_pattern(net, pattern, [0, 1, 2, 3])
    monkeypatch.setattr(cuts, "decide_pattern", lambda *args, **kwargs: RegionDecision("undecided", message="test"))
    assert not cuts.is_empty_partial_pattern(net, pattern, [0, 1, 2, 3])
    with pytest.raises(ValueError, match="not proven empty"):
        cuts.infeasible_subset(net, pattern, [0, 1, 2, 3])
