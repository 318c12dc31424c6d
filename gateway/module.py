"""The FANET module on its serial port: opened, brought up, read, and reopened after an unplug.

The edge where the radio's frames enter: a :class:`ModuleLink` owns the port (``serial_link``) and
one ``ModuleConnection`` per time the port is open (the sans-I/O protocol of ``fanet.firmware_bridge``),
and sends every received frame as a :class:`~fanet.proto.ReceivedFrame` into a channel. The gateway
spools them; the server's no-broker mode feeds them to its pipeline — both through :func:`run_module`
or the class behind it. Per open port, one loop::

    write what the connection wants sent → act on its events (frames out, reset pulses, beacon)
      → wait for bytes or the next deadline (initialisation steps, silence probe, beacon) → feed them

The port going away ends the session; the link closes it, waits for the device path to come back
(polling it), and opens it again with backoff, which starts a new connection (and so a new module
initialisation). Frames go out with back-pressure: when the consumer does not keep up, the link
stops reading and the bytes wait in the kernel's tty buffer.
"""

from __future__ import annotations

import logging
import math
import os
import random
import time
from dataclasses import dataclass, field

import structlog
import trio

from fanet.firmware_bridge import (
    BridgeError,
    Event,
    FrameReceived,
    InitFailed,
    InitSettings,
    InitStarted,
    LineTooLong,
    MalformedLine,
    ModuleBooted,
    ModuleConnection,
    ModuleMessage,
    ModuleReady,
    ModuleState,
    Noise,
    ReplyError,
    ResetModule,
    UnknownLine,
)
from fanet.gateway.beacon import Beacon, BeaconOutcome, BeaconSent, BeaconSettings
from fanet.gateway.mqtt import Backoff
from fanet.gateway.serial_link import SerialLost, SerialPort
from fanet.proto import ReceivedFrame, format_address

LOGGER = "fanet.gateway"
log = structlog.get_logger(LOGGER)

DEVICE_POLL_S = 0.5
"""How often a missing device path is looked for (after an unplug, or before the first plug)."""
MAX_READ_PAUSE_S = 0.2
"""Well within what the kernel's tty buffer holds (4 KiB: 0.35 s at 115200 baud)."""
REOPEN_BACKOFF = Backoff(initial_s=0.5, max_s=30.0, multiplier=2.0, jitter=0.2, reset_after_s=30.0)


@dataclass(frozen=True, slots=True)
class ModuleSettings:
    """How to reach and bring up the module. ``port`` is a device path (``/dev/fanet``, a replay's link).

    ``reset``: start each initialisation with a reset pulse (RTS, see ``serial_link``); without one,
    or on a port without modem-control lines, the running module is asked once ``boot_timeout_s``
    passed. ``silence_limit_s``: re-initialise a module that says nothing for that long (and does
    not answer a probe). ``beacon``: transmit the gateway's service frame (``None``: never).
    ``read_pause_s``: while frames arrive more often than every other ``read_pause_s``, wait that
    long after each read before the next, so that they are handled, spooled and published in
    batches — a wake-up of the event loop costs more CPU than handling a frame (≈ 250 µs against
    ≈ 100 µs on the benchmark machine). The price, at such rates only: up to that much latency, and
    an unplug then loses what the kernel held unread (up to ``read_pause_s`` of frames; its tty
    buffer of 4 KiB holds 0.35 s of a saturated 115200-baud line). Slower traffic and
    initialisation are read at once; 0 never pauses.
    """

    port: str
    station_id: str
    baud: int = 115200
    reset: bool = True
    power_dbm: int = 14
    boot_timeout_s: float = 10.0
    reply_timeout_s: float = 2.0
    silence_limit_s: float | None = 120.0
    beacon: BeaconSettings | None = None
    read_pause_s: float = 0.1
    reopen_backoff: Backoff = REOPEN_BACKOFF

    def __post_init__(self) -> None:
        if not self.port:
            raise ValueError("module settings: port must not be empty")
        if not self.station_id:
            raise ValueError("module settings: station_id must not be empty")
        if self.baud <= 0:
            raise ValueError(f"module settings: baud must be positive, got {self.baud}")
        if not 0 <= self.read_pause_s <= MAX_READ_PAUSE_S:
            raise ValueError(f"module settings: read_pause_s must lie in [0, {MAX_READ_PAUSE_S}]")
        try:
            self.init_settings()
        except BridgeError as error:
            raise ValueError(f"module settings: {error}") from None

    def init_settings(self) -> InitSettings:
        return InitSettings(
            reset=self.reset,
            boot_timeout_s=self.boot_timeout_s,
            reply_timeout_s=self.reply_timeout_s,
            power_dbm=self.power_dbm,
            silence_limit_s=self.silence_limit_s,
        )


