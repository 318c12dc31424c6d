"""The store interface: one contract, two implementations (memory and Redis).

The pipeline hands the store an :class:`~fanet.server.model.ApplyBatch`; the store keeps the live
objects with a geographic index, the pilots' tracks, the receiving base stations and a retained window
of recent changes, and it assigns every change its global, gap-free sequence number — so that several
server replicas sharing one Redis agree on the numbering. REST and WebSocket read through the queries
below. Every method may raise :class:`StoreUnavailable` when the backing service cannot be reached;
callers retry with backoff, and ``apply`` is all-or-nothing so a retried batch is never applied half-way.

Besides the protocol this module holds the pure rules both implementations share, so that they answer
alike by construction: how a batch folds (:func:`coalesce`, :func:`tracks_by_pilot`,
:func:`check_batch`), which objects a query selects (:func:`matches`), and the area geometry.
"""

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from fanet.server.model import (
    Action,
    ApplyBatch,
    BaseStation,
    Change,
    Kind,
    LiveObject,
    PendingChange,
    Thermal,
    TrackPoint,
)

EARTH_RADIUS_KM = 6371.0088
KM_PER_DEGREE = math.pi * EARTH_RADIUS_KM / 180

DEFAULT_RETAINED_CHANGES = 100_000
DEFAULT_TRACK_RETENTION_S = 12 * 3600.0
DEFAULT_OBJECT_TTL_S = 24 * 3600.0


class StoreUnavailable(Exception):
    """The backing service (Redis) did not answer or refused the call.

    For ``apply`` the batch was applied entirely or not at all; when the answer was lost on the way
    back it may have been applied — retrying the same batch is safe (see :meth:`Store.apply`).
    """


class InvalidBatch(ValueError):
    """A batch holds a value no store can keep (a position off the globe, a time that is not finite).

    Raised before anything of the batch is applied; the message names the change or track point.
    """


# --- areas -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Circle:
    lat: float
    lon: float
    radius_km: float

    def contains(self, lat: float, lon: float) -> bool:
        return distance_km(self.lat, self.lon, lat, lon) <= self.radius_km

    def covering_bounds(self) -> "Bounds":
        """A latitude/longitude box holding the whole circle (all longitudes when it holds a pole).

        After J. P. Matuschek, "Finding points within a distance of a latitude/longitude using
        bounding coordinates"; widened by a hair so that rounding never loses a point on the rim.
        """
        margin = 1e-6
        delta = math.degrees(self.radius_km / EARTH_RADIUS_KM) + margin
        south, north = self.lat - delta, self.lat + delta
        if south <= -90 or north >= 90:
            return Bounds(max(south, -90.0), -180.0, min(north, 90.0), 180.0)
        ratio = math.sin(math.radians(delta)) / math.cos(math.radians(self.lat))
        half_width = math.degrees(math.asin(min(1.0, ratio))) + margin
        if half_width >= 180:
            return Bounds(south, -180.0, north, 180.0)
        return Bounds(south, wrap_lon(self.lon - half_width), north, wrap_lon(self.lon + half_width))


@dataclass(frozen=True, slots=True)
class Bounds:
    """A latitude/longitude box; ``west > east`` means it crosses the antimeridian."""

    south: float
    west: float
    north: float
    east: float

    def contains(self, lat: float, lon: float) -> bool:
        if not self.south <= lat <= self.north:
            return False
        if self.west <= self.east:
            return self.west <= lon <= self.east
        return lon >= self.west or lon <= self.east

    @property
    def width_deg(self) -> float:
        """Degrees of longitude from west to east (eastwards, across the antimeridian if need be)."""
        return self.east - self.west if self.west <= self.east else self.east + 360 - self.west

    def covering_circle(self) -> Circle:
        """A circle holding the whole box (for indexes that only search by radius).

        From the centre, any point of the box is at most half the box's height away along the
        centre's meridian, then at most half its width along the point's parallel, which is longest
        at the latitude nearest the equator; the triangle inequality bounds the distance by the sum.
        A metre more: near the antipode the haversine distance rounds up to half the circumference
        (a box as wide as the globe measured 6.6 mm past its exact radius).
        """
        half_width = self.width_deg / 2
        half_height = (self.north - self.south) / 2
        nearest_equator = 0.0 if self.south <= 0 <= self.north else min(abs(self.south), abs(self.north))
        radius = KM_PER_DEGREE * (half_height + half_width * math.cos(math.radians(nearest_equator))) + 0.001
        return Circle(self.south + half_height, wrap_lon(self.west + half_width), radius)


