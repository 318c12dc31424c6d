"""Host → module command lines → typed commands, for the module emulator.

The grammar is the one ``fanet.firmware_bridge`` writes (see its ``_commands`` module) and the
firmware reads (``serial_interface.cpp``): a four-character tag, optional spaces, comma-separated
arguments; ``#FNT``, ``#FNA`` and ``#FNC`` fields hex, ``#DGL``, ``#FNZ`` and ``#FNS`` decimal.
The emulator is stricter than the firmware on purpose: where C's ``strtol`` would read a malformed
number as 0, :func:`parse_command` refuses the command with the error code the firmware uses for
that kind of fault (so host bugs show up), and never raises.
"""

import math
import re
from dataclasses import dataclass

from fanet.firmware_bridge import MAX_TX_PAYLOAD, ReplyFamily

_HEX = re.compile(r"[0-9A-Fa-f]{1,8}")
_HEX_PAYLOAD = re.compile(r"(?:[0-9A-Fa-f]{2})*")
_DECIMAL = re.compile(r"-?[0-9]{1,6}")
_FREQUENCIES_MHZ = (868, 915)
ZONES = {1: "EU868"}
"""The zones the emulated module knows (``#FNZ 1,EU868`` is what real modules report in Europe)."""
_REPORTING = frozenset({"FNA", "FNC", "FNM", "FNZ", "DGP"})
"""Commands that report the current value when given no argument."""


@dataclass(frozen=True, slots=True)
class Refused:
    """A command the module answers with ``#FNR ERR``/``#DGR ERR`` (unknown, malformed, out of range)."""

    family: ReplyFamily
    code: int
    text: str


@dataclass(frozen=True, slots=True)
class Report:
    """``#DGV``, or ``#FNA``/``#FNC``/``#FNM``/``#FNZ``/``#DGP`` without argument: report the value."""

    tag: str
    """``"DGV"``, ``"FNA"`` …"""


@dataclass(frozen=True, slots=True)
class SetAddress:
    address: int


@dataclass(frozen=True, slots=True)
class SetConfig:
    aircraft: int
    online: bool
    ground: int | None


@dataclass(frozen=True, slots=True)
class SetMode:
    ground: bool


@dataclass(frozen=True, slots=True)
class SetZone:
    index: int


@dataclass(frozen=True, slots=True)
class SetRadioPower:
    on: bool


@dataclass(frozen=True, slots=True)
class SetRegion:
    frequency_mhz: int
    power_dbm: int


@dataclass(frozen=True, slots=True)
class SetState:
    """``#FNS``: the host's own position (further optional fields are accepted and ignored)."""

    lat: float
    lon: float
    altitude_m: float
    speed_kmh: float
    climb_ms: float
    heading_deg: float


@dataclass(frozen=True, slots=True)
class Transmit:
    frame_type: int
    dest: int | None
    """``None``: broadcast (destination 0,0)."""
    forward: bool
    ack: bool
    payload: bytes
    signature: int | None


@dataclass(frozen=True, slots=True)
class Pps:
    """``#DGS``: emulate a PPS pulse (test only); answered ``#DGR OK``."""


Command = (
    Refused
    | Report
    | SetAddress
    | SetConfig
    | SetMode
    | SetZone
    | SetRadioPower
    | SetRegion
    | SetState
    | Transmit
    | Pps
)

_FN = ReplyFamily.FANET
_DG = ReplyFamily.DONGLE
UNKNOWN = Refused(_FN, 5, "unknown command")
_UNKNOWN_FN = Refused(_FN, 6, "unknown FN command")
_UNKNOWN_DG = Refused(_DG, 60, "unknown DG command")
_INVALID_ADDRESS = Refused(_FN, 11, "invalid address")
_INCOMPATIBLE = Refused(_FN, 12, "incompatible type")
_TOO_SHORT = Refused(_FN, 30, "too short")
_TOO_LONG = Refused(_FN, 33, "frm too long")
_BROKEN = Refused(_FN, 34, "frm broken")
_TOO_FEW_PARAMETERS = Refused(_DG, 80, "too less parameter")
_UNKNOWN_PARAMETER = Refused(_DG, 81, "unknown parameter")
_JUMP = Refused(_DG, 61, "unknown jump point")


