"""End-to-end run of the smallest benchmark configuration and checks on the report it writes."""

from __future__ import annotations

import csv
import doctest
import importlib
import json
import math
import time

import pytest

from benchmarks import run
from benchmarks.measure import Measurement, median_time
from benchmarks.report import format_cell
from benchmarks.tables import SECTIONS, bracket_checks

TOLERANCE = 1e-6


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("smoke")
    start = time.process_time()
    code = run.entry(["--smoke", "--out", str(out), "--no-progress", "--seed", "0"])
    seconds = time.process_time() - start  # CPU time: stable when other work shares the machine
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    return out, results, seconds


def _measurements(results):
    """Every recorded measurement, grouped by model: ``{model: [measurement dicts]}``."""
    by_model: dict[str, list[dict]] = {}
    for section in results["sections"]:
        for record in section["records"]:
            if "bounds" not in record:
                continue
            items = [m for per_device in record["bounds"].values() for m in per_device.values()]
            if record.get("exact"):
                items.append(record["exact"])
            by_model.setdefault(record["model"], []).extend(items)
    return by_model


def _number(value):
    return float(value) if value is not None else None


def _proven(m: dict) -> tuple[float | None, float | None]:
    """(proven lower, proven upper) of a recorded measurement, from its kind alone."""
    if m["outcome"] not in ("ok", "stopped"):
        return None, None
    value, lower, upper = _number(m["value"]), _number(m["lower"]), _number(m["upper"])
    return {"exact": (lower if lower is not None else value, upper if upper is not None else value),
            "upper": (None, value), "lower": (value, None), "bracket": (lower, upper)}.get(m["kind"], (None, None))


def test_smoke_run_is_fast_and_writes_every_file(smoke):
    out, results, seconds = smoke
    assert seconds < 60, f"the smoke configuration took {seconds:.1f} s of CPU time"
    assert (out / "report.md").stat().st_size > 0
    for section in results["sections"]:
        for table in section["tables"]:
            with open(out / f"{table['key']}.csv", newline="") as stream:
                rows = list(csv.reader(stream))
            assert rows[0] == table["columns"]
            assert len(rows) == len(table["rows"]) + 1
        for figure in section["figures"]:
            assert (out / figure["path"]).stat().st_size > 1000


def test_report_has_every_section_and_the_machine_facts(smoke):
    out, results, _ = smoke
    text = (out / "report.md").read_text()
    assert [s["key"] for s in results["sections"]] == list(SECTIONS)
    for section in results["sections"]:
        assert f"## {section['title']}" in text
    env = results["meta"]["environment"]
    for name in ("torch", "numpy", "scipy", "pulp", "highspy"):
        assert f"{name} {env['versions'][name]}" in text
    assert "seed: 0" in text and results["meta"]["seed"] == 0
    assert ("CUDA is not available" in text) != env["cuda_available"]


def test_every_number_of_a_table_is_the_recorded_measurement(smoke):
    out, results, _ = smoke
    text = (out / "report.md").read_text()
    checked = 0
    for section in results["sections"]:
        for table in section["tables"]:
            with open(out / f"{table['key']}.csv", newline="") as stream:
                csv_rows = list(csv.reader(stream))[1:]
            for raw_row, csv_row in zip(table["rows"], csv_rows):
                for cell, written in zip(raw_row, csv_row):
                    if isinstance(cell, dict) and cell.get("outcome") == "ok":
                        assert math.isclose(float(written), float(cell["value"]), rel_tol=1e-12)
                        rebuilt = Measurement(**{k: cell[k] for k in Measurement.__dataclass_fields__})
                        assert format_cell(rebuilt) in text
                        checked += 1
    assert checked > 0, "no method produced a number in the smoke run"


def test_every_proven_upper_bound_is_above_every_proven_lower_bound(smoke):
    _, results, _ = smoke
    by_model = _measurements(results)
    assert by_model, "no model was evaluated"
    for model, items in by_model.items():
        lowers = [lo for lo, _ in map(_proven, items) if lo is not None]
        uppers = [up for _, up in map(_proven, items) if up is not None]
        if lowers and uppers:
            assert max(lowers) <= min(uppers) * (1 + TOLERANCE) + 1e-12, model


def test_no_check_of_the_run_failed(smoke):
    _, results, _ = smoke
    failed = [(s["key"], c) for s in results["sections"] for c in s["checks"] if c["passed"] is False]
    assert not failed


