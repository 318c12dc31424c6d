"""The WebSocket listener over real sockets (and, for the heartbeat, in-memory streams on the mock clock)."""

import gc
import json
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from itertools import pairwise
from typing import Any, cast

import pytest
import trio
import trio.testing
from trio_websocket import (
    ConnectionClosed,
    ConnectionRejected,
    WebSocketConnection,
    open_websocket_url,
    wrap_client_stream,
    wrap_server_stream,
)

from fanet.proto import AircraftType, GroundType
from fanet.proto import fanet_pb2 as pb
from fanet.server.api.updates import PendingUpdate
from fanet.server.live.client import ServerFrame, UpdateStream, open_updates, update_object, updates_of
from fanet.server.live.hub import Hub
from fanet.server.live.listener import (
    BEHIND_STEPS,
    FOLLOW_CHUNK,
    FOLLOW_STEPS,
    UpdatesListener,
    follow_chunk,
    serve_websockets,
)
from fanet.server.live.outbox import Outbox
from fanet.server.live.settings import LiveSettings
from fanet.server.live.subscriber import Subscriber
from fanet.server.model import Action, ApplyBatch, GroundObject, LiveObject, PendingChange, Pilot
from fanet.server.store import MemoryStore, Store

T0 = 1_750_000_000.0
HERE = (46.0, 8.0)
FAR = (47.5, 10.0)


def pilot(addr: int, lat: float = HERE[0], lon: float = HERE[1], name: str = "") -> Pilot:
    return Pilot(addr, lat, lon, 1500, AircraftType.PARAGLIDER, 30.0, 1.0, 90.0, True, T0, name)


async def put(
    store: Store, *objects: LiveObject, action: Action = Action.UPDATE, urgent: bool = False
) -> None:
    await store.apply(ApplyBatch(changes=tuple(PendingChange(action, obj, T0, urgent) for obj in objects)))


@asynccontextmanager
async def serving(store: Store, **options: Any) -> AsyncIterator[tuple[str, Hub]]:
    settings = LiveSettings(host="127.0.0.1", port=0, freeze_gc=False, **{"batch_interval_s": 0, **options})
    hub = Hub(settings)
    async with trio.open_nursery() as nursery:
        port = await nursery.start(serve_websockets, hub, store, settings)
        yield f"ws://127.0.0.1:{port}", hub
        nursery.cancel_scope.cancel()


async def next_updates(stream: UpdateStream, timeout_s: float = 2.0) -> list[tuple[str, int, dict[str, Any]]]:
    """The updates of the next batch, as (action, sequence, object) — skipping other frames."""
    with trio.fail_after(timeout_s):
        while True:
            frame = await stream.receive()
            found = updates_of(frame)
            if found:
                return [(_action(u), int(_get(u, "sequence")), update_object(u)) for u in found]


async def next_of(stream: UpdateStream, which: str, timeout_s: float = 2.0) -> ServerFrame:
    with trio.fail_after(timeout_s):
        while True:
            frame = await stream.receive()
            if _which(frame) == which:
                return frame


def _which(frame: ServerFrame) -> str | None:
    return next(iter(frame)) if isinstance(frame, dict) else frame.WhichOneof("message")


def _get(update: Any, name: str) -> Any:
    return update[name] if isinstance(update, dict) else getattr(update, name)


def _action(update: Any) -> str:
    action = _get(update, "action")
    return str(action if isinstance(action, str) else pb.Action.Name(action)).removeprefix("ACTION_")


def addrs(updates: list[tuple[str, int, dict[str, Any]]]) -> list[tuple[str, int]]:
    return [(action, obj["addr"]) for action, _, obj in updates]


# --- the protocol ----------------------------------------------------------------------------------


async def test_welcome_first_then_the_snapshot_then_live_changes_relative_to_the_region() -> None:
    store = MemoryStore()
    await put(store, pilot(1), pilot(2, *FAR), action=Action.ADD)
    async with serving(store) as (url, _), open_updates(url, *HERE, 50) as stream:
        welcome = await stream.receive()
        assert _which(welcome) == "welcome"
        assert isinstance(welcome, pb.ServerMessage) and welcome.welcome.sequence == 2
        assert addrs(await next_updates(stream)) == [("ADD", 1)]
        await put(store, pilot(1, 46.1, 8.0), pilot(2, 46.05, 8.0))
        assert addrs(await next_updates(stream)) == [("UPDATE", 1), ("ADD", 2)]
        await put(store, pilot(1, *FAR))
        [(action, sequence, obj)] = await next_updates(stream)
        assert (action, sequence, obj["position"]["latitude"]) == ("REMOVE", 5, FAR[0])


