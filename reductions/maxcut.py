"""Max-Cut -> convex quadratic maximization on the hypercube.

With the Laplacian ``L = Diag(W 1) - W`` of the weight matrix ``W``:

- ``maxcut = max over s in {-1,1}^n of (1/4) s^T L s`` for any weights. ``L`` is PSD when the weights
  are non-negative; otherwise ``H = L + c I`` with the Gershgorin shift
  ``c = max_i 2 sum_j max(0, -w_ij)`` (an integer for integer weights, always ``>= -lambda_min(L)``)
  is PSD and ``s^T H s = s^T L s + c n``. So ``maxcut = (s^T H s - c n) / 4``
  (:class:`MaxCutToPM1`).
- ``cut(S) = s^T L s`` for the indicator ``s`` in {0,1}^n of ``S``, so with non-negative weights
  ``maxcut = max over s in {0,1}^n of s^T L s`` (:class:`MaxCutTo01`).

References
----------
Scaman, K. and Virmaux, A., NeurIPS 2018, arXiv:1805.10965 (the reduction chain);
Gershgorin, S., "Ueber die Abgrenzung der Eigenwerte einer Matrix", 1931.
"""

from __future__ import annotations

import math

import numpy as np

from reductions.base import InverseData, Reduction, Solution
from reductions.instances import ConvexQuadratic01, ConvexQuadraticPM1, MaxCut, Number

__all__ = ["MaxCutToPM1", "MaxCutTo01", "gershgorin_shift"]


def gershgorin_shift(graph: MaxCut) -> int:
    """The integer ``c = max_i 2 sum_j max(0, -w_ij)``; ``L + c I`` is PSD (and diagonally dominant).

    Row ``i`` of ``L`` has diagonal ``sum_j w_ij`` and off-diagonal absolute sum ``sum_j |w_ij|``, so
    every Gershgorin disc of ``L + c I`` lies in ``[0, inf)`` exactly when
    ``c >= 2 sum_j max(0, -w_ij)`` for every ``i``. Float weights are rounded up to an integer.

    Examples
    --------
    >>> gershgorin_shift(MaxCut.from_edges(3, [(0, 1, -2), (1, 2, -1), (0, 2, 5)]))
    6
    """
    negative = np.maximum(-graph.weights, 0).sum(axis=1)
    worst = negative.max(initial=0)
    return int(2 * worst) if graph.is_integer else int(math.ceil(2 * float(worst)))


class MaxCutToPM1(Reduction):
    """Max-Cut -> :class:`ConvexQuadraticPM1` with ``H = L + c I``; ``maxcut = (s^T H s - c n) / 4``.

    Accepts every graph (negative weights included). Certificates: side ``S`` <-> ``s = 2 [i in S] - 1``.

    Examples
    --------
    >>> import networkx as nx
    >>> target, inverse = MaxCutToPM1().apply(MaxCut.from_networkx(nx.cycle_graph(5)))
    >>> value, s = target.brute_force()
    >>> value, MaxCutToPM1().invert(Solution.of(target, s), inverse).value
    (16, 4)
    """

    name = "maxcut_to_pm1"
    source_type = MaxCut
    target_type = ConvexQuadraticPM1

    def _apply(self, graph: MaxCut):
        shift = gershgorin_shift(graph)
        H = graph.laplacian() + shift * np.eye(graph.n, dtype=graph.weights.dtype)
        offset: Number = shift * graph.n
        target = ConvexQuadraticPM1(H, offset=offset, scale=4)
        return target, InverseData(self.name, graph, offset=offset, scale=4)

    def _invert_certificate(self, solution, inverse):
        return np.asarray(solution.certificate) > 0

    def _forward(self, solution, inverse):
        target, _ = self._apply(inverse.source)
        return Solution.of(target, np.where(inverse.source.certificate(solution.certificate), 1, -1))


class MaxCutTo01(Reduction):
    """Max-Cut with non-negative weights -> :class:`ConvexQuadratic01` with ``H = L``; ``maxcut = max s^T L s``.

    Certificates: side ``S`` <-> indicator ``s`` of ``S`` (the identity on 0/1 vectors).

    Examples
    --------
    >>> reduction = MaxCutTo01()
    >>> reduction.accepts(MaxCut.from_edges(2, [(0, 1, -1)]))
    False
    >>> target, inverse = reduction.apply(MaxCut.from_edges(3, [(0, 1), (1, 2)]))
    >>> target.brute_force()
    (2, array([0, 1, 0]))
    """

    name = "maxcut_to_01"
    source_type = MaxCut
    target_type = ConvexQuadratic01
    requirement = "non-negative edge weights (L must be PSD)"

    def _accepts(self, graph: MaxCut) -> bool:
        return not graph.has_negative_weights

    def _apply(self, graph: MaxCut):
        return ConvexQuadratic01(graph.laplacian()), InverseData(self.name, graph)

    def _invert_certificate(self, solution, inverse):
        return np.asarray(solution.certificate).astype(bool)

    def _forward(self, solution, inverse):
        target = ConvexQuadratic01(inverse.source.laplacian())
        return Solution.of(target, inverse.source.certificate(solution.certificate).astype(np.int64))
