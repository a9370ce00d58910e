"""Tasks run one after another in this process (no ``--scheduler``; Dask is not imported).

The hard time limit is an interval timer (``SIGALRM``) that raises :class:`HardLimitExceeded` in the
solver's Python code; it cannot stop C code that never returns to Python (a solver library call) and it
is only armed in the main thread where ``SIGALRM`` exists. For a hard limit that holds for C code too,
run with ``--scheduler local:N``: an overrunning worker process is restarted.

A solver stopped by Ctrl-C returns an ``interrupted`` result: that line is not written (the task was not
finished) and the batch stops with :class:`KeyboardInterrupt`.

Examples
--------
>>> with hard_limit(None):      # no limit: nothing armed
...     1 + 1
2
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from typing import Callable, Iterator, Sequence

from lipexact.batch.tasks import Task
from lipexact.batch.work import error_line, run_task, warm_up, worker_info
from lipexact.cli import stdout_to_stderr

__all__ = ["HardLimitExceeded", "hard_limit", "run_in_process"]


class HardLimitExceeded(BaseException):
    """Raised by the interval timer when a task overruns its hard limit (a BaseException, so that no
    solver's ``except Exception`` swallows it)."""


@contextlib.contextmanager
def hard_limit(seconds: float | None) -> Iterator[None]:
    """Raise :class:`HardLimitExceeded` in this thread after ``seconds`` (None, no SIGALRM, or not the main
    thread: no limit); the timer and the previous handler are restored on exit."""
    main_thread = threading.current_thread() is threading.main_thread()
    usable = seconds is not None and hasattr(signal, "SIGALRM") and main_thread
    if not usable:
        yield
        return

    def alarm(signum, frame):
        raise HardLimitExceeded

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_in_process(tasks: Sequence[Task], on_line: Callable[[dict], None], on_start: Callable[[], None],
                   hard_seconds: float | None, run: Callable[[Task], dict] = run_task) -> None:
    """Run ``tasks`` in order, giving each result line to ``on_line`` as soon as it is there."""
    if tasks:
        warm_up()
    for task in tasks:
        on_start()
        started, clock = time.time(), time.perf_counter()
        try:
            with hard_limit(hard_seconds), stdout_to_stderr():  # solver logs never mix with result lines
                line = run(task)
        except HardLimitExceeded:
            line = error_line(task, f"hard time limit of {hard_seconds:g} s exceeded (stopped in-process)",
                              worker_info(), started, time.perf_counter() - clock)
        if line.get("status") == "interrupted":
            raise KeyboardInterrupt
        on_line(line)
