"""The FANET radio module as one sans-I/O object, for replay and simulation.

It stands for the module and its USB-serial bridge. Two byte streams go in, one comes out:

- what the host writes (:meth:`ModuleEmulator.receive_data`) is answered the way the firmware
  answers (``serial_interface.cpp``; see ``_host_commands`` for the grammar and the error codes);
- what a capture says the module printed (:meth:`ModuleEmulator.air_data`) is printed again, line by
  line, as far as the emulated module would print it: ``#FNF`` lines only while the radio is on
  (otherwise they are counted as dropped), a ``#FNR MSG,1,initialized`` reboots the module (radio
  off), and the replies the capture's own host got (``#FNR OK``, ``#DGV …`` …) are left out, since
  they answered commands this host never sent;
- :meth:`ModuleEmulator.data_to_send` is what the host reads.

Lines of the capture are printed whole, when their newline arrives: the firmware prints a line at a
time, so chunk boundaries inside a line were the recording host's reads, not the module's doing.

The module boots when the host opens the port (:meth:`attach`; boards whose DTR line resets the
module do that) and on :meth:`reset`: it prints ``initialized``, its radio is off, and it waits for
``#DGP 1`` (:attr:`waiting_for_radio`). Without a host attached, whatever it prints is lost (counted
as unheard). Nothing here reads a clock: ``now`` is passed in, and :meth:`handle_timeout` must be
called when :meth:`next_deadline` passes (ACKs of transmitted frames).
"""

import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise

from fanet.firmware_bridge import (
    Address,
    FrameReceived,
    ModuleBooted,
    RadioPower,
    Region,
    ReplyError,
    ReplyFamily,
    ReplyOk,
    TransmitAck,
    Version,
    parse_line,
)
from fanet.hardware import _module_lines as lines
from fanet.hardware._host_commands import (
    ZONES,
    Command,
    Pps,
    Refused,
    Report,
    SetAddress,
    SetConfig,
    SetMode,
    SetRadioPower,
    SetRegion,
    SetState,
    SetZone,
    Transmit,
    parse_command,
)

_LINE_START = re.compile(rb"[#$][A-Z]")
"""Where a module line begins, as ``fanet.firmware_bridge`` splits lines."""
_RECORDED_REPLIES = (ReplyOk, ReplyError, Version, Address, RadioPower, Region, TransmitAck)
_HOST_LINE_MAX = 256
"""The firmware's command buffer: a longer line is read as several."""
_AIR_LINE_MAX = 4096
"""A capture line longer than this (garbage without a newline) is printed as it is."""
_FN = ReplyFamily.FANET
_DG = ReplyFamily.DONGLE


@dataclass(frozen=True, slots=True)
class EmulatorSettings:
    address: int = 0x11003F
    """The module's own address (``#FNA`` reports it; 0 = none set, then ``#FNA m,i`` sets it)."""
    version: str = "build-202201131742"
    """What ``#DGV`` reports."""
    ack_delay_s: float = 0.25
    """How long after a ``#FNT`` with ACK request its outcome comes: ``#FNR ACK,m,id`` for a unicast
    frame (the destination answers), ``#FNR NACK,0,0`` for a broadcast one (nobody can answer it; the
    firmware gives up after its retransmissions)."""


@dataclass(slots=True)
class EmulatorStats:
    boots: int = 0
    """Times the module printed ``initialized``: on attach, reset and the capture's reboots."""
    capture_reboots: int = 0
    commands: int = 0
    refused: int = 0
    """Commands answered with ``ERR`` (unknown, malformed, out of range)."""
    transmitted: int = 0
    """``#FNT`` frames accepted."""
    frames_sent: int = 0
    corrupt_sent: int = 0
    """``#FNF`` lines of the capture that do not parse, printed as they were."""
    frames_dropped: int = 0
    """``#FNF`` lines of the capture not printed because the radio was off."""
    frames_unheard: int = 0
    """``#FNF`` lines printed while no host had the port open."""
    replies_skipped: int = 0
    """The capture's replies to its own host, left out."""


@dataclass(frozen=True, slots=True)
class Booted:
    reason: str


@dataclass(frozen=True, slots=True)
class RadioSwitched:
    on: bool


