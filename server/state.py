"""The running server's state: every long-lived object the tasks share, in one place.

Built once at start (:func:`build_state`); the nursery in ``fanet.server.app`` hands its parts to the
tasks, the HTTP app reads it for ``/ready`` and ``/metrics`` (and later routes for the store), and tests
get it from ``nursery.start(run_server, …)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fanet.gateway.mqtt import MqttClient
from fanet.server.clock import UnixClock
from fanet.server.health import Readiness
from fanet.server.ingest import IngestStats
from fanet.server.live.hub import Hub
from fanet.server.pipeline import Pipeline
from fanet.server.settings import ServerConfig
from fanet.server.store import MemoryStore, RedisStore, Store
from fanet.server.writer import StoreWriter

if TYPE_CHECKING:
    from fanet.server.metrics import ServerMetrics


@dataclass(eq=False)
class AppState:
    config: ServerConfig
    store: Store
    pipeline: Pipeline
    clock: UnixClock
    readiness: Readiness
    ingest: IngestStats
    writer: StoreWriter
    metrics: ServerMetrics
    mqtt: MqttClient | None = None
    """The ingest client while connected or reconnecting (``None`` without a broker)."""
    queues: dict[str, Callable[[], int]] = field(default_factory=dict)
    """Queue depths by name, read at scrape time."""
    http_port: int | None = None
    """The port the HTTP server bound (the one asked for, or a free one for port 0)."""
    hub: Hub | None = None
    """The WebSocket clients and their routing (``None`` without a WebSocket listener)."""
    ws_port: int | None = None
    """The port the WebSocket listener bound."""


def open_store(config: ServerConfig) -> Store:
    """Redis when configured, else memory. Nothing connects yet (a Redis that is down is retried)."""
    if config.redis_url is not None:
        return RedisStore(
            config.redis_url, namespace=config.redis_namespace, track_retention_s=config.track_retention_s
        )
    return MemoryStore(track_retention_s=config.track_retention_s)


def build_state(config: ServerConfig, store: Store | None = None) -> AppState:
    """Inside ``trio.run`` (the clock reads Trio's)."""
    from fanet.server.metrics import ServerMetrics  # noqa: PLC0415  (the metrics read this state)

    readiness = Readiness()
    metrics = ServerMetrics()
    store = store if store is not None else open_store(config)
    state = AppState(
        config=config,
        store=store,
        pipeline=Pipeline(config.pipeline),
        clock=UnixClock(),
        readiness=readiness,
        ingest=IngestStats(),
        writer=StoreWriter(store, readiness, observe=metrics.observe_write),
        metrics=metrics,
    )
    metrics.collect_from(state)
    return state
