"""The spool's bytes on disk: records, the cursor, segment names. Pure: bytes in, values out.

- A segment is a file named ``<first seq, 20 digits>.seg`` holding records with consecutive seqs.
- A record is ``crc32 u32 LE | length u32 LE | seq u64 LE | payload``; the CRC covers length, seq and
  payload (16 bytes of overhead on a wrapped frame of 20–40 bytes).
- The cursor file is ``b"FNSC" | acked seq u64 LE | crc32 u32 LE`` of the first 12 bytes.

``valid_prefix`` is what recovery trusts: the records from the start of a segment up to the first one
that is torn (cut short, zero-filled, a bad CRC) or out of sequence.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator

MAX_PAYLOAD = 4096
"""Larger than any wrapped FANET frame (8 + 255 bytes); a length beyond it marks a corrupt record."""
SEGMENT_SUFFIX = ".seg"
CURSOR_NAME = "cursor"

HEADER = struct.Struct("<IIQ")  # crc, length, seq
_BODY_HEADER = struct.Struct("<IQ")  # what the CRC covers first: length, seq
_CURSOR = struct.Struct("<4sQI")
_CURSOR_MAGIC = b"FNSC"


def encode_record(seq: int, payload: bytes) -> bytes:
    body = _BODY_HEADER.pack(len(payload), seq) + payload
    return zlib.crc32(body).to_bytes(4, "little") + body


def valid_prefix(data: bytes, first_seq: int) -> tuple[int, int]:
    """``(bytes, next seq)`` of the run of intact records at the start of ``data``, numbered from ``first_seq``."""
    offset, seq = 0, first_seq
    view = memoryview(data)
    while offset + HEADER.size <= len(data):
        crc, length, record_seq = HEADER.unpack_from(data, offset)
        end = offset + HEADER.size + length
        if (
            length > MAX_PAYLOAD
            or end > len(data)
            or record_seq != seq
            or zlib.crc32(view[offset + 4 : end]) != crc
        ):
            break
        offset, seq = end, seq + 1
    return offset, seq


def iter_records(data: bytes) -> Iterator[tuple[int, int, bytes]]:
    """``(end offset, seq, payload)`` of each whole record in ``data`` (already validated: no CRC check)."""
    offset = 0
    while offset + HEADER.size <= len(data):
        _, length, seq = HEADER.unpack_from(data, offset)
        end = offset + HEADER.size + length
        if end > len(data):
            return
        yield end, seq, data[offset + HEADER.size : end]
        offset = end


def encode_cursor(acked: int) -> bytes:
    head = _CURSOR.pack(_CURSOR_MAGIC, acked, 0)[:12]
    return head + zlib.crc32(head).to_bytes(4, "little")


def decode_cursor(data: bytes) -> int | None:
    """The acknowledged seq, or ``None`` for anything but an intact cursor."""
    if len(data) != _CURSOR.size:
        return None
    magic, acked, crc = _CURSOR.unpack(data)
    if magic != _CURSOR_MAGIC or zlib.crc32(data[:12]) != crc:
        return None
    return int(acked)


def segment_name(first_seq: int) -> str:
    return f"{first_seq:020d}{SEGMENT_SUFFIX}"


def segment_base(name: str) -> int | None:
    """The first seq a segment's file name announces; ``None`` when it is not one of ours."""
    stem = name.removesuffix(SEGMENT_SUFFIX)
    if stem == name or len(stem) != 20 or not stem.isdigit() or int(stem) < 1:
        return None
    return int(stem)
