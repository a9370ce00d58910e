"""The region walk: unit crossings land in the intended neighbouring region; the walk only improves."""

import numpy as np
import torch

from lipexact import TwoLayerReLU, lipschitz
from lipexact.bounds.device import as_module
from lipexact.bounds.jacobians import JacobianEvaluator
from lipexact.bounds.regions import ActivationUnits, _exact_flip_moves, _flip_moves, _line_moves, _probe, region_walk


def _random_net(seed, n, h, m, bias=True):
    rng = np.random.default_rng(seed)
    return TwoLayerReLU(rng.normal(size=(h, n)), rng.normal(size=(m, h)), rng.normal(size=h) if bias else None)


def _setup(net):
    module = as_module(net, device="cpu")
    return JacobianEvaluator(module, (net.n_inputs,), torch.float64, torch.device("cpu")), ActivationUnits(module)


def test_exact_flip_moves_cross_exactly_the_chosen_unit():
    # first-layer units: the linearization is exact, so a valid move flips the chosen unit and no other
    net = _random_net(5, n=3, h=9, m=2)
    evaluator, units = _setup(net)
    X = torch.randn(6, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    _, U, V = evaluator.top(X)
    state = _probe(units, X, U, V)
    assert "G" in state and torch.allclose(state["G"][0], torch.tensor(net.W1))
    index = torch.arange(9).expand(6, 9)
    moved, valid = _exact_flip_moves(state, X, index)
    assert int(valid.sum()) >= 30  # most flips are possible from most points
    for p in range(6):
        before = net.pattern(X[p].numpy())
        for i in range(9):
            if valid[p, i]:
                after = net.pattern(moved[p, i].numpy())
                assert np.flatnonzero(after != before).tolist() == [i]
                assert np.all(np.abs(net.preactivation(moved[p, i].numpy())) > 1e-9)  # off every kink


def test_gradient_moves_and_line_moves_leave_the_region():
    # the fallback moves (models with many units) cross the chosen unit; line moves land mid-region
    net = _random_net(7, n=2, h=6, m=1)
    evaluator, units = _setup(net)
    X = torch.randn(4, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    _, U, V = evaluator.top(X)
    state = _probe(units, X, U, V)
    moved, valid = _flip_moves(units, X, state, torch.arange(6).expand(4, 6))
    for p in range(4):
        before = net.pattern(X[p].numpy())
        for i in range(6):
            if valid[p, i]:
                assert net.pattern(moved[p, i].numpy())[i] != before[i]
    line, ok = _line_moves(state, X, V, 4, 1.0)
    assert line.shape == (4, 8, 2)
    for p in range(4):
        for c in range(8):
            if ok[p, c]:
                assert np.all(np.abs(net.preactivation(line[p, c].numpy())) > 1e-9)


def test_region_walk_never_decreases_and_reaches_the_exact_constant():
    net = _random_net(3, n=3, h=8, m=2)
    evaluator, units = _setup(net)
    X = torch.randn(6, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    start = evaluator.norms(X)
    seen = []
    rounds, optima = region_walk(evaluator, units, X, 40, 8, 8, 1.0, lambda points, values: seen.append(
        (points.clone(), values.clone())))
    assert 0 < rounds <= 40 and optima >= 6  # without fresh starts every point ends at a local maximum
    best = max(float(values.max()) for _, values in seen)
    assert best >= float(start.max()) * (1 - 1e-12)
    for points, values in seen:  # every recorded value is a lower estimate of that point's norm
        assert torch.all(values <= evaluator.norms(points) * (1 + 1e-9))
    assert best <= lipschitz(net, method="brute").value * (1 + 1e-9)
