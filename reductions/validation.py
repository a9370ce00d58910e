"""The one place where inputs are checked.

Every public constructor and reader in the project validates through these functions, so that a bad
input always fails the same way: an :class:`InvalidInputError` that names the field and says what was
expected.
"""

from __future__ import annotations

from fractions import Fraction
from numbers import Integral, Real
from typing import Any

import numpy as np

__all__ = [
    "InvalidInputError",
    "as_array",
    "as_real",
    "require",
    "check_symmetric",
    "check_psd",
    "PSD_TOLERANCE",
    "read_only_or_none",
    "DESCRIPTIVE_KEYS",
    "check_fields",
]

#: Relative tolerance for positive semi-definiteness: ``lambda_min >= -PSD_TOLERANCE * max(1, |lambda|_max)``.
PSD_TOLERANCE = 1e-9


class InvalidInputError(ValueError):
    """A value that does not satisfy what its field requires.

    Parameters
    ----------
    field : str
        Name of the offending field, e.g. ``"W1"`` or ``"edges[3].weight"``.
    expected : str
        What the field must be.
    got : str, optional
        A short description of what was found.
    """

    def __init__(self, field: str, expected: str, got: str | None = None):
        self.field = field
        self.expected = expected
        self.got = got
        text = f"{field}: expected {expected}"
        if got is not None:
            text += f", got {got}"
        super().__init__(text)


#: Keys of a JSON input that describe it without changing it (provenance, notes): every reader accepts and ignores
#: them. Any other unknown key is refused, so that a misspelt field that would change the input (``"activaton"``,
#: ``"weigths"``) cannot pass silently.
DESCRIPTIVE_KEYS = frozenset({"name", "description", "source", "sources", "license", "dataset", "notes", "note",
                              "comment", "comments", "reference", "references", "citation", "url", "author",
                              "authors", "created", "title", "id", "tags", "metadata"})


def check_fields(data: dict, known: Any, kind: str, prefix: str = "") -> None:
    """Refuse a key of ``data`` that is neither in ``known`` nor in :data:`DESCRIPTIVE_KEYS` (the error names the
    first one, after ``prefix``, e.g. ``"layers[0]."``).

    Examples
    --------
    >>> check_fields({"n": 3, "source": "rudy", "name": "g05"}, {"n"}, "maxcut")
    >>> check_fields({"n": 3, "colour": 1}, {"n"}, "maxcut")
    Traceback (most recent call last):
    ...
    reductions.validation.InvalidInputError: colour: expected no such field in a maxcut
    """
    unknown = sorted(set(data) - set(known) - DESCRIPTIVE_KEYS)
    require(not unknown, prefix + unknown[0] if unknown else "", f"no such field in a {kind}")


