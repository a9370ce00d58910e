"""Published values of Scaman & Virmaux (2018), typed in from the poster, each with its citation.

The report puts published numbers only in columns marked ``(paper)``. Every value below was read from the
text of the NeurIPS 2018 poster (``shared/paper/000_a58bca483097ae92.txt`` in the project's shared folder,
an OCR-like extraction of the poster), section 7 "Experiments": the MLP table, the CNN table and the AlexNet
figures. A value is cited as "Scaman & Virmaux (2018), poster, section 7", with the table, the row and the
column it comes from (:func:`citation`).

How the values were read (the OCR garbles a few symbols; nothing below depends on a guess):

- MLP table, header ``# layers | Frob. | AutoLip | SeqLip | Greedy SL | Data | Annealing | Grid Search``
  (the first four are upper bounds, the last three lower bounds), rows 4, 5, 7 and 10.
- CNN table ("Figure: AutoLip and SeqLip for MNIST-CNNs of various size"), header ``# layers | AutoLip |
  Greedy SeqLip | Ratio | Dataset | Annealing`` (the OCR writes "Upper" as "Jpper"); the 10-layer row
  prints ``4.5 \\cdot 10^{6}`` and ``8.2 \\cdot 10^5``, i.e. 4.5e6 and 8.2e5.
- AlexNet: "AutoLip Greedy SeqLip 3.62x10^7 5.45x10^6", i.e. AutoLip 3.62e7 and greedy SeqLip 5.45e6.

What the poster does not say (and the report says where it had to choose): the width of the MLPs, the
training of the networks, the AlexNet weights (the paper's are the trained ImageNet weights; ours are
random, since pretrained weights cannot be fetched offline). Absolute values therefore depend on training;
the report compares scale-free ratios (AutoLip / SeqLip, Frobenius / AutoLip, upper / lower) side by side.

References
----------
K. Scaman and A. Virmaux, "Lipschitz regularity of deep neural networks: analysis and efficient
estimation", NeurIPS 2018, arXiv:1805.10965 (poster: section 7, "Experiments").

Examples
--------
>>> table("mlp")["rows"][10]["AutoLip"]
19248.2
>>> citation("cnn", 4, "ratio")
'Scaman & Virmaux (2018), poster, section 7, CNN table, row "# layers = 4", column "Ratio"'
"""

from __future__ import annotations

from typing import Any

__all__ = ["CITATION", "SOURCE", "PUBLISHED", "table", "citation", "row_citation", "missing_note", "ratio"]

CITATION = ("K. Scaman and A. Virmaux, Lipschitz regularity of deep neural networks: analysis and efficient "
            "estimation, NeurIPS 2018 (arXiv:1805.10965)")

#: How each value is cited (plus the table, row and column).
SOURCE = "Scaman & Virmaux (2018), poster, section 7"

_MLP_COLUMNS = ["Frobenius", "AutoLip", "SeqLip", "greedy SeqLip", "data", "annealing", "grid search"]
_CNN_COLUMNS = ["AutoLip", "greedy SeqLip", "ratio", "data", "annealing"]

