"""Serial captures: time-stamped chunks of a serial line, both directions, every byte kept.

A capture is a JSON Lines file. The first line is the header::

    {"format": "fanet-serial-capture", "version": 1, "created": "2024-06-16T13:53:00Z",
     "source": "serial:/dev/ttyUSB0", "baud": 115200, ...more keys, kept as they are}

then one line per chunk, in time order, exactly as the bytes were read or written::

    {"t": 0.123456, "dir": "rx", "data": "#FNF 11,D,1,0,2,3,616263\\n"}
    {"t": 0.130001, "dir": "rx", "hex": "ff00"}

``t`` is seconds since the start of the capture; ``dir`` is ``rx`` (module → host) or ``tx`` (host →
module). A chunk of ASCII bytes is stored as text in ``data`` (JSON escapes control characters, so
``\\n``, ``\\r`` and ``\\u0000`` show up as such); any other chunk as lower-case hex in ``hex``.
Chunks are never merged or split: a line cut in two by a read stays two chunks.

Pure apart from the file object it is handed: the writer writes one line a chunk and flushes it, so a
capture cut short by a crash or unplug is still readable up to its last chunk.
"""

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TextIO

FORMAT = "fanet-serial-capture"
VERSION = 1
_HEADER_KEYS = ("format", "version", "created", "source", "baud")


class CaptureError(ValueError):
    """A capture that cannot be read: names the file (or ``<stream>``), the line and what is wrong."""

    def __init__(self, where: str, line: int, reason: str) -> None:
        super().__init__(f"{where}:{line}: {reason}")
        self.where = where
        self.line = line
        self.reason = reason


class Direction(StrEnum):
    RX = "rx"
    """Module → host: what the host read from the port."""
    TX = "tx"
    """Host → module: what the host wrote to the port."""


@dataclass(frozen=True, slots=True)
class Chunk:
    t: float
    """Seconds since the start of the capture."""
    direction: Direction
    data: bytes


