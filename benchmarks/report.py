"""The report: Markdown, raw JSON, one CSV per table, and the PNG figures (matplotlib, Agg backend).

Sections hand over :class:`Table` objects whose cells are plain values or
:class:`~benchmarks.measure.Measurement` objects; this module decides how each is written. A method that
did not run is written as ``unavailable`` or ``error`` with a numbered footnote giving the reason.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import math
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from benchmarks.measure import Measurement
from lipexact.io import write_atomic

__all__ = ["AsPublished", "Table", "Figure", "Check", "Section", "environment", "format_cell", "write_report",
           "cpu_clock", "load_now", "budget_check", "write_one_section", "run_one_section", "timestamp"]


@dataclass
class Table:
    key: str
    title: str
    columns: list[str]
    rows: list[list[Any]]
    notes: list[str] = field(default_factory=list)


@dataclass
class Figure:
    path: str  # relative to the output folder
    caption: str


@dataclass
class Check:
    """A property the run verified on its own numbers. ``passed`` is None when it could not be checked."""

    name: str
    passed: bool | None
    detail: str = ""


@dataclass
class Section:
    key: str
    title: str
    text: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    records: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    cpu_seconds: float | None = None  # CPU time of this process and its children (cpu_clock), less load-sensitive
    load: tuple[float | None, float | None] | None = None  # 1-minute load average at the start and the end


# --------------------------------------------------------------------------- environment
def _version(module: str) -> str:
    try:
        from importlib.metadata import version

        return version(module)
    except Exception:  # noqa: BLE001 - a missing package is reported, not fatal
        return "not installed"


def _git_commit() -> str:
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                                text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "lipexact", "reductions", "benchmarks"],
                               cwd=root, capture_output=True, text=True, timeout=10).stdout.strip()
        return (commit or "unknown") + (" (with uncommitted changes)" if dirty else "")
    except Exception:  # noqa: BLE001
        return "unknown"


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as stream:
            for line in stream:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment() -> dict[str, Any]:
    """Machine, library versions and accelerator facts of this run."""
    import psutil
    import torch

    cuda = torch.cuda.is_available()
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu": _cpu_name(),
        "cpu_count_logical": os.cpu_count(),
        "cpu_count_physical": psutil.cpu_count(logical=False),
        "memory_gib": round(psutil.virtual_memory().total / 2 ** 30, 1),
        "torch_threads": torch.get_num_threads(),
        "cuda_available": cuda,
        "cuda_device": torch.cuda.get_device_name(0) if cuda else None,
        "versions": {name: _version(name) for name in
                     ("torch", "numpy", "scipy", "pulp", "highspy", "scikit-learn", "matplotlib", "networkx",
                      "psutil", "tqdm", "lipexact")},
        "git_commit": _git_commit(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


# --------------------------------------------------------------------------- cells
def _number(x: float | None, digits: int = 4) -> str:
    if x is None:
        return "-"
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int):
        return str(x)
    if math.isinf(x) or math.isnan(x):
        return str(x)
    if x != 0 and (abs(x) >= 10 ** digits or abs(x) < 1e-3):  # 4 digits: 9999 stays, 40002.8 is 4.000e+04
        return f"{x:.{digits - 1}e}"
    return f"{x:.{digits}g}"


class AsPublished(float):
    """A published value: written with the digits it was published with (``2463.44``, ``7.3438e+06``), not
    rounded to the report's four significant digits. Behaves as a float everywhere else (JSON, CSV, sums).

    Examples
    --------
    >>> format_cell(AsPublished(2463.44)), format_cell(2463.44)
    ('2463.44', '2463')
    """


def format_cell(cell: Any, footnotes: list[str] | None = None) -> str:
    """One table cell as text; reasons of unavailable/failed methods go to ``footnotes`` (numbered)."""
    if isinstance(cell, Measurement):
        if cell.outcome in ("unavailable", "error", "skipped"):
            label = cell.outcome
            if footnotes is not None and cell.reason:
                reason = f"{cell.family} `{cell.method}`: {cell.reason}"
                if reason not in footnotes:
                    footnotes.append(reason)
                label += f" [{footnotes.index(reason) + 1}]"
            return label
        if cell.outcome == "stopped":
            return f"[{_number(cell.lower)}, {_number(cell.upper)}] ({cell.status})"
        text = _number(cell.value)
        return text + ("*" if cell.kind == "heuristic" else "")
    if isinstance(cell, AsPublished):
        return f"{float(cell):g}"
    if isinstance(cell, float):
        return _number(cell)
    if cell is None:
        return "-"
    return str(cell)


def _raw(cell: Any) -> Any:
    if isinstance(cell, Measurement):
        return cell.to_dict()
    if isinstance(cell, float) and not math.isfinite(cell):
        return str(cell)
    return cell


def _csv_cell(cell: Any) -> Any:
    if isinstance(cell, Measurement):
        if cell.outcome == "stopped":
            return f"{cell.status}:[{cell.lower},{cell.upper}]"
        return cell.value if cell.available else cell.outcome
    return "" if cell is None else cell


def _markdown_table(table: Table) -> str:
    if not table.rows:  # e.g. a group this configuration does not run, or no failures: no empty header, no notes
        return f"**{table.title}**\n\n_No rows in this run (its CSV holds the header only)._\n"
    footnotes: list[str] = []
    lines = [f"**{table.title}**", "", "| " + " | ".join(table.columns) + " |",
             "|" + "|".join("---" for _ in table.columns) + "|"]
    for row in table.rows:
        lines.append("| " + " | ".join(format_cell(c, footnotes).replace("|", "\\|") for c in row) + " |")
    lines.append("")
    for note in table.notes:
        lines.append(f"- {note}")
    for i, reason in enumerate(footnotes, start=1):
        lines.append(f"- [{i}] {reason}")
    return "\n".join(lines).rstrip() + "\n"


# --------------------------------------------------------------------------- writing
def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, Measurement):
        return _json_safe(value.to_dict())
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if hasattr(value, "item") and callable(value.item):
        try:
            return value.item()
        except (ValueError, TypeError):
            return repr(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)


def write_report(out: Path, sections: list[Section], meta: dict[str, Any]) -> dict[str, Path]:
    """Write ``report.md``, ``results.json`` and ``<table>.csv`` files into ``out``; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for section in sections:
        for table in section.tables:
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerow(table.columns)
            for row in table.rows:
                writer.writerow([_csv_cell(c) for c in row])
            path = out / f"{table.key}.csv"
            write_atomic(path, buffer.getvalue())
            paths[table.key] = path

    results = {
        "meta": meta,
        "sections": [
            {"key": s.key, "title": s.title, "seconds": s.seconds, "cpu_seconds": s.cpu_seconds, "load": s.load,
             "text": s.text,
             "tables": [{"key": t.key, "title": t.title, "columns": t.columns,
                         "rows": [[_raw(c) for c in row] for row in t.rows], "notes": t.notes}
                        for t in s.tables],
             "figures": [{"path": f.path, "caption": f.caption} for f in s.figures],
             "checks": [{"name": c.name, "passed": c.passed, "detail": c.detail} for c in s.checks],
             "records": s.records}
            for s in sections
        ],
    }
    paths["results.json"] = out / "results.json"
    write_atomic(paths["results.json"], json.dumps(_json_safe(results), indent=1) + "\n")
    paths["report.md"] = out / "report.md"
    write_atomic(paths["report.md"], render_markdown(sections, meta))
    return paths