@dataclass(frozen=True, slots=True)
class CommandAnswered:
    line: str
    command: Command
    reply: bytes


EmulatorEvent = Booted | RadioSwitched | CommandAnswered


class _LineBuffer:
    """Bytes → complete lines (each with its ``\\n``); a line past ``limit`` bytes comes out as it is."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._pending = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._pending += data
        found: list[bytes] = []
        while (end := self._pending.find(b"\n")) >= 0 or len(self._pending) > self._limit:
            cut = end + 1 if 0 <= end < self._limit else self._limit
            found.append(bytes(self._pending[:cut]))
            del self._pending[:cut]
        return found

    def clear(self) -> None:
        self._pending.clear()


class ModuleEmulator:
    """One emulated module; see the module docstring for what it does with each stream."""

    def __init__(self, settings: EmulatorSettings | None = None) -> None:
        self.settings = settings or EmulatorSettings()
        self.stats = EmulatorStats()
        self._address = self.settings.address
        self._attached = False
        self._radio_on = False
        self._waiting = True
        self._ground = False
        self._config = (1, True, 1)  # paraglider, online tracking, ground state "walking"
        self._zone = -1
        self._acks: list[tuple[float, int, bool]] = []
        self._host_lines = _LineBuffer(_HOST_LINE_MAX)
        self._air_lines = _LineBuffer(_AIR_LINE_MAX)
        self._outgoing = bytearray()
        self._events: deque[EmulatorEvent] = deque()

    # --- state --------------------------------------------------------------------------------------

    @property
    def attached(self) -> bool:
        """Whether a host has the port open (what the module prints reaches it)."""
        return self._attached

    @property
    def radio_on(self) -> bool:
        return self._radio_on

    @property
    def waiting_for_radio(self) -> bool:
        """Booted (or never powered) and not yet switched on with ``#DGP 1``: replay holds the capture."""
        return self._waiting

    # --- driving it ---------------------------------------------------------------------------------

    def attach(self, now: float) -> None:
        """The host opened the port: the DTR line resets the module, which boots."""
        self._attached = True
        self.reset(now, "host opened the port")

    def detach(self) -> None:
        """The host closed the port (or the device was unplugged): output is lost until :meth:`attach`."""
        self._attached = False
        self._host_lines.clear()

    def reset(self, now: float, reason: str = "reset") -> None:
        """The module restarts and prints ``initialized``; its radio is off until ``#DGP 1``."""
        self._reboot(reason)
        self._emit(lines.BOOTED)

    def receive_data(self, data: bytes, now: float) -> None:
        """Bytes the host wrote; every complete line is answered (the reply is in :meth:`data_to_send`)."""
        if not self._attached:
            return
        for raw in self._host_lines.feed(data):
            self._command(raw.rstrip(b"\n").decode("ascii", errors="replace"), now)

    def air_data(self, data: bytes, now: float) -> None:
        """Bytes a capture says the module printed; complete lines are printed again as far as they would be."""
        for raw in self._air_lines.feed(data):
            self._emit(self._air_line(raw))

    def next_deadline(self) -> float | None:
        return self._acks[0][0] if self._acks else None

    def handle_timeout(self, now: float) -> None:
        """Print the ACK/NACK lines that are due; calling it early or twice does nothing."""
        while self._acks and self._acks[0][0] <= now:
            _, dest, acked = self._acks.pop(0)
            self._emit(lines.transmit_ack(dest, acked))

    def data_to_send(self) -> bytes:
        data = bytes(self._outgoing)
        self._outgoing.clear()
        return data

    def events(self) -> Iterator[EmulatorEvent]:
        """Drain what happened since the last call (boots, radio switches, answered commands)."""
        while self._events:
            yield self._events.popleft()

    # --- the host's commands ------------------------------------------------------------------------

    def _command(self, line: str, now: float) -> None:
        command = parse_command(line)
        reply = self._answer(command, now)
        self.stats.commands += 1
        if isinstance(command, Refused):
            self.stats.refused += 1
        self._events.append(CommandAnswered(line.rstrip("\r"), command, reply))
        self._emit(reply)

    def _answer(self, command: Command, now: float) -> bytes:
        if isinstance(command, Refused):
            return lines.error(command.family, command.code, command.text)
        if isinstance(command, Report):
            return self._report(command.tag)
        if isinstance(command, SetRadioPower):
            return self._switch_radio(command.on)
        if isinstance(command, (SetRegion, Pps)):
            return lines.ok(_DG)
        if isinstance(command, SetAddress):
            if self._address:
                return lines.error(_FN, 15, "address already set")
            self._address = command.address
        elif isinstance(command, SetConfig):
            self._config = (
                command.aircraft,
                command.online,
                self._config[2] if command.ground is None else command.ground,
            )
        elif isinstance(command, SetMode):
            self._ground = command.ground
        elif isinstance(command, SetZone):
            self._zone = command.index
        elif isinstance(command, (SetState, Transmit)):
            return self._radio_command(command, now)
        return lines.ok(_FN)

    def _report(self, tag: str) -> bytes:
        if tag == "DGV":
            return lines.version(self.settings.version)
        if tag == "FNA":
            return lines.address(self._address)
        if tag == "FNC":
            return lines.value("FNC", *(int(part) for part in self._config))
        if tag == "FNM":
            return lines.value("FNM", int(self._ground))
        if tag == "FNZ":
            return lines.value("FNZ", self._zone, ZONES.get(self._zone, "UNSET"), hex_numbers=False)
        return lines.value("DGP", int(self._radio_on))

    def _switch_radio(self, on: bool) -> bytes:
        if on != self._radio_on:
            self._events.append(RadioSwitched(on))
        self._radio_on = on
        if on:
            self._waiting = False
        return lines.ok(_DG)

    def _radio_command(self, command: SetState | Transmit, now: float) -> bytes:
        """``#FNS`` and ``#FNT`` need an address; with the radio off the firmware says ``power down``."""
        if not self._address:
            return lines.error(_FN, 10, "no source address")
        if isinstance(command, SetState):
            self._zone = 1
        else:
            self.stats.transmitted += 1
        if not self._radio_on:
            return lines.message(*lines.POWER_DOWN)
        if isinstance(command, Transmit) and command.ack:
            dest = command.dest or 0
            self._acks.append((now + self.settings.ack_delay_s, dest, dest != 0))
            self._acks.sort()
        return lines.ok(_FN)

    # --- the capture's module output ----------------------------------------------------------------

    def _air_line(self, raw: bytes) -> bytes:
        """What of one capture line (ending included) the emulated module prints."""
        ending = b"\r\n" if raw.endswith(b"\r\n") else b"\n" if raw.endswith(b"\n") else b""
        body = raw[: len(raw) - len(ending)]
        starts = [match.start() for match in _LINE_START.finditer(body)]
        bounds = [0, *starts, len(body)] if not starts or starts[0] else [*starts, len(body)]
        pieces = [body[begin:end] for begin, end in pairwise(bounds)] or [b""]
        kept = []
        for index, piece in enumerate(pieces):
            if not _LINE_START.match(piece) or self._prints(piece):  # noise is printed as it came
                kept.append(piece + (ending if index == len(pieces) - 1 else b""))
        return b"".join(kept)

    def _prints(self, segment: bytes) -> bool:
        event = parse_line(segment.decode("ascii", errors="replace").rstrip(), self._address or None)
        if isinstance(event, FrameReceived) or segment.startswith(b"#FNF"):
            if not self._radio_on:
                self.stats.frames_dropped += 1
                return False
            if not self._attached:
                self.stats.frames_unheard += 1
            elif isinstance(event, FrameReceived):
                self.stats.frames_sent += 1
            else:
                self.stats.corrupt_sent += 1
            return True
        if isinstance(event, ModuleBooted):
            self.stats.capture_reboots += 1
            self._reboot("the capture's module rebooted")
            return True
        if isinstance(event, _RECORDED_REPLIES):
            self.stats.replies_skipped += 1
            return False
        return True

    # --- helpers ------------------------------------------------------------------------------------

    def _reboot(self, reason: str) -> None:
        self.stats.boots += 1
        if self._radio_on:
            self._events.append(RadioSwitched(False))
        self._radio_on = False
        self._waiting = True
        self._ground = False
        self._zone = -1
        self._acks.clear()
        self._host_lines.clear()
        self._events.append(Booted(reason))

    def _emit(self, data: bytes) -> None:
        if self._attached:
            self._outgoing += data
