"""Declared sizes against memory: refuse an instance whose dense arrays cannot fit, before allocating them.

A header ``n m`` or a JSON ``"n"`` costs a few bytes to write and ``8 n^2`` bytes (and a few copies)
to hold as a dense matrix; numpy then fails deep inside with a ``MemoryError`` traceback, or the
operating system kills the process. :func:`require_fits` compares an estimate of the bytes with the
memory available now and raises :class:`InvalidInputError` naming the size instead.

Available memory is read from psutil when it is installed, else from ``/proc/meminfo``
(``MemAvailable``), else from ``os.sysconf`` (free physical pages); when none of these answers,
:data:`FALLBACK_BYTES` is assumed.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from reductions.validation import require

__all__ = ["available_memory", "require_fits", "dense_bytes", "format_bytes",
           "FALLBACK_BYTES", "READ_COPIES", "SOURCES"]

#: Memory assumed when the operating system does not say (16 GiB).
FALLBACK_BYTES = 16 * 2**30

#: Dense ``n x n`` copies alive at once while a matrix is read and validated (filled, converted,
#: transposed for the symmetry check, the Laplacian).
READ_COPIES = 4


def _from_psutil() -> int:
    import psutil

    return int(psutil.virtual_memory().available)


def _from_meminfo() -> int | None:
    with open("/proc/meminfo", encoding="ascii") as meminfo:
        for line in meminfo:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return None


def _from_sysconf() -> int:
    return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))


#: Where :func:`available_memory` looks, in order; the first positive answer counts.
SOURCES = (_from_psutil, _from_meminfo, _from_sysconf)


def available_memory() -> int:
    """Bytes of memory available to a new allocation now (see the module docstring for the sources).

    Examples
    --------
    >>> available_memory() > 0
    True
    """
    for source in SOURCES:
        try:
            value = source()
        except Exception:  # not installed, not Linux, or no answer on this system: ask the next one
            continue
        if value is not None and value > 0:
            return int(value)
    return FALLBACK_BYTES


def dense_bytes(*shape: int, itemsize: int = 8, copies: int = 1) -> int:
    """Bytes of ``copies`` dense arrays of ``shape`` (exact Python integers: no overflow).

    Examples
    --------
    >>> dense_bytes(1000, 1000), dense_bytes(10**9, 10**9, copies=4)
    (8000000, 32000000000000000000)
    """
    count = 1
    for size in shape:
        count *= int(size)
    return count * itemsize * copies


def format_bytes(count: int) -> str:
    """``1536`` -> ``'1.5 KiB'`` (binary units up to EiB, beyond in EiB).

    Examples
    --------
    >>> format_bytes(512), format_bytes(3 * 2**30), format_bytes(8 * 10**18)
    ('512 B', '3 GiB', '6.94 EiB')
    """
    value, unit = float(count), "B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if value < 1024 or unit == "EiB":
            break
        value /= 1024
    return f"{value:.3g} {unit}" if unit != "B" else f"{count} B"


def require_fits(needed: int, field: str, size: str) -> None:
    """Raise :class:`InvalidInputError` when ``needed`` bytes exceed the memory available now.

    Parameters
    ----------
    needed : int
        Estimated bytes of the dense arrays (see :func:`dense_bytes`).
    field : str
        Where the size was declared, e.g. ``"g.rudy line 1"`` or ``"n"``.
    size : str
        The size as declared, e.g. ``"n = 100000"``; the message names it.

    Examples
    --------
    >>> require_fits(dense_bytes(10**6, 10**6, copies=READ_COPIES), "q.sparse line 1", "n = 1000000")
    Traceback (most recent call last):
    ...
    reductions.validation.InvalidInputError: q.sparse line 1: expected a size whose dense arrays fit in memory (... available), got n = 1000000 (needs about 29.1 TiB)
    """
    available = available_memory()
    expected = f"a size whose dense arrays fit in memory ({format_bytes(available)} available)"
    require(needed <= available, field, expected, f"{size} (needs about {format_bytes(needed)})")
