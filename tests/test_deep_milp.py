"""The deep LipMIP-class MILP (method ``milp``, boxes, norms 1 and inf) against the exact enumeration."""

import json
from pathlib import Path

import numpy as np
import pytest

from lipexact.deep import lipschitz_deep
from lipexact.deep.network import ReLUNetwork
from lipexact.domain import Box
from lipexact.result import Status
from reductions.validation import InvalidInputError

NETWORKS = Path(__file__).resolve().parents[2] / "shared" / "networks"


def random_net(seed: int, integer: bool = False) -> tuple[ReLUNetwork, tuple[np.ndarray, np.ndarray]]:
    """3 or 4 affine layers, widths <= 5; float Gaussian weights on a random box, or small integer weights
    (bias-free for even seeds) on [-1, 1]^n, where many patterns meet only at the box's centre (cuts needed)."""
    rng = np.random.default_rng(seed)
    depth = 3 + seed % 2
    sizes = [int(rng.integers(2, 5))] + [int(rng.integers(3, 6)) for _ in range(depth - 1)] + [int(rng.integers(1, 4))]
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        if integer:
            W = rng.integers(-2, 3, size=(b, a)).astype(float)
            bias = np.zeros(b) if seed % 2 == 0 else rng.integers(-1, 2, size=b).astype(float)
        else:
            W, bias = rng.normal(size=(b, a)), rng.normal(size=b)
        layers.append((W, bias))
    if integer:
        box = (-np.ones(sizes[0]), np.ones(sizes[0]))
    else:
        low = rng.uniform(-2, 0, size=sizes[0])
        box = (low, low + rng.uniform(0.2, 3.0, size=sizes[0]))
    return ReLUNetwork(layers), box


@pytest.mark.parametrize("norm", ["1", "inf"])
@pytest.mark.parametrize("seed, integer", [(0, False), (1, False), (4, False), (9, False), (102, True),
                                           (108, True), (110, True), (112, True)])
def test_milp_equals_enumerate(seed, integer, norm):
    net, box = random_net(seed, integer)
    reference = lipschitz_deep(net, "enumerate", norm=norm, domain=box)
    result = lipschitz_deep(net, "milp", norm=norm, domain=box, time_limit=120)
    assert reference.status is Status.OPTIMAL
    assert result.status is Status.OPTIMAL, result.message
    assert result.value == pytest.approx(reference.value, rel=1e-9, abs=1e-12)
    assert result.upper == pytest.approx(reference.value, rel=1e-9, abs=1e-12)
    assert Box(*box).contains_interior(result.witness)
    assert result.certificate["layer_sizes"] == net.hidden_sizes


def test_cuts_are_used_and_proven():
    """A bias-free net on a box around 0: every pattern is feasible at x = 0 in the closed big-M model."""
    net, box = random_net(108, integer=True)
    result = lipschitz_deep(net, "milp", norm="inf", domain=box)
    assert result.status is Status.OPTIMAL
    assert result.stats["cuts"] >= 1 and 1 < result.stats["rounds"] <= result.stats["cuts"] + 1


@pytest.mark.parametrize("norm, domain, field", [(2, ([0.0] * 3, [1.0] * 3), "norm"), ("inf", None, "domain"),
                                                  (1, None, "domain")])
def test_refuses_l2_and_global(norm, domain, field):
    net = ReLUNetwork([(np.ones((2, 3)), None), (np.ones((2, 2)), None), (np.ones((1, 2)), None)])
    with pytest.raises(InvalidInputError) as info:
        lipschitz_deep(net, "milp", norm=norm, domain=domain)
    assert info.value.field == field
    if field == "domain":
        assert "large box is not a safe stand-in" in str(info.value)
    else:
        assert "not linear" in str(info.value)


def test_round_limit_and_time_limit_keep_a_valid_bracket():
    net, box = random_net(108, integer=True)
    exact = lipschitz_deep(net, "enumerate", norm="inf", domain=box).value
    stopped = lipschitz_deep(net, "milp", norm="inf", domain=box, node_limit=1)
    assert stopped.status is Status.NODE_LIMIT
    assert stopped.lower <= exact * (1 + 1e-9) and stopped.upper >= exact * (1 - 1e-9)
    timed = lipschitz_deep(net, "milp", norm="inf", domain=box, time_limit=1e-9)
    assert timed.status is Status.TIME_LIMIT
    assert timed.upper >= exact * (1 - 1e-9)
    assert timed.lower is None or timed.lower <= exact * (1 + 1e-9)


def published_boxes():
    if not (NETWORKS / "published.json").is_file():
        return [pytest.param(None, None, marks=pytest.mark.skip(reason=f"shared networks not found at {NETWORKS}"))]
    index = json.loads((NETWORKS / "published.json").read_text())
    return [pytest.param(name, entry, id=f"{name}-l{entry['norm']}")
            for name, record in sorted(index.items()) for entry in record["published"]
            if entry["box"] is not None and entry["norm"] in ("1", "inf")]


@pytest.mark.parametrize("name, entry", published_boxes())
def test_published_box_constants(name, entry):
    net = ReLUNetwork.from_dict(json.loads((NETWORKS / f"{name}.json").read_text()))
    low, high = entry["box"]
    box = Box(np.full(net.n_inputs, float(low)), np.full(net.n_inputs, float(high)))
    result = lipschitz_deep(net, "milp", norm=entry["norm"], domain=box, time_limit=300)
    assert result.status is Status.OPTIMAL, result.message
    assert result.value == pytest.approx(entry["value"], rel=1e-9)
    assert result.upper == pytest.approx(entry["value"], rel=1e-9)
    assert box.contains_interior(result.witness)


@pytest.mark.parametrize("norm", ["1", "inf"])
def test_the_last_layers_sign_rows_leave_one_round_on_full_dimensional_regions(norm):
    """Gaussian weights and biases: every pattern the closed model allows has a full-dimensional region, so the
    first optimum is realizable; a last hidden layer whose binaries were not tied to the signs of ``z`` would
    pick unrealizable patterns and need cuts."""
    rng = np.random.default_rng(5)
    net = ReLUNetwork([(rng.normal(size=(8, 3)), rng.normal(size=8)), (rng.normal(size=(6, 8)), rng.normal(size=6)),
                       (rng.normal(size=(2, 6)), rng.normal(size=2))])
    box = (-3 * np.ones(3), 3 * np.ones(3))
    result = lipschitz_deep(net, "milp", norm=norm, domain=box, time_limit=120)
    reference = lipschitz_deep(net, "enumerate", norm=norm, domain=box)
    assert result.status is Status.OPTIMAL and result.value == pytest.approx(reference.value, rel=1e-9)
    assert (result.stats["rounds"], result.stats["cuts"]) == (1, 0)
