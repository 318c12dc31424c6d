"""The server in-process against a real mosquitto (and a real Redis): what is published ends up stored.

Each test runs ``run_server`` in its own nursery with unique topics, client ids and Redis namespaces, so
the session-wide broker and Redis serve them all; a test that stops Redis takes its own.
"""

import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace

import pytest
import trio
from services import MosquittoBroker, MosquittoFactory, RedisFactory, RedisServer

from fanet.gateway.mqtt import MqttClient, MqttSettings, open_mqtt_client
from fanet.proto import AircraftType, AirTracking, Frame, GroundTracking, GroundType, encode_frame, wrap
from fanet.server.app import Shutdown, run_server
from fanet.server.model import Action, GroundObject, Kind, Pilot
from fanet.server.pipeline import Reason
from fanet.server.settings import ServerConfig, Topics
from fanet.server.state import AppState
from fanet.server.store import MemoryStore, RedisStore, Store

LAT, LON = 46.30, 13.70
STEP_DEG = 0.0004
"""≈ 45 m between two reports of a test pilot: plausible at any report rate (200 m of slack)."""


def air(addr: int, step: int, *, lat: float = LAT) -> bytes:
    """Raw air-tracking frame of pilot ``addr`` at its ``step``-th position on a line northwards."""
    payload = AirTracking(lat + step * STEP_DEG, LON, AircraftType.PARAGLIDER, 1500, 30.0, 1.0, 0.0)
    return encode_frame(Frame(addr, payload))


def ground(addr: int, ground_type: GroundType) -> bytes:
    return encode_frame(Frame(addr, GroundTracking(LAT, LON + 0.01, ground_type)))


def config_for(
    broker: MosquittoBroker | None, *, redis_url: str | None = None, **options: object
) -> ServerConfig:
    """A config with unique topics, client id and namespace (the session's services are shared)."""
    tag = uuid.uuid4().hex[:10]
    mqtt = None
    if broker is not None:
        mqtt = MqttSettings.from_url(
            broker.url, f"test-server-{tag}", clean_start=False, session_expiry_s=600,
            receive_maximum=1000, message_buffer=500, manual_ack=True,
        )  # fmt: skip
    config = ServerConfig(
        mqtt=mqtt,
        topics=Topics(f"test/{tag}/b"),
        redis_url=redis_url,
        redis_namespace=f"test-{tag}",
        expire_interval_s=0.5,
    )
    return replace(config, **options)  # type: ignore[arg-type]


@asynccontextmanager
async def running(config: ServerConfig, store: Store | None = None) -> AsyncIterator[AppState]:
    shutdown = Shutdown()
    async with trio.open_nursery() as nursery:
        state: AppState = await nursery.start(lambda task_status: run_server(
            config, store=store, shutdown=shutdown, task_status=task_status))  # fmt: skip
        await eventually(lambda: state.readiness.ready)  # connected and subscribed
        yield state
        shutdown.request()


@asynccontextmanager
async def publisher(broker: MosquittoBroker) -> AsyncIterator[MqttClient]:
    async with open_mqtt_client(
        MqttSettings.from_url(broker.url, f"test-pub-{uuid.uuid4().hex[:8]}")
    ) as client:
        with trio.fail_after(10):
            await client.wait_connected()
        yield client


async def publish(client: MqttClient, topics: Topics, station: str, raw: Sequence[bytes], *,
                  timestamp: float | None = None, rssi: int | None = -90) -> None:  # fmt: skip
    stamp = int(time.time() if timestamp is None else timestamp)
    for frame in raw:
        await client.publish(f"{topics.prefix}/{station}/f", wrap(frame, stamp, rssi, 5))


async def eventually(check: Callable[[], object], timeout_s: float = 10.0) -> None:
    with trio.fail_after(timeout_s):
        while not await _result(check):
            await trio.sleep(0.05)


async def _result(check: Callable[[], object]) -> object:
    result = check()
    if isinstance(result, Awaitable):
        return await result
    return result


