""":func:`solve_many`: a batch of solves from Python, with the checks, the resume and the runners the
command line uses.

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> with tempfile.TemporaryDirectory() as folder:
...     _ = (Path(folder) / "k3.rudy").write_text("3 3\\n1 2 1\\n2 3 1\\n1 3 1\\n")
...     _ = (Path(folder) / "c4.rudy").write_text("4 4\\n1 2 1\\n2 3 1\\n3 4 1\\n1 4 1\\n")
...     lines = solve_many([folder], methods=["brute", "bnb"])
>>> [(Path(l["input"]["path"]).name, l["method"], l["status"], l["source_value"]) for l in lines]
[('c4.rudy', 'brute', 'optimal', 4), ('c4.rudy', 'bnb', 'optimal', 4), ('k3.rudy', 'brute', 'optimal', 2), ('k3.rudy', 'bnb', 'optimal', 2)]
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from lipexact.batch.progress import Progress
from lipexact.batch.store import ResultsFile, read_results
from lipexact.batch.tasks import Task, find_inputs, make_tasks
from lipexact.batch.work import run_task
from reductions.validation import require

__all__ = ["solve_many", "execute", "Plan", "plan_batch", "default_hard_limit", "METHOD_CHOICES", "NORM_CHOICES"]


def _method_choices() -> list[str]:
    from lipexact.deep.solve import DEEP_METHODS
    from lipexact.exact import METHODS

    return list(dict.fromkeys(["auto", *METHODS, *DEEP_METHODS]))


METHOD_CHOICES = _method_choices()
NORM_CHOICES = ["2", "1", "inf"]


def default_hard_limit(time_limit: float | None) -> float | None:
    """The hard limit of a task when none is given: ``2 * time_limit + 10`` seconds (None without a time
    limit). Solvers honour ``time_limit`` themselves within a fraction of a second (benchmarks/time_limits);
    the hard limit is for a task that does not (a solver library call that never returns).

    Examples
    --------
    >>> default_hard_limit(5), default_hard_limit(None)
    (20, None)
    """
    return None if time_limit is None else 2 * time_limit + 10


@dataclass
class Plan:
    """A checked batch: every task, the ones still to run, and the lines already in the output."""

    tasks: list[Task]
    to_run: list[Task]
    done: dict[str, dict]
    hard_limit: float | None


def _positive(value: Any, field: str, integer: bool = False) -> None:
    if value is None:
        return
    kind = int if integer else (int, float)
    ok = isinstance(value, kind) and not isinstance(value, bool) and math.isfinite(value) and value > 0
    require(ok, field, f"a {'whole number' if integer else 'number of seconds'} > 0", repr(value))


def plan_batch(inputs: Sequence[str | os.PathLike], methods: Sequence[str] = ("auto",),
               norms: Sequence[str] = ("2",), time_limit: float | None = None, hard_limit: float | None = None,
               node_limit: int | None = None, seed: int = 0, to: str = "auto", scheduler: str | None = None,
               output: str | os.PathLike | None = None, retry_errors: bool = False) -> Plan:
    """Check every argument and the output path, find the inputs, and drop the tasks already in ``output``.

    Nothing is written; every problem raises :class:`~reductions.validation.InvalidInputError`.
    """
    from lipexact.io import check_output

    methods, norms = list(methods), [str(n) for n in norms]
    require(bool(methods) and all(m in METHOD_CHOICES for m in methods), "--methods",
            f"a comma-separated list of {METHOD_CHOICES}", ",".join(methods) or "nothing")
    require(bool(norms) and all(n in NORM_CHOICES for n in norms), "--norm",
            f"a comma-separated list of {NORM_CHOICES}", ",".join(norms) or "nothing")
    require(len(set(methods)) == len(methods) and len(set(norms)) == len(norms), "--methods/--norm",
            "each name once", ",".join(methods + norms))
    _positive(time_limit, "--time-limit")
    _positive(hard_limit, "--hard-limit")
    _positive(node_limit, "--node-limit", integer=True)
    require(isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0, "--seed", "an integer >= 0",
            repr(seed))
    require(to in ("auto", "pm1", "01"), "--to", "auto, pm1 or 01", repr(to))
    if scheduler is not None:
        from lipexact.batch.cluster import parse_scheduler, require_dask

        parse_scheduler(scheduler)
        require_dask()
    if output is not None:
        check_output(output, "-o/--output")
    files = find_inputs(inputs)
    instances = sum(f.kind == "instance" for f in files)
    require(node_limit is None or instances == 0, "--node-limit",
            "network inputs only (reduce --solve takes no node limit)", f"{instances} instance files among the inputs")
    options = {"seed": seed, "time_limit": time_limit, "node_limit": node_limit, "to": to}
    tasks = make_tasks(files, methods, norms, options)
    done = read_results(output).lines if output is not None else {}
    if retry_errors:
        done = {key: line for key, line in done.items() if line.get("status") != "error"}
    to_run = [task for task in tasks if task.key not in done]
    return Plan(tasks, to_run, done, hard_limit if hard_limit is not None else default_hard_limit(time_limit))


def solve_many(inputs: Sequence[str | os.PathLike], methods: Sequence[str] = ("auto",),
               norms: Sequence[str] = ("2",), time_limit: float | None = None, hard_limit: float | None = None,
               node_limit: int | None = None, seed: int = 0, to: str = "auto", scheduler: str | None = None,
               output: str | os.PathLike | None = None, retry_errors: bool = False, quiet: bool = True,
               run: Callable[..., dict] = run_task) -> list[dict]:
    """Solve every (input, method, norm) and return the result lines, in task order.

    Parameters
    ----------
    inputs : files and folders (instances and networks, see :mod:`lipexact.batch.tasks`)
    methods, norms : the methods and norms to cross with every input (an instance takes norm ``"2"`` only;
        other norms give it an ``error`` line)
    time_limit : seconds per task, passed to the solver (a stopped solve has status ``time_limit`` and its
        proven bracket)
    hard_limit : seconds after which a running task is stopped and becomes an ``error`` line (default:
        :func:`default_hard_limit`)
    node_limit, seed, to : passed to the solver (node limits for networks only), the reduction route
    scheduler : None (in this process, no Dask), ``"local:N"`` or a scheduler address
    output : a JSON-lines file: lines are appended as tasks finish, and tasks already in it are skipped
        (their lines are returned as they are); ``retry_errors`` runs the ``error`` ones again
    quiet : no progress bar on stderr
    run : the function run per task (``run(task, worker_address) -> line``; tests pass a slow one)
    """
    plan = plan_batch(inputs, methods, norms, time_limit, hard_limit, node_limit, seed, to, scheduler, output,
                      retry_errors)
    return execute(plan, ResultsFile(output) if output is not None else _Discard(), scheduler, quiet, run)


class _Discard:
    """A sink for :func:`execute` that keeps nothing (``solve_many`` without ``output`` returns the lines)."""

    def __enter__(self) -> "_Discard":
        return self

    def __exit__(self, *exc: Any) -> None:
        pass

    def append(self, line: dict) -> None:
        pass


def execute(plan: Plan, results: Any, scheduler: str | None = None, quiet: bool = True,
            run: Callable[..., dict] = run_task) -> list[dict]:
    """Run a plan's tasks, appending each line to ``results`` (a :class:`ResultsFile`) as it comes; all
    the plan's lines, in task order (None for a task that did not finish)."""
    lines = dict(plan.done)
    progress = Progress(len(plan.to_run), skipped=len(plan.tasks) - len(plan.to_run), quiet=quiet)

    def finished(line: dict) -> None:
        results.append(line)
        lines[line["key"]] = line
        progress.finished(line)

    try:
        with results:
            if not plan.to_run:
                pass  # everything is in the output already: no cluster to start
            elif scheduler is None:
                from lipexact.batch.local import run_in_process

                run_in_process(plan.to_run, finished, progress.started, plan.hard_limit, run)
            else:
                from lipexact.batch.cluster import run_on_dask

                run_on_dask(plan.to_run, finished, progress.set_running, plan.hard_limit, scheduler, run)
    finally:
        progress.close()
    return [lines.get(task.key) for task in plan.tasks]
