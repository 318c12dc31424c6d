"""Compressed coordinates (2 + 2 bytes), the relative positions of landmarks and remote configuration.

A landmark or geofence sends its first position absolute (3 + 3 bytes) and every later one compressed
against the point before it. Each coordinate is one little-endian 16-bit word, latitude first:
bit 15 says whether the whole degree the value rounds to is odd, bits 14..0 are the rest as a signed
15-bit fraction of a degree (±16383/32767, steps of 1/32767° ≈ 3.4 m). The receiver takes the whole
degree from its reference: the nearest degree of the right parity. So a point must lie within 1° of
the one before it, or it lands a degree or two off; nothing on the wire can tell. Less than 0.5° is
always safe; the protocol warns that 1° of longitude is only 38 km at 70° latitude.

Encoding rounds half away from zero where the firmware's sample code truncates (``(int)``): the same
wire format, half the error, and a decoded value re-encodes to the same word.
"""

from typing import NamedTuple

from fanet.proto._quantities import clamp, round_half_away

COMPRESSED_STEP_DEG = 1.0 / 32767.0
"""The quantisation step of a compressed coordinate."""

_FRACTION_LIMIT = 16383  # ±0.5°: the fraction never needs more than 14 bits and a sign


class Point(NamedTuple):
    """A position without further data, in degrees."""

    lat: float
    lon: float


def encode_compressed(deg: float) -> int:
    """One coordinate → its 16-bit word (bit 15: the rounded degree is odd; bits 14..0: the rest)."""
    whole = round_half_away(deg)
    fraction = clamp(round_half_away((deg - whole) * 32767.0), -_FRACTION_LIMIT, _FRACTION_LIMIT)
    return (fraction & 0x7FFF) | (0x8000 if whole & 1 else 0)


def decode_compressed(word: int, ref_deg: float) -> float:
    """A 16-bit word → degrees, taking the whole degree from ``ref_deg`` (the previous point).

    When the parity bit does not match the reference's rounded degree, the point lies in the degree
    below or above; the one on the side of the fraction is nearer the reference.
    """
    fraction = ((word & 0x3FFF) - (word & 0x4000)) / 32767.0  # sign-extend bits 14..0
    whole = round_half_away(ref_deg)
    if whole & 1 != word >> 15:
        whole += -1 if fraction > ref_deg - whole else 1
    return whole + fraction


def encode_compressed_position(lat: float, lon: float) -> bytes:
    """Four bytes: latitude word, longitude word, each little endian.

    The encoding does not depend on the reference, and longitudes a multiple of 360° apart encode
    alike (360 is even), so a path may cross the antimeridian.
    """
    lat_word = encode_compressed(lat)
    lon_word = encode_compressed(lon)
    return bytes((lat_word & 0xFF, lat_word >> 8, lon_word & 0xFF, lon_word >> 8))


def decode_compressed_position(
    buf: bytes, offset: int, ref_lat: float, ref_lon: float
) -> tuple[float, float]:
    """The four bytes at ``offset`` relative to the previous point; longitude kept in −180..180."""
    lat = decode_compressed(buf[offset] | buf[offset + 1] << 8, ref_lat)
    lon = decode_compressed(buf[offset + 2] | buf[offset + 3] << 8, ref_lon)
    if lon > 180.0:
        lon -= 360.0
    elif lon < -180.0:
        lon += 360.0
    return lat, lon


def decode_compressed_chain(
    buf: bytes, offset: int, ref_lat: float, ref_lon: float, extra: int = 0
) -> tuple[list[tuple[float, float, int]], int]:
    """The compressed positions from ``offset`` on, each relative to the one before.

    Each element is a position followed by ``extra`` bytes that the caller reads (a radius, an
    altitude). Returns ``(lat, lon, offset of the extra bytes)`` per complete element and the offset
    after the last one; bytes after it (an element cut short) are left for the caller to report.
    """
    elements: list[tuple[float, float, int]] = []
    step = 4 + extra
    lat, lon = ref_lat, ref_lon
    while offset + step <= len(buf):
        lat, lon = decode_compressed_position(buf, offset, lat, lon)
        elements.append((lat, lon, offset + 4))
        offset += step
    return elements, offset
