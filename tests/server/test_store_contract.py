"""The store contract, checked against both implementations (``memory`` and ``redis``), and both
stores answering alike after random batches.

Every test here takes ``make_store``, which builds stores of one implementation (the Redis ones on the
session's redis-server, each in its own namespace); the last test drives one store of each with the
same random batches and compares every answer.
"""

import math
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from services import RedisServer

from fanet.proto import AircraftType, GroundType
from fanet.server.model import (
    Action,
    ApplyBatch,
    BaseStation,
    Change,
    GroundObject,
    Kind,
    LiveObject,
    PendingChange,
    Pilot,
    Thermal,
    TrackPoint,
    WeatherStation,
    key_of,
    kind_of,
)
from fanet.server.store import (
    Area,
    Bounds,
    Circle,
    InvalidBatch,
    MemoryStore,
    RedisStore,
    Store,
    StoreCounts,
)
from fanet.server.store.base import KM_PER_DEGREE, wrap_lon

StoreFactory = Callable[..., Store]
T0 = 1_750_000_000.0


def pilot(addr: int = 0x110B90, lat: float = 46.0, lon: float = 13.0, t: float = T0, **fields: Any) -> Pilot:
    values: dict[str, Any] = {
        "altitude_m": 1500,
        "aircraft_type": AircraftType.PARAGLIDER,
        "speed_kmh": 32.5,
        "climb_ms": 1.2,
        "heading_deg": 270.0,
        "online": True,
        "name": "Ana",
    }
    values.update(fields)
    return Pilot(addr, lat, lon, last_update=t, **values)


def thermal(id_: int = 1, lat: float = 46.0, lon: float = 13.0, quality: int = 4, t: float = T0) -> Thermal:
    return Thermal(id_, 0x110B90, lat, lon, 2100, quality, 2.5, 12.0, 240.0, t)


def point(t: float, lat: float = 46.0, lon: float = 13.0) -> TrackPoint:
    return TrackPoint(lat, lon, 1500, 30.0, 1.0, t)


def add(*objects: LiveObject, t: float = T0) -> ApplyBatch:
    return ApplyBatch(changes=tuple(PendingChange(Action.ADD, obj, t) for obj in objects))


def keys(objects: list[LiveObject]) -> list[str]:
    return sorted(key_of(obj) for obj in objects)


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest) -> StoreFactory:
    if request.param == "memory":
        return MemoryStore
    server: RedisServer = request.getfixturevalue("redis_server")
    return lambda **options: RedisStore(server.url, namespace=f"test-{uuid.uuid4().hex}", **options)


@pytest.fixture
async def make_store(backend: StoreFactory) -> AsyncIterator[StoreFactory]:
    """Builds stores of the implementation under test and closes them after the test."""
    made: list[Store] = []

    def make(**options: Any) -> Store:
        made.append(backend(**options))
        return made[-1]

    yield make
    for store in made:
        await store.aclose()


@pytest.fixture
def store(make_store: StoreFactory) -> Store:
    return make_store()


# --- apply and sequence numbers -------------------------------------------------------------------


async def test_sequence_numbers_are_consecutive_and_gap_free_across_batches(store: Store) -> None:
    assert await store.current_sequence() == 0
    seen: list[int] = []
    for size in (1, 3, 2, 5):
        changes = await store.apply(add(*(pilot(len(seen) + i) for i in range(size))))
        assert [c.action for c in changes] == [Action.ADD] * size
        seen += [change.sequence for change in changes]
    assert seen == list(range(1, 12))
    assert await store.current_sequence() == 11


async def test_apply_returns_the_changes_in_the_batch_order(store: Store) -> None:
    batch = ApplyBatch(
        changes=(
            PendingChange(Action.ADD, pilot(1), T0, urgent=False),
            PendingChange(Action.ADD, GroundObject(2, 46, 13, GroundType.DISTRESS_CALL, True, T0), T0, True),
            PendingChange(Action.ADD, thermal(3), T0 + 1),
        )
    )
    changes = await store.apply(batch)
    assert changes == [Change(i + 1, c.action, c.obj, c.time, c.urgent) for i, c in enumerate(batch.changes)]
    assert [change.kind for change in changes] == [Kind.PILOT, Kind.GROUND, Kind.THERMAL]


