"""Output files that are safe to write: checked before any work, never left half written.

:func:`check_output` is called by the command-line tools before they start working, so that a missing
or read-only folder is reported at once instead of after a long solve. :func:`write_atomic` writes
a regular file through a temporary file and a rename (a failed write, e.g. a full disk, keeps the old
file and leaves no temporary); a symbolic link is followed and its final target replaced, so the link
stays; a character device (``/dev/null``, a terminal) or a FIFO is written directly, never renamed
over. Other kinds of files (directories, sockets, block devices) are refused.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from reductions.validation import InvalidInputError, require

__all__ = ["check_output", "write_atomic"]


def _kind(path: Path) -> str | None:
    """``"regular"``, ``"device"`` (character device or FIFO), ``"directory"``, ``"other"`` or None (absent)."""
    try:
        mode = os.stat(path).st_mode  # follows symbolic links
    except FileNotFoundError:
        return None
    if stat.S_ISREG(mode):
        return "regular"
    if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
        return "device"
    return "directory" if stat.S_ISDIR(mode) else "other"


def _writable(path: Path) -> bool:
    return os.access(path, os.W_OK | os.X_OK) if path.is_dir() else os.access(path, os.W_OK)


def check_output(path: str | os.PathLike, option: str) -> None:
    """Refuse an output path that cannot be written, before any work is done.

    The path must name a regular file (existing or not) in an existing, writable folder, or an existing
    writable character device or FIFO. Symbolic links are followed to their final target.

    Raises
    ------
    InvalidInputError
        Naming ``option`` (e.g. ``"-o/--output"``) and what is wrong with the path.

    Examples
    --------
    >>> check_output("no/such/folder/out.json", "-o/--output")
    Traceback (most recent call last):
    ...
    reductions.validation.InvalidInputError: -o/--output: expected a file in an existing folder, got no/such/folder/out.json (no folder no/such/folder)
    """
    target = Path(os.path.realpath(path))
    kind = _kind(target)
    require(kind != "directory", option, "a file path", f"{path} (a directory)")
    require(kind != "other", option, "a regular file, a character device or a FIFO",
            f"{path} (a socket or block device)")
    if kind == "device":
        require(_writable(target), option, "a writable device or FIFO", f"{path} (not writable)")
        return
    folder = target.parent
    require(folder.is_dir(), option, "a file in an existing folder",
            f"{path} (no folder {Path(path).parent})")
    require(_writable(folder), option, "a file in a writable folder", f"{path} (folder {folder} is not writable)")


def _write_all(descriptor: int, data: bytes) -> None:
    """Write every byte of ``data`` to an open file descriptor (``os.write`` may write less)."""
    view = memoryview(data)
    while view:
        written = os.write(descriptor, view)
        view = view[written:]


def write_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path``: atomically onto a regular file, directly into a device or FIFO.

    A regular file (or a new one) is written to a temporary file in its folder and renamed over it:
    readers see the old or the new content, never a part, and a failed write (``OSError``, e.g. ENOSPC)
    removes the temporary and keeps the old file. An existing file keeps its permission bits; a new one
    gets the usual ``0o666 & ~umask``. A symbolic link is followed to its final target, which is
    replaced (the link stays a link). A character device or a FIFO is opened and written in place.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     target, link = Path(folder) / "data.json", Path(folder) / "link.json"
    ...     link.symlink_to(target.name)
    ...     write_atomic(link, "{}\\n")
    ...     link.is_symlink(), target.read_text()
    (True, '{}\\n')
    """
    data = text.encode("utf-8")
    target = Path(os.path.realpath(path))
    kind = _kind(target)
    if kind == "device":
        with open(target, "wb", buffering=0) as stream:
            _write_all(stream.fileno(), data)
        return
    if kind in ("directory", "other"):
        raise InvalidInputError(str(path), "a regular file, a character device or a FIFO", f"a {kind} file")
    mode = stat.S_IMODE(os.stat(target).st_mode) if kind == "regular" else None
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        try:
            _write_all(handle, data)
        finally:
            os.close(handle)
        if mode is None:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask  # mkstemp creates 0600; a new file gets the usual permissions
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