def test_exact_column_and_instances_where_the_exact_solver_is_available(smoke):
    _, results, _ = smoke
    mlp = next(s for s in results["sections"] if s["key"] == "mlp")
    two_layer = next(r for r in mlp["records"] if r["model"] == "MLP-2")
    exact = two_layer["exact"]
    if exact["outcome"] == "unavailable":
        pytest.skip(f"exact solver unavailable: {exact['reason']}")
    assert exact["kind"] == "exact"
    lower = two_layer["bounds"]["data"]["cpu"]
    if lower["outcome"] == "ok":
        assert float(lower["value"]) <= float(exact["value"]) * (1 + TOLERANCE)
    instances = next(s for s in results["sections"] if s["key"] == "instances")
    for record in instances["records"]:
        if record["measurement"]["kind"] == "exact":
            assert record["found"] == record["published"], record["instance"]


def test_certify_fuzz_section_judges_every_run_against_the_oracle(smoke):
    _, results, _ = smoke
    fuzz = next(s for s in results["sections"] if s["key"] == "certify_fuzz")
    runs = [run for case in fuzz["records"] for run in case["runs"]]
    assert len(runs) == results["meta"]["config"]["fuzz_runs"]
    assert all(run["truth"] is not None for run in runs)
    total = next(t for t in fuzz["tables"] if t["key"] == "certify_fuzz_statuses")["rows"][-1]
    assert total[0] == "all" and total[3] == len(runs)


def test_paper_values_stand_beside_ours_with_their_citation(smoke):
    out, results, _ = smoke
    text = (out / "report.md").read_text()
    mlp = next(s for s in results["sections"] if s["key"] == "mlp")
    paper = next(t for t in mlp["tables"] if t["key"] == "mlp_paper")
    assert paper["columns"][1:8] == [f"{c} (paper)" for c in ("Frobenius", "AutoLip", "SeqLip", "greedy SeqLip",
                                                              "data", "annealing", "grid search")]
    assert paper["rows"] == [[4, 648.2, 33.04, 21.47, 21.47, 4.36, 4.55, 6.56,
                              'Scaman & Virmaux (2018), poster, section 7, MLP table, row "# layers = 4"']]
    assert "| 4 | 648.2 | 33.04 | 21.47 |" in text
    ratios = next(t for t in mlp["tables"] if t["key"] == "mlp_ratios")
    row4 = next(r for r in ratios["rows"] if r[0] == 4)
    assert row4[2] == pytest.approx(33.04 / 21.47) and row4[4] == pytest.approx((648.2 / 33.04) ** 0.25)
    assert "Run time" in text and "CPU seconds" in text


def _meta(seconds: float, cpu_seconds: float) -> dict:
    """The run metadata :func:`benchmarks.report.render_markdown` needs, of a quick run with a 300 s budget."""
    env = {"cpu": "x", "cpu_count_logical": 2, "memory_gib": 1, "platform": "p", "torch_threads": 1,
           "cuda_available": False, "python": "3", "versions": {}, "git_commit": "c", "load_average": [0.1, 0, 0]}
    return {"command": "c", "config": {"name": "quick", "budget_seconds": 300}, "seed": 0, "device": "cpu",
            "started": "s", "seconds": seconds, "cpu_seconds": cpu_seconds, "environment": env,
            "load_average_start": [0.2, 0, 0], "sections_all": True}


def test_the_summary_counts_every_failed_check():
    from benchmarks.report import Check, Section, render_markdown

    meta = _meta(400.0, 350.0)
    section = Section("s", "S", checks=[Check("fine", True), Check("speed target: x", False, "9 s > 5 s"),
                                        Check("unjudged", None)])
    section.load = (0.2, 0.1)
    text = render_markdown([section], meta)
    # the idle machine's wall clock (400 s) misses the 300 s budget: a second FAIL
    assert "4 checks: 1 passed, 2 failed, 1 not judged" in text
    assert "- FAIL (S) speed target: x: 9 s > 5 s" in text and "- FAIL (Run time) the `quick` run" in text


def test_a_busy_machine_is_judged_on_cpu_time_and_said_so():
    from benchmarks.report import budget_check

    meta = {"config": {"name": "quick", "budget_seconds": 300}, "seconds": 1200.0, "cpu_seconds": 200.0,
            "load_average_start": [9.0], "environment": {"load_average": [8.0], "cpu_count_logical": 2},
            "sections_all": True}
    check = budget_check(meta)
    assert check.passed is True and "judged on the 200.0 s of CPU time" in check.detail
    meta["sections_all"] = False  # a subset of sections is not the run the budget is about
    assert budget_check(meta) is None


