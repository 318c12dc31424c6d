"""Frames that carry text or nothing: ACK (type 0), name (type 2) and message (type 3).

Text is UTF-8 without a terminator; real traffic pads names with NULs, so text ends at the first NUL
and everything from there on is reported as trailing bytes. Bytes that are not valid UTF-8 are
replaced (U+FFFD), never an error: a name with one flipped bit is still worth showing.
"""

import struct
from collections.abc import Callable
from typing import Any, NamedTuple

from fanet.proto._enums import AckMode, FrameType
from fanet.proto._errors import FrameError
from fanet.proto._header import MANUFACTURER_WEIGHT, Frame


class Ack(NamedTuple):
    """Type 0: acknowledges a unicast frame; it has no payload."""

    @property
    def frame_type(self) -> FrameType:
        return FrameType.ACK


class Name(NamedTuple):
    """Type 2: the name of a pilot, a station or a device."""

    name: str

    @property
    def frame_type(self) -> FrameType:
        return FrameType.NAME


class Message(NamedTuple):
    """Type 3: a text message; sub-header 0 is a normal message."""

    message: str
    subheader: int = 0

    @property
    def frame_type(self) -> FrameType:
        return FrameType.MESSAGE


_ACK = Ack()  # no fields: one shared instance


def _text_end(buf: bytes, start: int) -> int:
    nul = buf.find(0, start)
    return len(buf) if nul < 0 else nul


def decode_ack(buf: bytes, start: int) -> tuple[Ack, int]:
    return _ACK, start


def encode_ack(p: Ack) -> bytes:
    return b""


def decode_name(buf: bytes, start: int) -> tuple[Name, int]:
    end = _text_end(buf, start)
    return Name(buf[start:end].decode("utf-8", "replace")), end


def encode_name(p: Name) -> bytes:
    return p.name.encode("utf-8")


def decode_message(buf: bytes, start: int) -> tuple[Message, int]:
    if len(buf) <= start:
        raise FrameError("message.subheader", start, "truncated: 1 byte needed, 0 given")
    end = _text_end(buf, start + 1)
    return Message(buf[start + 1 : end].decode("utf-8", "replace"), buf[start]), end


def encode_message(p: Message) -> bytes:
    return bytes((p.subheader & 0xFF,)) + p.message.encode("utf-8")


DECODERS: dict[int, Callable[[bytes, int], tuple[Any, int]]] = {
    FrameType.ACK: decode_ack,
    FrameType.NAME: decode_name,
    FrameType.MESSAGE: decode_message,
}
ENCODERS: dict[type, Callable[[Any], bytes]] = {Ack: encode_ack, Name: encode_name, Message: encode_message}


_unpack_source = struct.Struct("<xBH").unpack_from  # manufacturer, id (u16 LE)
_NO_ACK = AckMode.NONE


def whole_frame_decoders(general: Callable[[bytes], Frame]) -> dict[int, Callable[[bytes], Frame]]:
    """Fast decoders of names without extended header, by header byte (forward bit clear or set).

    Text is decoded strictly first: the same string whenever it is valid UTF-8, and cheaper than
    asking for the ``"replace"`` error handler, which is only needed when it is not.
    """
    new = tuple.__new__

    def for_header(forward: bool) -> Callable[[bytes], Frame]:
        def name(buf: bytes) -> Frame:
            if len(buf) < 4:
                return general(buf)
            manufacturer, device = _unpack_source(buf)
            nul = buf.find(0, 4)
            if nul < 0:
                text, trailing = buf[4:], b""
            else:
                text, trailing = buf[4:nul], buf[nul:]
            try:
                value = text.decode()
            except UnicodeDecodeError:
                value = text.decode("utf-8", "replace")
            return new(
                Frame,
                (
                    MANUFACTURER_WEIGHT[manufacturer] + device,
                    new(Name, (value,)),
                    forward,
                    _NO_ACK,
                    None,
                    None,
                    False,
                    trailing,
                ),
            )

        return name

    return {FrameType.NAME: for_header(False), FrameType.NAME | 0x40: for_header(True)}
