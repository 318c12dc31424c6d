"""Region covers: every point of the circle lies in a covering cell, within the cell budget."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fanet.server.live.region import (
    CELL_BUDGET,
    MAX_PRECISION,
    Point,
    Region,
    _box_cells_estimate,
    _cells_in_box,
    _fewest_cells,
    _touches,
    cell_of,
)
from fanet.server.store import Circle
from fanet.server.store.base import EARTH_RADIUS_KM


def destination(lat: float, lon: float, bearing_deg: float, distance_km: float) -> tuple[float, float]:
    d, b = distance_km / EARTH_RADIUS_KM, math.radians(bearing_deg)
    p1, l1 = math.radians(lat), math.radians(lon)
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(b))
    l2 = l1 + math.atan2(math.sin(b) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2))
    return math.degrees(p2), (math.degrees(l2) + 540) % 360 - 180


@given(
    lat=st.floats(-85, 85),
    lon=st.floats(-180, 180),
    radius=st.floats(1, 200),
    bearing=st.floats(0, 360),
    fraction=st.floats(0, 1),
)
@settings(max_examples=300, deadline=None)
def test_every_point_of_the_circle_is_in_a_covering_cell(
    lat: float, lon: float, radius: float, bearing: float, fraction: float
) -> None:
    region = Region.around(lat, lon, radius)
    point = destination(lat, lon, bearing, radius * fraction)
    assert region.covers(cell_of(*point))
    assert 1 <= len(region.cells) <= CELL_BUDGET
    assert region.precision <= MAX_PRECISION
    assert all(len(cell) == region.precision for cell in region.cells)


def test_small_regions_get_fine_cells_and_large_ones_coarse() -> None:
    assert Region.around(46.5, 8.0, 1).precision == 6
    assert Region.around(46.5, 8.0, 200).precision == 3


@pytest.mark.parametrize(("lon", "radius"), [(179.9, 100), (-179.95, 100), (180.0, 1), (-180.0, 1)])
def test_a_region_across_the_antimeridian_covers_both_sides(lon: float, radius: float) -> None:
    region = Region.around(0.0, lon, radius)
    assert region.covers(cell_of(0.0, -179.995)) and region.covers(cell_of(0.0, 179.995))


@pytest.mark.parametrize(("lat", "lon", "radius"), [(0, 0, 0.5), (0, 0, 201), (91, 0, 10), (0, math.nan, 10)])
def test_a_radius_or_centre_out_of_range_is_refused(lat: float, lon: float, radius: float) -> None:
    with pytest.raises(ValueError, match=r"radius|centre"):
        Region.around(lat, lon, radius)


def _touching(circle: Circle, precision: int) -> list[str]:
    centre = Point.at(circle.lat, circle.lon)
    reach = math.sin((circle.radius_km * 1.001 + 0.01) / (2 * EARTH_RADIUS_KM)) ** 2
    box = circle.covering_bounds()
    return [cell for cell in _cells_in_box(box, precision) if _touches(circle, centre, reach, cell)]


@given(lat=st.floats(-89, 89), lon=st.floats(-180, 180), radius=st.floats(1, 200))
@settings(max_examples=150, deadline=None)
def test_the_cover_is_the_finest_within_the_budget_and_the_shortcuts_never_skip_one_that_fits(
    lat: float, lon: float, radius: float
) -> None:
    """The cover skips precisions by two estimates; enumerating every precision the hard way (where the
    box is small enough to enumerate in a test) finds no finer one within the budget, and the circle's area
    bound never exceeds the cells that really touch it."""
    region = Region.around(lat, lon, radius)
    circle = region.circle
    assert len(_touching(circle, region.precision)) == len(region.cells) <= CELL_BUDGET
    for precision in range(1, MAX_PRECISION + 1):
        if _box_cells_estimate(circle.covering_bounds(), precision) > 40 * CELL_BUDGET:
            continue
        touching = len(_touching(circle, precision))
        assert _fewest_cells(circle, precision) <= touching
        if precision > region.precision:
            assert touching > CELL_BUDGET
