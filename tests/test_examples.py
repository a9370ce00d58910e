"""The instances shipped in examples/ (used by the README) give their published values, by the same
commands the README shows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lipexact import reduce as reduce_cli
from lipexact import solve as solve_cli

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
RELATIVE = 1e-9


@pytest.mark.parametrize("name, published", [("petersen", 12), ("bqp50-1.sparse", -2098)])
def test_reduced_instance_solves_to_its_published_optimum(name, published, tmp_path, capsys):
    out = tmp_path / "solved.json"
    assert reduce_cli.main([str(EXAMPLES / "instances" / name), "--solve", "-o", str(out)]) == 0
    solution = json.loads(out.read_text())["solution"]
    assert solution["lipschitz_result"]["status"] == "optimal"
    assert solution["mapped_value"] == published


@pytest.mark.parametrize("name, arguments", [
    ("lipbab_iris_4-5-5-3.json", ["--box", "0", "1", "--norm", "inf"]),
    ("exlipbab_iris_4-6-6-3_relu.json", ["--norm", "2"]),
])
def test_network_has_its_published_constant(name, arguments, tmp_path, capsys):
    path = EXAMPLES / "networks" / name
    norm = arguments[arguments.index("--norm") + 1]
    box = [0, 1] if "--box" in arguments else None
    published = next(p["value"] for p in json.loads(path.read_text())["published"]
                     if p["norm"] == norm and p["box"] == box)
    out = tmp_path / "result.json"
    assert solve_cli.main([str(path), *arguments, "-o", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["status"] == "optimal"
    assert abs(result["value"] - published) <= RELATIVE * published


def test_the_readme_of_examples_names_every_shipped_file():
    text = (EXAMPLES / "README.md").read_text()
    shipped = [p.relative_to(EXAMPLES).as_posix() for p in EXAMPLES.rglob("*") if p.is_file() and p.name != "README.md"]
    assert shipped and all(f"`{name}`" in text for name in shipped)
