"""The pipeline facade: received frames in, batches for the store out.

``ReceivedFrame`` → count the reception for its base station → decode (count and skip what does not
decode) → deduplicate → validate and apply to the live world → :class:`~fanet.server.model.ApplyBatch`
(changes without sequence numbers, track points, base-station records). Positions posted over the REST
API arrive as frames of the pseudo-station ``API_STATION``, which is no base station: it gets no
base-station record (its frames are still counted in ``received_by_station``). Sans-I/O: the caller passes
``now`` (unix seconds) and hands each batch to the store; nothing here reads a clock, logs above debug
level or blocks.
"""

import logging
from collections.abc import Iterable, Mapping

import structlog

from fanet.proto import FrameError, ReceivedFrame, decode_frame
from fanet.server.model import ApplyBatch, BaseStation, LiveObject, PendingChange, TrackPoint
from fanet.server.pipeline.dedupe import Deduplicator, dedupe_key
from fanet.server.pipeline.expiry import expire
from fanet.server.pipeline.receivers import Receivers
from fanet.server.pipeline.settings import PipelineSettings
from fanet.server.pipeline.stats import Outcome, PipelineStats, Reason, Skip
from fanet.server.pipeline.thermals import ThermalMap
from fanet.server.pipeline.validate import API_STATION, Validator
from fanet.server.pipeline.world import Handler, World

_log = structlog.get_logger("fanet.pipeline")
_stdlib_log = logging.getLogger("fanet.pipeline")

_EMPTY = ApplyBatch()

_SKIP_BY_FRAME_TYPE = {0: Skip.ACK, 3: Skip.MESSAGE, 5: Skip.LANDMARK, 6: Skip.REMOTE_CONFIG}
_SKIP_BY_FRAME_TYPE |= {8: Skip.HARDWARE_INFO, 10: Skip.HARDWARE_INFO}


def _skipping(skip: Skip) -> Handler:
    def handler(*_: object) -> Outcome:
        return skip

    return handler


class Pipeline:
    """One server's pipeline state: the live world, the validator's standings, dedupe and statistics.

    ``process``/``process_many`` for frames, ``expire`` every few seconds, ``restore`` once at start.
    Not thread-safe; one task owns it.
    """

    def __init__(self, settings: PipelineSettings | None = None) -> None:
        self.settings = settings = settings if settings is not None else PipelineSettings()
        self.stats = PipelineStats()
        self._dedupe = Deduplicator(settings.dedupe_window_s, settings.dedupe_max_entries)
        self._receivers = Receivers(settings)
        self.world = World(settings, Validator(settings), ThermalMap(settings), self.stats)
        handlers: list[Handler] = [
            _skipping(_SKIP_BY_FRAME_TYPE.get(t, Skip.UNKNOWN_TYPE)) for t in range(64)
        ]
        handlers[1] = self.world.air
        handlers[2] = self.world.name
        handlers[4] = self.world.service
        handlers[7] = self.world.ground_tracking
        handlers[9] = self.world.thermal
        self._handlers = tuple(handlers)
        self._station_interval_s = settings.base_station_interval_s

    # --- frames --------------------------------------------------------------------------------

    def process(self, frame: ReceivedFrame, now: float) -> ApplyBatch:
        """One received frame at ``now`` (unix seconds); never raises for any frame content."""
        changes: list[PendingChange] = []
        points: list[tuple[int, TrackPoint]] = []
        stations: list[BaseStation] = []
        self._ingest(frame, now, changes, points, stations)
        return self._batch(changes, points, stations)

    def process_many(self, frames: Iterable[ReceivedFrame], now: float) -> ApplyBatch:
        """Frames that arrived together, in order, as one batch for the store."""
        changes: list[PendingChange] = []
        points: list[tuple[int, TrackPoint]] = []
        stations: list[BaseStation] = []
        ingest = self._ingest
        for frame in frames:
            ingest(frame, now, changes, points, stations)
        return self._batch(changes, points, stations)

    def _ingest(
        self,
        frame: ReceivedFrame,
        now: float,
        changes: list[PendingChange],
        points: list[tuple[int, TrackPoint]],
        stations: list[BaseStation],
    ) -> None:
        stats = self.stats
        stats.received += 1
        station, timestamp, rssi, snr, raw = frame
        by_station = stats.received_by_station
        by_station[station] = by_station.get(station, 0) + 1
        receivers = self._receivers
        # Posted positions come through no radio: the API's pseudo-station is no base station.
        rx = receivers.reception(station, rssi, snr, now) if station != API_STATION else None
        if type(raw) is not bytes:
            raw = bytes(raw)
        try:
            decoded = decode_frame(raw)
        except FrameError as exc:
            stats.undecodable += 1
            if _stdlib_log.isEnabledFor(logging.DEBUG):
                _log.debug("undecodable frame", station=station, error=str(exc), raw=raw.hex(" "))
            if rx is not None and now - rx.published_at >= self._station_interval_s:
                stations.append(rx.record(now, self.settings))
            return
        stats.decoded += 1
        source = decoded.source
        if rx is not None:
            receivers.heard(rx, source)
            if now - rx.published_at >= self._station_interval_s:
                stations.append(rx.record(now, self.settings))
        if self._dedupe.seen(dedupe_key(raw, len(decoded.trailing)), now):
            stats.duplicates += 1
            return
        outcome = self._handlers[raw[0] & 0x3F](
            source, station, decoded.payload, timestamp, now, changes, points
        )
        if outcome is None:
            stats.accepted += 1
            return
        stats.count(outcome)
        if isinstance(outcome, Reason) and _stdlib_log.isEnabledFor(logging.DEBUG):
            _log.debug("report rejected", station=station, address=f"{source:06X}", reason=str(outcome))

    def _batch(
        self, changes: list[PendingChange], points: list[tuple[int, TrackPoint]], stations: list[BaseStation]
    ) -> ApplyBatch:
        if not (changes or points or stations):
            return _EMPTY
        stats = self.stats
        stats.count_changes(changes)
        stats.track_points += len(points)
        stats.base_station_records += len(stations)
        return ApplyBatch(tuple(changes), tuple(points), tuple(stations))

    # --- time, start-up and station health ------------------------------------------------------

    def expire(self, now: float) -> ApplyBatch:
        """REMOVE what is gone at ``now``, forget what is no longer needed, and send base-station
        records that are due (stations that heard frames since their last record)."""
        self._dedupe.evict(now)
        changes = expire(self.world, now)
        stations = self._receivers.flush(now)
        self._receivers.forget(now)
        return self._batch(changes, [], stations)

    def restore(self, objects: Iterable[LiveObject], base_stations: Iterable[BaseStation] = ()) -> None:
        """Rebuild the world from what a store returned, before the first frame: restored objects are
        visible at once with full standing, so a restarted server continues without re-adding them."""
        for obj in objects:
            self.world.restore(obj)
        for record in base_stations:
            self._receivers.restore(record)

    def station_health(
        self,
        station: str,
        health: Mapping[str, object],
        now: float,
        *,
        lat: float | None = None,
        lon: float | None = None,
    ) -> ApplyBatch:
        """A station's health message (``fb/b/<id>/hw``): kept with its figures, sent at once."""
        record = self._receivers.health(station, health, now, lat, lon)
        return self._batch([], [], [record])

    def is_visible(self, addr: int) -> bool:
        """Whether an address has proved itself (for tests and diagnostics)."""
        st = self.world.validator.standings.get(addr)
        return st is not None and st.visible
