"""The Biq Mac text formats: graphs ("rudy") for Max-Cut and sparse QUBO matrices.

Both formats are whitespace separated with 1-based indices::

    n m          header: number of nodes / variables and number of entry lines (trailing spaces allowed)
    i j w        m lines: an undirected edge of weight w (graphs), or Q_ij for i <= j (QUBO)

A QUBO file lists the upper triangle with the diagonal; the objective is
``sum_i Q_ii x_i + 2 sum_{i<j} Q_ij x_i x_j`` (minimized). Blank lines are ignored; every other
problem (wrong number of fields, index out of range, a pair listed twice, a self-loop in a graph,
a missing or extra entry line, a header ``n`` whose dense ``n x n`` matrix would not fit in the memory
available) raises :class:`InvalidInputError` naming the file and line.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from reductions.files import write_atomic
from reductions.instances import QUBO, MaxCut, encode_number
from reductions.sizes import READ_COPIES, dense_bytes, require_fits
from reductions.validation import InvalidInputError, require

__all__ = [
    "parse_rudy",
    "format_rudy",
    "read_rudy",
    "write_rudy",
    "parse_qubo_sparse",
    "format_qubo_sparse",
    "read_qubo_sparse",
    "write_qubo_sparse",
    "guess_format",
    "read_text_instance",
]


def _number(token: str, where: str) -> int | float:
    try:
        return int(token)
    except ValueError:
        pass
    try:
        value = float(token)
    except ValueError:
        raise InvalidInputError(where, "a number", repr(token)) from None
    require(math.isfinite(value), where, "a finite number", repr(token))
    return value


def _entries(text: str, source: str, what: str) -> tuple[int, list[tuple[int, int, int | float, str]]]:
    """Parse the header and the ``m`` entry lines; indices come back 0-based with their line label."""
    lines = [(k, line.split()) for k, line in enumerate(text.splitlines(), start=1)]
    lines = [(k, fields) for k, fields in lines if fields]
    require(bool(lines), source, f"a header line 'n m' ({what} file)", "an empty file")
    k, header = lines[0]
    where = f"{source} line {k}"
    require(len(header) == 2, where, "a header 'n m' with two integers", " ".join(header))
    try:
        n, m = int(header[0]), int(header[1])
    except ValueError:
        raise InvalidInputError(where, "a header 'n m' with two integers", " ".join(header)) from None
    require(n >= 1, where, "n >= 1 (a non-empty instance)", str(n))
    require(m >= 0, where, "m >= 0 entry lines", str(m))
    require_fits(dense_bytes(n, n, copies=READ_COPIES), where, f"n = {n}")
    body = lines[1:]
    if len(body) < m:
        last = body[-1][0] if body else k
        raise InvalidInputError(f"{source} line {last + 1}", f"{m} entry lines as the header says",
                                f"{len(body)} lines")
    if len(body) > m:
        raise InvalidInputError(f"{source} line {body[m][0]}", f"only {m} entry lines as the header says",
                                "an extra line")
    entries = []
    for k, fields in body:
        where = f"{source} line {k}"
        require(len(fields) == 3, where, "'i j value' (three fields)", " ".join(fields))
        indices = []
        for token in fields[:2]:
            try:
                index = int(token)
            except ValueError:
                raise InvalidInputError(where, f"integer indices in 1..{n}", repr(token)) from None
            require(1 <= index <= n, where, f"indices in 1..{n}", str(index))
            indices.append(index - 1)
        entries.append((indices[0], indices[1], _number(fields[2], where), where))
    return n, entries


def _fill(n: int, entries: list, diagonal_ok: bool) -> np.ndarray:
    integer = all(isinstance(value, int) for _, _, value, _ in entries)
    matrix = np.zeros((n, n), dtype=np.int64 if integer else np.float64)
    seen: set[tuple[int, int]] = set()
    for i, j, value, where in entries:
        require(diagonal_ok or i != j, where, "two different nodes (no self-loops)", f"{i + 1} {j + 1}")
        key = (min(i, j), max(i, j))
        require(key not in seen, where, "each pair listed once", f"a second entry for {key[0] + 1} {key[1] + 1}")
        seen.add(key)
        matrix[i, j] = matrix[j, i] = value
    return matrix


# ------------------------------------------------------------------------------------------ graphs
def parse_rudy(text: str, source: str = "<string>") -> MaxCut:
    """Read a Biq Mac / rudy graph from text.

    Examples
    --------
    >>> g = parse_rudy("3 2 \\n1 2 1\\n2 3 -4\\n")
    >>> g.n, g.edges
    (3, [(0, 1, 1), (1, 2, -4)])
    >>> parse_rudy("3 1\\n1 4 1\\n", "g.txt")
    Traceback (most recent call last):
    ...
    reductions.validation.InvalidInputError: g.txt line 2: expected indices in 1..3, got 4
    """
    n, entries = _entries(text, source, "graph")
    return MaxCut(_fill(n, entries, diagonal_ok=False))


def format_rudy(graph: MaxCut) -> str:
    """The rudy text of a graph (edges with non-zero weight, ``i < j``, 1-based).

    Examples
    --------
    >>> print(format_rudy(MaxCut.from_edges(3, [(0, 2, 5)])), end="")
    3 1
    1 3 5
    """
    edges = graph.edges
    lines = [f"{graph.n} {len(edges)}"] + [f"{i + 1} {j + 1} {encode_number(w)!r}" for i, j, w in edges]
    return "\n".join(lines) + "\n"


def read_rudy(path: str | os.PathLike) -> MaxCut:
    """Read a rudy graph file.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     write_rudy(MaxCut.from_edges(3, [(0, 1), (1, 2, -2)]), Path(folder) / "g.rudy")
    ...     read_rudy(Path(folder) / "g.rudy").edges
    [(0, 1, 1), (1, 2, -2)]
    """
    return parse_rudy(_read(path), str(path))


def write_rudy(graph: MaxCut, path: str | os.PathLike) -> None:
    """Write a rudy graph file atomically."""
    write_atomic(path, format_rudy(graph))


# ------------------------------------------------------------------------------------------ QUBO
def parse_qubo_sparse(text: str, source: str = "<string>") -> QUBO:
    """Read a Biq Mac sparse QUBO (upper triangle with diagonal; ``i > j`` is read as ``j i``).

    Examples
    --------
    >>> q = parse_qubo_sparse("2 3\\n1 1 -3\\n1 2 2\\n2 2 -1\\n")
    >>> q.Q.tolist(), q.brute_force()[0]
    ([[-3, 2], [2, -1]], -3)
    """
    n, entries = _entries(text, source, "sparse QUBO")
    return QUBO(_fill(n, entries, diagonal_ok=True))


def format_qubo_sparse(qubo: QUBO) -> str:
    """The Biq Mac sparse text of a QUBO (non-zero ``Q_ij``, ``i <= j``, 1-based).

    Examples
    --------
    >>> print(format_qubo_sparse(QUBO([[-3, 2], [2, 0]])), end="")
    2 2
    1 1 -3
    1 2 2
    """
    rows, cols = np.nonzero(np.triu(qubo.Q))
    lines = [f"{qubo.n} {len(rows)}"]
    lines += [f"{i + 1} {j + 1} {encode_number(qubo.Q[i, j].item())!r}" for i, j in zip(rows, cols)]
    return "\n".join(lines) + "\n"


def read_qubo_sparse(path: str | os.PathLike) -> QUBO:
    """Read a Biq Mac sparse QUBO file.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     write_qubo_sparse(QUBO([[1, -1], [-1, 1]]), Path(folder) / "q.sparse")
    ...     read_qubo_sparse(Path(folder) / "q.sparse").Q.tolist()
    [[1, -1], [-1, 1]]
    """
    return parse_qubo_sparse(_read(path), str(path))


def write_qubo_sparse(qubo: QUBO, path: str | os.PathLike) -> None:
    """Write a Biq Mac sparse QUBO file atomically."""
    write_atomic(path, format_qubo_sparse(qubo))


# ------------------------------------------------------------------------------------------ files
def guess_format(path: str | os.PathLike) -> str:
    """``"json"``, ``"qubo"`` or ``"rudy"`` for an instance file.

    ``.json`` is JSON, ``.sparse`` / ``.qubo`` is a sparse QUBO, ``.rudy`` / ``.graph`` a graph; any
    other name (``petersen``, ``g05_60.0``) is JSON when its first non-blank character is ``{`` and
    a rudy graph otherwise.

    Examples
    --------
    >>> guess_format("bqp50-1.sparse"), guess_format("instance.json")
    ('qubo', 'json')
    """
    suffix = Path(path).suffix.lower()
    if suffix == ".json":
        return "json"
    if suffix in (".sparse", ".qubo", ".bqp"):
        return "qubo"
    if suffix in (".rudy", ".graph", ".gset"):
        return "rudy"
    return "json" if _read(path).lstrip().startswith("{") else "rudy"


def read_text_instance(path: str | os.PathLike, fmt: str) -> Any:
    """Read a graph (``fmt="rudy"``) or a sparse QUBO (``fmt="qubo"``).

    Examples
    --------
    >>> read_text_instance("g.rudy", "csv")
    Traceback (most recent call last):
    ...
    reductions.validation.InvalidInputError: format: expected one of ['qubo', 'rudy'], got 'csv'
    """
    readers = {"rudy": read_rudy, "qubo": read_qubo_sparse}
    require(fmt in readers, "format", f"one of {sorted(readers)}", repr(fmt))
    return readers[fmt](path)


def _read(path: str | os.PathLike) -> str:
    path = Path(path)
    require(path.exists(), str(path), "an existing file", "no such file")
    require(not path.is_dir(), str(path), "a file", "a directory")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InvalidInputError(str(path), "a UTF-8 text file", "binary data") from None
