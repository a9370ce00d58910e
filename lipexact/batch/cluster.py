"""Tasks run on Dask (``dask.distributed``): a ``LocalCluster`` of single-threaded worker processes
(``local:N``) or an existing scheduler (an address such as ``tcp://host:8786``, started with dask's own
tools: ``dask scheduler`` / ``dask worker``, dask-jobqueue on SLURM, dask-kubernetes).

Faults:

* a task that raises inside the solver is already an ``error`` line (:func:`lipexact.batch.work.run_task`);
* a worker process that dies (killed, out of memory) while running a task: the scheduler reschedules the
  task on another worker, up to ``distributed.scheduler.allowed-failures`` times (:data:`ALLOWED_FAILURES`
  on a ``local:N`` cluster; the scheduler's own setting on an existing one); after that the task is an
  ``error`` line (``KilledWorker``);
* the hard time limit: each task reports its start when it begins to execute (after the worker's one-time
  warm-up; a worker event on a topic of this run, timed on receipt by this client); a task still
  running ``hard_seconds`` after its start is cancelled, becomes an ``error`` line, and its worker is
  restarted through its nanny (``Client.restart_workers``): a thread stuck in C code cannot be stopped any
  other way. A worker started without a nanny cannot be restarted; the line says so.

Workers of a ``local:N`` cluster have one thread each and ``LIPEXACT_THREADS=1`` (and dask's
``OMP_NUM_THREADS=1``), so N workers use N cores; the scheduler's worker saturation is 1.0, so a worker
holds one task at a time (tasks stay with the scheduler until a worker is free). The scheduler's HTTP
server (and dashboard, where bokeh is installed) listens on a free port, so that several batches can run.

Examples
--------
>>> parse_scheduler("local:2"), parse_scheduler("tcp://10.0.0.5:8786")
(('local', 2), ('address', 'tcp://10.0.0.5:8786'))
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from typing import Any, Callable, Sequence

from lipexact.batch.tasks import Task
from lipexact.batch.work import error_line, run_task, warm_up
from reductions.validation import InvalidInputError, require

__all__ = ["ALLOWED_FAILURES", "parse_scheduler", "connect", "run_on_dask"]

#: How often a task whose worker died is started again on a ``local:N`` cluster before it is an error line.
ALLOWED_FAILURES = 3
#: Seconds between two looks at the futures (finished tasks, hard limits, the running count).
POLL_SECONDS = 0.1


def parse_scheduler(text: str) -> tuple[str, Any]:
    """``("local", N)`` for ``local:N`` (N >= 1), else ``("address", text)``.

    Examples
    --------
    >>> parse_scheduler("local:0")
    Traceback (most recent call last):
    ...
    reductions.validation.InvalidInputError: --scheduler: expected local:N with N >= 1 workers, or a scheduler address, got 'local:0'
    """
    expected = "local:N with N >= 1 workers, or a scheduler address"
    require(bool(text.strip()), "--scheduler", expected, repr(text))
    if text.startswith("local"):
        count = text.partition(":")[2]
        require(count.isdigit() and int(count) >= 1, "--scheduler", expected, repr(text))
        return "local", int(count)
    require(":" in text and " " not in text, "--scheduler", expected, repr(text))
    return "address", text


def require_dask() -> None:
    """Refuse a ``--scheduler`` when dask.distributed is not installed, with the command that installs it."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise InvalidInputError("--scheduler", 'dask.distributed installed (pip install -e ".[distributed]")',
                                "no module named distributed") from None


def connect(scheduler: str) -> tuple[Any, Any]:
    """A ``distributed.Client`` and the ``LocalCluster`` it started (None for an existing scheduler)."""
    require_dask()
    import dask
    from distributed import Client, LocalCluster

    kind, value = parse_scheduler(scheduler)
    if kind == "address":
        return Client(value), None
    settings = {"distributed.scheduler.worker-saturation": 1.0,
                "distributed.scheduler.allowed-failures": ALLOWED_FAILURES}
    with dask.config.set(settings):
        cluster = LocalCluster(n_workers=value, threads_per_worker=1, processes=True, dashboard_address=":0",
                               env={"LIPEXACT_THREADS": "1"}, silence_logs=logging.ERROR)
        return Client(cluster), cluster


def _on_worker(task: Task, topic: str, run: Callable[..., dict]) -> dict:
    """What a worker runs: report the start (for the hard limit and the running count), then the task."""
    from distributed import get_worker

    warm_up()
    worker = get_worker()
    worker.log_event(topic, {"key": task.key, "pid": os.getpid()})
    return run(task, worker.address)


def _line_of(future: Any, task: Task) -> dict:
    """The result line of a finished future (an error line for a lost or failed one)."""
    if future.status == "finished":
        return future.result()
    if future.status == "error":
        error = future.exception()
        if type(error).__name__ == "KilledWorker":
            return error_line(task, f"the task's worker died each time it ran it (KilledWorker: {error})")
        return error_line(task, f"{type(error).__name__}: {error}")
    return error_line(task, f"the task ended {future.status} on the cluster")


def _restart(client: Any, address: str) -> str:
    try:
        client.restart_workers([address])
    except Exception as error:  # noqa: BLE001 - no nanny, or the worker is gone already
        return f"; its worker {address} could not be restarted ({type(error).__name__}: {error})"
    return f"; its worker {address} was restarted"


def run_on_dask(tasks: Sequence[Task], on_line: Callable[[dict], None], set_running: Callable[[int], None],
                hard_seconds: float | None, scheduler: str, run: Callable[..., dict] = run_task) -> None:
    """Run ``tasks`` on the cluster, giving each result line to ``on_line`` as soon as it is there."""
    client, cluster = connect(scheduler)
    topic = f"lipexact-batch-{uuid.uuid4().hex}"
    started: dict[str, tuple[float, str]] = {}  # task key -> (time the start was seen here, worker address)
    lock = threading.Lock()

    def on_start(event: tuple) -> None:
        message = event[1]
        with lock:
            started[message["key"]] = (time.monotonic(), message["worker"])

    pending: dict[Any, Task] = {}
    try:
        client.subscribe_topic(topic, on_start)
        for task in tasks:
            future = client.submit(_on_worker, task, topic, run, key=f"lipexact-batch-{task.key[:24]}-{topic[-8:]}")
            pending[future] = task
        while pending:
            for future in [f for f in pending if f.done()]:
                task = pending.pop(future)
                with lock:
                    started.pop(task.key, None)
                on_line(_line_of(future, task))
            now = time.monotonic()
            with lock:
                running = {t.key: started[t.key] for t in pending.values() if t.key in started}
            if hard_seconds is not None:
                for future, task in list(pending.items()):
                    since = running.get(task.key)
                    if since is None or now - since[0] <= hard_seconds:
                        continue
                    del pending[future], running[task.key]
                    with lock:
                        started.pop(task.key, None)
                    client.cancel(future)
                    note = _restart(client, since[1])
                    on_line(error_line(task, f"hard time limit of {hard_seconds:g} s exceeded{note}",
                                       {"address": since[1]}, time.time() - (now - since[0]), now - since[0]))
            set_running(len(running))
            time.sleep(POLL_SECONDS)
    finally:
        if pending:
            client.cancel(list(pending))
        client.close()
        if cluster is not None:
            cluster.close()