def render_markdown(sections: list[Section], meta: dict[str, Any]) -> str:
    env = meta["environment"]
    lines = [
        "# lipexact benchmark report", "",
        f"- command: `{meta['command']}`",
        f"- configuration: `{meta['config']['name']}`; seed: {meta['seed']}; requested device: `{meta['device']}`",
        f"- started: {meta['started']}; total time: {meta['seconds']:.1f} s",
        f"- machine: {env['cpu']} ({env['cpu_count_logical']} logical cores, {env['memory_gib']} GiB); "
        f"{env['platform']}; torch threads outside lipexact calls: {env['torch_threads']}; inside: "
        f"LIPEXACT_THREADS={os.environ.get('LIPEXACT_THREADS', 'unset')}, else the rule of lipexact.threads "
        f"(the count of each bound in results.json, stats.threads)",
        "- accelerator: " + (f"CUDA: {env['cuda_device']}" if env["cuda_available"]
                             else "none: CUDA is not available on this machine, every timing is CPU only"),
        "- versions: python " + env["python"] + ", "
        + ", ".join(f"{k} {v}" for k, v in env["versions"].items()),
        f"- lipexact commit: {env['git_commit']}",
        _load_line(meta),
        "",
        "Every number below was produced by this run, except the columns marked *paper*, which are the "
        "published values of Scaman & Virmaux (2018) (see `benchmarks/paper_values.py`). A trailing `*` "
        "marks a heuristic value (no guarantee, e.g. greedy SeqLip). `unavailable [k]` / `error [k]`: the "
        "method did not produce a number; footnote k gives the reason.",
        "",
        "## Contents", "",
    ]
    for i, section in enumerate(sections, start=1):
        lines.append(f"{i}. [{section.title}](#{_anchor(section.title)})")
    lines.append("")
    all_checks: list[tuple[str, Check]] = []
    cores = env.get("cpu_count_logical") or 1
    for section in sections:
        lines += [f"## {section.title}", "", _section_time(section, cores), ""]
        for paragraph in section.text:
            lines += [paragraph, ""]
        for table in section.tables:
            lines += [_markdown_table(table), ""]
        for figure in section.figures:
            lines += [f"![{figure.caption}]({figure.path})", "", f"_{figure.caption}_", ""]
        if section.checks:
            lines += ["Checks:", ""]
            for check in section.checks:
                lines.append(f"- {_verdict(check.passed)} {check.name}" + (f": {check.detail}" if check.detail else ""))
                all_checks.append((section.title, check))
            lines.append("")
    budget = budget_check(meta)
    lines += ["## Run time", ""] + _time_lines(sections, meta, cores)
    if budget is not None:
        lines += [f"- {_verdict(budget.passed)} {budget.name}: {budget.detail}"]
        all_checks.append(("Run time", budget))
    lines.append("")
    failed = [c for _, c in all_checks if c.passed is False]
    lines += ["## Summary of checks", "",
              f"{len(all_checks)} checks: {sum(c.passed is True for _, c in all_checks)} passed, {len(failed)} "
              f"failed, {sum(c.passed is None for _, c in all_checks)} not judged (n/a: a method was unavailable, "
              "or a timing was recorded without a verdict).", ""]
    for title, check in all_checks:
        if check.passed is False:
            lines.append(f"- FAIL ({title}) {check.name}: {check.detail}")
    return "\n".join(lines).rstrip() + "\n"


