"""sd_notify as systemd receives it: a Unix datagram socket, by path or in the abstract namespace."""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from fanet.gateway.systemd import Systemd


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[socket.socket]:
    """systemd's end: bound at ``tmp_path/notify``."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(tmp_path / "notify"))
        sock.settimeout(5)
        yield sock


def test_without_notify_socket_nothing_is_sent_and_nothing_fails() -> None:
    systemd = Systemd.from_environment({"WATCHDOG_USEC": "30000000"})
    assert not systemd.active
    systemd.notify("READY=1")  # a no-op


def test_messages_reach_a_socket_given_by_path(receiver: socket.socket) -> None:
    systemd = Systemd.from_environment({"NOTIFY_SOCKET": receiver.getsockname()})
    systemd.notify("READY=1", "STATUS=module ready")
    assert receiver.recv(4096) == b"READY=1\nSTATUS=module ready"
    assert systemd.watchdog_interval_s is None


def test_an_at_sign_means_the_abstract_namespace() -> None:
    name = f"fanet-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        Systemd.from_environment({"NOTIFY_SOCKET": "@" + name}).notify("STOPPING=1")
        assert sock.recv(4096) == b"STOPPING=1"


def test_watchdog_pings_at_half_the_timeout_for_this_process_only() -> None:
    env = {"NOTIFY_SOCKET": "/run/systemd/notify", "WATCHDOG_USEC": "30000000"}
    assert Systemd.from_environment(env).watchdog_interval_s == 15.0
    mine = Systemd.from_environment({**env, "WATCHDOG_PID": str(os.getpid())})
    assert mine.watchdog_interval_s == 15.0
    # Inherited from a parent the watchdog was meant for:
    assert Systemd.from_environment({**env, "WATCHDOG_PID": "1"}).watchdog_interval_s is None
    assert Systemd.from_environment({**env, "WATCHDOG_USEC": "soon"}).watchdog_interval_s is None


def test_an_address_it_cannot_use_turns_notification_off() -> None:
    assert not Systemd.from_environment({"NOTIFY_SOCKET": "vsock:2:1234"}).active


def test_a_socket_nobody_listens_on_is_logged_not_raised(tmp_path: Path) -> None:
    Systemd.from_environment({"NOTIFY_SOCKET": str(tmp_path / "gone")}).notify("WATCHDOG=1")


async def test_keep_informed_pings_with_the_status_until_cancelled(receiver: socket.socket) -> None:
    systemd = Systemd(receiver.getsockname(), watchdog_usec=100_000)
    counter = iter(range(100))
    with trio.move_on_after(0.3):  # pings every 0.05 s: about six
        await systemd.keep_informed(lambda: f"frames: {next(counter)}")
    receiver.setblocking(False)
    received = []
    with contextlib.suppress(BlockingIOError):
        while True:
            received.append(receiver.recv(4096))
    assert len(received) >= 3
    assert received == [f"WATCHDOG=1\nSTATUS=frames: {n}".encode() for n in range(len(received))]


async def test_keep_informed_without_watchdog_only_updates_the_status(receiver: socket.socket) -> None:
    systemd = Systemd(receiver.getsockname())
    with trio.move_on_after(0.1):
        await systemd.keep_informed(lambda: "module ready")
    assert receiver.recv(4096) == b"STATUS=module ready"  # once: the next is STATUS_INTERVAL_S away
    receiver.setblocking(False)
    with pytest.raises(BlockingIOError):
        receiver.recv(4096)


async def test_keep_informed_outside_systemd_returns_at_once() -> None:
    with trio.fail_after(1):
        await Systemd().keep_informed(lambda: "never asked")
