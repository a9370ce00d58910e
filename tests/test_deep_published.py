"""The 7 published exact constants of ../shared/networks (LipBaB, ExLipBaB) reproduced with status optimal."""

import json
from pathlib import Path

import pytest

from lipexact.deep import lipschitz_deep
from lipexact.deep.network import ReLUNetwork
from lipexact.domain import as_box
from lipexact.result import Status

NETWORKS = Path(__file__).resolve().parents[2] / "shared" / "networks"
pytestmark = pytest.mark.skipif(not (NETWORKS / "published.json").is_file(),
                                reason=f"shared networks not found at {NETWORKS} (expected ../shared/networks "
                                       "beside the checkout)")


def cases():
    if not (NETWORKS / "published.json").is_file():
        return []
    index = json.loads((NETWORKS / "published.json").read_text())
    return [pytest.param(name, entry, id=f"{name}-l{entry['norm']}-{'global' if entry['box'] is None else 'box'}")
            for name, record in sorted(index.items()) for entry in record["published"]]


#: The plain enumeration (the oracle) runs on the networks with at most this many hidden units on a box and globally
#: (the shared ones have 10 and 25 on boxes, 12 globally: it proved the 4-6-6-3 net globally in 7 s, and did not finish
#: an 11-12-12-1 one, 24 units, globally in 25 minutes); larger ones, such as those held out for later checks, are
#: left to ``auto``, the path users take.
ORACLE_HIDDEN = {"box": 32, "global": 12}


@pytest.mark.parametrize("method", ["enumerate", "auto"])
@pytest.mark.parametrize("name, entry", cases())
def test_published_constant_is_reproduced_with_a_proof(name, entry, method):
    net = ReLUNetwork.from_dict(json.loads((NETWORKS / f"{name}.json").read_text()))
    scope = "global" if entry["box"] is None else "box"
    if method == "enumerate" and sum(net.hidden_sizes) > ORACLE_HIDDEN[scope]:
        pytest.skip(f"{sum(net.hidden_sizes)} hidden units: the plain enumeration is the oracle for at most "
                    f"{ORACLE_HIDDEN[scope]} ({scope}; auto checks this constant)")
    # None, [low, high] (numbers or one list per bound) or {"lower": .., "upper": ..}
    box = None if entry["box"] is None else as_box(entry["box"], net.n_inputs)
    result = lipschitz_deep(net, method=method, norm=entry["norm"], domain=box, time_limit=300)
    assert result.status is Status.OPTIMAL, result.message
    assert result.value == pytest.approx(entry["value"], rel=1e-9)
    assert result.upper == pytest.approx(entry["value"], rel=1e-9)
    assert box is None or box.contains_interior(result.witness)
    assert result.certificate["layer_sizes"] == net.hidden_sizes
