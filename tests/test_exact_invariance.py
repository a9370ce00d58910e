"""Scale invariance of the exact solvers, and thin cones / thin boxes with known answers.

For every method and norm, globally and on a box:

- scaling (W1, b1) by ``s`` and W2 by ``r`` (``s, r`` in [1e-6, 1e6]; the box stays fixed) multiplies the
  constant by ``s r`` (the regions do not move);
- rescaling hidden unit i (row i of W1 and b1_i times ``a_i > 0``, column i of W2 times ``1 / a_i``) leaves
  the function, hence the constant, unchanged.

The networks have integer weights in {-2, ..., 2} (``exactly_scalable_cases``), so that multiplying by any
float is exact: the scaled copies have exactly the same hyperplane arrangement, and the properties hold
exactly for the float data (a rounding could otherwise open a sliver region and change the truth). Two
``optimal`` results must agree to a relative 1e-9; a result that is not optimal must bracket the other's
optimal value (and two brackets must overlap); any status other than ``optimal`` (a stopped search, an
undecided region reported as ``error``) is judged by its bracket alone.

The known-answer tests are the traps of ``../shared/DESIGN.md`` section 2: cones of angular width eps, slabs
of relative width eps, boxes of relative width eps and boxes far from the origin, eps from 1e-3 to 1e-12.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lipexact import TwoLayerReLU, lipschitz
from lipexact.result import Status
from tests.strategies import exactly_scalable_cases, log_uniform_scales, unit_rescalings

METHODS = ["brute", "enumerate", "bnb", "milp"]
NORMS = ["2", "1", "inf"]
REL = 1e-9
#: Absolute floor, in units of the magnitude || |W2| |W1| || (which bounds every ||J(s)||), as in
#: benchmarks/certify_fuzz.py: evaluating J(s) in floating point errs by ~h * 1e-16 of it, so a constant that
#: cancels to zero comes out as ~1e-16 M, not 0.
FLOOR = 1e-13
TIME_LIMIT = 10.0


def _solve(net: TwoLayerReLU, method: str, norm: str, domain):
    return lipschitz(net, method, norm=norm, domain=domain, time_limit=TIME_LIMIT, seed=0)


def _describe(result) -> str:
    return (f"{result.status.value} value={result.value!r} bracket=[{result.lower!r}, {result.upper!r}] "
            f"({result.message})")


def _contains(result, value: float, slack: float) -> bool:
    """Whether ``result``'s proven bracket contains ``value`` (relative ``REL`` plus ``slack``)."""
    low = result.lower is None or result.lower * (1 - REL) - slack <= value
    high = result.upper is None or value <= result.upper * (1 + REL) + slack
    return low and high


def assert_consistent(original, transformed, factor: float, slack: float = 0.0) -> None:
    """``transformed`` is the result on a network whose true constant is ``factor`` times the original's.

    Both optimal: values agree to ``REL`` relative (plus ``slack``). One optimal: the other's bracket
    contains its (scaled) value. Neither: the scaled brackets overlap.
    """
    text = f"original {_describe(original)}; transformed {_describe(transformed)}; factor {factor!r}"
    if original.status is Status.OPTIMAL and transformed.status is Status.OPTIMAL:
        expected = original.value * factor
        assert abs(transformed.value - expected) <= REL * abs(expected) + slack, text
    elif original.status is Status.OPTIMAL:
        assert _contains(transformed, original.value * factor, slack), text
    elif transformed.status is Status.OPTIMAL:
        assert _contains(original, transformed.value / factor, slack / factor), text
    else:
        def scaled(x):
            return None if x is None else x * factor

        lows = [x for x in (scaled(original.lower), transformed.lower) if x is not None]
        highs = [x for x in (scaled(original.upper), transformed.upper) if x is not None]
        if lows and highs:
            assert max(lows) <= min(highs) * (1 + 2 * REL) + slack, text


def _magnitude(net: TwoLayerReLU, norm: str) -> float:
    """``|| |W2| |W1| ||``, an upper bound on every ``||J(s)||``."""
    M = np.abs(np.asarray(net.W2, dtype=float)) @ np.abs(np.asarray(net.W1, dtype=float))
    return float({"1": M.sum(axis=0).max(), "inf": M.sum(axis=1).max()}.get(norm, np.linalg.norm(M, 2)))


# ------------------------------------------------------------------------------------------- scaling
@pytest.mark.parametrize("method", METHODS)
@given(case=exactly_scalable_cases(), s=log_uniform_scales(), r=log_uniform_scales())
def test_scaling_the_weights_scales_the_constant(method, case, s, r):
    net, norm, domain = case
    b1 = None if net.b1 is None else net.b1 * s
    scaled = TwoLayerReLU(net.W1 * s, net.W2 * r, b1)
    slack = FLOOR * _magnitude(scaled, norm)
    assert_consistent(_solve(net, method, norm, domain), _solve(scaled, method, norm, domain), s * r, slack)


@pytest.mark.parametrize("method", METHODS)
@given(data=st.data())
def test_rescaling_hidden_units_keeps_the_constant(method, data):
    net, norm, domain = data.draw(exactly_scalable_cases(), label="case")
    a = data.draw(unit_rescalings(net.n_hidden), label="a")
    b1 = None if net.b1 is None else net.b1 * a
    rescaled = TwoLayerReLU(net.W1 * a[:, None], net.W2 / a[None, :], b1)
    # W2 / a_i rounds once per entry: each term of J(s) moves by one ulp, which only matters against a
    # constant that cancels to (near) zero, like the float evaluation of J(s) itself: FLOOR covers both.
    slack = FLOOR * _magnitude(net, norm)
    assert_consistent(_solve(net, method, norm, domain), _solve(rescaled, method, norm, domain), 1.0, slack)


