"""One load-generator process of the WebSocket benchmark: many trio-websocket connections, counted.

:func:`client_process` runs in a process of its own (``multiprocessing``, spawn) and talks to the
benchmark over a pipe: it opens every connection (``ramp`` handshakes at a time), reports how many
opened, then on ``"start"`` counts what arrives until ``"stop"``, reports, and on ``"close"`` closes
its connections and returns.

Two kinds of server: ``fanet`` (the live-updates protocol: frames are ``ServerMessage``s, each decoded
with the upb backend to count updates; a *probe* connection also decodes the Pilots and notes, per pilot
update, the report key of :mod:`bench._ws_traffic` and when it arrived) and ``bare`` (the baseline
broadcast server of :mod:`bench._ws_bare`: each message starts with its CLOCK_MONOTONIC send time, so a
probe connection measures the delay itself). A process holds either probes or load, never both: probes
then measure the delay without waiting behind thousands of other connections in their own event loop.
"""

from __future__ import annotations

import gc
import os
import resource
import struct
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection

import trio
from trio_websocket import ConnectionClosed, HandshakeError, WebSocketConnection, open_websocket_url

from bench._ws_traffic import key_of_pilot
from fanet.proto import fanet_pb2 as pb

now = time.monotonic
PILOT = pb.UPDATE_TYPE_PILOT
CONNECT_DEADLINE_S = 400
PING_TAG = b"\x32"  # ServerMessage.ping: field 6, length-delimited


def raise_open_files_limit() -> tuple[int, int]:
    """Raise this process's RLIMIT_NOFILE soft limit to the hard limit; returns (soft, hard)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


@dataclass
class Tally:
    """What one process's connections received while counting (``"start"`` to ``"stop"``)."""

    connected: int = 0
    failed: int = 0
    closed_early: int = 0
    frames: int = 0
    bytes: int = 0
    probe_frames: int = 0
    probe_bytes: int = 0
    probe_updates: int = 0
    cpu_s: float = 0.0
    """This process's CPU while counting."""
    pilot_update_bytes: list[int] = field(default_factory=list)
    """Size of a sample of pilot UPDATEs as ``UpdateBatch.updates`` entries (tag, length, Update)."""
    receipts: list[tuple[int, float, float]] = field(default_factory=list)
    """fanet probes, per pilot update: (report key, arrival time, age by the report's own whole-second
    timestamp — a coarse check that the key matched the right report)."""
    delays_s: list[float] = field(default_factory=list)
    """bare: the delay of every message (send stamp to arrival)."""
    first_error: str = ""


class _Counter:
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.counting = False
        self.tally = Tally()


async def _fanet_connection(ws: WebSocketConnection, counter: _Counter, probe: bool) -> None:
    """Count frames and bytes; a probe also decodes its batches (updates, pilot report keys)."""
    tally = counter.tally
    while True:
        raw = await ws.get_message()
        arrived = now()
        assert isinstance(raw, bytes)
        if raw[:1] == PING_TAG:
            ping = pb.ServerMessage.FromString(raw).ping
            await ws.send_message(
                pb.ClientMessage(pong=pb.Pong(timestamp=ping.timestamp)).SerializeToString()
            )
            continue
        if not counter.counting:
            continue
        tally.frames += 1
        tally.bytes += len(raw)
        if not probe:
            continue
        tally.probe_frames += 1
        tally.probe_bytes += len(raw)
        message = pb.ServerMessage.FromString(raw)
        if message.WhichOneof("message") != "batch":
            continue
        updates = message.batch.updates
        tally.probe_updates += len(updates)
        for update in updates:
            if update.type != PILOT or update.action == pb.ACTION_REMOVE:
                continue
            if update.HasField("motion"):  # compact (see PilotMotion's units)
                motion = update.motion
                key = key_of_pilot(motion.addr, motion.course / 10, motion.climb / 10)
                last_update = message.batch.timestamp - motion.age
            else:
                pilot = pb.Pilot.FromString(update.data)
                key = key_of_pilot(pilot.addr, pilot.course, pilot.climb)
                last_update = pilot.last_update
            tally.receipts.append((key, arrived, time.time() - last_update))
            if update.action == pb.ACTION_UPDATE and len(tally.pilot_update_bytes) < 2000:
                size = update.ByteSize()
                tally.pilot_update_bytes.append(1 + (1 if size < 128 else 2) + size)


