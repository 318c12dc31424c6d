"""Commands → the bytes the module expects, checked against what its firmware accepts.

Formats follow ``serial_interface.cpp``: ``#FNT`` and ``#FNC`` fields are read with
``strtol(…, 16)`` (hex), ``#DGL`` and ``#FNS`` fields as decimal numbers. The module reads a command
into a 256-byte buffer, so a command line holds at most 255 characters before its newline; longer
ones, and values the firmware would refuse, raise :class:`BridgeError` here instead.
"""

import math

from fanet.firmware_bridge._errors import BridgeError

MAX_COMMAND_LENGTH = 255
"""Characters before the newline that fit the module's 256-byte line buffer."""
MAX_TX_PAYLOAD = 127
"""``#FNT`` refuses payloads of 128 bytes and more (``ERR,33,frm too long``)."""
_FREQUENCIES_MHZ = (868, 915)
_POWER_DBM = range(2, 21)


def _line(text: str) -> bytes:
    if len(text) > MAX_COMMAND_LENGTH:
        raise BridgeError(
            "command", f"{len(text)} characters; the module's line buffer holds {MAX_COMMAND_LENGTH}"
        )
    return text.encode("ascii") + b"\n"


def _check(field: str, value: int, allowed: range) -> None:
    if value not in allowed:
        raise BridgeError(field, f"{value} is outside {allowed.start}..{allowed.stop - 1}")


def version_query() -> bytes:
    return _line("#DGV")


def address_query() -> bytes:
    return _line("#FNA")


def radio_power_query() -> bytes:
    return _line("#DGP")


def zone_query() -> bytes:
    return _line("#FNZ")


def region(power_dbm: int, frequency_mhz: int = 868) -> bytes:
    """``#DGL 868,<dBm>``: radio band and transmit power (2..20 dBm)."""
    if frequency_mhz not in _FREQUENCIES_MHZ:
        raise BridgeError("frequency_mhz", f"{frequency_mhz} is not one of {_FREQUENCIES_MHZ}")
    _check("power_dbm", power_dbm, _POWER_DBM)
    return _line(f"#DGL {frequency_mhz},{power_dbm}")


def config(aircraft: int, online: bool, ground: int | None = None) -> bytes:
    """``#FNC <aircraft 0..7>,<online 0|1>[,<ground type 0..F>]``."""
    _check("aircraft", aircraft, range(8))
    text = f"#FNC {aircraft:X},{int(online)}"
    if ground is not None:
        _check("ground", ground, range(16))
        text += f",{ground:X}"
    return _line(text)


def mode(ground: bool) -> bytes:
    """``#FNM 1`` ground mode, ``#FNM 0`` flying (the firmware's default)."""
    return _line(f"#FNM {int(ground)}")


def radio_power(on: bool) -> bytes:
    return _line(f"#DGP {int(on)}")


def promiscuous(on: bool) -> bytes:
    """``#FNP 1``: fanet-base firmware reports every frame, with its destination (stock firmware: error)."""
    return _line(f"#FNP {int(on)}")


def state(
    lat: float, lon: float, altitude_m: float, speed_kmh: float, climb_ms: float, heading_deg: float
) -> bytes:
    """``#FNS lat,lon,alt,speed,climb,heading``: our own position, needed before the module transmits."""
    values = {
        "lat": lat,
        "lon": lon,
        "altitude_m": altitude_m,
        "speed_kmh": speed_kmh,
        "climb_ms": climb_ms,
        "heading_deg": heading_deg,
    }
    for name, value in values.items():
        if not math.isfinite(value):
            raise BridgeError(name, f"{value} is not a finite number")
    if not -90 <= lat <= 90:
        raise BridgeError("lat", f"{lat} is outside -90..90")
    if not -180 <= lon <= 180:
        raise BridgeError("lon", f"{lon} is outside -180..180")
    return _line(
        f"#FNS {lat:.6f},{lon:.6f},{altitude_m:.1f},{speed_kmh:.1f},{climb_ms:.1f},{heading_deg % 360:.1f}"
    )


def transmit(
    frame_type: int,
    payload: bytes,
    *,
    dest: int | None = None,
    forward: bool = False,
    ack: bool = False,
    signature: int | None = None,
) -> bytes:
    """``#FNT type,dest_m,dest_id,forward,ack,length,payload[,signature]``, all hex; no dest = broadcast."""
    _check("frame_type", frame_type, range(64))
    if len(payload) > MAX_TX_PAYLOAD:
        raise BridgeError("payload", f"{len(payload)} bytes; the module sends at most {MAX_TX_PAYLOAD}")
    address = 0
    if dest is not None:
        _check("dest", dest, range(1, 0x1000000))
        address = dest
    text = (
        f"#FNT {frame_type:X},{address >> 16:X},{address & 0xFFFF:X},{int(forward)},{int(ack)},"
        f"{len(payload):X},{payload.hex().upper()}"
    )
    if signature is not None:
        _check("signature", signature, range(1 << 32))
        text += f",{signature:X}"
    return _line(text)