async def test_empty_batch_changes_nothing(store: Store) -> None:
    assert await store.apply(ApplyBatch()) == []
    assert await store.current_sequence() == 0


async def test_add_update_remove_are_reflected_in_queries(store: Store) -> None:
    first = pilot(7, 46.0, 13.0, name="Ana")
    await store.apply(add(first))
    assert await store.get(Kind.PILOT, "7") == first
    assert await store.objects(Kind.PILOT) == [first]

    moved = pilot(7, 46.5, 13.5, t=T0 + 10, name="Ana Moved", battery_pct=80.0, turn_rate_dps=-3.5)
    await store.apply(ApplyBatch(changes=(PendingChange(Action.UPDATE, moved, T0 + 10),)))
    assert await store.get(Kind.PILOT, "7") == moved
    assert await store.objects(Kind.PILOT, Circle(46.5, 13.5, 1)) == [moved]
    assert await store.objects(Kind.PILOT, Circle(46.0, 13.0, 1)) == []

    changes = await store.apply(ApplyBatch(changes=(PendingChange(Action.REMOVE, moved, T0 + 20),)))
    assert [(c.sequence, c.action, c.obj) for c in changes] == [(3, Action.REMOVE, moved)]
    assert await store.get(Kind.PILOT, "7") is None
    assert await store.objects(Kind.PILOT) == []
    assert await store.objects(Kind.PILOT, Circle(46.5, 13.5, 100)) == []


async def test_every_kind_round_trips_and_kinds_are_kept_apart(store: Store) -> None:
    objects: list[LiveObject] = [
        pilot(5, aircraft_type=AircraftType.HANG_GLIDER, battery_pct=55.0),
        GroundObject(5, 46.01, 13.01, GroundType.LANDED_WELL, False, T0, "Ana"),
        GroundObject(6, 46.01, 13.01, 6, True, T0),  # an undefined ground type stays an int
        thermal(5),
        WeatherStation(5, 46.2, 13.2, T0, "Matajur", 11.5, 240.0, 18.0, 25.5, None, 1013.2, 90.0),
    ]
    await store.apply(add(*objects))
    for obj in objects:
        assert await store.get(kind_of(obj), key_of(obj)) == obj
    assert keys(await store.objects(Kind.GROUND)) == ["5", "6"]
    assert await store.objects(Kind.STATION, Circle(46.2, 13.2, 1)) == [objects[-1]]
    assert await store.get(Kind.THERMAL, "6") is None


async def test_several_changes_of_one_object_in_a_batch_fold_into_one(store: Store) -> None:
    a1, a2, a3 = (pilot(1, 46.0 + i / 10, 13.0, t=T0 + i) for i in range(3))
    b1, b2 = pilot(2, t=T0), pilot(2, t=T0 + 1)
    c1 = pilot(3)
    await store.apply(add(c1))
    changes = await store.apply(
        ApplyBatch(
            changes=(
                PendingChange(Action.ADD, a1, T0),
                PendingChange(Action.ADD, b1, T0),
                PendingChange(Action.UPDATE, a2, T0 + 1, urgent=True),
                PendingChange(Action.REMOVE, c1, T0 + 1),
                PendingChange(Action.UPDATE, a3, T0 + 2),
                PendingChange(Action.REMOVE, b2, T0 + 2),
                PendingChange(Action.ADD, c1, T0 + 3),
            )
        )
    )
    assert [(c.sequence, c.action, c.obj, c.time, c.urgent) for c in changes] == [
        (2, Action.ADD, a3, T0 + 2, True),  # first place, last state, urgent if any was
        (3, Action.REMOVE, b2, T0 + 2, False),
        (4, Action.ADD, c1, T0 + 3, False),  # removed and back within the batch
    ]
    assert await store.get(Kind.PILOT, "1") == a3
    assert await store.get(Kind.PILOT, "2") is None
    assert await store.get(Kind.PILOT, "3") == c1
    assert await store.changes_since(1) == changes


