"""``fanet record`` and ``fanet replay`` as users run them: subprocesses on real ptys, a real bridge host.

The host side is a gateway in miniature (:class:`SerialHost`): pyserial opens the device the way the
gateway does, a real ``ModuleConnection`` brings the module up, and the test reads the events it
reports. Nothing is mocked: the replayed "module" is the ``fanet replay`` process behind a pty, the
recorded "module" is this test writing into one.
"""

import contextlib
import json
import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import serial
import trio

from fanet.firmware_bridge import (
    Event,
    FrameReceived,
    InitSettings,
    MalformedLine,
    ModuleBooted,
    ModuleConnection,
    ModuleReady,
    ModuleState,
    ResetModule,
)
from fanet.hardware import CaptureHeader, CaptureWriter, Chunk, Direction, frame_line, read_capture
from fanet.proto import decode_frame

pytestmark = pytest.mark.integration


class FanetProcess:
    """``fanet <args>`` as a subprocess; its log lines (``--log-format json``) go to a file."""

    def __init__(self, fanet: Path, logs: Path, *args: str | Path) -> None:
        self._logs = logs
        with logs.open("wb") as stderr:
            self.process = subprocess.Popen(
                [str(fanet), *(str(arg) for arg in args)], stdout=subprocess.DEVNULL, stderr=stderr
            )

    def stop(self, signum: int = signal.SIGINT) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signum)
        return self.process.wait(timeout=10)

    def log(self, event: str) -> dict[str, Any]:
        text = self._logs.read_text()
        lines: list[dict[str, Any]] = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
        matches = [line for line in lines if line.get("event") == event]
        assert matches, f"no {event!r} log line in:\n{text}"
        return matches[-1]


@pytest.fixture
def fanet(fanet_exe: Path, tmp_path: Path) -> Iterator[Callable[..., FanetProcess]]:
    """Start ``fanet …``; whatever is still running when the test ends is killed."""
    started: list[FanetProcess] = []

    def start(*args: str | Path) -> FanetProcess:
        started.append(FanetProcess(fanet_exe, tmp_path / f"fanet-{len(started)}.log", *args))
        return started[-1]

    yield start
    for process in started:
        if process.process.poll() is None:
            process.process.kill()
            process.process.wait()


async def wait_for_path(path: Path, present: bool = True, timeout_s: float = 10.0) -> None:
    with trio.fail_after(timeout_s):
        while os.path.lexists(path) != present:
            await trio.sleep(0.005)


class SerialHost:
    """A gateway in miniature: a serial port, a :class:`ModuleConnection`, the events it reported."""

    def __init__(self, path: Path) -> None:
        self.port = serial.Serial(str(path), 115200, timeout=0)
        self.connection = ModuleConnection(InitSettings(boot_timeout_s=5.0))
        self.events: list[Event] = []
        self.connection.start(trio.current_time())

    def close(self) -> None:
        self.port.close()

    async def until(self, done: Callable[[], bool], timeout_s: float = 10.0) -> None:
        """Exchange bytes until ``done()``; a device that goes away raises ``serial.SerialException``."""
        fd = self.port.fileno()
        with trio.fail_after(timeout_s):
            while not done():
                outgoing = self.connection.data_to_send()
                if outgoing:
                    self.port.write(outgoing)
                with trio.move_on_after(0.05):
                    await trio.lowlevel.wait_readable(fd)
                now = trio.current_time()
                data = self.port.read(4096)
                if data:
                    self.connection.receive_data(data, now)
                self.connection.handle_timeout(now)
                for event in self.connection.events():
                    if not isinstance(event, ResetModule):  # a pty has no reset line: nothing to pulse
                        self.events.append(event)

    async def ready(self, timeout_s: float = 10.0) -> None:
        await self.until(lambda: self.connection.state is ModuleState.READY, timeout_s)

    def count(self, kind: type[Event]) -> int:
        return sum(isinstance(event, kind) for event in self.events)


