"""Two server replicas sharing one Redis: a change applied through either reaches the clients of both,
in sequence order."""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio
from services import RedisServer

from fanet.proto import AircraftType
from fanet.proto import fanet_pb2 as pb
from fanet.server.live.client import UpdateStream, open_updates, updates_of
from fanet.server.live.hub import Hub
from fanet.server.live.listener import serve_websockets
from fanet.server.live.settings import LiveSettings
from fanet.server.model import Action, ApplyBatch, PendingChange, Pilot
from fanet.server.store import RedisStore

T0 = 1_750_000_000.0


def pilot(addr: int, lat: float) -> Pilot:
    return Pilot(addr, lat, 8.0, 1500, AircraftType.PARAGLIDER, 30.0, 1.0, 90.0, True, T0)


@asynccontextmanager
async def replica(url: str, namespace: str) -> AsyncIterator[tuple[RedisStore, str]]:
    store = RedisStore(url, namespace=namespace, block_slice_s=0.1)
    settings = LiveSettings(
        host="127.0.0.1", port=0, batch_interval_s=0, freeze_gc=False, follow_timeout_s=1.0
    )
    try:
        async with trio.open_nursery() as nursery:
            port = await nursery.start(serve_websockets, Hub(settings), store, settings)
            yield store, f"ws://127.0.0.1:{port}"
            nursery.cancel_scope.cancel()
    finally:
        await store.aclose()


async def sequences(stream: UpdateStream, count: int) -> list[tuple[int, int]]:
    got: list[tuple[int, int]] = []
    with trio.fail_after(5):
        while len(got) < count:
            for update in updates_of(await stream.receive()):
                assert isinstance(update, pb.Update)
                got.append((update.sequence, pb.Pilot.FromString(update.data).addr))
    return got


async def test_changes_applied_through_either_replica_reach_the_clients_of_both_in_order(
    redis_server: RedisServer,
) -> None:
    namespace = f"test-{uuid.uuid4().hex}"
    async with (
        replica(redis_server.url, namespace) as (store_a, url_a),
        replica(redis_server.url, namespace) as (store_b, url_b),
        open_updates(url_a, 46.0, 8.0, 50) as client_a,
        open_updates(url_b, 46.0, 8.0, 50) as client_b,
    ):
        for client in (client_a, client_b):
            await client.receive()  # Welcome
        await trio.sleep(0.2)  # both snapshots (empty) resolved
        for step in range(10):
            store = store_a if step % 2 == 0 else store_b
            batch = (PendingChange(Action.ADD, pilot(step * 2 + 1, 46.0 + step * 0.001), T0),)
            await store.apply(ApplyBatch(changes=batch))
        expected = [(step + 1, step * 2 + 1) for step in range(10)]
        assert await sequences(client_a, 10) == expected
        assert await sequences(client_b, 10) == expected
