"""QUBO (minimize ``x^T Q x`` over {0,1}^n) -> Max-Cut on ``n + 1`` nodes.

Node 0 marks the side of "x = 0"; node ``i + 1`` stands for ``x_i`` and ``x_i = 1`` exactly when it is
cut from node 0. With ``d_ij = [x_i != x_j] = x_i + x_j - 2 x_i x_j`` and the row sums
``r_i = sum_j Q_ij`` (diagonal included)::

    x^T Q x = sum_i Q_ii x_i + 2 sum_{i<j} Q_ij x_i x_j
            = sum_i Q_ii x_i + sum_{i<j} Q_ij (x_i + x_j - d_ij)
            = sum_i r_i x_i - sum_{i<j} Q_ij d_ij
            = -cut(y)

for the graph with ``w(i+1, j+1) = Q_ij`` (``i != j``) and ``w(0, i+1) = -r_i``, since ``x_i = [y_i+1 != y_0]``
and ``d_ij = [y_i+1 != y_j+1]``. So ``min x^T Q x = -maxcut``: value map ``offset = 0``, ``scale = -1``;
integer data stays integer.
"""

from __future__ import annotations

import numpy as np

from reductions.base import InverseData, Reduction, Solution
from reductions.instances import QUBO, MaxCut

__all__ = ["QUBOToMaxCut"]


class QUBOToMaxCut(Reduction):
    """QUBO -> Max-Cut on ``n + 1`` nodes with ``x^T Q x = -cut``.

    Certificates: a side assignment ``y`` maps to ``x_i = y_{i+1} xor y_0``; ``x`` maps to
    ``y = (False, x_1, ..., x_n)``.

    Examples
    --------
    >>> qubo = QUBO([[-3, 2], [2, -1]])
    >>> graph, inverse = QUBOToMaxCut().apply(qubo)
    >>> graph.weights.tolist()
    [[0, 1, -1], [1, 0, 2], [-1, 2, 0]]
    >>> value, side = graph.brute_force()
    >>> value, QUBOToMaxCut().invert(Solution.of(graph, side), inverse).value, qubo.brute_force()[0]
    (3, -3, -3)
    """

    name = "qubo_to_maxcut"
    source_type = QUBO
    target_type = MaxCut

    def _apply(self, qubo: QUBO):
        n = qubo.n
        Q = qubo.Q
        W = np.zeros((n + 1, n + 1), dtype=Q.dtype)
        W[1:, 1:] = Q - np.diag(np.diag(Q))
        W[0, 1:] = W[1:, 0] = -Q.sum(axis=1)
        return MaxCut(W), InverseData(self.name, qubo, offset=0, scale=-1)

    def _invert_certificate(self, solution, inverse):
        side = np.asarray(solution.certificate).astype(bool)
        return (side[1:] != side[0]).astype(np.int64)

    def _forward(self, solution, inverse):
        x = inverse.source.certificate(solution.certificate).astype(bool)
        graph, _ = self._apply(inverse.source)
        return Solution.of(graph, np.concatenate([[False], x]))
