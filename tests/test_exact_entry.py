import numpy as np
import pytest

from lipexact import TwoLayerReLU, lipschitz
from lipexact.exact import METHODS, choose_method
from lipexact.exact.problem import validate_problem
from reductions.validation import InvalidInputError

NET = TwoLayerReLU([[1.0, 2.0], [-1.0, 0.5], [0.0, 1.0]], [[1.0, -2.0, 0.5]], b1=[0.1, 0.2, -0.3])


def test_accepts_a_torch_sequential_and_reports_the_auto_choice():
    result = lipschitz(NET.to_torch())
    assert result.status.value == "optimal" and result.stats["auto"] == "brute"
    assert "auto" in result.message and result.timings["total"] >= 0
    assert result.value == pytest.approx(lipschitz(NET, method="brute").value)


def test_auto_picks_branch_and_bound_for_wide_networks():
    wide = TwoLayerReLU(np.ones((30, 2)), np.ones((1, 30)))
    assert choose_method(validate_problem(wide))[0] == "bnb"


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(method="magic"), "method"),
        (dict(norm="fro"), "norm"),
        (dict(time_limit=0), "time_limit"),
        (dict(time_limit=float("nan")), "time_limit"),
        (dict(seed=-1), "seed"),
        (dict(domain=([0.0], [1.0])), "domain"),
    ],
)
def test_bad_arguments_name_their_field(kwargs, field):
    with pytest.raises(InvalidInputError) as error:
        lipschitz(NET, **kwargs)
    assert error.value.field == field


def test_bad_network_is_rejected():
    with pytest.raises(InvalidInputError) as error:
        lipschitz([[1.0]])
    assert error.value.field == "net"


def test_registry_names_every_method():
    assert set(METHODS) == {"brute", "enumerate", "bnb", "milp"}
