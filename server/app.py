"""The server's nursery: every task of ``fanet server`` and the order they stop in, on one screen.

Nesting is the shutdown order. From the outside in: the services (HTTP, dependency watchers) live
longest; inside them the MQTT client, closed only after the last ack; inside it the flow (pipeline,
store writer), which drains; inside that the upkeep timers; and innermost the ingest sources, which
stop first. A shutdown request (first SIGINT/SIGTERM, or :meth:`Shutdown.request`) cancels the sources;
their channel closes, the pipeline processes what is queued, the writer stores it and sends the acks,
then the client disconnects, HTTP stops and the store closes — within ``shutdown_timeout_s``, after which
whatever is left is cancelled (unacknowledged messages are redelivered to the next run). A second
signal exits at once. A task that crashes is logged by name and takes the server down.
"""

import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import structlog
import trio

from fanet.gateway.mqtt import MqttClient, MqttSettings, open_mqtt_client
from fanet.server import gc_timing
from fanet.server.expiry import sweep_expired, trim_tracks
from fanet.server.health import SHUTDOWN, STARTUP, probe_store, watch_mqtt
from fanet.server.http import create_app, serve_http
from fanet.server.ingest import Arrivals, MqttIngest
from fanet.server.live.hub import Hub
from fanet.server.live.listener import serve_websockets
from fanet.server.local import read_serial, replay_capture
from fanet.server.metrics import watch_loop_lag
from fanet.server.model import Kind
from fanet.server.processing import WriteBatch, run_pipeline
from fanet.server.rest import IngestBusy, PostedPosition, register_rest
from fanet.server.settings import ServerConfig
from fanet.server.state import AppState, build_state
from fanet.server.store import Store, StoreUnavailable
from fanet.server.web import register_web
from fanet.server.writer import STORE_BACKOFF

log = structlog.get_logger("fanet.server")

ARRIVALS_QUEUE = 8
"""Batches of arrivals between the sources and the pipeline (each up to a receive_batch)."""
WRITES_QUEUE = 2
"""Write batches between the pipeline and the writer: one being written, one ready."""