async def test_an_invalid_batch_is_rejected_whole(store: Store) -> None:
    for bad in (
        ApplyBatch(
            changes=(PendingChange(Action.ADD, pilot(1), T0), PendingChange(Action.ADD, pilot(2, 91.0), T0))
        ),
        ApplyBatch(changes=(PendingChange(Action.ADD, pilot(1, lon=180.5), T0),)),
        ApplyBatch(changes=(PendingChange(Action.ADD, pilot(1, lat=math.nan), T0),)),
        ApplyBatch(changes=(PendingChange(Action.ADD, pilot(1), math.inf),)),
        ApplyBatch(changes=(PendingChange(Action.ADD, pilot(1), T0),), track_points=((1, point(math.nan)),)),
    ):
        with pytest.raises(InvalidBatch):
            await store.apply(bad)
    assert await store.current_sequence() == 0
    assert await store.objects(Kind.PILOT) == []
    assert await store.track(1, 0) == []


# --- area queries -------------------------------------------------------------------------------


async def test_radius_query_selects_by_great_circle_distance(store: Store) -> None:
    # Along the meridian from (46, 13): 1° of latitude is 111.195 km.
    near, edge, beyond = pilot(1, 46.5, 13.0), pilot(2, 46.0 + 99.9 / 111.195, 13.0), pilot(3, 47.0, 13.0)
    east = pilot(4, 46.0, 13.0 + 99.5 / (111.195 * math.cos(math.radians(46))))
    await store.apply(add(near, edge, beyond, east))
    assert keys(await store.objects(Kind.PILOT, Circle(46.0, 13.0, 100.0))) == ["1", "2", "4"]
    assert keys(await store.objects(Kind.PILOT, Circle(46.0, 13.0, 99.0))) == ["1"]
    assert keys(await store.objects(Kind.PILOT, Circle(46.0, 13.0, 112.0))) == ["1", "2", "3", "4"]
    assert await store.objects(Kind.PILOT, Circle(-46.0, 13.0, 500.0)) == []
    assert keys(await store.objects(Kind.PILOT, Circle(0.0, 0.0, 20_000.0))) == ["1", "2", "3", "4"]


async def test_objects_on_the_rim_of_a_circle_are_inside(store: Store) -> None:
    # Along a meridian, and along the equator, the great-circle distance is the arc: r km is r / 111.195°.
    rim: list[tuple[float, float, float, float]] = []  # circle centre, radius, object position
    for lat, lon, radius in (
        (46.0, 13.0, 200.0),
        (-33.9, 151.2, 5.0),
        (84.0, -170.0, 100.0),
        (0.0, 179.9, 50.0),
    ):
        degrees = radius / KM_PER_DEGREE * (1 - 1e-12)
        rim += [(lat, lon, radius, lat + degrees), (lat, lon, radius, lat - degrees)]
    objects = [pilot(i, rim_lat, lon) for i, (_, lon, _, rim_lat) in enumerate(rim)]
    east = pilot(99, 0.0, wrap_lon(179.9 + 22.0 / KM_PER_DEGREE * (1 - 1e-12)))  # across the date line
    await store.apply(add(*objects, east))
    for i, (lat, lon, radius, _) in enumerate(rim):
        assert str(i) in keys(await store.objects(Kind.PILOT, Circle(lat, lon, radius)))
    assert keys(await store.objects(Kind.PILOT, Circle(0.0, 179.9, 22.0))) == ["99"]


async def test_bounds_query_selects_a_latitude_longitude_box_edges_included(store: Store) -> None:
    inside, on_edge, north, west = (
        pilot(1, 46, 13),
        pilot(2, 47, 14),
        pilot(3, 47.01, 13.5),
        pilot(4, 46.5, 11.99),
    )
    await store.apply(add(inside, on_edge, north, west))
    assert keys(await store.objects(Kind.PILOT, Bounds(45.0, 12.0, 47.0, 14.0))) == ["1", "2"]
    assert keys(await store.objects(Kind.PILOT, Bounds(-90, -180, 90, 180))) == ["1", "2", "3", "4"]
    assert await store.objects(Kind.PILOT, Bounds(10.0, 12.0, 20.0, 14.0)) == []


