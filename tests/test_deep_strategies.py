"""Hypothesis strategies for deep ReLU networks (shared by the tests/test_deep_*.py modules; no tests here)."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lipexact.deep.network import ReLUNetwork


@st.composite
def deep_nets(draw, depths=(3, 4), max_inputs: int = 3, max_width: int = 5, max_outputs: int = 2,
              max_hidden: int | None = None, integer: bool | None = None, bias: bool | None = None):
    """Random deep ReLU networks: ``depth`` affine layers, integer (-3..3) or float (quarter steps plus a
    random float) weights, with or without biases; at most ``max_hidden`` ReLU units in all."""
    depth = draw(st.sampled_from(depths))
    n = draw(st.integers(1, max_inputs))
    widths = []
    budget = max_hidden if max_hidden is not None else max_width * (depth - 1)
    for layer in range(depth - 1):
        left = depth - 2 - layer  # layers still to come, each needs one unit
        widths.append(draw(st.integers(1, max(1, min(max_width, budget - left)))))
        budget -= widths[-1]
    widths.append(draw(st.integers(1, max_outputs)))
    use_integer = draw(st.booleans()) if integer is None else integer
    use_bias = draw(st.booleans()) if bias is None else bias
    layers = []
    previous = n
    for width in widths:
        if use_integer:
            W = draw(hnp.arrays(np.int64, (width, previous), elements=st.integers(-3, 3)))
            b = draw(hnp.arrays(np.int64, (width,), elements=st.integers(-3, 3))) if use_bias else None
        else:
            # magnitudes 0 or >= 1e-3: products of weights 1e-245 put regions at |x| ~ 1e245, beyond what the
            # float LP behind the brute-force oracle proposes reliably (the search then ends in error, correctly)
            values = st.one_of(st.integers(-8, 8).map(lambda k: k / 4),
                               st.floats(-2, 2, allow_nan=False).filter(lambda v: v == 0 or abs(v) >= 1e-3))
            W = draw(hnp.arrays(np.float64, (width, previous), elements=values))
            b = draw(hnp.arrays(np.float64, (width,), elements=values)) if use_bias else None
        layers.append((W, b))
        previous = width
    return ReLUNetwork(layers)


@st.composite
def boxes(draw, dimension: int):
    """Boxes with quarter-step corners and sides 1/4 .. 2."""
    low = draw(hnp.arrays(np.int64, (dimension,), elements=st.integers(-8, 7))) / 4
    side = draw(hnp.arrays(np.int64, (dimension,), elements=st.integers(1, 8))) / 4
    return low, low + side