async def run_server(
    config: ServerConfig,
    *,
    store: Store | None = None,
    shutdown: "Shutdown | None" = None,
    task_status: trio.TaskStatus[AppState] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run until ``shutdown`` is requested (then drain and return) or a task crashes (then raise).

    Reports started with the state once HTTP listens and the sources run (``state.http_port``).
    """
    shutdown = shutdown if shutdown is not None else Shutdown()
    state = build_state(config, store)
    arrivals_send, arrivals = trio.open_memory_channel[Arrivals](ARRIVALS_QUEUE)
    writes_send, writes = trio.open_memory_channel[WriteBatch](WRITES_QUEUE)
    state.queues.update(arrivals=lambda: arrivals.statistics().current_buffer_used,
                        writes=lambda: writes.statistics().current_buffer_used)  # fmt: skip
    positions = PositionIngest(config.rest.ingest_timeout_s)
    async with _closing(state.store), trio.open_nursery() as services:
        shutdown.bound(services.cancel_scope, config.shutdown_timeout_s)
        app = create_app(state)
        rest = register_rest(app, store=state.store, settings=config.rest, ingest=positions.send,
                             clock=state.clock.now)  # fmt: skip
        if config.web is not None:
            register_web(app, config.web)
        state.http_port = await _start(services, "http", serve_http, app, config.listen, config.rest)
        _spawn(services, "store-probe", probe_store, state.store, state.readiness,
               lambda: state.writer.stats.retrying)  # fmt: skip
        _spawn(services, "loop-lag", watch_loop_lag, state.metrics.loop_lag_seconds.observe)
        with shutdown.cancels():
            await warm_start(state)
        if shutdown.requested.is_set():  # during the warm start: nothing was ingested yet
            services.cancel_scope.cancel()
            return
        if config.live is not None:
            state.hub = Hub(config.live)
            state.ws_port = await _start(services, "websocket", serve_websockets, state.hub, state.store,
                                         config.live)  # fmt: skip
            if not config.rest.websocket_url:  # /api/v1/info names the port actually bound
                rest.context.settings = config.rest.model_copy(update={"websocket_port": state.ws_port})
        async with _ingest_client(config.mqtt) as mqtt, trio.open_nursery() as flow:
            state.mqtt = mqtt
            shutdown.bound(flow.cancel_scope, config.shutdown_timeout_s - config.close_reserve_s)
            _spawn(flow, "pipeline", run_pipeline, state.pipeline, state.clock, arrivals, writes_send.clone(),
                   max_frames=config.batch_max_frames, max_wait_s=config.batch_max_wait_s)  # fmt: skip
            _spawn(flow, "store-writer", state.writer.run, writes)
            async with writes_send, trio.open_nursery() as upkeep:
                _spawn(upkeep, "expiry", sweep_expired, state.pipeline, state.clock, writes_send.clone(),
                       config.expire_interval_s)  # fmt: skip
                _spawn(upkeep, "track-trim", trim_tracks, state.store, state.clock, config.track_retention_s,
                       config.trim_interval_s)  # fmt: skip
                async with (
                    arrivals_send,
                    positions.open(arrivals_send.clone()),
                    trio.open_nursery() as sources,
                ):
                    if mqtt is not None:
                        _spawn(services, "mqtt-state", watch_mqtt, mqtt, state.readiness)
                        ingest = MqttIngest(mqtt, config.topics, state.ingest.source("mqtt"), state.readiness,
                                            max_batch=config.batch_max_frames)  # fmt: skip
                        _spawn(sources, "ingest-mqtt", ingest.run, arrivals_send.clone())
                    if config.replay is not None:
                        _spawn(sources, "ingest-replay", replay_capture, config.replay, arrivals_send.clone(),
                               state.ingest.source("replay"), state.clock)  # fmt: skip
                    if config.serial is not None:
                        _spawn(sources, "ingest-serial", read_serial, config.serial, arrivals_send.clone(),
                               state.ingest.source("serial"), state.readiness)  # fmt: skip
                    if not (mqtt or config.replay or config.serial):
                        log.warning("no ingest source: give --mqtt, --serial or --replay")
                    task_status.started(state)
                    await shutdown.requested.wait()
                    state.readiness.down(SHUTDOWN, "shutting down")
                    sources.cancel_scope.cancel()
                upkeep.cancel_scope.cancel()
            # Sources gone: the pipeline drains the arrivals, the writer stores them and acks.
        writer = state.writer.stats
        if flow.cancel_scope.cancelled_caught:
            log.warning("shutdown deadline: stopped before everything was stored (unacknowledged "
                        "messages are redelivered to the next run)", frames_stored=writer.frames)  # fmt: skip
        else:
            log.info("flushed", frames_stored=writer.frames, sequence=writer.sequence)
        services.cancel_scope.cancel()


async def warm_start(state: AppState) -> None:
    """Restore the pipeline's world from the store before the first frame, retrying while it is down."""
    state.readiness.down(STARTUP, "restoring the live world from the store")
    failures = 0
    while True:
        try:
            objects = [obj for kind in Kind for obj in await state.store.objects(kind)]
            stations = await state.store.base_stations()
            break
        except StoreUnavailable as error:
            failures += 1
            state.readiness.down(STARTUP, f"warm start waits for the store: {error}")
            await trio.sleep(STORE_BACKOFF.delay_s(failures, 0.5))
    state.pipeline.restore(objects, stations)
    state.readiness.up(STARTUP)
    log.info("warm start", objects=len(objects), base_stations=len(stations), store=state.store.name)


async def serve(config: ServerConfig) -> None:
    """What ``fanet server`` runs: the server plus signal handling (and the process's collector tuning)."""
    gc_timing.tune()  # start-up objects are frozen out of the collector's way
    gc_timing.install()
    shutdown = Shutdown()
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as root:
            root.start_soon(_on_signals, signals, shutdown, name="signals")
            await run_server(config, shutdown=shutdown)
            root.cancel_scope.cancel()
    log.info("stopped")


async def _on_signals(signals: AsyncIterator[int], shutdown: "Shutdown") -> None:
    async for signum in signals:
        name = signal.Signals(signum).name
        if shutdown.requested.is_set():
            log.warning("second signal: exiting at once", signal=name)
            os._exit(128 + signum)
        log.info("stopping", signal=name)
        shutdown.request()


class PositionIngest:
    """Where ``POST /api/v1/position`` puts positions: the sources' channel while they run, so a posted
    position takes the radio frames' path; outside that window (start-up, shutdown) it answers 503."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._channel: trio.MemorySendChannel[Arrivals] | None = None

    @asynccontextmanager
    async def open(self, channel: trio.MemorySendChannel[Arrivals]) -> AsyncIterator[None]:
        """Accept positions into ``channel`` until the block ends (then the channel is closed)."""
        async with channel:
            self._channel = channel
            try:
                yield
            finally:
                self._channel = None

    async def send(self, position: PostedPosition) -> None:
        """Hand one position to the pipeline; :class:`IngestBusy` when it has no room in time."""
        channel = self._channel
        if channel is None:
            raise IngestBusy()
        arrivals = Arrivals([position.received_frame()], received_at=trio.current_time())
        with trio.move_on_after(self.timeout_s):
            try:
                await channel.send(arrivals)
            except (trio.ClosedResourceError, trio.BrokenResourceError):
                raise IngestBusy() from None
            return
        raise IngestBusy()


class Shutdown:
    """A shutdown request: sets ``requested``, cancels what waits on it and starts the deadlines."""

    def __init__(self) -> None:
        self.requested = trio.Event()
        self._scopes: list[trio.CancelScope] = []
        self._deadlines: list[tuple[trio.CancelScope, float]] = []

    def request(self) -> None:
        if self.requested.is_set():
            return
        self.requested.set()
        for scope in self._scopes:
            scope.cancel()
        for scope, budget_s in self._deadlines:
            scope.deadline = min(scope.deadline, trio.current_time() + budget_s)

    @contextmanager
    def cancels(self) -> Iterator[None]:
        """A scope cancelled when shutdown is requested (now, if it already was)."""
        with trio.CancelScope() as scope:
            self._scopes.append(scope)
            try:
                if self.requested.is_set():
                    scope.cancel()
                yield
            finally:
                self._scopes.remove(scope)

    def bound(self, scope: trio.CancelScope, budget_s: float) -> None:
        """Cancel ``scope`` at the latest ``budget_s`` after shutdown is requested."""
        self._deadlines.append((scope, max(budget_s, 0.1)))


def _spawn(
    nursery: trio.Nursery, name: str, fn: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any
) -> None:
    nursery.start_soon(_supervised, name, fn, args, kwargs, name=name)


async def _start(nursery: trio.Nursery, name: str, fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
    return await nursery.start(_supervised, name, fn, args, {}, name=name)


async def _supervised(
    name: str,
    fn: Callable[..., Awaitable[Any]],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    task_status: trio.TaskStatus[Any] | None = None,
) -> None:
    """Run one named task; a crash is logged once, by name, and stops the server."""
    if task_status is not None:
        kwargs = {**kwargs, "task_status": task_status}
    try:
        await fn(*args, **kwargs)
    except Exception:
        log.exception("task crashed; stopping the server", task=name)
        raise


@asynccontextmanager
async def _ingest_client(settings: MqttSettings | None) -> AsyncIterator[MqttClient | None]:
    if settings is None:
        yield None
        return
    async with open_mqtt_client(settings) as client:
        yield client


@asynccontextmanager
async def _closing(store: Store) -> AsyncIterator[None]:
    try:
        yield
    finally:
        with trio.CancelScope(shield=True):
            await store.aclose()