@dataclass(slots=True)
class ModuleStatus:
    """What the link knows and has counted, as plain attributes (health reports and metrics read them)."""

    port: str
    serial_state: str = "closed"
    """``waiting for device`` | ``open`` | ``closed``."""
    opens: int = 0
    losses: int = 0
    """Times an open port failed (unplugged, I/O error)."""
    last_error: str | None = None
    module_state: str = ModuleState.IDLE.value
    version: str | None = None
    address: int | None = None
    readies: int = 0
    boots: int = 0
    """``initialized`` lines: the module (re)started."""
    init_failures: int = 0
    frames_received: int = 0
    corrupt_lines: int = 0
    unknown_lines: int = 0
    noise_bytes: int = 0
    long_lines: int = 0
    beacons_sent: int = 0
    beacons_failed: int = 0
    frame_types: dict[int, int] = field(default_factory=dict)

    @property
    def address_text(self) -> str | None:
        return None if self.address is None else format_address(self.address)


async def run_module(
    settings: ModuleSettings,
    frames: trio.MemorySendChannel[ReceivedFrame],
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run the serial link and module sessions until cancelled, sending every received frame to ``frames``.

    Reports started at once (the port need not exist yet: it is waited for) and never returns
    otherwise; an unplugged or failing port is reopened with backoff and the module brought up again.
    Each frame is ``ReceivedFrame(settings.station_id, time.time() at receipt, rssi or None, None, raw)``.
    ``frames`` is closed when this returns (pass a clone to keep yours). On cancel the port is closed.
    """
    await ModuleLink(settings).run(frames, task_status=task_status)


class ModuleLink:
    """:func:`run_module` with its status kept where the gateway's health report can read it."""

    def __init__(self, settings: ModuleSettings) -> None:
        self.settings = settings
        self.status = ModuleStatus(port=settings.port)
        self._debug = False

    async def run(
        self,
        frames: trio.MemorySendChannel[ReceivedFrame],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """See :func:`run_module`."""
        settings, status = self.settings, self.status
        backoff = settings.reopen_backoff
        failures = 0
        task_status.started()
        async with frames:
            try:
                while True:
                    await self._wait_for_device()
                    try:
                        port = SerialPort.open(settings.port, settings.baud)
                    except OSError as error:
                        failures += 1
                        status.last_error = f"cannot open: {error}"
                        delay = backoff.delay_s(failures, random.random())
                        log.warning(
                            "cannot open the serial port",
                            port=settings.port,
                            error=str(error),
                            retry_in_s=round(delay, 1),
                        )
                        await trio.sleep(delay)
                        continue
                    opened_at = trio.current_time()
                    try:
                        await self._session(port, frames)
                    except SerialLost as error:
                        status.losses += 1
                        status.last_error = str(error)
                        log.warning("serial port lost", port=settings.port, error=str(error))
                    finally:
                        port.close()
                        status.serial_state = "closed"
                        status.module_state = ModuleState.IDLE.value
                    if trio.current_time() - opened_at >= backoff.reset_after_s:
                        failures = 0
                    failures += 1
                    await trio.sleep(backoff.delay_s(failures, random.random()))
            finally:
                status.serial_state = "closed"

    async def _wait_for_device(self) -> None:
        path = self.settings.port
        if os.path.exists(path):
            return
        self.status.serial_state = "waiting for device"
        log.info("waiting for the serial device to appear", port=path)
        while not os.path.exists(path):
            await trio.sleep(DEVICE_POLL_S)

    async def _session(self, port: SerialPort, frames: trio.MemorySendChannel[ReceivedFrame]) -> None:
        """One open port: bring the module up and forward its frames until the port fails."""
        settings, status = self.settings, self.status
        status.serial_state = "open"
        status.opens += 1
        # Checked once: a filtered-out structlog call still runs its processors (≈ 10 µs a frame).
        self._debug = logging.getLogger(LOGGER).isEnabledFor(logging.DEBUG)
        log.info("serial port open", port=settings.port, baud=settings.baud)
        connection = ModuleConnection(settings.init_settings())
        now = trio.current_time()
        beacon = Beacon(settings.beacon, now) if settings.beacon is not None else None
        connection.start(now)
        try:
            await self._serve(port, connection, beacon, frames)
        except trio.Cancelled:
            self._drain(port, connection, frames)
            raise

    async def _serve(
        self,
        port: SerialPort,
        connection: ModuleConnection,
        beacon: Beacon | None,
        frames: trio.MemorySendChannel[ReceivedFrame],
    ) -> None:
        status, pause_s = self.status, self.settings.read_pause_s
        frames_at = -math.inf  # when the last read before this one brought frames
        while True:
            outgoing = connection.data_to_send()
            if outgoing:
                await port.write(outgoing)
            frames_read = False
            for event in connection.events():
                if isinstance(event, FrameReceived):
                    frames_read = True
                    frame = self._received(event)
                    try:
                        frames.send_nowait(frame)
                    except trio.WouldBlock:
                        await frames.send(frame)  # back-pressure: the bytes wait in the kernel
                    continue
                await self._handle(event, port, connection)
                if beacon is not None:
                    self._beacon_outcome(beacon.handle_event(event, connection, trio.current_time()))
            status.module_state = connection.state.value
            deadlines = [connection.next_deadline()]
            if beacon is not None:
                deadlines.append(beacon.next_deadline(connection))
            deadline = min((d for d in deadlines if d is not None), default=math.inf)
            if frames_read:
                now = trio.current_time()
                # Frames came in the last two pauses (a batch every pause, when they flow): let more gather.
                if now - frames_at < 2 * pause_s:
                    await trio.sleep_until(min(deadline, now + pause_s))
                frames_at = now
            data = await port.read(deadline)
            now = trio.current_time()
            if data:
                connection.receive_data(data, now)
            connection.handle_timeout(now)
            if beacon is not None:
                self._beacon_outcome(beacon.poll(connection, now))

    def _drain(
        self, port: SerialPort, connection: ModuleConnection, frames: trio.MemorySendChannel[ReceivedFrame]
    ) -> None:
        """Stopping: forward the frames the kernel already holds (no waiting), so none is left behind."""
        connection.receive_data(port.read_available(), trio.current_time())
        for event in connection.events():
            if isinstance(event, FrameReceived):
                try:
                    frames.send_nowait(self._received(event))
                except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
                    log.warning("frame lost at shutdown: the spool writer is not taking more")

    def _received(self, event: FrameReceived) -> ReceivedFrame:
        status = self.status
        status.frames_received += 1
        status.frame_types[event.frame_type] = status.frame_types.get(event.frame_type, 0) + 1
        frame = ReceivedFrame(self.settings.station_id, time.time(), event.rssi_dbm, None, event.raw)
        if self._debug:
            log.debug(
                "frame",
                source=event.address,
                type=event.frame_type,
                bytes=len(event.raw),
                raw=event.raw.hex().upper(),
                rssi=event.rssi_dbm,
            )
        return frame

    async def _handle(self, event: Event, port: SerialPort, connection: ModuleConnection) -> None:
        status = self.status
        if isinstance(event, ResetModule):
            had_reset_line = port.has_reset_line
            if await port.pulse_reset():
                log.info("module reset (RTS pulse)")
            elif had_reset_line:
                log.info(
                    "the port has no reset line; waiting for the module to answer",
                    boot_timeout_s=self.settings.boot_timeout_s,
                )
        elif isinstance(event, MalformedLine):
            status.corrupt_lines += 1
            log.warning("corrupt line from the module", line=event.line, reason=event.reason)
        elif isinstance(event, UnknownLine):
            status.unknown_lines += 1
            log.debug("unknown line from the module", line=event.line)
        elif isinstance(event, Noise):
            status.noise_bytes += len(event.data)
            if self._debug:
                log.debug("noise on the line", data=event.data.hex())
        elif isinstance(event, LineTooLong):
            status.long_lines += 1
            log.warning("over-long line dropped", limit=event.limit, head=event.head.hex())
        elif isinstance(event, ModuleBooted):
            status.boots += 1
            log.info("module booted", state=connection.state.value)
        elif isinstance(event, InitStarted):
            log.info("initialising the module", attempt=event.attempt, reason=event.reason, reset=event.reset)
        elif isinstance(event, InitFailed):
            status.init_failures += 1
            log.warning(
                "module initialisation failed",
                step=event.step.value or "boot",
                reason=event.reason,
                attempt=event.attempt,
                retry_in_s=round(event.retry_at - trio.current_time(), 1),
            )
        elif isinstance(event, ModuleReady):
            status.readies += 1
            status.version = event.version
            status.address = event.address
            log.info("module ready", version=event.version, address=status.address_text)
        elif isinstance(event, ReplyError):
            log.warning(
                "module refused a command", family=event.family.value, code=event.code, text=event.text
            )
        elif isinstance(event, ModuleMessage):
            log.info("module message", code=event.code, text=event.text)

    def _beacon_outcome(self, outcome: BeaconOutcome | None) -> None:
        if outcome is None:
            return
        if isinstance(outcome, BeaconSent):
            self.status.beacons_sent += 1
            log.info("beacon transmitted", sent=self.status.beacons_sent)
        else:
            self.status.beacons_failed += 1
            log.warning("beacon not transmitted", reason=outcome.reason)
