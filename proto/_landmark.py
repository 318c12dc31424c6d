"""Landmarks (type 5): texts, lines, areas, circles and 3D shapes shown on the pilots' maps.

Byte 0: bits 7..4 time to live, bits 3..0 subtype. Byte 1: bits 7..5 reserved, bit 4 a wind-sector
byte follows, bits 3..0 layer. Then the elements: one absolute position, every later one compressed
against the point before it (``_compressed``), with radii and altitudes as the subtype asks.

Time to live, our reading of "+1 in 10 min, bit 7 scale 6x": the nibble's low three bits ``v`` and
its high bit ``s`` give ``(v + 1) × 10 min × (6 if s else 1)``. That is the only reading that meets
both ends the text gives (0 → 10 min, 1 → 20 min, F → 8 h); 8 → 60 min, C → 5 h.

Radio traffic is cut short: once the first absolute position is there, a landmark always decodes to
what was received, with ``truncated`` set when bytes of a further element are missing (those bytes
are left as the frame's trailing bytes). Encoding writes what a record holds and stops at the first
missing value of a truncated record, so a decoded frame re-encodes to the bytes it came from; only a
text of odd length without its padding NUL, text that is not UTF-8 and the time-to-live nibble 8
(60 min, re-sent as nibble 5) come back different.
"""

from collections.abc import Callable
from enum import IntEnum
from typing import Any, NamedTuple

from fanet.proto._compressed import decode_compressed_chain, encode_compressed_position
from fanet.proto._enums import FrameType
from fanet.proto._errors import require
from fanet.proto._quantities import (
    _encode_unsigned,
    clamp,
    decode_position,
    encode_position,
    round_half_away,
)


class LandmarkSubtype(IntEnum):
    """Byte 0, bits 3..0. Values 10–15 are undefined and stay ints (their elements stay raw)."""

    TEXT = 0
    LINE = 1
    ARROW = 2
    AREA = 3
    AREA_FILLED = 4
    CIRCLE = 5
    CIRCLE_FILLED = 6
    LINE_3D = 7
    """Suitable for cables: an altitude with every point."""
    AREA_3D = 8
    """Suitable for airspaces (filled when it starts from the ground)."""
    CYLINDER_3D = 9
    """Suitable for airspaces: circles with one altitude band."""


class LandmarkLayer(IntEnum):
    """Byte 1, bits 3..0. Values 5–14 are undefined and stay ints."""

    INFO = 0
    WARNING = 1
    KEEP_OUT = 2
    TOUCH_DOWN = 3
    NO_AIRSPACE_WARN = 4
    DONT_CARE = 15
    """Re-sending a landmark with this layer withdraws it before its time to live runs out."""


SECTOR_NAMES = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")
"""Wind-sector names by bit: bit 0 is north, then clockwise in 45° steps; each sector is ±22.5°."""


class WindSectors(NamedTuple):
    """Wind directions in which a landmark applies (type 5 byte 2; type 6 reply features).

    ``mask`` is the byte on the air and what the encoder writes; ``sectors`` names its bits. An
    empty mask means "only when there is no wind".
    """

    mask: int
    sectors: tuple[str, ...]

    @classmethod
    def from_mask(cls, mask: int) -> "WindSectors":
        return WIND_SECTORS[mask & 0xFF]

    @classmethod
    def from_names(cls, *names: str) -> "WindSectors":
        """``WindSectors.from_names("N", "NW")``; raises ``ValueError`` for a name not in ``SECTOR_NAMES``."""
        mask = 0
        for name in names:
            if name.upper() not in SECTOR_NAMES:
                raise ValueError(f"not a wind sector: {name!r} (one of {', '.join(SECTOR_NAMES)})")
            mask |= 1 << SECTOR_NAMES.index(name.upper())
        return WIND_SECTORS[mask]

    @property
    def bearings_deg(self) -> tuple[int, ...]:
        """The sectors' centre bearings: N is 0, NE 45 …"""
        return tuple(bit * 45 for bit in range(8) if self.mask >> bit & 1)


WIND_SECTORS = tuple(
    WindSectors(mask, tuple(name for bit, name in enumerate(SECTOR_NAMES) if mask >> bit & 1))
    for mask in range(256)
)
"""Wind-sector byte → :class:`WindSectors`."""


# --- scalar fields ------------------------------------------------------------------------------

TTL_MIN = tuple(((nibble & 7) + 1) * (60 if nibble & 8 else 10) for nibble in range(16))
"""Time-to-live nibble → minutes (see the module docstring)."""


def encode_ttl(minutes: float) -> int:
    """Minutes → the nearest time-to-live nibble (10 min … 8 h); ties take the finer scale."""
    return min(range(16), key=lambda nibble: (abs(TTL_MIN[nibble] - minutes), nibble))


RADIUS_STEP_M = 50
RADIUS_M = tuple((b & 0x7F) * RADIUS_STEP_M * (8 if b & 0x80 else 1) for b in range(256))
"""Radius byte → metres: bits 6..0 in 50 m, bit 7 ×8 (0 … 50 800 m)."""


