"""The world model as the client API's messages: protobuf for the wire, and its JSON mirror.

REST and WebSocket both answer through these functions, so a pilot reads the same everywhere. The
model keeps FANET units; the contract (``proto/fanet.proto``) wants wind in m/s, so thermal and station
wind is converted here and nowhere else. Times become whole unix seconds, percentages whole numbers, and
values the model does not know (``None``) the proto3 zero that means "not reported".

The JSON mirror is ``google.protobuf.json_format`` with the field names of the .proto, enums as their
names and every field printed (zeros included, so JavaScript clients need no defaults); 64-bit integers
are strings, as the proto3 JSON mapping has them. One deliberate difference on the WebSocket: an
``Update``'s ``data`` is the object itself as JSON, not base64 of its bytes (see
:mod:`fanet.server.api.updates`).
"""

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message

from fanet.proto import fanet_pb2 as pb
from fanet.server.model import (
    BaseStation,
    GroundObject,
    Kind,
    LiveObject,
    Pilot,
    Thermal,
    TrackPoint,
    WeatherStation,
)

KMH_PER_MS = 3.6

UPDATE_TYPES: dict[Kind, "pb.UpdateType.ValueType"] = {
    Kind.PILOT: pb.UPDATE_TYPE_PILOT,
    Kind.GROUND: pb.UPDATE_TYPE_GROUND_OBJECT,
    Kind.THERMAL: pb.UPDATE_TYPE_THERMAL,
    Kind.STATION: pb.UPDATE_TYPE_STATION,
}
"""The ``Update.type`` of each kind of object."""


# --- model → protobuf ----------------------------------------------------------------------------


def pilot_message(pilot: Pilot) -> pb.Pilot:
    return pb.Pilot(
        addr=pilot.addr,
        name=pilot.name,
        type=int(pilot.aircraft_type),  # type: ignore[arg-type]  # FANET's 0..7 are the enum's values
        position=pb.GeoPoint(latitude=pilot.lat, longitude=pilot.lon, altitude=pilot.altitude_m),
        altitude=pilot.altitude_m,
        speed=pilot.speed_kmh,
        climb=pilot.climb_ms,
        course=pilot.heading_deg,
        last_update=int(pilot.last_update),
        track_online=pilot.online,
        battery=_whole(pilot.battery_pct),
    )


def pilot_motion(pilot: Pilot, timestamp_s: int) -> pb.PilotMotion:
    """A compact update's ``PilotMotion``: the pilot's motion in whole small units, its time as an age
    relative to the batch's ``timestamp_s``. It carries what :func:`pilot_message` says, rounded to the
    units of the .proto (finer than FANET's own); :func:`pilot_at_rest` is what it leaves out."""
    return pb.PilotMotion(
        addr=pilot.addr,
        latitude=round(pilot.lat * 1e5),
        longitude=round(pilot.lon * 1e5),
        altitude=pilot.altitude_m,
        speed=round(pilot.speed_kmh * 10),
        climb=round(pilot.climb_ms * 10),
        course=round(pilot.heading_deg * 10) % 3600,
        age=timestamp_s - int(pilot.last_update),
    )


def apply_motion(pilot: pb.Pilot, motion: pb.PilotMotion, timestamp_s: int) -> pb.Pilot:
    """The client's side of a compact update: the ``pilot`` it has, moved as ``motion`` says (in a batch
    stamped ``timestamp_s``); the inverse of :func:`pilot_motion`, to its units."""
    moved = pb.Pilot()
    moved.CopyFrom(pilot)
    moved.position.latitude = motion.latitude / 1e5
    moved.position.longitude = motion.longitude / 1e5
    moved.position.altitude = moved.altitude = motion.altitude
    moved.speed = motion.speed / 10
    moved.climb = motion.climb / 10
    moved.course = motion.course / 10
    moved.last_update = timestamp_s - motion.age
    return moved


def pilot_at_rest(pilot: Pilot) -> tuple[object, ...]:
    """What a ``PilotMotion`` leaves out, as the client sees it: a change that keeps this may go compact."""
    return (pilot.name, pilot.aircraft_type, pilot.online, _whole(pilot.battery_pct))


def ground_message(ground: GroundObject) -> pb.GroundObject:
    return pb.GroundObject(
        addr=ground.addr,
        name=ground.name,
        # proto3 enums are open: the FANET values 5..7 and 10..11, undefined in both, pass as numbers.
        type=int(ground.ground_type),  # type: ignore[arg-type]
        position=pb.GeoPoint(latitude=ground.lat, longitude=ground.lon),
        track_online=ground.online,
        last_update=int(ground.last_update),
    )


def thermal_message(thermal: Thermal) -> pb.Thermal:
    return pb.Thermal(
        id=thermal.id,
        addr=thermal.addr,
        position=pb.GeoPoint(latitude=thermal.lat, longitude=thermal.lon, altitude=thermal.altitude_m),
        altitude=thermal.altitude_m,
        quality=thermal.quality,
        climb=thermal.climb_ms,
        wind_speed=thermal.wind_speed_kmh / KMH_PER_MS,
        wind_heading=thermal.wind_heading_deg,
        timestamp=int(thermal.last_update),
    )


def station_message(station: WeatherStation) -> pb.Station:
    return pb.Station(
        addr=station.addr,
        name=station.name,
        position=pb.GeoPoint(latitude=station.lat, longitude=station.lon),
        temperature=station.temperature_c or 0.0,
        wind_speed=(station.wind_speed_kmh or 0.0) / KMH_PER_MS,
        wind_heading=station.wind_heading_deg or 0.0,
        wind_gusts=(station.wind_gust_kmh or 0.0) / KMH_PER_MS,
        humidity=_whole(station.humidity_pct),
        pressure=station.pressure_hpa or 0.0,
        battery=_whole(station.battery_pct),
        last_update=int(station.last_update),
    )


