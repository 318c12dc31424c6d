"""The production store: the live world in Redis, shared by every server replica.

redis-py has no Trio support, so this adapter uses the synchronous client (with hiredis) from worker
threads: one ``BlockingConnectionPool`` as large as the ``CapacityLimiter`` objects that guard it, so
a thread that got past a limiter always finds a connection; each store call is one
``trio.to_thread.run_sync`` hop doing all its round trips (a pipeline, or one script call for ``apply``).
Calls are not abandoned on cancellation — a write always completes or fails — and are bounded by the
socket timeouts instead; ``wait_for_changes`` blocks in slices of ``block_slice_s`` so that cancelling it
takes effect within one slice. Followers of the change stream have their own limiter, so they never
starve writers of connections.

Failures surface as :class:`~fanet.server.store.base.StoreUnavailable`, never as redis-py exceptions. A
restarted Redis needs nothing from the caller: dead pooled connections are replaced on their next use
(one immediate reconnect attempt per command), and the scripts are loaded again when Redis forgot them.
An ``apply`` that returned is as durable as Redis makes it: run production Redis with AOF
(``appendonly yes``, ``appendfsync everysec`` loses at most a second of acknowledged batches in a power
cut; ``always`` loses none; a failover to an asynchronous replica can lose what it had not received).
Redis must not evict the sequence, the stream or the indexes: ``maxmemory-policy noeviction`` (or a
``volatile-*`` policy, which only takes keys with a time-to-live: objects, tracks, retry markers).

Key layout: :mod:`fanet.server.store._redis_layout`; the batch script: :mod:`fanet.server.store._redis_apply`.
"""

import functools
import itertools
import urllib.parse
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast

import redis
import trio
from redis.backoff import NoBackoff
from redis.retry import Retry

from fanet.server.model import ApplyBatch, BaseStation, Change, Kind, LiveObject, TrackPoint
from fanet.server.store._redis_apply import APPLY_SCRIPT, FORGET_EXPIRED_SCRIPT, ApplyOptions, apply_call
from fanet.server.store._redis_layout import RedisKeys, search_circles
from fanet.server.store.base import (
    DEFAULT_OBJECT_TTL_S,
    DEFAULT_RETAINED_CHANGES,
    DEFAULT_TRACK_RETENTION_S,
    Area,
    StoreCounts,
    StoreUnavailable,
    check_area,
    check_batch,
    coalesce,
    matches,
    tracks_by_pilot,
)
from fanet.server.store.codec import decode_base_station, decode_change, decode_object, decode_point

T = TypeVar("T")
_Client = redis.Redis
"""Our client never decodes responses: every string it returns is ``bytes`` (hence the casts below)."""
_TRIM_CHUNK = 500
"""Tracks trimmed per pipeline round trip by ``trim_tracks``."""


