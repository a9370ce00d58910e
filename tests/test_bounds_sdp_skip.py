"""lipexact/bounds/sdp/skip.py: LipSDP-neuron with a skip from the input into the second hidden layer."""

import itertools
import math

import numpy as np
import pytest

from lipexact.bounds.sdp.skip import certified_skip_bound, certified_skip_rho


def skip_net(seed, sizes=(3, 4, 3, 2)):
    rng = np.random.default_rng(seed)
    chain = [rng.standard_normal((o, i)) for i, o in zip(sizes[:-1], sizes[1:])]
    return chain, rng.standard_normal((sizes[2], sizes[0]))


def largest_completion(chain, skip):
    """max ||J||_2 over every 0/1 slope pattern of the hidden units (realizable or not): below any valid bound."""
    W1, W2, rest = chain[0], chain[1], chain[2:]
    widths = [W.shape[0] for W in chain[:-1]]
    best = 0.0
    for bits in itertools.product((0.0, 1.0), repeat=sum(widths)):
        d = np.array(bits)
        d1, d2 = d[:widths[0]], d[widths[0]:widths[0] + widths[1]]
        J = d2[:, None] * (W2 @ (d1[:, None] * W1) + skip)
        at = widths[0] + widths[1]
        for W, width in zip(rest[:-1], widths[2:]):
            J = d[at:at + width][:, None] * (W @ J)
            at += width
        best = max(best, float(np.linalg.norm(rest[-1] @ J, 2)))
    return best


@pytest.mark.parametrize("seed", range(6))
def test_the_bound_is_above_every_completion_and_certifies(seed):
    sizes = (3, 4, 3, 2) if seed % 2 else (2, 3, 3, 2, 1)
    chain, skip = skip_net(seed, sizes)
    value, multipliers = certified_skip_bound(chain, skip, tol=1e-8)
    assert math.isfinite(value) and value >= largest_completion(chain, skip)
    rho, _ = certified_skip_rho(chain, skip, multipliers)  # the multipliers re-certify on the weights as given
    assert math.sqrt(rho) <= value * (1 + 1e-9)


def test_without_the_skip_it_is_lipsdp_and_scaling_is_exact():
    from lipexact.bounds.sdp.lipsdp import certified_solution

    chain, skip = skip_net(7)
    plain, _ = certified_solution(chain, tol=1e-8)
    zero, _ = certified_skip_bound(chain, np.zeros_like(skip), tol=1e-8)
    assert zero == pytest.approx(plain, rel=1e-5)
    value, _ = certified_skip_bound(chain, skip, tol=1e-8)
    # f scaled by 2^20 in its first layer and skip (the same network times 2^20): the bound scales exactly
    scaled, _ = certified_skip_bound([np.ldexp(chain[0], 20)] + chain[1:], np.ldexp(skip, 20), tol=1e-8)
    assert scaled == pytest.approx(math.ldexp(value, 20), rel=1e-5)


def test_no_proof_from_bad_multipliers_or_shapes():
    chain, skip = skip_net(8)
    zeros = [np.zeros(w.shape[0]) for w in chain[:-1]]
    assert certified_skip_rho(chain, skip, zeros) == (math.inf, None)  # T = 0: the last block is not negative
    assert certified_skip_rho(chain, skip, zeros[:1])[1] is None  # a missing layer
    assert certified_skip_rho(chain, skip[:, :2], [np.ones(w.shape[0]) for w in chain[:-1]])[1] is None
    assert certified_skip_rho(chain[:2], skip, [np.ones(4)])[1] is None  # one hidden layer: nowhere to skip to
    assert certified_skip_bound(chain, np.full_like(skip, np.nan)) == (math.inf, None)


def test_a_rho_below_the_optimum_is_never_proven():
    """relu(relu(x1) + x2): L = sqrt(2). Whatever multipliers, the proven rho stays at least 2 (the certificate
    is Rump's test on the float matrix with its formation error, not the solver's number)."""
    chain = [np.array([[1.0, 0.0]]), np.array([[1.0]]), np.array([[1.0]])]
    skip = np.array([[0.0, 1.0]])
    rng = np.random.default_rng(0)
    for _ in range(20):
        T = [rng.random(1) * 4 + 0.01, rng.random(1) * 4 + 0.01]
        rho, _ = certified_skip_rho(chain, skip, T)
        assert rho >= 2.0


def test_the_skip_block_enters_the_formation_error(monkeypatch):
    """The float products s t of the skip block are rounded like the chain's w t: their error bound u |S^T| T_2
    (plus the subnormal allowance) is in the E that Rump's test is given."""
    from lipexact.bounds.sdp import skip as skip_module
    from lipexact.bounds.sdp.certify import UNIT_ROUNDOFF

    chain, skip = skip_net(9)
    seen = []
    real = skip_module.raise_until_proven
    monkeypatch.setattr(skip_module, "raise_until_proven", lambda matrix, E, *rest: seen.append(E) or
                        real(matrix, E, *rest))
    from lipexact.bounds.sdp.barrier import feasible_multipliers

    T = feasible_multipliers(chain)  # -N positive definite: the test runs
    certified_skip_rho(chain, skip, T)
    n0, start = chain[0].shape[1], chain[0].shape[1] + chain[0].shape[0]
    block = seen[0][:n0, start:start + chain[1].shape[0]]
    assert np.all(block >= np.abs(skip.T) * T[1][None, :] * UNIT_ROUNDOFF)
    assert np.array_equal(seen[0][start:start + chain[1].shape[0], :n0], block.T)