Area = Circle | Bounds


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine), the formula Redis GEO uses (with its own earth radius)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def wrap_lon(lon: float) -> float:
    """The same meridian within -180..180."""
    return lon if -180 <= lon <= 180 else (lon + 180) % 360 - 180


def check_area(area: Area | None) -> None:
    """Raise ``ValueError`` naming the area unless its coordinates are finite (a radius may be
    infinite: everything)."""
    if isinstance(area, Circle):
        ok = math.isfinite(area.lat) and math.isfinite(area.lon) and not math.isnan(area.radius_km)
    else:
        ok = area is None or all(map(math.isfinite, (area.south, area.west, area.north, area.east)))
    if not ok:
        raise ValueError(f"{area!r} is not an area: its coordinates must be finite numbers")


def matches(obj: LiveObject, area: Area | None, updated_since: float | None, min_quality: int | None) -> bool:
    """Whether a query (:meth:`Store.objects`) selects this object."""
    if updated_since is not None and obj.last_update < updated_since:
        return False
    if min_quality is not None and isinstance(obj, Thermal) and obj.quality < min_quality:
        return False
    return area is None or area.contains(obj.lat, obj.lon)


# --- how a batch folds -------------------------------------------------------------------------


def coalesce(changes: Iterable[PendingChange]) -> list[PendingChange]:
    """One change per object: several changes of one object in a batch fold into one.

    The folded change takes the object's first place in the batch, its last state and time, and is
    urgent if any of them was. Its action: ``REMOVE`` if the last was a removal; ``ADD`` if the object
    was added, or came back after a removal, within the batch; ``UPDATE`` otherwise.
    """
    folded: dict[tuple[Kind, str], PendingChange] = {}
    for change in changes:
        slot = (change.kind, change.key)
        earlier = folded.get(slot)
        if earlier is None:
            folded[slot] = change
            continue
        if change.action is Action.REMOVE:
            action = Action.REMOVE
        elif change.action is Action.ADD or earlier.action is not Action.UPDATE:
            action = Action.ADD
        else:
            action = Action.UPDATE
        folded[slot] = PendingChange(action, change.obj, change.time, earlier.urgent or change.urgent)
    return list(folded.values())


def tracks_by_pilot(points: Iterable[tuple[int, TrackPoint]]) -> dict[int, list[TrackPoint]]:
    """The batch's track points per pilot, oldest first, one per timestamp (the later one given wins)."""
    by_pilot: dict[int, dict[float, TrackPoint]] = {}
    for addr, point in points:
        by_pilot.setdefault(addr, {})[point.timestamp] = point
    return {
        addr: sorted(by_time.values(), key=lambda point: point.timestamp)
        for addr, by_time in by_pilot.items()
    }


def check_batch(batch: ApplyBatch) -> None:
    """Raise :class:`InvalidBatch` naming the first position or time a store cannot keep."""
    for index, change in enumerate(batch.changes):
        obj = change.obj
        if not (_on_globe(obj.lat, obj.lon) and math.isfinite(change.time)):
            raise InvalidBatch(
                f"change {index} ({change.action.name} {change.kind} {change.key}): position "
                f"({obj.lat}, {obj.lon}) or time {change.time} is not on the globe / not finite"
            )
    for addr, point in batch.track_points:
        if not (_on_globe(point.lat, point.lon) and math.isfinite(point.timestamp)):
            raise InvalidBatch(
                f"track point of {addr}: position ({point.lat}, {point.lon}) or timestamp "
                f"{point.timestamp} is not on the globe / not finite"
            )


def _on_globe(lat: float, lon: float) -> bool:
    return -90 <= lat <= 90 and -180 <= lon <= 180


# --- the contract ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoreCounts:
    """How much a store holds (for ``/api/v1/info``), counted without reading the objects."""

    objects: Mapping[Kind, int]
    """Live objects of each kind; every kind is present."""
    base_stations: int


