"""The tasks of a batch: input files found in files and folders, each with its content hash, crossed with
methods and norms; every task has a key that names what it computes, so a finished task can be skipped.

A folder is walked recursively (sorted, hidden entries skipped). From a folder walk, documentation
(``.md``, ``.txt``, ``.rst``, ...) and JSON documents of a type that is neither an instance nor a network
(``optima.json``, results) are skipped; a file named explicitly is always a task (a bad one becomes an
``error`` line when it runs). The kind of a file is decided from its name and, for JSON, its ``"type"``:

``instance``
    Max-Cut / QUBO / convex quadratic / LIP-CST as ``python -m lipexact.reduce`` reads them (JSON, Biq Mac
    graph or sparse QUBO), and ``lipcst_reduction`` documents written by it: reduced and solved as
    ``reduce --solve`` does.
``network``
    ``two_layer_relu`` and ``relu_network`` JSON and saved torch modules (``.pt``, ``.pth``): solved as
    ``python -m lipexact.solve`` does.

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> with tempfile.TemporaryDirectory() as folder:
...     _ = (Path(folder) / "k3.rudy").write_text("3 3\\n1 2 1\\n2 3 1\\n1 3 1\\n")
...     _ = (Path(folder) / "README.md").write_text("# not an instance\\n")
...     files = find_inputs([folder])
...     tasks = make_tasks(files, methods=["auto", "brute"], norms=["2"], options={"seed": 0})
>>> [(Path(f.path).name, f.kind) for f in files], [t.method for t in tasks]
([('k3.rudy', 'instance')], ['auto', 'brute'])
>>> tasks[0].key != tasks[1].key, len(tasks[0].key)
(True, 64)
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from reductions.validation import InvalidInputError, require

__all__ = ["InputFile", "Task", "INSTANCE_JSON_TYPES", "NETWORK_JSON_TYPES", "find_inputs", "describe_file",
           "file_sha256", "make_tasks", "task_key"]

#: JSON ``"type"`` values read as instances (reduced to LIP-CST, solved, mapped back).
INSTANCE_JSON_TYPES = ("maxcut", "qubo", "convex_quadratic_01", "convex_quadratic_pm1", "lipcst", "lipcst_reduction")
#: JSON ``"type"`` values read as networks (solved as ``python -m lipexact.solve`` does).
NETWORK_JSON_TYPES = ("two_layer_relu", "relu_network")
#: File name endings of saved torch modules.
TORCH_SUFFIXES = (".pt", ".pth")
#: File name endings skipped in a folder walk (documentation, tables, logs, batch outputs).
SKIPPED_SUFFIXES = (".md", ".txt", ".rst", ".csv", ".log", ".jsonl", ".png", ".pdf", ".py")


@dataclass(frozen=True)
class InputFile:
    """One input file: absolute path, SHA-256 of its bytes, and ``"instance"``, ``"network"`` or
    ``"unknown"`` (a file that could not be read as either; its task becomes an error line)."""

    path: str
    sha256: str
    kind: str

    def to_dict(self) -> dict:
        return {"path": self.path, "sha256": self.sha256, "kind": self.kind}


@dataclass(frozen=True)
class Task:
    """One solve: an input, a method, a norm and the options passed to the solver (``seed``,
    ``time_limit``, ``node_limit``, ``to``). ``key`` is :func:`task_key` of them."""

    input: InputFile
    method: str
    norm: str
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return task_key(self.input, self.method, self.norm, self.options)

    def describe(self) -> dict:
        """The identity part of a result line."""
        return {"key": self.key, "input": self.input.to_dict(), "method": self.method, "norm": self.norm,
                "options": dict(self.options)}


def task_key(input_file: InputFile, method: str, norm: str, options: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of (path, content hash, method, norm, options).

    Examples
    --------
    >>> one = InputFile("/a/g.rudy", "0" * 64, "instance")
    >>> task_key(one, "bnb", "2", {"seed": 0}) == task_key(one, "bnb", "2", {"seed": 0})
    True
    >>> task_key(one, "bnb", "2", {"seed": 0}) == task_key(one, "bnb", "2", {"seed": 1})
    False
    """
    identity = {"path": input_file.path, "sha256": input_file.sha256, "method": method, "norm": norm,
                "options": dict(options)}
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 (hex) of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _json_type(data: bytes) -> str | None:
    """The ``"type"`` of a JSON object, ``""`` for JSON without one, None when not JSON at all."""
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None
    return str(document.get("type", "")) if isinstance(document, dict) else ""


def describe_file(path: str | os.PathLike, from_folder: bool = False) -> InputFile | None:
    """The :class:`InputFile` of ``path``; None when a folder walk should skip it (see the module notes)."""
    path = Path(path).resolve()
    name = path.name.lower()
    if from_folder and name.endswith(SKIPPED_SUFFIXES):
        return None
    data = path.read_bytes()
    sha256 = hashlib.sha256(data).hexdigest()
    if name.endswith(TORCH_SUFFIXES):
        return InputFile(str(path), sha256, "network")
    looks_json = name.endswith(".json") or data.lstrip()[:1] == b"{"
    if not looks_json:  # Biq Mac text formats (reduce decides rudy or sparse QUBO from the name)
        return InputFile(str(path), sha256, "instance")
    kind = _json_type(data)
    if kind in INSTANCE_JSON_TYPES:
        return InputFile(str(path), sha256, "instance")
    if kind in NETWORK_JSON_TYPES:
        return InputFile(str(path), sha256, "network")
    if from_folder and kind is not None:
        return None  # valid JSON of another type (optima.json, a result): not an input
    return InputFile(str(path), sha256, "unknown")


def find_inputs(paths: Iterable[str | os.PathLike]) -> list[InputFile]:
    """Every input file named or found (recursively) in the folders named, each once, in the order given.

    Raises
    ------
    InvalidInputError
        A path that does not exist, or nothing to solve at all.

    Examples
    --------
    >>> find_inputs(["no/such/file.rudy"])
    Traceback (most recent call last):
    ...
    reductions.validation.InvalidInputError: INPUTS: expected existing files or folders, got no/such/file.rudy (no such file)
    """
    found: dict[str, InputFile] = {}
    for given in paths:
        path = Path(given)
        require(path.exists(), "INPUTS", "existing files or folders", f"{given} (no such file)")
        if path.is_dir():
            for root, folders, files in os.walk(path):
                folders[:] = sorted(f for f in folders if not f.startswith("."))
                for name in sorted(files):
                    if name.startswith("."):
                        continue
                    described = describe_file(Path(root) / name, from_folder=True)
                    if described is not None:
                        found.setdefault(described.path, described)
        else:
            described = describe_file(path)
            found.setdefault(described.path, described)
    if not found:
        raise InvalidInputError("INPUTS", "at least one instance or network file",
                                "none in " + ", ".join(str(p) for p in paths))
    return list(found.values())


def make_tasks(files: Sequence[InputFile], methods: Sequence[str], norms: Sequence[str],
               options: Mapping[str, Any]) -> list[Task]:
    """Every (file, method, norm), files outermost, in the order given."""
    return [Task(file, method, norm, dict(options)) for file in files for method in methods for norm in norms]
