"""Ingest: what the sources hand the pipeline, and the MQTT source.

Every source (MQTT here; capture replay and the serial module in ``fanet.server.local``) sends
:class:`Arrivals` into one bounded channel that the pipeline task reads: frames with their station, the
stations' health reports, and a callback to run once their effect is in the store (for MQTT: the
PUBACKs). A source sends what arrived together as one item, so the channel costs one operation per
batch, not per frame. When the channel is full a source waits; the MQTT client then stops reading and
the backlog stays in the broker.

MQTT: QoS 1 on ``<prefix>/+/f/#`` (``…/f`` itself included; optionally ``$share/<group>/…``) and
``<prefix>/+/hw``, persistent session, manual acks. A message that is not ours or does not unwrap is
counted and acknowledged with its batch (redelivering it would not make it valid).
"""

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import structlog
import trio

from fanet.gateway.mqtt import MqttClient, MqttMessage
from fanet.proto import FrameError, ReceivedFrame
from fanet.server.health import SUBSCRIPTION, Readiness
from fanet.server.settings import Topics

log = structlog.get_logger("fanet.server")

OnStored = Callable[[], None]


@dataclass(frozen=True, slots=True)
class StationHealth:
    """A base station's health report (``<prefix>/<id>/hw``): the gateway's JSON document, or its
    last will (``{"state": "offline"}``)."""

    station: str
    report: Mapping[str, object]
    lat: float | None = None
    lon: float | None = None


@dataclass(slots=True)
class Arrivals:
    """What one source hands the pipeline at once."""

    frames: list[ReceivedFrame]
    health: list[StationHealth] = field(default_factory=list)
    on_stored: OnStored | None = None
    """Called once everything these arrivals changed is in the store (never called if it never is)."""
    received_at: float = 0.0
    """``trio.current_time()`` when the first of them arrived (for the ingest-to-store latency)."""

    @property
    def size(self) -> int:
        return len(self.frames) + len(self.health)


@dataclass(slots=True)
class SourceStats:
    """Counters of one ingest source (the metrics collector reads them)."""

    frames: int = 0
    health: int = 0
    malformed: int = 0
    """Messages that are not a frame or health report of ours (bad topic, short wrapper)."""


class IngestStats:
    """The counters of every source, by source name (``mqtt``, ``replay``, ``serial``…)."""

    def __init__(self) -> None:
        self.sources: dict[str, SourceStats] = {}

    def source(self, name: str) -> SourceStats:
        return self.sources.setdefault(name, SourceStats())


def parse_health(station: str, payload: bytes) -> StationHealth:
    """A health payload: a JSON object as it is (``lat``/``lon`` taken from it when numbers), anything
    else (the last will ``offline``) as ``{"state": <text>}``."""
    try:
        report = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        report = None
    if not isinstance(report, dict):
        return StationHealth(station, {"state": payload[:64].decode("utf-8", "replace")})
    lat, lon = report.get("lat"), report.get("lon")
    if (
        isinstance(lat, int | float)
        and isinstance(lon, int | float)
        and -90 <= lat <= 90
        and -180 <= lon <= 180
    ):
        return StationHealth(station, report, float(lat), float(lon))
    return StationHealth(station, report)


class MqttIngest:
    """The MQTT source: subscribe, then turn each batch of messages into :class:`Arrivals`."""

    def __init__(
        self,
        client: MqttClient,
        topics: Topics,
        stats: SourceStats,
        readiness: Readiness,
        *,
        max_batch: int = 500,
    ) -> None:
        self.client = client
        self.readiness = readiness
        self._topics = [topic for topic, _ in topics.subscriptions()]
        readiness.down(SUBSCRIPTION, f"subscribing to {', '.join(self._topics)}")  # until the SUBACK
        self.topics = topics
        self.stats = stats
        self.max_batch = max_batch
        self._stations: dict[str, tuple[str, bool] | None] = {}
        """Parsed topics: a few hundred stations publish on a few hundred topics."""

    async def run(self, arrivals: trio.MemorySendChannel[Arrivals]) -> None:
        """Subscribe and forward messages until cancelled or the client closes.

        Messages are taken from the start, before the SUBACK: a resumed session delivers its backlog at
        once, and a full message channel would keep the SUBACK unread behind it.
        """
        async with arrivals, trio.open_nursery() as nursery:
            nursery.start_soon(self._subscribe)
            while True:
                try:
                    messages = await self.client.receive_batch(self.max_batch)
                except trio.EndOfChannel:
                    break
                await arrivals.send(self.arrivals(messages))
            nursery.cancel_scope.cancel()

    async def _subscribe(self) -> None:
        await self.client.subscribe(self.topics.subscriptions())  # waits for the connection
        self.readiness.up(SUBSCRIPTION)
        log.info("subscribed", topics=self._topics)

    def arrivals(self, messages: Sequence[MqttMessage]) -> Arrivals:
        frames: list[ReceivedFrame] = []
        health: list[StationHealth] = []
        stats, stations, parse = self.stats, self._stations, self.topics.parse
        from_wrapped = ReceivedFrame.from_wrapped
        for message in messages:
            topic = message.topic
            try:
                where = stations[topic]
            except KeyError:
                if len(stations) > 10_000:
                    stations.clear()
                where = stations[topic] = parse(topic)
            if where is None:
                stats.malformed += 1
                log.debug("message on an unexpected topic", topic=topic)
                continue
            station, is_health = where
            if is_health:
                health.append(parse_health(station, message.payload))
                continue
            try:
                frames.append(from_wrapped(station, message.payload))
            except FrameError as error:
                stats.malformed += 1
                log.debug("payload is not a wrapped frame", topic=topic, error=str(error))
        stats.frames += len(frames)
        stats.health += len(health)
        ack_many = self.client.ack_many

        def acknowledge() -> None:
            ack_many(messages)

        return Arrivals(frames, health, acknowledge, messages[0].received_at)
