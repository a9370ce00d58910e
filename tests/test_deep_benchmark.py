"""benchmarks/deep.py: the section's tables, ratios and checks from given runs (no timing is tested)."""

from benchmarks.deep import DeepResult, Run, _solve, build_section, measure, random_network, trained_network
from benchmarks.report import Check


def run(group, method, seconds, nodes, upper, rss=100.0, status="optimal"):
    return Run(group, "11-12-12-1", "global", "2", method, 60.0, status, 1.0, upper, seconds, nodes, rss, 3.0)


def test_section_pairs_before_and_after_and_names_the_largest_run():
    runs = [run("bounds", "bnb (interval)", 40.0, 4000, 1.0), run("bounds", "bnb (signed)", 10.0, 1000, 1.0),
            run("random", "auto (bnb)", 60.0, 500, 1.5, rss=900.0, status="time_limit"),
            run("trained", "auto (bnb)", 60.0, 700, 1.27, status="time_limit")]
    result = DeepResult(runs, [Check("x", True)], ["nothing"], "quick", 0, 10.0, [1.0, 1.0, 1.0], [1.0, 1.0, 1.0],
                        1.0)
    section = build_section(result)
    tables = {t.key: t for t in section.tables}
    (row,) = tables["deep_bounds"].rows
    assert row[9] == 0.25 and row[12] == 0.25  # time and node ratios after / before
    (random_row,) = tables["deep_random"].rows
    assert random_row[8] == 0.5  # gap upper / lower - 1
    assert any("900 MiB" in text for text in section.text)
    (trained_row,) = tables["deep_trained"].rows
    assert trained_row[5] == "time_limit" and trained_row[8] == 0.27
    assert len(section.checks) == 1 and len(section.records) == 4


def test_measure_reports_time_and_a_resident_size():
    value, seconds, peak = measure(lambda: [0] * 1000)
    assert len(value) == 1000 and seconds >= 0 and peak > 1


def test_random_network_is_seeded():
    a, b = random_network([3, 4, 2], 5), random_network([3, 4, 2], 5)
    assert all((x == y).all() for x, y in zip(a.weights, b.weights))


def test_the_report_configurations_pick_their_mode_and_published_mode_says_so():
    from benchmarks.deep import section_mode

    assert [section_mode(name) for name in ("smoke", "quick", "default", "full")] == \
        ["published", "published", "default", "full"]
    result = DeepResult([], [], [], "published", 0, 300.0, [1.0, 1.0, 1.0], [1.0, 1.0, 1.0], 1.0)
    assert "published constants only" in build_section(result).text[0]


def test_a_standalone_section_refuses_a_file_as_its_folder_before_running(tmp_path):
    import pytest

    from benchmarks.report import run_one_section
    from reductions.validation import InvalidInputError

    target = tmp_path / "report"
    target.write_text("not a folder")
    called = []
    with pytest.raises(InvalidInputError, match="out"):
        run_one_section("prog", [], "deep", target, 0, lambda: called.append(1), {})
    with pytest.raises(InvalidInputError, match="seed"):
        run_one_section("prog", [], "deep", tmp_path / "new", -1, lambda: called.append(1), {})
    assert called == [] and not (tmp_path / "new").exists()


def test_the_small_box_check_fails_on_a_slow_or_unproven_run_and_names_it():
    from benchmarks.deep import SMALL_BOX_TARGET, small_box_check

    def small(name, seconds, status="optimal"):
        return Run("small", name, "[0, 0.1]^10", "inf", "auto (bnb)", 60.0, status, 1.0, 1.0, seconds, 5, 1.0, 0.1)

    assert small_box_check([small("s0", 0.2), small("s1", 0.9)]).passed is True
    failed = small_box_check([small("s0", 0.2), small("s2", SMALL_BOX_TARGET)])  # the target is strict
    assert failed.passed is False and "s2 linf" in failed.detail and "s0" not in failed.detail
    unproven = small_box_check([small("s3", 0.1, status="time_limit")])
    assert unproven.passed is False and "time_limit" in unproven.detail
    assert small_box_check([small("s2", 5.0)], judged=False).passed is None
    assert small_box_check([]).passed is None  # nothing measured proves nothing
    section = build_section(DeepResult([small("s0", 0.2)], [], [], "default", 0, 60.0, None, None, 1.0))
    assert [row[0] for row in {t.key: t for t in section.tables}["deep_small"].rows] == ["s0"]


def test_the_depth_group_has_its_own_table():
    deeper = Run("depth", "10-30-30-30-30-30-3 s2", "[0, 0.1]^10", "2", "auto (bnb)", 60.0, "time_limit", 335.0,
                 1448.5, 60.2, 5079, 300.0, 0.5)
    section = build_section(DeepResult([deeper], [], [], "default", 0, 60.0, None, None, 1.0))
    tables = {t.key: t for t in section.tables}
    (row,) = tables["deep_depth"].rows
    assert row[0] == "10-30-30-30-30-30-3 s2" and row[5] == "time_limit" and row[8] == 3.32  # gap 1448.5 / 335 - 1
    assert tables["deep_small"].rows == [] and tables["deep_random"].rows == []


def test_trained_network_is_seeded_and_trained():
    a, b = trained_network([3, 4, 1], 1, epochs=3), trained_network([3, 4, 1], 1, epochs=3)
    assert all((x == y).all() for x, y in zip(a.weights, b.weights))
    untrained = trained_network([3, 4, 1], 1, epochs=0)
    assert any((x != y).any() for x, y in zip(a.weights, untrained.weights))


def test_a_published_box_may_give_numbers_one_list_per_bound_or_a_dict():
    net = random_network([2, 3, 1], 0)
    cube = _solve("published", "tiny", net, "2", (0.0, 1.0), 10.0, 0)
    per_coordinate = _solve("published", "tiny", net, "2", ([0.0, 0.0], [1.0, 1.0]), 10.0, 0)
    as_dict = _solve("published", "tiny", net, "2", {"lower": [0.0, 0.0], "upper": [1.0, 1.0]}, 10.0, 0)
    assert cube.scope == "[0, 1]^2" and per_coordinate.scope == as_dict.scope == "box (per coordinate)"
    assert cube.status == per_coordinate.status == as_dict.status == "optimal"
    assert cube.lower == per_coordinate.lower == as_dict.lower


def test_the_pruned_group_pairs_kept_and_removed_runs_and_its_nets_have_zero_rows():
    import numpy as np

    from benchmarks.deep import pruned_network

    runs = [run("pruned", "auto (bnb)", 12.0, 216, 0.86), run("pruned", "auto (bnb)", 0.24, 26, 0.86)]
    section = build_section(DeepResult(runs, [], [], "default", 0, 60.0, None, None, 1.0))
    (row,) = {t.key: t for t in section.tables}["deep_pruned"].rows
    assert row[5:10] == [12.0, 0.24, 0.02, 216, 26]   # times, ratio removed / kept, nodes
    net = pruned_network([11, 12, 12, 1], 0)
    zero_rows = [int((~np.asarray(W).any(axis=1)).sum()) for W in net.weights]
    assert zero_rows == [3, 3, 0]
    dense = random_network([11, 12, 12, 1], 0)
    for W, V, b, c in zip(net.weights, dense.weights, net.biases, dense.biases):   # only whole rows zeroed
        W, V = np.asarray(W), np.asarray(V)
        kept = W.any(axis=1)
        assert np.array_equal(W[kept], V[kept]) and np.array_equal(np.asarray(b), np.asarray(c))