def encode_radius(metres: float) -> int:
    return _encode_unsigned(metres, RADIUS_STEP_M, 8)


ALTITUDE_STEP_M = 25
ALTITUDE_BYTE_M = tuple(((b ^ 0x80) - 0x80 + 109) * ALTITUDE_STEP_M for b in range(256))
"""Altitude byte → metres: (signed byte + 109) × 25 m (the byte −128 reads −475 m)."""
ALTITUDE_BYTE_MIN_M = ALTITUDE_BYTE_M[0x81]  # −450 m: the protocol's range starts at −127
ALTITUDE_BYTE_MAX_M = ALTITUDE_BYTE_M[0x7F]  # 5900 m


def encode_altitude_byte(metres: float) -> int:
    """Metres → altitude byte, clamped to the protocol's −450 … 5900 m."""
    return clamp(round_half_away(metres / ALTITUDE_STEP_M) - 109, -127, 127) & 0xFF


# --- records -------------------------------------------------------------------------------------


class LandmarkPoint(NamedTuple):
    """One element's position, with the radius (circles, cylinders) or altitude (3D lines) it carries.

    A value the subtype carries is ``None`` only in a truncated landmark's first element.
    """

    lat: float
    lon: float
    radius_m: int | None = None
    altitude_m: int | None = None


class Landmark(NamedTuple):
    """Type 5: a shape or a text shown on the map for ``ttl_min`` minutes."""

    subtype: LandmarkSubtype | int
    layer: LandmarkLayer | int
    ttl_min: int
    points: tuple[LandmarkPoint, ...] = ()
    """The text's position, a line's or area's vertices, the circles' centres; empty for subtypes 10–15."""
    text: str | None = None
    """Subtype 0 only."""
    altitude_bottom_m: int | None = None
    """3D area and 3D cylinder only, like ``altitude_top_m``."""
    altitude_top_m: int | None = None
    wind_sectors: WindSectors | None = None
    """Present when the landmark depends on the wind (byte 1 bit 4)."""
    raw_elements: bytes | None = None
    """Subtypes 10–15: the element bytes as received."""
    truncated: bool = False
    """The frame ended inside an element: ``points`` holds what was complete."""
    reserved_bits: int = 0
    """Byte 1 bits 7..5, kept so that re-encoding gives the same bytes."""

    @property
    def frame_type(self) -> FrameType:
        return FrameType.LANDMARK


class _Layout(NamedTuple):
    radius: bool = False
    """A radius byte after every position."""
    altitude: bool = False
    """An altitude byte after every position."""
    band_first: bool = False
    """Altitude bottom and top once, before the first position."""
    band_after_first: bool = False
    """Altitude bottom and top once, after the first element."""


# Indexed by subtype; None for text (its own layout) and the undefined subtypes 10–15. Our reading
# of "3D cylinder: n times position + radius + altitude bottom, top (only once)": like "1st absolute,
# others compressed", the band belongs to the first element only.
_LAYOUTS: tuple[_Layout | None, ...] = (
    None,  # text
    _Layout(),  # line
    _Layout(),  # arrow
    _Layout(),  # area
    _Layout(),  # filled area
    _Layout(radius=True),  # circle
    _Layout(radius=True),  # filled circle
    _Layout(altitude=True),  # 3D line
    _Layout(band_first=True),  # 3D area
    _Layout(radius=True, band_after_first=True),  # 3D cylinder
    *([None] * 6),
)

_SUBTYPES: tuple[LandmarkSubtype | int, ...] = tuple(
    LandmarkSubtype(v) if v in LandmarkSubtype._value2member_map_ else v for v in range(16)
)
_LAYERS: tuple[LandmarkLayer | int, ...] = tuple(
    LandmarkLayer(v) if v in LandmarkLayer._value2member_map_ else v for v in range(16)
)
_WIND_BIT = 0x10


# --- decoding ------------------------------------------------------------------------------------


def decode_altitude_band(buf: bytes, offset: int, field: str) -> tuple[int, int]:
    """Altitude bottom and top, one byte each (3D areas, geofences)."""
    require(buf, offset, 2, field)
    return ALTITUDE_BYTE_M[buf[offset]], ALTITUDE_BYTE_M[buf[offset + 1]]


def _point(lat: float, lon: float, layout: _Layout, value: int | None) -> LandmarkPoint:
    if value is None:
        return LandmarkPoint(lat, lon)
    if layout.radius:
        return LandmarkPoint(lat, lon, radius_m=RADIUS_M[value])
    return LandmarkPoint(lat, lon, altitude_m=ALTITUDE_BYTE_M[value])