def require(condition: bool, field: str, expected: str, got: str | None = None) -> None:
    """Raise :class:`InvalidInputError` unless ``condition`` holds."""
    if not condition:
        raise InvalidInputError(field, expected, got)


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"array of shape {value.shape} and dtype {value.dtype}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def as_array(
    value: Any,
    field: str,
    ndim: int,
    shape: tuple[int | None, ...] | None = None,
    integer_ok: bool = True,
    nonempty: bool = True,
) -> np.ndarray:
    """Convert ``value`` to a finite, read-only numpy array of ``ndim`` dimensions.

    Integer input stays ``int64`` when ``integer_ok`` (so exact arithmetic survives); everything else
    becomes ``float64``. ``shape`` may contain ``None`` for free dimensions.

    Examples
    --------
    >>> as_array([[1, 2], [3, 4]], "M", ndim=2).dtype
    dtype('int64')
    >>> as_array([1.0, float("nan")], "b", ndim=1)
    Traceback (most recent call last):
    ...
    reductions.validation.InvalidInputError: b: expected finite numbers, got NaN or infinity
    """
    if isinstance(value, (str, bytes, dict)):
        raise InvalidInputError(field, f"a {ndim}-dimensional array of numbers", _describe(value))
    try:
        if hasattr(value, "detach"):  # a torch tensor
            value = value.detach().cpu().numpy()
        array = np.array(value)
    except (TypeError, ValueError) as error:
        raise InvalidInputError(field, f"a {ndim}-dimensional array of numbers", str(error)) from None
    if array.dtype == object or array.dtype.kind not in "biuf":
        raise InvalidInputError(field, f"a {ndim}-dimensional array of numbers", _describe(value))
    if array.ndim != ndim:
        raise InvalidInputError(field, f"a {ndim}-dimensional array", f"{array.ndim} dimensions")
    if shape is not None:
        for axis, (want, have) in enumerate(zip(shape, array.shape)):
            if want is not None and want != have:
                raise InvalidInputError(
                    field, f"shape {tuple('*' if s is None else s for s in shape)}", f"shape {array.shape}"
                )
    if nonempty and array.size == 0 and ndim > 0:
        raise InvalidInputError(field, "a non-empty array", f"shape {array.shape}")
    if array.dtype.kind in "biu" and integer_ok:
        array = array.astype(np.int64)
    else:
        array = array.astype(np.float64)
        if not np.all(np.isfinite(array)):
            raise InvalidInputError(field, "finite numbers", "NaN or infinity")
    array.setflags(write=False)
    return array


def as_real(value: Any, field: str, minimum: float | None = None) -> int | float | Fraction:
    """Validate a scalar: a finite real number (bool rejected), optionally ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, (Real, np.integer, np.floating)):
        raise InvalidInputError(field, "a real number", _describe(value))
    if isinstance(value, (Integral, np.integer)):
        value = int(value)
    elif not isinstance(value, Fraction):
        value = float(value)
        if not np.isfinite(value):
            raise InvalidInputError(field, "a finite number", repr(value))
    if minimum is not None and value < minimum:
        raise InvalidInputError(field, f"a number >= {minimum}", repr(value))
    return value


def check_symmetric(matrix: np.ndarray, field: str) -> None:
    """Require a square matrix equal to its transpose (exactly for integers, 1e-12 relative otherwise)."""
    require(matrix.ndim == 2 and matrix.shape[0] == matrix.shape[1], field, "a square matrix",
            f"shape {matrix.shape}")
    if matrix.dtype.kind in "iu":
        symmetric = np.array_equal(matrix, matrix.T)
    else:
        scale = max(1.0, float(np.max(np.abs(matrix)))) if matrix.size else 1.0
        symmetric = bool(np.max(np.abs(matrix - matrix.T), initial=0.0) <= 1e-12 * scale)
    require(symmetric, field, "a symmetric matrix", "a non-symmetric matrix")


def check_psd(matrix: np.ndarray, field: str, tolerance: float = PSD_TOLERANCE) -> float:
    """Require a positive semi-definite matrix; return its smallest eigenvalue.

    The test is ``lambda_min >= -tolerance * max(1, max |lambda|)``.
    """
    check_symmetric(matrix, field)
    eigenvalues = np.linalg.eigvalsh(np.asarray(matrix, dtype=np.float64))
    smallest = float(eigenvalues[0]) if eigenvalues.size else 0.0
    scale = max(1.0, float(np.max(np.abs(eigenvalues), initial=0.0)))
    require(smallest >= -tolerance * scale, field,
            f"a positive semi-definite matrix (smallest eigenvalue >= -{tolerance:g} x scale)",
            f"smallest eigenvalue {smallest:.6g}")
    return smallest


def read_only_or_none(value: Any) -> np.ndarray | None:
    """A read-only copy of ``value`` as an array (no validation), or None.

    Examples
    --------
    >>> read_only_or_none([1, 2]).flags.writeable, read_only_or_none(None)
    (False, None)
    """
    if value is None:
        return None
    array = np.array(value)
    array.setflags(write=False)
    return array
