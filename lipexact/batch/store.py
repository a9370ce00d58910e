"""The results file: one JSON line per finished task, appended and synced as each task completes.

A line is written with one ``write`` of the whole line and its newline, then flushed and ``fsync``-ed, so
a crash or Ctrl-C loses no finished task. A crash in the middle of a write can leave a last line without
its newline: :func:`read_results` finds it, and :meth:`ResultsFile.open` cuts it off before appending, so
the next run redoes that task. A complete line that is not a result (edited by hand) is ignored with a
count. Standard output (no ``-o``) gets the same lines, flushed, without resume.

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> with tempfile.TemporaryDirectory() as folder:
...     path = Path(folder) / "out.jsonl"
...     with ResultsFile(path) as out:
...         out.append({"key": "a", "status": "optimal"})
...     _ = path.open("a").write('{"key": "b", "sta')       # a crash in the middle of a line
...     before = read_results(path)
...     with ResultsFile(path) as out:                      # cut off, then appended after
...         out.append({"key": "b", "status": "error"})
...     after = read_results(path)
>>> sorted(before.lines), before.partial, sorted(after.lines), after.partial
(['a'], True, ['a', 'b'], False)
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

__all__ = ["Existing", "read_results", "ResultsFile"]


@dataclass
class Existing:
    """What a results file holds: finished lines by task key, whether its last line is cut short (and
    where the complete lines end), and how many complete lines were not result lines."""

    lines: dict[str, dict] = field(default_factory=dict)
    partial: bool = False
    complete_bytes: int = 0
    ignored: int = 0


def read_results(path: str | os.PathLike) -> Existing:
    """The result lines already in ``path`` (none when it does not exist or is not a regular file)."""
    path = Path(path)
    existing = Existing()
    if not path.is_file():
        return existing
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1  # the complete lines end here; anything after is a cut-short last line
    existing.partial, existing.complete_bytes = end < len(data), end
    for raw in data[:end].splitlines():
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            existing.ignored += 1
            continue
        if isinstance(line, dict) and isinstance(line.get("key"), str):
            existing.lines[line["key"]] = line
        else:
            existing.ignored += 1
    return existing


class ResultsFile:
    """Append result lines to ``path`` (None: standard output), each one flushed and synced to disk."""

    def __init__(self, path: str | os.PathLike | None) -> None:
        self.path = None if path is None else Path(path)
        self._stream: IO[bytes] | None = None

    def open(self) -> "ResultsFile":
        """Open for appending; a cut-short last line (a crash while writing it) is removed first."""
        if self.path is None:
            return self
        if self.path.is_file():
            existing = read_results(self.path)
            if existing.partial:
                os.truncate(self.path, existing.complete_bytes)
        self._stream = open(self.path, "ab")
        return self

    def append(self, line: dict[str, Any]) -> None:
        """Write one line (whole, with its newline), flush it and sync it to disk."""
        text = json.dumps(line, allow_nan=False, separators=(", ", ": ")) + "\n"
        if self._stream is None:
            sys.stdout.write(text)
            sys.stdout.flush()
            return
        self._stream.write(text.encode("utf-8"))
        self._stream.flush()
        try:
            os.fsync(self._stream.fileno())
        except OSError:  # a FIFO or a terminal: nothing to sync
            pass

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    def __enter__(self) -> "ResultsFile":
        return self.open()

    def __exit__(self, *exc: Any) -> None:
        self.close()
