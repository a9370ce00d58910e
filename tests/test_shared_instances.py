"""The public instances in ../shared/instances (beside the checkout) through the whole chain."""

import json
from pathlib import Path

import numpy as np
import pytest

import lipexact
from lipexact.reduce import read_instance
from reductions.base import Solution
from reductions.chain import reduce_to_lipcst
from reductions.instances import QUBO, MaxCut

INSTANCES = Path(__file__).resolve().parents[2] / "shared" / "instances"
pytestmark = pytest.mark.skipif(not (INSTANCES / "optima.json").is_file(),
                                reason=f"shared instances not found at {INSTANCES} (expected ../shared/instances "
                                       "beside the checkout)")


def optima() -> dict:
    return json.loads((INSTANCES / "optima.json").read_text()) if INSTANCES.is_dir() else {}


def names(prefix: str) -> list[str]:
    return sorted(name for name in optima() if name.startswith(prefix))


def one_flip_local_search(matrix: np.ndarray, sense: str, seed: int = 0, starts: int = 60) -> np.ndarray:
    """Best 0/1 point of x^T A x found by steepest 1-flip descent (a heuristic: only a feasible point)."""
    rng = np.random.default_rng(seed)
    sign = 1 if sense == "min" else -1
    A = sign * matrix
    diagonal = np.diag(A)
    best, best_value = None, None
    for _ in range(starts):
        x = rng.integers(0, 2, len(A))
        while True:
            delta = (1 - 2 * x) * (diagonal + 2 * (A @ x - diagonal * x))
            i = int(np.argmin(delta))
            if delta[i] >= 0:
                break
            x[i] ^= 1
        value = int(x @ A @ x)
        if best_value is None or value < best_value:
            best, best_value = x.copy(), value
    return best


@pytest.mark.parametrize("name", names("classic/"))
def test_classic_instances_reduce_and_solve_to_their_optima(name):
    entry = optima()[name]
    graph = read_instance(str(INSTANCES / name))
    assert isinstance(graph, MaxCut) and graph.n == entry["n"]
    assert graph.brute_force()[0] == entry["optimum"]
    for via in ("01", "pm1"):
        reduced = reduce_to_lipcst(graph, via=via)
        lipcst = reduced.lipcst
        assert lipcst.is_integer
        if lipcst.n_hidden <= 16:
            value, pattern = lipcst.brute_force()           # L(f)^2 exactly, with an LP-realized pattern
            assert reduced.chain.source_value(value, reduced.inverse) == entry["optimum"]
            assert reduced.map_back(Solution.of(lipcst, pattern)).value == entry["optimum"]
        if via == "01" or lipcst.n_hidden <= 16:
            result = lipexact.lipschitz(lipexact.TwoLayerReLU(lipcst.M1, lipcst.M2), method="brute")
            assert result.status.value == "optimal"
            cut = reduced.map_back(Solution.at_witness(lipcst, result.witness))
            assert cut.value == entry["optimum"] == graph.cut_value(cut.certificate)
            assert reduced.chain.source_value(lipcst.value_at(result.witness), reduced.inverse) == entry["optimum"]


@pytest.mark.parametrize("name", names("maxcut/rudy/")[:3])
def test_g05_60_reduce_and_a_local_optimum_gets_a_certified_witness(name):
    entry = optima()[name]
    graph = read_instance(str(INSTANCES / name))
    assert graph.n == 60 and len(graph.edges) == 885
    reduced = reduce_to_lipcst(graph)
    lipcst = reduced.lipcst
    assert (lipcst.n_hidden, lipcst.n_inputs) == (60, 885) and lipcst.is_integer
    side = one_flip_local_search(graph.laplacian(), "max").astype(bool)
    value = graph.cut_value(side)
    assert value <= entry["optimum"]                        # a cut never beats the proven optimum
    there = reduced.map_forward(Solution.of(graph, side))
    assert there.witness is not None                        # 1-flip local optima are realized at F^T s
    assert lipcst.value_at(there.witness) == value           # L(f)^2 >= cut, certified by the witness
    assert reduced.map_back(Solution.at_witness(lipcst, there.witness)).value == value


@pytest.mark.parametrize("name", names("qubo/beasley/")[:3] + names("qubo/gka/")[:2])
def test_qubo_instances_reduce_and_map_points_both_ways(name):
    entry = optima()[name]
    qubo = read_instance(str(INSTANCES / name))
    assert isinstance(qubo, QUBO) and qubo.n == entry["n"]
    reduced = reduce_to_lipcst(qubo)
    assert reduced.chain.names == ["qubo_to_maxcut", "maxcut_to_pm1", "pm1_to_lipcst"]
    assert reduced.lipcst.n_hidden == 2 * (qubo.n + 1) and reduced.lipcst.is_integer
    x = one_flip_local_search(qubo.Q, "min")
    assert qubo.value(x) >= entry["optimum"]                # a point never beats the proven minimum
    there = reduced.map_forward(Solution.of(qubo, x))
    assert reduced.chain.source_value(there.value, reduced.inverse) == qubo.value(x)
    back = reduced.map_back(Solution(there.value, there.pattern, None, there.pattern))
    assert back.value == qubo.value(x) and np.array_equal(back.certificate, x)


def test_bqp50_1_objective_convention_reaches_the_published_optimum():
    name = "qubo/beasley/bqp50-1.sparse"
    qubo = read_instance(str(INSTANCES / name))
    # f(x) = sum_i Q_ii x_i + 2 sum_{i<j} Q_ij x_i x_j: a seeded local search reaches the published minimum
    assert qubo.value(one_flip_local_search(qubo.Q, "min", starts=200)) == optima()[name]["optimum"]
