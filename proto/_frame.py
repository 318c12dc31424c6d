"""Decoding and encoding whole frames: the codec's entry points.

Payload codecs live in one module per family (``_tracking``, ``_text``, ``_service``, ``_landmark``,
``_remote_config``, ``_hardware``); each exposes ``DECODERS`` (frame type → decoder) and ``ENCODERS``
(payload class → encoder), and this module only assembles the tables. The most common frames (air
and ground tracking, thermals without extended header) take a fast path in ``_fast`` that reads
header and payload with one ``struct`` unpack (``_tracking.whole_frame_decoders``); every other frame
takes the general path here.
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
    Frame,
    UnknownPayload,
    encode_header,
    format_address,
    header_length,
    parse_address,
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
for _head, _whole_frame_decoder in _tracking.whole_frame_decoders(_decode_general).items():
    _FAST_PATH[_head] = _whole_frame_decoder


def decode_frame(data: bytes | bytearray | memoryview) -> Frame:
    """Decode one raw FANET frame (no base-station wrapper).

    Raises :class:`FrameError` for a truncated header or payload, and nothing else whatever the
    input. Bytes after a complete payload are kept in ``Frame.trailing``.
    """
    if type(data) is not bytes:
        data = bytes(data)
    try:
        decoder = _FAST_PATH[data[0]]
    except IndexError:
        raise FrameError("header", 0, "truncated: 4 bytes needed, 0 given") from None
    return decoder(data)


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
