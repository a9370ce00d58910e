"""``python -m benchmarks.batch --out DIR``: the shared instance library through ``lipexact.batch`` on Dask
with ``--scheduler local:1`` and ``local:2``, side by side: wall time of each run and the speed-up.

Every file of ``../shared/instances`` (34: Max-Cut and QUBO, reduced to LIP-CST and mapped back) is one task
(method ``auto``, seed 0) with a per-task time limit (default 5 s, so that each run takes a few minutes at
most). Each run starts its own ``LocalCluster`` of N single-threaded worker processes; its wall time counts
the cluster start, the workers' warm-up and the solves. Recorded per run: wall time, the span from the first
task's start to the last task's end, task statuses, the summed wall time of the tasks that finished
(``optimal``: these measure CPU contention, while a task stopped at its time limit takes the limit in wall
time whatever the load), and the 1-minute load average at the start and the end. Checks: every file has a
line in every run; the runs agree on every value both proved; every proven source optimum equals the
published one (``optima.json``); the speed-up is judged (>= 1.6 on 2 workers) only when the load at the start
was below the number of cores, and recorded without a verdict otherwise.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

from benchmarks.report import Check, Section, Table

PROG = "python -m benchmarks.batch"
INSTANCES = Path(__file__).resolve().parent.parent.parent / "shared" / "instances"
DEFAULT_TIME_LIMIT = 5.0
DEFAULT_WORKERS = (1, 2)
#: Speed-up of local:2 over local:1 that counts as "close to 2x" (judged only on a machine that is not busy).
SPEEDUP_TARGET = 1.6

__all__ = ["run_batches", "build_section", "section", "main"]


def _load() -> float | None:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def run_batches(folder: Path, time_limit: float, workers: Sequence[int], methods: Sequence[str] = ("auto",),
                seed: int = 0, quiet: bool = True) -> list[dict]:
    """One batch per worker count over ``folder``; per run its lines and measurements."""
    from lipexact.batch import solve_many

    runs = []
    for count in workers:
        load_start, clock = _load(), time.perf_counter()
        lines = solve_many([folder], methods=methods, time_limit=time_limit, seed=seed, scheduler=f"local:{count}",
                           quiet=quiet)
        wall = time.perf_counter() - clock
        starts = [line["times"]["started"] for line in lines]
        ends = [line["times"]["started"] + (line["times"]["wall"] or 0.0) for line in lines]
        finished = [line["times"]["wall"] for line in lines if line["status"] == "optimal"]
        runs.append({"workers": count, "wall": wall, "span": max(ends) - min(starts), "lines": lines,
                     "statuses": dict(Counter(line["status"] for line in lines)),
                     "optimal_task_seconds": sum(finished), "task_seconds": sum(line["times"]["wall"] or 0.0
                                                                               for line in lines),
                     "load_start": load_start, "load_end": _load()})
    return runs


def _published(folder: Path) -> dict[str, Any]:
    optima = folder / "optima.json"
    if not optima.is_file():
        return {}
    return {str((folder / name).resolve()): entry["optimum"] for name, entry in json.loads(optima.read_text()).items()}


def build_section(runs: list[dict], folder: Path, time_limit: float, title: str = "Batch runs on Dask") -> Section:
    """Tables and checks of :func:`run_batches`."""
    built = Section("batch", title)
    cores = os.cpu_count() or 1
    base = runs[0]
    built.text.append(
        f"`python -m lipexact.batch {folder} --methods auto --time-limit {time_limit:g} --scheduler local:N`: "
        f"{len(base['lines'])} tasks (one per instance file), N single-threaded worker processes, so N tasks ran "
        f"at once. Wall times include starting the cluster and the workers' warm-up. The machine has {cores} "
        "cores and is shared: the 1-minute load average is given at the start and the end of each run; a load "
        "above the core count means other work competed for the CPUs and inflates every time.")
    rows = []
    for run in runs:
        statuses = ", ".join(f"{k} {v}" for k, v in sorted(run["statuses"].items()))
        rows.append([f"local:{run['workers']}", run["wall"], base["wall"] / run["wall"], run["span"],
                     base["span"] / run["span"], run["optimal_task_seconds"], run["task_seconds"], statuses,
                     run["load_start"], run["load_end"]])
    built.tables.append(Table("batch_runs", "Instance library, local:1 against local:N",
                              ["scheduler", "wall (s)", "speed-up (wall)", "task span (s)", "speed-up (span)",
                               "optimal tasks (s)",
                               "all tasks (s)", "statuses", "load at start", "load at end"], rows,
                              [f"Per-task time limit {time_limit:g} s (a stopped task reports its proven bracket).",
                               "task span: first task start to last task end (no cluster start).",
                               "optimal tasks (s): summed wall time of the tasks that proved their optimum; a task "
                               "stopped at its time limit takes the limit whatever the load."]))
    keys = [{line["key"]: line for line in run["lines"]} for run in runs]
    built.checks.append(Check("every input has a line in every run",
                              all(len(k) == len(keys[0]) and k.keys() == keys[0].keys() for k in keys),
                              f"{len(keys[0])} tasks"))
    disagreements = [key for key, line in keys[0].items() for other in keys[1:]
                     if key in other and line["status"] == "optimal" == other[key]["status"]
                     and line["source_value"] != other[key]["source_value"]]
    built.checks.append(Check("runs agree on every optimum both proved", not disagreements,
                              f"{len(disagreements)} disagreements"))
    published = _published(folder)
    proven = [(line["input"]["path"], line["source_value"]) for run in runs for line in run["lines"]
              if line["status"] == "optimal" and line["input"]["path"] in published]
    wrong = [path for path, value in proven if value != published[path]]
    built.checks.append(Check("proven optima equal the published ones", not wrong if proven else None,
                              f"{len(proven)} proven lines compared, {len(wrong)} differ"))
    for run in runs[1:]:
        speedup = base["wall"] / run["wall"]
        busy = run["load_start"] is None or base["load_start"] is None or max(run["load_start"],
                                                                               base["load_start"]) >= cores
        target = SPEEDUP_TARGET * run["workers"] / (2 * base["workers"])
        built.checks.append(Check(f"local:{run['workers']} speed-up >= {target:.2g}x over local:{base['workers']}",
                                  None if busy else speedup >= target,
                                  f"{speedup:.2f}x" + (" (not judged: the load at the start was at least the core "
                                                      "count)" if busy else "")))
    built.records = [{k: v for k, v in run.items() if k != "lines"} for run in runs]
    return built


def section(ctx: Any) -> Section:
    """The measurement as a report section (skipped with a message where the shared instances are absent)."""
    if not (INSTANCES / "optima.json").is_file():
        built = Section("batch", "Batch runs on Dask")
        built.text.append(f"Skipped: the shared instances are not at {INSTANCES}.")
        return built
    return build_section(run_batches(INSTANCES, DEFAULT_TIME_LIMIT, DEFAULT_WORKERS, seed=ctx.seed), INSTANCES,
                         DEFAULT_TIME_LIMIT)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=Path, default=INSTANCES, help="folder of instances (default: the "
                                                                          "shared library)")
    parser.add_argument("--time-limit", type=float, default=DEFAULT_TIME_LIMIT,
                        help=f"seconds per task (default {DEFAULT_TIME_LIMIT:g})")
    parser.add_argument("--workers", default=",".join(map(str, DEFAULT_WORKERS)),
                        help="comma-separated worker counts, the first is the baseline (default 1,2)")
    parser.add_argument("--seed", type=int, default=0, help="seed passed to every task")
    parser.add_argument("--out", "-o", type=Path, default=None,
                        help="output folder (default benchmarks/results/batch-<timestamp>)")
    parser.add_argument("--progress", action="store_true", help="the batch progress bars on stderr")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the measurement, write ``report.md``, ``results.json`` and the CSV tables; print the report's path."""
    from benchmarks.report import timestamp, write_one_section
    from reductions.validation import require

    args = _parse(argv)
    workers = [int(w) for w in args.workers.split(",") if w.strip().isdigit()]
    require(len(workers) >= 2 and min(workers) >= 1, "workers", "two or more counts >= 1", repr(args.workers))
    require(args.time_limit > 0, "time-limit", "seconds > 0", repr(args.time_limit))
    require(args.instances.is_dir(), "instances", "a folder", str(args.instances))
    out = args.out or Path(__file__).resolve().parent / "results" / f"batch-{timestamp()}"
    require(not out.exists() or out.is_dir(), "out", "a folder", f"{out} is a file")
    started, load_start, clock = _dt.datetime.now().isoformat(timespec="seconds"), _load(), time.perf_counter()
    runs = run_batches(args.instances, args.time_limit, workers, seed=args.seed, quiet=not args.progress)
    built = build_section(runs, args.instances, args.time_limit)
    built.seconds = time.perf_counter() - clock
    write_one_section(out, built, PROG, argv, seed=args.seed, started=started, seconds=built.seconds,
                      load_start=[load_start], config={"name": "batch", "time_limit": args.time_limit,
                                                       "workers": workers, "instances": str(args.instances)})
    return 0


def entry(argv: Sequence[str] | None = None) -> int:
    from lipexact.cli import run_cli

    return run_cli(PROG, main, argv)


if __name__ == "__main__":
    sys.exit(entry())
