"""One entry point for every depth: lipexact.lipschitz sends one hidden layer to the two-layer solvers and
deeper networks to lipexact.deep, whatever form the network comes in."""

import json

import pytest
import torch

import lipexact
from lipexact.deep.network import ReLUNetwork
from lipexact.entry import as_any_network, lipschitz
from lipexact.network import TwoLayerReLU
from lipexact.result import Status
from reductions.validation import InvalidInputError

LAYERS = [([[1.0, -1.0], [0.5, 2.0], [-1.0, 0.3]], [0.1, -0.2, 0.3]), ([[1.0, -2.0, 0.5], [0.2, 1.0, -1.0]], [0.0, 0.1]),
          ([[1.5, -0.5]], [0.0])]


def test_one_hidden_layer_in_any_form_goes_to_the_two_layer_solvers():
    two = TwoLayerReLU([[1.0, 2.0], [-1.0, 0.5]], [[1.0, -1.0]], b1=[0.1, 0.2])
    forms = [two, ReLUNetwork.from_two_layer(two), ReLUNetwork.from_two_layer(two).to_dict(), two.to_torch()]
    values = set()
    for form in forms:
        assert isinstance(as_any_network(form), TwoLayerReLU)
        result = lipschitz(form)
        assert result.status is Status.OPTIMAL and result.stats["auto"] == "brute"
        values.add(round(result.value, 12))
    assert len(values) == 1


def test_deep_networks_go_to_the_deep_search_from_every_form():
    net = ReLUNetwork(LAYERS)
    forms = [net, net.to_dict(), net.to_torch()]
    results = [lipschitz(form, norm="inf", domain=([-1, -1], [1, 1])) for form in forms]
    for result in results:
        assert result.status is Status.OPTIMAL and result.stats["auto"] == "bnb"
        assert result.certificate["layer_sizes"] == [3, 2]
    assert len({round(r.value, 12) for r in results}) == 1
    assert lipexact.lipschitz is lipschitz


def test_two_layer_methods_are_refused_for_deep_networks():
    with pytest.raises(InvalidInputError, match="method"):
        lipschitz(ReLUNetwork(LAYERS), method="milp")


def test_solve_cli_reads_relu_network_json_and_saved_modules(tmp_path, capsys):
    from lipexact.solve import main

    net = ReLUNetwork(LAYERS)
    document = tmp_path / "net.json"
    document.write_text(json.dumps(net.to_dict()))
    saved = tmp_path / "net.pt"
    torch.save(net.to_torch(), saved)
    out = tmp_path / "out.json"
    assert main([str(document), "--box", "-1", "1", "--norm", "1", "-o", str(out)]) == 0
    from_json = json.loads(out.read_text())
    assert main([str(saved), "--box", "-1", "1", "--norm", "1", "-o", str(out)]) == 0
    from_module = json.loads(out.read_text())
    assert from_json["status"] == from_module["status"] == "optimal"
    assert from_json["value"] == pytest.approx(from_module["value"], rel=1e-12)
    assert main([str(document), "--method", "milp"]) == 2   # a two-layer method on a deep network: bad input
    assert "method" in capsys.readouterr().err


def test_a_sequential_with_other_modules_is_refused():
    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1))
    with pytest.raises(InvalidInputError):
        lipschitz(model)


def test_auto_solves_two_layer_l1_and_linf_by_the_per_vertex_search():
    import numpy as np

    rng = np.random.default_rng(3)
    net = TwoLayerReLU(rng.standard_normal((40, 3)), rng.standard_normal((1, 40)), rng.standard_normal(40))
    box = ([-20.0] * 3, [20.0] * 3)  # every hyperplane crosses it
    for norm, domain in (("inf", box), ("1", box), ("inf", None)):
        routed = lipschitz(net, norm=norm, domain=domain)
        assert routed.stats["auto"] == "vertices" and routed.status is Status.OPTIMAL, routed.message
        direct = lipschitz(net, method="bnb", norm=norm, domain=domain)
        assert direct.status is Status.OPTIMAL and routed.value == pytest.approx(direct.value, rel=1e-9)
    assert lipschitz(net, norm=2, domain=box, time_limit=5).stats["auto"] != "vertices"


def test_auto_hands_two_layer_nets_with_many_unstable_units_on_a_box_to_the_big_m_milp(monkeypatch):
    import numpy as np

    import lipexact.exact.vertices as vertices

    monkeypatch.setattr(vertices, "MAX_FUNCTIONALS", 4)  # 2^3 vertices: too many for the per-vertex search now
    rng = np.random.default_rng(3)
    net = TwoLayerReLU(rng.standard_normal((40, 3)), rng.standard_normal((1, 40)), rng.standard_normal(40))
    box = ([-20.0] * 3, [20.0] * 3)  # every hyperplane crosses it
    routed = lipschitz(net, norm="inf", domain=box)
    assert routed.stats["auto"] == "deep milp" and routed.status is Status.OPTIMAL, routed.message
    direct = lipschitz(net, method="bnb", norm="inf", domain=box)
    assert direct.status is Status.OPTIMAL
    assert routed.value == pytest.approx(direct.value, rel=1e-9)
    # l2, a small box with few unstable units, or no box: the two-layer solvers
    assert lipschitz(net, norm=2, domain=box, time_limit=5).stats["auto"] != "deep milp"
    assert lipschitz(net, norm="inf", domain=([0.0] * 3, [1e-3] * 3)).stats["auto"] != "deep milp"
    assert lipschitz(net, norm="inf", time_limit=5).stats["auto"] != "deep milp"
