"""The module's serial port under Trio: pyserial sets the line up, the file descriptor does the rest.

pyserial opens the device non-blocking (``O_NONBLOCK``), configures 8N1 at the baud rate, locks it
against a second program (``exclusive``) and drives the modem-control lines for a reset. Reads and
writes then go straight to the descriptor: ``trio.lowlevel.wait_readable`` / ``wait_writable`` and
``os.read`` / ``os.write``, so the event loop never blocks and a read costs one system call (pyserial's
own ``read`` adds a ``select`` per call).

Whatever goes wrong with an open port — the adapter unplugged (``EIO``, end of file), a write that
the device stops taking — raises :class:`SerialLost`; the caller closes the port and opens it again.
"""

from __future__ import annotations

import contextlib
import errno
import os

import serial
import trio

READ_SIZE = 4096
WRITE_TIMEOUT_S = 2.0
"""A module takes 11 kB/s at 115200 baud; a command line not written in this time means a dead port."""
RESET_PULSE_S = 0.1
_NO_MODEM_LINES = (errno.ENOTTY, errno.EINVAL)


class SerialLost(Exception):
    """The port went away or stopped working; the message says how (for the log)."""


class SerialPort:
    """One open serial device. Use :meth:`open`; :meth:`close` is idempotent."""

    def __init__(self, device: serial.Serial) -> None:
        self._device = device
        self._fd: int = device.fileno()
        self._closed = False
        self.has_reset_line = True
        """False once a reset pulse found no modem-control lines (a pty, a bare UART)."""

    @classmethod
    def open(cls, path: str, baud: int) -> SerialPort:
        """Open ``path`` at ``baud`` 8N1; raises ``serial.SerialException`` (an ``OSError``) if it cannot."""
        device = serial.Serial(
            path,
            baud,
            bytesize=serial.EIGHTBITS,
            parity=serial.PARITY_NONE,
            stopbits=serial.STOPBITS_ONE,
            timeout=0,
            exclusive=True,
        )
        return cls(device)

    async def read(self, deadline: float) -> bytes:
        """Bytes the module sent, waiting until some arrive or ``deadline`` (Trio time) passes (→ ``b""``)."""
        with trio.move_on_at(deadline) as waited:
            await trio.lowlevel.wait_readable(self._fd)
        if waited.cancelled_caught:
            return b""  # not a read: pyserial sets VMIN=0, so a tty read with no data returns b"" too
        try:
            data = os.read(self._fd, READ_SIZE)
        except BlockingIOError:
            return b""
        except OSError as error:
            raise SerialLost(f"read failed: {error.strerror or error}") from None
        if not data:  # readable, yet nothing to read: the device is gone (pyserial concludes the same)
            raise SerialLost("end of file (device gone)")
        return data

    def read_available(self) -> bytes:
        """What the kernel holds right now, without waiting; ``b""`` when nothing (or the port failed)."""
        try:
            return os.read(self._fd, READ_SIZE * 4)
        except OSError:
            return b""

    async def write(self, data: bytes) -> None:
        """Write all of ``data``, waiting while the device's buffer is full (at most ``WRITE_TIMEOUT_S``)."""
        view = memoryview(data)
        with trio.move_on_after(WRITE_TIMEOUT_S) as scope:
            while view:
                try:
                    view = view[os.write(self._fd, view) :]
                except BlockingIOError:
                    await trio.lowlevel.wait_writable(self._fd)
                except OSError as error:
                    raise SerialLost(f"write failed: {error.strerror or error}") from None
        if scope.cancelled_caught:
            raise SerialLost(f"write did not complete within {WRITE_TIMEOUT_S:g} s")

    async def pulse_reset(self) -> bool:
        """Reset the module: RTS asserted for ``RESET_PULSE_S`` with DTR released (ESP32-style wiring).

        Returns False (and remembers it) when the port has no modem-control lines: a pty, or a UART
        without them; initialisation then goes on once the running module answers.
        """
        if not self.has_reset_line:
            return False
        try:
            self._device.dtr = False
            self._device.rts = True
            await trio.sleep(RESET_PULSE_S)
            self._device.rts = False
        except OSError as error:
            if error.errno in _NO_MODEM_LINES:
                self.has_reset_line = False
                return False
            raise SerialLost(f"reset pulse failed: {error.strerror or error}") from None
        return True

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        trio.lowlevel.notify_closing(self._fd)
        with contextlib.suppress(OSError):  # an unplugged device may fail to close; the fd is released
            self._device.close()