def _busy(load: float | None, cores: int) -> bool:
    return load is not None and load > cores


def _section_time(section: Section, cores: int) -> str:
    text = f"_Section time: {section.seconds:.1f} s wall"
    if section.cpu_seconds is not None:
        text += f", {section.cpu_seconds:.1f} s CPU"
    if section.load:
        start, end = section.load
        if start is not None and end is not None:
            text += f"; 1-min load {start:.2f} at the start, {end:.2f} at the end"
            if _busy(start, cores) or _busy(end, cores):
                text += (f" (more runnable processes than the {cores} cores: timings of this section are "
                         "inflated by other work)")
    return text + "_"


def _time_lines(sections: list[Section], meta: dict[str, Any], cores: int) -> list[str]:
    lines = ["| section | wall seconds | CPU seconds | load at start | load at end |", "|---|---|---|---|---|"]
    for section in sections:
        start, end = section.load if section.load else (None, None)
        lines.append(f"| {section.key} | {section.seconds:.1f} | {_number(section.cpu_seconds)} | "
                     f"{_number(start, 3)} | {_number(end, 3)} |")
    lines.append(f"| **total** | {meta['seconds']:.1f} | {_number(meta.get('cpu_seconds'))} | | |")
    lines += ["", "CPU seconds: this process and its finished child processes (solver subprocesses); on an idle "
              "machine a section that runs on one thread takes about its CPU time, so the CPU column estimates "
              "the idle run time when the wall clock was inflated by other work.", ""]
    return lines


