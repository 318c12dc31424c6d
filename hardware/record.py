"""``fanet record``'s engine: a real serial port → a capture file, alone or as a tee for the gateway.

Alone, it reads the port (pyserial opens it non-blocking, 8N1; we wait with
``trio.lowlevel.wait_readable`` on its file descriptor) and writes every chunk it reads as ``rx``.
As a tee (``link`` given), it also presents a pty at the link path: the gateway opens that instead
of the port, every byte is forwarded both ways and recorded (``rx`` module → gateway, ``tx`` gateway
→ module). A pty has no modem lines, so a gateway's reset pulse does not reach the module through the
tee: the gateway then waits for its boot timeout and asks the running module (``#DGV``) instead.
Bytes from the module while no gateway has the pty open are recorded but go nowhere.

It stops after ``duration_s``, on SIGINT/SIGTERM (or cancellation), or when the port goes away
(unplugged: :attr:`RecordSummary.port_lost`). The capture is flushed chunk by chunk, so it is
complete up to the moment it stopped.
"""

import errno
import os
import signal
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import serial
import structlog
import trio

from fanet.hardware._capture import CaptureHeader, CaptureWriter, Chunk, Direction
from fanet.hardware._pty import DeviceError, PtyDevice

ATTACH_POLL_S = 0.05
log = structlog.get_logger("fanet.record")


class RecordError(Exception):
    """The recording cannot start: the port cannot be opened, or the tee's link path is taken."""


@dataclass(slots=True)
class RecordSummary:
    rx_bytes: int = 0
    tx_bytes: int = 0
    chunks: int = 0
    seconds: float = 0.0
    port_lost: bool = False


def open_port(port: str, baud: int) -> serial.Serial:
    """The port at ``baud`` 8N1, non-blocking (pyserial opens with ``O_NONBLOCK``; ``timeout=0``)."""
    return serial.Serial(
        port,
        baudrate=baud,
        bytesize=serial.EIGHTBITS,
        parity=serial.PARITY_NONE,
        stopbits=serial.STOPBITS_ONE,
        timeout=0,
        write_timeout=0,
        exclusive=True,
    )


class Recorder:
    """One recording: the open port, the capture writer, and the tee's pty when there is one.

    :meth:`run` returns its summary when the duration is up, on SIGINT/SIGTERM, when its scope is
    cancelled, or when the port is lost; the tee's link is removed in every case.
    """

    def __init__(self, port: serial.Serial, writer: CaptureWriter, link: Path | None = None) -> None:
        self._fd = port.fileno()
        self._writer = writer
        self._tee = PtyDevice(link) if link is not None else None
        self._start = 0.0
        self._tee_attached = False
        self.summary = RecordSummary()

    async def run(
        self,
        duration_s: float | None = None,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> RecordSummary:
        self._start = trio.current_time()
        if self._tee is not None:
            name = self._tee.plug()
            log.info("tee ready", link=str(self._tee.link), device=name)
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_stop_on_signal, nursery.cancel_scope)
                if duration_s is not None:
                    nursery.cancel_scope.deadline = self._start + duration_s
                nursery.start_soon(self._from_port, nursery.cancel_scope)
                if self._tee is not None:
                    nursery.start_soon(self._from_gateway, self._tee)
                task_status.started()
        finally:
            if self._tee is not None:
                self._tee.unplug()
            self.summary.seconds = round(trio.current_time() - self._start, 3)
            self.summary.chunks = self._writer.chunks
        return self.summary

    def _record(self, direction: Direction, data: bytes) -> None:
        self._writer.write(Chunk(trio.current_time() - self._start, direction, data))
        if direction is Direction.RX:
            self.summary.rx_bytes += len(data)
        else:
            self.summary.tx_bytes += len(data)

    async def _from_port(self, scope: trio.CancelScope) -> None:
        """Module → capture (and → gateway through the tee)."""
        while True:
            try:
                await trio.lowlevel.wait_readable(self._fd)
                data = os.read(self._fd, 4096)
            except BlockingIOError:
                continue
            except OSError as error:
                self._lost(scope, error.strerror or str(error))
                return
            if not data:
                self._lost(scope, "end of file")
                return
            self._record(Direction.RX, data)
            if self._tee is not None and self._tee.host_attached():
                await self._tee.write(data)

    async def _from_gateway(self, tee: PtyDevice) -> None:
        """Gateway → capture → module, while a gateway has the tee open."""
        while True:
            attached = tee.host_attached()
            if attached != self._tee_attached:
                self._tee_attached = attached
                log.info("gateway opened the tee" if attached else "gateway closed the tee")
            if not attached:
                await trio.sleep(ATTACH_POLL_S)
                continue
            await tee.wait_readable()
            data = tee.read()
            if data:
                self._record(Direction.TX, data)
                await self._to_port(data)

    async def _to_port(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self._fd, view) :]
            except BlockingIOError:
                await trio.lowlevel.wait_writable(self._fd)
            except OSError as error:
                if error.errno in (errno.EIO, errno.ENXIO, errno.ENODEV):
                    return  # the reader notices the lost port and stops the recording
                raise

    def _lost(self, scope: trio.CancelScope, reason: str) -> None:
        log.error("serial port lost", reason=reason)
        self.summary.port_lost = True
        scope.cancel()


async def _stop_on_signal(scope: trio.CancelScope) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            log.info("stopping", signal=signal.Signals(signum).name)
            scope.cancel()
            return


def record_to_file(
    port: str, out: Path, *, baud: int = 115200, duration_s: float | None = None, link: Path | None = None
) -> RecordSummary:
    """Record until done (see the module docstring); raises :class:`RecordError` if it cannot start."""
    try:
        connection = open_port(port, baud)
    except (serial.SerialException, OSError) as error:
        raise RecordError(f"cannot open {port}: {error}") from None
    log.info("recording", port=port, baud=baud, out=str(out), link=str(link) if link else None)
    try:
        with connection, CaptureWriter.create(out, capture_header(port, baud, link)) as writer:
            summary = trio.run(Recorder(connection, writer, link).run, duration_s)
    except DeviceError as error:
        raise RecordError(str(error)) from None
    log.info("recording finished", out=str(out), **asdict(summary))
    return summary


def capture_header(port: str, baud: int, link: Path | None) -> CaptureHeader:
    source = f"serial:{port}" if link is None else f"tee:{port}<->{link}"
    created = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return CaptureHeader(created=created, source=source, baud=baud)
