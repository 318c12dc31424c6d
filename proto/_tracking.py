"""Position reports: air tracking (type 1), ground tracking (type 7) and thermals (type 9).

These are most of the traffic, so decoding is one precompiled ``struct`` unpack plus table lookups,
and records are built with ``tuple.__new__`` (a NamedTuple built that way costs a third of a frozen
dataclass; measured in the README's design notes).
"""

import struct
from collections.abc import Callable
from typing import Any, NamedTuple

from fanet.proto._enums import AckMode, AircraftType, FrameType, GroundType
from fanet.proto._errors import FrameError
from fanet.proto._header import MANUFACTURER_WEIGHT, Frame
from fanet.proto._quantities import (
    ALTITUDE_M,
    CLIMB_MS,
    HEADING_DEG,
    LAT_DIVISOR,
    LAT_SCALE,
    LON_DIVISOR,
    LON_SCALE,
    QNE_OFFSET_M,
    SPEED_KMH,
    TOP_BYTE_24,
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

_AIRCRAFT_BY_HIGH_NIBBLE = tuple(AircraftType(nibble & 7) for nibble in range(16))  # bit 3 = online
_GROUND_TYPES: tuple[GroundType | int, ...] = tuple(
    GroundType(v) if v in GroundType._value2member_map_ else v for v in range(16)
)
_NO_ACK = AckMode.NONE


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
    end = start + 11
    turn_rate = qne_offset = None
    if size > 11:
        turn_rate = TURN_RATE_DPS[buf[end]]
        end += 1
        if size > 12:
            qne_offset = QNE_OFFSET_M[buf[end]]
            end += 1
    return _air_tracking(la, lah, lo, loh, word, speed, climb, heading, turn_rate, qne_offset), end


def _air_tracking(
    la: int,
    lah: int,
    lo: int,
    loh: int,
    word: int,
    speed: int,
    climb: int,
    heading: int,
    turn_rate: float | None = None,
    qne_offset: int | None = None,
) -> AirTracking:
    record = (
        (la | lah << 16) / LAT_SCALE,
        (lo | loh << 16) / LON_SCALE,
        _AIRCRAFT_BY_HIGH_NIBBLE[word >> 12],
        ALTITUDE_M[word & 0xFFF],
        SPEED_KMH[speed],
        CLIMB_MS[climb],
        HEADING_DEG[heading],
        word >= 0x8000,
        turn_rate,
        qne_offset,
    )
    return tuple.__new__(AirTracking, record)


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
    return _ground_tracking(*_GROUND.unpack_from(buf, start)), start + 7


def _ground_tracking(la: int, lah: int, lo: int, loh: int, state: int) -> GroundTracking:
    record = (
        (la | lah << 16) / LAT_SCALE,
        (lo | loh << 16) / LON_SCALE,
        _GROUND_TYPES[state >> 4],
        bool(state & 1),
    )
    return tuple.__new__(GroundTracking, record)


def encode_ground_tracking(p: GroundTracking) -> bytes:
    return encode_position(p.lat, p.lon) + bytes(((int(p.ground_type) & 0x0F) << 4 | (1 if p.online else 0),))


def decode_thermal(buf: bytes, start: int) -> tuple[Thermal, int]:
    size = len(buf) - start
    if size < 11:
        raise _short("thermal", start, 11, size)
    return _thermal(*_THERMAL.unpack_from(buf, start)), start + 11


def _thermal(
    la: int, lah: int, lo: int, loh: int, word: int, climb: int, wind_speed: int, wind_heading: int
) -> Thermal:
    record = (
        (la | lah << 16) / LAT_SCALE,
        (lo | loh << 16) / LON_SCALE,
        (word >> 12) & 7,
        ALTITUDE_M[word & 0xFFF],
        CLIMB_MS[climb],
        SPEED_KMH[wind_speed],
        HEADING_DEG[wind_heading],
    )
    return tuple.__new__(Thermal, record)


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


DECODERS: dict[int, Callable[[bytes, int], tuple[Any, int]]] = {
    FrameType.AIR_TRACKING: decode_air_tracking,
    FrameType.GROUND_TRACKING: decode_ground_tracking,
    FrameType.THERMAL: decode_thermal,
}
ENCODERS: dict[type, Callable[[Any], bytes]] = {
    AirTracking: encode_air_tracking,
    GroundTracking: encode_ground_tracking,
    Thermal: encode_thermal,
}

# Whole frames (header and payload in one unpack) for the common case: no extended header, exact
# payload length. The header byte is skipped (the caller has read it to dispatch), then manufacturer,
# id (u16 LE), each coordinate as its low word and top byte (see TOP_BYTE_24) and the type/altitude
# word as two bytes, since its high byte alone decides aircraft type (or thermal quality), the online
# bit and the altitude scale. Turn rate and QNE offset, when there, are one more byte each. The
# ``unpack_from`` methods are bound once: a bound method is cheaper to call than a method to look up.
unpack_air_frame_15 = struct.Struct("<xBHHBHBBBBBB").unpack_from
unpack_air_frame_16 = struct.Struct("<xBHHBHBBBBBBB").unpack_from
unpack_air_frame_17 = struct.Struct("<xBHHBHBBBBBBBB").unpack_from
_unpack_ground_frame = struct.Struct("<xBHHBHBB").unpack_from
_unpack_thermal_frame = unpack_air_frame_15

AIRCRAFT_BY_WORD_HIGH = tuple(AircraftType(b >> 4 & 7) for b in range(256))
ONLINE_BY_WORD_HIGH = tuple(b >= 0x80 for b in range(256))
_ALTITUDES_BY_NIBBLE = tuple(
    tuple(ALTITUDE_M[nibble << 8 | low] for low in range(256)) for nibble in range(16)
)
ALTITUDE_BY_WORD_HIGH = tuple(_ALTITUDES_BY_NIBBLE[b & 0x0F] for b in range(256))
"""Word high byte → a table of the altitudes by word low byte: ``ALTITUDE_BY_WORD_HIGH[high][low]``."""
_QUALITY_BY_WORD_HIGH = tuple(b >> 4 & 7 for b in range(256))
_GROUND_TYPE_BY_STATE = tuple(_GROUND_TYPES[b >> 4] for b in range(256))
_ONLINE_BY_STATE = tuple(bool(b & 1) for b in range(256))


def whole_frame_decoders(general: Callable[[bytes], Frame]) -> dict[int, Callable[[bytes], Frame]]:
    """Fast decoders of ground tracking and thermals by header byte; other lengths go to ``general``.

    Air tracking, most of the traffic, is decoded inline in ``decode_frame`` from the same tables. The
    decoders repeat the record building of the payload decoders above inline (a helper call and star
    arguments cost a third of the decode time), and there is one per header byte, so that the forward
    bit is a constant instead of a lookup. Tables are module globals: a closure copies each of its free
    variables on every call.
    """
    new = tuple.__new__

    def for_header(forward: bool) -> tuple[Callable[[bytes], Frame], Callable[[bytes], Frame]]:
        def ground_tracking(buf: bytes) -> Frame:
            if len(buf) != 11:
                return general(buf)
            manufacturer, device, la, lah, lo, loh, state = _unpack_ground_frame(buf)
            payload = (
                (la + TOP_BYTE_24[lah]) / LAT_DIVISOR,
                (lo + TOP_BYTE_24[loh]) / LON_DIVISOR,
                _GROUND_TYPE_BY_STATE[state],
                _ONLINE_BY_STATE[state],
            )
            return new(
                Frame,
                (
                    MANUFACTURER_WEIGHT[manufacturer] + device,
                    new(GroundTracking, payload),
                    forward,
                    _NO_ACK,
                    None,
                    None,
                    False,
                    b"",
                ),
            )

        def thermal(buf: bytes) -> Frame:
            if len(buf) != 15:
                return general(buf)
            manufacturer, device, la, lah, lo, loh, low, high, climb, wind_speed, wind_heading = (
                _unpack_thermal_frame(buf)
            )
            payload = (
                (la + TOP_BYTE_24[lah]) / LAT_DIVISOR,
                (lo + TOP_BYTE_24[loh]) / LON_DIVISOR,
                _QUALITY_BY_WORD_HIGH[high],
                ALTITUDE_BY_WORD_HIGH[high][low],
                CLIMB_MS[climb],
                SPEED_KMH[wind_speed],
                HEADING_DEG[wind_heading],
            )
            return new(
                Frame,
                (
                    MANUFACTURER_WEIGHT[manufacturer] + device,
                    new(Thermal, payload),
                    forward,
                    _NO_ACK,
                    None,
                    None,
                    False,
                    b"",
                ),
            )

        return ground_tracking, thermal

    decoders: dict[int, Callable[[bytes], Frame]] = {}
    for forward_bit in (0, 0x40):
        decoders[FrameType.GROUND_TRACKING | forward_bit], decoders[FrameType.THERMAL | forward_bit] = (
            for_header(bool(forward_bit))
        )
    return decoders
