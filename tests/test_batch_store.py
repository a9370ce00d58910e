"""lipexact.batch.store: lines appended whole; a cut-short last line is found and cut off before appending."""

from __future__ import annotations

import json

from lipexact.batch.store import ResultsFile, read_results


def test_cut_short_last_line_is_ignored_then_removed(tmp_path):
    path = tmp_path / "out.jsonl"
    with ResultsFile(path) as out:
        out.append({"key": "a", "status": "optimal"})
        out.append({"key": "b", "status": "optimal"})
    whole = path.read_bytes()
    path.write_bytes(whole[:-7])  # a crash in the middle of the second line
    existing = read_results(path)
    assert existing.partial and sorted(existing.lines) == ["a"]
    with ResultsFile(path) as out:
        out.append({"key": "c", "status": "error"})
    lines = [json.loads(raw) for raw in path.read_text().splitlines()]
    assert [line["key"] for line in lines] == ["a", "c"]
    assert not read_results(path).partial


def test_lines_that_are_not_results_are_counted_and_ignored(tmp_path):
    path = tmp_path / "out.jsonl"
    path.write_text('{"key": "a"}\nnot json\n[1, 2]\n\n{"no_key": 1}\n')
    existing = read_results(path)
    assert sorted(existing.lines) == ["a"] and existing.ignored == 3 and not existing.partial


def test_missing_file_holds_nothing(tmp_path):
    existing = read_results(tmp_path / "absent.jsonl")
    assert existing.lines == {} and not existing.partial