#: ``table key -> {"name": ..., "columns": [...], "poster_columns": {column: header on the poster},
#: "rows": {row key: {column: value}}, "notes": [...]}``. Row keys: the number of layers (``"mlp"``,
#: ``"cnn"``) or ``"alexnet"``.
PUBLISHED: dict[str, dict[str, Any]] = {
    "mlp": {
        "name": "MLP table",
        "columns": _MLP_COLUMNS,
        "poster_columns": dict(zip(_MLP_COLUMNS, ["Frob.", "AutoLip", "SeqLip", "Greedy SL", "Data", "Annealing",
                                                  "Grid Search"])),
        "rows": {
            4: dict(zip(_MLP_COLUMNS, [648.2, 33.04, 21.47, 21.47, 4.36, 4.55, 6.56])),
            5: dict(zip(_MLP_COLUMNS, [4283.1, 134.4, 72.87, 72.87, 6.77, 5.8, 7.1])),
            7: dict(zip(_MLP_COLUMNS, [22341.0, 294.6, 130.2, 130.2, 5.4, 5.27, 6.51])),
            10: dict(zip(_MLP_COLUMNS, [7343800.0, 19248.2, 2463.44, 2463.36, 10.04, 5.77, 17.1])),
        },
        "notes": ["MLPs trained on a synthetic function (poster: 'Figure: Synthetic function to train MLPs'); "
                  "the poster does not give their width."],
    },
    "cnn": {
        "name": "CNN table",
        "columns": _CNN_COLUMNS,
        "poster_columns": dict(zip(_CNN_COLUMNS, ["AutoLip", "Greedy SeqLip", "Ratio", "Dataset", "Annealing"])),
        "rows": {
            4: dict(zip(_CNN_COLUMNS, [174.0, 86.0, 2.0, 12.64, 25.5])),
            5: dict(zip(_CNN_COLUMNS, [790.1, 335.0, 2.4, 16.79, 22.2])),
            7: dict(zip(_CNN_COLUMNS, [12141.0, 3629.0, 3.3, 31.22, 43.6])),
            10: dict(zip(_CNN_COLUMNS, [4.5e6, 8.2e5, 5.4, 38.26, 107.8])),
        },
        "notes": ["MNIST CNNs (poster: 'Figure: AutoLip and SeqLip for MNIST-CNNs of various size')."],
    },
    "alexnet": {
        "name": "AlexNet figures",
        "columns": ["AutoLip", "greedy SeqLip"],
        "poster_columns": {"AutoLip": "AutoLip", "greedy SeqLip": "Greedy SeqLip"},
        "rows": {"alexnet": {"AutoLip": 3.62e7, "greedy SeqLip": 5.45e6}},
        "notes": ["AlexNet with its trained ImageNet weights (the paper's); the poster prints "
                  "'3.62x10^7' and '5.45x10^6'."],
    },
}


def table(key: str) -> dict[str, Any] | None:
    """The published values for ``key``, or None when they are not recorded.

    Examples
    --------
    >>> table("no-such-table") is None
    True
    >>> table("alexnet")["rows"]["alexnet"]["greedy SeqLip"]
    5450000.0
    """
    return PUBLISHED.get(key)


def row_citation(key: str, row: Any) -> str:
    """Where a row of published values comes from, e.g. ``'... section 7, MLP table, row "# layers = 4"'``.

    Examples
    --------
    >>> row_citation("alexnet", "alexnet")
    'Scaman & Virmaux (2018), poster, section 7, AlexNet figures'
    """
    published = PUBLISHED[key]
    if key == "alexnet":
        return f"{SOURCE}, {published['name']}"
    return f'{SOURCE}, {published["name"]}, row "# layers = {row}"'


def citation(key: str, row: Any, column: str) -> str:
    """The citation of one published value (table, row and the column header as the poster prints it)."""
    published = PUBLISHED[key]
    return f'{row_citation(key, row)}, column "{published["poster_columns"][column]}"'


def ratio(key: str, row: Any, numerator: str, denominator: str) -> float | None:
    """A scale-free ratio of two published values of one row (None when either is missing).

    Examples
    --------
    >>> round(ratio("mlp", 10, "AutoLip", "SeqLip"), 2)
    7.81
    """
    values = PUBLISHED.get(key, {}).get("rows", {}).get(row, {})
    a, b = values.get(numerator), values.get(denominator)
    if a is None or not b:
        return None
    return a / b


def missing_note(key: str) -> str:
    """The sentence the report prints where a paper column is left out (a table the poster does not have)."""
    return (f"No paper column: {CITATION} publishes no values for this table ({key}); the poster's tables are "
            "the MLP and CNN tables and the AlexNet figures of section 7.")
