"""The frame record and the header: type byte, source address, extended header.

Addresses are 24-bit integers, manufacturer in the high byte: ``0x110B90`` is manufacturer 0x11, id
0x0B90. On the air the manufacturer comes first, then the id little endian (``11 90 0B``).
"""

from typing import Any, NamedTuple

from fanet.proto._enums import AckMode

EXT_ACK_SHIFT = 6
EXT_UNICAST = 0x20
EXT_SIGNATURE = 0x10
EXT_GEO_FORWARDED = 0x08


MANUFACTURER_WEIGHT = tuple(m << 16 for m in range(256))
"""Manufacturer byte → its part of the address: ``MANUFACTURER_WEIGHT[m] + id`` is ``m << 16 | id``.

The decoders' fast paths use it because a table lookup and an int addition are cheaper than a shift and
an or, which the interpreter does not specialise.
"""


class UnknownPayload(NamedTuple):
    """The payload of a frame type this codec does not know, kept as it was received."""

    frame_type: int
    data: bytes


def format_address(address: int) -> str:
    """``0x110B90`` → ``"110B90"``: manufacturer then id, six upper-case hex digits."""
    return f"{address:06X}"


def parse_address(text: str) -> int:
    """The inverse of :func:`format_address`; also accepts the decimal form of the 24-bit address.

    Six hex digits are always read as hex (``"110B90"``); anything else must be a decimal number.
    """
    text = text.strip()
    try:
        value = int(text, 16) if len(text) == 6 else int(text, 10)
    except ValueError:
        raise ValueError(f"not a FANET address: {text!r} (six hex digits MMIIII, or decimal)") from None
    if not 0 <= value <= 0xFFFFFF:
        raise ValueError(f"not a FANET address: {text!r} (out of the 24-bit range)")
    return value


class Frame(NamedTuple):
    """One decoded frame.

    Addresses are 24-bit integers, manufacturer in the high byte: ``0x110B90`` is manufacturer 0x11,
    id 0x0B90 (on the air the id comes after the manufacturer, little endian).
    """

    source: int
    payload: Any
    """One of the payload records (``AirTracking``, ``Name`` …) or :class:`UnknownPayload`."""
    forward: bool = False
    ack: AckMode = AckMode.NONE
    dest: int | None = None
    """Unicast destination address, ``None`` for broadcast."""
    signature: int | None = None
    geo_forwarded: bool = False
    trailing: bytes = b""
    """Bytes after a complete payload (NUL padding, junk): kept so re-encoding gives the same bytes."""

    @property
    def type(self) -> int:
        return int(self.payload.frame_type)

    @property
    def manufacturer(self) -> int:
        return self.source >> 16

    @property
    def device_id(self) -> int:
        return self.source & 0xFFFF

    @property
    def address(self) -> str:
        return format_address(self.source)


def header_length(buf: bytes | bytearray | memoryview) -> int:
    """Where the payload starts in a raw frame whose header is complete."""
    if not buf[0] & 0x80:
        return 4
    ext = buf[4]
    return 5 + (3 if ext & EXT_UNICAST else 0) + (4 if ext & EXT_SIGNATURE else 0)


def encode_header(
    frame_type: int,
    source: int,
    *,
    forward: bool = False,
    ack: int = AckMode.NONE,
    dest: int | None = None,
    signature: int | None = None,
    geo_forwarded: bool = False,
) -> bytes:
    """The header bytes before the payload: type byte, source, extended header when needed."""
    extended = bool(ack) or dest is not None or signature is not None or geo_forwarded
    out = bytearray(
        (
            (0x80 if extended else 0) | (0x40 if forward else 0) | (frame_type & 0x3F),
            source >> 16 & 0xFF,
            source & 0xFF,
            source >> 8 & 0xFF,
        )
    )
    if extended:
        out.append(
            (int(ack) & 3) << EXT_ACK_SHIFT
            | (EXT_UNICAST if dest is not None else 0)
            | (EXT_SIGNATURE if signature is not None else 0)
            | (EXT_GEO_FORWARDED if geo_forwarded else 0)
        )
        if dest is not None:
            out += bytes((dest >> 16 & 0xFF, dest & 0xFF, dest >> 8 & 0xFF))
        if signature is not None:
            out += (signature & 0xFFFFFFFF).to_bytes(4, "little")
    return bytes(out)
