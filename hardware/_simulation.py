"""Simulated traffic → the capture a tee would have recorded between a gateway and its module.

The frames the devices send (``_traffic``) reach an emulated module (``ModuleEmulator``), which
prints them as ``#FNF`` lines while its radio is on; a real bridge ``ModuleConnection`` plays the
gateway and brings the module up — at the start and again after the module reboots mid-capture — so
the capture holds that exchange too (``tx`` commands, ``rx`` replies). On top come what real serial
lines show: a bootloader's ``C`` characters while the module restarts, a few stray bytes, one
``#FNF`` line that lost a character (odd hex: it must not parse), and some lines split across two
reads. Times are seconds from the window's start, to the millisecond.

The header's ``expected`` counts are taken from the finished capture with the bridge's own parser:
``frames`` (lines that parse), ``corrupt_lines``, ``reboots`` (``initialized`` after the first
frame), ``distress_calls`` (devices that sent a distress state), ``distress_frames`` (the frames with
one: a device in distress repeats it) and ``frame_types``.
"""

import heapq
import itertools
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from random import Random

from fanet.firmware_bridge import (
    FrameReceived,
    InitSettings,
    MalformedLine,
    ModuleBooted,
    ModuleConnection,
    ResetModule,
)
from fanet.hardware._capture import Capture, CaptureHeader, Chunk, Direction
from fanet.hardware._emulator import EmulatorSettings, ModuleEmulator
from fanet.hardware._flight import Track
from fanet.hardware._igc import Flight
from fanet.hardware._module_lines import frame_line
from fanet.hardware._traffic import Traffic, Transmission, choose_window, plan_traffic
from fanet.proto import GroundType, decode_frame, encode_payload, format_address

BAUD = 115200
REPLY_S = 0.004
"""From a command to the module's reply (processing, and the reply on the wire)."""
HOST_S = 0.002
"""From a reply to the gateway's next command."""
RESET_S = 0.05
BOOTLOADER_S = 3.0
"""How long a restarting module sits in its bootloader, printing ``C`` once a second."""
NOISE_BYTES = b"C\x00\xff\xfe\x80\x1b"
NOISE_BURSTS = 3
SPLIT_SHARE = 0.03
"""Share of lines the recording host read in two pieces."""


def simulate(flights: Sequence[Flight], *, minutes: int = 10, seed: int = 1) -> Capture:
    """The capture for the busiest ``minutes`` of ``flights``; the same arguments give the same capture."""
    if minutes < 1:
        raise ValueError(f"minutes must be at least 1, got {minutes}")
    tracks = [Track(flight) for flight in flights]
    start = choose_window(tracks, minutes)
    end = start + minutes * 60
    rng = Random(seed)
    traffic = plan_traffic(tracks, start, end, rng)
    chunks = _Recording(traffic, rng).run()
    header = CaptureHeader(
        created=_iso(start),
        source=f"fanet simulate --minutes {minutes} --seed {seed}",
        baud=BAUD,
        extra={
            "duration_s": float(minutes * 60),
            "expected": expected_counts(chunks),
            "simulation": {
                "seed": seed,
                "minutes": minutes,
                "start": _iso(start),
                "module_address": format_address(EmulatorSettings().address),
                "flights": [flight.name for flight in flights],
                "devices": [
                    {
                        "address": format_address(device.address),
                        "name": device.name,
                        "kind": device.kind,
                        **({"flight": device.track.name} if device.track is not None else {}),
                    }
                    for device in traffic.devices
                ],
            },
        },
    )
    return Capture(header, tuple(chunks))


def expected_counts(chunks: Sequence[Chunk]) -> dict[str, object]:
    """What the bridge's parser finds in the module → host bytes of a capture."""
    conn = ModuleConnection()
    for chunk in chunks:
        if chunk.direction is Direction.RX:
            conn.receive_data(chunk.data, chunk.t)
    frames = corrupt = reboots = distress = 0
    in_distress: set[int] = set()
    types: Counter[int] = Counter()
    for event in conn.events():
        if isinstance(event, FrameReceived):
            frames += 1
            types[event.frame_type] += 1
            frame = decode_frame(event.raw)
            if getattr(frame.payload, "ground_type", None) == GroundType.DISTRESS_CALL:
                distress += 1
                in_distress.add(frame.source)
        elif isinstance(event, MalformedLine) and event.line.startswith("#FNF"):
            corrupt += 1
        elif isinstance(event, ModuleBooted) and frames:
            reboots += 1
    return {
        "frames": frames,
        "corrupt_lines": corrupt,
        "reboots": reboots,
        "distress_calls": len(in_distress),
        "distress_frames": distress,
        "frame_types": {str(key): types[key] for key in sorted(types)},
    }


