"""The store interface: one contract, two implementations (memory and Redis).

The pipeline hands the store an :class:`~fanet.server.model.ApplyBatch`; the store keeps the live
objects with a geographic index, the pilots' tracks, the receiving base stations and a retained window
of recent changes, and it assigns every change its global, gap-free sequence number — so that several
server replicas sharing one Redis agree on the numbering. REST and WebSocket read through the queries
below. Every method may raise :class:`StoreUnavailable` when the backing service cannot be reached;
callers retry with backoff, and ``apply`` is all-or-nothing so a retried batch is applied once.
"""

import math
from dataclasses import dataclass
from typing import Protocol

from fanet.server.model import ApplyBatch, BaseStation, Change, Kind, LiveObject, TrackPoint

EARTH_RADIUS_KM = 6371.0088


class StoreUnavailable(Exception):
    """The backing service (Redis) did not answer; nothing of the failed call was applied."""


@dataclass(frozen=True, slots=True)
class Circle:
    lat: float
    lon: float
    radius_km: float

    def contains(self, lat: float, lon: float) -> bool:
        return distance_km(self.lat, self.lon, lat, lon) <= self.radius_km


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


Area = Circle | Bounds


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine), the same figure Redis GEO uses."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


class Store(Protocol):
    """What the server needs from a store. Implementations: ``MemoryStore``, ``RedisStore``."""

    name: str
    """``"memory"`` or ``"redis"`` (reported by ``/api/v1/info``)."""

    async def apply(self, batch: ApplyBatch) -> list[Change]:
        """Persist the batch at once: objects added/updated/removed, track points, base stations.

        Returns the changes stamped with consecutive sequence numbers, in the batch's order.
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
        """Live objects of one kind, optionally within an area, reported since a time, and (for
        thermals) of at least a quality."""
        ...

    async def get(self, kind: Kind, key: str) -> LiveObject | None:
        """One live object by its key (``key_of``): the address in decimal, or the thermal id."""
        ...

    async def track(self, addr: int, since: float, until: float | None = None) -> list[TrackPoint]:
        """A pilot's accepted positions between two unix times, oldest first."""
        ...

    async def trim_tracks(self, older_than: float) -> int:
        """Drop track points older than a unix time; returns how many went."""
        ...

    async def base_stations(self) -> list[BaseStation]: ...

    async def current_sequence(self) -> int:
        """The sequence number of the newest change (0 before the first)."""
        ...

    async def changes_since(self, sequence: int, limit: int = 1000) -> list[Change] | None:
        """Changes with a sequence number above ``sequence``, oldest first, at most ``limit``.

        ``None`` when ``sequence`` is older than the retained window (the caller needs a snapshot).
        """
        ...

    async def wait_for_changes(self, after: int, timeout_s: float) -> list[Change]:
        """Like ``changes_since`` but waits up to ``timeout_s`` for the first one (the change
        stream replicas follow); an empty list after the timeout. Cancellable."""
        ...

    async def ping(self) -> None:
        """Raise :class:`StoreUnavailable` unless the store answers."""
        ...

    async def aclose(self) -> None: ...
