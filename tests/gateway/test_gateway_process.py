"""``fanet gateway`` as a Pi runs it, in the loop: a subprocess on a replayed module and a real broker.

Every test starts ``<venv>/bin/fanet replay`` of the bundled capture (a pty answering like a module)
and ``<venv>/bin/fanet gateway`` with JSON logs, and watches the broker with an independent paho
subscriber on its own thread. The expected frames are rebuilt from the capture itself with
``fanet.firmware_bridge.parse_line``; what the broker delivers is compared byte for byte.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho_mqtt
import pytest
import trio
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from services import MosquittoBroker, MosquittoFactory, free_port

from fanet.firmware_bridge import FrameReceived, MalformedLine, parse_line
from fanet.gateway.beacon import BeaconSettings
from fanet.gateway.spool import Spool
from fanet.hardware import Direction, bundled_captures, read_capture
from fanet.proto import ReceivedFrame, parse_address

pytestmark = pytest.mark.integration

FANET = Path(sys.executable).parent / "fanet"
CAPTURE = next(path for path in bundled_captures() if path.name == "simulated-10min-seed1.jsonl")
WINDOW = 20  # the gateway's default max_in_flight: the most a reconnect can publish twice
STOP_LIMIT_S = 3.0


@dataclass(frozen=True)
class Expected:
    frames: list[bytes]
    corrupt_lines: int


def expected_from_capture(path: Path) -> Expected:
    """The raw frames the capture's module printed, in order, rebuilt from its ``#FNF`` lines."""
    capture = read_capture(path)
    own = parse_address(capture.header.extra["simulation"]["module_address"])
    frames: list[bytes] = []
    corrupt = 0
    for line in capture.data(Direction.RX).split(b"\n"):
        start = line.find(b"#FNF")
        if start < 0:
            continue
        event = parse_line(line[start:].decode("ascii", "replace").rstrip(), own)
        if isinstance(event, FrameReceived):
            frames.append(event.raw)
        elif isinstance(event, MalformedLine):
            corrupt += 1
    expected = capture.header.extra["expected"]
    assert (len(frames), corrupt) == (expected["frames"], expected["corrupt_lines"])
    return Expected(frames, corrupt)


EXPECTED = expected_from_capture(CAPTURE)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class FanetProcess:
    """``fanet <args>`` as users start it; stderr (JSON log lines) goes to a file."""

    def __init__(self, log_path: Path, *args: str | Path, env: Mapping[str, str] | None = None) -> None:
        self.log_path = log_path
        with log_path.open("wb") as stderr:
            self.process = subprocess.Popen(
                [str(FANET), *(str(arg) for arg in args)],
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                env=None if env is None else {**os.environ, **env},
            )

    def lines(self) -> list[dict[str, Any]]:
        text = self.log_path.read_text(errors="replace")
        return [json.loads(line) for line in text.splitlines() if line.startswith("{")]

    def events(self, event: str) -> list[dict[str, Any]]:
        return [line for line in self.lines() if line.get("event") == event]

    async def wait_for_log(
        self, event: str, where: Callable[[dict[str, Any]], bool] = lambda _: True, timeout_s: float = 20.0
    ) -> dict[str, Any]:
        with trio.fail_after(timeout_s):
            while True:
                for line in self.events(event):
                    if where(line):
                        return line
                if self.process.poll() is not None:
                    pytest.fail(f"{self.log_path.name} exited ({self.process.returncode}):\n{self.tail()}")
                await trio.sleep(0.05)

    def stop(self, signum: int = signal.SIGTERM) -> tuple[int, float]:
        """Send ``signum``; returns the exit status and how long the process took to exit."""
        started = time.monotonic()
        self.process.send_signal(signum)
        status = self.process.wait(timeout=15)
        return status, time.monotonic() - started

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture
def fanet(tmp_path: Path) -> Iterator[Callable[..., FanetProcess]]:
    """Start ``fanet …`` subprocesses; whatever still runs when the test ends is killed."""
    started: list[FanetProcess] = []

    def start(*args: str | Path, env: Mapping[str, str] | None = None) -> FanetProcess:
        name = f"{args[0]}-{len(started)}.log"
        started.append(FanetProcess(tmp_path / name, *args, env=env))
        return started[-1]

    yield start
    for proc in started:
        if proc.process.poll() is None:
            proc.process.kill()
            proc.process.wait()


