"""Scale-free solving (lipexact/exact/scaling.py) and the regression cases of the weight-scale issue."""

import math

import numpy as np
import pytest

from lipexact import TwoLayerReLU, lipschitz
from lipexact.exact.problem import validate_problem
from lipexact.exact.scaling import normalize, scale_back
from lipexact.result import LipschitzResult, Status

METHODS = ["brute", "enumerate", "bnb", "milp"]
RNG = np.random.default_rng(3)
W1, B1, W2 = RNG.normal(size=(5, 3)), RNG.normal(size=5), RNG.normal(size=(1, 5))
REFERENCE = {norm: lipschitz(TwoLayerReLU(W1, W2, b1=B1), "brute", norm=norm).value for norm in ("2", "1", "inf")}


@pytest.mark.parametrize("scale", [1e-100, 1e-30, 1e-8, 1e-3, 1e6, 1e100, 1e150])
@pytest.mark.parametrize("method", METHODS)
def test_every_method_gives_the_scaled_constant_at_every_representable_scale(method, scale):
    # f = W2 relu(W1 x + b1) with W1, b1, W2 all scaled by s: the constant is s^2 times the original
    net = TwoLayerReLU(W1 * scale, W2 * scale, b1=B1 * scale)
    for norm, value in REFERENCE.items():
        result = lipschitz(net, method, norm=norm)
        assert result.status is Status.OPTIMAL, result.message
        assert result.value == pytest.approx(value * scale * scale, rel=1e-9)
        assert result.lower <= result.value <= result.upper


@pytest.mark.parametrize("scale", [1e-170, 1e160])
def test_a_constant_that_does_not_fit_in_float64_is_an_error_with_an_outward_bracket(scale):
    net = TwoLayerReLU(W1 * scale, W2 * scale, b1=B1 * scale)
    truth = REFERENCE["2"] * scale * scale   # underflows / overflows in float64
    result = lipschitz(net, "bnb")
    assert result.status is Status.ERROR and "does not fit in float64" in result.message
    assert result.lower is None or result.lower <= truth
    assert result.upper is None or result.upper >= truth or math.isinf(result.upper)


def test_large_rows_are_solved_not_raised():
    # used to raise NumericalTroubleError out of lipschitz()
    result = lipschitz(TwoLayerReLU([[1e9, 0.0], [1e9, 1.0]], [[1.0, -1.0]]))
    assert result.status is Status.OPTIMAL and result.value == pytest.approx(1e9, rel=1e-9)


def test_normalization_is_exact_and_balances_each_unit():
    net = TwoLayerReLU([[3e-7, 0.0], [0.0, 1e8]], [[2e20, 1.0]], b1=[1e-7, 0.0])
    scaling = normalize(net)
    W1 = np.asarray(scaling.net.W1)
    assert np.all((np.abs(W1).max(axis=1) >= 0.5) & (np.abs(W1).max(axis=1) < 1.0))
    # undo the power-of-two scaling: the original weights come back bit for bit
    row_exponent = np.frexp(np.abs(np.asarray(net.W1)).max(axis=1))[1]
    assert np.array_equal(np.ldexp(W1, row_exponent[:, None]), net.W1)
    assert np.array_equal(np.ldexp(np.asarray(scaling.net.W2), scaling.exponent - row_exponent[None, :]), net.W2)


def test_integer_networks_are_not_rescaled():
    net = TwoLayerReLU([[1, 2], [3, 4]], [[5, 6]])
    assert normalize(net).net is net and normalize(net).exponent == 0


def test_scale_back_refuses_a_witness_that_disagrees_with_the_original_network():
    problem = validate_problem(TwoLayerReLU([[1.0, 0.0], [0.0, 1.0]], [[3.0, 4.0]]))
    scaling = normalize(problem.net)
    honest = lipschitz(scaling.net, "brute")
    assert scale_back(honest, scaling, problem).status is Status.OPTIMAL
    lying = honest.replace(lower=honest.lower * 2, value=honest.value * 2, upper=honest.upper * 2)
    refused = scale_back(lying, scaling, problem)
    assert refused.status is Status.ERROR and "re-evaluates" in refused.message
    on_a_kink = honest.replace(witness=np.array([0.0, 1.0]))
    assert scale_back(on_a_kink, scaling, problem).status is Status.ERROR


def test_rounded_multiples_follow_the_exact_semantics_in_every_method():
    # rows w, -3 w and -w / 3 built in floating point are distinct hyperplanes (1e-16 apart) in exact
    # arithmetic: every method must agree on that, so every bracket holds every other method's optimum
    rng = np.random.default_rng(5)
    for _ in range(4):
        w, b = rng.normal(size=3), rng.normal()
        net = TwoLayerReLU(np.array([w, -3 * w, -w / 3, rng.normal(size=3)]), rng.normal(size=(1, 4)),
                           b1=np.array([b, -3 * b, -b / 3, rng.normal()]))
        results = [lipschitz(net, method) for method in METHODS]
        for result in results:
            assert result.status in (Status.OPTIMAL, Status.ERROR), result.message
            assert result.lower is not None and result.upper is not None
        for optimal in (r for r in results if r.status is Status.OPTIMAL):
            for other in results:
                slack = 1e-9 * optimal.value
                assert other.lower - slack <= optimal.value <= other.upper + slack


def test_results_scale_back_exactly():
    result = LipschitzResult(Status.TIME_LIMIT, None, "bnb", lower=None, upper=0.75)
    problem = validate_problem(TwoLayerReLU([[1.0]], [[1.0]]))
    scaling = normalize(TwoLayerReLU([[1.0]], [[8.0]]))      # W1 -> 1/2, W2 -> 1/2: L = 2^5 L(normalized)
    scaled = scale_back(result, scaling, problem)
    assert scaling.exponent == 5 and scaled.upper == 24.0 and scaled.status is Status.TIME_LIMIT