async def test_queries_across_the_antimeridian(store: Store) -> None:
    fiji_west, fiji_east, far = pilot(1, -17.0, 179.9), pilot(2, -17.0, -179.9), pilot(3, -17.0, 170.0)
    date_line = pilot(4, -17.0, 180.0)
    await store.apply(add(fiji_west, fiji_east, far, date_line))
    assert keys(await store.objects(Kind.PILOT, Circle(-17.0, 179.99, 50.0))) == ["1", "2", "4"]
    assert keys(await store.objects(Kind.PILOT, Circle(-17.0, -179.99, 50.0))) == ["1", "2", "4"]
    assert keys(await store.objects(Kind.PILOT, Bounds(-18.0, 179.0, -16.0, -179.0))) == ["1", "2", "4"]
    assert keys(await store.objects(Kind.PILOT, Bounds(-18.0, 160.0, -16.0, -179.95))) == ["1", "3", "4"]
    assert keys(await store.objects(Kind.PILOT, Bounds(-18.0, -179.95, -16.0, 179.95))) == ["1", "2", "3"]


async def test_queries_near_the_poles(store: Store) -> None:
    pole, polar, arctic, other_side = (
        pilot(1, 90.0, 0.0),
        pilot(2, 89.5, 120.0),
        pilot(3, 85.0, -60.0),
        pilot(4, 89.5, -60.0),
    )
    south = pilot(5, -89.99, 45.0)
    await store.apply(add(pole, polar, arctic, other_side, south))
    # From the pole every meridian is the way south: 0.5° of latitude is 55.6 km.
    assert keys(await store.objects(Kind.PILOT, Circle(90.0, 0.0, 56.0))) == ["1", "2", "4"]
    assert keys(await store.objects(Kind.PILOT, Circle(89.9, 60.0, 56.0))) == ["1", "2"]
    assert keys(await store.objects(Kind.PILOT, Circle(86.0, -60.0, 200.0))) == ["3"]
    assert keys(await store.objects(Kind.PILOT, Circle(84.0, -60.0, 700.0))) == ["1", "3", "4"]
    assert keys(await store.objects(Kind.PILOT, Bounds(89.0, -180.0, 90.0, 180.0))) == ["1", "2", "4"]
    assert keys(await store.objects(Kind.PILOT, Bounds(89.0, 100.0, 90.0, 130.0))) == ["2"]
    assert keys(await store.objects(Kind.PILOT, Circle(-90.0, 0.0, 10.0))) == ["5"]
    moved = pilot(2, 46.0, 13.0)
    await store.apply(ApplyBatch(changes=(PendingChange(Action.UPDATE, moved, T0),)))
    assert keys(await store.objects(Kind.PILOT, Circle(90.0, 0.0, 56.0))) == ["1", "4"]
    assert await store.objects(Kind.PILOT, Circle(46.0, 13.0, 1.0)) == [moved]


async def test_filters_updated_since_and_min_quality(store: Store) -> None:
    await store.apply(
        add(
            thermal(1, quality=2, t=T0),
            thermal(2, quality=5, t=T0 + 60),
            thermal(3, quality=7, t=T0 - 60),
            pilot(1, t=T0 - 60),
            pilot(2, t=T0 + 60),
        )
    )
    area = Circle(46.0, 13.0, 10)
    assert keys(await store.objects(Kind.THERMAL, area, min_quality=5)) == ["2", "3"]
    assert keys(await store.objects(Kind.THERMAL, updated_since=T0)) == ["1", "2"]
    assert keys(await store.objects(Kind.THERMAL, area, updated_since=T0, min_quality=3)) == ["2"]
    assert keys(await store.objects(Kind.PILOT, area, updated_since=T0)) == ["2"]
    assert keys(await store.objects(Kind.PILOT, min_quality=7)) == ["1", "2"]  # not a pilot's property


async def test_an_area_must_have_finite_coordinates(store: Store) -> None:
    await store.apply(add(pilot(1)))
    for area in (Circle(math.nan, 13.0, 10.0), Circle(46.0, math.inf, 10.0), Circle(46.0, 13.0, math.nan),
                 Bounds(45.0, 12.0, math.nan, 14.0), Bounds(45.0, -math.inf, 47.0, 14.0)):  # fmt: skip
        with pytest.raises(ValueError, match="not an area"):
            await store.objects(Kind.PILOT, area)
    assert keys(await store.objects(Kind.PILOT, Circle(0.0, 0.0, math.inf))) == ["1"]


