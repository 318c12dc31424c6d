"""A flight log → what a pilot's FANET device knows at any second: motion, flying or not, thermals.

Speed and heading come from each fix and the one before it; climb is averaged over the last few
seconds, as a variometer damps it (altitudes are whole metres, so a one-second difference jumps by
±1 m/s). A pilot is flying between takeoff and landing, found from the ground speed; a log that
starts or ends in the air has no takeoff or landing. A thermal is where the pilot circled (at least a
full turn in :data:`THERMAL_WINDOW_S`) while climbing faster than :data:`THERMAL_MIN_CLIMB_MS`.
"""

import bisect
import itertools
import math
from dataclasses import dataclass

from fanet.hardware._igc import Fix, Flight

EARTH_RADIUS_M = 6_371_000.0
CLIMB_AVERAGE_S = 5
MOVING_MS = 3.0
"""Ground speed (10 s average) above which the pilot is in the air: walking stays below it."""
GROUND_SETTLE_S = 10
"""Seconds of standing still that make a start or an end of a log a takeoff or a landing."""
THERMAL_WINDOW_S = 30
THERMAL_MIN_TURN_DEG = 360.0
THERMAL_MIN_CLIMB_MS = 1.0
DRIFT_HALF_S = 20
"""About one circle: thermal centres are averaged over this long, and the wind is their drift."""
CIRCLING_SINK_MS = 1.1
"""A paraglider's sink rate while circling: the air rises this much faster than the pilot climbs
(FANET's thermal frame carries the climb of the air, not of the glider)."""


@dataclass(frozen=True, slots=True)
class TrackPoint:
    time: float
    lat: float
    lon: float
    altitude_m: float
    speed_kmh: float
    climb_ms: float
    heading_deg: float
    turn_deg: float
    """Signed heading change since the fix before (positive clockwise)."""


@dataclass(frozen=True, slots=True)
class ThermalReport:
    """What a variometer would announce about the thermal the pilot is circling in."""

    lat: float
    lon: float
    altitude_m: float
    climb_ms: float
    """Climb of the air."""
    quality: int
    """0..7: the share of the window's seconds in which the pilot climbed."""
    wind_speed_kmh: float
    wind_heading_deg: float
    """Where the wind comes from (the thermal drifts the other way)."""


