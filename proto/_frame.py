"""Decoding and encoding whole frames: the codec's entry points.

Payload codecs live in one module per family (``_tracking``, ``_text``, ``_service``, ``_landmark``,
``_remote_config``, ``_hardware``); each exposes ``DECODERS`` (frame type → decoder) and ``ENCODERS``
(payload class → encoder), and this module only assembles the tables. The common frames without
extended header and with an exact payload length take a fast path that reads header and payload with
one ``struct`` unpack and builds the records directly: air tracking, most of the traffic, inline in
``decode_frame``; ground tracking, thermals, names and service frames in the ``whole_frame_decoders``
of their modules. Every other frame takes the general path here.
"""

from collections.abc import Callable
from typing import Any

from fanet.proto import _hardware, _landmark, _remote_config, _service, _text, _tracking
from fanet.proto._enums import AckMode
from fanet.proto._errors import FrameError
from fanet.proto._header import (
    EXT_ACK_SHIFT,
    EXT_GEO_FORWARDED,
    EXT_SIGNATURE,
    EXT_UNICAST,
    MANUFACTURER_WEIGHT,
    Frame,
    UnknownPayload,
    encode_header,
    format_address,
    header_length,
    parse_address,
)
from fanet.proto._quantities import (
    CLIMB_MS,
    HEADING_DEG,
    LAT_DIVISOR,
    LON_DIVISOR,
    QNE_OFFSET_M,
    SPEED_KMH,
    TOP_BYTE_24,
    TURN_RATE_DPS,
)
from fanet.proto._tracking import (
    AIRCRAFT_BY_WORD_HIGH,
    ALTITUDE_BY_WORD_HIGH,
    ONLINE_BY_WORD_HIGH,
    AirTracking,
    unpack_air_frame_15,
    unpack_air_frame_16,
    unpack_air_frame_17,
)

__all__ = [
    "Frame",
    "UnknownPayload",
    "decode_frame",
    "encode_frame",
    "encode_header",
    "encode_payload",
    "format_address",
    "header_length",
    "parse_address",
]

Decoder = Callable[[bytes, int], tuple[Any, int]]
Encoder = Callable[[Any], bytes]

_DECODERS: list[Decoder | None] = [None] * 64
_ENCODERS: dict[type, Encoder] = {}
for _module in (_text, _tracking, _service, _landmark, _remote_config, _hardware):
    for _type, _decoder in _module.DECODERS.items():
        _DECODERS[_type] = _decoder
    _ENCODERS.update(_module.ENCODERS)

_ACK_MODES = tuple(AckMode)
_NO_ACK = AckMode.NONE


def _decode_general(buf: bytes) -> Frame:
    size = len(buf)
    if size < 4:
        raise FrameError("header", 0, f"truncated: 4 bytes needed, {size} given")
    head = buf[0]
    source = buf[1] << 16 | buf[3] << 8 | buf[2]
    decoder = _DECODERS[head & 0x3F]
    if not head & 0x80:
        if decoder is None:
            return tuple.__new__(
                Frame,
                (source, UnknownPayload(head & 0x3F, buf[4:]), head > 0x3F, _NO_ACK, None, None, False, b""),
            )
        payload, end = decoder(buf, 4)
        trailing = buf[end:] if end < size else b""
        return tuple.__new__(Frame, (source, payload, head > 0x3F, _NO_ACK, None, None, False, trailing))
    if size < 5:
        raise FrameError("extended_header", 4, "truncated: 1 byte needed, 0 given")
    ext = buf[4]
    start = 5
    dest = signature = None
    if ext & EXT_UNICAST:
        if size < start + 3:
            raise FrameError("dest", start, f"truncated: 3 bytes needed, {size - start} given")
        dest = buf[5] << 16 | buf[7] << 8 | buf[6]
        start = 8
    if ext & EXT_SIGNATURE:
        if size < start + 4:
            raise FrameError("signature", start, f"truncated: 4 bytes needed, {size - start} given")
        signature = int.from_bytes(buf[start : start + 4], "little")
        start += 4
    if decoder is None:
        payload, end = UnknownPayload(head & 0x3F, buf[start:]), size
    else:
        payload, end = decoder(buf, start)
    trailing = buf[end:] if end < size else b""
    extension = (_ACK_MODES[ext >> EXT_ACK_SHIFT], dest, signature, bool(ext & EXT_GEO_FORWARDED))
    return Frame(source, payload, bool(head & 0x40), *extension, trailing)


# Indexed by the frame's first byte: the header byte decides whether a frame can take a fast path.
_FAST_PATH: list[Callable[[bytes], Frame]] = [_decode_general] * 256
for _module in (_tracking, _text, _service):
    for _head, _whole_frame_decoder in _module.whole_frame_decoders(_decode_general).items():
        _FAST_PATH[_head] = _whole_frame_decoder
_FORWARD = tuple(bool(head & 0x40) for head in range(256))
_new = tuple.__new__


def decode_frame(data: bytes | bytearray | memoryview) -> Frame:
    """Decode one raw FANET frame (no base-station wrapper).

    Raises :class:`FrameError` for a truncated header or payload, and nothing else whatever the
    input. Bytes after a complete payload are kept in ``Frame.trailing``.
    """
    if type(data) is not bytes:
        data = bytes(data)
    try:
        head = data[0]
    except IndexError:
        raise FrameError("header", 0, "truncated: 4 bytes needed, 0 given") from None
    if head != 1 and head != 0x41:  # noqa: PLR1714  (two int compares are cheaper than a set lookup)
        return _FAST_PATH[head](data)
    # Air tracking without extended header, most of the traffic: decoded here rather than in a
    # decoder of its own, which would cost one more call; see ``_tracking.unpack_air_frame_15``.
    size = len(data)
    if size == 15:
        manufacturer, device, la, lah, lo, loh, low, high, speed, climb, heading = unpack_air_frame_15(data)
        turn_rate = qne_offset = None
    elif size == 16:
        manufacturer, device, la, lah, lo, loh, low, high, speed, climb, heading, turn = unpack_air_frame_16(
            data
        )
        turn_rate = TURN_RATE_DPS[turn]
        qne_offset = None
    elif size == 17:
        manufacturer, device, la, lah, lo, loh, low, high, speed, climb, heading, turn, qne = (
            unpack_air_frame_17(data)
        )
        turn_rate = TURN_RATE_DPS[turn]
        qne_offset = QNE_OFFSET_M[qne]
    else:
        return _decode_general(data)
    payload = (
        (la + TOP_BYTE_24[lah]) / LAT_DIVISOR,
        (lo + TOP_BYTE_24[loh]) / LON_DIVISOR,
        AIRCRAFT_BY_WORD_HIGH[high],
        ALTITUDE_BY_WORD_HIGH[high][low],
        SPEED_KMH[speed],
        CLIMB_MS[climb],
        HEADING_DEG[heading],
        ONLINE_BY_WORD_HIGH[high],
        turn_rate,
        qne_offset,
    )
    return _new(
        Frame,
        (
            MANUFACTURER_WEIGHT[manufacturer] + device,
            _new(AirTracking, payload),
            _FORWARD[head],
            _NO_ACK,
            None,
            None,
            False,
            b"",
        ),
    )


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