class Witness:
    """A plain paho subscriber on its own thread: what the broker delivers, in delivery order.

    ``persistent``: an MQTT v5 session the broker keeps while the witness is away (a broker
    restart), so nothing published meanwhile escapes it. A restarted broker resends, flagged DUP,
    what it had sent the witness before without its PUBACK (as of its last save): such a message,
    already received, is the broker's repetition, not the gateway's, and is left out.
    """

    def __init__(self, broker: MosquittoBroker, topics: list[str], *, persistent: bool = False) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.redelivered = 0
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self._topics = topics
        self._client = paho_mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=unique("witness"), protocol=paho_mqtt.MQTTv5
        )
        self._client.reconnect_delay_set(1, 1)
        self._client.on_message = self._on_message
        self._client.on_subscribe = lambda *_: self._subscribed.set()
        self._client.on_connect = lambda client, *_: client.subscribe([(t, 1) for t in self._topics])
        properties = None
        if persistent:
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = 3600
        self._client.connect(broker.host, broker.port, clean_start=not persistent, properties=properties)

    def _on_message(self, client: paho_mqtt.Client, userdata: object, message: paho_mqtt.MQTTMessage) -> None:
        item = (message.topic, bytes(message.payload))
        with self._lock:
            if message.dup and item in self.messages:
                self.redelivered += 1
            else:
                self.messages.append(item)

    def __enter__(self) -> Witness:
        self._client.loop_start()
        if not self._subscribed.wait(5):
            self.__exit__()
            raise TimeoutError("the witness got no SUBACK")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def on(self, topic: str) -> list[bytes]:
        with self._lock:
            return [payload for t, payload in self.messages if t == topic]

    def raws(self, topic: str) -> list[bytes]:
        """The raw frames published on ``topic``, unwrapped."""
        return [ReceivedFrame.from_wrapped("", payload).raw for payload in self.on(topic)]

    async def wait(self, done: Callable[[Witness], bool], timeout_s: float = 30.0) -> None:
        with trio.fail_after(timeout_s):
            while not done(self):
                await trio.sleep(0.02)


def delivered(payloads: list[bytes], station: str) -> list[ReceivedFrame]:
    return [ReceivedFrame.from_wrapped(station, payload) for payload in payloads]


def first_arrivals(raws: list[bytes], expected: list[bytes], window: int) -> tuple[int, int]:
    """Check ``raws`` is ``expected`` in order with duplicates of recent frames mixed in.

    Returns (frames matched, duplicates). A duplicate must repeat one of the last ``window`` frames
    already delivered (what a reconnect publishes again); anything else fails the test.
    """
    matched = duplicates = 0
    for raw in raws:
        if matched < len(expected) and raw == expected[matched]:
            matched += 1
            continue
        recent = expected[max(0, matched - window) : matched]
        assert raw in recent, f"frame {raw.hex()} out of order after {matched} frames in order"
        duplicates += 1
    return matched, duplicates


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.status == 200
        return str(response.read().decode())


def gateway_args(
    link: Path, broker_url: str, station: str, spool: Path, *extra: str | Path
) -> list[str | Path]:
    return [
        "gateway",
        "--serial",
        link,
        "--mqtt",
        broker_url,
        "--station-id",
        station,
        "--spool-dir",
        spool,
        "--log-format",
        "json",
        "--health-interval-s",
        "0.5",
        *extra,
    ]


def replay_args(link: Path, speed: float, *extra: str) -> list[str | Path]:
    return ["replay", CAPTURE, "--link", link, "--speed", str(speed), "--log-format", "json", *extra]


