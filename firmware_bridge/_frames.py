"""Received-frame lines (``#FNF`` and SoftRF's ``$PSRFI``) → :class:`FrameReceived` with raw FANET bytes.

The stock module does not print the frame it received but its fields; the raw frame is rebuilt with
the codec's ``encode_header``. What the line does not carry cannot be rebuilt: the forward bit
(left 0), the ACK request (left 0; the module answers it itself) and, until the module has told us
its address, the destination of a frame addressed to us.
"""

from functools import reduce

from fanet.firmware_bridge._events import Dialect, FrameReceived
from fanet.firmware_bridge._fields import (
    Malformed,
    decimal_field,
    hex_bytes,
    hex_field,
    split_fields,
)
from fanet.proto import FrameError, decode_frame, encode_header, header_length

_EXT_UNICAST = 0x20
_EXT_SIGNATURE = 0x10


def parse_fnf(args: str, own_address: int | None) -> FrameReceived:
    """``src_m,src_id,broadcast,signature,type,length,payload[,dest_m,dest_id,ack]`` (all hex)."""
    fields = split_fields(args, (7, 10), "#FNF")
    source = hex_field("src_manufacturer", fields[0], 0xFF) << 16 | hex_field("src_id", fields[1], 0xFFFF)
    if fields[2] not in ("0", "1"):
        raise Malformed(f"broadcast: must be 0 or 1, got {fields[2]!r}")
    signature = hex_field("signature", fields[3], 0xFFFFFFFF) or None
    frame_type = hex_field("type", fields[4], 0x3F)
    length = hex_field("payload_length", fields[5], 0xFF)
    payload = hex_bytes("payload", fields[6])
    if len(payload) != length:
        raise Malformed(f"payload: {length} bytes announced, {len(payload)} given")
    if len(fields) == 10:
        dest_manufacturer = hex_field("dest_manufacturer", fields[7], 0xFF)
        dest = (dest_manufacturer << 16 | hex_field("dest_id", fields[8], 0xFFFF)) or None
        ack = hex_field("ack_requested", fields[9], 3)
        broadcast = dest is None
        dialect = Dialect.PROMISCUOUS
    else:
        broadcast = fields[2] == "1"
        dest = None if broadcast else own_address
        ack = 0
        dialect = Dialect.MODULE
    raw = encode_header(frame_type, source, ack=ack, dest=dest, signature=signature) + payload
    return FrameReceived(raw, source, dest, broadcast, signature, frame_type, dialect)


def parse_psrfi(line: str) -> FrameReceived:
    """``$PSRFI,<unix time>,<raw frame hex>,<rssi>`` with an optional NMEA ``*hh`` checksum."""
    body, star, checksum = line[1:].partition("*")
    if star:
        expected = reduce(lambda sum_, char: sum_ ^ ord(char), body, 0)
        if len(checksum) != 2 or hex_field("checksum", checksum, 0xFF) != expected:
            raise Malformed(f"checksum: {checksum!r} given, {expected:02X} computed")
    fields = split_fields(body, (4,), "$PSRFI")
    unix_time = decimal_field("time", fields[1], 0, 0xFFFFFFFF)
    raw = hex_bytes("frame", fields[2])
    rssi = decimal_field("rssi", fields[3], -255, 255)
    if len(raw) < 4 or (raw[0] & 0x80 and (len(raw) < 5 or len(raw) < header_length(raw))):
        raise Malformed(f"frame: header truncated ({len(raw)} bytes)")
    source, dest, signature = _header_addresses(raw)
    return FrameReceived(
        raw,
        source,
        dest,
        dest is None,
        signature,
        raw[0] & 0x3F,
        Dialect.SOFTRF,
        rssi_dbm=rssi,
        unix_time=unix_time,
        padding=_padding(raw),
    )


def _header_addresses(raw: bytes) -> tuple[int, int | None, int | None]:
    """Source, destination and signature from a complete header (manufacturer first, id little endian)."""
    source = raw[1] << 16 | raw[3] << 8 | raw[2]
    if not raw[0] & 0x80:
        return source, None, None
    ext = raw[4]
    dest = raw[5] << 16 | raw[7] << 8 | raw[6] if ext & _EXT_UNICAST else None
    offset = 8 if ext & _EXT_UNICAST else 5
    signature = int.from_bytes(raw[offset : offset + 4], "little") if ext & _EXT_SIGNATURE else None
    return source, dest, signature


def _padding(raw: bytes) -> int:
    """The most trailing NUL bytes that can go with the frame still decoding (0 if none can)."""
    zeros = len(raw) - len(raw.rstrip(b"\0"))
    floor = header_length(raw)
    for count in range(min(zeros, len(raw) - floor), 0, -1):
        try:
            decode_frame(raw[:-count])
        except FrameError:
            continue
        return count
    return 0