async def test_a_resubscription_answers_with_its_cells_then_adds_and_removes() -> None:
    store = MemoryStore()
    await put(store, pilot(1), pilot(2, *FAR), action=Action.ADD)
    async with serving(store) as (url, _), open_updates(url, *HERE, 50) as stream:
        await next_updates(stream)
        await stream.subscribe(*FAR, 30)
        response = await next_of(stream, "subscribe_response")
        assert isinstance(response, pb.ServerMessage) and response.subscribe_response.success
        assert len(response.subscribe_response.geohashes) > 0
        assert sorted(addrs(await next_updates(stream))) == [("ADD", 2), ("REMOVE", 1)]
        await stream.subscribe(*HERE, 500)
        error = await next_of(stream, "error")
        assert isinstance(error, pb.ServerMessage) and error.error.code == "invalid_parameter"


async def test_a_resume_inside_the_window_gets_exactly_what_it_missed() -> None:
    store = MemoryStore()
    await put(store, pilot(1), pilot(2), pilot(3), action=Action.ADD)
    async with serving(store) as (url, _):
        async with open_updates(url, *HERE, 50) as stream:
            await next_updates(stream)
            position = stream.position
        await put(store, pilot(2, 46.01, 8.0))
        await put(store, pilot(4), action=Action.ADD)
        await put(store, pilot(9, *FAR), action=Action.ADD)
        async with open_updates(url, *HERE, 50, last_sequence=position) as stream:
            assert sorted(addrs(await next_updates(stream))) == [("ADD", 4), ("UPDATE", 2)]
            await put(store, pilot(3, 46.02, 8.0))
            assert addrs(await next_updates(stream)) == [("UPDATE", 3)]


async def test_a_resume_beyond_the_window_is_told_so_and_gets_a_fresh_snapshot() -> None:
    store = MemoryStore(retained_changes=2)
    await put(store, pilot(1), action=Action.ADD)
    async with serving(store) as (url, _):
        for addr in range(2, 6):
            await put(store, pilot(addr), action=Action.ADD)
        async with open_updates(url, *HERE, 50, last_sequence=1) as stream:
            error = await next_of(stream, "error")
            assert isinstance(error, pb.ServerMessage) and error.error.code == "resume_unavailable"
            assert sorted(addrs(await next_updates(stream))) == [("ADD", a) for a in range(1, 6)]


async def test_updates_within_an_interval_arrive_as_one_batch_holding_the_newest() -> None:
    store = MemoryStore()
    async with serving(store, batch_interval_s=0.5) as (url, _), open_updates(url, *HERE, 50) as stream:
        await next_of(stream, "welcome")
        await trio.sleep(0.1)  # the snapshot (empty) is resolved
        for step in range(5):
            await put(store, pilot(1, 46.0 + step * 0.001, 8.0), pilot(2, 46.0, 8.0 + step * 0.001))
        updates = await next_updates(stream)
        assert [(a, s) for a, s, _ in updates] == [("ADD", 9), ("ADD", 10)]
        assert updates[0][2]["position"]["latitude"] == pytest.approx(46.004)


async def test_pings_keep_their_interval_between_batches_written_straight_to_the_socket() -> None:
    """After every batch the writer re-arms the client's next ping: mostly the time armed already, which it
    skips, and after each ping a new time, which it must set, or the pings would stop."""
    store = MemoryStore()
    options = {"batch_interval_s": 0.1, "ping_interval_s": 0.4, "pong_timeout_s": 5.0}
    async with serving(store, **options) as (url, _), open_updates(url, *HERE, 50) as stream:
        await next_of(stream, "welcome")
        started, pings, batches = trio.current_time(), [], 0

        async def moving() -> None:
            for step in range(1000):
                await put(store, pilot(1, 46.0 + step * 0.0001, 8.0))
                await trio.sleep(0.03)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(moving)
            with trio.move_on_after(2.1):
                while True:
                    which = _which(await stream.receive())
                    if which == "ping":
                        pings.append(trio.current_time() - started)
                    batches += which == "batch"
            nursery.cancel_scope.cancel()
    assert batches >= 10
    assert len(pings) >= 4, pings  # at 0.4, 0.8, 1.2, 1.6 and 2.0 s
    assert all(0.25 < later - earlier < 0.6 for earlier, later in pairwise(pings)), pings