class Store(Protocol):
    """What the server needs from a store. Implementations: ``MemoryStore``, ``RedisStore``.

    Both keep, with the same meaning: the retained change window (``retained_changes``, default
    100,000 changes), the track retention (``track_retention_s``, 12 h behind a pilot's newest point)
    and a time-to-live for live objects (``object_ttl_s``, 24 h after their last write: a safety net
    so objects of a crashed pipeline do not stay forever; the pipeline removes stale objects with
    ``REMOVE`` changes long before).
    """

    name: str
    """``"memory"`` or ``"redis"`` (reported by ``/api/v1/info``)."""

    async def apply(self, batch: ApplyBatch) -> list[Change]:
        """Persist the batch at once: objects added/updated/removed, track points, base stations.

        All or nothing: a batch that fails is not applied at all, and neither the change stream nor
        the sequence ever holds part of one. Several changes of one object fold into one
        (:func:`coalesce`); the changes come back stamped with consecutive sequence numbers following
        the previous batch's, in the batch's order. ``ADD`` and ``UPDATE`` both store the object,
        ``REMOVE`` drops it (its track stays). Track points: one per timestamp per pilot (a later one
        replaces it), and each track keeps ``track_retention_s`` behind its newest point. Base
        stations are upserted by id.

        Retrying after :class:`StoreUnavailable` is safe: state updates are idempotent, and a store
        that can lose an answer (Redis) recognises a batch identical to one applied within the last
        hour and answers with the changes it stamped then instead of applying it again. Raises
        :class:`InvalidBatch` (nothing applied) for positions off the globe or times not finite.
        An empty batch returns ``[]`` without touching the store.
        """
        ...

    async def objects(
        self,
        kind: Kind,
        area: Area | None = None,
        *,
        updated_since: float | None = None,
        min_quality: int | None = None,
    ) -> list[LiveObject]:
        """Live objects of one kind, in no particular order, selected by :func:`matches`: within the
        area (edges included; a circle by great-circle distance, a box by latitude/longitude, across
        the antimeridian when ``west > east``), with ``last_update >= updated_since``, and (thermals
        only; ignored for other kinds) with ``quality >= min_quality``. ``ValueError`` for an area
        with a coordinate that is not finite (:func:`check_area`)."""
        ...

    async def get(self, kind: Kind, key: str) -> LiveObject | None:
        """One live object by its key (``key_of``): the address in decimal, or the thermal id."""
        ...

    async def track(self, addr: int, since: float, until: float | None = None) -> list[TrackPoint]:
        """A pilot's points with ``since <= timestamp <= until`` (no upper end by default), oldest
        first; ``[]`` when there are none."""
        ...

    async def trim_tracks(self, older_than: float) -> int:
        """Drop every pilot's track points with a timestamp below ``older_than``; returns how many
        went. Call it now and then with ``now - 12 h``: it drops the tracks of pilots who stopped."""
        ...

    async def base_stations(self) -> list[BaseStation]:
        """Every base station's latest record, by station id."""
        ...

    async def counts(self) -> StoreCounts:
        """How many live objects of each kind and base stations there are, cheaply: from the indexes,
        never by reading every object. An object whose time-to-live ran out may still be counted
        until the next query of its kind (Redis drops expired objects from its indexes lazily)."""
        ...

    async def current_sequence(self) -> int:
        """The sequence number of the newest change (0 before the first)."""
        ...

    async def changes_since(self, sequence: int, limit: int = 1000) -> list[Change] | None:
        """Changes with a sequence number above ``sequence``, oldest first, at most ``limit`` (at
        least one is returned when there is one).

        ``None`` when changes after ``sequence`` have already left the retained window, or when
        ``sequence`` is above the current one (the store was reset): the caller needs a snapshot.
        """
        ...

    async def wait_for_changes(
        self, after: int, timeout_s: float, *, limit: int = 1000
    ) -> list[Change] | None:
        """Like ``changes_since``, but waits up to ``timeout_s`` for the first change after ``after``
        (the change stream replicas follow, fed by every replica's ``apply``); ``[]`` after the
        timeout, ``None`` as for ``changes_since``. Cancellable at any point; the Redis store
        notices a cancellation within its ``block_slice_s`` (0.5 s by default)."""
        ...

    async def ping(self) -> None:
        """Raise :class:`StoreUnavailable` unless the store answers."""
        ...

    async def aclose(self) -> None:
        """Release connections; the store must not be used afterwards."""
        ...
