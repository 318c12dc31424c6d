"""systemd's notification protocol (sd_notify): the gateway tells its service manager how it is doing.

Started as a ``Type=notify`` service, the gateway finds ``NOTIFY_SOCKET`` in its environment (a Unix
datagram socket; a name starting with ``@`` lives in the abstract namespace) and, with ``WatchdogSec=``,
``WATCHDOG_USEC`` (and ``WATCHDOG_PID``). It sends ``READY=1`` once it is up (``app.py`` says when),
``WATCHDOG=1`` with a ``STATUS=`` line every half watchdog interval from a task in its nursery — so an
event loop that hangs stops the pings and systemd kills and restarts the gateway — and ``STOPPING=1``
when asked to stop. Without ``NOTIFY_SOCKET`` (started by hand, in a container, under another init)
every call does nothing.

Why not a library: ``sdnotify``, the usual pure-Python one, was last released in 2017 as an sdist whose
``setup.py`` imports ``distutils`` (removed in Python 3.12); it has no type hints, swallows every error
with a bare ``except`` (a misspelt socket path included) and does not read ``WATCHDOG_USEC``. The
bindings to libsystemd (``systemd-python``, ``cysystemd``) are C extensions, to be compiled on a Pi. The
protocol itself is one datagram of ``KEY=value`` lines, which the class below sends as libsystemd's
``sd_notify`` does: a fresh socket per message, so there is no connection to keep or lose.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Mapping

import structlog
import trio

log = structlog.get_logger("fanet.gateway")

STATUS_INTERVAL_S = 10.0
"""How often the ``STATUS=`` line is refreshed when systemd asks for no watchdog pings."""


class Systemd:
    """The service manager at ``NOTIFY_SOCKET``, or nobody (``address`` None): then nothing is sent."""

    def __init__(self, address: str | None = None, watchdog_usec: int | None = None) -> None:
        self.address = address
        """The socket's address as ``socket`` takes it (abstract names start with a NUL)."""
        self.watchdog_usec = watchdog_usec
        """The watchdog timeout systemd enforces; None when it enforces none."""

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Systemd:
        """Read ``NOTIFY_SOCKET``, ``WATCHDOG_USEC`` and ``WATCHDOG_PID`` (from ``os.environ`` by default)."""
        env = os.environ if environ is None else environ
        notify_socket = env.get("NOTIFY_SOCKET", "")
        if not notify_socket:
            return cls()
        if notify_socket.startswith("@"):
            address = "\0" + notify_socket[1:]
        elif notify_socket.startswith("/"):
            address = notify_socket
        else:  # e.g. a vsock: address (a virtual machine's init notifying its host)
            log.warning("NOTIFY_SOCKET not understood; not notifying systemd", notify_socket=notify_socket)
            return cls()
        return cls(address, _watchdog_usec(env))

    @property
    def active(self) -> bool:
        return self.address is not None

    @property
    def watchdog_interval_s(self) -> float | None:
        """How often to send ``WATCHDOG=1``: half the timeout, as sd_watchdog_enabled(3) advises."""
        return None if self.watchdog_usec is None else self.watchdog_usec / 2e6

    def notify(self, *assignments: str) -> None:
        """Send ``assignments`` (``"READY=1"``, ``"STATUS=…"``) in one datagram; a failure is logged.

        Never blocks: if systemd's queue is full the message is dropped (and logged) rather than
        stalling the event loop. Never raises either: a lost notification must not stop the gateway
        (a lost ``READY=1`` or watchdog ping makes systemd restart it, which the log then explains).
        """
        if self.address is None:
            return
        message = "\n".join(assignments).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.setblocking(False)
                sock.sendto(message, self.address)
        except OSError as error:
            log.warning(
                "systemd notification not sent",
                notification=assignments[0],
                socket=self.address.replace("\0", "@"),
                error=str(error),
            )

    async def keep_informed(self, describe: Callable[[], str]) -> None:
        """Until cancelled: ``WATCHDOG=1`` (when systemd asked for pings) and ``STATUS=describe()``.

        Every :attr:`watchdog_interval_s`, else every :data:`STATUS_INTERVAL_S`; returns at once when
        there is no service manager to tell.
        """
        if self.address is None:
            return
        interval_s = self.watchdog_interval_s
        pings = ("WATCHDOG=1",) if interval_s is not None else ()
        while True:
            self.notify(*pings, f"STATUS={describe()}")
            await trio.sleep(interval_s or STATUS_INTERVAL_S)


def _watchdog_usec(env: Mapping[str, str]) -> int | None:
    """``WATCHDOG_USEC`` if it is meant for this process (``WATCHDOG_PID`` absent or ours)."""
    usec, pid = env.get("WATCHDOG_USEC", ""), env.get("WATCHDOG_PID", "")
    if not usec:
        return None
    if pid and pid != str(os.getpid()):
        return None  # set for another process (we were started by one that did not unset it)
    try:
        value = int(usec)
    except ValueError:
        value = 0
    if value <= 0:
        log.warning("WATCHDOG_USEC not understood; not sending watchdog pings", watchdog_usec=usec)
        return None
    return value
