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


@pytest.mark.parametrize("bad", [3, "fro", True, None, 0.5])
def test_unknown_norms_are_rejected(bad):
    with pytest.raises(InvalidInputError) as error:
        parse_norm(bad)
    assert error.value.field == "norm"
