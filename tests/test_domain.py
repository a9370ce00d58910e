import numpy as np
import pytest

from lipexact.domain import MIN_RELATIVE_SIDE, Box, as_box
from reductions.validation import InvalidInputError


def test_round_trip_and_pairs():
    box = Box([0, -1], [1, 1])
    assert Box.from_dict(box.to_dict()).upper.tolist() == [1.0, 1.0]
    assert as_box(([0, 0], [1, 1]), 2).dimension == 2
    assert as_box(None, 3) is None


def test_a_number_in_a_pair_stands_for_every_coordinate():
    box = as_box((0, 0.1), 4)
    assert box.lower.tolist() == [0.0] * 4 and box.upper.tolist() == [0.1] * 4
    assert as_box((np.float64(-1), [1, 2]), 2).lower.tolist() == [-1.0, -1.0]
    for bad, field in [((True, 1), "domain.lower"), (("0", 1), "domain.lower"), ((1, 0), "domain")]:
        with pytest.raises(InvalidInputError) as error:
            as_box(bad, 2)
        assert error.value.field == field


@pytest.mark.parametrize("lower, upper, dimension", [([0], [0], 1), ([1, 0], [0, 1], 2), ([0, 0], [1, 1], 3)])
def test_empty_interiors_and_wrong_dimensions_are_errors(lower, upper, dimension):
    with pytest.raises(InvalidInputError) as error:
        as_box((lower, upper), dimension)
    assert error.value.field == "domain"


# ---------------------------------------------------------------------------------- representable sides
@pytest.mark.parametrize("lower, upper", [
    ([0.1], [0.1 + 1e-9]),                       # thin, about 7e7 ulps across
    ([1e10], [1e10 + 1]),                        # far out, about 5e5 ulps across
    ([-1e-300], [1e-300]),                       # tiny but straddling zero
    ([0.0], [2.0 ** -1062]),                     # the floor near zero: 4096 smallest subnormals
    ([1.0 - 2.0 ** -40], [1.0]),                 # exactly on the relative rule (max |bound| = 1)
    ([-1.0], [-1.0 + 2.0 ** -40]),
    ([1.0], [1.0 + 2.0 ** -39]),
    ([0.0, 1e10], [1.0, 1e10 + 1]),
])
def test_thin_but_representable_boxes_are_accepted(lower, upper):
    box = Box(lower, upper)
    assert np.all(box.upper - box.lower >= MIN_RELATIVE_SIDE * np.maximum(np.abs(box.lower), np.abs(box.upper)))
    assert box.contains_interior(box.center)


@pytest.mark.parametrize("lower, upper, coordinate", [
    ([0.0], [5e-324], 0),                        # one subnormal ulp: bnb used to report upper = -inf
    ([0.0, 0.0], [1.0, 2.0 ** -1063], 1),        # just under the floor near zero
    ([1.0 - 2.0 ** -41], [1.0], 0),              # just under the relative rule
    ([-1.0], [-1.0 + 2.0 ** -41], 0),
    ([1.0], [1.0 + 2.0 ** -40], 0),              # a hair under: max |bound| = 1 + 2**-40
    ([0.0, 1.0], [1.0, float(np.nextafter(1.0, 2.0))], 1),
    ([1e10], [1e10 + 2.0 ** -19], 0),            # one ulp of 1e10
    ([-1e10 - 1e-3], [-1e10], 0),
    ([-1.5e308], [1.5e308], 0),                  # finite bounds, but the side overflows
])
def test_sides_too_thin_to_represent_are_refused_naming_the_coordinate(lower, upper, coordinate):
    with pytest.raises(InvalidInputError) as error:
        Box(lower, upper)
    assert error.value.field == "domain"
    assert f"coordinate {coordinate}:" in str(error.value)


def test_the_rule_is_relative_to_the_position():
    side = 1e-6
    Box([1.0], [1.0 + side])                     # 4.5e9 ulps of 1
    with pytest.raises(InvalidInputError, match="units in the last place"):
        Box([1e10], [1e10 + side])               # half an ulp of 1e10: rounds to a one-ulp side


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_bounds_are_refused(bad):
    with pytest.raises(InvalidInputError) as error:
        Box([0.0, bad], [1.0, 2.0])
    assert error.value.field == "domain.lower"
    with pytest.raises(InvalidInputError) as error:
        Box([0.0, 0.0], [1.0, bad])
    assert error.value.field == "domain.upper"


def test_empty_interior_names_the_coordinate():
    with pytest.raises(InvalidInputError, match="coordinate 1: lower=2.0, upper=2.0"):
        Box([0.0, 2.0], [1.0, 2.0])


# ---------------------------------------------------------------------------------- open box membership
def test_boundary_points_are_not_interior():
    box = Box([-1.0, 0.5], [1.0, 2.0])
    assert box.contains_interior([0.0, 1.0])
    for point in ([-1.0, 1.0], [1.0, 1.0], [0.0, 0.5], [0.0, 2.0], [-1.0, 0.5], [1.0, 2.0]):
        assert not box.contains_interior(point), point          # on a face or a corner
    for point in ([-1.5, 1.0], [0.0, 2.5], [0.0, float("nan")]):
        assert not box.contains_interior(point), point          # outside, or not a number
    just_inside = [float(np.nextafter(-1.0, 0.0)), float(np.nextafter(2.0, 0.0))]
    assert box.contains_interior(just_inside)
    assert not box.contains_interior([float(np.nextafter(-1.0, -2.0)), 1.0])


def test_points_of_another_shape_are_not_interior():
    box = Box([0.0, 0.0], [1.0, 1.0])
    assert not box.contains_interior([0.5])                     # would broadcast against both bounds
    assert not box.contains_interior(0.5)
    assert not box.contains_interior([0.5, 0.5, 0.5])
    assert not box.contains_interior([[0.5, 0.5]])
