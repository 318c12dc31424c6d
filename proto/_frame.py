"""A FANET frame as it travels on the air: header, optional extended header, payload.

``decode_frame`` and ``encode_frame`` are the codec's entry points. Payload codecs live in one module
per family (``_tracking``, ``_text``, ``_service``, ``_landmark``, ``_remote_config``, ``_hardware``);
each exposes ``DECODERS`` (frame type → decoder) and ``ENCODERS`` (payload class → encoder) and this
module only assembles the tables.
"""

from collections.abc import Callable
from typing import Any, NamedTuple

from fanet.proto import _hardware, _landmark, _remote_config, _service
from fanet.proto._enums import AckMode, FrameType
from fanet.proto._errors import FrameError
from fanet.proto._text import (
    Ack,
    Message,
    Name,
    decode_ack,
    decode_message,
    decode_name,
    encode_ack,
    encode_message,
    encode_name,
)
from fanet.proto._tracking import (
    AirTracking,
    GroundTracking,
    Thermal,
    decode_air_tracking,
    decode_ground_tracking,
    decode_thermal,
    encode_air_tracking,
    encode_ground_tracking,
    encode_thermal,
)

_EXT_ACK_SHIFT = 6
_EXT_UNICAST = 0x20
_EXT_SIGNATURE = 0x10
_EXT_GEO_FORWARDED = 0x08


class UnknownPayload(NamedTuple):
    """The payload of a frame type this codec does not know, kept as it was received."""

    frame_type: int
    data: bytes


Decoder = Callable[[bytes, int], tuple[Any, int]]
Encoder = Callable[[Any], bytes]

_DECODERS: list[Decoder | None] = [None] * 64
_ENCODERS: dict[type, Encoder] = {
    Ack: encode_ack,
    AirTracking: encode_air_tracking,
    Name: encode_name,
    Message: encode_message,
    GroundTracking: encode_ground_tracking,
    Thermal: encode_thermal,
}
for _type, _decoder in {
    FrameType.ACK: decode_ack,
    FrameType.AIR_TRACKING: decode_air_tracking,
    FrameType.NAME: decode_name,
    FrameType.MESSAGE: decode_message,
    FrameType.GROUND_TRACKING: decode_ground_tracking,
    FrameType.THERMAL: decode_thermal,
}.items():
    _DECODERS[_type] = _decoder
for _module in (_service, _landmark, _remote_config, _hardware):
    for _type, _decoder in _module.DECODERS.items():
        _DECODERS[_type] = _decoder
    _ENCODERS.update(_module.ENCODERS)


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


_ACK_MODES = tuple(AckMode)
_NO_EXTENSION = (AckMode.NONE, None, None, False)


def decode_frame(data: bytes | bytearray | memoryview) -> Frame:
    """Decode one raw FANET frame (no base-station wrapper).

    Raises :class:`FrameError` for a truncated header or payload; never anything else.
    """
    buf = data if type(data) is bytes else bytes(data)
    size = len(buf)
    if size < 4:
        raise FrameError("header", 0, f"truncated: 4 bytes needed, {size} given")
    head = buf[0]
    source = buf[1] << 16 | buf[3] << 8 | buf[2]
    if head & 0x80:
        if size < 5:
            raise FrameError("extended_header", 4, "truncated: 1 byte needed, 0 given")
        ext = buf[4]
        start = 5
        dest = signature = None
        if ext & _EXT_UNICAST:
            if size < start + 3:
                raise FrameError("dest", start, f"truncated: 3 bytes needed, {size - start} given")
            dest = buf[5] << 16 | buf[7] << 8 | buf[6]
            start = 8
        if ext & _EXT_SIGNATURE:
            if size < start + 4:
                raise FrameError("signature", start, f"truncated: 4 bytes needed, {size - start} given")
            signature = int.from_bytes(buf[start : start + 4], "little")
            start += 4
        extension: tuple[AckMode, int | None, int | None, bool] = (
            _ACK_MODES[ext >> _EXT_ACK_SHIFT],
            dest,
            signature,
            bool(ext & _EXT_GEO_FORWARDED),
        )
    else:
        start = 4
        extension = _NO_EXTENSION
    decoder = _DECODERS[head & 0x3F]
    if decoder is None:
        payload: Any = UnknownPayload(head & 0x3F, buf[start:])
        end = size
    else:
        payload, end = decoder(buf, start)
    return tuple.__new__(
        Frame, (source, payload, bool(head & 0x40), *extension, buf[end:] if end < size else b"")
    )


def header_length(buf: bytes | bytearray | memoryview) -> int:
    """Where the payload starts in a raw frame whose header is complete."""
    if not buf[0] & 0x80:
        return 4
    ext = buf[4]
    return 5 + (3 if ext & _EXT_UNICAST else 0) + (4 if ext & _EXT_SIGNATURE else 0)


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
            (int(ack) & 3) << _EXT_ACK_SHIFT
            | (_EXT_UNICAST if dest is not None else 0)
            | (_EXT_SIGNATURE if signature is not None else 0)
            | (_EXT_GEO_FORWARDED if geo_forwarded else 0)
        )
        if dest is not None:
            out += bytes((dest >> 16 & 0xFF, dest & 0xFF, dest >> 8 & 0xFF))
        if signature is not None:
            out += (signature & 0xFFFFFFFF).to_bytes(4, "little")
    return bytes(out)


def encode_payload(payload: Any) -> bytes:
    """The payload bytes of one payload record."""
    if isinstance(payload, UnknownPayload):
        return payload.data
    encoder = _ENCODERS.get(type(payload))
    if encoder is None:
        raise TypeError(f"not a FANET payload record: {type(payload).__name__}")
    return encoder(payload)


def encode_frame(frame: Frame) -> bytes:
    """Encode a frame to the bytes sent on the air, trailing bytes included."""
    return (
        encode_header(
            frame.type,
            frame.source,
            forward=frame.forward,
            ack=frame.ack,
            dest=frame.dest,
            signature=frame.signature,
            geo_forwarded=frame.geo_forwarded,
        )
        + encode_payload(frame.payload)
        + frame.trailing
    )
