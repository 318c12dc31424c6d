"""Hardware info: the deprecated type 8 and its successor type 10.

Devices announce what they are (a manufacturer-specific device type), their firmware build date and
uptime. Both types are rare on the air (every ten minutes at most), so clarity wins over speed here.
Real devices append manufacturer debug data after the defined fields; the frame reports it as
trailing bytes.
"""

import datetime
from collections.abc import Callable
from typing import Any, NamedTuple

from fanet.proto._enums import FrameType
from fanet.proto._errors import require
from fanet.proto._quantities import clamp, round_half_away
from fanet.proto._service import FlagLayout

_FIRST_BUILD_DATE = datetime.date(2019, 1, 1)
_LAST_BUILD_DATE = datetime.date(2019 + 63, 12, 31)  # six bits of years from 2019
_EXPERIMENTAL = 0x8000


def decode_build_date(word: int) -> datetime.date | None:
    """Bits 14..9 year − 2019, bits 8..5 month, bits 4..0 day; ``None`` when that is no calendar date."""
    try:
        return datetime.date(2019 + (word >> 9 & 0x3F), word >> 5 & 0x0F, word & 0x1F)
    except ValueError:
        return None


def encode_build_date(day: datetime.date | None, experimental: bool | None) -> int:
    """The build-date word; dates outside 2019..2082 clamp, ``None`` becomes the non-date 0."""
    word = _EXPERIMENTAL if experimental else 0
    if day is not None:
        day = min(max(day, _FIRST_BUILD_DATE), _LAST_BUILD_DATE)
        word |= (day.year - 2019) << 9 | day.month << 5 | day.day
    return word


def _u16(buf: bytes, offset: int) -> int:
    return buf[offset] | buf[offset + 1] << 8


def _address(buf: bytes, offset: int) -> int:
    """A FANET address on the air (manufacturer, then id little endian) → ``0xMMIIII``."""
    return buf[offset] << 16 | buf[offset + 2] << 8 | buf[offset + 1]


def _encode_address(address: int) -> bytes:
    return bytes((address >> 16 & 0xFF, address & 0xFF, address >> 8 & 0xFF))


# --- type 8 (deprecated) ------------------------------------------------------------------------

PULL_REQUEST = 0x00
"""Device type 0: asks the addressee for its hardware info; no further data."""


class HardwareInfoLegacy(NamedTuple):
    """Type 8 (deprecated, replaced by type 10): device type, firmware build date, optional uptime."""

    hw_subtype: int
    """Manufacturer-specific device type; 0 is a pull request and carries nothing else."""
    experimental: bool | None = None
    """Firmware built in develop/experimental mode; ``None`` only in a pull request."""
    build_date: datetime.date | None = None
    """``None`` in a pull request or when the date bits are not a calendar date."""
    uptime_min: float | None = None
    """Optional, 30 s resolution."""
    uptime_low_bits: int | None = None
    """Bits 3..0 of the uptime word: unused in the spec, Skytraxx wind stations count volatile replay
    features there. Present exactly when ``uptime_min`` is."""

    @property
    def frame_type(self) -> FrameType:
        return FrameType.HARDWARE_INFO_LEGACY


def decode_hardware_info_legacy(buf: bytes, start: int) -> tuple[HardwareInfoLegacy, int]:
    require(buf, start, 1, "hardware_info_legacy.hw_subtype")
    subtype = buf[start]
    if subtype == PULL_REQUEST:
        return HardwareInfoLegacy(subtype), start + 1
    require(buf, start + 1, 2, "hardware_info_legacy.build_date")
    word = _u16(buf, start + 1)
    uptime = low_bits = None
    end = start + 3
    # The uptime is optional manufacturer data: read only when both bytes are there.
    if len(buf) - end >= 2:
        uptime_word = _u16(buf, end)
        uptime, low_bits = (uptime_word >> 4) / 2, uptime_word & 0x0F
        end += 2
    record = (subtype, word >= _EXPERIMENTAL, decode_build_date(word), uptime, low_bits)
    return tuple.__new__(HardwareInfoLegacy, record), end


