"""``python -m benchmarks.run --quick|--full [--out DIR] [--seed N] [--device cpu|cuda]``

Runs every section of the benchmark report and writes ``report.md``, ``results.json``, one CSV per
table and the PNG figures into ``--out`` (default ``benchmarks/results/<configuration>-<timestamp>``).
Progress goes to stderr (tqdm); the last line on stdout is the path of the report.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Sequence

from benchmarks.config import CONFIGS
from benchmarks.report import Section, cpu_clock, environment, load_now, timestamp, write_report
from lipexact.cli import run_cli
from reductions.validation import InvalidInputError, require

PROG = "python -m benchmarks.run"
RESULTS = Path(__file__).resolve().parent / "results"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=PROG, description="Benchmark report of lipexact: exact values, bounds "
                                     "and timings side by side.")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", dest="config", action="store_const", const="quick",
                      help="a few minutes on two CPU cores (the default)")
    mode.add_argument("--full", dest="config", action="store_const", const="full", help="the complete set")
    mode.add_argument("--smoke", dest="config", action="store_const", const="smoke",
                      help="the smallest configuration (seconds; used by the test suite)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default benchmarks/results/...)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every random choice (default 0)")
    parser.add_argument("--device", default=None,
                        help="cpu or cuda: where the bounds run (default: cuda when available, else cpu; with "
                             "cuda the bounds are timed on the CPU too, side by side)")
    parser.add_argument("--sections", default=None,
                        help="comma-separated subset of sections to run (default: all)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--scheduler", default=None, metavar="local:N|ADDRESS",
                        help="run the independent sections as Dask tasks, one per single-threaded worker "
                             "(local:N starts N; devices and threads stay here, after them); default: one after "
                             "another in this process")
    parser.set_defaults(config="quick")
    return parser.parse_args(argv)


def timing_devices(requested: str | None) -> tuple[str, list[str]]:
    """The requested device (validated) and the devices bounds are timed on, primary first."""
    import torch

    cuda = torch.cuda.is_available()
    device = requested if requested is not None else ("cuda" if cuda else "cpu")
    require(device in ("cpu", "cuda"), "device", "cpu or cuda", repr(device))
    if device == "cuda":
        require(cuda, "device", "cpu, or cuda on a machine where torch.cuda.is_available()",
                "cuda (no CUDA device here)")
        return device, ["cuda", "cpu"]
    return device, ["cpu"]


def main(argv: Sequence[str] | None = None) -> int:
    from benchmarks.tables import SECTIONS, Context

    args = parse_args(argv)
    config = CONFIGS[args.config]
    require(args.seed >= 0, "seed", "a non-negative integer", repr(args.seed))
    device, devices = timing_devices(args.device)
    chosen = list(SECTIONS)
    if args.sections:
        chosen = [name.strip() for name in args.sections.split(",") if name.strip()]
        unknown = [name for name in chosen if name not in SECTIONS]
        if unknown:
            raise InvalidInputError("sections", f"names among {sorted(SECTIONS)}", ", ".join(unknown))
    out = args.out if args.out is not None else RESULTS / f"{config.name}-{timestamp()}"
    if out.exists() and not out.is_dir():
        raise InvalidInputError("out", "a folder", f"{out} is a file")
    out.mkdir(parents=True, exist_ok=True)

    import numpy as np
    import torch

    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    ctx = Context(config=config, seed=args.seed, devices=devices, out=out, progress=not args.no_progress)
    started = _dt.datetime.now().isoformat(timespec="seconds")
    load_start = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    start, cpu_start = time.perf_counter(), cpu_clock()
    sections: list[Section] = []
    from tqdm import tqdm

    overall = tqdm(chosen, desc=f"benchmarks ({config.name})", file=sys.stderr, disable=args.no_progress,
                   dynamic_ncols=True)
    remote: dict[str, Section] = {}
    if args.scheduler is not None:  # see benchmarks/sections_on_dask.py
        from benchmarks.sections_on_dask import run_sections

        remote = run_sections(chosen, ctx, args.scheduler, progress=not args.no_progress)
    for name in overall:
        if name in remote:
            sections.append(remote[name])
            continue
        overall.set_postfix_str(name)
        section_start, section_cpu, section_load = time.perf_counter(), cpu_clock(), load_now()
        section = SECTIONS[name](ctx)
        section.seconds = time.perf_counter() - section_start
        section.cpu_seconds = cpu_clock() - section_cpu
        section.load = (section_load, load_now())
        sections.append(section)
    overall.close()
    meta = {
        "command": " ".join([PROG] + [shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv)]),
        "config": config.to_dict(),
        "seed": args.seed,
        "device": device,
        "timing_devices": devices,
        "started": started,
        "seconds": time.perf_counter() - start,
        "cpu_seconds": cpu_clock() - cpu_start,
        "environment": environment(),
        "load_average_start": load_start,
        "sections": chosen,
        "scheduler": args.scheduler,
        "sections_all": set(chosen) == set(SECTIONS),
    }
    paths = write_report(out, sections, meta)
    print(paths["report.md"])
    return 0


def entry(argv: Sequence[str] | None = None) -> int:
    return run_cli(PROG, main, argv)


if __name__ == "__main__":
    sys.exit(entry())
