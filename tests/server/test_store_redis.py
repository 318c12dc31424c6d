"""What only the Redis store has to get right: outages, several replicas on one Redis, retries after a
lost answer, and the key layout other tools (and the next engineer) rely on."""

import os
import signal
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import pytest
import redis
import trio
from services import RedisFactory, RedisServer, free_port

from fanet.proto import AircraftType
from fanet.server.model import (
    Action,
    ApplyBatch,
    BaseStation,
    Change,
    Kind,
    PendingChange,
    Pilot,
    Thermal,
    TrackPoint,
)
from fanet.server.store import Circle, RedisStore, StoreUnavailable

T0 = 1_750_000_000.0


def pilot(addr: int, lat: float = 46.0, lon: float = 13.0, t: float = T0) -> Pilot:
    return Pilot(addr, lat, lon, 1500, AircraftType.PARAGLIDER, 30.0, 1.0, 90.0, True, t, "Ana")


def add(*pilots: Pilot, t: float = T0) -> ApplyBatch:
    return ApplyBatch(changes=tuple(PendingChange(Action.ADD, p, t) for p in pilots))


@asynccontextmanager
async def opened(url: str, **options: Any) -> AsyncIterator[RedisStore]:
    store = RedisStore(url, **{"namespace": f"test-{uuid.uuid4().hex}", **options})
    try:
        yield store
    finally:
        await store.aclose()


