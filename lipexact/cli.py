"""What every command-line tool of the project shares: the error contract and the console streams.

Bad input prints one line ``<prog>: error: <field>: expected ..., got ...`` to stderr and exits with 2
(the same code argparse uses for bad options); Ctrl-C exits with 130. Outputs are written with
:func:`lipexact.io.write_atomic`, so a failed run leaves no partial file. An output that cannot be
written (a full disk, an I/O error) prints one line and exits with 74 (``EX_IOERR``); standard output
closed early by its reader (``... | head``) prints one line and exits with 141 (128 + SIGPIPE, what a
shell reports for a program killed by the broken pipe). No traceback in either case.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Callable, Iterator, Sequence

from reductions.validation import InvalidInputError

EXIT_OK = 0
EXIT_BAD_INPUT = 2
EXIT_OUTPUT_FAILED = 74
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141

__all__ = ["run_cli", "stdout_to_stderr", "EXIT_OK", "EXIT_BAD_INPUT", "EXIT_OUTPUT_FAILED", "EXIT_INTERRUPTED",
           "EXIT_BROKEN_PIPE"]


def _silence_stdout() -> None:
    """Point file descriptor 1 at /dev/null, so that Python's final flush of a broken stdout stays quiet."""
    try:
        descriptor = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # a replaced sys.stdout (tests): nothing is flushed at exit
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, descriptor)
    finally:
        os.close(devnull)


def run_cli(prog: str, main: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None = None) -> int:
    """Call ``main(argv)`` and turn input, output and interrupt errors into one line and an exit code.

    Standard output is flushed before returning, so that a reader that closed the pipe is noticed here
    rather than in an ``Exception ignored`` message at interpreter exit.
    """
    try:
        code = main(argv)
        sys.stdout.flush()
        return code
    except InvalidInputError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (FileNotFoundError, IsADirectoryError, PermissionError, NotADirectoryError) as error:
        print(f"{prog}: error: {error.filename or ''}: {error.strerror}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        _silence_stdout()
        print(f"{prog}: error: standard output closed by its reader (broken pipe); output cut short", file=sys.stderr)
        return EXIT_BROKEN_PIPE
    except OSError as error:  # ENOSPC, EIO, EDQUOT ... while writing an output (or reading an input)
        where = error.filename or "output"
        print(f"{prog}: error: {where}: {error.strerror or error}", file=sys.stderr)
        return EXIT_OUTPUT_FAILED
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


@contextlib.contextmanager
def stdout_to_stderr(enabled: bool = True) -> Iterator[None]:
    """Send everything written to file descriptor 1 (C and C++ libraries included) to stderr meanwhile.

    Solver libraries such as HiGHS print their logs from C++ straight to file descriptor 1, where they
    would mix with a tool's result. Inside this context fd 1 is a copy of fd 2; both the C stdio buffers
    and ``sys.stdout`` are flushed before fd 1 is restored, so nothing written inside lands on stdout.
    """
    if not enabled:
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        try:
            sys.stdout.flush()
        finally:
            _flush_c_streams()
            os.dup2(saved, 1)
            os.close(saved)


def _flush_c_streams() -> None:
    """``fflush(NULL)``: write out what C libraries buffered for their streams (no-op where unavailable)."""
    try:
        import ctypes

        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError, TypeError):
        pass
