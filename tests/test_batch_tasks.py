"""lipexact.batch.tasks: inputs found in files and folders, their kinds, and task keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from lipexact.batch.tasks import find_inputs, make_tasks
from reductions.validation import InvalidInputError
from tests.batch_inputs import write_inputs


def test_folder_walk_finds_instances_and_networks_and_skips_documentation(tmp_path):
    paths = write_inputs(tmp_path / "in")
    (tmp_path / "in" / ".hidden.rudy").write_text("2 1\n1 2 1\n")
    files = {Path(f.path).name: f.kind for f in find_inputs([tmp_path / "in"])}
    assert files == {"k3.rudy": "instance", "c5": "instance", "q3.sparse": "instance",
                     "two_layer.json": "network", "deep.json": "network"}
    assert set(files) == {p.name for p in paths.values()}


def test_named_file_is_always_an_input_and_listed_once(tmp_path):
    write_inputs(tmp_path)
    named = find_inputs([tmp_path / "optima.json", tmp_path / "k3.rudy", tmp_path / "k3.rudy", tmp_path])
    assert [Path(f.path).name for f in named][:2] == ["optima.json", "k3.rudy"]
    assert named[0].kind == "unknown"
    assert sum(Path(f.path).name == "k3.rudy" for f in named) == 1


@pytest.mark.parametrize("paths", [["missing.rudy"], []])
def test_missing_input_or_nothing_to_solve_is_refused(tmp_path, paths):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidInputError):
        find_inputs([tmp_path / p for p in paths] or [tmp_path / "empty"])


def test_key_changes_with_content_method_norm_and_options(tmp_path):
    graph = tmp_path / "g.rudy"
    graph.write_text("2 1\n1 2 1\n")
    base = make_tasks(find_inputs([graph]), ["bnb"], ["2"], {"seed": 0})[0].key
    assert make_tasks(find_inputs([graph]), ["bnb"], ["2"], {"seed": 0})[0].key == base
    assert make_tasks(find_inputs([graph]), ["brute"], ["2"], {"seed": 0})[0].key != base
    assert make_tasks(find_inputs([graph]), ["bnb"], ["inf"], {"seed": 0})[0].key != base
    assert make_tasks(find_inputs([graph]), ["bnb"], ["2"], {"seed": 1})[0].key != base
    graph.write_text("2 1\n1 2 3\n")
    assert make_tasks(find_inputs([graph]), ["bnb"], ["2"], {"seed": 0})[0].key != base
