"""Position reports: air tracking (type 1), ground tracking (type 7) and thermals (type 9).

These are most of the traffic, so decoding is one precompiled ``struct`` unpack plus table lookups,
and records are built with ``tuple.__new__`` (a NamedTuple built that way costs a third of a frozen
dataclass; measured in the README's design notes).
"""

import struct
from typing import NamedTuple

from fanet.proto._enums import AircraftType, FrameType, GroundType
from fanet.proto._errors import FrameError
from fanet.proto._quantities import (
    CLIMB_MS,
    HEADING_DEG,
    LAT_SCALE,
    LON_SCALE,
    QNE_OFFSET_M,
    SPEED_KMH,
    TURN_RATE_DPS,
    encode_altitude,
    encode_climb,
    encode_heading,
    encode_position,
    encode_qne_offset,
    encode_speed,
    encode_turn_rate,
)

# lat (u16 low + i8 high), lon (same), u16 word, then single bytes: a 24-bit two's complement value
# is its low 16 bits unsigned plus the signed high byte shifted, so one unpack reads a whole report.
_AIR = struct.Struct("<HbHbHBBB")
_GROUND = struct.Struct("<HbHbB")
_THERMAL = _AIR  # same layout: position, quality/altitude word, three bytes

_AIRCRAFT_TYPES = tuple(AircraftType)
_GROUND_TYPES: tuple[GroundType | int, ...] = tuple(
    GroundType(v) if v in GroundType._value2member_map_ else v for v in range(16)
)


class AirTracking(NamedTuple):
    """Type 1: a flying aircraft's position and motion."""

    lat: float
    lon: float
    aircraft_type: AircraftType
    altitude_m: int
    speed_kmh: float
    climb_ms: float
    heading_deg: float
    online: bool = True
    turn_rate_dps: float | None = None
    qne_offset_m: int | None = None

    @property
    def frame_type(self) -> FrameType:
        return FrameType.AIR_TRACKING


class GroundTracking(NamedTuple):
    """Type 7: someone or something on the ground, including distress states."""

    lat: float
    lon: float
    ground_type: GroundType | int
    online: bool = True

    @property
    def frame_type(self) -> FrameType:
        return FrameType.GROUND_TRACKING


class Thermal(NamedTuple):
    """Type 9: a thermal someone circled in (climb of the air, not of the pilot)."""

    lat: float
    lon: float
    quality: int
    """0..7, 7 = 100 % confidence."""
    altitude_m: int
    climb_ms: float
    wind_speed_kmh: float
    wind_heading_deg: float
    """Where the wind comes from: 90° is wind from the east."""

    @property
    def frame_type(self) -> FrameType:
        return FrameType.THERMAL


def _short(field: str, start: int, need: int, have: int) -> FrameError:
    return FrameError(field, start, f"truncated: {need} bytes needed, {max(have, 0)} given")


def decode_air_tracking(buf: bytes, start: int) -> tuple[AirTracking, int]:
    size = len(buf) - start
    if size < 11:
        raise _short("air_tracking", start, 11, size)
    la, lah, lo, loh, word, speed, climb, heading = _AIR.unpack_from(buf, start)
    altitude = (word & 0x7FF) * 4 if word & 0x800 else word & 0x7FF
    end = start + 11
    turn_rate = qne_offset = None
    if size > 11:
        turn_rate = TURN_RATE_DPS[buf[end]]
        end += 1
        if size > 12:
            qne_offset = QNE_OFFSET_M[buf[end]]
            end += 1
    record = (
        (la | lah << 16) / LAT_SCALE,
        (lo | loh << 16) / LON_SCALE,
        _AIRCRAFT_TYPES[(word >> 12) & 7],
        altitude,
        SPEED_KMH[speed],
        CLIMB_MS[climb],
        HEADING_DEG[heading],
        word >= 0x8000,
        turn_rate,
        qne_offset,
    )
    return tuple.__new__(AirTracking, record), end


def encode_air_tracking(p: AirTracking) -> bytes:
    word = (0x8000 if p.online else 0) | (int(p.aircraft_type) & 7) << 12 | encode_altitude(p.altitude_m)
    out = encode_position(p.lat, p.lon) + bytes(
        (
            word & 0xFF,
            word >> 8,
            encode_speed(p.speed_kmh),
            encode_climb(p.climb_ms),
            encode_heading(p.heading_deg),
        )
    )
    if p.turn_rate_dps is not None or p.qne_offset_m is not None:
        # The QNE offset may only follow a turn rate: a frame with QNE alone sends turn rate 0.
        out += bytes((encode_turn_rate(p.turn_rate_dps or 0.0),))
        if p.qne_offset_m is not None:
            out += bytes((encode_qne_offset(p.qne_offset_m),))
    return out


def decode_ground_tracking(buf: bytes, start: int) -> tuple[GroundTracking, int]:
    size = len(buf) - start
    if size < 7:
        raise _short("ground_tracking", start, 7, size)
    la, lah, lo, loh, state = _GROUND.unpack_from(buf, start)
    record = (
        (la | lah << 16) / LAT_SCALE,
        (lo | loh << 16) / LON_SCALE,
        _GROUND_TYPES[state >> 4],
        bool(state & 1),
    )
    return tuple.__new__(GroundTracking, record), start + 7


def encode_ground_tracking(p: GroundTracking) -> bytes:
    return encode_position(p.lat, p.lon) + bytes(((int(p.ground_type) & 0x0F) << 4 | (1 if p.online else 0),))


def decode_thermal(buf: bytes, start: int) -> tuple[Thermal, int]:
    size = len(buf) - start
    if size < 11:
        raise _short("thermal", start, 11, size)
    la, lah, lo, loh, word, climb, wind_speed, wind_heading = _THERMAL.unpack_from(buf, start)
    record = (
        (la | lah << 16) / LAT_SCALE,
        (lo | loh << 16) / LON_SCALE,
        (word >> 12) & 7,
        (word & 0x7FF) * 4 if word & 0x800 else word & 0x7FF,
        CLIMB_MS[climb],
        SPEED_KMH[wind_speed],
        HEADING_DEG[wind_heading],
    )
    return tuple.__new__(Thermal, record), start + 11


def encode_thermal(p: Thermal) -> bytes:
    word = (min(max(p.quality, 0), 7) << 12) | encode_altitude(p.altitude_m)
    return encode_position(p.lat, p.lon) + bytes(
        (
            word & 0xFF,
            word >> 8,
            encode_climb(p.climb_ms),
            encode_speed(p.wind_speed_kmh),
            encode_heading(p.wind_heading_deg),
        )
    )
