import pytest

from lipexact.domain import Box, as_box
from reductions.validation import InvalidInputError


def test_round_trip_and_pairs():
    box = Box([0, -1], [1, 1])
    assert Box.from_dict(box.to_dict()).upper.tolist() == [1.0, 1.0]
    assert as_box(([0, 0], [1, 1]), 2).dimension == 2
    assert as_box(None, 3) is None


@pytest.mark.parametrize("lower, upper, dimension", [([0], [0], 1), ([1, 0], [0, 1], 2), ([0, 0], [1, 1], 3)])
def test_empty_interiors_and_wrong_dimensions_are_errors(lower, upper, dimension):
    with pytest.raises(InvalidInputError) as error:
        as_box((lower, upper), dimension)
    assert error.value.field == "domain"