async def test_objects_expire_after_their_time_to_live(make_store: StoreFactory) -> None:
    store = make_store(object_ttl_s=0.5)
    await store.apply(add(pilot(1), pilot(2, 89.0, 0.0)))
    await store.apply(add(pilot(3)))
    await trio.sleep(0.3)
    await store.apply(add(pilot(3, t=T0 + 1)))  # a write renews the time-to-live
    await trio.sleep(0.3)
    assert await store.get(Kind.PILOT, "1") is None
    assert keys(await store.objects(Kind.PILOT)) == ["3"]
    assert keys(await store.objects(Kind.PILOT, Circle(46.0, 13.0, 10))) == ["3"]
    assert await store.objects(Kind.PILOT, Circle(89.0, 0.0, 10)) == []


# --- tracks ---------------------------------------------------------------------------------------


async def test_track_returns_points_within_the_span_oldest_first(store: Store) -> None:
    points = [point(T0 + s, 46.0 + s / 1000) for s in (30, 0, 10, 20)]
    await store.apply(ApplyBatch(track_points=tuple((9, p) for p in points)))
    await store.apply(ApplyBatch(track_points=((9, point(T0 + 40)), (8, point(T0 + 15)))))
    by_time = sorted(points, key=lambda p: p.timestamp)
    assert await store.track(9, T0) == [*by_time, point(T0 + 40)]
    assert await store.track(9, T0 + 10, T0 + 30) == by_time[1:]
    assert await store.track(9, T0 + 11, T0 + 19) == []
    assert await store.track(9, T0 + 41) == []
    assert await store.track(7, 0) == []
    assert await store.track(8, 0) == [point(T0 + 15)]


async def test_a_track_keeps_one_point_per_timestamp(store: Store) -> None:
    await store.apply(ApplyBatch(track_points=((9, point(T0, 46.0)), (9, point(T0, 46.1)))))
    assert await store.track(9, 0) == [point(T0, 46.1)]
    await store.apply(ApplyBatch(track_points=((9, point(T0, 46.2)),)))
    assert await store.track(9, 0) == [point(T0, 46.2)]


async def test_a_track_keeps_its_retention_behind_its_newest_point(make_store: StoreFactory) -> None:
    store = make_store(track_retention_s=100.0)
    await store.apply(ApplyBatch(track_points=tuple((9, point(T0 + s)) for s in (0, 50, 99))))
    assert len(await store.track(9, 0)) == 3
    await store.apply(ApplyBatch(track_points=((9, point(T0 + 150)),)))
    assert [p.timestamp for p in await store.track(9, 0)] == [T0 + 50, T0 + 99, T0 + 150]
    await store.apply(ApplyBatch(track_points=((9, point(T0 + 10)),)))  # late, and already too old
    assert [p.timestamp for p in await store.track(9, 0)] == [T0 + 50, T0 + 99, T0 + 150]


async def test_trim_tracks_drops_old_points_and_counts_them(store: Store) -> None:
    await store.apply(
        ApplyBatch(
            track_points=(
                *((1, point(T0 + s)) for s in (0, 10, 20, 30)),
                *((2, point(T0 + s)) for s in (0, 5)),
                (3, point(T0 + 100)),
            )
        )
    )
    assert await store.trim_tracks(T0 + 20) == 4
    assert [p.timestamp for p in await store.track(1, 0)] == [T0 + 20, T0 + 30]
    assert await store.track(2, 0) == []
    assert await store.trim_tracks(T0 + 20) == 0
    await store.apply(ApplyBatch(track_points=((2, point(T0 + 200)),)))  # a stopped pilot flies again
    assert await store.trim_tracks(T0 + 150) == 3
    assert await store.track(2, 0) == [point(T0 + 200)]


async def test_trimming_many_tracks_lets_other_tasks_run(store: Store) -> None:
    """Trimming is upkeep beside live traffic: it must not hold the event loop for all tracks at once."""
    pilots = 2_000
    await store.apply(ApplyBatch(track_points=tuple((addr, point(T0)) for addr in range(1, pilots + 1))))
    turns = 0
    trimmed = trio.Event()

    async def other_task() -> None:
        nonlocal turns
        while not trimmed.is_set():
            await trio.lowlevel.checkpoint()
            turns += 1

    async with trio.open_nursery() as nursery:
        nursery.start_soon(other_task)
        await trio.lowlevel.checkpoint()
        turns = 0
        assert await store.trim_tracks(T0 + 1) == pilots
        trimmed.set()
    assert turns >= 3
    assert await store.track(pilots, 0) == []


