"""``python -m lipexact.batch INPUTS... -o results.jsonl``: many exact solves, in this process or on Dask.

Exit codes: 0 every task finished without an ``error`` line, 1 the batch finished and some tasks have
``error`` lines, 2 bad arguments (checked before anything runs; no output file is created), 74 the output
could not be written, 130 interrupted (every finished task is in the output: run again to go on).
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from lipexact.batch.api import METHOD_CHOICES, NORM_CHOICES, execute, plan_batch
from lipexact.batch.store import ResultsFile
from lipexact.cli import EXIT_OK, run_cli

__all__ = ["main", "build_parser"]

PROG = "python -m lipexact.batch"
EXIT_TASK_ERRORS = 1


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser.

    Examples
    --------
    >>> args = build_parser().parse_args(["instances/", "--methods", "auto,bnb", "--norm", "2", "-o", "r.jsonl"])
    >>> args.inputs, args.methods, args.norm, args.output, args.scheduler
    (['instances/'], ['auto', 'bnb'], ['2'], 'r.jsonl', None)
    """
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Solve every (input, method, norm) exactly: instances (Max-Cut / QUBO / convex quadratics in "
                    "JSON or Biq Mac formats, reduced to LIP-CST and mapped back as 'lipexact.reduce --solve' "
                    "does) and networks (JSON or saved torch modules, as 'lipexact.solve' does). One JSON line "
                    "per task, written as it finishes; running again with the same -o skips finished tasks.",
        epilog="Exit codes: 0 all tasks finished without error, 1 some tasks have error lines, 2 bad arguments "
               "(nothing run, no output file), 74 output not written, 130 interrupted (run again to go on).")
    parser.add_argument("inputs", nargs="+", metavar="INPUTS",
                        help="instance or network files, or folders (walked recursively; documentation and JSON "
                             "of other types in them are skipped)")
    parser.add_argument("--methods", type=_names, default=["auto"],
                        help=f"comma-separated exact methods among {', '.join(METHOD_CHOICES)} (default: auto)")
    parser.add_argument("--norm", "--norms", dest="norm", type=_names, default=["2"],
                        help=f"comma-separated norms among {', '.join(NORM_CHOICES)} (default: 2); instances "
                             "take 2 only (other norms give them an error line)")
    parser.add_argument("--time-limit", type=float, default=None, metavar="S",
                        help="seconds per task, passed to the solver (a stopped solve reports status "
                             "time_limit with its proven bracket)")
    parser.add_argument("--hard-limit", type=float, default=None, metavar="S",
                        help="seconds after which a running task is stopped and gets an error line (default: "
                             "2 x time limit + 10; none without a time limit). On Dask the worker is restarted; "
                             "in-process only Python code can be stopped")
    parser.add_argument("--node-limit", type=int, default=None, metavar="N",
                        help="search nodes per task (networks only)")
    parser.add_argument("--seed", type=int, default=0, help="seed passed to every task (default: 0)")
    parser.add_argument("--to", default="auto", choices=["auto", "pm1", "01"],
                        help="reduction route of instances, as in lipexact.reduce (default: auto)")
    parser.add_argument("--scheduler", default=None, metavar="local:N|ADDRESS",
                        help="run on Dask: local:N starts a LocalCluster of N single-threaded worker processes, "
                             "an address (tcp://host:8786) connects to a running scheduler (default: this "
                             "process, one task after another, without Dask)")
    parser.add_argument("-o", "--output", default=None, metavar="OUT.jsonl",
                        help="append result lines here (tasks already in it are skipped); default: stdout")
    parser.add_argument("--retry-errors", action="store_true",
                        help="with -o: run the tasks whose line there is an error again")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    plan = plan_batch(args.inputs, args.methods, args.norm, args.time_limit, args.hard_limit, args.node_limit,
                      args.seed, args.to, args.scheduler, args.output, args.retry_errors)
    skipped = len(plan.tasks) - len(plan.to_run)
    if not args.quiet:
        where = "in this process" if args.scheduler is None else f"on Dask ({args.scheduler})"
        print(f"{PROG}: {len(plan.tasks)} tasks, {skipped} already in {args.output}, {len(plan.to_run)} to run "
              f"{where}", file=sys.stderr)
    lines = execute(plan, ResultsFile(args.output), args.scheduler, args.quiet)
    errors = sum(line is not None and line.get("status") == "error" for line in lines)
    if errors and not args.quiet:
        print(f"{PROG}: {errors} of {len(lines)} tasks have error lines", file=sys.stderr)
    return EXIT_TASK_ERRORS if errors else EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line (``argv`` None: ``sys.argv``); returns the exit code."""
    return run_cli(PROG, _main, argv)