async def test_every_frame_of_the_capture_arrives_once_with_the_right_bytes(
    tmp_path: Path, mosquitto_broker: MosquittoBroker, fanet: Callable[..., FanetProcess]
) -> None:
    station = unique("hil")
    frames_topic, health_topic = f"fb/b/{station}/f", f"fb/b/{station}/hw"
    beacon = BeaconSettings(interval_s=1.0, lat=46.2, lon=13.7)
    link = tmp_path / "module"
    started = time.time()
    with Witness(mosquitto_broker, [frames_topic, health_topic]) as witness:
        replay = fanet(*replay_args(link, 200))
        metrics_port = free_port()
        gateway = fanet(
            *gateway_args(link, mosquitto_broker.url, station, tmp_path / "spool"),
            "--metrics-listen",
            f"127.0.0.1:{metrics_port}",
            "--beacon-interval-s",
            beacon.interval_s,
            "--beacon-lat",
            beacon.lat,
            "--beacon-lon",
            beacon.lon,
        )
        await witness.wait(lambda w: len(w.on(frames_topic)) >= len(EXPECTED.frames))

        def healthy(w: Witness) -> bool:
            reports = [json.loads(p) for p in w.on(health_topic) if p.startswith(b"{")]
            return bool(reports) and reports[-1]["frames"]["published"] == len(EXPECTED.frames)

        await witness.wait(healthy, timeout_s=5)
        metrics = await trio.to_thread.run_sync(scrape, f"http://127.0.0.1:{metrics_port}/metrics")
        assert "fanet_gateway_frames_published_total 620.0" in metrics
        assert "fanet_gateway_corrupt_lines_total 1.0" in metrics
        assert "fanet_gateway_mqtt_connected 1.0" in metrics
        status, seconds = gateway.stop(signal.SIGTERM)
        assert status == 0
        assert seconds < STOP_LIMIT_S
        await witness.wait(lambda w: w.on(health_topic)[-1] == b"offline", timeout_s=5)

    frames = delivered(witness.on(frames_topic), station)
    assert [frame.raw for frame in frames] == EXPECTED.frames  # all, once, in order, the right bytes
    assert all(frame.rssi is None and frame.snr is None for frame in frames)  # −32768: not reported
    assert all(started - 1 <= frame.timestamp <= time.time() for frame in frames)

    report = next(json.loads(p) for p in reversed(witness.on(health_topic)) if p.startswith(b"{"))
    assert report["frames"]["types"] == read_capture(CAPTURE).header.extra["expected"]["frame_types"]
    assert report["station"] == station
    module = {"state": "ready", "address": "11003F", "version": "build-202201131742"}
    assert report["module"] == report["module"] | module
    counts = {"received": 620, "published": 620, "corrupt_lines": 1, "dropped": 0}
    assert report["frames"] == report["frames"] | counts
    assert report["serial"]["state"] == "open" and report["mqtt"]["state"] == "connected"
    summary = gateway.events("gateway stopped")[-1]
    assert (summary["received"], summary["published"], summary["corrupt_lines"]) == (620, 620, 1)

    assert replay.stop(signal.SIGTERM)[0] == 0
    transmitted = replay.events("host transmitted a frame")
    assert transmitted, "no beacon transmitted"
    assert {(line["type"], line["payload"]) for line in transmitted} == {(4, beacon.payload.hex().upper())}
    assert replay.events("replay finished")[-1]["frames_sent"] == 620


async def test_broker_killed_and_back_5_s_later_every_frame_arrives_in_order(
    tmp_path: Path, mosquitto_factory: MosquittoFactory, fanet: Callable[..., FanetProcess]
) -> None:
    # The broker saves its sessions every second, so the witness's survives the SIGKILL.
    broker = mosquitto_factory(extra_config=["autosave_interval 1"])
    station = unique("outage")
    topic = f"fb/b/{station}/f"
    link = tmp_path / "module"
    with Witness(broker, [topic], persistent=True) as witness:
        fanet(*replay_args(link, 100))
        gateway = fanet(
            *gateway_args(link, broker.url, station, tmp_path / "spool"), "--reconnect-max-s", "1"
        )
        await witness.wait(lambda w: len(w.on(topic)) >= 100)
        # Freeze the broker first: the gateway goes on publishing and its window fills with frames the
        # broker will never acknowledge (they die in its socket buffer with it). Those are published
        # again after the reconnect.
        assert broker.process is not None
        os.kill(broker.process.pid, signal.SIGSTOP)
        await trio.sleep(0.5)
        # Then stop it with SIGTERM (queued while frozen) rather than SIGKILL: mosquitto saves its
        # persistent sessions only on a clean stop, and a SIGKILL would lose messages it had already
        # acknowledged to the gateway but not yet delivered to the witness — the broker's loss, not
        # the gateway's, and what made this test flaky.
        os.kill(broker.process.pid, signal.SIGTERM)
        os.kill(broker.process.pid, signal.SIGCONT)
        broker.stop()
        outage = await gateway.wait_for_log("status", lambda line: line["mqtt"] == "disconnected")
        await trio.sleep(5.0)
        during = gateway.events("status")[-1]
        assert during["mqtt"] == "disconnected"
        assert during["pending"] > 0  # spooled meanwhile
        assert during["received"] > outage["received"]  # and still reading the module
        broker.start()
        await witness.wait(lambda w: first_arrivals(w.raws(topic), EXPECTED.frames, WINDOW)[0] == 620)
        await gateway.wait_for_log("status", lambda line: line["pending"] == 0 and line["published"] >= 620)
        status, seconds = gateway.stop(signal.SIGTERM)
    assert status == 0 and seconds < STOP_LIMIT_S

    raws = [frame.raw for frame in delivered(witness.on(topic), station)]
    matched, duplicates = first_arrivals(raws, EXPECTED.frames, WINDOW)
    summary = gateway.events("gateway stopped")[-1]
    assert matched == summary["received"] == summary["published"] == 620
    assert 0 < summary["republished"] <= WINDOW
    assert duplicates <= summary["republished"]  # duplicates only from the reconnect, and counted