def encode_hardware_info_legacy(p: HardwareInfoLegacy) -> bytes:
    """Raises :class:`ValueError` for a pull request with data, or low bits without an uptime."""
    subtype = p.hw_subtype & 0xFF
    if subtype == PULL_REQUEST:
        if (p.experimental, p.build_date, p.uptime_min, p.uptime_low_bits) != (None, None, None, None):
            raise ValueError("hardware_info_legacy: a pull request (hw_subtype 0) carries no further data")
        return bytes((subtype,))
    out = bytes((subtype,)) + encode_build_date(p.build_date, p.experimental).to_bytes(2, "little")
    if p.uptime_min is None:
        if p.uptime_low_bits is not None:
            raise ValueError("hardware_info_legacy: uptime_low_bits needs uptime_min")
        return out
    steps = clamp(round_half_away(p.uptime_min * 2), 0, 0x0FFF)
    return out + (steps << 4 | (p.uptime_low_bits or 0) & 0x0F).to_bytes(2, "little")


# --- type 10 ------------------------------------------------------------------------------------

_PING_PONG = 0x80
_SUBTYPE_BUILD = 0x40
_ICAO = 0x20
_UPTIME = 0x10
_RX_RSSI = 0x08
_RESERVED = 0x06
_EXT_HEADER = 0x01
RSSI_OFFSET_DBM = 50

_LAYOUT = FlagLayout(
    "hardware_info",
    (
        (_EXT_HEADER, (("ext_header", 1),)),
        (_SUBTYPE_BUILD, (("hw_subtype", 1), ("build_date", 2))),
        (_ICAO, (("icao_address", 3),)),
        (_UPTIME, (("uptime_min", 2),)),
        (_RX_RSSI, (("rx_rssi_dbm", 1), ("rx_address", 3))),
    ),
)
_SIZES = _LAYOUT.sizes
_REQUESTS = (
    (_SUBTYPE_BUILD, "hw_subtype"),
    (_ICAO, "icao_address"),
    (_UPTIME, "uptime_min"),
    (_RX_RSSI, "rx_rssi_dbm"),
)
_REQUESTED = tuple(tuple(name for bit, name in _REQUESTS if flags & bit) for flags in range(256))
_REQUEST_BITS = {name: bit for bit, name in _REQUESTS}


class HardwareInfo(NamedTuple):
    """Type 10: what a device is, or (``ping_pong``) a request for another device to say so.

    A field that is ``None`` is absent from the frame. In a ping-pong request the header bits name the
    fields asked for (``requested``) and no data follows.
    """

    hw_subtype: int | None = None
    """Manufacturer-specific device type (0: pull request); travels with the build date."""
    experimental: bool | None = None
    build_date: datetime.date | None = None
    """``None`` also when the date bits are not a calendar date."""
    icao_address: int | None = None
    """24-bit ICAO aircraft address, read little endian like every FANET multi-byte field."""
    uptime_min: int | None = None
    rx_rssi_dbm: int | None = None
    """How strongly this device heard ``rx_address`` (the answer to a unicast request)."""
    rx_address: int | None = None
    """``0xMMIIII`` like ``Frame.source``."""
    ping_pong: bool = False
    requested: tuple[str, ...] = ()
    """In a ping-pong request: the fields asked for, named like this record's fields."""
    reserved: int = 0
    """Header bits 2..1, undefined, kept as received."""
    ext_header: int | None = None
    """The extended header byte, kept as received (no bit of it is defined yet)."""

    @property
    def frame_type(self) -> FrameType:
        return FrameType.HARDWARE_INFO


