"""Base-station statistics: what each receiving station heard, how much and how well.

Every reception counts, duplicates included (two stations hearing one frame is exactly what the
status page wants to show). Per station: frames since start, frames per minute over a sliding window
(one-second buckets), exponential running averages of RSSI and SNR (unknown values skipped), the
last time heard from, and the most recently heard addresses. A fresh :class:`BaseStation` record goes
to the store at most every ``base_station_interval_s`` per station, not with every frame.
"""

import math
from collections import deque
from collections.abc import Mapping
from types import MappingProxyType

from fanet.server.model import BaseStation
from fanet.server.pipeline.settings import PipelineSettings

_NO_HEALTH: Mapping[str, object] = MappingProxyType({})


class Receiver:
    """One station's running figures (mutable; :meth:`record` takes a snapshot)."""

    __slots__ = (
        "bucket_count",
        "bucket_second",
        "buckets",
        "frames",
        "health",
        "heard",
        "last_seen",
        "lat",
        "lon",
        "published_at",
        "published_frames",
        "rssi_avg",
        "snr_avg",
        "station_id",
    )

    def __init__(self, station_id: str) -> None:
        self.station_id = station_id
        self.frames = 0
        self.last_seen = -math.inf
        self.rssi_avg: float | None = None
        self.snr_avg: float | None = None
        self.heard: dict[int, None] = {}
        """Recently heard addresses, oldest first (a dict as an ordered set)."""
        self.lat: float | None = None
        self.lon: float | None = None
        self.health: Mapping[str, object] = _NO_HEALTH
        self.published_at = -math.inf
        self.published_frames = -1
        self.buckets: deque[tuple[int, int]] = deque()
        self.bucket_second = 0
        self.bucket_count = 0

    def frames_per_minute(self, now: float, window_s: float) -> float:
        since = now - window_s
        count = sum(n for second, n in self.buckets if second >= since)
        if self.bucket_second >= since:
            count += self.bucket_count
        return round(count * 60.0 / window_s, 2)

    def record(self, now: float, settings: PipelineSettings) -> BaseStation:
        self.published_at = now
        self.published_frames = self.frames
        return BaseStation(
            self.station_id,
            self.last_seen,
            self.frames,
            self.frames_per_minute(now, settings.base_station_rate_window_s),
            None if self.rssi_avg is None else round(self.rssi_avg, 1),
            None if self.snr_avg is None else round(self.snr_avg, 1),
            tuple(reversed(self.heard)),
            self.lat,
            self.lon,
            self.health,
        )

    def roll(self, second: int, window_s: float) -> None:
        """Close the current one-second bucket and drop buckets that left the window."""
        if self.bucket_count:
            self.buckets.append((self.bucket_second, self.bucket_count))
        self.bucket_second = second
        self.bucket_count = 0
        since = second - window_s
        buckets = self.buckets
        while buckets and buckets[0][0] < since:
            buckets.popleft()


class Receivers:
    """All stations by id."""

    __slots__ = ("_heard_max", "_settings", "_weight", "_window_s", "by_id")

    def __init__(self, settings: PipelineSettings) -> None:
        self._settings = settings
        self._weight = settings.signal_average_weight
        self._window_s = settings.base_station_rate_window_s
        self._heard_max = settings.base_station_heard
        self.by_id: dict[str, Receiver] = {}

    def reception(self, station: str, rssi: int | None, snr: int | None, now: float) -> Receiver:
        """Count one received frame (decodable or not)."""
        rx = self.by_id.get(station)
        if rx is None:
            rx = self.by_id[station] = Receiver(station)
        rx.frames += 1
        rx.last_seen = now
        second = int(now) if -1e15 < now < 1e15 else 0
        if second != rx.bucket_second:
            rx.roll(second, self._window_s)
        rx.bucket_count += 1
        w = self._weight
        if rssi is not None:
            avg = rx.rssi_avg
            rx.rssi_avg = rssi if avg is None else avg + (rssi - avg) * w
        if snr is not None:
            avg = rx.snr_avg
            rx.snr_avg = snr if avg is None else avg + (snr - avg) * w
        return rx

    def heard(self, rx: Receiver, addr: int) -> None:
        heard = rx.heard
        if addr in heard:
            del heard[addr]
        heard[addr] = None
        if len(heard) > self._heard_max:
            del heard[next(iter(heard))]

    def due(self, rx: Receiver, now: float) -> bool:
        """Whether ``rx`` should send a fresh record now (new frames and the interval passed)."""
        return (
            rx.frames != rx.published_frames
            and now - rx.published_at >= self._settings.base_station_interval_s
        )

    def flush(self, now: float) -> list[BaseStation]:
        """Records of every station that is due (for quiet periods, from ``expire``)."""
        return [rx.record(now, self._settings) for rx in self.by_id.values() if self.due(rx, now)]

    def health(
        self, station: str, health: Mapping[str, object], now: float, lat: float | None, lon: float | None
    ) -> BaseStation:
        rx = self.by_id.get(station)
        if rx is None:
            rx = self.by_id[station] = Receiver(station)
            rx.last_seen = now
        rx.health = MappingProxyType(dict(health))
        if lat is not None and lon is not None:
            rx.lat, rx.lon = lat, lon
        return rx.record(now, self._settings)

    def restore(self, record: BaseStation) -> None:
        rx = self.by_id.get(record.station_id) or Receiver(record.station_id)
        rx.frames = max(rx.frames, record.frames)
        rx.last_seen = max(rx.last_seen, record.last_seen)
        rx.rssi_avg = record.rssi_avg if rx.rssi_avg is None else rx.rssi_avg
        rx.snr_avg = record.snr_avg if rx.snr_avg is None else rx.snr_avg
        for addr in reversed(record.heard[: self._heard_max]):
            if addr not in rx.heard:
                rx.heard[addr] = None
        rx.lat = rx.lat if rx.lat is not None else record.lat
        rx.lon = rx.lon if rx.lon is not None else record.lon
        if not rx.health:
            rx.health = MappingProxyType(dict(record.health))
        self.by_id[record.station_id] = rx

    def forget(self, now: float) -> None:
        cutoff = now - self._settings.base_station_forget_s
        for station in [k for k, rx in self.by_id.items() if rx.last_seen < cutoff]:
            del self.by_id[station]
