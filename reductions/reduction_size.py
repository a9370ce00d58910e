"""Refuse, before reducing, an instance whose reduction to LIP-CST surely cannot fit in memory.

Above :mod:`reductions.chain` (it runs the chain's cheap steps) and :mod:`reductions.sizes` (the memory
arithmetic), which is why it is not in the leaf module ``sizes``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from reductions.chain import to_lipcst
from reductions.instances import QUBO, ConvexQuadratic01, LipCst
from reductions.sizes import dense_bytes, require_fits

__all__ = ["REDUCE_COPIES", "require_reduction_fits"]


#: Dense ``n x n`` temporaries alive at once while a Max-Cut or QUBO is reduced (about 16 measured on a
#: 3000-node path graph; 8 keeps the estimate a lower one).
REDUCE_COPIES = 8


def require_reduction_fits(instance: Any, via: str | None, field: str) -> None:
    """Refuse an instance whose reduction to LIP-CST surely cannot fit in the memory available.

    Two lower estimates are checked in turn: the dense ``n x n`` temporaries of the chain
    (:data:`REDUCE_COPIES` of them), then, once the quadratic ``H`` is known (the cheap steps of the chain
    are run), the network: a diagonally dominant ``H`` gets the incidence factor, at least one column
    per non-zero pair ``H_ij``, so ``M1`` has at least ``n`` (``2n`` via pm1) rows times that many
    columns, held at least twice while built. A :class:`LipCst` instance needs nothing more.

    Examples
    --------
    >>> from reductions.instances import MaxCut
    >>> require_reduction_fits(MaxCut.from_edges(3, [(0, 1), (1, 2)]), None, "g.rudy") is None
    True
    """
    if isinstance(instance, LipCst):
        return
    nodes = instance.n + (1 if isinstance(instance, QUBO) else 0)
    dense = dense_bytes(nodes, nodes, copies=REDUCE_COPIES)
    require_fits(dense, field, f"n = {instance.n}")
    chain = to_lipcst(instance, via)
    problem = instance
    for reduction in chain.reductions[:-1]:
        problem, _ = reduction.apply(problem)
    H = np.asarray(problem.H)
    diagonal = np.abs(np.diagonal(H))
    pairs = int(np.count_nonzero(H) - np.count_nonzero(diagonal)) // 2
    dominant = bool(np.all(np.diagonal(H) >= np.abs(H).sum(axis=1) - diagonal))
    columns = pairs if dominant else 1  # an eigen factor's rank is not known in advance
    rows = H.shape[0] * (1 if isinstance(problem, ConvexQuadratic01) else 2)
    require_fits(dense + dense_bytes(rows, columns, copies=2), field,
                 f"n = {instance.n} with {pairs} non-zero pairs (a LIP-CST network of at least {rows} x {columns})")