@pytest.mark.parametrize("pending", [1, 3, 4, 5, 63, 64, 65, 200, 10_000])
def test_the_fan_out_takes_small_steps_while_caught_up_and_few_when_behind(pending: int) -> None:
    chunk = follow_chunk(pending)
    steps = -(-pending // chunk)
    if pending <= FOLLOW_CHUNK * FOLLOW_STEPS:
        assert chunk == FOLLOW_CHUNK and steps <= FOLLOW_STEPS
    else:
        assert steps <= BEHIND_STEPS


@pytest.mark.parametrize("burst", [1, 40, FOLLOW_CHUNK * FOLLOW_STEPS + 7, 1000])
async def test_a_burst_of_changes_reaches_the_client_whole_and_in_order(burst: int) -> None:
    """The fan-out task routes and writes a chunk per step, in as many steps as the burst needs."""
    store = MemoryStore()
    async with serving(store) as (url, _), open_updates(url, *HERE, 50) as stream:
        await next_of(stream, "welcome")
        await trio.sleep(0.1)
        await put(
            store, *(pilot(addr, 46.0 + addr * 1e-5) for addr in range(1, burst + 1)), action=Action.ADD
        )
        seen: list[tuple[str, int]] = []
        while len(seen) < burst:
            seen += addrs(await next_updates(stream))
        assert seen == [("ADD", addr) for addr in range(1, burst + 1)]


async def test_a_distress_call_goes_out_at_once_whatever_the_interval() -> None:
    store = MemoryStore()
    async with serving(store, batch_interval_s=30) as (url, _), open_updates(url, *HERE, 50) as stream:
        await next_of(stream, "welcome")
        await trio.sleep(0.1)
        await put(store, pilot(1), action=Action.ADD)
        distress = GroundObject(2, 46.01, 8.0, GroundType.DISTRESS_CALL, True, T0)
        await put(store, distress, action=Action.ADD, urgent=True)
        started = trio.current_time()
        assert addrs(await next_updates(stream, timeout_s=1.0)) == [("ADD", 1), ("ADD", 2)]
        assert trio.current_time() - started < 0.5


async def test_a_compact_client_gets_moves_as_motion_and_sees_what_a_whole_client_sees() -> None:
    store = MemoryStore()
    await put(store, pilot(1, name="Ana"), action=Action.ADD)
    async with (
        serving(store) as (url, _),
        open_updates(url, *HERE, 50) as whole,
        open_updates(url, *HERE, 50, compact=True) as compact,
    ):
        for stream in (whole, compact):
            assert addrs(await next_updates(stream)) == [("ADD", 1)]
        raws: list[bytes] = []
        for step in range(1, 4):
            await put(store, pilot(1, 46.0 + step * 0.01, 8.0, name="Ana"))
            [(_, _, seen)] = await next_updates(whole)
            with trio.fail_after(2):
                while not updates_of(frame := (raw_frame := await compact.receive_raw())[1]):
                    pass
            raws.append(cast(bytes, raw_frame[0]))
            [update] = updates_of(frame)
            assert update_object(update) == seen  # expanded by the client to the whole pilot
        sent = [pb.ServerMessage.FromString(raw).batch.updates[0] for raw in raws]
        # The hub's first change of the pilot goes whole (it cannot tell what changed), the rest compact.
        assert [u.HasField("motion") for u in sent] == [False, True, True]
        assert sent[2].ByteSize() <= sent[0].ByteSize() - 25


async def test_json_mode_speaks_the_json_mirror_both_ways() -> None:
    store = MemoryStore()
    await put(store, pilot(1, name="Ana"), action=Action.ADD)
    async with serving(store) as (url, _), open_updates(url, *HERE, 50, as_json=True) as stream:
        raw, welcome = await stream.receive_raw()
        assert isinstance(raw, str) and isinstance(welcome, dict) and "welcome" in welcome
        [(action, _, obj)] = await next_updates(stream)
        assert (action, obj["name"], obj["type"]) == ("ADD", "Ana", "PILOT_TYPE_PARAGLIDER")
        await stream.ping()
        pong = await next_of(stream, "pong")
        assert isinstance(pong, dict) and int(pong["pong"]["server_time"]) > 0


async def test_bad_messages_get_errors_and_then_a_policy_close() -> None:
    async with (
        serving(MemoryStore(), errors_per_minute=3) as (url, _),
        open_updates(url, *HERE, 50) as stream,
    ):
        await stream.ws.send_message(b"\xff\xff")
        error = await next_of(stream, "error")
        assert isinstance(error, pb.ServerMessage) and error.error.code == "invalid_message"
        await stream.ws.send_message(b"x" * 5000)
        await stream.ws.send_message(b"\xff")
        with pytest.raises(ConnectionClosed) as closed, trio.fail_after(2):
            while True:
                await stream.receive()
        assert closed.value.reason is not None and closed.value.reason.code == 1008


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("/ws/v1/updates?lat=46&lon=8", 400),
        ("/ws/v1/updates?lat=46&lon=8&radius=900", 400),
        ("/ws/v1/updates?lat=46&lon=8&radius=9&compact=maybe", 400),
        ("/ws/v1/updates?lat=46&lon=8&radius=9&compact=true&format=json", 400),
        ("/other", 404),
    ],
)
async def test_a_bad_url_is_rejected_with_a_json_error(query: str, status: int) -> None:
    async with serving(MemoryStore()) as (url, _):
        with pytest.raises(ConnectionRejected) as rejected:
            async with open_websocket_url(url + query):
                pass
        assert rejected.value.status_code == status
        assert rejected.value.body is not None and "code" in json.loads(rejected.value.body)