class RedisStore:
    """The live world in Redis (see the module docstring); the contract is :class:`~.base.Store`.

    ``url`` is a redis-py URL (``redis://host:6379/0``, ``rediss://…``, ``unix://…``). All keys start
    with ``namespace:``, so several stores (or test runs) can share one database. ``max_connections``
    bounds concurrent store calls, ``max_followers`` concurrent ``wait_for_changes`` calls; the pool
    holds their sum. Socket timeouts bound every call when Redis hangs; a refused connection fails at
    once. Constructing the store does not connect: call :meth:`ping` to check the URL. Besides
    :class:`~.base.InvalidBatch`, ``apply`` raises :class:`~.codec.CodecError` (nothing applied) for a
    number outside the model's range (a 24-bit address, a 32-bit altitude, a 64-bit thermal id).
    """

    name = "redis"

    def __init__(
        self,
        url: str,
        *,
        namespace: str = "fanet",
        retained_changes: int = DEFAULT_RETAINED_CHANGES,
        track_retention_s: float = DEFAULT_TRACK_RETENTION_S,
        object_ttl_s: float | None = DEFAULT_OBJECT_TTL_S,
        dedupe_ttl_s: float = 3600.0,
        max_connections: int = 16,
        max_followers: int = 2,
        socket_timeout_s: float = 2.0,
        connect_timeout_s: float = 1.0,
        block_slice_s: float = 0.5,
    ) -> None:
        if retained_changes < 1:
            raise ValueError(f"retained_changes must be at least 1, not {retained_changes}")
        if block_slice_s >= socket_timeout_s:
            raise ValueError(
                f"block_slice_s ({block_slice_s}) must be below socket_timeout_s ({socket_timeout_s}), "
                "or every blocking read would time out"
            )
        self.where = _without_password(url)
        """The URL for messages and logs, password masked."""
        self.keys = RedisKeys(namespace)
        self.block_slice_s = block_slice_s
        self._options = ApplyOptions(retained_changes, object_ttl_s, track_retention_s, dedupe_ttl_s)
        self._pool = redis.BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections + max_followers,
            timeout=socket_timeout_s,
            socket_timeout=socket_timeout_s,
            socket_connect_timeout=connect_timeout_s,
            # One immediate reconnect replaces a pooled connection Redis closed (a restart); more
            # attempts would only delay the StoreUnavailable the caller backs off on.
            retry=Retry(NoBackoff(), retries=1, supported_errors=(redis.ConnectionError,)),
        )
        self._client = redis.Redis(connection_pool=self._pool)
        self._apply_script = self._client.register_script(APPLY_SCRIPT)
        self._forget_script = self._client.register_script(FORGET_EXPIRED_SCRIPT)
        self._decoded = _DecodedObjects()
        self._callers = trio.CapacityLimiter(max_connections)
        self._followers = trio.CapacityLimiter(max_followers)

    def __repr__(self) -> str:
        return f"<RedisStore {self.where} namespace={self.keys.namespace!r}>"

    # --- writes ---------------------------------------------------------------------------------

    async def apply(self, batch: ApplyBatch) -> list[Change]:
        check_batch(batch)
        changes = coalesce(batch.changes)
        tracks = tracks_by_pilot(batch.track_points)
        if not (changes or tracks or batch.base_stations):
            await trio.lowlevel.checkpoint()
            return []
        keys, args = apply_call(self.keys, changes, tracks, batch.base_stations, self._options)

        def run(client: _Client) -> int:
            return int(self._apply_script(keys=keys, args=args, client=client))

        first = await self._call("apply", run)
        return [
            Change(first + offset, change.action, change.obj, change.time, change.urgent)
            for offset, change in enumerate(changes)
        ]

    async def trim_tracks(self, older_than: float) -> int:
        below = f"({older_than!r}"

        def run(client: _Client) -> int:
            addrs = cast("list[bytes]", client.zrange(self.keys.tracks, 0, -1))
            dropped = 0
            for start in range(0, len(addrs), _TRIM_CHUNK):
                pipe = client.pipeline(transaction=False)
                for addr in addrs[start : start + _TRIM_CHUNK]:
                    pipe.zremrangebyscore(self.keys.track(addr), "-inf", below)
                dropped += sum(pipe.execute())
            # An apply meanwhile moved its pilot's score to its newest point, so this keeps it.
            client.zremrangebyscore(self.keys.tracks, "-inf", below)
            return dropped

        return await self._call("trim_tracks", run)

    # --- reads ----------------------------------------------------------------------------------

    async def objects(
        self,
        kind: Kind,
        area: Area | None = None,
        *,
        updated_since: float | None = None,
        min_quality: int | None = None,
    ) -> list[LiveObject]:
        check_area(area)
        circles = None if area is None else search_circles(area)
        geo, polar = self.keys.geo[kind], self.keys.polar[kind]

        def run(client: _Client) -> list[LiveObject]:
            pipe = client.pipeline(transaction=False)
            if circles is None:
                pipe.zrange(geo, 0, -1)
            else:
                for circle in circles:
                    pipe.geosearch(
                        geo, longitude=circle.lon, latitude=circle.lat, radius=circle.radius_km, unit="km"
                    )
            pipe.smembers(polar)
            *searched, polar_members = pipe.execute()
            members: list[bytes] = list(dict.fromkeys(itertools.chain(*searched, polar_members)))
            if not members:
                return []
            object_keys = [self.keys.obj(kind, member) for member in members]
            values = cast("list[bytes | None]", client.mget(object_keys))
            expired = [(m, k) for m, k, v in zip(members, object_keys, values, strict=True) if v is None]
            if expired:
                self._forget_script(
                    keys=[geo, polar, *(k for _, k in expired)], args=[m for m, _ in expired], client=client
                )
            decode = self._decoded.decode
            found = (
                decode(key, value)
                for key, value in zip(object_keys, values, strict=True)
                if value is not None
            )
            return [obj for obj in found if matches(obj, area, updated_since, min_quality)]

        return await self._call("objects", run)

    async def get(self, kind: Kind, key: str) -> LiveObject | None:
        def run(client: _Client) -> LiveObject | None:
            value = cast("bytes | None", client.get(self.keys.obj(kind, key)))
            return None if value is None else decode_object(value)

        return await self._call("get", run)

    async def track(self, addr: int, since: float, until: float | None = None) -> list[TrackPoint]:
        def run(client: _Client) -> list[TrackPoint]:
            upper = "+inf" if until is None else until
            members = cast("list[bytes]", client.zrangebyscore(self.keys.track(addr), since, upper))
            return [decode_point(member) for member in members]

        return await self._call("track", run)

    async def base_stations(self) -> list[BaseStation]:
        def run(client: _Client) -> list[BaseStation]:
            records = cast("dict[bytes, bytes]", client.hgetall(self.keys.stations))
            return [decode_base_station(records[station_id]) for station_id in sorted(records)]

        return await self._call("base_stations", run)

    async def counts(self) -> StoreCounts:
        def run(client: _Client) -> StoreCounts:
            pipe = client.pipeline(transaction=False)
            for kind in Kind:
                pipe.zcard(self.keys.geo[kind])
                pipe.scard(self.keys.polar[kind])
            pipe.hlen(self.keys.stations)
            *per_index, stations = cast("list[int]", pipe.execute())
            objects = {kind: per_index[2 * i] + per_index[2 * i + 1] for i, kind in enumerate(Kind)}
            return StoreCounts(objects, stations)

        return await self._call("counts", run)

    async def current_sequence(self) -> int:
        def run(client: _Client) -> int:
            return int(client.get(self.keys.seq) or 0)

        return await self._call("current_sequence", run)

    async def changes_since(self, sequence: int, limit: int = 1000) -> list[Change] | None:
        def run(client: _Client) -> list[Change] | None:
            # One transaction, so that the window and the entries are read at the same instant.
            pipe = client.pipeline(transaction=True)
            pipe.get(self.keys.seq)
            pipe.xrange(self.keys.changes, count=1)
            pipe.xrange(self.keys.changes, min=f"{max(sequence + 1, 0)}-0", count=max(limit, 1))
            current, oldest, entries = pipe.execute()
            if sequence > int(current or 0):
                return None
            if sequence == int(current or 0):
                return []
            if not oldest or sequence < _sequence_of(oldest[0][0]) - 1:
                return None
            return _decode_entries(entries)

        return await self._call("changes_since", run)

    async def wait_for_changes(
        self, after: int, timeout_s: float, *, limit: int = 1000
    ) -> list[Change] | None:
        deadline = trio.current_time() + timeout_s
        while True:
            block_s = min(max(deadline - trio.current_time(), 0.0), self.block_slice_s)
            found = await self._call(
                "wait_for_changes",
                functools.partial(self._read_after, after, limit, block_s),
                limiter=self._followers,
            )
            if found != [] or trio.current_time() >= deadline:
                return found

    def _read_after(self, after: int, limit: int, block_s: float, client: _Client) -> list[Change] | None:
        """Entries after ``after``, blocking up to ``block_s`` for the first; ``None`` on a gap."""
        pipe = client.pipeline(transaction=False)
        pipe.get(self.keys.seq)
        block_ms = round(block_s * 1000)
        pipe.xread({self.keys.changes: f"{max(after, 0)}-0"}, count=max(limit, 1), block=block_ms or None)
        current, streams = pipe.execute()
        if after > int(current or 0):
            return None
        if not streams:
            return []
        entries = streams[0][1]
        if _sequence_of(entries[0][0]) != after + 1:
            return None  # what followed ``after`` has left the window
        return _decode_entries(entries)

    async def ping(self) -> None:
        await self._call("ping", lambda client: client.ping())

    async def aclose(self) -> None:
        await trio.to_thread.run_sync(self._pool.disconnect)

    # --- plumbing -------------------------------------------------------------------------------

    async def _call(
        self, operation: str, run: Callable[[_Client], T], *, limiter: trio.CapacityLimiter | None = None
    ) -> T:
        """Run ``run(client)`` in a worker thread; redis-py errors become :class:`StoreUnavailable`."""

        def guarded() -> T:
            try:
                return run(self._client)
            except redis.RedisError as error:
                raise StoreUnavailable(
                    f"Redis at {self.where} failed during {operation} ({type(error).__name__}: {error})"
                ) from error

        return await trio.to_thread.run_sync(guarded, limiter=limiter or self._callers)


class _DecodedObjects:
    """The objects the last queries decoded, by key: an object that did not change comes back as the
    same bytes, and building the dataclass again is most of a large query's cost (measured: a 200 km
    query over 3,900 pilots spent 10 of 20 ms decoding). Worker threads share it; every operation on
    it is a single dict operation, atomic under the GIL."""

    def __init__(self, capacity: int = 50_000) -> None:
        self._by_key: dict[str, tuple[bytes, LiveObject]] = {}
        self._capacity = capacity

    def decode(self, key: str, value: bytes) -> LiveObject:
        cached = self._by_key.get(key)
        if cached is not None and cached[0] == value:
            return cached[1]
        if len(self._by_key) >= self._capacity:
            self._by_key.clear()  # keys of objects long gone; the live ones come back on the next query
        obj = self._by_key[key] = (value, decode_object(value))
        return obj[1]


def _without_password(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.netloc.rpartition('@')[2]}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def _sequence_of(entry_id: bytes) -> int:
    return int(entry_id.partition(b"-")[0])


def _decode_entries(entries: Sequence[tuple[bytes, dict[bytes, Any]]]) -> list[Change]:
    return [decode_change(_sequence_of(entry_id), fields[b"c"]) for entry_id, fields in entries]