def parse_command(line: str) -> Command:
    """One line the host wrote, without its newline (a trailing ``\\r`` is allowed)."""
    line = line.rstrip("\r")
    family, letter, args = line[1:3], line[3:4], line[4:].strip(" ")
    if not line.startswith("#") or family not in ("FN", "DG") or not letter:
        return UNKNOWN
    tag = family + letter
    if tag == "DGV" or (tag in _REPORTING and not args):
        return Report(tag)
    parser = _PARSERS.get(tag)
    if parser is None:
        return _UNKNOWN_FN if family == "FN" else _UNKNOWN_DG
    return parser(args)


def _hex(text: str) -> int | None:
    return int(text, 16) if _HEX.fullmatch(text) else None


def _decimal(text: str) -> int | None:
    return int(text) if _DECIMAL.fullmatch(text) else None


def _address(args: str) -> Command:
    fields = args.split(",")
    if len(fields) != 2:
        return _INVALID_ADDRESS
    manufacturer, device = _hex(fields[0]), _hex(fields[1])
    if manufacturer is None or device is None or not (0 < manufacturer < 0xFE and 0 < device < 0xFFFF):
        return _INVALID_ADDRESS
    return SetAddress(manufacturer << 16 | device)


def _config(args: str) -> Command:
    fields = [_hex(field) for field in args.split(",")]
    if len(fields) not in (2, 3):
        return _TOO_SHORT
    if any(field is None for field in fields):
        return _INCOMPATIBLE
    aircraft, online = fields[0], fields[1]
    ground = fields[2] if len(fields) == 3 else None
    if aircraft is None or online is None or aircraft > 7 or (ground is not None and ground > 15):
        return _INCOMPATIBLE
    return SetConfig(aircraft, online != 0, ground)


def _mode(args: str) -> Command:
    return SetMode(args[0] == "1") if args[0] in "01" else _INCOMPATIBLE


def _zone(args: str) -> Command:
    index = _decimal(args)
    return SetZone(index) if index in ZONES else _INCOMPATIBLE


def _power(args: str) -> Command:
    value = _decimal(args)
    return SetRadioPower(value != 0) if value is not None else _UNKNOWN_PARAMETER


def _region(args: str) -> Command:
    fields = args.split(",")
    if len(fields) != 2:
        return _TOO_FEW_PARAMETERS
    frequency, power = _decimal(fields[0]), _decimal(fields[1])
    if frequency not in _FREQUENCIES_MHZ or power is None or not 2 <= power <= 20:
        return _UNKNOWN_PARAMETER
    return SetRegion(frequency, power)


def _state(args: str) -> Command:
    fields = args.split(",")
    if len(fields) < 6:
        return _TOO_SHORT
    try:
        values = [float(field) for field in fields[:6]]
    except ValueError:
        return _TOO_SHORT
    if not all(math.isfinite(value) for value in values):
        return _TOO_SHORT
    return SetState(*values)


def _transmit(args: str) -> Command:
    """``type,dest_m,dest_id,forward,ack,length,payload[,signature]``, all hex."""
    if any(char not in "0123456789ABCDEFabcdef," for char in args):
        return _BROKEN
    fields = args.split(",")
    if len(fields) not in (7, 8):
        return _TOO_SHORT
    numbers = [_hex(field) for field in fields[:6]]
    signature = _hex(fields[7]) if len(fields) == 8 else None
    if any(number is None for number in numbers) or (len(fields) == 8 and signature is None):
        return _BROKEN
    frame_type, dest_m, dest_id, forward, ack, length = (number or 0 for number in numbers)
    if length > MAX_TX_PAYLOAD:
        return _TOO_LONG
    if frame_type > 0x3F or dest_m > 0xFF or dest_id > 0xFFFF:
        return _INCOMPATIBLE
    digits = fields[6]
    if len(digits) < 2 * length or not _HEX_PAYLOAD.fullmatch(digits[: 2 * length]):
        return _TOO_SHORT
    dest = dest_m << 16 | dest_id
    return Transmit(
        frame_type, dest or None, forward != 0, ack != 0, bytes.fromhex(digits[: 2 * length]), signature
    )


def _jump(args: str) -> Command:
    return _JUMP


def _pps(args: str) -> Command:
    return Pps()


_PARSERS = {
    "FNA": _address,
    "FNC": _config,
    "FNM": _mode,
    "FNZ": _zone,
    "FNS": _state,
    "FNT": _transmit,
    "DGP": _power,
    "DGL": _region,
    "DGJ": _jump,
    "DGS": _pps,
}
