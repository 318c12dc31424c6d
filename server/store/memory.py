"""The embedded store: the whole live world in this process, for a server on one machine.

No server needed and nothing survives a restart. Objects of each kind sit in a grid of 1/8° cells
(:mod:`~fanet.server.store._grid`): an area query takes the objects of the cells wholly inside the area
as they are and checks those of the cells on its rim exactly, with the same rule the Redis store uses
(:func:`~fanet.server.store.base.matches`). Tracks are sorted lists
per pilot; the retained change window is a bounded deque; ``wait_for_changes`` sleeps on a
``trio.Event`` that every ``apply`` sets. Every method is a Trio checkpoint and none blocks; trimming
the tracks lets other tasks run every few hundred tracks.
"""

import math
import time
from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from itertools import islice

import trio

from fanet.server.model import (
    Action,
    ApplyBatch,
    BaseStation,
    Change,
    Kind,
    LiveObject,
    TrackPoint,
    key_of,
)
from fanet.server.store._grid import Cell, Grid, cell_of
from fanet.server.store.base import (
    DEFAULT_OBJECT_TTL_S,
    DEFAULT_RETAINED_CHANGES,
    DEFAULT_TRACK_RETENTION_S,
    Area,
    StoreCounts,
    check_area,
    check_batch,
    coalesce,
    matches,
    tracks_by_pilot,
)

TRIM_CHUNK = 500
"""Tracks trimmed in one step of ``trim_tracks`` (between two checkpoints)."""


@dataclass(slots=True)
class _Entry:
    obj: LiveObject
    cell: Cell
    expires_at: float


class _KindIndex:
    """The live objects of one kind by key, with a grid of cells for area queries."""

    def __init__(self) -> None:
        self.entries: dict[str, _Entry] = {}
        self.grid = Grid()
        self.sweep_at = math.inf
        """No entry expires before this (a lower bound, so queries need not look at every entry's)."""

    def put(self, key: str, obj: LiveObject, expires_at: float) -> None:
        entry = _Entry(obj, cell_of(obj.lat, obj.lon), expires_at)
        earlier = self.entries.get(key)
        if earlier is not None and earlier.cell != entry.cell:
            self.grid.discard(key, earlier.cell)
        self.entries[key] = entry
        self.grid.put(key, obj, entry.cell)
        self.sweep_at = min(self.sweep_at, expires_at)

    def remove(self, key: str) -> None:
        entry = self.entries.pop(key, None)
        if entry is not None:
            self.grid.discard(key, entry.cell)

    def get(self, key: str, now: float) -> LiveObject | None:
        entry = self.entries.get(key)
        if entry is None:
            return None
        if entry.expires_at <= now:
            self.remove(key)
            return None
        return entry.obj

    def select(
        self, area: Area | None, updated_since: float | None, min_quality: int | None, now: float
    ) -> list[LiveObject]:
        """What :func:`matches` selects among the live entries (only the area's cells are looked at)."""
        if now >= self.sweep_at:
            self._sweep(now)
        if area is None:
            return [
                entry.obj
                for entry in self.entries.values()
                if matches(entry.obj, None, updated_since, min_quality)
            ]
        inside, edge = self.grid.near(area)
        if updated_since is None and min_quality is None:
            inside.extend(obj for obj in edge if area.contains(obj.lat, obj.lon))
            return inside
        return [
            *(obj for obj in inside if matches(obj, None, updated_since, min_quality)),
            *(obj for obj in edge if matches(obj, area, updated_since, min_quality)),
        ]

    def count(self, now: float) -> int:
        if now >= self.sweep_at:
            self._sweep(now)
        return len(self.entries)

    def _sweep(self, now: float) -> None:
        for key in [key for key, entry in self.entries.items() if entry.expires_at <= now]:
            self.remove(key)
        self.sweep_at = min((entry.expires_at for entry in self.entries.values()), default=math.inf)