def _iso(time: float) -> str:
    return datetime.fromtimestamp(time, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class _Recording:
    """A discrete-event run of radio traffic, module and gateway, recorded as a tee records it."""

    def __init__(self, traffic: Traffic, rng: Random) -> None:
        self._traffic = traffic
        self._rng = rng
        self._module = ModuleEmulator()
        self._host = ModuleConnection(InitSettings(silence_limit_s=None))
        self._chunks: list[Chunk] = []
        self._queue: list[tuple[float, int, str, bytes]] = []
        self._order = itertools.count()

    def run(self) -> list[Chunk]:
        duration = self._traffic.end - self._traffic.start
        reboot = round(duration * self._rng.uniform(0.6, 0.75), 3)
        corrupt_after = duration * self._rng.uniform(0.1, 0.2)
        corrupt_done = False
        self._host.start(0.0)
        self._handle_host(0.0)
        for transmission in self._traffic.transmissions:
            t = round(transmission.time - self._traffic.start, 3)
            if reboot <= t < reboot + BOOTLOADER_S:
                continue  # the module is in its bootloader: it hears nothing
            line = _line(transmission)
            if not corrupt_done and t >= corrupt_after:
                corrupt_done = True
                cut = self._rng.randrange(line.rindex(b",") + 1, len(line) - 1)  # in the payload
                line = line[:cut] + line[cut + 1 :]
            self._push(t, "air", line)
        for _ in range(NOISE_BURSTS):
            garbage = bytes(self._rng.choice(NOISE_BYTES) for _ in range(self._rng.randint(1, 4)))
            self._push(round(duration * self._rng.uniform(0.05, 0.95), 3), "noise", garbage)
        for second in range(int(BOOTLOADER_S)):
            self._push(reboot + second + 0.5, "noise", b"C")
        self._push(reboot + BOOTLOADER_S, "reset", b"")
        while self._queue:
            t, _, action, data = heapq.heappop(self._queue)
            self._step(t, action, data)
        return self._chunks

    def _push(self, t: float, action: str, data: bytes) -> None:
        heapq.heappush(self._queue, (round(t, 3), next(self._order), action, data))

    def _step(self, t: float, action: str, data: bytes) -> None:
        if action == "air":
            self._module.air_data(data, t)
            self._from_module(t)
        elif action == "noise":
            self._record(t, Direction.RX, data)
            self._host.receive_data(data, t)
        elif action == "reset":
            if self._module.attached:
                self._module.reset(t)
            else:
                self._module.attach(t)
            self._from_module(t)
        elif action == "command":
            self._record(t, Direction.TX, data)
            self._module.receive_data(data, t)
            reply = self._module.data_to_send()
            if reply:
                self._push(t + REPLY_S, "reply", reply)
        else:  # "reply"
            self._record(t, Direction.RX, data)
            self._host.receive_data(data, t)
            self._handle_host(t)

    def _from_module(self, t: float) -> None:
        output = self._module.data_to_send()
        if output:
            self._record(t, Direction.RX, output)
            self._host.receive_data(output, t)
            self._handle_host(t)

    def _handle_host(self, t: float) -> None:
        for event in self._host.events():
            if isinstance(event, ResetModule):
                self._push(t + RESET_S, "reset", b"")
        command = self._host.data_to_send()
        if command:
            self._push(t + HOST_S, "command", command)

    def _record(self, t: float, direction: Direction, data: bytes) -> None:
        """One read or write; now and then a line arrives in two reads."""
        t = max(t, self._chunks[-1].t if self._chunks else 0.0)
        if direction is Direction.RX and len(data) > 8 and self._rng.random() < SPLIT_SHARE:
            cut = self._rng.randrange(1, len(data) - 1)
            self._chunks.append(Chunk(t, direction, data[:cut]))
            self._chunks.append(Chunk(round(t + 0.002, 3), direction, data[cut:]))
        else:
            self._chunks.append(Chunk(t, direction, data))


def _line(transmission: Transmission) -> bytes:
    frame = transmission.frame
    return frame_line(frame.source, frame.type, encode_payload(frame.payload))
