"""Hypothesis strategies shared by every test module. Matrices are built, not filtered.

Integer weights keep arithmetic exact; PSD matrices are built as ``B @ B.T``.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lipexact.network import TwoLayerReLU


def integer_matrices(rows, cols, low: int = -3, high: int = 3):
    """Integer matrices of a given shape (shape parts may be strategies)."""
    rows = st.just(rows) if isinstance(rows, int) else rows
    cols = st.just(cols) if isinstance(cols, int) else cols
    return st.tuples(rows, cols).flatmap(
        lambda shape: hnp.arrays(np.int64, shape, elements=st.integers(low, high))
    )


@st.composite
def two_layer_nets(draw, max_inputs: int = 4, max_hidden: int = 8, max_outputs: int = 1,
                   bias: bool | None = None, low: int = -3, high: int = 3):
    """Small two-layer ReLU networks with integer weights (biases drawn when ``bias`` is None)."""
    n = draw(st.integers(1, max_inputs))
    h = draw(st.integers(1, max_hidden))
    m = draw(st.integers(1, max_outputs))
    W1 = draw(integer_matrices(h, n, low, high))
    W2 = draw(integer_matrices(m, h, low, high))
    with_bias = draw(st.booleans()) if bias is None else bias
    b1 = draw(hnp.arrays(np.int64, (h,), elements=st.integers(low, high))) if with_bias else None
    return TwoLayerReLU(W1, W2, b1)


@st.composite
def psd_integer_matrices(draw, max_size: int = 8, low: int = -3, high: int = 3):
    """Integer PSD matrices ``B @ B.T`` with ``B`` of shape (k, r)."""
    k = draw(st.integers(1, max_size))
    r = draw(st.integers(1, max_size))
    B = draw(integer_matrices(k, r, low, high))
    return B @ B.T


@st.composite
def boxes_for(draw, dimension: int, low: int = -3, high: int = 3):
    """Integer-cornered boxes of a given dimension with a non-empty interior."""
    from lipexact.domain import Box

    corner = draw(hnp.arrays(np.int64, (dimension,), elements=st.integers(low, high - 1)))
    width = draw(hnp.arrays(np.int64, (dimension,), elements=st.integers(1, 3)))
    return Box(corner.astype(float), (corner + width).astype(float))


# ---------------------------------------------------------------------------------- reductions
@st.composite
def maxcut_weights(draw, min_nodes: int = 1, max_nodes: int = 8, low: int = -3, high: int = 3):
    """Symmetric integer weight matrices with a zero diagonal (negative weights when ``low < 0``)."""
    n = draw(st.integers(min_nodes, max_nodes))
    upper = draw(hnp.arrays(np.int64, (n, n), elements=st.integers(low, high)))
    upper = np.triu(upper, 1)
    return upper + upper.T


def maxcut_instances(min_nodes: int = 1, max_nodes: int = 8, low: int = -3, high: int = 3):
    """:class:`reductions.instances.MaxCut` with integer weights in ``[low, high]``."""
    from reductions.instances import MaxCut

    return maxcut_weights(min_nodes, max_nodes, low, high).map(MaxCut)


@st.composite
def symmetric_integer_matrices(draw, max_size: int = 8, low: int = -5, high: int = 5):
    """Symmetric integer matrices (any diagonal)."""
    n = draw(st.integers(1, max_size))
    upper = np.triu(draw(hnp.arrays(np.int64, (n, n), elements=st.integers(low, high))))
    return upper + np.triu(upper, 1).T


def qubo_instances(max_size: int = 8, low: int = -5, high: int = 5):
    """:class:`reductions.instances.QUBO` with a symmetric integer ``Q``."""
    from reductions.instances import QUBO

    return symmetric_integer_matrices(max_size, low, high).map(QUBO)


# ---------------------------------------------------------------------------------- exact solvers
@st.composite
def exact_problems(draw, max_inputs: int = 3, max_hidden: int = 7, max_outputs: int = 2):
    """``(net, norm, domain)`` with real weights: any norm, the global constant or a box."""
    net = draw(two_layer_nets(max_inputs=max_inputs, max_hidden=max_hidden, max_outputs=max_outputs))
    norm = draw(st.sampled_from(["2", "1", "inf"]))
    domain = draw(st.none() | boxes_for(net.n_inputs))
    return net, norm, domain


# ---------------------------------------------------------------------------------- exact solvers (milp)
@st.composite
def exact_cases(draw, min_hidden: int = 1, max_hidden: int = 8, max_inputs: int = 3, max_outputs: int = 3,
                bias: bool | None = None, with_box: bool | None = None, low: int = -3, high: int = 3,
                norms: tuple = ("2", "1", "inf")):
    """``(net, norm, domain)`` for exact solvers: norm "2" with a scalar output, "1" / "inf" with up to
    ``max_outputs`` outputs (the norm drawn from ``norms``); a box domain when ``with_box`` (drawn when None).
    Few inputs and many hidden units make unrealizable patterns (and so realizability cuts) common."""
    norm = draw(st.sampled_from(list(norms)))
    n = draw(st.integers(1, max_inputs))
    h = draw(st.integers(min_hidden, max_hidden))
    m = 1 if norm == "2" else draw(st.integers(1, max_outputs))
    W1 = draw(integer_matrices(h, n, low, high))
    W2 = draw(integer_matrices(m, h, low, high))
    with_bias = draw(st.booleans()) if bias is None else bias
    b1 = draw(hnp.arrays(np.int64, (h,), elements=st.integers(low, high))) if with_bias else None
    box = draw(st.booleans()) if with_box is None else with_box
    domain = draw(boxes_for(n)) if box else None
    return TwoLayerReLU(W1, W2, b1), norm, domain


# ---------------------------------------------------------------------------------- exact solvers (invariance)
def log_uniform_scales(low: float = 1e-6, high: float = 1e6):
    """Positive floats ``10**e`` with ``e`` uniform in ``[log10(low), log10(high)]`` (built, not filtered)."""
    import math

    return st.floats(math.log10(low), math.log10(high), allow_nan=False, allow_infinity=False).map(
        lambda e: float(10.0 ** e))


def unit_rescalings(size: int, low: float = 1e-6, high: float = 1e6):
    """Arrays of ``size`` positive log-uniform factors ``a_i`` in ``[low, high]``: the rescaling
    ``W1[i] *= a_i``, ``b1[i] *= a_i``, ``W2[:, i] /= a_i`` leaves the network's function unchanged."""
    return st.lists(log_uniform_scales(low, high), min_size=size, max_size=size).map(
        lambda values: np.array(values, dtype=np.float64))


def exactly_scalable_cases(max_hidden: int = 6, max_inputs: int = 3, max_outputs: int = 2):
    """:func:`exact_cases` with integer weights and biases in ``{-2, ..., 2}``: multiplying an entry by any
    float ``s`` is then exact (``fl(2 s) = 2 fl(s)``), so a scaled or unit-rescaled copy of the network has
    exactly the same hyperplane arrangement (no rounding can open or close a region)."""
    return exact_cases(max_hidden=max_hidden, max_inputs=max_inputs, max_outputs=max_outputs, low=-2, high=2)
