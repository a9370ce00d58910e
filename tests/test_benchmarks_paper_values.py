"""The published values typed in from the poster: internally consistent (a typo would break an order or the
printed ratio), cited, and shown in the report's paper columns."""

from __future__ import annotations

import pytest

from benchmarks import paper_values


def _rounding(value: float) -> float:
    """Half a unit of the last printed digit of ``value`` (the poster prints 2 to 4 significant digits)."""
    text = f"{value:.6g}"
    mantissa = text.split("e")[0]
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    exponent = int(text.split("e")[1]) if "e" in text else 0
    return 0.5 * 10.0 ** (exponent - decimals)


@pytest.mark.parametrize("layers", [4, 5, 7, 10])
def test_mlp_rows_keep_the_order_of_the_bounds(layers):
    row = paper_values.table("mlp")["rows"][layers]
    assert row["Frobenius"] >= row["AutoLip"] >= row["SeqLip"] >= row["greedy SeqLip"]
    assert max(row["data"], row["annealing"], row["grid search"]) <= row["greedy SeqLip"]


@pytest.mark.parametrize("layers", [4, 5, 7, 10])
def test_cnn_printed_ratio_matches_its_two_values_within_rounding(layers):
    row = paper_values.table("cnn")["rows"][layers]
    autolip, greedy = row["AutoLip"], row["greedy SeqLip"]
    # the two values are rounded too (4.5e6, 8.2e5): the ratio may lie anywhere between their extremes
    low = (autolip - _rounding(autolip)) / (greedy + _rounding(greedy))
    high = (autolip + _rounding(autolip)) / (greedy - _rounding(greedy))
    assert low - _rounding(row["ratio"]) <= row["ratio"] <= high + _rounding(row["ratio"])
    assert max(row["data"], row["annealing"]) <= greedy


def test_a_wrong_ratio_would_be_caught():
    autolip, greedy = 174.0, 86.0
    low = (autolip - _rounding(autolip)) / (greedy + _rounding(greedy))
    high = (autolip + _rounding(autolip)) / (greedy - _rounding(greedy))
    assert not low - 0.05 <= 2.4 <= high + 0.05


def test_alexnet_values_and_every_citation_names_the_poster_section_table_and_row():
    assert paper_values.table("alexnet")["rows"]["alexnet"] == {"AutoLip": 3.62e7, "greedy SeqLip": 5.45e6}
    for key, published in paper_values.PUBLISHED.items():
        for row in published["rows"]:
            for column in published["columns"]:
                cited = paper_values.citation(key, row, column)
                assert cited.startswith("Scaman & Virmaux (2018), poster, section 7, ")
                assert published["name"] in cited and published["poster_columns"][column] in cited
                if key != "alexnet":
                    assert f'row "# layers = {row}"' in cited


def test_ratio_of_missing_values_is_none():
    assert paper_values.ratio("mlp", 3, "AutoLip", "SeqLip") is None
    assert paper_values.ratio("nope", 4, "AutoLip", "SeqLip") is None
