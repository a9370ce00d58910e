"""What every command-line tool of the project shares: the error contract.

Bad input prints one line ``<prog>: error: <field>: expected ..., got ...`` to stderr and exits with 2
(the same code argparse uses for bad options); Ctrl-C exits with 130. Outputs are written with
:func:`lipexact.io.write_atomic`, so a failed run leaves no partial file.
"""

from __future__ import annotations

import sys
from typing import Callable, Sequence

from reductions.validation import InvalidInputError

EXIT_OK = 0
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


def run_cli(prog: str, main: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None = None) -> int:
    """Call ``main(argv)`` and turn input errors into the one-line, exit-code-2 contract."""
    try:
        return main(argv)
    except InvalidInputError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (FileNotFoundError, IsADirectoryError, PermissionError, NotADirectoryError) as error:
        print(f"{prog}: error: {error.filename or ''}: {error.strerror}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
