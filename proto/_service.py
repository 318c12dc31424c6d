"""Service (type 4): weather stations and internet gateways.

A header byte announces which fields follow (bit 0: an extended header byte directly after it; then
the position, then the data fields in bit order 6 → 1). Decoding checks the length once against a
per-header size table and then reads fields by index; only a truncated frame walks the layout again
to name the field that is cut short. :class:`FlagLayout` is that table and walker, shared with the
hardware-info payload (type 10), which is built the same way.
"""

import struct
from collections.abc import Callable
from typing import Any, NamedTuple

from fanet.proto._enums import AckMode, FrameType
from fanet.proto._errors import FrameError
from fanet.proto._header import MANUFACTURER_WEIGHT, Frame
from fanet.proto._quantities import (
    HEADING_DEG,
    LAT_DIVISOR,
    LAT_SCALE,
    LON_DIVISOR,
    LON_SCALE,
    TOP_BYTE_24,
    WIND_KMH,
    clamp,
    encode_heading,
    encode_position,
    encode_wind,
    round_half_away,
)

FlagParts = tuple[tuple[int, tuple[tuple[str, int], ...]], ...]


class FlagLayout:
    """The optional fields of a payload whose first byte is a flag header.

    ``parts`` lists, in wire order, a mask of header bits and the fields (name, size in bytes) that
    follow when any of those bits is set.
    """

    def __init__(self, prefix: str, parts: FlagParts) -> None:
        self.prefix = prefix
        self.parts = parts
        self.sizes = tuple(
            1 + sum(size for mask, fields in parts if flags & mask for _, size in fields)
            for flags in range(256)
        )
        """Payload size announced by each header value, header byte included."""

    def truncated(self, buf: bytes, start: int, flags: int) -> FrameError:
        """The error for a payload at ``start`` shorter than ``sizes[flags]``: names the first field cut short."""
        offset = start + 1
        for mask, fields in self.parts:
            if flags & mask:
                for name, size in fields:
                    if offset + size > len(buf):
                        given = max(len(buf) - offset, 0)
                        return FrameError(
                            f"{self.prefix}.{name}", offset, f"truncated: {size} bytes needed, {given} given"
                        )
                    offset += size
        raise AssertionError(f"{self.prefix}: payload of {len(buf) - start} bytes is not truncated")


_GATEWAY = 0x80
_TEMPERATURE = 0x40
_WIND = 0x20
_HUMIDITY = 0x10
_PRESSURE = 0x08
_REMOTE_CONFIG = 0x04
_BATTERY = 0x02
_EXT_HEADER = 0x01
_DATA = _TEMPERATURE | _WIND | _HUMIDITY | _PRESSURE | _BATTERY
"""Bits whose fields make the position mandatory; gateway and remote-config alone leave it optional."""

_LAYOUT = FlagLayout(
    "service",
    (
        (_EXT_HEADER, (("ext_header", 1),)),
        (_DATA, (("position", 6),)),
        (_TEMPERATURE, (("temperature_c", 1),)),
        (_WIND, (("wind_heading_deg", 1), ("wind_speed_kmh", 1), ("wind_gust_kmh", 1))),
        (_HUMIDITY, (("humidity_pct", 1),)),
        (_PRESSURE, (("pressure_hpa", 2),)),
        (_BATTERY, (("battery_pct", 1),)),
    ),
)
_SIZES = _LAYOUT.sizes
_POSITION = struct.Struct("<HbHb")  # 24-bit two's complement = low 16 bits + signed high byte

PRESSURE_OFFSET_HPA = 430
TEMPERATURE_C = tuple((b - 256 if b & 0x80 else b) / 2 for b in range(256))
"""Temperature byte → °C: two's complement in 0.5 °C."""
HUMIDITY_PCT = tuple(b * 4 / 10 for b in range(256))
"""Humidity byte → % relative humidity, 0.4 % steps (``b * 4 / 10`` prints 1.2, not 1.2000000000000002)."""
BATTERY_PCT = tuple((b & 0x0F) * 100 / 15 for b in range(256))
"""State-of-charge byte → %: the low nibble in fifteenths; the high nibble is unused."""


