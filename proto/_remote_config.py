"""Remote configuration (type 6): settings sent to a station, marked "in development" upstream.

A sub-type byte, then its data: 0 acknowledges and 1 requests a sub-type, 2 sets the station's
position, 3 is reserved, 4–8 are geofences for geo-based forwarding, 9–33 are broadcast reply
features (a frame the station plays back while the wind blows from one of the given sectors), the
rest are undefined and kept raw. "Empty subtype removes the feature": we read it for every setting
(2, 4–33), not only reply features; the record then has ``body`` ``None``.

A reply feature's frame payload is kept raw (``ReplyFeature.data``, what the encoder writes) and
also decoded with the payload codecs when it can be: taken from the payload modules directly, since
the frame codec imports this module.
"""

from collections.abc import Callable
from typing import Any, NamedTuple

from fanet.proto import _hardware, _landmark, _service, _text, _tracking
from fanet.proto._compressed import Point, decode_compressed_chain, encode_compressed_position
from fanet.proto._enums import FrameType
from fanet.proto._errors import FrameError, require
from fanet.proto._landmark import (
    ALTITUDE_BYTE_M,
    WIND_SECTORS,
    WindSectors,
    decode_altitude_band,
    encode_altitude_byte,
)
from fanet.proto._quantities import HEADING_DEG, decode_position, encode_heading, encode_position

ACKNOWLEDGE = 0
REQUEST = 1
POSITION = 2
RESERVED = 3
GEOFENCE_SUBTYPES = range(4, 9)
REPLY_FEATURE_SUBTYPES = range(9, 34)
"""9 is recommended for the name. "First 12 non-volatile, second 12 volatile": 9–20 survive a
reboot, 21–32 do not (the text's range has a 25th, 33)."""


class ConfigAck(NamedTuple):
    """Sub-type 0: the station took the setting of that sub-type."""

    acknowledged_subtype: int


class ConfigRequest(NamedTuple):
    """Sub-type 1: asks the station for its setting of that sub-type."""

    requested_subtype: int


class ConfigPosition(NamedTuple):
    """Sub-type 2: the station's position."""

    lat: float
    lon: float
    altitude_m: int
    """(signed byte + 109) × 25 m, −450 … 5900 m, as in landmarks."""
    heading_deg: float


class Geofence(NamedTuple):
    """Sub-types 4–8: an area for geo-based forwarding, with an altitude band."""

    altitude_bottom_m: int
    altitude_top_m: int
    points: tuple[Point, ...]
    """The first absolute, the rest compressed on the air: consecutive points less than 1° apart."""
    truncated: bool = False
    """The frame ended inside a position: ``points`` holds the complete ones."""


class ReplyFeature(NamedTuple):
    """Sub-types 9–33: a frame the station broadcasts when the wind is in one of the sectors."""

    wind_sectors: WindSectors
    payload_type: int
    """The frame type of ``data`` (bits 5..0 of its type byte)."""
    forward: bool
    """Bit 6 of the type byte: the played-back frame is sent with the forward bit."""
    data: bytes
    """The payload as received; this is what is encoded."""
    payload: Any = None
    """``data`` decoded (a payload record), or ``None`` when it cannot be."""

    @classmethod
    def carrying(cls, payload: Any, wind_sectors: WindSectors, *, forward: bool = False) -> "ReplyFeature":
        """A reply feature playing back ``payload`` (a payload record such as ``Name``)."""
        encoder = _PAYLOAD_ENCODERS.get(type(payload))
        if encoder is None:
            raise TypeError(f"not a payload a reply feature can carry: {type(payload).__name__}")
        return cls(wind_sectors, int(payload.frame_type), forward, encoder(payload), payload)


RemoteConfigBody = ConfigAck | ConfigRequest | ConfigPosition | Geofence | ReplyFeature | bytes


class RemoteConfig(NamedTuple):
    """Type 6: one configuration message.

    ``body`` by sub-type: 0 :class:`ConfigAck`, 1 :class:`ConfigRequest`, 2 :class:`ConfigPosition`,
    4–8 :class:`Geofence`, 9–33 :class:`ReplyFeature`; ``bytes`` for 3 and 34–255 (as received);
    ``None`` for an empty body, which removes the setting of a sub-type 2–33.
    """

    subtype: int
    body: RemoteConfigBody | None = None

    @property
    def removes(self) -> bool:
        """An empty body: the station drops its setting (reply feature, geofence, position)."""
        return self.body is None

    @property
    def frame_type(self) -> FrameType:
        return FrameType.REMOTE_CONFIG


# Every payload codec but this one (a reply feature carrying remote configuration stays raw).
_PAYLOAD_DECODERS: dict[int, Callable[[bytes, int], tuple[Any, int]]] = {}
_PAYLOAD_ENCODERS: dict[type, Callable[[Any], bytes]] = {}
for _module in (_text, _tracking, _service, _landmark, _hardware):
    _PAYLOAD_DECODERS.update(_module.DECODERS)
    _PAYLOAD_ENCODERS.update(_module.ENCODERS)

