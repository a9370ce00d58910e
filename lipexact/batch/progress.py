"""The progress bar of a batch: done / running / failed counts and tqdm's estimate of the time left, on
stderr; :class:`Progress` with ``quiet=True`` shows nothing.

Examples
--------
>>> bar = Progress(total=3, skipped=1, quiet=True)
>>> bar.started(); bar.finished({"status": "optimal"}); bar.finished({"status": "error"})
>>> bar.counts()
{'done': 2, 'running': 0, 'failed': 1, 'skipped': 1}
>>> bar.close()
"""

from __future__ import annotations

import sys
import threading

__all__ = ["Progress"]


class Progress:
    """Counts of finished, running and failed (``error``) tasks of this run, shown with a tqdm bar."""

    def __init__(self, total: int, skipped: int = 0, quiet: bool = False) -> None:
        from tqdm import tqdm

        self._lock = threading.Lock()
        self.done = self.running = self.failed = 0
        self.skipped = skipped
        self._bar = tqdm(total=total, desc="batch", unit="task", file=sys.stderr, disable=quiet,
                         dynamic_ncols=True, smoothing=0.1)
        self._show()

    def counts(self) -> dict:
        return {"done": self.done, "running": self.running, "failed": self.failed, "skipped": self.skipped}

    def _show(self, refresh: bool = False) -> None:
        text = f"done {self.done}, running {self.running}, failed {self.failed}"
        self._bar.set_postfix_str(text + (f", skipped {self.skipped} already done" if self.skipped else ""),
                                  refresh=refresh)

    def set_running(self, running: int) -> None:
        with self._lock:
            if running != self.running:
                self.running = running
                self._show(refresh=True)

    def started(self) -> None:
        with self._lock:
            self.running += 1
            self._show()

    def finished(self, line: dict, was_running: bool = True) -> None:
        with self._lock:
            self.done += 1
            self.failed += line.get("status") == "error"
            if was_running:
                self.running = max(0, self.running - 1)
            self._bar.update(1)
            self._show()

    def close(self) -> None:
        self._bar.close()
