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
from fanet.proto._header import Frame
from fanet.proto._quantities import (
    ALTITUDE_M,
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

_AIRCRAFT_BY_HIGH_NIBBLE = tuple(AircraftType(nibble & 7) for nibble in range(16))  # bit 3 = online
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
# payload length. Header byte, manufacturer, id (u16 LE), then the payload as above.
_AIR_FRAME = struct.Struct("<BBH" + _AIR.format[1:])
_GROUND_FRAME = struct.Struct("<BBH" + _GROUND.format[1:])
_THERMAL_FRAME = _AIR_FRAME


def whole_frame_decoders(general: Callable[[bytes], Frame]) -> dict[int, Callable[[bytes], Frame]]:
    """Fast decoders by header byte (forward bit clear or set); other lengths go to ``general``.

    They repeat the record building of the payload decoders above inline: a helper call and star
    arguments cost a third of the decode time (see the README's design notes).
    """
    new = tuple.__new__
    no_ack = AckMode.NONE
    lat_scale, lon_scale, altitude, speed_kmh, climb_ms, heading_deg = (
        LAT_SCALE,
        LON_SCALE,
        ALTITUDE_M,
        SPEED_KMH,
        CLIMB_MS,
        HEADING_DEG,
    )

    def air_tracking(buf: bytes) -> Frame:
        size = len(buf)
        if size == 15:
            turn_rate = qne_offset = None
        elif size == 16:
            turn_rate, qne_offset = TURN_RATE_DPS[buf[15]], None
        elif size == 17:
            turn_rate, qne_offset = TURN_RATE_DPS[buf[15]], QNE_OFFSET_M[buf[16]]
        else:
            return general(buf)
        head, manufacturer, device, la, lah, lo, loh, word, speed, climb, heading = _AIR_FRAME.unpack_from(
            buf
        )
        payload = (
            (la | lah << 16) / lat_scale,
            (lo | loh << 16) / lon_scale,
            _AIRCRAFT_BY_HIGH_NIBBLE[word >> 12],
            altitude[word & 0xFFF],
            speed_kmh[speed],
            climb_ms[climb],
            heading_deg[heading],
            word >= 0x8000,
            turn_rate,
            qne_offset,
        )
        return new(
            Frame,
            (
                manufacturer << 16 | device,
                new(AirTracking, payload),
                head > 0x3F,
                no_ack,
                None,
                None,
                False,
                b"",
            ),
        )

    def ground_tracking(buf: bytes) -> Frame:
        if len(buf) != 11:
            return general(buf)
        head, manufacturer, device, la, lah, lo, loh, state = _GROUND_FRAME.unpack_from(buf)
        payload = (
            (la | lah << 16) / lat_scale,
            (lo | loh << 16) / lon_scale,
            _GROUND_TYPES[state >> 4],
            bool(state & 1),
        )
        return new(
            Frame,
            (
                manufacturer << 16 | device,
                new(GroundTracking, payload),
                head > 0x3F,
                no_ack,
                None,
                None,
                False,
                b"",
            ),
        )

    def thermal(buf: bytes) -> Frame:
        if len(buf) != 15:
            return general(buf)
        head, manufacturer, device, la, lah, lo, loh, word, climb, wind_speed, wind_heading = (
            _THERMAL_FRAME.unpack_from(buf)
        )
        payload = (
            (la | lah << 16) / lat_scale,
            (lo | loh << 16) / lon_scale,
            (word >> 12) & 7,
            altitude[word & 0xFFF],
            climb_ms[climb],
            speed_kmh[wind_speed],
            heading_deg[wind_heading],
        )
        return new(
            Frame,
            (manufacturer << 16 | device, new(Thermal, payload), head > 0x3F, no_ack, None, None, False, b""),
        )

    decoders: dict[int, Callable[[bytes], Frame]] = {}
    for frame_type, decoder in ((1, air_tracking), (7, ground_tracking), (9, thermal)):
        decoders[frame_type] = decoders[frame_type | 0x40] = decoder
    return decoders
