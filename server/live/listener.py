"""The WebSocket listener: ``/ws/v1/updates`` on its own trio-websocket server, in the server's nursery.

Tasks (all inside :func:`serve_websockets`):
- the fan-out task follows the store's change stream (``wait_for_changes``, so every replica sharing a
  Redis serves every change, in sequence order) and hands it to the :class:`~.hub.Hub`;
- per connection, a receive loop (client messages into the :class:`~.subscriber.Subscriber`), one sender
  task and a sync task while the client is being caught up (snapshot or replay from the store, at most
  ``sync_concurrency`` at once);
- the timekeeping tasks (:meth:`UpdatesListener.keep_time`): the writer task, and a watchdog that closes
  with 1001 a client whose send has not completed for ``max_lag_s`` (checked every quarter of it) — one
  slow client never holds up another, and what it is owed is bounded by its outbox.

Frames out. A subscriber says when it next has something to send (a batch falls due, a ping) and wakes
its connection when something comes sooner (an answer, a distress call, a change with interval 0). Both
reach the one writer task: the times through :class:`~.alarms.Alarms` (ticks shared by the connections
instead of a Trio deadline each, whose expiry is a costly cancellation), the wake-ups through a list
(which the fan-out task empties itself after each chunk of changes: a change due at once goes out in the
step that routed it, one hop sooner). Each connection's due frames are written straight to the socket
(:class:`~.stream.DirectStream`), so that a batch costs no task switch at all. Only what has to wait —
a socket that takes less than a whole frame, a close, a write while trio-websocket writes — goes to the
connection's sender task, which is otherwise parked (and is the only writer for streams without the
direct path, as in tests over in-memory streams).

Shutdown: when the task running :func:`serve_websockets` is cancelled, it stops accepting, stops following,
sends every client a close frame with 1001 and waits up to ``close_grace_s`` for them to answer, then
cancels what is left. The connection tasks sit in a shielded scope until then, so the outer cancellation
does not tear them down before their close frame is out.

Time: the core runs on unix seconds derived from Trio's clock (:class:`~fanet.server.clock.UnixClock`), so tests can drive it
with the mock clock.
"""

import gc
import itertools
import json
import urllib.parse
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from time import perf_counter

import structlog
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, WebSocketRequest, wrap_server_stream

from fanet.server.clock import UnixClock
from fanet.server.live.alarms import Alarms
from fanet.server.live.hub import Hub
from fanet.server.live.region import Region
from fanet.server.live.settings import LiveSettings
from fanet.server.live.stream import DirectStream, frame_of
from fanet.server.live.subscriber import CLOSE_GOING_AWAY, Close, Resubscribe, Subscriber
from fanet.server.model import Kind
from fanet.server.store import Store, StoreUnavailable

PATH = "/ws/v1/updates"
CLOSE_INTERNAL_ERROR = 1011
ALARM_RESOLUTION_S = 0.01
"""Batches and pings go out at most this much after their time."""
WRITE_STEP_S = 0.005
"""How long the writer task writes before it lets the other tasks run. Every task that hands a frame on
(MQTT reader, ingest, pipeline, store writer, fan-out) waits for the step under way once per hop: at
10,000 clients with interval 0, steps of 256 writes (≈ 8 ms) made that ≈ 15 ms a hop (measured with a
Trio instrument)."""
FOLLOW_CHUNK = 4
"""Changes the fan-out task routes, and writes what they woke, in one step when caught up (at 10,000
clients with interval 0 ≈ 1–2 ms: a step of all of a store write's changes held ingest up for its whole
fan-out)."""
FOLLOW_STEPS = 16
"""Steps at most for a read of the change stream that is caught up (at most ``FOLLOW_CHUNK`` ×
``FOLLOW_STEPS`` changes). Measured at 10,000 clients with interval 0, against 16 changes in at most 4
steps: loop lag p50/p95/p99 ≤ 5–10/25/50 ms → ≤ 2.5/10/25, the server's outbox wait ≤ 5/10/25 →
≤ 1/5/10, arrival→store ≤ 50/100/100 → ≤ 25/50/100, at no more CPU (Trio instrument, ``bench/ws_load.py``)."""
BEHIND_STEPS = 4
"""Steps at most for a larger read: the task gets one step per round of the event loop, so the more steps
a read takes, the further behind it falls when the rounds grow long. A fixed chunk a step fell 20 s behind
in a connect storm; 16 steps fell 15 s behind in a run where the collector and a slow stretch of the
machine lengthened the rounds; a whole read in one step stalled everything for 100 ms."""