async def test_gateway_killed_while_the_broker_is_down_delivers_its_spool_after_a_restart(
    tmp_path: Path, mosquitto_factory: MosquittoFactory, fanet: Callable[..., FanetProcess]
) -> None:
    broker = mosquitto_factory()
    broker.stop()  # down from the start: everything the gateway receives waits in its spool
    station = unique("sigkill")
    topic = f"fb/b/{station}/f"
    link, spool = tmp_path / "module", tmp_path / "spool"
    replay = fanet(*replay_args(link, 300))
    first = fanet(*gateway_args(link, broker.url, station, spool))
    await first.wait_for_log("status", lambda line: line["spooled"] == 620)
    first.process.kill()  # no clean shutdown: no final sync, no cursor written
    first.process.wait()
    await replay.wait_for_log("host closed the device")

    broker.start()
    with Witness(broker, [topic]) as witness:
        second = fanet(*gateway_args(link, broker.url, station, spool))
        opened = await second.wait_for_log("spool open")
        assert opened["pending"] == 620
        await witness.wait(lambda w: len(w.on(topic)) >= 620)
        assert second.stop(signal.SIGTERM)[0] == 0
    raws = [frame.raw for frame in delivered(witness.on(topic), station)]
    assert raws == EXPECTED.frames  # in order, none twice: none had been published before


async def test_unplugged_module_is_reopened_reinitialised_and_read_on(
    tmp_path: Path, mosquitto_broker: MosquittoBroker, fanet: Callable[..., FanetProcess]
) -> None:
    station = unique("unplug")
    topic = f"fb/b/{station}/f"
    link = tmp_path / "module"
    with Witness(mosquitto_broker, [topic]) as witness:
        replay = fanet(*replay_args(link, 150, "--unplug-after", "1.5", "--unplug-for", "1"))
        # No batching pause: at this rate (150 frames/s) it would leave up to 0.1 s of frames unread in
        # the kernel when the device goes (see ModuleSettings.read_pause_s); here every frame the
        # module got out before the unplug must arrive.
        gateway = fanet(
            *gateway_args(link, mosquitto_broker.url, station, tmp_path / "spool"), "--read-pause-s", "0"
        )
        lost = await gateway.wait_for_log("serial port lost")
        await replay.wait_for_log("device plugged in")
        # The module comes back: the gateway opens the device again, brings the module up, reads on.
        await gateway.wait_for_log("module ready", lambda line: line["timestamp"] > lost["timestamp"])
        finished = await replay.wait_for_log("capture finished; the module keeps answering")
        # Every frame is read before the device goes with the replay (a fixed pause lost the race on a
        # loaded machine): the capture is over, so what it sent is final.
        await witness.wait(lambda w: len(w.on(topic)) >= finished["frames_sent"], timeout_s=10)
        assert replay.stop(signal.SIGTERM)[0] == 0
        sent = replay.events("replay finished")[-1]
        assert sent["frames_sent"] == finished["frames_sent"]
        assert gateway.stop(signal.SIGTERM)[0] == 0
    assert sent["frames_unheard"] > 0  # frames were due while it was unplugged (the module lost them)
    raws = [frame.raw for frame in delivered(witness.on(topic), station)]
    assert len(raws) == sent["frames_sent"]
    it = iter(EXPECTED.frames)
    assert all(raw in it for raw in raws)  # an ordered subsequence of the capture, no duplicates
    summary = gateway.events("gateway stopped")[-1]
    assert summary["received"] == summary["published"] == sent["frames_sent"]
    assert len(gateway.events("serial port open")) >= 2


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_stop_signal_with_the_broker_down_exits_0_within_3_s_and_keeps_the_frames(
    tmp_path: Path, mosquitto_factory: MosquittoFactory, fanet: Callable[..., FanetProcess], signum: int
) -> None:
    broker = mosquitto_factory()
    broker.stop()
    link, spool = tmp_path / "module", tmp_path / "spool"
    fanet(*replay_args(link, 60))
    gateway = fanet(*gateway_args(link, broker.url, unique("stop"), spool))
    await gateway.wait_for_log("status", lambda line: line["spooled"] >= 20)
    status, seconds = gateway.stop(signum)
    assert status == 0
    assert seconds < STOP_LIMIT_S
    summary = gateway.events("gateway stopped")[-1]
    assert summary["pending"] == summary["spooled"] == summary["received"] > 0
    kept = Spool.open(spool, max_bytes=64 * 1024 * 1024)
    assert kept.pending == summary["spooled"]  # all of it, for the next start to publish
    kept.close()