@contextmanager
def inspect(server: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(server.url)
    try:
        yield client
    finally:
        client.close()


# --- outages --------------------------------------------------------------------------------------


async def test_a_stopped_redis_fails_fast_with_store_unavailable_then_recovers(
    redis_factory: RedisFactory,
) -> None:
    server = redis_factory()
    async with opened(server.url, socket_timeout_s=1.0, connect_timeout_s=0.5, block_slice_s=0.2) as store:
        await store.apply(add(pilot(1)))
        server.stop()
        calls: list[Callable[[], Awaitable[object]]] = [
            lambda: store.apply(add(pilot(2))),
            lambda: store.objects(Kind.PILOT, Circle(46, 13, 10)),
            lambda: store.get(Kind.PILOT, "1"),
            lambda: store.track(1, 0),
            lambda: store.trim_tracks(0),
            store.base_stations,
            store.current_sequence,
            lambda: store.changes_since(0),
            lambda: store.wait_for_changes(1, timeout_s=5),
            store.ping,
        ]
        for call in calls:
            with trio.fail_after(1.5), pytest.raises(StoreUnavailable, match="Redis at redis://"):
                await call()
        server.start()  # no persistence in this one: it comes back empty
        with trio.fail_after(2):
            changes = await store.apply(add(pilot(3)))
        assert [c.sequence for c in changes] == [1]
        assert await store.get(Kind.PILOT, "3") == pilot(3)


async def test_nothing_acknowledged_is_lost_when_redis_crashes_with_aof(redis_factory: RedisFactory) -> None:
    server = redis_factory(extra_args=["--appendonly", "yes", "--appendfsync", "always"])
    async with opened(server.url) as store:
        stamped = await store.apply(add(pilot(1), pilot(2)))
        stamped += await store.apply(
            ApplyBatch(
                changes=(PendingChange(Action.UPDATE, pilot(1, 46.5), T0 + 1),),
                track_points=((1, TrackPoint(46.5, 13.0, 1500, 30.0, 1.0, T0 + 1)),),
            )
        )
        server.kill()
        server.start()
        with trio.fail_after(2):
            assert await store.current_sequence() == 3
        assert await store.changes_since(0) == stamped
        assert await store.get(Kind.PILOT, "1") == pilot(1, 46.5)
        assert len(await store.track(1, 0)) == 1
        assert [c.sequence for c in await store.apply(add(pilot(4)))] == [4]


async def test_a_hung_redis_fails_within_the_socket_timeout_and_a_retry_applies_once(
    redis_factory: RedisFactory,
) -> None:
    server = redis_factory()
    assert server.process is not None
    async with opened(server.url, socket_timeout_s=0.5, block_slice_s=0.2) as store:
        await store.apply(add(pilot(1)))
        batch = add(pilot(2), pilot(3), t=T0 + 1)
        os.kill(server.process.pid, signal.SIGSTOP)
        try:
            start = trio.current_time()
            with pytest.raises(StoreUnavailable, match="Timeout"):
                await store.apply(batch)
            assert trio.current_time() - start < 1.5
        finally:
            os.kill(server.process.pid, signal.SIGCONT)
        # Whether or not Redis ran the lost call once it woke up, the retry leaves it applied once.
        changes = await store.apply(batch)
        assert [c.sequence for c in changes] == [2, 3]
        assert await store.current_sequence() == 3


async def test_an_unreachable_url_fails_at_once() -> None:
    async with opened(f"redis://127.0.0.1:{free_port()}/0") as store:
        with trio.fail_after(1.5), pytest.raises(StoreUnavailable):
            await store.ping()


# --- retries and replicas -------------------------------------------------------------------------


async def test_a_retried_batch_is_answered_with_its_first_changes(redis_server: RedisServer) -> None:
    async with opened(redis_server.url) as store:
        batch = ApplyBatch(
            changes=(PendingChange(Action.ADD, pilot(1), T0),),
            track_points=((1, TrackPoint(46.0, 13.0, 1500, 30.0, 1.0, T0)),),
        )
        first = await store.apply(batch)
        assert await store.apply(batch) == first
        assert await store.current_sequence() == 1
        assert await store.changes_since(0) == first
        later = await store.apply(add(pilot(1, t=T0 + 1), t=T0 + 1))  # new content: a new batch
        assert [c.sequence for c in later] == [2]


async def test_two_replicas_share_one_gap_free_sequence(redis_server: RedisServer) -> None:
    namespace = f"test-{uuid.uuid4().hex}"
    returned: list[list[Change]] = []
    async with (
        opened(redis_server.url, namespace=namespace) as one,
        opened(redis_server.url, namespace=namespace) as two,
    ):

        async def writer(store: RedisStore, base: int) -> None:
            for batch in range(10):
                addrs = range(base + batch * 10, base + batch * 10 + 1 + batch % 4)
                returned.append(await store.apply(add(*(pilot(a) for a in addrs))))

        async with trio.open_nursery() as nursery:
            for task in range(8):
                nursery.start_soon(writer, (one, two)[task % 2], task * 1000)
        sequences = [change.sequence for changes in returned for change in changes]
        assert sorted(sequences) == list(range(1, len(sequences) + 1))
        for changes in returned:  # each batch got a block of consecutive numbers
            assert [c.sequence for c in changes] == list(range(changes[0].sequence, changes[-1].sequence + 1))
        assert await one.current_sequence() == await two.current_sequence() == len(sequences)
        assert await two.changes_since(0, limit=10_000) == sorted(
            (c for changes in returned for c in changes), key=lambda c: c.sequence
        )


async def test_another_replica_follows_the_change_stream(redis_server: RedisServer) -> None:
    namespace = f"test-{uuid.uuid4().hex}"
    async with (
        opened(redis_server.url, namespace=namespace) as writer,
        opened(redis_server.url, namespace=namespace) as follower,
    ):
        followed: list[Change] = []

        async def follow() -> None:
            after = 0
            while len(followed) < 5:
                changes = await follower.wait_for_changes(after, timeout_s=5)
                assert changes is not None
                followed.extend(changes)
                after = followed[-1].sequence if followed else after

        stamped: list[Change] = []
        with trio.fail_after(5):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(follow)
                for i in range(5):
                    await trio.sleep(0.05)
                    stamped += await writer.apply(add(pilot(i)))
        assert followed == stamped
        assert await follower.get(Kind.PILOT, "4") == pilot(4)


async def test_followers_do_not_hold_up_other_calls(redis_server: RedisServer) -> None:
    async with opened(redis_server.url, max_connections=1, max_followers=1) as store:
        woke: list[list[Change] | None] = []

        async def follow() -> None:
            woke.append(await store.wait_for_changes(0, timeout_s=30))

        with trio.fail_after(3):
            async with trio.open_nursery() as nursery:
                for _ in range(3):  # more followers than connections for them: they take turns
                    nursery.start_soon(follow)
                await trio.sleep(0.1)
                with trio.fail_after(0.5):
                    for _ in range(5):
                        assert await store.objects(Kind.PILOT) == []
                        assert await store.current_sequence() == 0
                assert woke == []
                stamped = await store.apply(add(pilot(1)))
        assert woke == [stamped] * 3


# --- the key layout -------------------------------------------------------------------------------


async def test_the_key_layout(redis_server: RedisServer) -> None:
    async with opened(redis_server.url, object_ttl_s=600, track_retention_s=3600) as store:
        ns = store.keys.namespace
        await store.apply(
            ApplyBatch(
                changes=(
                    PendingChange(Action.ADD, pilot(1), T0),
                    PendingChange(Action.ADD, pilot(2, 89.0, 0.0), T0),
                    PendingChange(Action.ADD, Thermal(7, 1, 46.0, 13.0, 2000, 5, 2.0, 10.0, 200.0, T0), T0),
                ),
                track_points=((1, TrackPoint(46.0, 13.0, 1500, 30.0, 1.0, T0)),),
                base_stations=(BaseStation("gw-1", T0),),
            )
        )
        with inspect(redis_server) as client:
            found = {key.decode() for key in client.scan_iter(match=f"{ns}:*")}
            assert {key for key in found if not key.startswith(f"{ns}:applied:")} == {
                f"{ns}:seq",
                f"{ns}:changes",
                f"{ns}:obj:pilot:1",
                f"{ns}:obj:pilot:2",
                f"{ns}:obj:thermal:7",
                f"{ns}:geo:pilot",
                f"{ns}:polar:pilot",
                f"{ns}:geo:thermal",
                f"{ns}:track:1",
                f"{ns}:tracks",
                f"{ns}:stations",
            }
            assert len(found) == 12
            assert client.type(f"{ns}:changes") == b"stream"
            assert [entry_id for entry_id, _ in client.xrange(f"{ns}:changes") or []] == [
                b"1-0",
                b"2-0",
                b"3-0",
            ]
            assert client.zrange(f"{ns}:geo:pilot", 0, -1) == [b"1"]
            assert client.smembers(f"{ns}:polar:pilot") == {b"2"}
            assert 590_000 < client.pttl(f"{ns}:obj:pilot:1") <= 600_000
            assert 3_590_000 < client.pttl(f"{ns}:track:1") <= 3_600_000
            assert client.zscore(f"{ns}:tracks", "1") == T0
            assert client.hkeys(f"{ns}:stations") == [b"gw-1"]


async def test_an_expired_object_leaves_its_index(redis_server: RedisServer) -> None:
    async with opened(redis_server.url, object_ttl_s=0.1) as store:
        ns = store.keys.namespace
        await store.apply(add(pilot(1), pilot(2, 89.0)))
        await trio.sleep(0.3)
        assert await store.objects(Kind.PILOT, Circle(46.0, 13.0, 10)) == []
        assert await store.objects(Kind.PILOT) == []
        with inspect(redis_server) as client:
            assert client.zcard(f"{ns}:geo:pilot") == 0
            assert client.scard(f"{ns}:polar:pilot") == 0


def test_messages_never_show_the_password() -> None:
    store = RedisStore("redis://:s3cret@127.0.0.1:6379/0")
    assert "s3cret" not in repr(store)
    assert store.where == "redis://:***@127.0.0.1:6379/0"
    assert RedisStore("redis://app:s3cret@db:6379/2").where == "redis://app:***@db:6379/2"


def test_options_that_cannot_work_are_refused() -> None:
    with pytest.raises(ValueError, match="block_slice_s"):
        RedisStore("redis://127.0.0.1:1/0", socket_timeout_s=0.5, block_slice_s=0.5)
    with pytest.raises(ValueError, match="retained_changes"):
        RedisStore("redis://127.0.0.1:1/0", retained_changes=0)
    with pytest.raises(ValueError, match="namespace"):
        RedisStore("redis://127.0.0.1:1/0", namespace="")
