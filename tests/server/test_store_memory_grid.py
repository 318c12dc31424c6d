"""The memory store's grid answers exactly what a scan of every object with :func:`matches` answers,
for circles and boxes of every size, on cell edges, across the antimeridian and around the poles."""

import math
import random

import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from fanet.proto import AircraftType
from fanet.server.model import Action, ApplyBatch, Kind, PendingChange, Pilot, key_of
from fanet.server.store import Area, Bounds, Circle, MemoryStore
from fanet.server.store.base import matches, wrap_lon

T0 = 1_750_000_000.0

_LATS = st.one_of(
    st.floats(-90, 90),
    st.floats(45.5, 46.5),
    st.integers(-720, 720).map(lambda eighths: eighths / 8),
    st.sampled_from([90.0, -90.0, 89.99, -89.99, 0.0]),
)
_LONS = st.one_of(
    st.floats(-180, 180),
    st.floats(12.5, 13.5),
    st.integers(-1440, 1440).map(lambda eighths: eighths / 8),
    st.sampled_from([180.0, -180.0, 179.99, -179.99, 0.0]),
)
_RADII = st.one_of(
    st.floats(0, 30),
    st.floats(30, 600),
    st.sampled_from([0.0, 5.0, 200.0, 3000.0, 9000.0, 10_100.0, 20_100.0, math.inf]),
)
_AREAS: st.SearchStrategy[Area] = st.one_of(
    st.builds(Circle, _LATS, _LONS, _RADII),
    st.builds(Bounds, _LATS, _LONS, _LATS, _LONS),
    st.builds(Bounds, _LATS, st.floats(-400, 400), _LATS, st.floats(-400, 400)),  # compared as numbers
    st.builds(
        lambda lat, lon, height, width: Bounds(lat, lon, min(90.0, lat + height), wrap_lon(lon + width)),
        _LATS,
        _LONS,
        st.floats(0, 5),
        st.floats(0, 5),
    ),
)


def _around(area: Area, rng: random.Random, count: int) -> list[tuple[float, float]]:
    """Positions mostly near the area's edges and on cell edges, some anywhere."""
    box = area.covering_bounds() if isinstance(area, Circle) else area
    south, north = max(-90.0, box.south - 0.2), min(90.0, box.north + 0.2)
    positions = []
    for number in range(count):
        if number % 5 == 0:
            lat, lon = rng.uniform(-90, 90), rng.uniform(-180, 180)
        else:
            lat = rng.uniform(south, north) if south <= north else rng.uniform(-90, 90)
            lon = wrap_lon(box.west - 0.2 + rng.uniform(0, box.width_deg + 0.4))
        if number % 3 == 0:  # on a cell's edge
            lat, lon = round(lat * 8) / 8, round(lon * 8) / 8
        positions.append((max(-90.0, min(90.0, lat)), lon))
    if isinstance(area, Circle):  # on and just off the rim, where rounding decides
        for _ in range(count // 2):
            bearing = rng.uniform(0, 2 * math.pi)
            distance = area.radius_km * (1 + rng.choice((-1e-9, 0.0, 1e-9, -1e-3, 1e-3)))
            positions.append(_destination(area.lat, area.lon, distance, bearing))
    return positions


def _destination(lat: float, lon: float, distance_km: float, bearing: float) -> tuple[float, float]:
    angle = min(distance_km, 20_000.0) / 6371.0088
    p1, l1 = math.radians(lat), math.radians(lon)
    p2 = math.asin(
        max(
            -1.0,
            min(1.0, math.sin(p1) * math.cos(angle) + math.cos(p1) * math.sin(angle) * math.cos(bearing)),
        )
    )
    l2 = l1 + math.atan2(
        math.sin(bearing) * math.sin(angle) * math.cos(p1), math.cos(angle) - math.sin(p1) * math.sin(p2)
    )
    return max(-90.0, min(90.0, math.degrees(p2))), wrap_lon(math.degrees(l2))


@settings(max_examples=300, deadline=None)
@given(areas=st.lists(_AREAS, min_size=1, max_size=4), seed=st.integers(0, 2**32))
def test_grid_queries_answer_as_a_scan_of_every_object(areas: list[Area], seed: int) -> None:
    rng = random.Random(seed)
    positions = [position for area in areas for position in _around(area, rng, 120)]
    pilots = [
        Pilot(i, lat, lon, 1500, AircraftType.PARAGLIDER, 30.0, 1.0, 90.0, True, T0 + i % 7, "")
        for i, (lat, lon) in enumerate(positions)
    ]

    async def check() -> None:
        store = MemoryStore()
        await store.apply(ApplyBatch(changes=tuple(PendingChange(Action.ADD, p, T0) for p in pilots)))
        for area in areas:
            for since in (None, T0 + 3):
                found = sorted(map(key_of, await store.objects(Kind.PILOT, area, updated_since=since)))
                expected = sorted(key_of(p) for p in pilots if matches(p, area, since, None))
                assert found == expected, area

    trio.run(check)