async def http_get(state: AppState, path: str) -> tuple[int, bytes]:
    """GET from the server under test (in a thread: the server runs in this thread's event loop)."""
    return await trio.to_thread.run_sync(_get, state.http_port, path)


def _get(port: int | None, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture(params=["memory", "redis"])
def store_url(request: pytest.FixtureRequest) -> str | None:
    if request.param == "memory":
        return None
    server: RedisServer = request.getfixturevalue("redis_server")
    return server.url


async def test_published_frames_end_up_as_objects_in_the_store(
    mosquitto_broker: MosquittoBroker, store_url: str | None
) -> None:
    config = config_for(mosquitto_broker, redis_url=store_url)
    pilots = [0x110100 + i for i in range(20)]
    async with running(config) as state, publisher(mosquitto_broker) as client:
        stamp = int(time.time())  # one receive second for all three rounds: one track point
        for step in range(3):
            await publish(
                client, config.topics, "gw-1", [air(addr, step) for addr in pilots], timestamp=stamp
            )

        async def all_there() -> bool:
            return len(await state.store.objects(Kind.PILOT)) == len(pilots)

        await eventually(all_there)
        await eventually(lambda: state.writer.stats.frames == 60)
        pilot = await state.store.get(Kind.PILOT, str(pilots[3]))
        assert isinstance(pilot, Pilot)
        assert pilot.lat == pytest.approx(LAT + 2 * STEP_DEG, abs=1e-4)
        assert pilot.aircraft_type is AircraftType.PARAGLIDER
        track = await state.store.track(pilots[3], 0)
        assert len(track) == 1  # three reports within one second: one point per timestamp
        await eventually(lambda: state.writer.stats.frames == 60)
        assert state.mqtt is not None
        await eventually(lambda: state.mqtt is not None and state.mqtt.stats.acked == 60)
        status, body = await http_get(state, "/metrics")
        assert status == 200
        text = body.decode()
        assert 'fanet_frames_received_total{station="gw-1"} 60.0' in text
        assert 'fanet_changes_total{action="add",kind="pilot"} 20.0' in text
        assert "fanet_mqtt_connected 1.0" in text
        stations = await state.store.base_stations()
        assert [s.station_id for s in stations] == ["gw-1"]


async def test_duplicates_from_two_stations_are_applied_once(mosquitto_broker: MosquittoBroker) -> None:
    config = config_for(mosquitto_broker)
    async with running(config) as state, publisher(mosquitto_broker) as client:
        addr = 0x110200
        for step in range(3):
            frame = [air(addr, step)]
            await publish(client, config.topics, "gw-a", frame)
            await publish(client, config.topics, "gw-b", frame, rssi=-100)
        await eventually(lambda: state.writer.stats.frames == 6)
        stats = state.pipeline.stats
        assert stats.duplicates == 3
        assert stats.changes[Kind.PILOT, Action.ADD] == 1
        assert stats.received_by_station == {"gw-a": 3, "gw-b": 3}
        assert await state.store.get(Kind.PILOT, str(addr)) is not None


async def test_a_phantom_jump_is_rejected(mosquitto_broker: MosquittoBroker) -> None:
    config = config_for(mosquitto_broker)
    async with running(config) as state, publisher(mosquitto_broker) as client:
        addr = 0x110300
        await publish(client, config.topics, "gw-1", [air(addr, 0), air(addr, 1), air(addr, 2)])
        # A flipped bit in the latitude: 2° further north within the same second.
        await publish(client, config.topics, "gw-1", [air(addr, 3, lat=LAT + 2.0)])
        await eventually(lambda: state.writer.stats.frames == 4)
        assert state.pipeline.stats.rejected[Reason.TOO_FAST] == 1
        pilot = await state.store.get(Kind.PILOT, str(addr))
        assert isinstance(pilot, Pilot)
        assert pilot.lat < LAT + 1


async def test_a_distress_call_is_shown_at_once(mosquitto_broker: MosquittoBroker) -> None:
    config = config_for(mosquitto_broker)
    async with running(config) as state, publisher(mosquitto_broker) as client:
        addr = 0x110400
        before = await state.store.current_sequence()
        await publish(client, config.topics, "gw-1", [ground(addr, GroundType.DISTRESS_CALL)])
        # One report, no proving period: it is stored, marked urgent.
        await eventually(lambda: state.writer.stats.frames == 1)
        obj = await state.store.get(Kind.GROUND, str(addr))
        assert isinstance(obj, GroundObject)
        assert obj.distress
        changes = await state.store.changes_since(before)
        assert changes is not None
        assert [(c.key, c.urgent) for c in changes] == [(str(addr), True)]


async def test_station_health_updates_the_base_station_record(mosquitto_broker: MosquittoBroker) -> None:
    config = config_for(mosquitto_broker)
    async with running(config) as state, publisher(mosquitto_broker) as client:
        report = {"state": "online", "version": "1.2.3", "uptime_s": 42, "lat": 46.1, "lon": 13.9}
        await client.publish(f"{config.topics.prefix}/gw-9/hw", json.dumps(report).encode(), retain=True)

        async def recorded() -> bool:
            return any(s.station_id == "gw-9" and s.health.get("version") == "1.2.3"
                       for s in await state.store.base_stations())  # fmt: skip

        await eventually(recorded)
        (station,) = await state.store.base_stations()
        assert (station.lat, station.lon) == (46.1, 13.9)
        await client.publish(f"{config.topics.prefix}/gw-9/hw", b"offline", retain=True)

        async def offline() -> bool:
            return [s.health.get("state") for s in await state.store.base_stations()] == ["offline"]

        await eventually(offline)


async def test_redis_stopped_for_five_seconds_loses_nothing(
    mosquitto_broker: MosquittoBroker, redis_factory: RedisFactory
) -> None:
    redis_server = redis_factory(extra_args=["--appendonly", "yes"])
    config = config_for(mosquitto_broker, redis_url=redis_server.url)
    pilots = [0x110500 + i for i in range(10)]
    start = int(time.time()) - 120
    async with running(config) as state, publisher(mosquitto_broker) as client:
        # Every frame a distinct (pilot, timestamp): one track point each, so each can be found.
        for second in range(2):
            await publish(
                client, config.topics, "gw-1", [air(a, second) for a in pilots], timestamp=start + second
            )
        await eventually(lambda: state.writer.stats.frames == 20)
        ready_during_outage: list[tuple[int, bytes]] = []
        async with trio.open_nursery() as nursery:

            async def outage() -> None:
                await trio.to_thread.run_sync(redis_server.stop)
                await eventually(lambda: state.readiness.is_down("store"), timeout_s=5)
                ready_during_outage.append(await http_get(state, "/ready"))
                await trio.sleep(5)
                await trio.to_thread.run_sync(redis_server.start)

            nursery.start_soon(outage)
            for second in range(2, 40):
                await publish(client, config.topics, "gw-1", [air(a, second) for a in pilots],
                              timestamp=start + second)  # fmt: skip
                await trio.sleep(0.2)
        await eventually(lambda: state.writer.stats.frames == 400, timeout_s=15)
        status, body = ready_during_outage[0]
        assert status == 503
        assert "store" in json.loads(body)["down"]
        assert (await http_get(state, "/ready"))[0] == 200
        assert state.writer.stats.failures > 0
        check = RedisStore(redis_server.url, namespace=config.redis_namespace)
        for addr in pilots:
            track = await check.track(addr, 0)
            assert [p.timestamp for p in track] == [start + s for s in range(40)], hex(addr)
        await check.aclose()


async def test_ready_names_the_broker_while_it_is_down(mosquitto_factory: MosquittoFactory) -> None:
    broker = mosquitto_factory()
    config = config_for(broker)
    async with running(config, store=MemoryStore()) as state:
        assert (await http_get(state, "/ready"))[0] == 200
        await trio.to_thread.run_sync(broker.stop)
        await eventually(lambda: state.readiness.is_down("mqtt"))
        status, body = await http_get(state, "/ready")
        assert status == 503
        assert "mqtt" in json.loads(body)["down"]
        await trio.to_thread.run_sync(broker.start)
        await eventually(lambda: state.readiness.ready, timeout_s=40)
