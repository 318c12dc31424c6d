"""The server's parts without a broker: settings, topics, batching, the writer's retries, the replay source
and the whole flow on Trio's mock clock, and the nursery's crash and shutdown behaviour."""

from functools import partial
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing
from structlog.testing import capture_logs

from fanet.gateway.mqtt import MqttSettings
from fanet.hardware import read_capture
from fanet.proto import AircraftType, AirTracking, Frame, ReceivedFrame, encode_frame
from fanet.server.app import Shutdown, run_server
from fanet.server.clock import UnixClock
from fanet.server.health import STORE, Readiness
from fanet.server.ingest import Arrivals, SourceStats, parse_health
from fanet.server.local import replay_capture
from fanet.server.model import (
    Action,
    ApplyBatch,
    Change,
    GroundObject,
    Kind,
    LiveObject,
    Pilot,
    WeatherStation,
)
from fanet.server.pipeline import Pipeline
from fanet.server.processing import WriteBatch, run_pipeline
from fanet.server.settings import Replay, ServerConfig, ServerSettings, Topics, pipeline_settings
from fanet.server.store import MemoryStore, StoreUnavailable
from fanet.server.writer import StoreWriter
from fanet.settings import SettingsError, load_settings

CAPTURE = Path(__file__).parents[2] / "hardware" / "captures" / "simulated-10min-seed1.jsonl"


def air_frame(addr: int, step: int, timestamp: float) -> ReceivedFrame:
    payload = AirTracking(46.3 + step * 0.0004, 13.7, AircraftType.PARAGLIDER, 1500, 30.0, 1.0, 0.0)
    return ReceivedFrame("gw", timestamp, -90, 5, encode_frame(Frame(addr, payload)))


# --- settings and topics -------------------------------------------------------------------------


def test_topics_subscribe_once_to_frames_and_parse_station_ids() -> None:
    topics = Topics("fb/b")
    assert topics.subscriptions() == [("fb/b/+/f/#", 1), ("fb/b/+/hw", 1)]
    assert Topics("fb/b", "servers").subscriptions()[0] == ("$share/servers/fb/b/+/f/#", 1)
    assert topics.parse("fb/b/0A0493/f") == ("0A0493", False)
    assert topics.parse("fb/b/0A0493/f/spool") == ("0A0493", False)
    assert topics.parse("fb/b/0A0493/hw") == ("0A0493", True)
    for other in ("fb/b/0A0493", "fb/b//f", "fb/bx/1/f", "other/1/f", "fb/b/1/hw/x"):
        assert topics.parse(other) is None
    # "@api" is the server's own source of posted positions (user addresses): never a station's topic.
    assert topics.parse("fb/b/@api/f") is None and topics.parse("fb/b/@api/hw") is None