@pytest.mark.parametrize("command", ["record", "replay", "simulate"])
def test_help(fanet_exe: Path, command: str) -> None:
    result = subprocess.run(
        [str(fanet_exe), command, "--help"], check=False, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0
    assert f"Usage: fanet {command}" in result.stdout
    assert "--out" in result.stdout or "--link" in result.stdout


async def test_replay_serves_every_frame_of_the_capture_to_a_bridge_host(
    tmp_path: Path, short_capture: Path, fanet: Callable[..., FanetProcess]
) -> None:
    expected = read_capture(short_capture).header.extra["expected"]
    link = tmp_path / "module"
    replay = fanet("replay", short_capture, "--link", link, "--speed", "40", "--log-format", "json")
    await wait_for_path(link)
    host = SerialHost(link)
    await host.ready()
    await host.until(
        lambda: host.count(FrameReceived) == expected["frames"] and host.count(MalformedLine) == 1,
        timeout_s=30,
    )
    frames = [event for event in host.events if isinstance(event, FrameReceived)]
    types: dict[str, int] = {}
    for frame in frames:
        decoded = decode_frame(frame.raw)
        types[str(decoded.type)] = types.get(str(decoded.type), 0) + 1
    assert types == expected["frame_types"]
    first_ready = next(i for i, event in enumerate(host.events) if isinstance(event, ModuleReady))
    reboots = [event for event in host.events[first_ready:] if isinstance(event, ModuleBooted)]
    assert len(reboots) == expected["reboots"] == 1
    assert host.count(ModuleReady) == 2  # brought up again after the reboot
    host.close()

    assert replay.stop() == 0
    assert not os.path.lexists(link)
    summary = replay.log("replay finished")
    assert summary["frames_sent"] == expected["frames"]
    assert summary["corrupt_sent"] == 1
    assert summary["frames_dropped"] == summary["frames_unheard"] == 0
    assert summary["capture_reboots"] == 1


async def test_replay_loops_with_times_counting_on(
    tmp_path: Path, fanet: Callable[..., FanetProcess]
) -> None:
    capture = tmp_path / "three.jsonl"
    header = CaptureHeader("2025-01-01T00:00:00Z", "test", extra={"duration_s": 1.0})
    with CaptureWriter.create(capture, header) as writer:
        for index, t in enumerate((0.1, 0.4, 0.7)):
            writer.write(Chunk(t, Direction.RX, frame_line(0x110000 + index + 1, 2, b"abc")))
    link = tmp_path / "module"
    replay = fanet("replay", capture, "--link", link, "--loop", "--log-format", "json")
    await wait_for_path(link)
    host = SerialHost(link)
    await host.ready()
    started = trio.current_time()
    await host.until(lambda: host.count(FrameReceived) == 7)
    elapsed = trio.current_time() - started
    sources = [event.source & 0xFFFF for event in host.events if isinstance(event, FrameReceived)]
    assert sources == [1, 2, 3, 1, 2, 3, 1]
    assert 1.5 < elapsed < 3.0  # two periods of 0.9 s: the header's duration minus the first frame's time
    host.close()
    assert replay.stop() == 0
    assert replay.log("replay finished")["loops"] >= 2


@pytest.mark.parametrize("how", ["--unplug-after", "SIGUSR1"])
async def test_unplug_and_replug_are_seen_by_the_host(
    tmp_path: Path, short_capture: Path, fanet: Callable[..., FanetProcess], how: str
) -> None:
    link = tmp_path / "module"
    unplug = ["--unplug-after", "1.0"] if how == "--unplug-after" else []
    replay = fanet(
        "replay",
        short_capture,
        "--link",
        link,
        "--speed",
        "4",
        "--unplug-for",
        "1.0",
        "--log-format",
        "json",
        *unplug,
    )
    await wait_for_path(link)
    host = SerialHost(link)
    await host.ready()
    await host.until(lambda: host.count(FrameReceived) > 0)
    if how == "SIGUSR1":
        replay.process.send_signal(signal.SIGUSR1)
    with pytest.raises(serial.SerialException):
        await host.until(lambda: False, timeout_s=5)  # reads fail: the device is gone
    host.close()
    await wait_for_path(link, present=False, timeout_s=0.5)
    await wait_for_path(link, present=True, timeout_s=5)

    again = SerialHost(link)  # plugged in again: the module boots, is brought up, and frames flow
    await again.ready()
    await again.until(lambda: again.count(FrameReceived) > 0)
    again.close()
    assert replay.stop(signal.SIGTERM) == 0
    assert replay.log("replay finished")["unplugs"] == 1
    replay.log("device plugged in")


def test_replay_will_not_replace_a_file(tmp_path: Path, short_capture: Path, fanet_exe: Path) -> None:
    in_the_way = tmp_path / "module"
    in_the_way.write_text("keep me")
    result = subprocess.run(
        [str(fanet_exe), "replay", str(short_capture), "--link", str(in_the_way)],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert "not a symbolic link" in result.stderr
    assert in_the_way.read_text() == "keep me"


@pytest.fixture
def module_pty() -> Iterator[tuple[int, str]]:
    """A pty standing in for a module on a USB adapter: we write on one side, ``fanet record`` opens the other."""
    master, slave = os.openpty()
    name = os.ttyname(slave)
    os.close(slave)
    os.set_blocking(master, False)
    yield master, name
    with contextlib.suppress(OSError):  # the test may have closed it (an unplugged module)
        os.close(master)


async def read_until(fd: int, expected: bytes, timeout_s: float = 5.0) -> bytes:
    data = b""
    with trio.fail_after(timeout_s):
        while not data.endswith(expected):
            await trio.lowlevel.wait_readable(fd)
            try:
                data += os.read(fd, 4096)
            except BlockingIOError:
                continue
    return data


async def wait_for_header(path: Path) -> None:
    """``fanet record`` writes the header once the port is open."""
    with trio.fail_after(10):
        while not path.exists() or not path.read_text().endswith("\n"):
            await trio.sleep(0.01)


async def test_record_keeps_every_byte_with_its_time(
    tmp_path: Path, module_pty: tuple[int, str], fanet: Callable[..., FanetProcess]
) -> None:
    master, port = module_pty
    out = tmp_path / "capture.jsonl"
    record = fanet("record", "--serial", port, "--out", out, "--duration", "1.5", "--log-format", "json")
    await wait_for_header(out)
    pieces = [b"CC", b"#FNR MSG,1,init", b"ialized\r\n", b"\xff\x00\xfe", b"#FNF 11,D,1,0,2,3,616263\n"]
    for piece in pieces:
        os.write(master, piece)
        await trio.sleep(0.1)
    assert record.process.wait(timeout=10) == 0
    capture = read_capture(out)
    assert capture.header.source == f"serial:{port}"
    assert capture.header.baud == 115200
    assert capture.data(Direction.RX) == b"".join(pieces)
    assert len(capture.chunks) >= 3  # about a read each: they came 100 ms apart
    times = [chunk.t for chunk in capture.chunks]
    assert times == sorted(times)
    assert times[-1] - times[0] >= 0.3
    assert record.log("recording finished")["rx_bytes"] == len(b"".join(pieces))


async def test_record_stops_with_an_error_when_the_port_goes_away(
    tmp_path: Path, module_pty: tuple[int, str], fanet: Callable[..., FanetProcess]
) -> None:
    master, port = module_pty
    out = tmp_path / "capture.jsonl"
    record = fanet("record", "--serial", port, "--out", out, "--log-format", "json")
    await wait_for_header(out)
    os.write(master, b"#FNF 11,D,1,0,2,3,616263\n")
    await trio.sleep(0.2)
    os.close(master)  # the adapter is unplugged
    assert record.process.wait(timeout=10) == 1
    record.log("serial port lost")
    assert read_capture(out).data(Direction.RX) == b"#FNF 11,D,1,0,2,3,616263\n"


async def test_record_as_a_tee_forwards_and_records_both_ways(
    tmp_path: Path, module_pty: tuple[int, str], fanet: Callable[..., FanetProcess]
) -> None:
    master, port = module_pty
    out, link = tmp_path / "capture.jsonl", tmp_path / "gateway-port"
    record = fanet("record", "--serial", port, "--link", link, "--out", out, "--log-format", "json")
    await wait_for_path(link)
    gateway = serial.Serial(str(link), 115200, timeout=0)
    await trio.sleep(0.2)  # the tee notices the gateway opening its end
    gateway.write(b"#DGV\n")
    assert await read_until(master, b"#DGV\n") == b"#DGV\n"
    os.write(master, b"#DGV build-202201131742\n")
    received = b""
    with trio.fail_after(5):
        while not received.endswith(b"\n"):
            await trio.lowlevel.wait_readable(gateway.fileno())
            received += gateway.read(4096)
    assert received == b"#DGV build-202201131742\n"
    gateway.close()
    assert record.stop() == 0
    assert not os.path.lexists(link)
    capture = read_capture(out)
    assert capture.header.source == f"tee:{port}<->{link}"
    assert capture.data(Direction.TX) == b"#DGV\n"
    assert capture.data(Direction.RX) == b"#DGV build-202201131742\n"