# --- the change stream ----------------------------------------------------------------------------


async def test_changes_since_within_and_beyond_the_retained_window(make_store: StoreFactory) -> None:
    store = make_store(retained_changes=5)
    assert await store.changes_since(0) == []
    stamped = await store.apply(add(*(pilot(i) for i in range(3))))
    assert await store.changes_since(0) == stamped
    assert await store.changes_since(1) == stamped[1:]
    assert await store.changes_since(0, limit=2) == stamped[:2]
    assert await store.changes_since(0, limit=0) == stamped[:1]
    assert await store.wait_for_changes(0, timeout_s=1, limit=0) == stamped[:1]
    assert await store.changes_since(3) == []
    assert await store.changes_since(4) is None  # newer than the store: it was reset
    stamped += await store.apply(add(*(pilot(i, t=T0 + 1) for i in range(4))))
    assert await store.current_sequence() == 7
    assert await store.changes_since(2) == stamped[2:]  # 3..7 are the five retained
    assert await store.changes_since(1) is None
    assert await store.changes_since(0) is None
    assert await store.changes_since(5, limit=1) == [stamped[5]]


async def test_wait_for_changes_wakes_on_apply(store: Store) -> None:
    await store.apply(add(pilot(1)))
    woke: list[list[Change] | None] = []

    async def follow() -> None:
        woke.append(await store.wait_for_changes(1, timeout_s=5))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(follow)
        await trio.sleep(0.1)
        start = trio.current_time()
        stamped = await store.apply(add(pilot(2), pilot(3)))
    assert woke == [stamped]
    assert trio.current_time() - start < 1.0
    assert [c.sequence for c in await store.wait_for_changes(0, timeout_s=5) or []] == [1, 2, 3]


async def test_wait_for_changes_times_out_with_nothing(store: Store) -> None:
    await store.apply(add(pilot(1)))
    start = trio.current_time()
    assert await store.wait_for_changes(1, timeout_s=0.3) == []
    assert 0.25 <= trio.current_time() - start < 1.5
    assert await store.wait_for_changes(1, timeout_s=0) == []
    assert [c.sequence for c in await store.wait_for_changes(0, timeout_s=0) or []] == [1]


async def test_wait_for_changes_tells_a_follower_that_fell_behind(make_store: StoreFactory) -> None:
    store = make_store(retained_changes=2)
    await store.apply(add(*(pilot(i) for i in range(4))))
    assert await store.wait_for_changes(0, timeout_s=1) is None
    assert await store.wait_for_changes(9, timeout_s=0.1) is None
    assert [c.sequence for c in await store.wait_for_changes(2, timeout_s=1) or []] == [3, 4]


async def test_wait_for_changes_is_cancellable(store: Store) -> None:
    start = trio.current_time()
    with trio.move_on_after(0.2):
        await store.wait_for_changes(0, timeout_s=30)
    assert trio.current_time() - start < 1.0


# --- base stations and health -------------------------------------------------------------------


async def test_base_stations_are_upserted_by_id(store: Store) -> None:
    first = BaseStation("gw-2", T0, frames=10, heard=(0x110B90,), health={"version": "1.2", "uptime": 60})
    other = BaseStation("gw-1", T0, 3, 1.5, -97.5, 7.25, (1, 2, 3), 46.1, 13.6)
    await store.apply(ApplyBatch(base_stations=(first, other)))
    assert await store.base_stations() == [other, first]
    again = BaseStation("gw-2", T0 + 60, frames=25, health={"version": "1.3", "counters": {"rx": 25}})
    changes = await store.apply(ApplyBatch(base_stations=(again,)))
    assert changes == []
    assert await store.base_stations() == [other, again]
    assert await store.current_sequence() == 0  # base stations are not part of the change stream


# --- counts ---------------------------------------------------------------------------------------