class Track:
    """One flight, analysed once; look-ups by time are binary searches."""

    def __init__(self, flight: Flight) -> None:
        self.name = flight.name
        self.points = _points(flight.fixes)
        self._times = [point.time for point in self.points]
        self.takeoff, self.landing = _takeoff_and_landing(self.points)
        self._thermalling = _thermalling(self.points)

    @property
    def start(self) -> float:
        return self.points[0].time

    @property
    def end(self) -> float:
        return self.points[-1].time

    def at(self, time: float) -> TrackPoint | None:
        """The last point at or before ``time`` (``None`` before the log starts)."""
        index = bisect.bisect_right(self._times, time) - 1
        return self.points[index] if index >= 0 else None

    def flying(self, time: float) -> bool:
        if time < self.start or (self.landing is not None and time > self.landing):
            return False
        return self.takeoff is None or time >= self.takeoff

    def landed(self, time: float) -> bool:
        return self.landing is not None and time > self.landing

    def thermal(self, time: float) -> ThermalReport | None:
        """The thermal the pilot is circling in at ``time``, or ``None``."""
        index = bisect.bisect_right(self._times, time) - 1
        if index < 0 or not self._thermalling[index]:
            return None
        return _report(self.points, index)


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlambda = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def bearing_deg(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Initial course from the first point to the second, 0..360 (0 = north)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dlambda = math.radians(lon2 - lon1)
    y = math.sin(dlambda) * math.cos(phi2)
    x = math.cos(phi1) * math.sin(phi2) - math.sin(phi1) * math.cos(phi2) * math.cos(dlambda)
    return math.degrees(math.atan2(y, x)) % 360.0


def _points(fixes: tuple[Fix, ...]) -> tuple[TrackPoint, ...]:
    points: list[TrackPoint] = []
    heading = 0.0
    for index, fix in enumerate(fixes):
        if index == 0:
            points.append(TrackPoint(fix.time, fix.lat, fix.lon, fix.altitude_m, 0.0, 0.0, 0.0, 0.0))
            continue
        before = fixes[index - 1]
        dt = fix.time - before.time
        moved = distance_m(before.lat, before.lon, fix.lat, fix.lon)
        turn = 0.0
        if moved > 0.5:  # below that the GNSS jitter decides the course, not the pilot
            new_heading = bearing_deg(before.lat, before.lon, fix.lat, fix.lon)
            turn = (new_heading - heading + 180.0) % 360.0 - 180.0
            heading = new_heading
        back = fixes[max(0, index - CLIMB_AVERAGE_S)]
        climb = (fix.altitude_m - back.altitude_m) / (fix.time - back.time)
        points.append(
            TrackPoint(fix.time, fix.lat, fix.lon, fix.altitude_m, moved / dt * 3.6, climb, heading, turn)
        )
    return tuple(points)


def _takeoff_and_landing(points: tuple[TrackPoint, ...]) -> tuple[float | None, float | None]:
    """First and last moment of sustained motion, when the log has standing still around them."""
    moving = [_mean_speed_ms(points, index) > MOVING_MS for index in range(len(points))]
    if not any(moving):
        return None, None
    first = moving.index(True)
    last = len(moving) - 1 - moving[::-1].index(True)
    takeoff = points[first].time if points[first].time - points[0].time >= GROUND_SETTLE_S else None
    landing = points[last].time if points[-1].time - points[last].time >= GROUND_SETTLE_S else None
    return takeoff, landing


def _mean_speed_ms(points: tuple[TrackPoint, ...], index: int) -> float:
    """Average ground speed over the ten seconds centred on ``index``."""
    low, high = max(0, index - 5), min(len(points) - 1, index + 5)
    if points[high].time == points[low].time:
        return 0.0
    a, b = points[low], points[high]
    return distance_m(a.lat, a.lon, b.lat, b.lon) / (b.time - a.time)


def _thermalling(points: tuple[TrackPoint, ...]) -> list[bool]:
    """For each point: did the last window hold a full turn and a steady climb?"""
    flags = [False] * len(points)
    turned = 0.0
    start = 0
    for index, point in enumerate(points):
        turned += point.turn_deg
        while point.time - points[start].time > THERMAL_WINDOW_S:
            start += 1
            turned -= points[start].turn_deg
        span = point.time - points[start].time
        if span < THERMAL_WINDOW_S * 0.9:
            continue
        climb = (point.altitude_m - points[start].altitude_m) / span
        flags[index] = abs(turned) >= THERMAL_MIN_TURN_DEG and climb > THERMAL_MIN_CLIMB_MS
    return flags


def _report(points: tuple[TrackPoint, ...], index: int) -> ThermalReport:
    """Centre, strength and drift of the circles flown in the last window.

    The centre is the mean position of the last :data:`DRIFT_HALF_S` seconds (about one circle); the
    wind is how far that centre moved from the one of the half before.
    """
    now = points[index].time
    window = [
        p for p in points[max(0, index - 2 * DRIFT_HALF_S) : index + 1] if now - p.time < 2 * DRIFT_HALF_S
    ]
    recent = [p for p in window if now - p.time < DRIFT_HALF_S]
    earlier = [p for p in window if now - p.time >= DRIFT_HALF_S]
    lat, lon = _centre(recent)
    wind_speed_kmh = wind_heading_deg = 0.0
    if earlier:
        old_lat, old_lon = _centre(earlier)
        drift_s = _mean_time(recent) - _mean_time(earlier)
        wind_speed_kmh = distance_m(old_lat, old_lon, lat, lon) / drift_s * 3.6
        wind_heading_deg = (bearing_deg(old_lat, old_lon, lat, lon) + 180.0) % 360.0
    last = [p for p in window if now - p.time <= THERMAL_WINDOW_S]
    span = max(last[-1].time - last[0].time, 1.0)
    rising = sum(1 for a, b in itertools.pairwise(last) if b.altitude_m > a.altitude_m)
    return ThermalReport(
        lat=lat,
        lon=lon,
        altitude_m=sum(p.altitude_m for p in recent) / len(recent),
        climb_ms=(last[-1].altitude_m - last[0].altitude_m) / span + CIRCLING_SINK_MS,
        quality=round(7 * rising / max(len(last) - 1, 1)),
        wind_speed_kmh=wind_speed_kmh,
        wind_heading_deg=wind_heading_deg,
    )


def _centre(points: list[TrackPoint]) -> tuple[float, float]:
    return sum(p.lat for p in points) / len(points), sum(p.lon for p in points) / len(points)


def _mean_time(points: list[TrackPoint]) -> float:
    return sum(p.time for p in points) / len(points)
