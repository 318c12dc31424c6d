"""Protobuf wire pieces for bodies assembled from pre-encoded messages (no message object per list).

The REST lists and the WebSocket batches are built by joining each object's cached encoding behind its
field tag and length, which is what protobuf itself writes for a repeated message field; only the
varint needs code, and protobuf's own encoder for it is internal API.
"""

_ONE_BYTE = [bytes((value,)) for value in range(0x80)]


def varint(value: int) -> bytes:
    """An integer as a protobuf varint (negative ones as int64 encodes them: ten bytes)."""
    if 0 <= value < 0x80:  # the lengths of updates and of most batches: every batch needs a few
        return _ONE_BYTE[value]
    if 0x80 <= value < 0x4000:
        return bytes((value & 0x7F | 0x80, value >> 7))
    if value < 0:
        value += 1 << 64
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)
