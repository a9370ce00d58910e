"""One task, run where it is scheduled (this process or a Dask worker): read, solve, one result line.

:func:`run_task` never raises for a bad input or a failing solver: the line then has status ``error`` and
the message. An instance is read and reduced as ``python -m lipexact.reduce --solve`` does and its line
carries the same ``solution`` block (the solver's result, the source solution with its certificate, the
proven ``source_bound``, the witness value and its image); a network is read and solved as
``python -m lipexact.solve`` does and its line carries the ``lipschitz_result`` that ``-o`` writes there.
Every line also has ``status``, ``value``, ``lower``, ``upper`` (of the Lipschitz constant), ``times``
and ``worker``.

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> from lipexact.batch.tasks import find_inputs, make_tasks
>>> with tempfile.TemporaryDirectory() as folder:
...     _ = (Path(folder) / "k3.rudy").write_text("3 3\\n1 2 1\\n2 3 1\\n1 3 1\\n")
...     task, = make_tasks(find_inputs([folder]), ["brute"], ["2"], {"seed": 0, "to": "auto"})
...     line = run_task(task)
>>> line["status"], line["source_value"], line["solution"]["source_solution"]["certificate"]
('optimal', 2, [True, False, False])
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

from lipexact.batch.tasks import Task, file_sha256
from reductions.validation import InvalidInputError, require

__all__ = ["run_task", "error_line", "worker_info", "solve_instance", "solve_network", "warm_up"]

SCHEMA = "batch_result"
SCHEMA_VERSION = 1


def warm_up() -> None:
    """Import and run what the first solve of a process would (torch, the exact solvers, the realizability
    checks: seconds on a busy machine) on a one-edge graph, so that a task's clock and its hard limit
    measure its own solve. Done once per process."""
    global _WARM
    if _WARM:
        return
    import torch  # noqa: F401

    import lipexact.solve  # noqa: F401
    from lipexact.reduce import solve_reduced
    from reductions.chain import reduce_to_lipcst
    from reductions.instances import MaxCut

    reduced = reduce_to_lipcst(MaxCut.from_edges(2, [(0, 1)]))
    for method in ("brute", "bnb"):
        solve_reduced(reduced, method)
    _WARM = True


_WARM = False


def worker_info(address: str = "in-process") -> dict:
    """Where a task ran: the Dask worker's address (or ``"in-process"``), host name and process id."""
    return {"address": address, "host": socket.gethostname(), "pid": os.getpid()}


def _read_reduced(path: str, to: str) -> Any:
    """The LIP-CST reduction of an instance file, as ``python -m lipexact.reduce`` builds it."""
    from lipexact.io import from_dict, read_json
    from lipexact.reduce import read_instance
    from reductions.chain import reduce_to_lipcst
    from reductions.reduction_size import require_reduction_fits

    if path.endswith(".json"):
        document = read_json(path)
        if isinstance(document, dict) and document.get("type") == "lipcst_reduction":
            return from_dict(document, "lipcst_reduction")
    instance = read_instance(path)
    via = None if to == "auto" else to
    require_reduction_fits(instance, via, path)
    return reduce_to_lipcst(instance, via=via)


def solve_instance(task: Task) -> dict:
    """Reduce, solve and map back one instance (``reduce --solve``); the fields of its result line."""
    from lipexact.reduce import solve_reduced, source_bound, witness_values
    from reductions.instances import encode_number

    options = task.options
    require(task.norm == "2", "norm", "2 for an instance (its reduction maps the optimum to the l2 constant)",
            repr(task.norm))
    require(options.get("node_limit") is None, "node_limit", "none for an instance (reduce --solve takes none)",
            repr(options.get("node_limit")))
    reduced = _read_reduced(task.input.path, options.get("to", "auto"))
    result, solution = solve_reduced(reduced, task.method, options.get("time_limit"), options.get("seed", 0))
    bound = source_bound(reduced, result)
    block = {"lipschitz_result": result.to_dict(),
             "source_solution": None if solution is None else solution.to_dict(),
             "source_bound": None if bound is None else encode_number(bound)}
    values = witness_values(reduced, result)
    if values is not None:
        block["witness_value"] = encode_number(values[0])
        block["mapped_value"] = encode_number(values[1])
    offset, scale = reduced.value_map
    return {**_summary(result),
            "source": {"problem": getattr(reduced.source, "kind", type(reduced.source).__name__.lower()),
                       "n": getattr(reduced.source, "n", getattr(reduced.source, "n_inputs", None))},
            "value_map": {"offset": encode_number(offset), "scale": encode_number(scale)},
            "source_value": None if solution is None else encode_number(solution.value),
            "source_bound": block["source_bound"],
            "solution": block}


def solve_network(task: Task) -> dict:
    """Solve one network (``python -m lipexact.solve``); the fields of its result line."""
    from lipexact.entry import lipschitz
    from lipexact.solve import read_network

    options = task.options
    net = read_network(task.input.path)
    extra = {} if options.get("node_limit") is None else {"node_limit": options["node_limit"]}
    result = lipschitz(net, method=task.method, norm=task.norm, time_limit=options.get("time_limit"),
                       seed=options.get("seed", 0), **extra)
    return {**_summary(result), "lipschitz_result": result.to_dict()}


def _summary(result: Any) -> dict:
    plain = result.to_dict()
    return {"status": plain["status"], "value": plain["value"], "lower": plain["lower"], "upper": plain["upper"],
            "message": plain["message"]}


def _line(task: Task, fields: dict, worker: dict, started: float, seconds: float) -> dict:
    return {"type": SCHEMA, "version": SCHEMA_VERSION, **task.describe(), **fields, "worker": worker,
            "times": {"started": started, "wall": seconds}}


def error_line(task: Task, message: str, worker: dict | None = None, started: float | None = None,
               seconds: float | None = None) -> dict:
    """The line of a task that failed: status ``error``, no value, the message.

    Examples
    --------
    >>> from lipexact.batch.tasks import InputFile
    >>> line = error_line(Task(InputFile("/x.rudy", "0" * 64, "instance"), "bnb", "2"), "worker died")
    >>> line["status"], line["error"], line["value"]
    ('error', 'worker died', None)
    """
    fields = {"status": "error", "value": None, "lower": None, "upper": None, "message": message, "error": message}
    return _line(task, fields, worker or {}, time.time() if started is None else started, seconds)


def run_task(task: Task, address: str = "in-process") -> dict:
    """Run one task and return its result line (an ``error`` line for a bad file or a failing solver)."""
    started, clock = time.time(), time.perf_counter()
    try:
        require(file_sha256(task.input.path) == task.input.sha256, task.input.path,
                "the content the batch was started with", "a file changed since (its SHA-256 differs)")
        fields = solve_network(task) if task.input.kind == "network" else solve_instance(task)
    except InvalidInputError as error:
        return error_line(task, str(error), worker_info(address), started, time.perf_counter() - clock)
    except Exception as error:  # noqa: BLE001 - any failure of one task is its error line; the batch goes on
        message = f"{type(error).__name__}: {error}"
        return error_line(task, message, worker_info(address), started, time.perf_counter() - clock)
    return _line(task, fields, worker_info(address), started, time.perf_counter() - clock)