# --- isolation and lifetime -------------------------------------------------------------------------


async def test_a_client_that_never_reads_neither_delays_the_others_nor_stays() -> None:
    store = MemoryStore()
    big = "x" * 20_000  # ≈ 20 kB an update: a few hundred fill every buffer on the way
    async with serving(store, max_lag_s=1.0, close_grace_s=0.5) as (url, hub), trio.open_nursery() as nursery:
        port = int(url.rsplit(":", 1)[1])
        sock = trio.socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        await sock.connect(("127.0.0.1", port))
        stuck = await wrap_client_stream(
            nursery,
            trio.SocketStream(sock),
            "127.0.0.1",
            "/ws/v1/updates?lat=46&lon=8&radius=50",
            message_queue_size=0,
        )
        async with open_updates(url, *HERE, 50) as healthy:
            await next_of(healthy, "welcome")
            await trio.sleep(0.1)
            worst = 0.0
            for addr in range(1, 400):
                sent = trio.current_time()
                await put(store, pilot(addr, name=big), action=Action.ADD)
                [(_, _, obj)] = await next_updates(healthy)
                assert obj["addr"] == addr
                worst = max(worst, trio.current_time() - sent)
            assert worst < 0.5
            with trio.fail_after(5):
                while len(hub.subscribers) > 1:
                    await trio.sleep(0.05)
        await stuck.aclose()


async def test_a_slow_reader_gets_every_frame_whole_and_in_order() -> None:
    """Frames the socket takes only in part (a small receive buffer, a client reading slowly) go out
    whole and in order: the rest of one before the next."""
    store = MemoryStore()
    big = "y" * 20_000
    async with serving(store) as (url, _), trio.open_nursery() as nursery:
        port = int(url.rsplit(":", 1)[1])
        sock = trio.socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        await sock.connect(("127.0.0.1", port))
        ws = await wrap_client_stream(
            nursery, trio.SocketStream(sock), "127.0.0.1", "/ws/v1/updates?lat=46&lon=8&radius=50"
        )
        stream = UpdateStream(ws, as_json=False)
        await next_of(stream, "welcome")
        for addr in range(1, 41):
            await put(store, pilot(addr, name=big), action=Action.ADD)
        seen: list[int] = []
        while len(seen) < 40:
            await trio.sleep(0.02)
            seen += [obj["addr"] for _, _, obj in await next_updates(stream, timeout_s=5)]
        assert seen == list(range(1, 41))
        await ws.aclose()


class ExplodingOutbox(Outbox):
    """An outbox with a bug: handing over a batch raises."""

    def take(self, now: float, limit: int = 100) -> list[PendingUpdate]:
        raise RuntimeError("a bug in one client's batch")


