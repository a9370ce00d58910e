"""benchmarks/eclipse.py runs on its own and its checks judge its own numbers (a tiny configuration)."""

from __future__ import annotations

import json

from benchmarks import eclipse as section


def test_section_runs_on_its_own(tmp_path):
    out = tmp_path / "report"
    assert section.main(["--out", str(out), "--depths", "2,3", "--width", "4", "--repeats", "1",
                         "--small-seeds", "1", "--reference-budget", "20", "--lipsdp-budget", "20"]) == 0
    text = (out / "report.md").read_text(encoding="utf-8")
    assert "Layer-wise LipSDP" in text and "depth 3 width 4 seed 0" in text
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert "FAIL" not in text, text
    assert results


def test_checks_fail_on_bad_numbers():
    deep = [{"network": "n", "rows": [
        {"method": "autolip", "outcome": "ok", "value": 1.0},
        {"method": "eclipse_fast", "outcome": "ok", "value": 2.0, "estimate": 2.0},  # above AutoLip: impossible
        {"method": "eclipse", "outcome": "ok", "value": 0.5, "estimate": 0.5},
        {"method": "lipsdp", "outcome": "ok", "value": 0.9},  # above ECLipsE: the full SDP stopped short
        {"method": "eclipse-nn ECLipsE_Fast", "outcome": "ok", "value": 1.5},
    ]}]
    small = [{"network": "s", "exact_status": "optimal", "exact": 3.0, "exact_lower": 3.0, "exact_upper": 3.0,
              "exact_seconds": 0.1, "load": 0.0, "autolip": 4.0, "eclipse_fast": 2.9, "eclipse": 3.1}]
    built = section.build_section(deep, small, width=4)
    verdicts = {check.name.split(" (")[0]: check.passed for check in built.checks}
    assert list(verdicts.values()).count(False) == 5, verdicts
