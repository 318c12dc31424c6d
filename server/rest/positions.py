"""Positions that signed-in users post: the request body, their FANET address, and the seam to the pipeline.

``POST /api/v1/position`` turns a ``PositionRequest`` (protobuf or JSON) into a :class:`PostedPosition`
and hands it to a :data:`PositionSink`, an async callable the server provides. :func:`frame_sink` is the
usual one: it sends the position as a FANET air-tracking frame, received by the pseudo-station
:data:`API_STATION`, into the same channel the radio frames from MQTT go through — so a posted position
is deduplicated, validated, stored and fanned out exactly like one heard over the air.

Addresses of users (:func:`user_address`): manufacturer byte ``0xFF``, which FANET reserves — no radio
sends from it — so a user can never be mistaken for a device. A numeric user id ``n`` in 1..65534 is
device id ``n`` (``0xFF0000 | n``, reversible); any other id (text, or a larger number) is hashed into
1..65534, where two users may share an address (the validator would then see one object jumping, and
reject the jumps). Device ids 0x0000 and 0xFFFF stay unused, as FANET reserves them too.
"""

import hashlib
import json
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

import trio
from google.protobuf.message import DecodeError
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from fanet.proto import AircraftType, AirTracking, Frame, ReceivedFrame, encode_frame
from fanet.proto import fanet_pb2 as pb
from fanet.server.api.messages import to_dict
from fanet.server.pipeline import API_STATION, USER_MANUFACTURER
from fanet.server.rest.errors import ApiError, ParameterError
from fanet.server.rest.negotiate import JSON, PROTOBUF_TYPES

"""The receiving station of posted positions (no MQTT station id starts with ``@``)."""

_USER_IDS = 0xFFFE
"""Device ids 1..0xFFFE: 0x0000 and 0xFFFF are reserved."""


def user_address(user_id: str) -> int:
    """The FANET address of an account's posted positions (see the module docstring)."""
    if (
        user_id.isascii()
        and user_id.isdigit()
        and str(int(user_id)) == user_id
        and 1 <= int(user_id) <= _USER_IDS
    ):
        return USER_MANUFACTURER << 16 | int(user_id)
    digest = hashlib.blake2b(user_id.encode(), digest_size=8).digest()
    return USER_MANUFACTURER << 16 | (int.from_bytes(digest, "big") % _USER_IDS + 1)


def is_user_address(addr: int) -> bool:
    return addr >> 16 == USER_MANUFACTURER


# --- the request body ----------------------------------------------------------------------------

_BODY = ConfigDict(extra="forbid", strict=True, frozen=True)


def _integral(value: object) -> object:
    # JSON has one number type: 1800.0 is an integer to a JSON Schema, so it is one here too.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Altitude = Annotated[int, Field(ge=-1000, le=20_000), BeforeValidator(_integral)]


class GeoPointBody(BaseModel):
    model_config = _BODY
    latitude: Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False, description="degrees, WGS84")]
    longitude: Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False, description="degrees, WGS84")]
    altitude: Annotated[Altitude, Field(description="metres; used when `altitude` is 0")] = 0


class PositionBody(BaseModel):
    """A ``PositionRequest`` as JSON (field names of the .proto; 64-bit integers as numbers or strings)."""

    model_config = _BODY
    position: GeoPointBody
    altitude: Annotated[Altitude, Field(description="metres (GPS altitude)")] = 0
    speed: Annotated[float, Field(ge=0, le=1000, allow_inf_nan=False, description="ground speed, km/h")] = 0.0
    climb: Annotated[
        float, Field(ge=-100, le=100, allow_inf_nan=False, description="m/s, up is positive")
    ] = 0.0
    course: Annotated[
        float, Field(ge=0, le=360, allow_inf_nan=False, description="degrees from true north")
    ] = 0.0
    timestamp: (
        Annotated[int, Field(ge=0, le=10**11), BeforeValidator(_integral)]
        | Annotated[str, Field(pattern=r"^[0-9]{1,11}$")]
    ) = Field(default=0, description="unix seconds of the fix; 0 (or absent): when the server receives it")