def counted(
    pilots: int = 0, ground: int = 0, thermals: int = 0, stations: int = 0, base: int = 0
) -> StoreCounts:
    objects = {Kind.PILOT: pilots, Kind.GROUND: ground, Kind.THERMAL: thermals, Kind.STATION: stations}
    return StoreCounts(objects, base)


async def test_counts_follow_what_is_added_moved_and_removed(store: Store) -> None:
    assert await store.counts() == counted()
    polar = pilot(2, 89.5, 0.0)
    await store.apply(
        add(
            pilot(1), polar, pilot(3), thermal(1), thermal(2),
            GroundObject(1, 46.0, 13.0, GroundType.WALKING, True, T0),
            WeatherStation(1, -89.0, 13.0, T0),
        )
    )  # fmt: skip
    await store.apply(ApplyBatch(base_stations=(BaseStation("gw-1", T0), BaseStation("gw-2", T0))))
    assert await store.counts() == counted(3, 1, 2, 1, 2)
    moves = (
        PendingChange(Action.UPDATE, pilot(1, 89.9, 0.0, t=T0 + 1), T0 + 1),  # into the polar set
        PendingChange(Action.UPDATE, pilot(2, 46.0, 13.0, t=T0 + 1), T0 + 1),  # out of it
        PendingChange(Action.REMOVE, pilot(3), T0 + 1),
        PendingChange(Action.REMOVE, thermal(1), T0 + 1),
    )
    await store.apply(ApplyBatch(changes=moves, base_stations=(BaseStation("gw-1", T0 + 1),)))
    assert await store.counts() == counted(2, 1, 1, 1, 2)


async def test_expired_objects_are_not_counted_after_a_query(make_store: StoreFactory) -> None:
    store = make_store(object_ttl_s=0.3)
    await store.apply(add(pilot(1), pilot(2, 89.0, 0.0), thermal(1)))
    await trio.sleep(0.4)
    for kind in Kind:
        assert await store.objects(kind) == []
    assert await store.counts() == counted()


async def test_objects_on_and_beyond_the_antimeridian_are_found_from_across_it(store: Store) -> None:
    # Redis GEO missed a member at 180° from a search centred 3e-14° west of it (found by hypothesis).
    await store.apply(add(pilot(1, 0.0, 180.0), pilot(2, 10.0, -179.995), pilot(3, -20.0, 179.995)))
    assert [p.addr for p in await store.objects(Kind.PILOT, Circle(0.0, 179.99999999999997, 1.0))] == [1]
    assert [p.addr for p in await store.objects(Kind.PILOT, Circle(10.0, 179.995, 5.0))] == [2]
    assert [p.addr for p in await store.objects(Kind.PILOT, Circle(-20.0, -179.995, 5.0))] == [3]
    assert [p.addr for p in await store.objects(Kind.PILOT, Bounds(-21.0, 179.99, -19.0, -179.99))] == [3]


async def test_ping_answers(store: Store) -> None:
    await store.ping()


# --- both stores answer alike ---------------------------------------------------------------------

_LATS = st.one_of(
    st.floats(-90, 90), st.floats(45.5, 46.5), st.sampled_from([90.0, -90.0, 89.99, 85.05, 85.06, -85.1, 0.0])
)
_LONS = st.one_of(
    st.floats(-180, 180), st.floats(12.5, 13.5), st.sampled_from([180.0, -180.0, 179.99, -179.99, 0.0])
)
_TIMES = st.sampled_from([T0 - 100, T0, T0 + 30, T0 + 60.5])
_SMALL = st.floats(-1e6, 1e6)
_NAMES = st.text(max_size=12)
_OPTIONAL = st.none() | _SMALL


