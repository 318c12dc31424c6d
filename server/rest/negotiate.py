"""Content negotiation: protobuf or JSON by ``Accept``, gzip by ``Accept-Encoding``, ETags.

``Accept: application/x-protobuf`` (preferred over JSON by its quality) gets the contract's protobuf
message; anything else gets its JSON mirror. Bodies of at least ``gzip_min_bytes`` are gzipped when the
client accepts gzip — large ones in a worker thread (zlib releases the GIL), so one big response does
not stall the event loop. ETags are weak (``W/"…"``): a hash of the uncompressed body of that format,
so the gzipped and the plain body share it, and ``If-None-Match`` uses the weak comparison HTTP
prescribes for it.
"""

import hashlib
import zlib
from dataclasses import dataclass

import trio
from quart import Response
from werkzeug.datastructures import MIMEAccept
from werkzeug.datastructures.accept import Accept

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
PROTOBUF_TYPES = (PROTOBUF, "application/protobuf", "application/vnd.google.protobuf")
"""What clients send for protobuf; answered with ``application/x-protobuf`` (the contract's name)."""

THREAD_GZIP_BYTES = 256 * 1024
_gzip_limiter = trio.CapacityLimiter(2)


def wants_protobuf(accept: MIMEAccept) -> bool:
    """Whether the client prefers protobuf to JSON (JSON wins ties, e.g. ``*/*``)."""
    best = accept.best_match([JSON, *PROTOBUF_TYPES], default=JSON)
    return best in PROTOBUF_TYPES


def accepts_gzip(accept_encoding: Accept) -> bool:
    return accept_encoding["gzip"] > 0  # the quality of gzip, or of "*" when gzip is not named


def weak_etag(body: bytes) -> str:
    return 'W/"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """``If-None-Match`` against our ETag, by weak comparison (``*`` matches any)."""
    if not if_none_match:
        return False
    opaque = etag.removeprefix("W/")
    for entry in if_none_match.split(","):
        candidate = entry.strip()
        if candidate == "*" or candidate.removeprefix("W/") == opaque:
            return True
    return False


@dataclass(frozen=True, slots=True)
class Negotiated:
    """What the request asked for, read once from its headers."""

    protobuf: bool
    gzip: bool
    if_none_match: str | None = None

    @property
    def content_type(self) -> str:
        return PROTOBUF if self.protobuf else JSON


async def encoded_response(
    body: bytes,
    negotiated: Negotiated,
    *,
    gzip_min_bytes: int,
    gzip_level: int,
    etag: bool = False,
    status: int = 200,
) -> Response:
    """The response for an encoded body: 304 when the ETag matches, gzipped when worth it."""
    headers = {"Vary": "Accept, Accept-Encoding", "Cache-Control": "no-cache"}
    if etag:
        tag = headers["ETag"] = weak_etag(body)
        if etag_matches(negotiated.if_none_match, tag):
            return Response(b"", status=304, headers=headers)
    if negotiated.gzip and len(body) >= gzip_min_bytes:
        body = await _gzip(body, gzip_level)
        headers["Content-Encoding"] = "gzip"
    return Response(body, status=status, content_type=negotiated.content_type, headers=headers)


async def _gzip(body: bytes, level: int) -> bytes:
    if len(body) < THREAD_GZIP_BYTES:
        return gzip_bytes(body, level)
    return await trio.to_thread.run_sync(gzip_bytes, body, level, limiter=_gzip_limiter)


def gzip_bytes(body: bytes, level: int) -> bytes:
    """The gzip format (RFC 1952), without a file name or time stamp."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, 31)
    return compressor.compress(body) + compressor.flush()
