"""The pattern SDP as a node bound of the two-layer branch and bound (scalar output, l2).

A node of :mod:`lipexact.exact.tree` fixes some hyperplane groups on or off; its completions have the
gradient ``c + sum_{g free} t_g a_g`` with ``c`` the node's Jacobian (the base and the fixed-on groups) and
``t in {0,1}^k``. The best completion over all ``t`` (realizable or not) is the binary norm maximum that
:func:`lipexact.bounds.sdp.pattern.binary_norm_bound` relaxes by Shor's SDP and certifies (a proven float,
rigorous for the node's float data). :class:`SdpNodeBound` runs the usual bounds first
(:class:`~lipexact.exact.bounds.NodeBound`: cheap bounds, then the weighted eigenvalue descent) and, on the
nodes that still survive with at least ``min_free`` free groups, solves the SDP by the interior-point method
of :mod:`lipexact.bounds.sdp.pm1_ipm`, stopping as soon as a dual point below the incumbent is found (or as soon
as its primal objective shows that none exists). Once the SDP has stopped pruning nodes on a search it is only
sampled (see :class:`SdpNodeBound`).

Why it can beat the default: the default strong bound (the weighted eigenvalue bound of
:mod:`lipexact.exact.bounds`) converges to the same relaxation but stops after a few descent steps; on the
QUBO networks of the shared instances its root value is 3-28% from the optimum where the SDP's is 0.7-12%
(``benchmarks/pattern_sdp.py``), and bnb then proves bqp50 instances with about 30x fewer nodes.

Data error: the node's float data differ from the exact network's products and sums by rounding. With
``a_u = W2_u W1_u`` every float Jacobian of the search (a sum of at most ``G + h + 2`` rounded terms) is within
``2 gamma_{G+h+4} sum_u ||a_u||_2`` of the exact one (each product and each sum is one rounding per entry),
and this amount, computed once and rounded up, is added to every SDP bound. So a prune by this bound is
decided by a proven number, not by a floating-point tolerance (the tree's own ``threshold`` remains its
relative tolerance for calling two values equal).
"""

from __future__ import annotations

import math

import numpy as np

from lipexact.bounds.sdp.pattern import binary_norm_bound
from lipexact.bounds.sdp.psd import gamma, upper
from lipexact.exact.bounds import NodeBound
from reductions.validation import require

__all__ = ["NODE_BOUNDS", "SdpNodeBound", "data_error"]

#: Node bounds of :func:`lipexact.exact.bnb.solve_bnb`: the default eigenvalue bounds, or those plus the SDP.
NODE_BOUNDS = ("eigen", "sdp")


def data_error(W1: np.ndarray, W2: np.ndarray, groups: int) -> float:
    """Upper bound on the distance between any float Jacobian of the search and the exact one (module docstring).

    Examples
    --------
    >>> data_error(np.eye(2), np.ones((1, 2)), 2) < 1e-14
    True
    """
    W1 = np.asarray(W1, dtype=np.float64)
    W2 = np.asarray(W2, dtype=np.float64)
    h = W1.shape[0]
    sizes = np.sqrt(np.sum(W1 * W1, axis=1)) * np.sqrt(np.sum(W2 * W2, axis=0))
    total = upper(math.fsum(sizes.tolist()), 3 * (W1.shape[1] + W2.shape[0]) + 4)
    return upper(2.0 * gamma(groups + h + 4) * total, 2)


class SdpNodeBound(NodeBound):
    """:class:`~lipexact.exact.bounds.NodeBound` with the certified pattern SDP as the last refinement.

    Parameters
    ----------
    A, norm, lookahead, exhaustive, eigen_iterations, basis, abandon
        As for :class:`~lipexact.exact.bounds.NodeBound` (``norm`` must be ``"2"`` and the output scalar).
    error : float
        The data error of :func:`data_error`, added to every SDP bound.
    min_free : int
        Nodes with fewer free groups skip the SDP (the enumeration and eigenvalue bounds are as good there).
    tolerance : float
        Relative duality gap at which the interior-point method stops (it also stops once below the incumbent).
    probe, min_prune_rate, sample_every
        Adaptive use: after ``probe`` SDP calls, the SDP runs only while at least ``min_prune_rate`` of its calls
        pruned a node the eigenvalue bound had kept, and otherwise on every ``sample_every``-th candidate node
        only (to notice when the rate recovers). Measured prune rates (calls that pruned / calls): 3% on random
        5-32-1 and 5-48-1 networks (where the SDP costs 2-3x the time for 5% fewer nodes), 17-33% on the
        Max-Cut / QUBO networks (where it pays). ``min_prune_rate=0`` calls it on every candidate node.

    Examples
    --------
    >>> A = np.array([[[1.0, 0.0]], [[0.0, 1.0]], [[1.0, 1.0]]])
    >>> bound = SdpNodeBound(A, "2", error=0.0, exhaustive=0, eigen_iterations=0, min_free=1)
    >>> strong, _ = bound.refine(np.zeros((1, 2)), np.arange(3), -np.inf, None)
    >>> 2 * 2 ** 0.5 <= strong < 2.8285, bound.sdp_calls
    (True, 1)
    """

    def __init__(self, A: np.ndarray, norm: str, *, error: float, min_free: int = 8, tolerance: float = 1e-7,
                 probe: int = 64, min_prune_rate: float = 0.1, sample_every: int = 8, **options):
        super().__init__(A, norm, **options)
        require(norm == "2" and self.m == 1, "node_bound", '"eigen" ("sdp" needs the l2 norm and a scalar output)',
                f'"sdp" with norm {norm!r} and {self.m} outputs')
        require(math.isfinite(error) and error >= 0, "error", "a finite number >= 0", repr(error))
        self.error = float(error)
        self.min_free = int(min_free)
        self.tolerance = float(tolerance)
        self.probe = int(probe)
        self.min_prune_rate = float(min_prune_rate)
        self.sample_every = max(1, int(sample_every))
        self.sdp_calls = 0
        self.sdp_tightened = 0
        self.sdp_pruned = 0
        self.sdp_skipped = 0
        self._sampled = 0
        self.sdp_seconds = 0.0

    def refine(self, jacobian: np.ndarray, free: np.ndarray, threshold: float, state: np.ndarray | None
               ) -> tuple[float, np.ndarray | None]:
        """The eigenvalue refinement, then (if the node survives it) the certified SDP bound."""
        bound, state = super().refine(jacobian, free, threshold, state)
        if free.size < max(self.min_free, self.exhaustive + 1) or bound <= threshold:
            return bound, state
        if self.sdp_calls >= self.probe and self.sdp_pruned < self.min_prune_rate * self.sdp_calls:
            self._sampled += 1  # the SDP has not been paying on this search: only sample it
            if self._sampled % self.sample_every:
                self.sdp_skipped += 1
                return bound, state
        import time

        start = time.perf_counter()
        self.sdp_calls += 1
        target = threshold - self.error if threshold > self.error else None
        result = binary_norm_bound(jacobian.reshape(-1), self.A[free].reshape(free.size, -1), solver="ipm",
                                   target=target, tolerance=self.tolerance)
        self.sdp_seconds += time.perf_counter() - start
        if result.proven:
            value = upper(result.value + self.error, 1)
            if value < bound:
                self.sdp_tightened += 1
                self.sdp_pruned += value <= threshold
                bound = value
        return bound, state
