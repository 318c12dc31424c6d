"""The pure rules both stores share: how a batch folds and which areas cover which."""

import math

from hypothesis import example, given
from hypothesis import strategies as st

from fanet.proto import AircraftType
from fanet.server.model import Action, PendingChange, Pilot, TrackPoint
from fanet.server.store.base import (
    EARTH_RADIUS_KM,
    Bounds,
    Circle,
    coalesce,
    distance_km,
    tracks_by_pilot,
    wrap_lon,
)


def _pilot(addr: int, lat: float = 46.0) -> Pilot:
    return Pilot(addr, lat, 13.0, 900, AircraftType.PARAGLIDER, 0.0, 0.0, 0.0, True, 0.0)


def _destination(lat: float, lon: float, bearing_deg: float, km: float) -> tuple[float, float]:
    """Where a great circle from (lat, lon) leads after ``km``."""
    p1, l1, b, d = math.radians(lat), math.radians(lon), math.radians(bearing_deg), km / EARTH_RADIUS_KM
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(b))
    l2 = l1 + math.atan2(math.sin(b) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2))
    return math.degrees(p2), wrap_lon(math.degrees(l2))


@given(st.floats(-90, 90), st.floats(-180, 180), st.floats(0, 5000), st.floats(0, 360), st.floats(0, 1))
def test_a_circles_covering_bounds_hold_every_point_of_it(
    lat: float, lon: float, radius: float, bearing: float, fraction: float
) -> None:
    circle = Circle(lat, lon, radius)
    inside_lat, inside_lon = _destination(lat, lon, bearing, radius * fraction * 0.999999)
    if circle.contains(inside_lat, inside_lon):
        assert circle.covering_bounds().contains(inside_lat, inside_lon)


@given(
    st.floats(-90, 90), st.floats(-90, 90), st.floats(-180, 180), st.floats(-180, 180),
    st.floats(0, 1), st.floats(0, 1),
)  # fmt: skip
@example(0.0, 0.0, 0.0, -1.192092896e-07, 0.0, 0.0)  # as wide as the globe: the antipode of its centre
def test_a_boxes_covering_circle_holds_every_point_of_it(
    lat1: float, lat2: float, west: float, east: float, up: float, along: float
) -> None:
    box = Bounds(min(lat1, lat2), west, max(lat1, lat2), east)
    lat = box.south + (box.north - box.south) * up
    lon = wrap_lon(box.west + box.width_deg * along)
    if box.contains(lat, lon):
        circle = box.covering_circle()
        assert distance_km(circle.lat, circle.lon, lat, lon) <= circle.radius_km + 1e-6


def test_boxes_across_the_antimeridian() -> None:
    box = Bounds(-20.0, 170.0, -10.0, -170.0)
    assert box.width_deg == 20.0
    assert box.contains(-15.0, 180.0) and box.contains(-15.0, -175.0) and not box.contains(-15.0, 0.0)
    assert box.covering_circle().lon in (180.0, -180.0)
    assert Circle(0.0, 179.5, 200.0).covering_bounds().west > Circle(0.0, 179.5, 200.0).covering_bounds().east


def test_a_circle_around_a_pole_covers_every_longitude() -> None:
    cover = Circle(89.5, 10.0, 100.0).covering_bounds()
    assert (cover.west, cover.north, cover.east) == (-180.0, 90.0, 180.0)
    assert cover.south < 89.5 - 100 / 111.2


def test_coalesce_folds_the_changes_of_one_object() -> None:
    a, b = _pilot(1), _pilot(2)
    a2, b2 = _pilot(1, 47.0), _pilot(2, 47.0)
    cases = [
        ((Action.ADD, Action.UPDATE), Action.ADD),
        ((Action.UPDATE, Action.UPDATE), Action.UPDATE),
        ((Action.UPDATE, Action.REMOVE), Action.REMOVE),
        ((Action.ADD, Action.REMOVE), Action.REMOVE),
        ((Action.REMOVE, Action.ADD), Action.ADD),
        ((Action.REMOVE, Action.UPDATE), Action.ADD),
        ((Action.UPDATE, Action.REMOVE, Action.UPDATE), Action.ADD),
    ]
    for actions, folded in cases:
        changes = [PendingChange(action, a if i == 0 else a2, float(i)) for i, action in enumerate(actions)]
        assert coalesce(changes) == [PendingChange(folded, a2, float(len(actions) - 1))]
    mixed = coalesce(
        [
            PendingChange(Action.UPDATE, a, 0.0),
            PendingChange(Action.UPDATE, b, 0.0, urgent=True),
            PendingChange(Action.UPDATE, a2, 1.0),
            PendingChange(Action.UPDATE, b2, 1.0),
        ]
    )
    assert mixed == [PendingChange(Action.UPDATE, a2, 1.0), PendingChange(Action.UPDATE, b2, 1.0, True)]


def test_tracks_by_pilot_sorts_and_keeps_the_last_point_per_timestamp() -> None:
    p = [TrackPoint(46.0, 13.0, 900 + i, 0.0, 0.0, t) for i, t in enumerate((5.0, 1.0, 5.0, 3.0))]
    assert tracks_by_pilot([(1, p[0]), (2, p[1]), (1, p[2]), (1, p[3])]) == {1: [p[3], p[2]], 2: [p[1]]}
