import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lipexact.norms import jacobian_norm, jacobian_norms, parse_norm
from reductions.validation import InvalidInputError

from .strategies import integer_matrices


@given(integer_matrices(st.integers(1, 4), st.integers(1, 4)))
def test_induced_norms_match_numpy_and_their_definition(J):
    assert jacobian_norm(J, 2) == pytest.approx(np.linalg.norm(J, 2))
    assert jacobian_norm(J, 1) == pytest.approx(np.linalg.norm(J, 1))
    assert jacobian_norm(J, "inf") == pytest.approx(np.linalg.norm(J, np.inf))
    # ||J||_{p->p} >= ||J e||_p / ||e||_p on random directions
    for e in np.random.default_rng(0).normal(size=(20, J.shape[1])):
        for p, name in ((1, "1"), (2, "2"), (np.inf, "inf")):
            assert np.linalg.norm(J @ e, p) <= jacobian_norm(J, name) * np.linalg.norm(e, p) + 1e-9


def test_stacks_and_scalar_outputs():
    stack = np.array([[[3.0, 4.0]], [[1.0, -1.0]]])
    np.testing.assert_allclose(jacobian_norms(stack, "2"), [5.0, np.sqrt(2)])
    np.testing.assert_allclose(jacobian_norms(stack, "inf"), [7.0, 2.0])


@pytest.mark.parametrize("name, canonical", [("L2", "2"), ("l_1", "1"), (" Infinity ", "inf"), ("l_infinity", "inf"),
                                             (float("inf"), "inf"), (1.0, "1"), ("inf->inf", "inf")])
def test_norm_spellings(name, canonical):
    assert parse_norm(name) == canonical


@pytest.mark.parametrize("bad", [3, "fro", True, None, 0.5, float("-inf"), "l3"])
def test_unknown_norms_are_rejected(bad):
    with pytest.raises(InvalidInputError) as error:
        parse_norm(bad)
    assert error.value.field == "norm"


@given(st.integers(0, 2 ** 32 - 1), st.sampled_from([(3, 10), (10, 3), (2, 2), (16, 40), (5, 1), (17, 17)]),
       st.integers(-300, 300), st.booleans())
def test_spectral_norms_of_stacks_match_the_svd(seed, shape, exponent, low_rank):
    """The Gram route (small sides) agrees with the SVD to a few ulps, at any scale and for rank-deficient
    matrices; (17, 17) takes the SVD itself."""
    rng = np.random.default_rng(seed)
    J = rng.standard_normal((6,) + shape)
    if low_rank:
        J = J[..., :, :1] @ rng.standard_normal((6, 1, shape[1]))
    J = np.ldexp(J, exponent)
    expected = np.linalg.norm(J, ord=2, axis=(-2, -1))
    np.testing.assert_allclose(jacobian_norms(J, "2"), expected, rtol=1e-13, atol=0)


def test_spectral_norms_of_non_finite_matrices_are_never_finite():
    """A non-finite matrix gets no finite norm: NaN, inf, or the SVD's refusal (as before the Gram route)."""
    for bad in (np.inf, np.nan):
        J = np.ones((2, 3, 4))
        J[1, 0, 0] = bad
        try:
            values = jacobian_norms(J, "2")
        except np.linalg.LinAlgError:
            continue
        assert values[0] == pytest.approx(np.sqrt(12.0)) and not np.isfinite(values[1])
