import numpy as np
import pytest
import torch
from torch import nn

from lipexact.bounds.sdp.lmi import check_multipliers, lipsdp_matrix, mlp_weights
from lipexact.deep.network import ReLUNetwork
from lipexact.network import TwoLayerReLU
from reductions.validation import InvalidInputError


def _quadratic_form(weights, multipliers, rho, z_blocks):
    """z^T M z written out term by term from the LipSDP-neuron derivation (Fazlyab et al. 2019, alpha=0, beta=1)."""
    x0 = z_blocks[0]
    value = -rho * x0 @ x0
    for i, t in enumerate(multipliers, start=1):
        pre = weights[i - 1] @ z_blocks[i - 1]
        post = z_blocks[i]
        value += 2 * np.sum(t * pre * post) - 2 * np.sum(t * post * post)
    last = weights[-1] @ z_blocks[-1]
    return value + last @ last


@pytest.mark.parametrize("sizes", [(3, 4, 2), (2, 3, 4, 1), (3, 2, 2, 3, 2)])
def test_matrix_matches_the_quadratic_form(sizes):
    rng = np.random.default_rng(len(sizes))
    weights = [rng.normal(size=(b, a)) for a, b in zip(sizes[:-1], sizes[1:])]
    multipliers = [rng.uniform(0, 2, size=b) for b in sizes[1:-1]]
    M = lipsdp_matrix(weights, multipliers, 1.7)
    assert np.allclose(M, M.T)
    for _ in range(5):
        blocks = [rng.normal(size=n) for n in sizes[:-1]]
        z = np.concatenate(blocks)
        assert np.isclose(z @ M @ z, _quadratic_form(weights, multipliers, 1.7, blocks), rtol=1e-10, atol=1e-10)


def test_one_hidden_layer_is_the_design_form():
    W0 = np.array([[1.0, 2.0], [0.0, -1.0], [3.0, 1.0]])
    W1 = np.array([[1.0, -2.0, 0.5]])
    t = np.array([0.5, 1.0, 2.0])
    M = lipsdp_matrix([W0, W1], [t], 3.0)
    T = np.diag(t)
    expected = np.block([[-3.0 * np.eye(2), W0.T @ T], [T @ W0, -2 * T + W1.T @ W1]])
    assert np.allclose(M, expected, rtol=0, atol=1e-15)


def test_mlp_weights_of_every_supported_model():
    net = TwoLayerReLU([[1, 2], [3, 4]], [[5, 6]], b1=[1, 1])
    assert [w.tolist() for w in mlp_weights(net)] == [[[1, 2], [3, 4]], [[5, 6]]]
    deep = ReLUNetwork([([[1, -1], [1, 1]], [0, -1]), ([[1, 1]], None), ([[2]], [3])])
    assert [w.shape for w in mlp_weights(deep)] == [(2, 2), (1, 2), (1, 1)]
    seq = nn.Sequential(nn.Flatten(), nn.Sequential(nn.Linear(4, 3), nn.ReLU()), nn.Dropout(0.1),
                        nn.Linear(3, 3), nn.ReLU(), nn.Identity(), nn.Linear(3, 1))
    weights = mlp_weights(seq)
    assert [w.shape for w in weights] == [(3, 4), (3, 3), (1, 3)]
    assert np.array_equal(weights[0], seq[1][0].weight.detach().double().numpy())
    assert weights[0].dtype == np.float64


@pytest.mark.parametrize("model, field", [
    (nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1)), "model[1]"),
    (nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1)), "model[1]"),
    (nn.Sequential(nn.ReLU(), nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)), "model[0]"),
    (nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1), nn.ReLU()), "model"),
    (nn.Sequential(nn.Linear(2, 3)), "weights"),
    (nn.Conv1d(1, 1, 2), "model"),
    ("not a model", "model"),
])
def test_mlp_weights_refuses_what_is_not_a_relu_mlp(model, field):
    with pytest.raises(InvalidInputError) as info:
        mlp_weights(model)
    assert info.value.field == field


def test_bad_multipliers_and_weights_are_refused():
    weights = [np.ones((2, 3)), np.ones((1, 2))]
    with pytest.raises(InvalidInputError, match="multipliers"):
        check_multipliers(weights, [[1.0, 2.0], [1.0]])
    with pytest.raises(InvalidInputError, match="multipliers"):
        lipsdp_matrix(weights, [[1.0, np.nan]], 1.0)
    with pytest.raises(InvalidInputError, match=r"weights\[0\]"):
        lipsdp_matrix([np.full((2, 3), np.inf), np.ones((1, 2))], [[1.0, 1.0]], 1.0)


class _Custom(nn.Module):  # not a Sequential: a functional ReLU in forward
    def __init__(self, activation=torch.relu):
        super().__init__()
        torch.manual_seed(0)
        self.inp, self.out, self.activation = nn.Linear(3, 5), nn.Linear(5, 2), activation

    def forward(self, x):
        return self.out(self.activation(self.inp(x)))


def test_mlp_weights_read_a_custom_class_through_its_fx_chain():
    model = _Custom()
    weights = mlp_weights(model)
    assert [w.shape for w in weights] == [(5, 3), (2, 5)]
    assert np.array_equal(weights[1], model.out.weight.detach().double().numpy())


def test_a_custom_class_that_is_not_a_relu_mlp_is_not_applicable():
    from lipexact.bounds.errors import NotApplicableError

    with pytest.raises(NotApplicableError) as info:
        mlp_weights(_Custom(torch.tanh))
    assert "Tanh" in str(info.value)
