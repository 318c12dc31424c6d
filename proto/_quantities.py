"""Scalar field codecs shared by the frame types: positions, scaled bytes, altitudes.

Decoding is table lookups (the hot path runs hundreds of thousands of times a second); encoding
quantises like the reference firmware (``Src/fanet/app.cpp``: round half away from zero, then pick the
coarse scale when the fine one overflows) but clamps to what the field can really hold, where the
firmware lets a few edge values wrap around (altitude 8190 m, turn rate +64 °/s).
"""

import math

LAT_SCALE = 93206.0
LON_SCALE = 46603.0

ALTITUDE_MAX_M = 2047 * 4  # 11 bits, ×4 scale
SPEED_STEP_KMH = 0.5
CLIMB_STEP_MS = 0.1
HEADING_STEP_DEG = 360.0 / 256.0
TURN_RATE_STEP_DPS = 0.25
WIND_STEP_KMH = 0.2


def round_half_away(value: float) -> int:
    """Round like C's ``round()``: halves go away from zero (Python's ``round`` goes to even)."""
    if value >= 0:
        return math.floor(value + 0.5)
    return -math.floor(-value + 0.5)


def clamp(value: int, low: int, high: int) -> int:
    return low if value < low else high if value > high else value


# --- absolute positions (3 + 3 bytes, two's complement, little endian) -------------------------


def encode_position(lat: float, lon: float) -> bytes:
    lat_raw = clamp(round_half_away(lat * LAT_SCALE), -(1 << 23), (1 << 23) - 1)
    lon_raw = clamp(round_half_away(lon * LON_SCALE), -(1 << 23), (1 << 23) - 1)
    return (lat_raw & 0xFFFFFF).to_bytes(3, "little") + (lon_raw & 0xFFFFFF).to_bytes(3, "little")


def decode_position(buf: bytes, offset: int) -> tuple[float, float]:
    lat_raw = int.from_bytes(buf[offset : offset + 3], "little", signed=True)
    lon_raw = int.from_bytes(buf[offset + 3 : offset + 6], "little", signed=True)
    return lat_raw / LAT_SCALE, lon_raw / LON_SCALE


# The decoders' way, one ``struct`` unpack for the whole payload: a coordinate is read as its low 16
# bits and its top byte, both unsigned, and ``(low + TOP_BYTE_24[top]) / LAT_DIVISOR`` is its value.
# A table and an int addition are cheaper than ``low | top << 16``, and an int divided by an int is
# one dispatch step less than by a float; the quotient is the same correctly rounded double.
TOP_BYTE_24 = tuple(((b ^ 0x80) - 0x80) << 16 for b in range(256))
"""The top byte of a 24-bit two's complement number → its weight (−128·2¹⁶ … 127·2¹⁶)."""
LAT_DIVISOR = int(LAT_SCALE)
LON_DIVISOR = int(LON_SCALE)


# --- unsigned scaled byte: bit 7 = ×scale, bits 6..0 = value in steps ------------------------


# Table values are rounded to 6 decimals so that 3 steps of 0.1 read 0.3, not 0.30000000000000004.
def _unsigned_table(step: float, scale: int) -> tuple[float, ...]:
    return tuple(round((b & 0x7F) * step * (scale if b & 0x80 else 1), 6) for b in range(256))


def _signed_table(step: float, scale: int) -> tuple[float, ...]:
    return tuple(
        round(((b & 0x7F) - (0x80 if b & 0x40 else 0)) * step * (scale if b & 0x80 else 1), 6)
        for b in range(256)
    )


def _encode_unsigned(value: float, step: float, scale: int) -> int:
    steps = max(round_half_away(value / step), 0)
    if steps <= 0x7F:
        return steps
    return min(round_half_away(steps / scale), 0x7F) | 0x80


def _encode_signed(value: float, step: float, scale: int) -> int:
    steps = round_half_away(value / step)
    if -64 <= steps <= 63:
        return steps & 0x7F
    # Symmetric limits, as the firmware clamps (±31.5 m/s climb, ±252 m QNE offset).
    return clamp(round_half_away(steps / scale), -63, 63) & 0x7F | 0x80


SPEED_KMH = _unsigned_table(SPEED_STEP_KMH, 5)
"""Speed byte → km/h (type 1 speed, type 9 wind speed)."""
CLIMB_MS = _signed_table(CLIMB_STEP_MS, 5)
"""Climb byte → m/s (types 1 and 9)."""
TURN_RATE_DPS = _signed_table(TURN_RATE_STEP_DPS, 4)
"""Turn-rate byte → degrees/s, positive clockwise (type 1, optional)."""
QNE_OFFSET_M = tuple(int(v) for v in _signed_table(1.0, 4))
"""QNE-offset byte → metres (type 1, optional, only together with the turn rate)."""
WIND_KMH = _unsigned_table(WIND_STEP_KMH, 5)
"""Service wind speed and gust byte → km/h (type 4)."""
HEADING_DEG = tuple(b * HEADING_STEP_DEG for b in range(256))
"""Heading byte → degrees (360/256 steps)."""


def encode_speed(kmh: float) -> int:
    return _encode_unsigned(kmh, SPEED_STEP_KMH, 5)


def encode_climb(ms: float) -> int:
    return _encode_signed(ms, CLIMB_STEP_MS, 5)


def encode_turn_rate(dps: float) -> int:
    return _encode_signed(dps, TURN_RATE_STEP_DPS, 4)


def encode_qne_offset(m: float) -> int:
    return _encode_signed(m, 1.0, 4)


def encode_wind(kmh: float) -> int:
    return _encode_unsigned(kmh, WIND_STEP_KMH, 5)


def encode_heading(deg: float) -> int:
    """Degrees → heading byte; 359.9° wraps to 0 (the nearest step), it is not clamped to 255."""
    return round_half_away((deg % 360.0) / HEADING_STEP_DEG) % 256


# --- 11-bit altitude with ×4 scale (types 1 and 9) ------------------------------------------


def decode_altitude(word: int) -> int:
    """Bits 10..0 metres, bit 11 ×4."""
    return (word & 0x7FF) * 4 if word & 0x800 else word & 0x7FF


ALTITUDE_M = tuple(decode_altitude(word) for word in range(4096))
"""The low 12 bits of the type/altitude word → metres."""


def encode_altitude(metres: float) -> int:
    """Metres → the 12 low bits of the type/altitude word (negative altitudes clamp to 0)."""
    alt = clamp(round_half_away(metres), 0, ALTITUDE_MAX_M)
    if alt <= 0x7FF:
        return alt
    return min(round_half_away(alt / 4), 0x7FF) | 0x800


def altitude_step(metres: float) -> int:
    """The quantisation step of an encoded altitude: 1 m, or 4 m past 2047 m."""
    return 1 if metres <= 0x7FF else 4
