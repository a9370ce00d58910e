"""lipexact/bounds/sdp/inert.py: hidden units no Jacobian sees, removed before LipSDP solves."""

import itertools
import math

import numpy as np
import pytest

import lipexact.bounds.sdp.lipsdp as lipsdp_module
import lipexact.bounds.sdp.skip as skip_module
from lipexact.bounds.sdp.inert import constant, drop_units, expand_multipliers, inert_masks, restrict_multipliers
from lipexact.bounds.sdp.lipsdp import certified_solution
from lipexact.bounds.sdp.skip import certified_skip_bound


def largest_completion(chain, skip=None):
    """max ||J||_2 over every 0/1 slope pattern of the hidden units (realizable or not): below any valid bound."""
    widths = [W.shape[0] for W in chain[:-1]]
    best = 0.0
    for bits in itertools.product((0.0, 1.0), repeat=sum(widths)):
        d, at = np.array(bits), 0
        J = np.eye(chain[0].shape[1])
        for j, (W, width) in enumerate(zip(chain[:-1], widths)):
            J = W @ J + (skip if j == 1 and skip is not None else 0.0)
            J = d[at:at + width][:, None] * J
            at += width
        best = max(best, float(np.linalg.norm(chain[-1] @ J, 2)))
    return best


def pruned_chain(seed, sizes=(3, 4, 3, 1)):
    rng = np.random.default_rng(seed)
    chain = [rng.standard_normal((o, i)) for i, o in zip(sizes[:-1], sizes[1:])]
    chain[0][1] = 0.0        # layer 1, unit 2: zero row in (a constant unit)
    chain[1][:, 3] = 0.0     # layer 1, unit 4: zero column out
    chain[1][2] = 0.0        # layer 2, unit 3: zero row in
    return chain


def recording(monkeypatch, module):
    seen = []
    original = module.barrier_lipsdp

    def barrier(weights, **options):
        seen.append([np.asarray(w).shape for w in weights])
        return original(weights, **options)

    monkeypatch.setattr(module, "barrier_lipsdp", barrier)
    return seen


def test_masks_follow_exact_zeros_only_and_repeat_until_stable():
    W1 = np.array([[1.0, 0.0], [0.0, 0.0], [1e-300, 0.0]])   # a tiny weight is a weight: unit 3 stays
    W2 = np.array([[1.0, 1.0, 1.0], [0.0, 5.0, 0.0]])         # unit 2 of layer 2 reads only the constant unit 2
    W3 = np.array([[2.0, 3.0]])
    keep = inert_masks([W1, W2, W3])
    assert [mask.tolist() for mask in keep] == [[True, False, True], [True, False]]
    assert [W.tolist() for W in drop_units([W1, W2, W3], keep)] == [[[1.0, 0.0], [1e-300, 0.0]], [[1.0, 1.0]],
                                                                     [[2.0]]]
    assert inert_masks([np.ones((2, 2)), np.ones((1, 2))]) is None           # nothing to remove
    dead = inert_masks([np.ones((2, 2)), np.zeros((1, 2)), np.ones((1, 1))])
    assert constant(dead) and [mask.tolist() for mask in dead] == [[False, False], [False]]
    with_skip = inert_masks([np.zeros((1, 2)), np.ones((2, 1)), np.ones((1, 2))], skip=np.ones((2, 2)))
    assert not constant(with_skip, skip=True) and with_skip[1].all() and not with_skip[0].any()


def test_multipliers_are_restricted_and_expanded_by_the_masks():
    keep = [np.array([True, False, True]), np.array([False, True])]
    assert [t.tolist() for t in restrict_multipliers([np.array([1.0, 9.0, 2.0]), np.array([7.0, 3.0])], keep)] == \
        [[1.0, 2.0], [3.0]]
    assert restrict_multipliers([np.array([1.0, 2.0]), np.array([3.0])], keep) is None   # other shapes: no hint
    assert restrict_multipliers(None, keep) is None
    assert [t.tolist() for t in expand_multipliers([np.array([1.0, 2.0]), np.array([3.0])], keep)] == \
        [[1.0, 2.0, 2.0], [3.0, 3.0]]


@pytest.mark.parametrize("seed", range(4))
def test_certified_solution_solves_without_inert_units_and_still_bounds_every_completion(seed, monkeypatch):
    chain = pruned_chain(seed)
    seen = recording(monkeypatch, lipsdp_module)
    value, multipliers = certified_solution(chain, tol=1e-6)
    # 4 -> 2 and 3 -> 2 units (the solver sees the first layer compressed to its 2 x 2 factor)
    assert seen and all(shapes == [(2, 2), (2, 2), (1, 2)] for shapes in seen)
    assert math.isfinite(value) and value >= largest_completion(chain)
    assert [t.shape for t in multipliers] == [(4,), (3,)]
    reduced, _ = certified_solution(drop_units(chain, inert_masks(chain)), tol=1e-6)
    assert value == reduced
    solves = len(seen)
    again, _ = certified_solution(chain, start=multipliers, target=value * 1.001)   # a full-shape start still fits:
    assert again == value and len(seen) == solves                                 # it certifies, nothing is solved


def test_a_chain_with_a_layer_of_inert_units_has_bound_zero(monkeypatch):
    chain = [np.ones((2, 3)), np.zeros((2, 2)), np.ones((1, 2))]
    seen = recording(monkeypatch, lipsdp_module)
    assert certified_solution(chain)[0] == 0.0 == largest_completion(chain)
    assert not seen


@pytest.mark.parametrize("seed", range(4))
def test_the_skip_bound_solves_without_inert_units_and_still_bounds_every_completion(seed, monkeypatch):
    chain = pruned_chain(seed)
    skip = np.random.default_rng(seed + 10).standard_normal((3, 3))
    skip[2] = 0.0   # layer 2, unit 3: no row in the chain and none in the skip
    seen = recording(monkeypatch, skip_module)
    value, multipliers = certified_skip_bound(chain, skip, tol=1e-6)
    assert seen and all(shapes == [(2, 3), (2, 2), (1, 2)] for shapes in seen)
    assert math.isfinite(value) and value >= largest_completion(chain, skip)
    assert [t.shape for t in multipliers] == [(4,), (3,)]
    kept = skip.copy()
    kept[2] = 1.0   # with a skip row the unit is kept (it carries the input)
    assert [mask.tolist() for mask in inert_masks(chain, kept)][1] == [True, True, True]


def test_when_only_the_skip_carries_the_input_the_plain_chain_is_bounded():
    rng = np.random.default_rng(3)
    chain = [np.zeros((2, 3)), rng.standard_normal((3, 2)), rng.standard_normal((1, 3))]
    skip = rng.standard_normal((3, 3))
    value, multipliers = certified_skip_bound(chain, skip, tol=1e-6)
    plain, _ = certified_solution([skip, chain[2]], tol=1e-6)
    assert value == plain and value >= largest_completion(chain, skip)
    assert [t.shape for t in multipliers] == [(2,), (3,)]


def test_the_measurement_switch_keeps_every_unit(monkeypatch):
    import lipexact.bounds.sdp.inert as inert

    chain = pruned_chain(0)
    monkeypatch.setattr(inert, "REMOVE", False)
    assert inert_masks(chain) is None
    seen = recording(monkeypatch, lipsdp_module)
    certified_solution(chain, tol=1e-6)
    assert seen and seen[0][1] == (3, 4)   # the second layer's matrix with all four first-layer units