def test_settings_resolve_into_the_running_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FANET_SERVER_PIPELINE", '{"appear_score": 3, "max_speed_kmh": {"paraglider": 90}}')
    settings = load_settings(ServerSettings, mqtt="mqtt://u:secret@broker:1884", share_group="g",
                             listen="[::1]:0", replay=CAPTURE.name)  # fmt: skip
    config = settings.resolve()
    assert config.listen == ("::1", 0)
    assert config.mqtt is not None
    assert (config.mqtt.broker.host, config.mqtt.broker.port, config.mqtt.client_id) == (
        "broker",
        1884,
        "fanet-server",
    )
    assert (config.mqtt.clean_start, config.mqtt.manual_ack, config.mqtt.receive_maximum) == (
        False,
        True,
        1000,
    )
    assert config.topics == Topics("fb/b", "g")
    assert config.pipeline.appear_score == 3
    assert config.pipeline.max_speed_kmh[AircraftType.PARAGLIDER] == 90
    assert config.pipeline.max_speed_kmh[AircraftType.GLIDER] == 300
    assert config.replay is not None and config.replay.station_id == "local"  # a bundled capture, by name
    assert config.redis_url is None
    assert config.live is not None and (config.live.host, config.live.port) == ("127.0.0.1", 8081)
    assert (config.live.batch_interval_s, config.live.pong_timeout_s) == (1.0, 60.0)


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"batch_max_frames": 2000}, "invalid setting batch_max_frames"),
        ({"share_group": "g", "mqtt": None}, "invalid setting share_group"),
        ({"mqtt": "mqtt://u:secret@broker:0"}, "invalid setting mqtt"),
        ({"redis": "http://localhost"}, "invalid setting redis"),
        ({"ca_file": "/etc/ssl/ca.pem"}, "invalid setting ca_file"),
        ({"listen": "127.0.0.1:9000", "ws_listen": "127.0.0.1:9000"}, "invalid setting ws_listen"),
        ({"station_id": "@api", "replay": CAPTURE.name}, "invalid setting station_id"),
    ],
)
def test_combined_settings_are_checked_at_start(options: dict[str, Any], named: str) -> None:
    with pytest.raises(SettingsError, match=named) as info:
        load_settings(ServerSettings, **{"mqtt": "mqtt://broker", **options}).resolve()
    assert "secret" not in str(info.value)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"no_such": 1}, "unknown pipeline threshold"),
        ({"appear_score": 1.5}, "whole number"),
        ({"dedupe_window_s": "soon"}, "must be a number"),
        ({"max_speed_kmh": {"zeppelin": 50}}, "not an aircraft type"),
        ({"appear_score": 9}, "score_min"),
    ],
)
def test_pipeline_overrides_are_validated_by_name(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        pipeline_settings(overrides)


def test_health_payloads() -> None:
    assert parse_health("gw", b"offline").report == {"state": "offline"}
    report = parse_health("gw", b'{"state": "online", "lat": 46.5, "lon": 13.1}')
    assert (report.lat, report.lon, report.report["state"]) == (46.5, 13.1, "online")
    assert parse_health("gw", b'{"lat": 91, "lon": 0}').lat is None
    assert parse_health("gw", b"\xff\xfe").report["state"] == "\ufffd\ufffd"


# --- batching and writing ------------------------------------------------------------------------


async def test_the_pipeline_task_batches_what_arrived_and_drains_at_the_end() -> None:
    clock = UnixClock()
    pipeline = Pipeline()
    arrivals_send, arrivals = trio.open_memory_channel[Arrivals](10)
    writes_send, writes = trio.open_memory_channel[WriteBatch](10)
    acked: list[int] = []
    now = clock.now()
    for i in range(5):
        frames = [air_frame(0x110001 + i, step, now) for step in range(2)]
        await arrivals_send.send(Arrivals(frames, on_stored=partial(acked.append, i), received_at=0.0))
    await arrivals_send.aclose()
    await run_pipeline(pipeline, clock, arrivals, writes_send, max_frames=4)
    batches = [write async for write in writes]
    # Two arrivals (4 frames) per batch, the last one alone; all frames, all callbacks, in order.
    assert [write.frames for write in batches] == [4, 4, 2]
    for write in batches:
        for callback in write.on_stored:
            callback()
    assert acked == [0, 1, 2, 3, 4]
    assert sum(len(write.batch.changes) for write in batches) == 5


async def test_the_pipeline_task_waits_up_to_max_wait_for_more(
    autojump_clock: trio.testing.MockClock,
) -> None:
    clock = UnixClock()
    arrivals_send, arrivals = trio.open_memory_channel[Arrivals](10)
    writes_send, writes = trio.open_memory_channel[WriteBatch](10)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(lambda: run_pipeline(Pipeline(), clock, arrivals, writes_send, max_wait_s=0.05))
        for delay in (0.0, 0.02, 0.02, 0.2):
            await trio.sleep(delay)
            await arrivals_send.send(
                Arrivals([air_frame(0x110001, 0, clock.now())], received_at=trio.current_time())
            )
        await arrivals_send.aclose()
    assert [write.frames async for write in writes] == [3, 1]


class FlakyStore(MemoryStore):
    """A memory store that is unavailable for its first ``failures`` writes."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def apply(self, batch: ApplyBatch) -> list[Change]:
        if self.failures:
            self.failures -= 1
            await trio.lowlevel.checkpoint()
            raise StoreUnavailable("Redis at redis://test failed during apply (ConnectionError: refused)")
        return await super().apply(batch)


async def test_the_writer_retries_the_same_batch_and_acks_only_after_it_is_stored(
    autojump_clock: trio.testing.MockClock,
) -> None:
    store = FlakyStore(failures=5)
    readiness = Readiness()
    writer = StoreWriter(store, readiness)
    pipeline = Pipeline(pipeline_settings({"appear_score": 1}))
    batch = pipeline.process_many([air_frame(0x110001, 0, UnixClock().now())], UnixClock().now())
    acked: list[str] = []
    down_while_failing: list[bool] = []

    async def watch() -> None:
        await trio.sleep(0.1)
        down_while_failing.append(readiness.is_down(STORE))
        assert not acked

    async with trio.open_nursery() as nursery:
        nursery.start_soon(watch)
        await writer.write(WriteBatch(batch, 1, [lambda: acked.append("ack")]))
    assert down_while_failing == [True]
    assert acked == ["ack"]
    assert not readiness.is_down(STORE)
    assert (writer.stats.failures, writer.stats.frames, writer.stats.changes) == (5, 1, 1)
    assert await store.get(Kind.PILOT, str(0x110001)) is not None


# --- the replay source and the whole flow ----------------------------------------------------------


async def test_replayed_capture_puts_its_pilots_station_and_distress_call_in_the_store(
    autojump_clock: trio.testing.MockClock,
) -> None:
    capture = read_capture(CAPTURE)
    clock = UnixClock()
    store = MemoryStore(clock=clock.now)
    pipeline = Pipeline()
    writer = StoreWriter(store, Readiness())
    stats = SourceStats()
    arrivals_send, arrivals = trio.open_memory_channel[Arrivals](8)
    writes_send, writes = trio.open_memory_channel[WriteBatch](2)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_pipeline, pipeline, clock, arrivals, writes_send)
        nursery.start_soon(writer.run, writes)
        await replay_capture(Replay(capture, "local", speed=5.0), arrivals_send, stats, clock)
    expected = capture.header.extra["expected"]
    assert stats.frames == expected["frames"]
    assert writer.stats.frames == expected["frames"]
    devices = {d["address"]: d for d in capture.header.extra["simulation"]["devices"]}
    pilots = [int(a, 16) for a, d in devices.items() if d["kind"] == "paraglider"]
    changes = await store.changes_since(0, 10_000) or []
    assert {c.obj.addr for c in changes if c.kind is Kind.PILOT and c.action is Action.ADD} == set(pilots)
    on_map = {obj.addr: obj for obj in await store.objects(Kind.PILOT)}
    ground = {obj.addr: obj for obj in await store.objects(Kind.GROUND)}
    for addr in pilots:  # in the air, or landed (a ground object now)
        obj = on_map.get(addr) or ground.get(addr)
        assert isinstance(obj, Pilot | GroundObject), f"{addr:06X}"
        assert obj.name == devices[f"{addr:06X}"]["name"]
        if isinstance(obj, Pilot):
            assert len(await store.track(addr, 0)) > 10
    (station,) = await store.objects(Kind.STATION)
    assert isinstance(station, WeatherStation) and station.name == "Startplatz Wind"
    distress = [
        c for c in changes if isinstance(c.obj, GroundObject) and c.obj.distress and c.action is Action.ADD
    ]
    assert len(distress) == expected["distress_calls"]
    assert all(c.urgent for c in distress)


# --- the nursery -------------------------------------------------------------------------------------


class BrokenStore(MemoryStore):
    async def apply(self, batch: ApplyBatch) -> list[Change]:
        await trio.lowlevel.checkpoint()
        raise RuntimeError("a bug in the store")


class DownStore(MemoryStore):
    async def objects(self, *args: Any, **kwargs: Any) -> list[LiveObject]:
        await trio.lowlevel.checkpoint()
        raise StoreUnavailable("Redis at redis://test failed during objects (refused)")

    async def ping(self) -> None:
        await trio.lowlevel.checkpoint()
        raise StoreUnavailable("Redis at redis://test failed during ping (refused)")


async def test_a_crashing_task_takes_the_server_down() -> None:
    replay = Replay(read_capture(CAPTURE), "local", speed=50.0)
    config = ServerConfig(replay=replay)
    with capture_logs() as logs, trio.fail_after(10), pytest.raises(BaseExceptionGroup) as info:
        await run_server(config, store=BrokenStore())
    assert info.group_contains(RuntimeError, match="a bug in the store")
    crashed = [entry for entry in logs if "task crashed" in entry["event"]]
    assert [entry["task"] for entry in crashed] == ["store-writer"]


async def test_shutdown_while_the_warm_start_waits_for_the_store_returns_at_once() -> None:
    shutdown = Shutdown()
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(partial(run_server, ServerConfig(), store=DownStore(), shutdown=shutdown))
            await trio.sleep(0.5)
            shutdown.request()


def test_mqtt_settings_of_the_server_hold_acks_until_stored() -> None:
    config = load_settings(ServerSettings, mqtt="mqtt://broker").resolve()
    assert isinstance(config.mqtt, MqttSettings)
    assert config.mqtt.manual_ack and not config.mqtt.clean_start and config.mqtt.session_expiry_s > 0
    assert config.mqtt.message_buffer <= config.mqtt.receive_maximum  # type: ignore[operator]
