"""One module line → one event. Pure: :func:`parse_line` never raises, whatever the text.

Module lines are a four-character tag, a space and comma-separated arguments (``#FNR ERR,14,tx
buffer full``); SoftRF's are NMEA-like sentences (``$PSRFI,…``). Formats follow the firmware's
``serial_interface.cpp``: numbers in replies are ``%d``, addresses and frame fields ``%X``.
"""

from fanet.firmware_bridge._events import (
    Address,
    Event,
    ExtraLine,
    MalformedLine,
    ModuleBooted,
    ModuleMessage,
    RadioPower,
    Region,
    ReplyError,
    ReplyFamily,
    ReplyOk,
    TransmitAck,
    UnknownLine,
    Version,
)
from fanet.firmware_bridge._fields import Malformed, decimal_field, hex_field, split_fields
from fanet.firmware_bridge._frames import parse_fnf, parse_psrfi

_FAMILIES = {family.value: family for family in ReplyFamily}
_EXTRA_KINDS = frozenset({"FAO", "FAX", "FAP", "DBR"})
"""FANET+ lines: FLARM objects, FLARM expiry date, FLARM power state, and ``#DBR``."""
_BOOTED = 1


def parse_line(line: str, own_address: int | None = None) -> Event:
    """Parse one line (from its ``#``/``$``, without the newline).

    ``own_address`` is the module's address, the destination of a ``#FNF`` frame addressed to us.
    A line that does not parse becomes :class:`MalformedLine` (a known kind) or :class:`UnknownLine`.
    """
    try:
        return _parse(line, own_address)
    except Malformed as error:
        return MalformedLine(line, error.reason)


def _parse(line: str, own_address: int | None) -> Event:
    if line.startswith("$"):
        return parse_psrfi(line) if line.startswith("$PSRFI,") else UnknownLine(line)
    tag, _, args = line.partition(" ")
    if len(tag) != 4:
        return UnknownLine(line)
    if tag == "#FNF":
        return parse_fnf(args, own_address)
    family = _FAMILIES.get(tag[1:3])
    if family is not None and tag[3] == "R":
        return _parse_reply(family, args, line)
    if tag == "#DGV":
        if not args:
            raise Malformed("version: empty")
        return Version(args)
    if tag == "#FNA":
        manufacturer, device = split_fields(args, (2,), "#FNA")
        return Address(hex_field("manufacturer", manufacturer, 0xFF) << 16 | hex_field("id", device, 0xFFFF))
    if tag == "#DGP":
        return RadioPower(hex_field("power", args, 1) == 1)
    if tag == "#FNZ":
        index, name = split_fields(args, (2,), "#FNZ")
        return Region(decimal_field("zone", index, -1, 255), name)
    if tag[1:] in _EXTRA_KINDS:
        return ExtraLine(tag[1:], tuple(args.split(",")) if args else (), line)
    return UnknownLine(line)


def _parse_reply(family: ReplyFamily, args: str, line: str) -> Event:
    """``OK`` | ``ERR,<code>,<text>`` | ``MSG,<code>,<text>`` | ``ACK,<m>,<id>`` | ``NACK,<m>,<id>``."""
    kind, _, rest = args.partition(",")
    if kind == "OK":
        if rest:
            raise Malformed(f"OK reply: unexpected arguments {rest!r}")
        return ReplyOk(family)
    if kind in ("ERR", "MSG"):
        code_text, _, text = rest.partition(",")
        code = decimal_field("code", code_text, 0, 9999)
        if kind == "ERR":
            return ReplyError(family, code, text)
        if family is ReplyFamily.FANET and code == _BOOTED:
            return ModuleBooted(family, code, text)
        return ModuleMessage(family, code, text)
    if kind in ("ACK", "NACK") and family is ReplyFamily.FANET:
        manufacturer, device = split_fields(rest, (2,), f"#FNR {kind}")
        dest = hex_field("manufacturer", manufacturer, 0xFF) << 16 | hex_field("id", device, 0xFFFF)
        return TransmitAck(dest, kind == "ACK")
    return UnknownLine(line)
