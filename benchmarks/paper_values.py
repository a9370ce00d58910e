"""Published values of Scaman & Virmaux (2018), typed in with their citation - or their absence, explained.

The report puts published numbers only in columns marked ``(paper)``. A value goes into :data:`PUBLISHED`
only when it was read from the paper itself (table, row, column). While preparing this module the
tables of the paper (Table 1: MLPs; Table 2: CNNs; the AlexNet figures of section 7) could not be read
from a reliable copy: the sources available offline gave the abstract and the introduction but not the
tables. Rather than guess, :data:`PUBLISHED` is empty and the report leaves the paper columns out, saying
why. To add them, fill :data:`PUBLISHED` as documented below; the tables pick them up automatically.

References
----------
K. Scaman and A. Virmaux, "Lipschitz regularity of deep neural networks: analysis and efficient
estimation", NeurIPS 2018, arXiv:1805.10965.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CITATION", "PUBLISHED", "table", "missing_note"]

CITATION = ("K. Scaman and A. Virmaux, Lipschitz regularity of deep neural networks: analysis and efficient "
            "estimation, NeurIPS 2018 (arXiv:1805.10965)")

#: ``table key -> {"citation": str, "columns": [column names], "rows": {row key: {column: value}}}``.
#: Keys: ``"mlp"`` (rows keyed by number of layers), ``"cnn"`` (number of layers), ``"alexnet"``
#: (single row ``"alexnet"``). Empty: the values could not be verified (see the module docstring).
PUBLISHED: dict[str, dict[str, Any]] = {}

_WHERE = {"mlp": "Table 1 (MLPs)", "cnn": "Table 2 (CNNs)", "alexnet": "the AlexNet figures of section 7"}


def table(key: str) -> dict[str, Any] | None:
    """The published values for ``key``, or None when they are not recorded.

    Examples
    --------
    >>> table("no-such-table") is None
    True
    """
    return PUBLISHED.get(key)


def missing_note(key: str) -> str:
    """The sentence the report prints where a paper column is left out."""
    return (f"No paper column: the published values of {_WHERE.get(key, key)} in {CITATION} could not be "
            "read from a reliable source while this benchmark was written, so they are left out rather "
            "than guessed (see benchmarks/paper_values.py).")
