"""The live world the server keeps: what is on the map, and the changes that move it.

These records cross every boundary inside the server: the pipeline produces them, the store keeps
them, REST and WebSocket turn them into the client API's messages. Units are in the field names and
are the FANET ones (km/h for speeds and wind, m/s for climb, degrees, metres, unix seconds); the API
layer converts where the contract asks for other units (wind in m/s).

Keys: pilots, ground objects and weather stations are keyed by their 24-bit FANET address
(manufacturer << 16 | id); thermals by a 64-bit id the pipeline assigns; base stations by the station
id from their MQTT topic.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum

from fanet.proto import DISTRESS_GROUND_TYPES, AircraftType, GroundType


class Kind(StrEnum):
    """What kind of object a change is about (the client API's ``UpdateType``, plus base stations)."""

    PILOT = "pilot"
    GROUND = "ground"
    THERMAL = "thermal"
    STATION = "station"
    """A weather station (FANET service frames with weather data)."""


class Action(IntEnum):
    """The client API's ``Action`` values."""

    ADD = 0
    UPDATE = 1
    REMOVE = 2


@dataclass(frozen=True, slots=True)
class Pilot:
    addr: int
    lat: float
    lon: float
    altitude_m: int
    aircraft_type: AircraftType
    speed_kmh: float
    climb_ms: float
    heading_deg: float
    online: bool
    last_update: float
    """Unix seconds of the last accepted position."""
    name: str = ""
    battery_pct: float | None = None
    turn_rate_dps: float | None = None


@dataclass(frozen=True, slots=True)
class GroundObject:
    addr: int
    lat: float
    lon: float
    ground_type: GroundType | int
    online: bool
    last_update: float
    name: str = ""

    @property
    def distress(self) -> bool:
        return self.ground_type in DISTRESS_GROUND_TYPES


@dataclass(frozen=True, slots=True)
class Thermal:
    id: int
    addr: int
    """The address of the last pilot who reported it."""
    lat: float
    lon: float
    altitude_m: int
    quality: int
    """0..7 as FANET sends it (7 = 100 %)."""
    climb_ms: float
    wind_speed_kmh: float
    wind_heading_deg: float
    last_update: float
    reports: int = 1
    """How many reports were merged into this thermal."""


@dataclass(frozen=True, slots=True)
class WeatherStation:
    addr: int
    lat: float
    lon: float
    last_update: float
    name: str = ""
    temperature_c: float | None = None
    wind_heading_deg: float | None = None
    wind_speed_kmh: float | None = None
    wind_gust_kmh: float | None = None
    humidity_pct: float | None = None
    pressure_hpa: float | None = None
    battery_pct: float | None = None


@dataclass(frozen=True, slots=True)
class BaseStation:
    """A receiving station: what it heard and how well, for the status page.

    Not part of the change stream (every frame would update one): the pipeline hands the store fresh
    base-station records now and then, in :attr:`ApplyBatch.base_stations`.
    """

    station_id: str
    last_seen: float
    frames: int = 0
    """Frames received from it since the server started (or since the store kept it)."""
    frames_per_minute: float = 0.0
    rssi_avg: float | None = None
    snr_avg: float | None = None
    heard: tuple[int, ...] = ()
    """Addresses it heard recently, most recent first (bounded)."""
    lat: float | None = None
    lon: float | None = None
    health: Mapping[str, object] = field(default_factory=dict)
    """The last health message it published on ``fb/b/<id>/hw`` (version, uptime, counters…)."""


LiveObject = Pilot | GroundObject | Thermal | WeatherStation
"""What is on the map: the objects changes are about."""


def key_of(obj: LiveObject) -> str:
    """The object's key within its kind, as a string (address in decimal, thermal id)."""
    if isinstance(obj, Thermal):
        return str(obj.id)
    return str(obj.addr)


def kind_of(obj: LiveObject) -> Kind:
    return _KIND_BY_TYPE[type(obj)]


_KIND_BY_TYPE: dict[type, Kind] = {
    Pilot: Kind.PILOT,
    GroundObject: Kind.GROUND,
    Thermal: Kind.THERMAL,
    WeatherStation: Kind.STATION,
}


@dataclass(frozen=True, slots=True)
class TrackPoint:
    lat: float
    lon: float
    altitude_m: int
    speed_kmh: float
    climb_ms: float
    timestamp: float


@dataclass(frozen=True, slots=True)
class PendingChange:
    """A change the pipeline decided on, before the store stamps it with a sequence number.

    For ``REMOVE`` the object is the last known state (clients need its position to drop it from
    their region).
    """

    action: Action
    obj: LiveObject
    time: float
    """Unix seconds when the change happened (receive time of the frame, or the expiry time)."""
    urgent: bool = False
    """Deliver at once (distress calls), not at the next batching interval."""

    @property
    def kind(self) -> Kind:
        return kind_of(self.obj)

    @property
    def key(self) -> str:
        return key_of(self.obj)


@dataclass(frozen=True, slots=True)
class Change:
    """A change with its global, gap-free sequence number (assigned by the store)."""

    sequence: int
    action: Action
    obj: LiveObject
    time: float
    urgent: bool = False

    @property
    def kind(self) -> Kind:
        return kind_of(self.obj)

    @property
    def key(self) -> str:
        return key_of(self.obj)


@dataclass(frozen=True, slots=True)
class ApplyBatch:
    """Everything one pipeline step hands to the store at once."""

    changes: tuple[PendingChange, ...] = ()
    track_points: tuple[tuple[int, TrackPoint], ...] = ()
    """(pilot address, point) for every accepted air position."""
    base_stations: tuple[BaseStation, ...] = ()
    """Fresh records of receiving stations (upserts, no sequence numbers)."""