@dataclass(frozen=True, slots=True)
class CaptureHeader:
    created: str
    """When recording started, ISO 8601 UTC (for a simulation: the simulated start)."""
    source: str
    """Where the bytes came from: ``serial:/dev/ttyUSB0``, ``tee:…``, ``fanet simulate …``."""
    baud: int = 115200
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Any further header keys (a simulation's expected counts, a duration …), kept in order."""
    version: int = VERSION


@dataclass(frozen=True, slots=True)
class Capture:
    header: CaptureHeader
    chunks: tuple[Chunk, ...]

    def data(self, direction: Direction) -> bytes:
        """All bytes of one direction, joined."""
        return b"".join(chunk.data for chunk in self.chunks if chunk.direction is direction)


def encode_header(header: CaptureHeader) -> str:
    clash = set(_HEADER_KEYS).intersection(header.extra)
    if clash:
        raise ValueError(f"header extra keys {sorted(clash)} would replace the format's own")
    record: dict[str, Any] = {
        "format": FORMAT,
        "version": header.version,
        "created": header.created,
        "source": header.source,
        "baud": header.baud,
    }
    record.update(header.extra)
    return json.dumps(record, ensure_ascii=False)


def decode_header(line: str, where: str = "<stream>") -> CaptureHeader:
    record = _object(line, where, 1)
    if record.get("format") != FORMAT:
        raise CaptureError(where, 1, f"not a capture: format is {record.get('format')!r}, not {FORMAT!r}")
    if record.get("version") != VERSION:
        raise CaptureError(
            where, 1, f"capture version {record.get('version')!r}; this reader knows {VERSION}"
        )
    created, source, baud = record.get("created"), record.get("source"), record.get("baud")
    if not isinstance(created, str) or not isinstance(source, str):
        raise CaptureError(where, 1, "header: 'created' and 'source' must be strings")
    if not isinstance(baud, int) or isinstance(baud, bool) or baud <= 0:
        raise CaptureError(where, 1, f"header: 'baud' must be a positive integer, got {baud!r}")
    extra = {key: value for key, value in record.items() if key not in _HEADER_KEYS}
    return CaptureHeader(created=created, source=source, baud=baud, extra=extra)


def encode_chunk(chunk: Chunk) -> str:
    """One chunk as its JSON line (no newline); ``t`` is kept to the microsecond."""
    if not (math.isfinite(chunk.t) and chunk.t >= 0):
        raise ValueError(f"chunk time must be a finite number of seconds >= 0, got {chunk.t!r}")
    record: dict[str, Any] = {"t": round(chunk.t, 6), "dir": chunk.direction.value}
    if chunk.data.isascii():
        record["data"] = chunk.data.decode("ascii")
    else:
        record["hex"] = chunk.data.hex()
    return json.dumps(record)


def decode_chunk(line: str, where: str = "<stream>", number: int = 0) -> Chunk:
    record = _object(line, where, number)
    t = record.get("t")
    if not isinstance(t, (int, float)) or isinstance(t, bool) or not math.isfinite(t) or t < 0:
        raise CaptureError(where, number, f"'t' must be seconds >= 0, got {t!r}")
    if record.get("dir") not in ("rx", "tx"):
        raise CaptureError(where, number, f"'dir' must be 'rx' or 'tx', got {record.get('dir')!r}")
    direction = Direction(record["dir"])
    if ("data" in record) == ("hex" in record):
        raise CaptureError(where, number, "a chunk has exactly one of 'data' and 'hex'")
    if "data" in record:
        text = record["data"]
        if not isinstance(text, str) or not text.isascii():
            raise CaptureError(where, number, "'data' must be ASCII text (other bytes go in 'hex')")
        data = text.encode("ascii")
    else:
        try:
            data = bytes.fromhex(record["hex"])
        except (TypeError, ValueError):
            raise CaptureError(where, number, f"'hex' is not hex: {str(record['hex'])[:40]!r}") from None
    return Chunk(float(t), direction, data)


def iter_chunks(stream: TextIO, where: str = "<stream>") -> Iterator[Chunk]:
    """The chunks after the header line, which the caller has read; times must not go backwards."""
    last = 0.0
    for number, line in enumerate(stream, start=2):
        if not line.strip():
            continue
        chunk = decode_chunk(line, where, number)
        if chunk.t < last:
            raise CaptureError(where, number, f"time goes backwards: {chunk.t} after {last}")
        last = chunk.t
        yield chunk


def read_capture(source: Path | TextIO) -> Capture:
    """A whole capture. Raises :class:`CaptureError` (and ``OSError`` for a file that cannot be opened)."""
    if isinstance(source, Path):
        with source.open(encoding="utf-8") as stream:
            return _read(stream, str(source))
    return _read(source, getattr(source, "name", "<stream>"))


def _read(stream: TextIO, where: str) -> Capture:
    first = stream.readline()
    if not first:
        raise CaptureError(where, 1, "empty file: no header")
    header = decode_header(first, where)
    return Capture(header, tuple(iter_chunks(stream, where)))


def _object(line: str, where: str, number: int) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise CaptureError(where, number, f"not JSON: {error.msg}") from None
    if not isinstance(record, dict):
        raise CaptureError(where, number, "not a JSON object")
    return record


class CaptureWriter:
    """Writes a capture to a text stream, one flushed line per chunk; usable as a context manager."""

    def __init__(self, stream: TextIO, header: CaptureHeader) -> None:
        self._stream = stream
        self._last = 0.0
        self.chunks = 0
        stream.write(encode_header(header) + "\n")
        stream.flush()

    @classmethod
    def create(cls, path: Path, header: CaptureHeader) -> "CaptureWriter":
        """A new file at ``path`` (replacing one that is there); closing the writer closes it."""
        return cls(path.open("w", encoding="utf-8", newline="\n"), header)

    def write(self, chunk: Chunk) -> None:
        """Append one chunk; a chunk older than the one before it raises ``ValueError``."""
        if chunk.t < self._last:
            raise ValueError(f"chunk at {chunk.t} s is older than the previous one at {self._last} s")
        self._stream.write(encode_chunk(chunk) + "\n")
        self._stream.flush()
        self._last = chunk.t
        self.chunks += 1

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
