"""benchmarks/deep_lp_bounds.py: a node-limited run per mode, the medians and ratios, the table and bad CLI input
(no timing is tested)."""

import numpy as np

from benchmarks.deep_lp_bounds import LpRun, main, run_case, small_box_network, summary, table


def test_a_node_limited_run_per_mode_and_the_summary():
    net = small_box_network([4, 6, 6, 2], 1)
    box = (np.zeros(4), np.full(4, 0.5))
    runs = [run_case("10-30-30-30-3 tiny", net, "2", box, 60.0, mode, node_limit=40) for mode in ("off", "node")]
    assert runs[0].region_lps == 0 and runs[0].fixed_by_lp == 0
    assert all(r.nodes <= 40 and r.upper >= (r.lower or 0.0) for r in runs)
    values = summary(runs)
    assert set(values) == {"off", "node"} and values["off"]["nodes_ratio"] == 1.0
    text = table(runs)
    assert text.count("\n") == 3 and "| node |" in text


def test_summary_takes_medians_of_the_matching_cases_only():
    runs = [LpRun(case, "off", "optimal", 1.0, 1.0, wall, wall, 10, 0, 0, 0, 1.0)
            for case, wall in (("10-30-30-30-3 a", 1.0), ("10-30-30-30-3 b", 3.0), ("10-20-20-1", 100.0))]
    assert summary(runs)["off"]["wall"] == 2.0 and summary(runs)["off"]["runs"] == 2


def test_bad_modes_and_limits_exit_2(capsys):
    assert main(["--modes", "always"]) == 2
    assert main(["--limit", "0"]) == 2
    assert "modes must be among" in capsys.readouterr().err