async def test_verbose_logs_one_line_a_frame_and_no_mqtt_packets(
    tmp_path: Path, mosquitto_broker: MosquittoBroker, fanet: Callable[..., FanetProcess]
) -> None:
    station = unique("verbose")
    topic = f"fb/b/{station}/f"
    link = tmp_path / "module"
    with Witness(mosquitto_broker, [topic]) as witness:
        fanet(*replay_args(link, 200))
        gateway = fanet(*gateway_args(link, mosquitto_broker.url, station, tmp_path / "spool"), "--verbose")
        await witness.wait(lambda w: len(w.on(topic)) >= len(EXPECTED.frames))
        assert gateway.stop(signal.SIGTERM)[0] == 0
    lines = gateway.lines()
    frame_lines = [line for line in lines if line["event"] == "frame"]
    assert all(line["level"] == "debug" for line in frame_lines)
    assert [bytes.fromhex(line["raw"]) for line in frame_lines] == EXPECTED.frames
    assert len(frame_lines) == gateway.events("gateway stopped")[-1]["published"] == len(witness.on(topic))
    # paho's per-packet lines ("Sending PUBLISH", "Received PUBACK") stay off: only our loggers speak.
    assert {line["logger"].split(".")[0] for line in lines} == {"fanet"}
    assert not [line for line in lines if line["event"].startswith(("Sending ", "Received "))]


class NotifySocket:
    """What systemd's side of ``NOTIFY_SOCKET`` receives: each datagram's ``KEY=value`` lines, timed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.received: list[tuple[float, dict[str, str]]] = []
        self._socket = trio.socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)

    async def __aenter__(self) -> NotifySocket:
        await self._socket.bind(str(self.path))
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._socket.close()

    async def receive(self, timeout_s: float = 20.0) -> dict[str, str]:
        with trio.fail_after(timeout_s):
            datagram = await self._socket.recv(4096)
        fields = dict(line.partition("=")[::2] for line in datagram.decode().splitlines())
        self.received.append((trio.current_time(), fields))
        return fields

    async def receive_until(self, key: str, timeout_s: float = 20.0) -> dict[str, str]:
        with trio.fail_after(timeout_s):
            while key not in (fields := await self.receive()):
                pass
        return fields


async def test_under_systemd_it_says_ready_pings_the_watchdog_and_says_stopping(
    tmp_path: Path, mosquitto_broker: MosquittoBroker, fanet: Callable[..., FanetProcess]
) -> None:
    link = tmp_path / "module"
    fanet(*replay_args(link, 200))
    async with NotifySocket(tmp_path / "notify") as systemd:
        # As systemd starts a Type=notify unit with WatchdogSec=1s (the Pi's unit has 30 s).
        env = {"NOTIFY_SOCKET": str(systemd.path), "WATCHDOG_USEC": "1000000"}
        spool = tmp_path / "spool"
        gateway = fanet(*gateway_args(link, mosquitto_broker.url, unique("systemd"), spool), env=env)
        ready = await systemd.receive()
        assert ready["READY"] == "1"  # the first message
        assert ready["STATUS"].startswith("module ")
        assert gateway.events("spool open")  # ready means running: the spool was opened before
        assert gateway.events("notifying systemd")[-1]["watchdog_interval_s"] == 0.5

        for _ in range(6):  # 3 s of pings, every half WATCHDOG_USEC
            ping = await systemd.receive(timeout_s=1.0)
            assert ping["WATCHDOG"] == "1"
            assert "frames:" in ping["STATUS"]
        times = [at for at, fields in systemd.received if "WATCHDOG" in fields]
        assert all(0.3 < later - earlier < 1.0 for earlier, later in itertools.pairwise(times))

        status, _ = gateway.stop(signal.SIGTERM)
        stopping = await systemd.receive_until("STOPPING", timeout_s=1.0)
        assert stopping["STOPPING"] == "1"
    assert status == 0
    assert sum("READY" in fields for _, fields in systemd.received) == 1
