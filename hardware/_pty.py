"""A pseudo-terminal standing in for a USB serial adapter: the I/O edge of replay and of recording's tee.

:meth:`PtyDevice.plug` opens a pty in raw mode (no echo, no line editing: bytes pass as they are)
and points a symlink at its device (``/dev/pts/N``), which the host opens like ``/dev/ttyUSB0``;
:meth:`PtyDevice.unplug` closes it and removes the link, so the host's reads fail as after a real
unplug. We do not keep the device side open ourselves: then the kernel tells us, through ``POLLHUP``
on our side, whether a host has it open (:meth:`PtyDevice.host_attached`), and nothing we write while
no host is there is kept for the next one (we drop it instead of writing).

Reads and writes are non-blocking; the async waits use ``trio.lowlevel.wait_readable``/``wait_writable``
on the file descriptor. While no host has the device open, our side reports hang-up and is always
"readable": poll :meth:`PtyDevice.host_attached` instead of waiting on it.
"""

import errno
import os
import select
import tty
from pathlib import Path

import trio

WRITE_TIMEOUT_S = 1.0
"""How long a write waits for a host that does not read before the rest is dropped (as a real
USB-serial bridge drops bytes when its buffer is full)."""


class DeviceError(Exception):
    """The device cannot be presented at the link path (a file is in the way, no permission …)."""


class PtyDevice:
    def __init__(self, link: Path) -> None:
        self.link = link
        self._master: int | None = None
        self._name = ""

    @property
    def plugged(self) -> bool:
        return self._master is not None

    @property
    def device_name(self) -> str:
        """The pty's own device path (``/dev/pts/N``), empty while unplugged."""
        return self._name

    def plug(self) -> str:
        """Create the pty and the link to it; returns the device path. Raises :class:`DeviceError`."""
        if self._master is not None:
            raise DeviceError(f"{self.link} is plugged in already")
        if self.link.exists() and not self.link.is_symlink():
            raise DeviceError(f"{self.link} exists and is not a symbolic link; not replacing it")
        master, slave = os.openpty()
        try:
            tty.setraw(slave)
            name = os.ttyname(slave)
        finally:
            os.close(slave)
        os.set_blocking(master, False)
        temporary = self.link.with_name(f".{self.link.name}.{os.getpid()}.tmp")
        try:
            temporary.unlink(missing_ok=True)
            os.symlink(name, temporary)
            os.replace(temporary, self.link)
        except OSError as error:
            os.close(master)
            raise DeviceError(f"cannot create the link {self.link}: {error.strerror}") from None
        self._master, self._name = master, name
        return name

    def unplug(self) -> None:
        """Close the pty (the host's reads fail) and remove the link if it still points at it."""
        if self._master is None:
            return
        trio.lowlevel.notify_closing(self._master)
        os.close(self._master)
        self._master = None
        try:
            if os.readlink(self.link) == self._name:
                self.link.unlink()
        except OSError:
            pass  # gone already, or replaced by someone else: leave it
        self._name = ""

    def host_attached(self) -> bool:
        """Whether a host has the device open right now."""
        if self._master is None:
            return False
        poller = select.poll()
        poller.register(self._master, select.POLLIN)
        return not any(mask & select.POLLHUP for _, mask in poller.poll(0))

    def read(self) -> bytes | None:
        """What the host wrote (``b""``: nothing yet); ``None`` when no host has the device open."""
        if self._master is None:
            return None
        try:
            return os.read(self._master, 4096)
        except BlockingIOError:
            return b""
        except OSError as error:
            if error.errno == errno.EIO:
                return None
            raise

    async def wait_readable(self) -> None:
        if self._master is None:
            raise trio.ClosedResourceError("the device is unplugged")
        await trio.lowlevel.wait_readable(self._master)

    async def write(self, data: bytes) -> int:
        """Write to the host; returns the bytes written (the rest was dropped: no host, or not reading)."""
        view = memoryview(data)
        written = 0
        with trio.move_on_after(WRITE_TIMEOUT_S):
            while written < len(view) and self._master is not None:
                try:
                    written += os.write(self._master, view[written:])
                except BlockingIOError:
                    await trio.lowlevel.wait_writable(self._master)
                except OSError as error:
                    if error.errno == errno.EIO:
                        break
                    raise
        await trio.lowlevel.checkpoint_if_cancelled()
        return written