def decode_landmark(buf: bytes, start: int) -> tuple[Landmark, int]:
    require(buf, start, 2, "landmark.header")
    head, flags = buf[start], buf[start + 1]
    subtype, layer, ttl = _SUBTYPES[head & 0x0F], _LAYERS[flags & 0x0F], TTL_MIN[head >> 4]
    offset = start + 2
    wind = None
    if flags & _WIND_BIT:
        require(buf, offset, 1, "landmark.wind_sectors")
        wind = WIND_SECTORS[buf[offset]]
        offset += 1
    reserved = flags >> 5

    layout = _LAYOUTS[head & 0x0F]
    if layout is None and subtype != LandmarkSubtype.TEXT:
        raw = buf[offset:]
        return Landmark(
            subtype, layer, ttl, wind_sectors=wind, raw_elements=raw, reserved_bits=reserved
        ), len(buf)

    bottom = top = None
    if layout is not None and layout.band_first:
        bottom, top = decode_altitude_band(buf, offset, "landmark.altitudes")
        offset += 2
    require(buf, offset, 6, "landmark.position")
    lat, lon = decode_position(buf, offset)
    offset += 6

    if layout is None:  # text: the string runs to a NUL or the end, padded to an even length
        nul = buf.find(0, offset)
        end = len(buf) if nul < 0 else nul
        text = buf[offset:end].decode("utf-8", "replace")
        # The NUL that pads an odd-length text belongs to it. Odd as re-encoded: that differs from the
        # bytes received only for invalid UTF-8, and keeps trailing bytes apart from the text.
        if end < len(buf) and len(text.encode("utf-8")) % 2:
            end += 1
        points = (LandmarkPoint(lat, lon),)
        return Landmark(subtype, layer, ttl, points, text, wind_sectors=wind, reserved_bits=reserved), end

    # The first element's own bytes (its radius or altitude, then a cylinder's band): what is there.
    per_point = 1 if layout.radius or layout.altitude else 0
    wanted = per_point + (2 if layout.band_after_first else 0)
    present = buf[offset : offset + wanted]
    offset += len(present)
    first = _point(lat, lon, layout, present[0] if per_point and present else None)
    if layout.band_after_first:
        if len(present) > per_point:
            bottom = ALTITUDE_BYTE_M[present[per_point]]
        if len(present) > per_point + 1:
            top = ALTITUDE_BYTE_M[present[per_point + 1]]
    points_list = [first]
    truncated = len(present) < wanted
    if not truncated:
        chain, offset = decode_compressed_chain(buf, offset, lat, lon, per_point)
        points_list += (_point(la, lo, layout, buf[at] if per_point else None) for la, lo, at in chain)
        truncated = offset < len(buf)
    landmark = Landmark(
        subtype, layer, ttl, tuple(points_list), None, bottom, top, wind, None, truncated, reserved
    )
    return landmark, offset


# --- encoding ------------------------------------------------------------------------------------


def _byte(value: int | None, encode: Callable[[float], int]) -> bytes | None:
    return None if value is None else bytes((encode(value),))


def encode_landmark(p: Landmark) -> bytes:
    """Raises ``ValueError`` when a value the subtype needs is missing from a record not ``truncated``.

    Consecutive points must be less than 1° apart (see ``_compressed``); this is not checked.
    """
    subtype = int(p.subtype) & 0x0F
    wind = p.wind_sectors
    out = bytearray(
        (
            encode_ttl(p.ttl_min) << 4 | subtype,
            (p.reserved_bits & 7) << 5 | (_WIND_BIT if wind is not None else 0) | int(p.layer) & 0x0F,
        )
    )
    if wind is not None:
        out.append(wind.mask & 0xFF)
    layout = _LAYOUTS[subtype]
    if layout is None and subtype != LandmarkSubtype.TEXT:
        return bytes(out) + (p.raw_elements or b"")
    if not p.points:
        raise ValueError(f"landmark.points: subtype {subtype} needs at least one position")
    if layout is None:  # text
        text = (p.text or "").encode("utf-8")
        return bytes(out) + encode_position(p.points[0].lat, p.points[0].lon) + text + b"\0" * (len(text) % 2)

    band = [
        ("altitude_bottom_m", _byte(p.altitude_bottom_m, encode_altitude_byte)),
        ("altitude_top_m", _byte(p.altitude_top_m, encode_altitude_byte)),
    ]
    parts: list[tuple[str, bytes | None]] = list(band) if layout.band_first else []
    for i, point in enumerate(p.points):
        position = (
            encode_compressed_position(point.lat, point.lon) if i else encode_position(point.lat, point.lon)
        )
        parts.append((f"points[{i}]", position))
        if layout.radius:
            parts.append((f"points[{i}].radius_m", _byte(point.radius_m, encode_radius)))
        if layout.altitude:
            parts.append((f"points[{i}].altitude_m", _byte(point.altitude_m, encode_altitude_byte)))
        if i == 0 and layout.band_after_first:
            parts += band
    for name, part in parts:
        if part is None:
            if p.truncated:
                break
            raise ValueError(f"landmark.{name}: subtype {subtype} needs it")
        out += part
    return bytes(out)


DECODERS: dict[int, Callable[[bytes, int], tuple[Any, int]]] = {FrameType.LANDMARK: decode_landmark}
ENCODERS: dict[type, Callable[[Any], bytes]] = {Landmark: encode_landmark}