class Service(NamedTuple):
    """Type 4: a weather station's readings and an internet gateway's announcement.

    A field that is ``None`` is absent from the frame. ``lat``/``lon`` are always on the air when a data
    field is present; a frame carrying only the ``gateway``/``remote_config`` flags may omit them.
    """

    gateway: bool = False
    """The sender is an internet gateway."""
    lat: float | None = None
    lon: float | None = None
    temperature_c: float | None = None
    wind_heading_deg: float | None = None
    """Where the wind comes from, degrees."""
    wind_speed_kmh: float | None = None
    wind_gust_kmh: float | None = None
    humidity_pct: float | None = None
    pressure_hpa: float | None = None
    """Barometric pressure normalised to sea level."""
    remote_config: bool = False
    """The sender supports remote configuration (type 6)."""
    battery_pct: float | None = None
    ext_header: int | None = None
    """The extended service header byte, kept as received (no bit of it is defined yet)."""

    @property
    def frame_type(self) -> FrameType:
        return FrameType.SERVICE


def decode_service(buf: bytes, start: int) -> tuple[Service, int]:
    size = len(buf)
    if size <= start:
        raise FrameError("service.header", start, "truncated: 1 byte needed, 0 given")
    head = buf[start]
    end = start + _SIZES[head]
    if size < end:
        raise _LAYOUT.truncated(buf, start, head)
    o = start + 1
    ext = None
    if head & _EXT_HEADER:
        ext = buf[o]
        o += 1
    if head & _DATA or size - o >= 6:
        la, lah, lo, loh = _POSITION.unpack_from(buf, o)
        lat: float | None = (la | lah << 16) / LAT_SCALE
        lon: float | None = (lo | loh << 16) / LON_SCALE
        o += 6
        if not head & _DATA:
            end = o  # the optional position was there
    else:
        lat = lon = None
    temperature = heading = speed = gust = humidity = pressure = battery = None
    if head & _TEMPERATURE:
        temperature = TEMPERATURE_C[buf[o]]
        o += 1
    if head & _WIND:
        heading = HEADING_DEG[buf[o]]
        speed = WIND_KMH[buf[o + 1]]
        gust = WIND_KMH[buf[o + 2]]
        o += 3
    if head & _HUMIDITY:
        humidity = HUMIDITY_PCT[buf[o]]
        o += 1
    if head & _PRESSURE:
        # One division of exact integers: 1013.2, where raw / 10 + 430 may print 1013.2000000000001.
        pressure = ((buf[o] | buf[o + 1] << 8) + PRESSURE_OFFSET_HPA * 10) / 10
        o += 2
    if head & _BATTERY:
        battery = BATTERY_PCT[buf[o]]
    record = (
        head >= _GATEWAY,
        lat,
        lon,
        temperature,
        heading,
        speed,
        gust,
        humidity,
        pressure,
        bool(head & _REMOTE_CONFIG),
        battery,
        ext,
    )
    return tuple.__new__(Service, record), end


def encode_service(p: Service) -> bytes:
    """Header bits follow from the fields that are not ``None``; values clamp to what the field holds.

    Raises :class:`ValueError` for a record that cannot go on the air as given: a data field without a
    position, only one of ``lat``/``lon``, or only part of the wind (heading, speed and gust travel
    together).
    """
    wind = (p.wind_heading_deg, p.wind_speed_kmh, p.wind_gust_kmh)
    has_wind = wind != (None, None, None)
    if has_wind and None in wind:
        raise ValueError("service: wind needs wind_heading_deg, wind_speed_kmh and wind_gust_kmh together")
    if (p.lat is None) != (p.lon is None):
        raise ValueError("service: lat and lon go together")
    head = (
        (_GATEWAY if p.gateway else 0)
        | (_TEMPERATURE if p.temperature_c is not None else 0)
        | (_WIND if has_wind else 0)
        | (_HUMIDITY if p.humidity_pct is not None else 0)
        | (_PRESSURE if p.pressure_hpa is not None else 0)
        | (_REMOTE_CONFIG if p.remote_config else 0)
        | (_BATTERY if p.battery_pct is not None else 0)
        | (_EXT_HEADER if p.ext_header is not None else 0)
    )
    out = bytearray((head,))
    if p.ext_header is not None:
        out.append(p.ext_header & 0xFF)
    if p.lat is not None and p.lon is not None:
        out += encode_position(p.lat, p.lon)
    elif head & _DATA:
        raise ValueError("service: weather data needs a position (lat, lon)")
    if p.temperature_c is not None:
        out.append(clamp(round_half_away(p.temperature_c * 2), -128, 127) & 0xFF)
    if p.wind_heading_deg is not None and p.wind_speed_kmh is not None and p.wind_gust_kmh is not None:
        out += bytes(
            (encode_heading(p.wind_heading_deg), encode_wind(p.wind_speed_kmh), encode_wind(p.wind_gust_kmh))
        )
    if p.humidity_pct is not None:
        out.append(clamp(round_half_away(p.humidity_pct * 2.5), 0, 255))
    if p.pressure_hpa is not None:
        raw = clamp(round_half_away((p.pressure_hpa - PRESSURE_OFFSET_HPA) * 10), 0, 0xFFFF)
        out += raw.to_bytes(2, "little")
    if p.battery_pct is not None:
        out.append(clamp(round_half_away(p.battery_pct * 15 / 100), 0, 15))
    return bytes(out)