async def test_a_bug_in_one_clients_batch_closes_that_client_with_1011_and_no_other() -> None:
    store = MemoryStore()
    async with (
        serving(store) as (url, hub),
        open_updates(url, *HERE, 50) as doomed,
        open_updates(url, *HERE, 50) as healthy,
    ):
        await next_of(doomed, "welcome")
        await next_of(healthy, "welcome")
        with trio.fail_after(2):
            while len(hub.subscribers) < 2 or any(s.state != "live" for s in hub.subscribers):
                await trio.sleep(0.01)
        victim = min(hub.subscribers, key=lambda subscriber: subscriber.ident)  # the first to connect
        victim.outbox = ExplodingOutbox(victim.outbox.interval_s, victim.outbox.phase_s)
        await put(store, pilot(1), action=Action.ADD)
        [(_, _, obj)] = await next_updates(healthy)
        assert obj["addr"] == 1
        with pytest.raises(ConnectionClosed) as closed:
            await next_updates(doomed)
        assert closed.value.reason is not None and closed.value.reason.code == 1011
        await put(store, pilot(2), action=Action.ADD)
        [(_, _, obj)] = await next_updates(healthy)  # the writer carries on for everyone else
        assert obj["addr"] == 2


async def test_a_client_that_left_is_freed_without_the_cyclic_collector() -> None:
    """Nothing of a closed connection waits for the collector (at 10,000 clients its passes are what
    costs): the subscriber's wake-up and the connection's subscriber refer to each other only while the
    client is connected."""
    async with serving(MemoryStore()) as (url, hub):
        gc.collect()
        gc.disable()
        try:
            for _ in range(20):
                async with open_updates(url, *HERE, 10) as stream:
                    await next_of(stream, "welcome")
            with trio.fail_after(2):
                while hub.subscribers:
                    await trio.sleep(0.01)
            assert not [obj for obj in gc.get_objects() if isinstance(obj, Subscriber)]
        finally:
            gc.enable()


async def test_shutdown_sends_every_client_a_going_away_close() -> None:
    store = MemoryStore()
    codes: list[int | None] = []

    async def follow(url: str, started: Callable[[], None]) -> None:
        async with open_updates(url, *HERE, 50) as stream:
            await next_of(stream, "welcome")
            started()
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await stream.receive()
            codes.append(closed.value.reason.code if closed.value.reason else None)

    async with trio.open_nursery() as clients:
        async with serving(store) as (url, _):
            for _ in range(3):
                event = trio.Event()
                clients.start_soon(follow, url, event.set)
                await event.wait()
            started = trio.current_time()
        assert trio.current_time() - started < 1.0
    assert codes == [1001, 1001, 1001]


# --- heartbeat on the mock clock --------------------------------------------------------------------


@asynccontextmanager
async def in_memory_connection() -> AsyncIterator[WebSocketConnection]:
    """A client connected to a listener over in-memory streams (no sockets, so the mock clock may run)."""
    settings = LiveSettings(freeze_gc=False)
    hub = Hub(settings)
    hub.start(0)
    listener = UpdatesListener(hub, MemoryStore(), settings)
    server_end, client_end = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:

        async def serve() -> None:
            await listener.handle(await wrap_server_stream(nursery, server_end))

        nursery.start_soon(listener.keep_time)
        nursery.start_soon(serve)
        # trio-websocket's client takes any trio Stream, though its annotation names socket streams.
        client_stream = cast("trio.SocketStream", client_end)
        yield await wrap_client_stream(
            nursery, client_stream, "localhost", "/ws/v1/updates?lat=46&lon=8&radius=50"
        )
        nursery.cancel_scope.cancel()


async def test_a_client_that_answers_no_ping_is_closed_after_60_s(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with in_memory_connection() as ws:
        started = trio.current_time()
        kinds = []
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                frame = await ws.get_message()
                assert isinstance(frame, bytes)
                kinds.append(pb.ServerMessage.FromString(frame).WhichOneof("message"))
        assert closed.value.reason is not None and closed.value.reason.code == 1001
        assert trio.current_time() - started == pytest.approx(60, abs=0.1)
        assert kinds == ["welcome", "ping"]


async def test_a_client_that_answers_pings_stays(autojump_clock: trio.testing.MockClock) -> None:
    async with in_memory_connection() as ws:
        stream = UpdateStream(ws, as_json=False)
        with trio.move_on_after(300):
            while True:
                await stream.receive()  # answers every Ping
        assert not ws.closed
