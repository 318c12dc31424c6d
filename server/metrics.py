"""Prometheus metrics at ``/metrics``: one registry per server, read at scrape time.

The counters live where they are counted — the pipeline's ``PipelineStats``, each source's
``SourceStats``, the MQTT client's ``MqttStats``, the writer's ``WriterStats`` — as plain integers;
:class:`_StateCollector` turns them into metric families when Prometheus scrapes, which costs nothing per
frame. Only the per-batch distributions (store batch size, write latency, arrival-to-store latency) are
real histograms, observed once per write, and the event loop's lag (:func:`watch_loop_lag`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

import trio
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from fanet.server import gc_timing
from fanet.server.processing import WriteBatch

if TYPE_CHECKING:
    from fanet.server.state import AppState

CONTENT_TYPE = CONTENT_TYPE_LATEST
_SIZE_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000)
_SECONDS_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


LOOP_LAG_INTERVAL_S = 0.1
"""How often :func:`watch_loop_lag` looks (ten wake-ups a second: a few hundredths of a percent of a core)."""


async def watch_loop_lag(observe: Callable[[float], object], interval_s: float = LOOP_LAG_INTERVAL_S) -> None:
    """Until cancelled: sleep ``interval_s`` at a time and observe how late each wake-up came. A step that
    holds the event loop (a long fan-out, a store scan, a collector pass) shows here as lag."""
    while True:
        due = trio.current_time() + interval_s
        await trio.sleep_until(due)
        observe(trio.current_time() - due)


class ServerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.batch_frames = Histogram(
            "fanet_store_batch_frames",
            "Frames per store write.",
            buckets=_SIZE_BUCKETS,
            registry=self.registry,
        )
        self.batch_changes = Histogram(
            "fanet_store_batch_changes",
            "Changes per store write (after folding several of one object).",
            buckets=_SIZE_BUCKETS,
            registry=self.registry,
        )
        self.write_seconds = Histogram(
            "fanet_store_write_seconds",
            "Time to write one batch, retries included.",
            buckets=_SECONDS_BUCKETS,
            registry=self.registry,
        )
        self.ingest_seconds = Histogram(
            "fanet_ingest_to_store_seconds",
            "From a frame's arrival at the server to its batch being in the store (oldest frame of a batch).",
            buckets=_SECONDS_BUCKETS,
            registry=self.registry,
        )
        self.loop_lag_seconds = Histogram(
            "fanet_event_loop_lag_seconds",
            f"How late a task sleeping {LOOP_LAG_INTERVAL_S:g} s at a time wakes: how long the event loop "
            "was busy with other steps (every frame, request and live update waits for them).",
            buckets=_SECONDS_BUCKETS,
            registry=self.registry,
        )
        self.started_at = time.time()

    def collect_from(self, state: AppState) -> None:
        self.registry.register(_StateCollector(state, self.started_at))

    def observe_write(self, write: WriteBatch, changes: int, seconds: float) -> None:
        self.write_seconds.observe(seconds)
        self.batch_changes.observe(changes)
        if write.frames:
            self.batch_frames.observe(write.frames)
        if write.received_at is not None:
            self.ingest_seconds.observe(trio.current_time() - write.received_at)

    def exposition(self) -> bytes:
        """The text format Prometheus scrapes."""
        return generate_latest(self.registry)


class _StateCollector(Collector):
    def __init__(self, state: AppState, started_at: float) -> None:
        self.state = state
        self.started_at = started_at

    def collect(self) -> Iterator[Metric]:
        state = self.state
        stats = state.pipeline.stats
        yield _gauge("fanet_server_start_time_seconds", "Unix time the server started.", self.started_at)

        received = CounterMetricFamily(
            "fanet_frames_received", "Frames received, by receiving station.", labels=["station"]
        )
        for station, count in stats.received_by_station.items():
            received.add_metric([station], count)
        yield received
        yield _counter("fanet_frames_decoded", "Frames that decoded.", stats.decoded)
        yield _counter("fanet_frames_invalid", "Frames that did not decode.", stats.undecodable)
        yield _counter(
            "fanet_frames_duplicate", "Frames heard again within the dedupe window.", stats.duplicates
        )
        yield _counter("fanet_reports_accepted", "Reports that passed validation.", stats.accepted)
        yield _labelled_counter(
            "fanet_reports_rejected", "Reports rejected, by reason.", "reason", stats.rejected.items()
        )
        yield _labelled_counter(
            "fanet_reports_ignored",
            "Frames that changed nothing, by reason.",
            "reason",
            stats.ignored.items(),
        )
        changes = CounterMetricFamily(
            "fanet_changes", "Changes the pipeline made, by kind and action.", labels=["kind", "action"]
        )
        for (kind, action), count in stats.changes.items():
            changes.add_metric([str(kind), action.name.lower()], count)
        yield changes
        yield _counter("fanet_track_points", "Track points produced.", stats.track_points)

        sources = state.ingest.sources
        yield _labelled_counter(
            "fanet_ingest_frames", "Frames ingested, by source.", "source",
            ((name, s.frames) for name, s in sources.items()),
        )  # fmt: skip
        yield _labelled_counter(
            "fanet_ingest_health_reports", "Station health reports ingested, by source.", "source",
            ((name, s.health) for name, s in sources.items()),
        )  # fmt: skip
        yield _labelled_counter(
            "fanet_ingest_malformed", "Messages that were no frame or health report of ours, by source.",
            "source", ((name, s.malformed) for name, s in sources.items()),
        )  # fmt: skip

        writer = state.writer.stats
        yield _counter("fanet_frames_stored", "Frames whose batch is in the store.", writer.frames)
        yield _counter("fanet_store_writes", "Batches written to the store.", writer.batches)
        yield _counter(
            "fanet_store_changes", "Changes written (with their sequence numbers).", writer.changes
        )
        yield _counter(
            "fanet_store_write_failures", "Store writes that failed and were retried.", writer.failures
        )
        yield _counter(
            "fanet_store_dropped_frames", "Frames of batches the store refused.", writer.dropped_frames
        )
        yield _gauge("fanet_store_sequence", "Sequence number of the last change written.", writer.sequence)
        store_up = GaugeMetricFamily(
            "fanet_store_up", "Whether the store answers (1) or not (0).", labels=["store"]
        )
        store_up.add_metric([state.store.name], 0 if state.readiness.is_down("store") else 1)
        yield store_up

        depth = GaugeMetricFamily("fanet_queue_depth", "Items waiting in each queue.", labels=["queue"])
        for name, read in state.queues.items():
            depth.add_metric([name], read())
        yield depth
        yield _gauge(
            "fanet_ready", "Whether /ready answers 200 (1) or 503 (0).", 1 if state.readiness.ready else 0
        )
        down = GaugeMetricFamily(
            "fanet_dependency_down", "Dependencies that are down.", labels=["dependency"]
        )
        for dependency in state.readiness.problems:
            down.add_metric([dependency], 1)
        yield down

        collector = CounterMetricFamily(
            "fanet_gc_seconds",
            "Seconds the cyclic garbage collector ran, by generation (timed once the server process starts).",
            labels=["generation"],
        )
        for generation, seconds in enumerate(gc_timing.TIMES.seconds):
            collector.add_metric([str(generation)], seconds)
        yield collector
        yield _labelled_counter(
            "fanet_gc_collections",
            "Collections by the cyclic garbage collector, by generation (counted like fanet_gc_seconds).",
            "generation",
            enumerate(gc_timing.TIMES.collections),
        )

        hub = state.hub
        if hub is not None:
            yield _gauge("fanet_ws_clients", "WebSocket clients connected.", len(hub.subscribers))
            yield _gauge("fanet_ws_sequence", "Sequence number of the last change sent to WebSocket clients.",
                         hub.position)  # fmt: skip
            waits = HistogramMetricFamily(
                "fanet_ws_update_wait_seconds",
                "From the hub owing a client an update to its batch going to the socket (the oldest update "
                "of each batch; with a batch interval, the interval included).",
            )
            waits.add_metric([], hub.waits.cumulative(), hub.waits.total_s)
            yield waits
            fanout = hub.stats
            yield _counter("fanet_ws_fanout_changes", "Changes routed to WebSocket clients.", fanout.changes)
            yield _counter("fanet_ws_fanout_candidates", "Clients looked at for a change (filed under the cells "
                           "of its position; about twice the deliveries with tight covers).", fanout.candidates)  # fmt: skip
            yield _counter(
                "fanet_ws_fanout_deliveries", "Updates owed to WebSocket clients.", fanout.deliveries
            )
            yield _counter(
                "fanet_ws_fanout_seconds", "Seconds spent routing changes to clients.", fanout.seconds
            )

        client = state.mqtt
        if client is not None:
            mqtt = client.stats
            yield _gauge("fanet_mqtt_connected", "Whether the ingest client is connected (1) or not (0).",
                         1 if client.connected else 0)  # fmt: skip
            yield _counter(
                "fanet_mqtt_messages_received", "Messages received from the broker.", mqtt.received
            )
            yield _counter("fanet_mqtt_messages_acked", "Messages acknowledged after storing.", mqtt.acked)
            yield _counter("fanet_mqtt_stale_acks", "Acks dropped because their connection was gone "
                           "(the broker redelivers those messages).", mqtt.stale_acks)  # fmt: skip
            yield _counter("fanet_mqtt_connects", "Connections established.", mqtt.connects)
            yield _counter("fanet_mqtt_disconnects", "Connections lost or closed.", mqtt.disconnects)
            yield _counter(
                "fanet_mqtt_connect_failures", "Connection attempts that failed.", mqtt.connect_failures
            )


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, documentation, value=value)


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _labelled_counter(
    name: str, documentation: str, label: str, values: Iterable[tuple[object, int]]
) -> CounterMetricFamily:
    family = CounterMetricFamily(name, documentation, labels=[label])
    for key, count in values:
        family.add_metric([str(key)], count)
    return family