_FORWARD_BIT = 0x40


# --- decoding ------------------------------------------------------------------------------------


def _decode_position(buf: bytes, offset: int) -> tuple[ConfigPosition, int]:
    require(buf, offset, 8, "remote_config.position")
    lat, lon = decode_position(buf, offset)
    position = ConfigPosition(lat, lon, ALTITUDE_BYTE_M[buf[offset + 6]], HEADING_DEG[buf[offset + 7]])
    return position, offset + 8


def _decode_geofence(buf: bytes, offset: int) -> tuple[Geofence, int]:
    bottom, top = decode_altitude_band(buf, offset, "remote_config.geofence.altitudes")
    offset += 2
    require(buf, offset, 6, "remote_config.geofence.position")
    lat, lon = decode_position(buf, offset)
    chain, end = decode_compressed_chain(buf, offset + 6, lat, lon)
    points = (Point(lat, lon), *(Point(la, lo) for la, lo, _ in chain))
    return Geofence(bottom, top, points, end < len(buf)), end


def _decode_reply_feature(buf: bytes, offset: int) -> tuple[ReplyFeature, int]:
    require(buf, offset, 2, "remote_config.reply_feature")
    wind, type_byte = WIND_SECTORS[buf[offset]], buf[offset + 1]
    data = buf[offset + 2 :]
    payload_type = type_byte & 0x3F
    payload = None
    decoder = _PAYLOAD_DECODERS.get(payload_type)
    if decoder is not None:
        try:
            payload, _ = decoder(data, 0)
        except FrameError:
            payload = None  # a played-back payload we cannot read is still kept as bytes
    return ReplyFeature(wind, payload_type, bool(type_byte & _FORWARD_BIT), data, payload), len(buf)


def decode_remote_config(buf: bytes, start: int) -> tuple[RemoteConfig, int]:
    require(buf, start, 1, "remote_config.subtype")
    subtype = buf[start]
    offset = start + 1
    body: RemoteConfigBody | None
    if subtype == ACKNOWLEDGE:
        require(buf, offset, 1, "remote_config.acknowledged_subtype")
        body, end = ConfigAck(buf[offset]), offset + 1
    elif subtype == REQUEST:
        require(buf, offset, 1, "remote_config.requested_subtype")
        body, end = ConfigRequest(buf[offset]), offset + 1
    elif subtype == RESERVED or subtype >= REPLY_FEATURE_SUBTYPES.stop:
        body, end = buf[offset:], len(buf)
    elif offset == len(buf):
        body, end = None, offset
    elif subtype == POSITION:
        body, end = _decode_position(buf, offset)
    elif subtype in GEOFENCE_SUBTYPES:
        body, end = _decode_geofence(buf, offset)
    else:
        body, end = _decode_reply_feature(buf, offset)
    return RemoteConfig(subtype, body), end


# --- encoding ------------------------------------------------------------------------------------


def _encode_body(subtype: int, body: RemoteConfigBody | None) -> bytes:
    if body is None and subtype >= POSITION:
        return b""
    if isinstance(body, ConfigAck) and subtype == ACKNOWLEDGE:
        return bytes((body.acknowledged_subtype & 0xFF,))
    if isinstance(body, ConfigRequest) and subtype == REQUEST:
        return bytes((body.requested_subtype & 0xFF,))
    if isinstance(body, ConfigPosition) and subtype == POSITION:
        return encode_position(body.lat, body.lon) + bytes(
            (encode_altitude_byte(body.altitude_m), encode_heading(body.heading_deg))
        )
    if isinstance(body, Geofence) and subtype in GEOFENCE_SUBTYPES and body.points:
        first, *rest = body.points
        return (
            bytes((encode_altitude_byte(body.altitude_bottom_m), encode_altitude_byte(body.altitude_top_m)))
            + encode_position(first.lat, first.lon)
            + b"".join(encode_compressed_position(p.lat, p.lon) for p in rest)
        )
    if isinstance(body, ReplyFeature) and subtype in REPLY_FEATURE_SUBTYPES:
        type_byte = body.payload_type & 0x3F | (_FORWARD_BIT if body.forward else 0)
        return bytes((body.wind_sectors.mask & 0xFF, type_byte)) + body.data
    if isinstance(body, bytes) and (subtype == RESERVED or subtype >= REPLY_FEATURE_SUBTYPES.stop):
        return body
    raise ValueError(f"remote_config.body: {type(body).__name__} does not fit sub-type {subtype}")


def encode_remote_config(p: RemoteConfig) -> bytes:
    """Raises ``ValueError`` when the body does not fit the sub-type (or a geofence has no points)."""
    return bytes((p.subtype & 0xFF,)) + _encode_body(p.subtype & 0xFF, p.body)


DECODERS: dict[int, Callable[[bytes, int], tuple[Any, int]]] = {FrameType.REMOTE_CONFIG: decode_remote_config}
ENCODERS: dict[type, Callable[[Any], bytes]] = {RemoteConfig: encode_remote_config}
