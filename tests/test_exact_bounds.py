"""Every node bound is at least the best completion, found by brute force over {0,1}^k."""

import itertools
import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lipexact.exact.bounds import (
    NodeBound,
    aligned_basis,
    entrywise_bound,
    euclidean_basis_bound,
    exhaustive_value,
    gram_eigenvalue_bound,
    principal_basis,
    triangle_bound,
    weighted_eigenvalue_bound,
)
from lipexact.norms import jacobian_norms

NORMS = ["2", "1", "inf"]


def best_completion(J, A, norm):
    """max over t in {0,1}^k of ||J + sum t_g A_g||, by listing every t."""
    best = -math.inf
    for t in itertools.product((0.0, 1.0), repeat=A.shape[0]):
        M = J + np.tensordot(np.array(t), A, axes=1) if A.shape[0] else J
        best = max(best, float(jacobian_norms(M, norm)))
    return best


@st.composite
def nodes(draw, max_free=7, max_m=3, max_n=5, scale=None):
    """A node: the fixed Jacobian J (m, n) and the free contributions A (k, m, n), integer or scaled."""
    k = draw(st.integers(0, max_free))
    m = draw(st.integers(1, max_m))
    n = draw(st.integers(1, max_n))
    J = draw(hnp.arrays(np.int64, (m, n), elements=st.integers(-4, 4))).astype(float)
    A = draw(hnp.arrays(np.int64, (k, m, n), elements=st.integers(-3, 3))).astype(float)
    factor = draw(st.sampled_from([1.0, 1e-6, 1e6, 0.37])) if scale is None else scale
    return J * factor, A * factor


def at_least(bound, truth):
    assert bound >= truth * (1 - 1e-12) - 1e-300, (bound, truth)


@given(nodes(), st.sampled_from(NORMS))
@settings(max_examples=80)
def test_entrywise_and_triangle_bounds_are_valid(node, norm):
    J, A = node
    truth = best_completion(J, A, norm)
    at_least(entrywise_bound(J, A, norm), truth)
    at_least(entrywise_bound(J, A, norm, block=1), truth)
    at_least(triangle_bound(J, A, norm), truth)


@given(nodes(max_m=1), st.integers(0, 4))
@settings(max_examples=80)
def test_euclidean_bounds_are_valid(node, lookahead):
    J, A = node
    c, rows = J[0], A[:, 0, :]
    truth = best_completion(J, A, "2")
    at_least(euclidean_basis_bound(c, rows, lookahead=lookahead), truth)
    at_least(euclidean_basis_bound(c, rows, bases=[np.eye(c.size)]), truth)
    at_least(gram_eigenvalue_bound(c, rows, iterations=5)[0], truth)
    at_least(weighted_eigenvalue_bound(c, rows, iterations=5)[0], truth)
    at_least(weighted_eigenvalue_bound(c, rows, iterations=40, target=0.5 * truth)[0], truth)


@given(nodes(max_m=1, max_free=6), st.integers(0, 2 ** 31 - 1))
@settings(max_examples=60)
def test_any_weights_and_any_basis_give_valid_bounds(node, seed):
    J, A = node
    c, rows = J[0], A[:, 0, :]
    truth = best_completion(J, A, "2")
    rng = np.random.default_rng(seed)
    random_basis = np.linalg.qr(rng.standard_normal((c.size, c.size)))[0].T
    at_least(euclidean_basis_bound(c, rows, bases=[random_basis]), truth)
    weights = rng.normal(size=rows.shape[0] + 1) * 3
    at_least(weighted_eigenvalue_bound(c, rows, iterations=0, log_weights=weights)[0], truth)
    at_least(gram_eigenvalue_bound(c, rows, iterations=1, u=rng.normal(size=rows.shape[0] + 1) * 5)[0], truth)


@given(nodes(max_free=6), st.sampled_from(NORMS), st.integers(0, 3))
@settings(max_examples=80)
def test_node_bound_and_refinement_are_valid_and_exhaustive_is_exact(node, norm, lookahead):
    J, A = node
    G = A.shape[0]
    bound = NodeBound(A, norm, lookahead=lookahead, exhaustive=2, eigen_iterations=10)
    free = np.arange(G)
    truth = best_completion(J, A, norm)
    at_least(bound(J, free), truth)
    strong, state = bound.refine(J, free, -math.inf, None)
    at_least(strong, truth)
    if state is not None and G:
        child = bound.child_state(state, 0)
        J1 = J + A[0]
        strong_child, _ = bound.refine(J1, free[1:], -math.inf, child)
        at_least(strong_child, best_completion(J1, A[1:], norm))
    assert math.isclose(exhaustive_value(J, A, norm), truth, rel_tol=1e-9, abs_tol=1e-300)


def test_bounds_are_tight_where_they_should_be():
    rows = np.array([[1.0, 0.0], [0.0, 1.0]])
    # one free row: the basis bound along the row is exact
    assert math.isclose(euclidean_basis_bound(np.array([1.0, 0.0]), rows[:1], lookahead=0), 2.0, rel_tol=1e-9)
    # scalar output, norm 1 (max |g_j|): the entrywise bound is exact over the box
    J, A = np.array([[1.0, -2.0]]), np.array([[[3.0, 0.0]], [[0.0, -1.0]]])
    assert math.isclose(entrywise_bound(J, A, "1"), best_completion(J, A, "1"), rel_tol=1e-9)
    # the eigenvalue bounds reach the maximum on an easy instance
    truth = 2 * math.sqrt(2)
    three = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    assert weighted_eigenvalue_bound(np.zeros(2), three, iterations=100)[0] <= truth * 1.001


def test_bases():
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(5, 4))
    for Q in (principal_basis(rows), aligned_basis(rng.normal(size=4)), aligned_basis(np.array([1.0, 0, 0, 0]))):
        np.testing.assert_allclose(Q @ Q.T, np.eye(4), atol=1e-12)
    d = np.array([3.0, -4.0, 0.0, 0.0])
    np.testing.assert_allclose(aligned_basis(d)[0], d / 5)
    assert aligned_basis(np.zeros(4)) is None
