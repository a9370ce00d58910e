"""JSON for every type of the project: one reader that validates, one writer that writes atomically.

:func:`write_atomic` and :func:`check_output` come from :mod:`reductions.files` (regular files are
replaced atomically, devices and FIFOs written in place).

Every object is a JSON object with a ``"type"`` field and a ``"version"``; :func:`from_dict` dispatches on
the type. NaN and infinity tokens are rejected on reading (``"inf"`` strings appear only in results).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable

from lipexact.deep.network import ReLUNetwork
from lipexact.network import TwoLayerReLU
from lipexact.result import LipschitzResult
from reductions.base import InverseData, Solution
from reductions.chain import ChainInverse, ReducedInstance
from reductions.files import check_output, write_atomic
from reductions.instances import QUBO, ConvexQuadratic01, ConvexQuadraticPM1, LipCst, MaxCut
from reductions.validation import InvalidInputError, require

__all__ = ["TYPES", "from_dict", "to_dict", "load", "save", "read_json", "write_atomic",
           "check_output"]

#: ``"type"`` field -> constructor from a dict. Extend here when a new type is added.
TYPES: dict[str, Callable[[dict], Any]] = {
    "two_layer_relu": TwoLayerReLU.from_dict,
    "relu_network": ReLUNetwork.from_dict,
    "lipschitz_result": LipschitzResult.from_dict,
    "maxcut": MaxCut.from_dict,
    "qubo": QUBO.from_dict,
    "convex_quadratic_01": ConvexQuadratic01.from_dict,
    "convex_quadratic_pm1": ConvexQuadraticPM1.from_dict,
    "lipcst": LipCst.from_dict,
    "reduction_solution": Solution.from_dict,
    "reduction_inverse": InverseData.from_dict,
    "chain_inverse": ChainInverse.from_dict,
    "lipcst_reduction": ReducedInstance.from_dict,
}


def from_dict(data: Any, expected: str | tuple[str, ...] | None = None) -> Any:
    """Build the object a JSON dict describes; ``expected`` restricts the accepted types."""
    require(isinstance(data, dict), "(top level)", "a JSON object", type(data).__name__)
    kind = data.get("type")
    allowed = sorted(TYPES) if expected is None else ([expected] if isinstance(expected, str) else list(expected))
    require(kind in allowed and kind in TYPES, "type", f"one of {allowed}", repr(kind))
    return TYPES[kind](data)


def to_dict(obj: Any) -> dict:
    return obj.to_dict()


def _reject_constant(token: str) -> None:
    raise InvalidInputError("(json)", "finite numbers", token)


def read_json(path: str | os.PathLike) -> Any:
    """Parse a JSON file; a malformed file raises :class:`InvalidInputError` naming line and column."""
    path = Path(path)
    if not path.exists():
        raise InvalidInputError(str(path), "an existing file", "no such file")
    if path.is_dir():
        raise InvalidInputError(str(path), "a file", "a directory")
    try:
        return json.loads(path.read_text(encoding="utf-8"), parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        raise InvalidInputError(str(path), "valid JSON", f"{error.msg} at line {error.lineno} column {error.colno}") from None
    except UnicodeDecodeError:
        raise InvalidInputError(str(path), "a UTF-8 text file", "binary data") from None


def load(path: str | os.PathLike, expected: str | tuple[str, ...] | None = None) -> Any:
    """Read and validate any project object from a JSON file."""
    return from_dict(read_json(path), expected)


def save(obj: Any, path: str | os.PathLike) -> None:
    """Write an object's JSON (indented) to ``path`` atomically."""
    write_atomic(path, json.dumps(to_dict(obj), indent=1) + "\n")