def budget_check(meta: dict[str, Any]) -> Check | None:
    """The configuration's time budget (``budget_seconds``, on an idle machine) as a check: judged on the wall
    clock when the machine was idle at the start and the end, else on the CPU time (an estimate of the idle
    wall time, said so in the detail). None when the configuration has no budget or sections were left out.

    Examples
    --------
    >>> meta = {"config": {"name": "quick", "budget_seconds": 300}, "seconds": 900.0, "cpu_seconds": 250.0,
    ...         "load_average_start": [6.0], "environment": {"load_average": [5.0], "cpu_count_logical": 2},
    ...         "sections_all": True}
    >>> check = budget_check(meta)
    >>> check.passed, "busy" in check.detail
    (True, True)
    >>> meta["cpu_seconds"] = 400.0
    >>> budget_check(meta).passed
    False
    """
    budget = meta["config"].get("budget_seconds")
    if not budget or not meta.get("sections_all", False):
        return None
    cores = meta["environment"].get("cpu_count_logical") or 1
    start = (meta.get("load_average_start") or [None])[0]
    end = (meta["environment"].get("load_average") or [None])[0]
    name = f"the `{meta['config']['name']}` run takes under {budget:g} s on an idle {cores}-core machine"
    wall, cpu = meta["seconds"], meta.get("cpu_seconds")
    if meta.get("scheduler"):
        cpu = None  # sections ran in worker processes: this process's CPU time does not cover them
    if start is not None and end is not None and not _busy(start, cores) and not _busy(end, cores):
        return Check(name, wall <= budget, f"measured on an idle machine (1-min load {start:.2f} / {end:.2f}): "
                                           f"{wall:.1f} s wall ({_number(cpu)} s CPU)")
    if cpu is None:
        return Check(name, None, f"{wall:.1f} s wall on a busy machine; no CPU time of the whole run recorded")
    return Check(name, cpu <= budget,
                 f"machine busy (1-min load {_number(start, 3)} at the start, {_number(end, 3)} at the end, "
                 f"{cores} cores): {wall:.1f} s wall, judged on the {cpu:.1f} s of CPU time, the estimate of the "
                 "idle run time")


def _load_line(meta: dict[str, Any]) -> str:
    env = meta["environment"]
    start, end = meta.get("load_average_start"), env.get("load_average")
    if not end:
        return "- load average: not available on this platform"
    text = "- load average (1/5/15 min): " + (f"at start {', '.join(f'{x:.2f}' for x in start)}; " if start else "")
    text += f"at end {', '.join(f'{x:.2f}' for x in end)}"
    cores = env.get("cpu_count_logical") or 1
    if max((start or [0])[0], end[0]) > cores:
        text += (f". WARNING: more runnable processes than the {cores} cores during the run: other work shared "
                 "the machine and every timing below is slower than on an idle machine")
    return text


def _verdict(passed: bool | None) -> str:
    return {True: "PASS", False: "FAIL", None: "n/a"}[passed]


def _anchor(title: str) -> str:
    keep = [ch.lower() if ch.isalnum() else ("-" if ch in " -" else "") for ch in title]
    return "".join(keep)


def cpu_clock() -> float:
    """CPU seconds used so far by this process and its finished children (solver subprocesses such as CBC).

    Less sensitive to other work on the machine than the wall clock: on an idle machine a single-threaded
    section's wall time is about its CPU time.
    """
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def load_now() -> float | None:
    """The 1-minute load average (runnable processes), or None where the platform has none."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def timestamp() -> str:
    return _dt.datetime.now().strftime("%Y%m%d-%H%M%S")


def write_one_section(out: Path, built: "Section", prog: str, argv: Any, config: dict[str, Any], seed: int,
                      started: str, seconds: float, load_start: Any = None) -> dict[str, Path]:
    """Write the report of a section run on its own (``python -m benchmarks.<section>``) and print its path.

    The metadata (command line, configuration, seed, machine, timings, load at start) is the same for every
    standalone section.
    """
    import shlex

    meta = {
        "command": " ".join([prog] + [shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv)]),
        "config": config,
        "seed": seed,
        "device": "cpu",
        "timing_devices": ["cpu"],
        "started": started,
        "seconds": seconds,
        "environment": environment(),
        "load_average_start": load_start,
        "sections": [built.key],
    }
    paths = write_report(out, [built], meta)
    print(paths["report.md"])
    return paths


def run_one_section(prog: str, argv: Any, name: str, out: Path | None, seed: int, build: Callable[[], "Section"],
                    config: dict[str, Any]) -> int:
    """The body of a standalone section's ``main``: check the seed and the output folder (default
    ``benchmarks/results/<name>-<timestamp>``), time ``build()`` and write its report
    (:func:`write_one_section`); 0 on success. Bad input raises
    :class:`~reductions.validation.InvalidInputError` before anything runs."""
    from reductions.validation import require

    require(seed >= 0, "seed", "a non-negative integer", repr(seed))
    out = out if out is not None else Path(__file__).resolve().parent / "results" / f"{name}-{timestamp()}"
    require(not out.exists() or out.is_dir(), "out", "a folder", f"{out} is a file")
    started = _dt.datetime.now().isoformat(timespec="seconds")
    load_start = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    start = time.perf_counter()
    built = build()
    write_one_section(out, built, prog, argv, seed=seed, started=started, load_start=load_start,
                      seconds=time.perf_counter() - start, config=config)
    return 0