def decode_hardware_info(buf: bytes, start: int) -> tuple[HardwareInfo, int]:
    require(buf, start, 1, "hardware_info.header")
    head = buf[start]
    # A request carries no data: its bits 6..3 ask for fields; the extended header byte still follows.
    flags = head & (_RESERVED | _EXT_HEADER) if head & _PING_PONG else head
    end = start + _SIZES[flags]
    if len(buf) < end:
        raise _LAYOUT.truncated(buf, start, flags)
    o = start + 1
    ext = subtype = experimental = build_date = icao = uptime = rssi = rx_address = None
    if flags & _EXT_HEADER:
        ext = buf[o]
        o += 1
    if flags & _SUBTYPE_BUILD:
        subtype = buf[o]
        word = _u16(buf, o + 1)
        experimental, build_date = word >= _EXPERIMENTAL, decode_build_date(word)
        o += 3
    if flags & _ICAO:
        icao = int.from_bytes(buf[o : o + 3], "little")
        o += 3
    if flags & _UPTIME:
        uptime = _u16(buf, o)
        o += 2
    if flags & _RX_RSSI:
        rssi = (buf[o] - 256 if buf[o] & 0x80 else buf[o]) - RSSI_OFFSET_DBM
        rx_address = _address(buf, o + 1)
    record = (
        subtype,
        experimental,
        build_date,
        icao,
        uptime,
        rssi,
        rx_address,
        head >= _PING_PONG,
        _REQUESTED[head] if head & _PING_PONG else (),
        (head & _RESERVED) >> 1,
        ext,
    )
    return tuple.__new__(HardwareInfo, record), end


def encode_hardware_info(p: HardwareInfo) -> bytes:
    """Header bits follow from the fields that are not ``None`` (from ``requested`` in a request).

    Raises :class:`ValueError` for what cannot go on the air: a request with data, ``requested``
    outside a request, a build date without ``hw_subtype``, or only one of ``rx_rssi_dbm``/``rx_address``.
    """
    data = (
        p.hw_subtype,
        p.experimental,
        p.build_date,
        p.icao_address,
        p.uptime_min,
        p.rx_rssi_dbm,
        p.rx_address,
    )
    tail = (p.reserved & 3) << 1 | (_EXT_HEADER if p.ext_header is not None else 0)
    ext = b"" if p.ext_header is None else bytes((p.ext_header & 0xFF,))
    if p.ping_pong:
        if data != (None,) * len(data):
            raise ValueError("hardware_info: a ping-pong request carries no data, only `requested`")
        unknown = set(p.requested) - _REQUEST_BITS.keys()
        if unknown:
            raise ValueError(
                f"hardware_info: cannot request {sorted(unknown)}; one of {sorted(_REQUEST_BITS)}"
            )
        head = _PING_PONG | tail
        for name in p.requested:
            head |= _REQUEST_BITS[name]
        return bytes((head,)) + ext
    if p.requested:
        raise ValueError("hardware_info: `requested` needs ping_pong")
    if p.hw_subtype is None and (p.experimental is not None or p.build_date is not None):
        raise ValueError("hardware_info: a build date travels with hw_subtype")
    if (p.rx_rssi_dbm is None) != (p.rx_address is None):
        raise ValueError("hardware_info: rx_rssi_dbm and rx_address go together")
    head = tail
    out = bytearray()
    if p.hw_subtype is not None:
        head |= _SUBTYPE_BUILD
        out.append(p.hw_subtype & 0xFF)
        out += encode_build_date(p.build_date, p.experimental).to_bytes(2, "little")
    if p.icao_address is not None:
        head |= _ICAO
        out += (p.icao_address & 0xFFFFFF).to_bytes(3, "little")
    if p.uptime_min is not None:
        head |= _UPTIME
        out += clamp(round_half_away(p.uptime_min), 0, 0xFFFF).to_bytes(2, "little")
    if p.rx_rssi_dbm is not None and p.rx_address is not None:
        head |= _RX_RSSI
        out.append(clamp(round_half_away(p.rx_rssi_dbm) + RSSI_OFFSET_DBM, -128, 127) & 0xFF)
        out += _encode_address(p.rx_address)
    return bytes((head,)) + ext + bytes(out)


DECODERS: dict[int, Callable[[bytes, int], tuple[Any, int]]] = {
    FrameType.HARDWARE_INFO_LEGACY: decode_hardware_info_legacy,
    FrameType.HARDWARE_INFO: decode_hardware_info,
}
ENCODERS: dict[type, Callable[[Any], bytes]] = {
    HardwareInfoLegacy: encode_hardware_info_legacy,
    HardwareInfo: encode_hardware_info,
}
