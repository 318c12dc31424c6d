"""``fanet server`` as a process, exactly as it is deployed: signals, crashes and restarts.

The server runs as ``<venv>/bin/fanet server …`` with JSON logs in a file; its HTTP port (``--listen
127.0.0.1:0``) is read from the "http listening" line. Frames are published with our MQTT client; what
the server stored is read from Redis through the store API. Every frame of these tests is a distinct
(pilot, timestamp), so each leaves exactly one track point and none can go missing unnoticed.
"""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio
from services import MosquittoBroker, RedisServer

from fanet.gateway.mqtt import MqttClient, MqttSettings, open_mqtt_client
from fanet.proto import AircraftType, AirTracking, Frame, encode_frame, wrap
from fanet.server.model import Kind
from fanet.server.store import RedisStore

FANET = str(Path(sys.executable).parent / "fanet")
CAPTURE = Path(__file__).parents[2] / "hardware" / "captures" / "simulated-10min-seed1.jsonl"
LAT, LON = 46.30, 13.70


class Server:
    """One ``fanet server`` process with its log file; ``port`` once it listens."""

    def __init__(self, tmp_path: Path, args: Sequence[str], env: dict[str, str] | None = None) -> None:
        self.log_path = tmp_path / f"server-{uuid.uuid4().hex[:6]}.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [FANET, "server", "--listen", "127.0.0.1:0", "--ws-listen", "127.0.0.1:0", "--log-format", "json", *args],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**os.environ, **(env or {})},
            )  # fmt: skip
        self.port: int | None = None

    def events(self) -> list[dict[str, object]]:
        lines = self.log_path.read_text(errors="replace").splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    async def started(self, timeout_s: float = 30.0) -> int:
        """Wait for the "subscribed" (or "warm start") line; returns the HTTP port."""
        with trio.fail_after(timeout_s):
            while True:
                if self.process.poll() is not None:
                    raise AssertionError(f"server exited with {self.process.returncode}:\n{self.log()}")
                events = self.events()
                ports = [e["port"] for e in events if e.get("event") == "http listening"]
                if ports and any(e.get("event") in ("subscribed", "replaying a capture") for e in events):
                    self.port = int(str(ports[0]))
                    return self.port
                await trio.sleep(0.05)

    async def get(self, path: str) -> tuple[int, str]:
        return await trio.to_thread.run_sync(_get, f"http://127.0.0.1:{self.port}{path}")

    async def stop(self, signum: int = signal.SIGTERM, timeout_s: float = 10.0) -> tuple[int, float]:
        """Send ``signum``; returns the exit code and the seconds until the process was gone."""
        sent = time.monotonic()
        self.process.send_signal(signum)
        code = await trio.to_thread.run_sync(self.process.wait, timeout_s)
        return code, time.monotonic() - sent

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def metric(text: str, name: str) -> float:
    """The value of one sample line (``name`` with its labels as printed), 0 when absent."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@asynccontextmanager
async def publisher(broker: MosquittoBroker) -> AsyncIterator[MqttClient]:
    settings = MqttSettings.from_url(broker.url, f"test-pub-{uuid.uuid4().hex[:8]}", max_in_flight=100)
    async with open_mqtt_client(settings) as client:
        with trio.fail_after(10):
            await client.wait_connected()
        yield client


class Stream:
    """Rounds of frames: in round ``r`` every pilot reports once, stamped ``start + r`` (one point each)."""

    def __init__(self, prefix: str, pilots: int, start: int) -> None:
        self.topic = f"{prefix}/gw-1/f"
        self.pilots = [0x120001 + i for i in range(pilots)]  # id 0000 is reserved
        self.start = start

    def frame(self, addr: int, rnd: int) -> bytes:
        payload = AirTracking(LAT + rnd * 0.0004, LON + (addr & 0xFF) * 0.01, AircraftType.PARAGLIDER,
                              1500, 30.0, 1.0, 0.0)  # fmt: skip
        return wrap(encode_frame(Frame(addr, payload)), self.start + rnd, -90, 5)

    async def publish(self, client: MqttClient, rounds: range, pause_s: float = 0.0) -> None:
        handles = []
        for rnd in rounds:
            handles += [await client.start_publish(self.topic, self.frame(addr, rnd)) for addr in self.pilots]
            if pause_s:
                await trio.sleep(pause_s)
        for handle in handles:
            await handle.wait()

    async def missing(self, store: RedisStore, rounds: range) -> dict[int, list[int]]:
        """Per pilot, the rounds whose point is not in the store."""
        missing = {}
        for addr in self.pilots:
            have = {int(p.timestamp) - self.start for p in await store.track(addr, 0)}
            lost = [r for r in rounds if r not in have]
            if lost:
                missing[addr] = lost
        return missing


async def wait_stored(store: RedisStore, stream: Stream, rounds: range, timeout_s: float) -> None:
    with trio.move_on_after(timeout_s):
        while await stream.missing(store, rounds):
            await trio.sleep(0.2)
    missing = await stream.missing(store, rounds)
    assert not missing, f"{len(missing)} pilots miss points, e.g. {next(iter(missing.items()))}"


def server_args(broker: MosquittoBroker, redis_server: RedisServer, tag: str) -> list[str]:
    return ["--mqtt", broker.url, "--redis", redis_server.url, "--redis-namespace", tag,
            "--topic-prefix", f"{tag}/b", "--client-id", f"server-{tag}"]  # fmt: skip


def test_help_lists_the_options() -> None:
    result = subprocess.run(
        [FANET, "server", "--help"], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0
    for option in ("--mqtt", "--redis", "--listen", "--serial", "--replay", "--config", "--share-group"):
        assert option in result.stdout


@pytest.mark.parametrize(
    ("args", "env", "toml", "named"),
    [
        (["--listen", "nowhere"], {}, None, "invalid setting listen (--listen, FANET_SERVER_LISTEN"),
        ([], {"FANET_SERVER_BATCH_MAX_FRAMES": "0"}, None, "FANET_SERVER_BATCH_MAX_FRAMES"),
        (["--mqtt", "http://broker"], {}, None, "invalid setting mqtt"),
        (["--serial", "/dev/null", "--replay", str(CAPTURE)], {}, None, "invalid setting replay"),
        (["--replay", "no-such-capture.jsonl"], {}, None, "invalid setting replay"),
        ([], {}, "[server.pipeline]\nappear_score = 99\n", "invalid setting pipeline"),
        ([], {}, "[server]\nlisten = 8080\n", "listen in [server] of"),
    ],
)
def test_bad_settings_exit_2_naming_the_setting(
    tmp_path: Path, args: list[str], env: dict[str, str], toml: str | None, named: str
) -> None:
    if toml is not None:
        config = tmp_path / "fanet.toml"
        config.write_text(toml)
        args = [*args, "--config", str(config)]
    result = subprocess.run([FANET, "server", *args], capture_output=True, text=True, timeout=30,
                            env={**os.environ, **env}, check=False)  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert named in result.stderr


async def test_replay_runs_with_the_memory_store_and_no_broker(tmp_path: Path) -> None:
    server = Server(tmp_path, ["--replay", str(CAPTURE), "--replay-speed", "40"])
    try:
        await server.started()
        pilots = 0.0
        with trio.move_on_after(20):
            while pilots < 5:  # the capture's five pilots
                status, text = await server.get("/metrics")
                assert status == 200
                pilots = metric(text, 'fanet_changes_total{action="add",kind="pilot"}')
                await trio.sleep(0.2)
        assert pilots == 5, server.log()
        assert metric(text, 'fanet_frames_received_total{station="local"}') > 0
        assert metric(text, 'fanet_store_up{store="memory"}') == 1
        assert metric(text, 'fanet_ws_update_wait_seconds_bucket{le="+Inf"}') == 0  # no client yet
        assert metric(text, "fanet_ws_fanout_candidates_total") == 0  # routed, to nobody
        assert metric(text, "fanet_ws_fanout_deliveries_total") == 0
        assert "fanet_ws_fanout_changes_total " in text and "fanet_ws_fanout_seconds_total " in text
        assert metric(text, "fanet_event_loop_lag_seconds_count") > 0
        for generation in range(3):  # the process times its collector from the start
            assert f'fanet_gc_seconds_total{{generation="{generation}"}} ' in text
            assert f'fanet_gc_collections_total{{generation="{generation}"}} ' in text
        assert (await server.get("/ready"))[0] == 200
        code, _ = await server.stop()
        assert code == 0, server.log()
    finally:
        server.kill()


async def test_sigkill_mid_stream_then_restart_applies_everything(
    tmp_path: Path, mosquitto_broker: MosquittoBroker, redis_server: RedisServer
) -> None:
    tag = uuid.uuid4().hex[:8]
    args = server_args(mosquitto_broker, redis_server, tag)
    stream = Stream(f"{tag}/b", pilots=20, start=int(time.time()) - 200)
    store = RedisStore(redis_server.url, namespace=tag)
    first = Server(tmp_path, args)
    try:
        await first.started()
        async with publisher(mosquitto_broker) as client:
            # Two rounds first: the pilots prove themselves (held reports are not stored yet).
            await stream.publish(client, range(2))
            await wait_stored(store, stream, range(2), timeout_s=20)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(stream.publish, client, range(2, 60), 0.05)
                await trio.sleep(0.8)
                first.kill()  # SIGKILL: no drain, no acks for what was in flight
            assert first.process.returncode == -signal.SIGKILL
            second = Server(tmp_path, args)
            try:
                await second.started()
                await wait_stored(store, stream, range(60), timeout_s=20)
                code, _ = await second.stop()
                assert code == 0, second.log()
            finally:
                second.kill()
    finally:
        first.kill()
        await store.aclose()


async def test_sigterm_under_load_exits_in_time_and_keeps_what_it_acknowledged(
    tmp_path: Path, mosquitto_broker: MosquittoBroker, redis_server: RedisServer
) -> None:
    tag = uuid.uuid4().hex[:8]
    args = server_args(mosquitto_broker, redis_server, tag)
    stream = Stream(f"{tag}/b", pilots=50, start=int(time.time()) - 200)
    store = RedisStore(redis_server.url, namespace=tag)
    first = Server(tmp_path, args)
    try:
        await first.started()
        async with publisher(mosquitto_broker) as client:
            await stream.publish(client, range(2))
            await wait_stored(store, stream, range(2), timeout_s=20)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(stream.publish, client, range(2, 40))
                await trio.sleep(0.5)
                code, took_s = await first.stop(signal.SIGTERM)
            assert code == 0, first.log()
            assert took_s < 5.0, first.log()
            events = [e.get("event") for e in first.events()]
            assert "flushed" in events and "stopped" in events, first.log()
            # Whatever it acknowledged is stored: the rest is redelivered to the next run, and at the
            # end every frame is there (an acknowledged frame that was not stored never would be).
            second = Server(tmp_path, args)
            try:
                await second.started()
                await wait_stored(store, stream, range(40), timeout_s=20)
                assert (await second.stop())[0] == 0
            finally:
                second.kill()
    finally:
        first.kill()
        await store.aclose()


async def test_a_crashed_task_takes_the_server_down_with_exit_1(tmp_path: Path) -> None:
    # An HTTP port that is taken makes the http task fail at start: the server must not run on without it.
    with trio.socket.socket() as taken:
        await taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = await trio.run_process(
            [FANET, "server", "--listen", f"127.0.0.1:{port}", "--ws-listen", "127.0.0.1:0", "--log-format", "json"],
            capture_stdout=True, capture_stderr=True, check=False,
        )  # fmt: skip
    assert result.returncode == 1
    stderr = result.stderr.decode()
    assert '"task": "http"' in stderr
    assert "task crashed" in stderr
    assert "fanet server: a port is already in use" in stderr  # the crash, explained in one line


async def test_stored_objects_survive_a_restart(
    tmp_path: Path, mosquitto_broker: MosquittoBroker, redis_server: RedisServer
) -> None:
    """Warm start: a restarted server knows the pilots on the map (no second ADD for them)."""
    tag = uuid.uuid4().hex[:8]
    args = server_args(mosquitto_broker, redis_server, tag)
    stream = Stream(f"{tag}/b", pilots=5, start=int(time.time()) - 200)
    store = RedisStore(redis_server.url, namespace=tag)
    try:
        async with publisher(mosquitto_broker) as client:
            for rounds in (range(3), range(3, 5)):
                server = Server(tmp_path, args)
                try:
                    await server.started()
                    await stream.publish(client, rounds)
                    await wait_stored(store, stream, rounds, timeout_s=20)
                    _, text = await server.get("/metrics")
                    assert (await server.stop())[0] == 0
                finally:
                    server.kill()
            assert metric(text, 'fanet_changes_total{action="add",kind="pilot"}') == 0
            assert len(await store.objects(Kind.PILOT)) == 5
    finally:
        await store.aclose()