def test_bracket_checks_catch_a_crossed_pair():
    upper = Measurement("upper", "autolip", "ok", kind="upper", value=1.0)
    lower = Measurement("lower", "data", "ok", kind="lower", value=2.0)
    heuristic = Measurement("upper", "seqlip_greedy", "ok", kind="heuristic", value=0.1)
    checks = bracket_checks("m", [upper, lower, heuristic])
    assert checks[0].passed is False
    assert bracket_checks("m", [Measurement("upper", "autolip", "ok", kind="upper", value=3.0), lower])[0].passed
    assert bracket_checks("m", [heuristic, lower])[0].passed is None


def test_median_time_reports_the_median_of_the_runs():
    seconds = iter([3.0, 1.0, 2.0])
    measured, runs = median_time(lambda: Measurement("upper", "x", "ok", kind="upper", value=1.0,
                                                     seconds=next(seconds)), 3)
    assert runs == [3.0, 1.0, 2.0] and measured.seconds == 2.0


@pytest.mark.parametrize("argv, field", [(["--device", "tpu"], "device"), (["--sections", "nope"], "sections"),
                                         (["--seed", "-1"], "seed")])
def test_bad_arguments_exit_2_with_one_line(argv, field, tmp_path, capsys):
    assert run.entry(["--smoke", "--out", str(tmp_path / "o"), "--no-progress"] + argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"{run.PROG}: error: {field}:")


def test_cuda_is_refused_where_there_is_none(tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        assert run.timing_devices("cuda") == ("cuda", ["cuda", "cpu"])
        return
    assert run.entry(["--smoke", "--out", str(tmp_path / "o"), "--device", "cuda"]) == 2
    assert "device: expected cpu, or cuda on a machine where" in capsys.readouterr().err
    assert run.timing_devices(None) == ("cpu", ["cpu"])


@pytest.mark.parametrize("module", ["benchmarks.data", "benchmarks.models", "benchmarks.training",
                                    "benchmarks.paper_values", "benchmarks.paper_tables", "benchmarks.plots",
                                    "benchmarks.report", "benchmarks.tables", "benchmarks.deep"])
def test_doctests(module):
    failures, _ = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert failures == 0


def test_open_question_has_the_exact_constant_of_every_deeper_network(smoke):
    from benchmarks.config import CONFIGS
    from benchmarks.tables import OPEN_KINDS, OPEN_LOWERS, OPEN_UPPERS

    _, results, _ = smoke
    section = next(s for s in results["sections"] if s["key"] == "open_question")
    table = next(t for t in section["tables"] if t["key"] == "open_question_deep")
    config = CONFIGS["smoke"]
    assert sorted((row[0], row[1], row[2]) for row in table["rows"]) == sorted(
        (kind, layers, width) for kind in OPEN_KINDS for layers in config.open_depths
        for width in config.open_deep_widths)
    for row in table["rows"]:
        exact, ratios = row[3], dict(zip(OPEN_UPPERS + OPEN_LOWERS, row[4:]))
        assert exact["status"] == "optimal" and exact["value"] > 0
        assert ratios["pattern_sdp"]["outcome"] == "skipped"  # two-layer networks only
        proven_uppers = [ratios[m] for m in OPEN_UPPERS if m not in ("pattern_sdp", "seqlip_greedy")]
        assert all(isinstance(r, float) and r >= 1 - TOLERANCE for r in proven_uppers), row
        assert all(isinstance(ratios[m], float) and ratios[m] <= 1 + TOLERANCE for m in OPEN_LOWERS), row
    names = [check["name"] for check in section["checks"]]
    assert any(name.startswith(f"{config.open_depths[0]}-layer") for name in names)


def test_a_table_without_rows_says_so_instead_of_an_empty_header():
    from benchmarks.report import Section, Table, render_markdown

    meta = _meta(1.0, 1.0)
    section = Section("s", "S", tables=[Table("empty", "Not run here", ["a", "b"], [], ["a note on rows"]),
                                        Table("full", "Run here", ["a", "b"], [[1, 2]], ["kept note"])])
    section.load = (0.2, 0.1)
    text = render_markdown([section], meta)
    empty = text[text.index("**Not run here**"):text.index("**Run here**")]
    assert "No rows in this run" in empty and "| a | b |" not in empty and "a note on rows" not in empty
    full = text[text.index("**Run here**"):]
    assert "| a | b |" in full and "| 1 | 2 |" in full and "kept note" in full