ObjectMessage = pb.Pilot | pb.GroundObject | pb.Thermal | pb.Station


def object_message(obj: LiveObject) -> ObjectMessage:
    """The contract's message for any live object."""
    if isinstance(obj, Pilot):
        return pilot_message(obj)
    if isinstance(obj, GroundObject):
        return ground_message(obj)
    if isinstance(obj, Thermal):
        return thermal_message(obj)
    return station_message(obj)


def identity_message(kind: Kind, key: str) -> ObjectMessage:
    """A message holding only what identifies an object (its address, or a thermal's id): the data of a
    ``REMOVE`` when its last state is not at hand."""
    if kind is Kind.THERMAL:
        return pb.Thermal(id=int(key))
    if kind is Kind.PILOT:
        return pb.Pilot(addr=int(key))
    if kind is Kind.GROUND:
        return pb.GroundObject(addr=int(key))
    return pb.Station(addr=int(key))


def track_message(addr: int, points: Iterable[TrackPoint]) -> pb.Track:
    track = pb.Track(addr=addr)
    for point in points:
        track.points.add(
            position=pb.GeoPoint(latitude=point.lat, longitude=point.lon, altitude=point.altitude_m),
            altitude=point.altitude_m,
            speed=point.speed_kmh,
            climb=point.climb_ms,
            timestamp=int(point.timestamp),
        )
    if track.points:
        track.start_time, track.end_time = track.points[0].timestamp, track.points[-1].timestamp
    return track


def snapshot_response(objects: Iterable[LiveObject], sequence: int) -> pb.SnapshotResponse:
    """Everything in an area, and the change-stream position it reflects."""
    response = pb.SnapshotResponse(sequence=sequence)
    lists: dict[type, Any] = {
        Pilot: response.pilots,
        GroundObject: response.ground_objects,
        Thermal: response.thermals,
        WeatherStation: response.stations,
    }
    for obj in objects:
        lists[type(obj)].append(object_message(obj))
    return response


def base_station_message(record: BaseStation) -> pb.BaseStation:
    """A receiving station: ``name`` is its station id, ``addr`` the FANET address of its own radio
    module (:func:`base_station_address`, 0 when unknown), ``position`` only when the station reported
    one; averages it has no figures for are 0."""
    message = pb.BaseStation(
        addr=base_station_address(record),
        name=record.station_id,
        last_seen=math.floor(record.last_seen) if math.isfinite(record.last_seen) else 0,
        frames_per_minute=record.frames_per_minute,
        rssi_avg=record.rssi_avg or 0.0,
        snr_avg=record.snr_avg or 0.0,
        heard_addrs=record.heard,
    )
    if record.lat is not None and record.lon is not None:
        message.position.CopyFrom(pb.GeoPoint(latitude=record.lat, longitude=record.lon))
    return message


def base_station_address(record: BaseStation) -> int:
    """The station's own module address: the one its health report names (``module.address``, as
    our gateway publishes it), else its station id when that is an address (six hex digits, as
    FlyBeeper stations are named); 0 when neither says."""
    module = record.health.get("module")
    if isinstance(module, Mapping):
        address = module.get("address")
        if isinstance(address, str) and _is_hex_address(address):
            return int(address, 16)
    return int(record.station_id, 16) if _is_hex_address(record.station_id) else 0


def _is_hex_address(text: str) -> bool:
    return len(text) == 6 and all(c in "0123456789abcdefABCDEF" for c in text)


def _whole(value: float | None) -> int:
    return 0 if value is None else max(0, round(value))


# --- ServerMessage builders ------------------------------------------------------------------------


def welcome(server_time_s: float, sequence: int, server_version: str) -> pb.ServerMessage:
    return pb.ServerMessage(
        welcome=pb.Welcome(server_time=int(server_time_s), sequence=sequence, server_version=server_version)
    )


def subscribe_response(geohashes: Iterable[str] = (), error: str = "") -> pb.ServerMessage:
    """Success with the cells now covered, or a failure with its reason (``error`` not empty)."""
    return pb.ServerMessage(
        subscribe_response=pb.SubscribeResponse(success=not error, error=error, geohashes=list(geohashes))
    )


def pong(ping_timestamp_ms: int, server_time_s: float) -> pb.ServerMessage:
    return pb.ServerMessage(
        pong=pb.Pong(timestamp=ping_timestamp_ms, server_time=round(server_time_s * 1000))
    )


def ping(server_time_s: float) -> pb.ServerMessage:
    return pb.ServerMessage(ping=pb.Ping(timestamp=round(server_time_s * 1000)))


def error(code: str, message: str) -> pb.ServerMessage:
    return pb.ServerMessage(error=pb.Error(code=code, message=message))


# --- the JSON mirror -------------------------------------------------------------------------------


def to_dict(message: Message) -> dict[str, Any]:
    """The JSON mirror of any contract message as Python values."""
    return json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


def to_json(message: Message) -> str:
    """The JSON mirror of any contract message, compact."""
    return json.dumps(to_dict(message), separators=(",", ":"), ensure_ascii=False)


def encode(message: Message, *, as_json: bool) -> bytes | str:
    """A message as one WebSocket frame: binary protobuf, or a JSON text frame."""
    return to_json(message) if as_json else message.SerializeToString()