def follow_chunk(pending: int) -> int:
    """How many of ``pending`` changes the fan-out task routes a step: small steps while it keeps up, at
    most ``BEHIND_STEPS`` steps when it does not."""
    if pending <= FOLLOW_CHUNK * FOLLOW_STEPS:
        return FOLLOW_CHUNK
    return -(-pending // BEHIND_STEPS)


log = structlog.get_logger("fanet.live")


@dataclass(frozen=True, slots=True)
class UpdatesRequest:
    """What the URL of a connection asks for."""

    region: Region
    as_json: bool
    last_sequence: int
    token: str | None
    compact: bool = False


class BadRequest(ValueError):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


def parse_request(target: str) -> UpdatesRequest:
    """``/ws/v1/updates?lat&lon&radius[&token][&format=json][&last_sequence][&compact=true]``, or
    :class:`BadRequest` naming the parameter. ``last_sequence`` (our extension) resumes without racing the
    first snapshot; ``compact`` (ours too) asks for a pilot's moves as ``PilotMotion``."""
    url = urllib.parse.urlsplit(target)
    if url.path != PATH:
        raise BadRequest(404, "not_found", f"no WebSocket at {url.path}; updates are at {PATH}")
    query = dict(urllib.parse.parse_qsl(url.query))
    numbers = {}
    for name in ("lat", "lon", "radius"):
        try:
            numbers[name] = float(query[name])
        except KeyError:
            raise BadRequest(400, "invalid_parameter", f"{name} is missing") from None
        except ValueError:
            raise BadRequest(400, "invalid_parameter", f"{name}={query[name]!r} is not a number") from None
    try:
        region = Region.around(numbers["lat"], numbers["lon"], numbers["radius"])
    except ValueError as error:
        raise BadRequest(400, "invalid_parameter", str(error)) from None
    fmt = query.get("format", "protobuf")
    if fmt not in ("protobuf", "json"):
        raise BadRequest(400, "invalid_parameter", f"format={fmt!r}: use protobuf (default) or json")
    last = query.get("last_sequence", "0")
    if not last.isdigit():
        raise BadRequest(400, "invalid_parameter", f"last_sequence={last!r} is not a sequence number")
    compact = query.get("compact", "false")
    if compact not in _FLAGS:
        raise BadRequest(400, "invalid_parameter", f"compact={compact!r}: use true or false")
    if _FLAGS[compact] and fmt == "json":
        raise BadRequest(
            400, "invalid_parameter", "compact=true is for protobuf: the JSON mirror has no compact form"
        )
    return UpdatesRequest(region, fmt == "json", int(last), query.get("token"), _FLAGS[compact])


_FLAGS = {"true": True, "1": True, "false": False, "0": False}


async def serve_websockets(
    hub: Hub,
    store: Store,
    settings: LiveSettings,
    *,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve live updates until cancelled; reports the bound port through ``task_status``.

    On cancellation every client gets a 1001 close frame first (see the module docstring); returns only
    by raising the cancellation.
    """
    listener = UpdatesListener(hub, store, settings)
    async with trio.open_nursery() as guard:
        stopping = trio.Event()
        guard.start_soon(_set_on_cancel, stopping)
        with trio.CancelScope(shield=True):
            await listener.run(stopping, task_status)


async def _set_on_cancel(event: trio.Event) -> None:
    try:
        await trio.sleep_forever()
    finally:
        event.set()


class _Connection:
    """The I/O side of one subscriber: its socket, its parked sender and task scopes."""

    __slots__ = (
        "__weakref__",
        "armed_at",
        "lag_scope",
        "listener",
        "parked",
        "queued",
        "ref",
        "sending_since",
        "stream",
        "subscriber",
        "sync_scope",
        "ws",
    )

    def __init__(
        self, ws: WebSocketConnection, stream: DirectStream | None, listener: "UpdatesListener"
    ) -> None:
        self.ws = ws
        self.stream = stream
        """Where frames may be written without awaiting (``None``: only through ``ws``, as in tests over
        in-memory streams)."""
        self.listener = listener
        self.subscriber: Subscriber | None = None
        """Set once the hub knows the client; dropped when it leaves (no cycle through ``wakeup``)."""
        self.parked: trio.lowlevel.Task | None = None
        """The sender while it waits in :meth:`park`."""
        self.queued = False
        """Whether the writer task has this connection in its list of connections to look at."""
        self.sync_scope: trio.CancelScope | None = None
        self.lag_scope = trio.CancelScope()
        """Around the sender's loop; the watchdog cancels it when a send takes longer than ``max_lag_s``."""
        self.sending_since: float | None = None
        """When the send in progress started (unix seconds), ``None`` between sends."""
        self.ref = weakref.ref(self)
        """What the alarms hold: a closed connection must not wait in them for its next ping time."""
        self.armed_at: float | None = None
        """The last time :meth:`UpdatesListener.arm` set for it, while that alarm has not rung."""

    def wake(self, at: float) -> None:
        """The subscriber has something to send from ``at`` on, sooner than it said: the writer task looks
        at it then. While the sender is busy nothing is needed: it asks again before it parks (it never
        awaits between asking and parking)."""
        if self.parked is not None:
            self.listener.look_at(self, at)

    @property
    def direct(self) -> DirectStream | None:
        """The stream to write a frame to without awaiting, if that may be done now: there is one, no
        write is in progress or kept on it, and trio-websocket has not begun closing."""
        stream = self.stream
        if stream is None or not stream.idle or self.ws.closed is not None:
            return None
        return stream

    def wake_sender(self) -> None:
        task = self.parked
        if task is not None:
            self.parked = None
            trio.lowlevel.reschedule(task)

    async def park(self) -> None:
        """Wait for :meth:`wake_sender` (or a cancellation). Not a ``trio.Event``: an Event, its parking lot
        and the waits' coroutines per sleep were most of what the 1 s batch grid allocated at once, which
        set off the cyclic collector at every tick (measured with ``fanet_gc_seconds``)."""
        self.parked = trio.lowlevel.current_task()

        def abort(_: object) -> trio.lowlevel.Abort:
            self.parked = None
            return trio.lowlevel.Abort.SUCCEEDED

        await trio.lowlevel.wait_task_rescheduled(abort)


class UpdatesListener:
    """Serves ``/ws/v1/updates`` for one hub (see the module docstring); :meth:`handle` serves one
    WebSocket request, whatever stream it came on (tests use in-memory streams)."""

    def __init__(self, hub: Hub, store: Store, settings: LiveSettings) -> None:
        self.hub, self.store, self.settings = hub, store, settings
        self.clock = UnixClock()
        self._sync_limiter = trio.CapacityLimiter(settings.sync_concurrency)
        self._open = 0
        self._all_gone = trio.Event()
        self._connections: set[_Connection] = set()
        # 10 ms ticks: each tick is one wake-up of the alarm task, a Trio deadline (a cancellation, ≈ 50 µs);
        # with batches staggered over the interval, 1 ms ticks cost 5 % of a core for nothing (measured).
        self._alarms: Alarms[weakref.ref[_Connection]] = Alarms(resolution_s=ALARM_RESOLUTION_S)
        self._rearm = trio.Event()
        """Set when an alarm earlier than the one the writer task sleeps until was set, or a connection
        was woken."""
        self._woken: list[_Connection] = []
        """Connections the writer task is to look at (see :meth:`look_at`)."""

    async def run(self, stopping: trio.Event, task_status: trio.TaskStatus[int]) -> None:
        settings = self.settings
        position = await self._first_position(stopping)
        if position is None:
            return  # stopped before the store was reachable
        self.hub.start(position)
        listeners = await trio.open_tcp_listeners(settings.port, host=settings.host)
        port = listeners[0].socket.getsockname()[1]
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self.keep_time)
            accepting = await _start_cancellable(
                nursery,
                partial(trio.serve_listeners, self._serve_connection, listeners, handler_nursery=nursery),
            )
            following = await _start_cancellable(nursery, self._follow)
            log.info("websocket listener ready", host=settings.host, port=port, path=PATH)
            if settings.freeze_gc:
                gc.freeze()  # start-up objects live for good: the collector need not scan them again
            task_status.started(port)
            await stopping.wait()
            accepting.cancel()
            following.cancel()
            log.info("closing websocket clients", clients=len(self.hub.subscribers))
            for subscriber in list(self.hub.subscribers):
                subscriber.close(CLOSE_GOING_AWAY, "server shutting down")
            with trio.move_on_after(settings.close_grace_s + 0.5):
                if self._open:
                    await self._all_gone.wait()
            nursery.cancel_scope.cancel()

    async def _first_position(self, stopping: trio.Event) -> int | None:
        """The store's current sequence, retried while the store is down; ``None`` if stopped meanwhile."""
        backoff = 0.1
        while not stopping.is_set():
            try:
                return await self.store.current_sequence()
            except StoreUnavailable as error:
                log.warning(
                    "store unavailable; websocket listener waits", error=str(error), retry_in_s=backoff
                )
                with trio.move_on_after(backoff):
                    await stopping.wait()
                backoff = min(backoff * 2, 5.0)
        return None

    # --- time ---------------------------------------------------------------------------------------------

    async def keep_time(self) -> None:
        """The writer task and the lag watchdog, until cancelled (see the module docstring)."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._write_due)
            nursery.start_soon(self._watch_lag)

    def look_at(self, connection: _Connection, at: float) -> None:
        """Have the writer task look at a connection whose sender is parked (:meth:`_Connection.wake`):
        at once, or by its alarm when ``at`` lies ahead (the next batch slot)."""
        if at > self.clock.now():
            self.arm(connection, at)
        elif not connection.queued:
            connection.queued = True
            if not self._woken:
                self._rearm.set()
            self._woken.append(connection)

    def arm(self, connection: _Connection, at: float) -> None:
        """Have the writer task look at a connection at ``at``. The time it was armed for last, while that
        alarm has not rung, costs nothing: most writes re-arm the client's next ping, and re-registering
        it (a cold wheel slot per write) was 3 % of the server's CPU at 10,000 clients (py-spy)."""
        if at != connection.armed_at:
            connection.armed_at = at
            if self._alarms.set(at, connection.ref):
                self._rearm.set()

    async def _write_due(self) -> None:
        """The writer task: the connections whose alarm rang or that were woken get what is due written
        straight to their sockets, here, without waking their senders unless a write has to wait."""
        alarms, clock = self._alarms, self.clock
        while True:
            self._rearm = trio.Event()
            at = alarms.next_at()
            if not self._woken and at > clock.now():
                with trio.move_on_at(clock.to_trio(at)):
                    await self._rearm.wait()
            else:
                await trio.lowlevel.checkpoint()
            woken = self._take_woken()
            rung = [alive for ref in alarms.pop_due(clock.now()) if (alive := ref()) is not None]
            for connection in rung:
                connection.armed_at = None  # rung: its next time must be set again
            step_ends = perf_counter() + WRITE_STEP_S
            for connection in itertools.chain(rung, woken):
                self._write_safely(connection)
                if perf_counter() >= step_ends:
                    await trio.lowlevel.checkpoint()
                    step_ends = perf_counter() + WRITE_STEP_S

    def _take_woken(self) -> list[_Connection]:
        """The connections woken since the last look (:meth:`look_at`), off the list."""
        woken, self._woken = self._woken, []
        for connection in woken:
            connection.queued = False
        return woken

    def _write_woken(self) -> None:
        """Write to the connections woken so far, now, in the calling task (the fan-out task, after a
        chunk of changes: with interval 0 the frames go out without waiting for the writer task's turn)."""
        for connection in self._take_woken():
            self._write_safely(connection)

    def _write_safely(self, connection: _Connection) -> None:
        try:
            self._write_now(connection)
        except Exception:  # a bug must cost one connection, not every client's writer
            self._failed(connection)

    @staticmethod
    def _failed(connection: _Connection) -> None:
        subscriber = connection.subscriber
        log.exception("websocket write failed", client=subscriber and subscriber.ident)
        if subscriber is not None:
            subscriber.close(CLOSE_INTERNAL_ERROR, "internal error")
        connection.wake_sender()  # it sends the close

    def _write_now(self, connection: _Connection) -> None:
        """Write what the connection's subscriber has due while its socket takes it; a close, or a frame
        the socket did not take whole, is left to the sender. Only while the sender is parked."""
        subscriber = connection.subscriber
        if connection.parked is None or subscriber is None:
            return  # the sender is at work and looks again itself, or the client has gone
        stream = connection.direct
        if stream is None:
            connection.wake_sender()
            return
        now = self.clock.now()
        while True:
            frame = subscriber.next_frame(now)
            if frame is None:
                at = max(subscriber.wake_at(), now)
            elif isinstance(frame, Close) or not stream.write_now(frame_of(frame)):
                connection.wake_sender()
                return
            else:
                at = subscriber.wake_at()
                if at <= now:
                    continue  # more is due now (the rest of a large batch, an answer)
            self.arm(connection, at)
            return

    async def _watch_lag(self) -> None:
        limit = self.settings.max_lag_s
        while True:
            await trio.sleep(limit / 4)
            now = self.clock.now()
            for connection in self._connections:
                since = connection.sending_since
                if since is not None and now - since >= limit:
                    connection.lag_scope.cancel()  # the sender closes the connection

    # --- the change stream -----------------------------------------------------------------------------

    async def _follow(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Hand every change of the store's stream to the hub, in order; a gap (the hub fell out of the
        store's window, or the store was reset) restarts the hub, which closes its clients so they resume."""
        task_status.started()
        backoff = 0.1
        while True:
            try:
                changes = await self.store.wait_for_changes(self.hub.position, self.settings.follow_timeout_s)
                if changes is None:
                    position = await self.store.current_sequence()
                    log.warning(
                        "change stream gap; clients will resume", after=self.hub.position, now=position
                    )
                    self.hub.start(position)
                    continue
            except StoreUnavailable as error:
                log.warning("store unavailable; retrying", error=str(error), retry_in_s=backoff)
                await trio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            backoff = 0.1
            # A step per chunk, so that the tasks upstream (ingest) need not wait for the whole fan-out; at
            # most four steps, so that when behind it still takes ever more per round of the event loop.
            chunk = follow_chunk(len(changes))
            for start in range(0, len(changes), chunk):
                if start:
                    await trio.lowlevel.checkpoint()
                started = perf_counter()
                self.hub.publish(changes[start : start + chunk], self.clock.now())
                self.hub.stats.seconds += perf_counter() - started
                self._write_woken()

    # --- one connection ----------------------------------------------------------------------------------

    async def _serve_connection(self, stream: trio.SocketStream) -> None:
        """One TCP connection: the WebSocket handshake (within ``handshake_timeout_s``) and :meth:`handle`
        over a :class:`~.stream.DirectStream` — what trio-websocket's own server does, plus the stream."""
        direct = DirectStream(stream)
        try:
            async with trio.open_nursery() as nursery:
                request = None
                with trio.move_on_after(self.settings.handshake_timeout_s):
                    request = await wrap_server_stream(
                        nursery, direct, max_message_size=self.settings.max_frame_bytes
                    )
                if request is not None:
                    await self.handle(request, direct)
                nursery.cancel_scope.cancel()  # trio-websocket's reader, once the close is done or abandoned
        except Exception:
            log.exception("websocket connection failed before its handler")
        finally:
            await direct.aclose()

    async def handle(self, request: WebSocketRequest, stream: DirectStream | None = None) -> None:
        """Serve one WebSocket request; ``stream``, the one under it, lets frames skip ``send_message``."""
        try:
            wanted = parse_request(request.path)
        except BadRequest as error:
            body = json.dumps({"code": error.code, "message": str(error)}).encode()
            await request.reject(
                error.status, extra_headers=[(b"content-type", b"application/json")], body=body
            )
            return
        ws = await request.accept()
        connection = _Connection(ws, stream, self)
        subscriber = self.hub.connect(
            wanted.region,
            as_json=wanted.as_json,
            compact=wanted.compact,
            now=self.clock.now(),
            wakeup=connection.wake,
        )
        connection.subscriber = subscriber
        self._connections.add(connection)
        self._open += 1
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._send, connection, subscriber, nursery.cancel_scope)
                self._start_sync(
                    nursery, connection, subscriber, Resubscribe(wanted.region, wanted.last_sequence)
                )
                await self._receive(connection, subscriber, nursery)
        except Exception:
            # A bug must cost one connection, not the server.
            log.exception("websocket connection failed", client=subscriber.ident)
            with trio.move_on_after(self.settings.close_grace_s):
                await ws.aclose(CLOSE_INTERNAL_ERROR, "internal error")
        finally:
            self.hub.disconnect(subscriber)
            connection.subscriber = None
            self._connections.discard(connection)
            self._open -= 1
            if not self._open:
                self._all_gone.set()
                self._all_gone = trio.Event()

    async def _receive(self, connection: _Connection, subscriber: Subscriber, nursery: trio.Nursery) -> None:
        while True:
            try:
                data = await connection.ws.get_message()
            except ConnectionClosed:
                nursery.cancel_scope.cancel()
                return
            outcome = subscriber.receive(data, self.clock.now())
            if isinstance(outcome, Resubscribe):
                self._start_sync(nursery, connection, subscriber, outcome, respond=True)

    async def _send(self, connection: _Connection, subscriber: Subscriber, scope: trio.CancelScope) -> None:
        """The connection's writer whenever a write has to wait (and its closer): frames as the subscriber
        releases them, the rest of a frame the writer task could not write whole, then the close. Parked
        the rest of the time, while the writer task writes what falls due."""
        stream, clock = connection.stream, self.clock
        try:
            with connection.lag_scope:
                while True:
                    now = clock.now()
                    if stream is not None and stream.behind:
                        connection.sending_since = now
                        await stream.flush()
                        connection.sending_since = None
                        continue
                    frame = subscriber.next_frame(now)
                    if isinstance(frame, Close):
                        break
                    if frame is None:
                        self.arm(connection, max(subscriber.wake_at(), now))
                        await connection.park()
                        continue
                    connection.sending_since = now
                    await _write(connection, frame)
                    connection.sending_since = None
        except (ConnectionClosed, trio.BrokenResourceError, trio.ClosedResourceError):
            scope.cancel()
            return
        if connection.lag_scope.cancelled_caught:
            subscriber.close(CLOSE_GOING_AWAY, "too far behind; resume")
        closing = subscriber.closing
        assert closing is not None
        log.debug("closing websocket", client=subscriber.ident, code=closing.code, reason=closing.reason)
        with trio.move_on_after(self.settings.close_grace_s):
            await connection.ws.aclose(closing.code, closing.reason)
        scope.cancel()

    def _start_sync(
        self,
        nursery: trio.Nursery,
        connection: _Connection,
        subscriber: Subscriber,
        request: Resubscribe,
        *,
        respond: bool = False,
    ) -> None:
        if connection.sync_scope is not None:
            connection.sync_scope.cancel()  # the hub ignores a superseded sync; this only saves the reads
        connection.sync_scope = scope = trio.CancelScope()
        nursery.start_soon(self._sync, subscriber, request, respond, scope)

    async def _sync(
        self, subscriber: Subscriber, request: Resubscribe, respond: bool, scope: trio.CancelScope
    ) -> None:
        """Catch the subscriber up to ``request.region`` from the store (see :class:`~.hub.Sync`)."""
        with scope:
            async with self._sync_limiter:
                sync = self.hub.begin_sync(subscriber, request.region, request.last_sequence, respond=respond)
                try:
                    if sync.replay_after is not None:
                        cursor = sync.replay_after
                        while cursor < sync.base:
                            changes = await self.store.changes_since(cursor)
                            if not changes:  # None: left the window (or the store was reset)
                                self.hub.replay_unavailable(sync)
                                break
                            if not self.hub.add_replayed(sync, changes):
                                return
                            cursor = changes[-1].sequence
                    circle = sync.region.circle
                    objects = [obj for kind in Kind for obj in await self.store.objects(kind, circle)]
                    sequence = await self.store.current_sequence()
                except StoreUnavailable as error:
                    log.warning("store unavailable for a snapshot", client=subscriber.ident, error=str(error))
                    subscriber.close(CLOSE_INTERNAL_ERROR, "store unavailable; try again shortly")
                    return
                self.hub.finish_sync(sync, objects, sequence, self.clock.now())


async def _write(connection: _Connection, frame: bytes | str) -> None:
    """One frame from the sender: straight to the socket when it takes it whole, else awaited."""
    stream = connection.direct
    if stream is None:
        await connection.ws.send_message(frame)  # behind what is being written; ConnectionClosed once closing
    elif not stream.write_now(frame_of(frame)):
        await stream.flush()


async def _start_cancellable(nursery: trio.Nursery, run: Callable[[], Awaitable[object]]) -> trio.CancelScope:
    """Start ``run()`` in the nursery inside a cancel scope of its own, and return that scope."""

    async def scoped(*, task_status: trio.TaskStatus[trio.CancelScope]) -> None:
        with trio.CancelScope() as scope:
            task_status.started(scope)
            await run()

    scope: trio.CancelScope = await nursery.start(scoped)
    return scope
