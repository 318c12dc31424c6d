"""A frame as plain JSON-ready values, with the key names of ``fanet decode``.

The payload records' field names are the keys; header fields come first; fields a frame does not have
(``None``) are left out. Landmarks and remote configuration are nested objects under ``landmark`` and
``remote_config``, an unknown payload is hex under ``payload``.
"""

import datetime
from enum import IntEnum
from typing import Any

from fanet.proto._enums import FrameType
from fanet.proto._frame import Frame, UnknownPayload, format_address
from fanet.proto._wrapper import WrappedFrame

_ADDRESS_FIELDS = frozenset({"rx_address", "icao_address"})
"""24-bit addresses inside payloads, printed as six hex digits like the frame's own addresses."""
_NESTED: dict[int, str] = {FrameType.LANDMARK: "landmark", FrameType.REMOTE_CONFIG: "remote_config"}


def plain(value: Any) -> Any:
    """Records, enums, dates, bytes and tuples → dicts, ints, strings and lists."""
    if isinstance(value, tuple) and hasattr(value, "_asdict"):
        return {
            key: format_address(item) if key in _ADDRESS_FIELDS else plain(item)
            for key, item in value._asdict().items()
            if item is not None
        }
    if isinstance(value, IntEnum):
        return int(value)
    if isinstance(value, (tuple, list)):
        return [plain(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return value.hex().upper()
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, float):
        return round(value, 6)  # finer than any FANET field (1e-5° is the position step)
    return value


def frame_to_dict(frame: Frame, wrapper: WrappedFrame | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if wrapper is not None:
        out["timestamp"] = wrapper.timestamp
        out["rssi"] = wrapper.rssi
        out["snr"] = wrapper.snr
    frame_type = frame.type
    out["type"] = frame_type
    out["type_name"] = (
        FrameType(frame_type).name.lower() if frame_type in FrameType._value2member_map_ else "unknown"
    )
    out["forward"] = frame.forward
    out["address"] = frame.address
    out["manufacturer"] = frame.manufacturer
    out["id"] = frame.device_id
    if frame.dest is not None:
        out["dest"] = format_address(frame.dest)
    if frame.ack:
        out["ack"] = frame.ack.name.lower()
    if frame.signature is not None:
        out["signature"] = f"{frame.signature:08X}"
    if frame.geo_forwarded:
        out["geo_forwarded"] = True
    payload = frame.payload
    if isinstance(payload, UnknownPayload):
        out["payload"] = payload.data.hex().upper()
    elif frame_type in _NESTED:
        out[_NESTED[frame_type]] = plain(payload)
    else:
        out.update(plain(payload))
    if frame.trailing:
        out["trailing_bytes"] = frame.trailing.hex().upper()
    return out