def parse_position_body(content_type: str, body: bytes) -> PositionBody:
    """A ``PositionRequest`` body, protobuf or JSON by ``Content-Type``; 415 for other types, 400
    naming the field for anything out of range or malformed."""
    mimetype = content_type.partition(";")[0].strip().lower()
    data: Any
    if mimetype in PROTOBUF_TYPES:
        message = pb.PositionRequest()
        try:
            message.ParseFromString(body)
        except DecodeError:
            raise ParameterError("body", "not a PositionRequest protobuf message") from None
        data = to_dict(message)
        if not message.HasField("position"):
            data.pop("position", None)
    elif mimetype == JSON or mimetype.endswith("+json"):
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise ParameterError("body", "not valid JSON") from None
    else:
        raise ApiError(
            415,
            "unsupported_media_type",
            f"send the position as {JSON} or {PROTOBUF_TYPES[0]}, not {mimetype or 'no Content-Type'}",
        )
    try:
        return PositionBody.model_validate(data)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in error["loc"] if not _is_union_branch(part)) or "body"
        problem = "missing (required)" if error["type"] == "missing" else error["msg"]
        raise ParameterError(where, problem) from None


def _is_union_branch(part: object) -> bool:
    # pydantic names the union member that failed (``int``, ``constrained-str``) in the location
    return isinstance(part, str) and (
        part in ("int", "str") or part.startswith(("constrained-", "function-"))
    )


# --- the seam to the pipeline --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PostedPosition:
    """A position a signed-in user posted, on its way into the pipeline."""

    addr: int
    """The user's FANET address (:func:`user_address`)."""
    user_id: str
    lat: float
    lon: float
    altitude_m: int
    speed_kmh: float
    climb_ms: float
    heading_deg: float
    timestamp: float
    """Unix seconds of the fix (the request's, or when it was received if it gave none)."""
    received_at: float
    aircraft_type: AircraftType = AircraftType.OTHER

    @classmethod
    def from_body(
        cls, body: PositionBody, user_id: str, received_at: float, aircraft_type: AircraftType
    ) -> "PostedPosition":
        timestamp = int(body.timestamp)
        return cls(
            addr=user_address(user_id),
            user_id=user_id,
            lat=body.position.latitude,
            lon=body.position.longitude,
            altitude_m=body.altitude or body.position.altitude,
            speed_kmh=body.speed,
            climb_ms=body.climb,
            heading_deg=math.fmod(body.course, 360.0),
            timestamp=float(timestamp) if timestamp else received_at,
            received_at=received_at,
            aircraft_type=aircraft_type,
        )

    def air_tracking(self) -> AirTracking:
        return AirTracking(
            self.lat,
            self.lon,
            self.aircraft_type,
            self.altitude_m,
            self.speed_kmh,
            self.climb_ms,
            self.heading_deg,
            True,
        )

    def received_frame(self) -> ReceivedFrame:
        """The position as the pipeline takes radio frames: an air-tracking frame from :data:`API_STATION`
        (no RSSI/SNR), stamped with the fix's time."""
        raw = encode_frame(Frame(self.addr, self.air_tracking()))
        return ReceivedFrame(API_STATION, self.timestamp, None, None, raw)


PositionSink = Callable[[PostedPosition], Awaitable[None]]
"""Hands a posted position to the pipeline. Raise :class:`IngestBusy` when it cannot take it now."""


class IngestBusy(ApiError):
    def __init__(self) -> None:
        super().__init__(
            503, "ingest_busy", "the server is busy; post the position again", {"Retry-After": "1"}
        )


def frame_sink(send: trio.MemorySendChannel[ReceivedFrame], *, timeout_s: float = 2.0) -> PositionSink:
    """A sink sending each position as a :class:`ReceivedFrame` into the pipeline's frame channel;
    :class:`IngestBusy` when the channel has no room within ``timeout_s`` (or is closed)."""

    async def sink(position: PostedPosition) -> None:
        frame = position.received_frame()
        with trio.move_on_after(timeout_s):
            try:
                await send.send(frame)
            except (trio.ClosedResourceError, trio.BrokenResourceError):
                raise IngestBusy() from None
            return
        raise IngestBusy()

    return sink