@st.composite
def _objects(draw: st.DrawFn) -> LiveObject:
    lat, lon, t = draw(_LATS), draw(_LONS), draw(_TIMES)
    addr = draw(st.integers(0, 3))
    kind = draw(st.sampled_from(Kind))
    if kind is Kind.PILOT:
        return Pilot(
            addr, lat, lon, draw(st.integers(-(2**31), 2**31 - 1)), draw(st.sampled_from(AircraftType)),
            draw(_SMALL), draw(_SMALL), draw(_SMALL), draw(st.booleans()), t, draw(_NAMES),
            draw(_OPTIONAL), draw(_OPTIONAL),
        )  # fmt: skip
    if kind is Kind.GROUND:
        ground = draw(st.sampled_from(GroundType) | st.integers(0, 15))
        return GroundObject(addr, lat, lon, ground, draw(st.booleans()), t, draw(_NAMES))
    if kind is Kind.THERMAL:
        return Thermal(
            draw(st.sampled_from([0, 1, 2**64 - 1])), addr, lat, lon, draw(st.integers(-1000, 9000)),
            draw(st.integers(0, 7)), draw(_SMALL), draw(_SMALL), draw(_SMALL), t, draw(st.integers(0, 2**32 - 1)),
        )  # fmt: skip
    return WeatherStation(addr, lat, lon, t, draw(_NAMES), *(draw(_OPTIONAL) for _ in range(7)))


_CHANGES = st.builds(PendingChange, st.sampled_from(Action), _objects(), _TIMES, st.booleans())
_POINTS = st.tuples(
    st.integers(0, 3),
    st.builds(TrackPoint, _LATS, _LONS, st.integers(0, 5000), _SMALL, _SMALL, st.sampled_from([0.0, 10.0, 30.5, 5000.0, 9999.0])),
)  # fmt: skip
_BATCHES = st.lists(
    st.tuples(st.lists(_CHANGES, max_size=8), st.lists(_POINTS, max_size=6)), min_size=1, max_size=5
)
_AREAS: st.SearchStrategy[Area] = st.one_of(
    st.builds(Circle, _LATS, _LONS, st.sampled_from([0.0, 1.0, 60.0, 500.0, 3000.0, 6000.0, 20_100.0])),
    st.builds(Bounds, _LATS, _LONS, _LATS, _LONS),
)
_QUERIES = st.lists(
    st.tuples(_AREAS, st.none() | _TIMES, st.none() | st.integers(0, 7)), min_size=1, max_size=4
)


def _by_key(objects: list[LiveObject]) -> list[LiveObject]:
    return sorted(objects, key=lambda obj: (type(obj).__name__, key_of(obj)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    batches=_BATCHES, queries=_QUERIES, since=st.integers(-1, 40), trim_at=st.sampled_from([5.0, 30.5, 1e5])
)
async def test_random_batches_leave_both_stores_answering_alike(
    redis_server: RedisServer,
    batches: list[tuple[list[PendingChange], list[tuple[int, TrackPoint]]]],
    queries: list[tuple[Area, float | None, int | None]],
    since: int,
    trim_at: float,
) -> None:
    options: dict[str, Any] = {"retained_changes": 8, "track_retention_s": 5000.0}
    memory = MemoryStore(**options)
    redis_store = RedisStore(redis_server.url, namespace=f"hyp-{uuid.uuid4().hex}", **options)
    try:
        stores: tuple[Store, Store] = (memory, redis_store)
        for number, (changes, points) in enumerate(batches):
            # The station record makes every batch distinct (Redis takes an identical one for a retry).
            batch = ApplyBatch(tuple(changes), tuple(points), (BaseStation("hyp", float(number)),))
            stamped = [await store.apply(batch) for store in stores]
            assert stamped[0] == stamped[1]
        trimmed = [await store.trim_tracks(trim_at) for store in stores]
        assert trimmed[0] == trimmed[1]

        async def answers(store: Store) -> list[object]:
            found: list[object] = [
                await store.counts(),
                await store.current_sequence(),
                await store.changes_since(since),
                await store.changes_since(0, limit=3),
                await store.base_stations(),
            ]
            for kind in Kind:
                found.append(_by_key(await store.objects(kind)))
                found += [await store.get(kind, str(key)) for key in (0, 1, 2, 3, 2**64 - 1)]
                for area, updated_since, min_quality in queries:
                    found.append(
                        _by_key(
                            await store.objects(
                                kind, area, updated_since=updated_since, min_quality=min_quality
                            )
                        )
                    )
            for addr in range(4):
                found += [await store.track(addr, -1e9), await store.track(addr, 10.0, 5000.0)]
            return found

        assert await answers(redis_store) == await answers(memory)
    finally:
        await redis_store.aclose()
