"""The base-station wrapper: what a station publishes on MQTT ``fb/b/<station id>/f``.

``u32 LE unix time | i16 LE RSSI dBm | i16 LE SNR dB | raw FANET frame``. −32768 (INT16_MIN) means
"unknown" (a serial FANET module reports neither RSSI nor SNR) and is read as ``None``.
"""

import struct
from typing import NamedTuple

from fanet.proto._errors import FrameError

UNKNOWN_SIGNAL = -32768
WRAPPER_SIZE = 8

_WRAPPER = struct.Struct("<Ihh")


class WrappedFrame(NamedTuple):
    """A raw frame as a base station received it."""

    timestamp: int
    """Unix time in seconds when the station received the frame."""
    rssi: int | None
    """dBm, ``None`` when unknown."""
    snr: int | None
    """dB, ``None`` when unknown."""
    raw: bytes


class ReceivedFrame(NamedTuple):
    """A raw frame with who received it and how: what crosses from the gateway to the server."""

    station: str
    """The receiving station's id (``<id>`` in ``fb/b/<id>/f``)."""
    timestamp: float
    """Unix seconds when the station received the frame (whole seconds on the wire)."""
    rssi: int | None
    snr: int | None
    raw: bytes

    @classmethod
    def from_wrapped(cls, station: str, data: bytes | bytearray | memoryview) -> "ReceivedFrame":
        """Parse an MQTT payload published by ``station``; raises :class:`FrameError` when short."""
        timestamp, rssi, snr, raw = unwrap(data)
        return cls(station, float(timestamp), rssi, snr, raw)

    def wrapped(self) -> bytes:
        """The MQTT payload a station publishes for this frame."""
        return wrap(self.raw, int(self.timestamp), self.rssi, self.snr)


def unwrap(data: bytes | bytearray | memoryview) -> WrappedFrame:
    """Split a wrapped frame; the raw frame is not decoded here."""
    if len(data) < WRAPPER_SIZE:
        raise FrameError("wrapper", 0, f"truncated: {WRAPPER_SIZE} bytes needed, {len(data)} given")
    timestamp, rssi, snr = _WRAPPER.unpack_from(data)
    return WrappedFrame(
        timestamp,
        None if rssi == UNKNOWN_SIGNAL else rssi,
        None if snr == UNKNOWN_SIGNAL else snr,
        bytes(data[WRAPPER_SIZE:]),
    )


def wrap(raw: bytes, timestamp: int, rssi: int | None = None, snr: int | None = None) -> bytes:
    """Build the MQTT payload; out-of-range RSSI/SNR are clamped to the i16 range above −32768."""

    def signal(value: int | None) -> int:
        if value is None:
            return UNKNOWN_SIGNAL
        return max(-32767, min(32767, value))

    return _WRAPPER.pack(timestamp & 0xFFFFFFFF, signal(rssi), signal(snr)) + bytes(raw)