async def _bare_connection(ws: WebSocketConnection, counter: _Counter, probe: bool) -> None:
    tally = counter.tally
    while True:
        raw = await ws.get_message()
        arrived = now()
        if not counter.counting:
            continue
        assert isinstance(raw, bytes)
        tally.frames += 1
        tally.bytes += len(raw)
        if probe:
            tally.delays_s.append(arrived - struct.unpack_from("d", raw)[0])


async def _until_closed(
    serve: Callable[[WebSocketConnection, _Counter, bool], Awaitable[None]],
    ws: WebSocketConnection,
    counter: _Counter,
    probe: bool,
    stop: trio.Event,
) -> None:
    try:
        await serve(ws, counter, probe)
    except ConnectionClosed as closed:
        if not stop.is_set():
            counter.tally.closed_early += 1
            counter.tally.first_error = counter.tally.first_error or f"closed by the server: {closed.reason}"


async def _connection(
    url: str, counter: _Counter, probe: bool, ramp: trio.CapacityLimiter, stop: trio.Event
) -> None:
    tally = counter.tally
    await ramp.acquire()
    ramping = True
    try:
        async with open_websocket_url(url, connect_timeout=60, disconnect_timeout=5) as ws:
            ramp.release()
            ramping = False
            tally.connected += 1
            serve = _fanet_connection if counter.kind == "fanet" else _bare_connection
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_until_closed, serve, ws, counter, probe, stop)
                await stop.wait()
                nursery.cancel_scope.cancel()
    except (HandshakeError, OSError, trio.TooSlowError) as error:
        tally.failed += 1
        tally.first_error = tally.first_error or f"{type(error).__name__}: {error}"
    finally:
        if ramping:
            ramp.release()


async def _run(kind: str, urls: list[str], probe: bool, ramp_size: int, control: Connection) -> None:
    counter = _Counter(kind)
    ramp = trio.CapacityLimiter(ramp_size)
    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        for url in urls:
            nursery.start_soon(_connection, url, counter, probe, ramp, stop)
        # Wait until every handshake finished (or failed) and let the first frames (Welcome, snapshot) pass;
        # connections still opening after ``CONNECT_DEADLINE_S`` are reported as pending, not waited for.
        tally = counter.tally
        with trio.move_on_after(CONNECT_DEADLINE_S):
            while tally.connected + tally.failed < len(urls):
                await trio.sleep(0.1)
        pending = len(urls) - tally.connected - tally.failed
        if pending:
            tally.first_error = (
                tally.first_error or f"{pending} connections still opening after {CONNECT_DEADLINE_S} s"
            )
        await trio.sleep(0.5)
        gc.freeze()  # the connections live until the end: keep the collector off them
        control.send(("connected", tally.connected, tally.failed, tally.first_error))
        command = await trio.to_thread.run_sync(control.recv)
        if command == "start":
            counter.counting = True
            cpu = time.process_time()
            command = await trio.to_thread.run_sync(control.recv)
            tally.cpu_s = time.process_time() - cpu
        counter.counting = False
        if command == "stop":
            control.send(("tally", counter.tally))
            command = await trio.to_thread.run_sync(control.recv)
        stop.set()


def client_process(
    kind: str, urls: list[str], probe: bool, ramp: int, nice: int, control: Connection
) -> None:
    """The process's entry point (see the module docstring): ``probe``: its connections are probes (they
    measure the delay); ``nice``: added to the process's niceness (the load without the probes runs niced,
    as if on machines of its own, so that it does not take the cores the server and the probes need)."""
    raise_open_files_limit()
    if nice:
        os.nice(nice)
    gc.set_threshold(20_000, 20, 20)  # as the servers do: the load generator should cost little
    try:
        trio.run(_run, kind, urls, probe, ramp, control)
    except BaseException as error:
        control.send(("error", repr(error)))
        raise
