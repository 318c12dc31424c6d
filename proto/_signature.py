"""The symmetric frame signature: SHA-1 over pseudo header, payload and a pre-shared key.

The pseudo header is byte 0 with bits 7 (extended header) and 6 (forward) cleared, then the three
source-address bytes; the signature is the digest's first four bytes read as a little-endian u32,
which is what the extended header carries (Skytraxx's remote-configuration convention). The payload
is every byte after the headers, as sent, so verification works on the received bytes rather than on
a re-encoding of the decoded values.
"""

import hashlib
import hmac

from fanet.proto._frame import Frame, decode_frame, encode_header, encode_payload, header_length


def compute_signature(frame_type: int, source: int, payload: bytes, key: bytes) -> int:
    pseudo_header = encode_header(frame_type, source)
    digest = hashlib.sha1(pseudo_header + payload + key, usedforsecurity=False).digest()
    return int.from_bytes(digest[:4], "little")


def sign(frame: Frame, key: bytes) -> Frame:
    """The same frame carrying the signature of what ``encode_frame`` will send."""
    payload = encode_payload(frame.payload) + frame.trailing
    return frame._replace(signature=compute_signature(frame.type, frame.source, payload, key))


def verify_signature(raw: bytes, key: bytes) -> bool:
    """True when the raw frame carries a signature that matches ``key``.

    Raises :class:`FrameError` when ``raw`` is not a frame.
    """
    frame = decode_frame(raw)
    if frame.signature is None:
        return False
    expected = compute_signature(frame.type, frame.source, bytes(raw[header_length(raw) :]), key)
    return hmac.compare_digest(expected.to_bytes(4, "little"), frame.signature.to_bytes(4, "little"))
