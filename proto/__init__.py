"""FANET wire formats, pure: the air protocol, the base-station wrapper and the client API schema.

Bytes in, typed records out, and back; no I/O, no clock. ``decode_frame`` raises only
:class:`FrameError`, whatever the input.
"""

from fanet.proto._compressed import Point
from fanet.proto._dict import frame_to_dict
from fanet.proto._enums import DISTRESS_GROUND_TYPES, AckMode, AircraftType, FrameType, GroundType
from fanet.proto._errors import FrameError
from fanet.proto._frame import (
    Frame,
    UnknownPayload,
    decode_frame,
    encode_frame,
    encode_header,
    encode_payload,
    format_address,
    header_length,
    parse_address,
)
from fanet.proto._hardware import HardwareInfo, HardwareInfoLegacy
from fanet.proto._landmark import Landmark, LandmarkLayer, LandmarkPoint, LandmarkSubtype, WindSectors
from fanet.proto._remote_config import (
    ConfigAck,
    ConfigPosition,
    ConfigRequest,
    Geofence,
    RemoteConfig,
    ReplyFeature,
)
from fanet.proto._service import Service
from fanet.proto._signature import compute_signature, sign, verify_signature
from fanet.proto._text import Ack, Message, Name
from fanet.proto._tracking import AirTracking, GroundTracking, Thermal
from fanet.proto._wrapper import UNKNOWN_SIGNAL, ReceivedFrame, WrappedFrame, unwrap, wrap

__all__ = [
    "DISTRESS_GROUND_TYPES",
    "UNKNOWN_SIGNAL",
    "Ack",
    "AckMode",
    "AirTracking",
    "AircraftType",
    "ConfigAck",
    "ConfigPosition",
    "ConfigRequest",
    "Frame",
    "FrameError",
    "FrameType",
    "Geofence",
    "GroundTracking",
    "GroundType",
    "HardwareInfo",
    "HardwareInfoLegacy",
    "Landmark",
    "LandmarkLayer",
    "LandmarkPoint",
    "LandmarkSubtype",
    "Message",
    "Name",
    "Point",
    "ReceivedFrame",
    "RemoteConfig",
    "ReplyFeature",
    "Service",
    "Thermal",
    "UnknownPayload",
    "WindSectors",
    "WrappedFrame",
    "compute_signature",
    "decode_frame",
    "encode_frame",
    "encode_header",
    "encode_payload",
    "format_address",
    "frame_to_dict",
    "header_length",
    "parse_address",
    "sign",
    "unwrap",
    "verify_signature",
    "wrap",
]