# Whole frames without extended header whose service header announces data, so that the position is
# mandatory and the layout fixed: one ``struct`` per service header reads header and payload, with a
# zero-width ``0s`` (read as b"", never used) for each absent field, so that every layout unpacks to
# the same fourteen values. Which fields are there is a tuple of bools per service header: testing a
# bool is cheaper than ``head & bit``, which the interpreter does not specialise.
_ABSENT = "0s"
_PRESSURE_OFFSET_DHPA = PRESSURE_OFFSET_HPA * 10

_FrameLayout = tuple[int, Callable[[bytes], tuple[Any, ...]], bool, bool, bool, bool, bool, bool, bool, bool]


def _frame_layout(head: int) -> _FrameLayout:
    """The fast path's view of one service header.

    Frame size (0: not for the fast path), unpack, gateway, remote config, then whether each optional
    field is there: extended header, temperature, wind, humidity, pressure, battery.
    """
    fields = "<xBHx"  # frame header byte, manufacturer, id, service header
    fields += "B" if head & _EXT_HEADER else _ABSENT
    fields += "HBHB"  # lat and lon: low word, top byte
    fields += "B" if head & _TEMPERATURE else _ABSENT
    fields += "BBB" if head & _WIND else _ABSENT * 3
    fields += "B" if head & _HUMIDITY else _ABSENT
    fields += "H" if head & _PRESSURE else _ABSENT
    fields += "B" if head & _BATTERY else _ABSENT
    present = (_EXT_HEADER, _TEMPERATURE, _WIND, _HUMIDITY, _PRESSURE, _BATTERY)
    ext, temperature, wind, humidity, pressure, battery = (bool(head & bit) for bit in present)
    return (
        4 + _SIZES[head] if head & _DATA else 0,
        struct.Struct(fields).unpack_from,
        head >= _GATEWAY,
        bool(head & _REMOTE_CONFIG),
        ext,
        temperature,
        wind,
        humidity,
        pressure,
        battery,
    )


_FRAME_LAYOUTS = tuple(_frame_layout(head) for head in range(256))
_NO_ACK = AckMode.NONE


def whole_frame_decoders(general: Callable[[bytes], Frame]) -> dict[int, Callable[[bytes], Frame]]:
    """Fast decoders of service frames by header byte (forward bit clear or set); others go to ``general``."""
    new = tuple.__new__

    def for_header(forward: bool) -> Callable[[bytes], Frame]:
        def service(buf: bytes) -> Frame:
            size = len(buf)
            if size < 5:
                return general(buf)
            (
                frame_size,
                unpack,
                gateway,
                remote_config,
                has_ext,
                has_temperature,
                has_wind,
                has_humidity,
                has_pressure,
                has_battery,
            ) = _FRAME_LAYOUTS[buf[4]]
            if size != frame_size:
                return general(buf)
            (
                manufacturer,
                device,
                ext,
                la,
                lah,
                lo,
                loh,
                temperature,
                heading,
                speed,
                gust,
                humidity,
                pressure,
                battery,
            ) = unpack(buf)
            payload = (
                gateway,
                (la + TOP_BYTE_24[lah]) / LAT_DIVISOR,
                (lo + TOP_BYTE_24[loh]) / LON_DIVISOR,
                TEMPERATURE_C[temperature] if has_temperature else None,
                HEADING_DEG[heading] if has_wind else None,
                WIND_KMH[speed] if has_wind else None,
                WIND_KMH[gust] if has_wind else None,
                HUMIDITY_PCT[humidity] if has_humidity else None,
                (pressure + _PRESSURE_OFFSET_DHPA) / 10 if has_pressure else None,
                remote_config,
                BATTERY_PCT[battery] if has_battery else None,
                ext if has_ext else None,
            )
            return new(
                Frame,
                (
                    MANUFACTURER_WEIGHT[manufacturer] + device,
                    new(Service, payload),
                    forward,
                    _NO_ACK,
                    None,
                    None,
                    False,
                    b"",
                ),
            )

        return service

    return {FrameType.SERVICE: for_header(False), FrameType.SERVICE | 0x40: for_header(True)}


DECODERS: dict[int, Callable[[bytes, int], tuple[Any, int]]] = {FrameType.SERVICE: decode_service}
ENCODERS: dict[type, Callable[[Any], bytes]] = {Service: encode_service}
