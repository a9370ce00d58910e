"""Progress lines for long exact searches (bound, incumbent, gap, nodes), at most one per interval."""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["SearchProgress"]


class SearchProgress:
    """Print ``[method] t=..s nodes=.. lower=.. upper=.. gap=..%`` to ``stream`` every ``interval`` seconds.

    Disabled instances cost one comparison per call.
    """

    def __init__(self, method: str, enabled: bool = False, interval: float = 1.0, stream: TextIO | None = None,
                 scale: float = 1.0):
        self.method = method
        self.scale = scale  # the values shown are the search's times this (a search on a rescaled copy)
        self.enabled = enabled
        self.interval = interval
        self.stream = stream if stream is not None else sys.stderr
        self.start = time.perf_counter()
        self._last = -float("inf")

    def update(self, lower: float | None, upper: float | None, nodes: int, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        low = "-" if lower is None else f"{lower * self.scale:.8g}"
        up = "-" if upper is None else f"{upper * self.scale:.8g}"
        gap = "-" if lower is None or upper is None or upper == 0 else f"{100 * (upper - lower) / upper:.3g}%"
        print(f"[{self.method}] t={now - self.start:.1f}s nodes={nodes} lower={low} upper={up} gap={gap}",
              file=self.stream, flush=True)