class _Track:
    """One pilot's points, oldest first, one per timestamp."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.points: list[TrackPoint] = []

    def add(self, point: TrackPoint) -> None:
        at = bisect_left(self.times, point.timestamp)
        if at < len(self.times) and self.times[at] == point.timestamp:
            self.points[at] = point
        else:
            self.times.insert(at, point.timestamp)
            self.points.insert(at, point)

    def drop_before(self, cutoff: float) -> int:
        end = bisect_left(self.times, cutoff)
        del self.times[:end], self.points[:end]
        return end

    def between(self, since: float, until: float | None) -> list[TrackPoint]:
        start = bisect_left(self.times, since)
        end = len(self.times) if until is None else bisect_right(self.times, until)
        return self.points[start:end]


class MemoryStore:
    """The live world in memory (see the module docstring); the contract is :class:`~.base.Store`.

    ``clock`` (unix seconds) only serves the objects' time-to-live.
    """

    name = "memory"

    def __init__(
        self,
        *,
        retained_changes: int = DEFAULT_RETAINED_CHANGES,
        track_retention_s: float = DEFAULT_TRACK_RETENTION_S,
        object_ttl_s: float | None = DEFAULT_OBJECT_TTL_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if retained_changes < 1:
            raise ValueError(f"retained_changes must be at least 1, not {retained_changes}")
        self.track_retention_s = track_retention_s
        self.object_ttl_s = object_ttl_s
        self._clock = clock
        self._kinds = {kind: _KindIndex() for kind in Kind}
        self._tracks: dict[int, _Track] = {}
        self._stations: dict[str, BaseStation] = {}
        self._changes: deque[Change] = deque(maxlen=retained_changes)
        self._sequence = 0
        self._changed = trio.Event()

    async def apply(self, batch: ApplyBatch) -> list[Change]:
        await trio.lowlevel.checkpoint()
        check_batch(batch)
        expires_at = math.inf if self.object_ttl_s is None else self._clock() + self.object_ttl_s
        stamped: list[Change] = []
        for pending in coalesce(batch.changes):
            index, key = self._kinds[pending.kind], key_of(pending.obj)
            if pending.action is Action.REMOVE:
                index.remove(key)
            else:
                index.put(key, pending.obj, expires_at)
            self._sequence += 1
            stamped.append(Change(self._sequence, pending.action, pending.obj, pending.time, pending.urgent))
        for addr, points in tracks_by_pilot(batch.track_points).items():
            track = self._tracks.setdefault(addr, _Track())
            for point in points:
                track.add(point)
            track.drop_before(track.times[-1] - self.track_retention_s)
        for station in batch.base_stations:
            self._stations[station.station_id] = station
        if stamped:
            self._changes.extend(stamped)
            self._changed.set()
            self._changed = trio.Event()
        return stamped

    async def objects(
        self,
        kind: Kind,
        area: Area | None = None,
        *,
        updated_since: float | None = None,
        min_quality: int | None = None,
    ) -> list[LiveObject]:
        await trio.lowlevel.checkpoint()
        check_area(area)
        return self._kinds[kind].select(area, updated_since, min_quality, self._clock())

    async def get(self, kind: Kind, key: str) -> LiveObject | None:
        await trio.lowlevel.checkpoint()
        return self._kinds[kind].get(key, self._clock())

    async def track(self, addr: int, since: float, until: float | None = None) -> list[TrackPoint]:
        await trio.lowlevel.checkpoint()
        track = self._tracks.get(addr)
        return [] if track is None else track.between(since, until)

    async def trim_tracks(self, older_than: float) -> int:
        """Every ``TRIM_CHUNK`` tracks it lets other tasks run: in one step, 10,000 pilots' tracks held the
        event loop for 14 ms on average (measured at 2,000 frames/s), a stall every live client felt."""
        await trio.lowlevel.checkpoint()
        dropped = 0
        for count, (addr, track) in enumerate(list(self._tracks.items()), start=1):
            dropped += track.drop_before(older_than)
            if not track.times and self._tracks.get(addr) is track:
                del self._tracks[addr]
            if not count % TRIM_CHUNK:
                await trio.lowlevel.checkpoint()
        return dropped

    async def base_stations(self) -> list[BaseStation]:
        await trio.lowlevel.checkpoint()
        return [self._stations[station_id] for station_id in sorted(self._stations)]

    async def counts(self) -> StoreCounts:
        await trio.lowlevel.checkpoint()
        now = self._clock()
        objects = {kind: index.count(now) for kind, index in self._kinds.items()}
        return StoreCounts(objects, len(self._stations))

    async def current_sequence(self) -> int:
        await trio.lowlevel.checkpoint()
        return self._sequence

    async def changes_since(self, sequence: int, limit: int = 1000) -> list[Change] | None:
        await trio.lowlevel.checkpoint()
        return self._changes_since(sequence, limit)

    async def wait_for_changes(
        self, after: int, timeout_s: float, *, limit: int = 1000
    ) -> list[Change] | None:
        await trio.lowlevel.checkpoint()
        changes = self._changes_since(after, limit)
        with trio.move_on_after(timeout_s):
            while changes == []:
                await self._changed.wait()
                changes = self._changes_since(after, limit)
        return changes

    async def ping(self) -> None:
        await trio.lowlevel.checkpoint()

    async def aclose(self) -> None:
        await trio.lowlevel.checkpoint()

    def _changes_since(self, sequence: int, limit: int) -> list[Change] | None:
        if sequence > self._sequence:
            return None
        if sequence == self._sequence:
            return []
        if not self._changes:  # everything retained has been trimmed away
            return None
        first = self._changes[0].sequence
        if sequence < first - 1:
            return None
        start = sequence + 1 - first
        size = len(self._changes)
        end = min(start + max(limit, 1), size)
        # From the newest end: a deque's index walks its blocks from the nearer end, so indexing each item
        # costs what the reader lags behind; this costs that once.
        changes = list(islice(reversed(self._changes), size - end, size - start))
        changes.reverse()
        return changes
