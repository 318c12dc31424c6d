"""What the FANET devices around a base station transmit, from real flights: frames with times.

Each pilot carries a device that sends, as the reference firmware and the protocol recommend
(``app.cpp``, ``protocol.txt``): air tracking (type 1) every ``(neighbours // 10 + 1) * 5 s``
while flying, ground tracking (type 7) at the same pace on the ground ("walking" before takeoff,
"landed well" after landing), the pilot's name (type 2) every 4 minutes, and a thermal (type 9)
every ``(neighbours // 10 + 1) * 30 s`` while circling in one. A weather station at launch sends
its wind and temperature (type 4) every 40 s and its name every 4 minutes. One pilot makes a
distress call (type 7, state 14): down (in trees, say) from that moment, the device keeps sending
ground tracking with the distress state from where it came down, at the tracking pace, until the
end; no more air tracking or thermals, the name as before. Every device starts at a random phase,
and every gap carries up to :data:`MAC_JITTER_S` of channel access delay.

Everything random comes from the ``Random`` passed in, so a seed gives the same traffic.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from random import Random

from fanet.hardware._flight import Track
from fanet.proto import AircraftType, AirTracking, Frame, GroundTracking, GroundType, Name, Service, Thermal

TRACKING_TAU_S = 5
"""``APP_TYPE1OR7_TAU_MS``: the base interval of air and ground tracking."""
THERMAL_TAU_S = 30
NAME_INTERVAL_S = 240.0
SERVICE_INTERVAL_S = 40.0
MAC_JITTER_S = 0.25
LAUNCH = (47.3040, 8.9431)
"""Where all five flights took off (Alp Scheidegg); the weather station stands there."""
PILOT_MANUFACTURERS = (0x11, 0x11, 0x11, 0x07, 0x01)
"""FANET+ devices (Skytraxx, Naviter, Skybean) are the most common, then SoftRF and Skytraxx."""
STATION_MANUFACTURER = 0x01
"""Skytraxx builds the common FANET wind stations."""
PILOT_NAMES = (
    "Anna Keller",
    "Marco Brunner",
    "Lea Steiner",
    "Jonas Meier",
    "Nina Frei",
    "Luca Baumann",
    "Sara Huber",
    "Reto Gerber",
)
STATION_NAME = "Startplatz Wind"


def tracking_interval_s(neighbours: int) -> int:
    """``floor((neighbours / 10 + 1) * 5 s)``, with the firmware's integer division."""
    return (neighbours // 10 + 1) * TRACKING_TAU_S


def thermal_interval_s(neighbours: int) -> int:
    return (neighbours // 10 + 1) * THERMAL_TAU_S


@dataclass(frozen=True, slots=True)
class Device:
    address: int
    name: str
    kind: str
    """``"paraglider"`` or ``"weather station"``."""
    track: Track | None = None
    online: bool = True


@dataclass(frozen=True, slots=True)
class Transmission:
    time: float
    """Unix time."""
    frame: Frame


@dataclass(frozen=True, slots=True)
class Traffic:
    start: float
    end: float
    devices: tuple[Device, ...]
    transmissions: tuple[Transmission, ...]
    """In time order."""


def choose_window(tracks: Sequence[Track], minutes: int) -> float:
    """The start (a whole minute) of the window with the most pilots in the air at once.

    Among equal windows: one in which a pilot lands, the landing as near the middle as possible (so
    the capture has flying and "landed well"); then the earliest.
    """
    span = minutes * 60
    first = math.ceil(min(track.start for track in tracks) / 60) * 60
    last = max(track.end for track in tracks) - span
    best: tuple[int, int, float, float] | None = None
    for start in range(first, max(first, math.floor(last)) + 1, 60):
        samples = range(start, start + span, 10)
        peak = max(sum(track.flying(t) for track in tracks) for t in samples)
        landings = [t.landing for t in tracks if t.landing is not None and start <= t.landing < start + span]
        offset = min((abs(landing - start - span / 2) for landing in landings), default=span)
        key = (peak, len(landings) > 0, -offset, -start)
        if best is None or key > best:
            best = key
    if best is None:
        raise ValueError("no flights to choose a window from")
    return float(-best[3])


def plan_traffic(tracks: Sequence[Track], start: float, end: float, rng: Random) -> Traffic:
    """Every frame the devices send in ``[start, end)``."""
    addresses = _addresses(len(tracks) + 1, rng)
    names = rng.sample(PILOT_NAMES, len(tracks))
    pilots = tuple(
        Device(address, name, "paraglider", track, online=rng.random() < 0.8)
        for address, name, track in zip(addresses, names, tracks, strict=False)
    )
    station = Device(STATION_MANUFACTURER << 16 | addresses[-1] & 0xFFFF, STATION_NAME, "weather station")
    sent: list[Transmission] = []
    for pilot in pilots:
        sent += _pilot(pilot, pilots, start, end, rng)
    wind = _mean_wind([t.frame.payload for t in sent if isinstance(t.frame.payload, Thermal)])
    sent += _station(station, wind, start, end, rng)
    call = _distress_call(pilots, start, end, rng)
    sent = [transmission for transmission in sent if not call.silences(transmission)]
    sent += _distress_reports(call, pilots, end)
    sent.sort(key=lambda transmission: transmission.time)
    return Traffic(start, end, (*pilots, station), tuple(sent))


def _addresses(count: int, rng: Random) -> list[int]:
    ids = rng.sample(range(0x0001, 0xFFFF), count)
    return [rng.choice(PILOT_MANUFACTURERS) << 16 | device_id for device_id in ids]


def _neighbours(pilot: Device, pilots: Sequence[Device], time: float) -> int:
    """Devices the pilot's module hears: the other pilots whose devices are on, and the station."""
    on = sum(1 for other in pilots if other is not pilot and _device_on(other, time))
    return on + 1


def _device_on(pilot: Device, time: float) -> bool:
    track = pilot.track
    return track is not None and track.start <= time and (time <= track.end or track.landed(time))


def _pilot(
    pilot: Device, pilots: Sequence[Device], start: float, end: float, rng: Random
) -> list[Transmission]:
    track = pilot.track
    assert track is not None
    sent: list[Transmission] = []
    time = start + rng.uniform(0, TRACKING_TAU_S)
    while time < end:
        payload = _position(pilot, track, time)
        if payload is not None:
            sent.append(Transmission(time, Frame(pilot.address, payload)))
        time += tracking_interval_s(_neighbours(pilot, pilots, time)) + rng.uniform(0, MAC_JITTER_S)
    time = start + rng.uniform(0, NAME_INTERVAL_S)
    while time < end:
        if _device_on(pilot, time):
            sent.append(Transmission(time, Frame(pilot.address, Name(pilot.name))))
        time += NAME_INTERVAL_S + rng.uniform(0, MAC_JITTER_S)
    time = start + rng.uniform(0, THERMAL_TAU_S)
    while time < end:
        report = track.thermal(time) if track.flying(time) else None
        if report is not None:
            thermal = Thermal(
                report.lat,
                report.lon,
                report.quality,
                round(report.altitude_m),
                report.climb_ms,
                report.wind_speed_kmh,
                report.wind_heading_deg,
            )
            sent.append(Transmission(time, Frame(pilot.address, thermal)))
        time += thermal_interval_s(_neighbours(pilot, pilots, time)) + rng.uniform(0, MAC_JITTER_S)
    return sent


def _position(pilot: Device, track: Track, time: float) -> AirTracking | GroundTracking | None:
    """Air tracking while flying, ground tracking before takeoff and after landing, else nothing."""
    point = track.at(time)
    if point is None or not _device_on(pilot, time):
        return None
    if track.flying(time):
        return AirTracking(
            point.lat,
            point.lon,
            AircraftType.PARAGLIDER,
            round(point.altitude_m),
            point.speed_kmh,
            point.climb_ms,
            point.heading_deg,
            pilot.online,
        )
    state = GroundType.LANDED_WELL if track.landed(time) else GroundType.WALKING
    return GroundTracking(point.lat, point.lon, state, pilot.online)


@dataclass(frozen=True, slots=True)
class DistressCall:
    """Who came down, when and where: from ``time`` on, the device reports this and its name only."""

    pilot: Device
    time: float
    lat: float
    lon: float

    def silences(self, transmission: Transmission) -> bool:
        """A frame the pilot's device would have sent had the pilot flown on: tracking or a thermal."""
        return (
            transmission.frame.source == self.pilot.address
            and transmission.time >= self.time
            and not isinstance(transmission.frame.payload, Name)
        )


def _distress_call(pilots: Sequence[Device], start: float, end: float, rng: Random) -> DistressCall:
    """A pilot whose device is on comes down a third of the way into the window or later."""
    time = start + (end - start) * rng.uniform(0.3, 0.45)
    candidates = [pilot for pilot in pilots if _device_on(pilot, time)] or list(pilots)
    pilot = rng.choice(candidates)
    assert pilot.track is not None
    point = pilot.track.at(time) or pilot.track.points[0]
    return DistressCall(pilot, time, point.lat, point.lon)


def _distress_reports(call: DistressCall, pilots: Sequence[Device], end: float) -> list[Transmission]:
    """Ground tracking in the distress state from the call to ``end``.

    On the ground the firmware sends type 7 instead of type 1 at the same pace: protocol.txt gives
    both "recommended interval: floor((#neighbors/10 + 1) * 5s)" and ``App::is_broadcast_ready``
    (fanet-stm32 ``app.cpp``) applies that one ``APP_TYPE1OR7_TAU_MS`` gap to either.
    """
    # The channel-access jitter comes from a stream of the call's own, seeded from it, so the shared
    # stream's next draws (the recording's reboot, corrupt line and noise) stay what they were.
    jitter = Random(f"distress {call.pilot.address:06X} {call.time!r}")
    report = GroundTracking(call.lat, call.lon, GroundType.DISTRESS_CALL, call.pilot.online)
    sent: list[Transmission] = []
    time = call.time
    while time < end:
        sent.append(Transmission(time, Frame(call.pilot.address, report)))
        time += tracking_interval_s(_neighbours(call.pilot, pilots, time)) + jitter.uniform(0, MAC_JITTER_S)
    return sent


def _mean_wind(thermals: Sequence[Thermal]) -> tuple[float, float]:
    """Speed (km/h) and direction (from, degrees) of the mean thermal drift; a light west wind if none."""
    if not thermals:
        return 8.0, 270.0
    east = sum(t.wind_speed_kmh * math.sin(math.radians(t.wind_heading_deg)) for t in thermals) / len(
        thermals
    )
    north = sum(t.wind_speed_kmh * math.cos(math.radians(t.wind_heading_deg)) for t in thermals) / len(
        thermals
    )
    return math.hypot(east, north), math.degrees(math.atan2(east, north)) % 360.0


def _station(
    station: Device, wind: tuple[float, float], start: float, end: float, rng: Random
) -> list[Transmission]:
    lat, lon = LAUNCH
    speed_kmh, heading_deg = wind
    temperature_c = rng.uniform(19.0, 23.0)
    sent: list[Transmission] = []
    time = start + rng.uniform(0, SERVICE_INTERVAL_S)
    while time < end:
        temperature_c += rng.uniform(-0.2, 0.2)
        speed = max(0.0, speed_kmh * rng.uniform(0.7, 1.3))
        weather = Service(
            lat=lat,
            lon=lon,
            temperature_c=temperature_c,
            wind_heading_deg=(heading_deg + rng.uniform(-20.0, 20.0)) % 360.0,
            wind_speed_kmh=speed,
            wind_gust_kmh=speed * rng.uniform(1.3, 1.8),
        )
        sent.append(Transmission(time, Frame(station.address, weather)))
        time += SERVICE_INTERVAL_S + rng.uniform(0, MAC_JITTER_S)
    time = start + rng.uniform(0, NAME_INTERVAL_S)
    while time < end:
        sent.append(Transmission(time, Frame(station.address, Name(station.name))))
        time += NAME_INTERVAL_S + rng.uniform(0, MAC_JITTER_S)
    return sent