# ------------------------------------------------------------------------------------------- known answers
def _g_norms(g) -> dict[str, float]:
    """The constant of a scalar-output network whose largest gradient is ``g`` (for norms 2, 1, inf)."""
    g = np.abs(np.asarray(g, dtype=float))
    return {"2": float(np.linalg.norm(g)), "1": float(g.max()), "inf": float(g.sum())}


def thin_cone(eps: float, sigma: float = 1.0, r: float = 1.0, box: bool = False):
    """W1 = sigma [[1, 0], [1, eps]], W2 = r [1, -1]: the wedges {x1 < 0 < x1 + eps x2} (gradient
    -r sigma (1, eps)) and {x1 + eps x2 < 0 < x1} (gradient r sigma (1, 0)) have angular width ~eps; without
    them the constant would be r sigma eps. On the box [-1, 1]^2 both wedges still meet the interior."""
    W1 = np.array([[sigma, 0.0], [sigma, sigma * eps]])
    net = TwoLayerReLU(W1, [[r, -r]])
    known = {"2": abs(r) * math.hypot(W1[1, 0], W1[1, 1]), "1": abs(r) * W1[1, 0],
             "inf": abs(r) * (W1[1, 0] + W1[1, 1])}
    return net, (([-1.0, -1.0], [1.0, 1.0]) if box else None), known


def thin_slab(eps: float, box: bool = False):
    """relu(0.5 x + 0.3) - relu(0.5 (1 + eps) x + 0.3): slope 0.5 on the slab -0.6 < x < -0.6 / (1 + eps)
    (relative width ~eps), slope -0.5 eps right of it, 0 left of it. On the box [-1, 0] too."""
    net = TwoLayerReLU([[0.5], [0.5 * (1 + eps)]], [[1.0, -1.0]], b1=[0.3, 0.3])
    assert 0.5 * (1 + eps) > 0.5  # the slab exists in the float data
    return net, (([-1.0], [0.0]) if box else None), _g_norms([0.5])


def relu_on_thin_box(t: float, eps: float):
    """relu(x) on [t, t + eps max(1, t)] with t > 0: slope 1 throughout."""
    upper = t + eps * max(1.0, t)
    assert upper > t
    return TwoLayerReLU([[1.0]], [[1.0]]), ([t], [upper]), _g_norms([1.0])


def kink_in_thin_box(t: float, eps: float):
    """relu(x) + 2 relu(x - k) on [t, t + w] (w = eps max(1, t)) with k in the middle: slope 3 on the thin
    right half, 1 on the left half."""
    upper = t + eps * max(1.0, t)
    k = t + (upper - t) / 2
    assert t < k < upper
    return TwoLayerReLU([[1.0], [1.0]], [[1.0, 2.0]], b1=[0.0, -k]), ([t], [upper]), _g_norms([3.0])


def far_box_2d():
    """2 relu(x1 - k) + relu(x2) on [1e6, 1e6 + 1e-3] x [-1, 1], k = 1e6 + 5e-4: gradient (2, 1) on a
    quarter of the box."""
    k = 1e6 + 5e-4
    net = TwoLayerReLU([[1.0, 0.0], [0.0, 1.0]], [[2.0, 1.0]], b1=[-k, 0.0])
    return net, ([1e6, -1.0], [1e6 + 1e-3, 1.0]), _g_norms([2.0, 1.0])


def far_box_1d():
    """relu(x) + 3 relu(x - (1e10 + 0.5)) on [1e10, 1e10 + 1]: slope 4 on the right half."""
    net = TwoLayerReLU([[1.0], [1.0]], [[1.0, 3.0]], b1=[0.0, -(1e10 + 0.5)])
    return net, ([1e10], [1e10 + 1.0]), _g_norms([4.0])


EPSILONS = [1e-3, 1e-6, 1e-9, 1e-12]
KNOWN = (
    [(f"cone-eps{e:g}-{scope}", lambda e=e, b=b: thin_cone(e, box=b)) for e in EPSILONS
     for scope, b in (("global", False), ("box", True))]
    + [(f"cone-eps1e-09-sigma{s:g}-r{r:g}", lambda s=s, r=r: thin_cone(1e-9, s, r))
       for s, r in ((1e-6, 1e6), (1e6, 1e-6), (1e-6, 1e-6), (1e6, 1e6))]
    + [(f"slab-eps{e:g}-{scope}", lambda e=e, b=b: thin_slab(e, b)) for e in EPSILONS
       for scope, b in (("global", False), ("box", True))]
    + [("slab-0.500000001", lambda: (TwoLayerReLU([[0.5], [0.500000001]], [[1.0, -1.0]], b1=[0.3, 0.3]), None,
                                     _g_norms([0.5])))]
    + [(f"relu-box-t{t:g}-eps{e:g}", lambda t=t, e=e: relu_on_thin_box(t, e)) for t in (0.1, 1e6, 1e10)
       for e in (1e-9, 1e-12)]
    + [(f"kink-box-t{t:g}-eps{e:g}", lambda t=t, e=e: kink_in_thin_box(t, e)) for t in (0.1, 1e6)
       for e in (1e-6, 1e-9, 1e-12)]
    + [("far-box-1e6-2d", far_box_2d), ("far-box-1e10-1d", far_box_1d)]
)


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("build", [b for _, b in KNOWN], ids=[name for name, _ in KNOWN])
def test_thin_regions_known_answers(build, method, norm):
    net, domain, known = build()
    result = _solve(net, method, norm, domain)
    text = f"{_describe(result)}; known {known[norm]!r}"
    if result.status is Status.OPTIMAL:
        assert math.isclose(result.value, known[norm], rel_tol=REL, abs_tol=0.0), text
    else:
        assert _contains(result, known[norm], 0.0), text
