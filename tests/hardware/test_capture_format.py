"""The capture format: every byte survives a round trip, the file stays readable, bad files are named."""

import io
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fanet.hardware import (
    CaptureError,
    CaptureHeader,
    CaptureWriter,
    Chunk,
    Direction,
    decode_chunk,
    encode_chunk,
    read_capture,
)

HEADER = CaptureHeader(created="2025-06-07T10:00:00Z", source="serial:/dev/ttyUSB0", extra={"note": "ü"})
CHUNKS = [
    Chunk(0.0, Direction.RX, b"CC"),  # bootloader noise, no newline
    Chunk(0.0125, Direction.RX, b"#FNR MSG,1,initialized\r\n#FNF 11,D,1,0,2,3,6162"),  # a cut line
    Chunk(0.0126, Direction.RX, b"63\n"),
    Chunk(0.5, Direction.TX, b"#DGV\n"),
    Chunk(0.75, Direction.RX, b"\xff\x00\xfe garbage \x80\n"),  # not UTF-8
    Chunk(1.000001, Direction.RX, b"\x00\x1b\t\x7f"),  # ASCII control characters
    Chunk(2.0, Direction.RX, b""),
]


def test_round_trip_keeps_every_byte_and_chunk_boundary(tmp_path: Path) -> None:
    path = tmp_path / "capture.jsonl"
    with CaptureWriter.create(path, HEADER) as writer:
        for chunk in CHUNKS:
            writer.write(chunk)
    capture = read_capture(path)
    assert capture.header == HEADER
    assert list(capture.chunks) == CHUNKS
    assert capture.data(Direction.TX) == b"#DGV\n"


def test_ascii_is_text_and_other_bytes_are_hex(tmp_path: Path) -> None:
    path = tmp_path / "capture.jsonl"
    with CaptureWriter.create(path, HEADER) as writer:
        for chunk in CHUNKS:
            writer.write(chunk)
    lines = path.read_text(encoding="utf-8").splitlines()
    header = json.loads(lines[0])
    assert header["format"] == "fanet-serial-capture"
    assert header["version"] == 1
    assert header["baud"] == 115200
    assert lines[3] == '{"t": 0.0126, "dir": "rx", "data": "63\\n"}'
    assert lines[5] == '{"t": 0.75, "dir": "rx", "hex": "ff00fe206761726261676520800a"}'
    assert json.loads(lines[6]) == {"t": 1.000001, "dir": "rx", "data": "\x00\x1b\t\x7f"}


@given(
    st.lists(
        st.tuples(st.floats(0, 1e6, allow_nan=False), st.sampled_from(Direction), st.binary(max_size=300)),
        max_size=20,
    )
)
def test_any_bytes_round_trip(records: list[tuple[float, Direction, bytes]]) -> None:
    stream = io.StringIO()
    writer = CaptureWriter(stream, HEADER)
    chunks = []
    for t, direction, data in sorted(records, key=lambda record: record[0]):
        chunk = Chunk(round(t, 6), direction, data)
        writer.write(chunk)
        chunks.append(chunk)
    stream.seek(0)
    assert list(read_capture(stream).chunks) == chunks


def test_the_writer_flushes_each_chunk(tmp_path: Path) -> None:
    path = tmp_path / "capture.jsonl"
    writer = CaptureWriter.create(path, HEADER)
    writer.write(CHUNKS[0])
    assert read_capture(path).chunks == (CHUNKS[0],)  # readable while still open, as after a crash
    writer.close()


def test_writer_refuses_time_going_backwards() -> None:
    writer = CaptureWriter(io.StringIO(), HEADER)
    writer.write(Chunk(1.0, Direction.RX, b"a"))
    with pytest.raises(ValueError, match="older"):
        writer.write(Chunk(0.5, Direction.RX, b"b"))


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("", 1, "empty file"),
        ('{"format": "other", "version": 1}\n', 1, "not a capture"),
        ('{"format": "fanet-serial-capture", "version": 2}\n', 1, "version 2"),
        (
            '{"format": "fanet-serial-capture", "version": 1, "created": "x", "source": "y", "baud": 0}\n',
            1,
            "baud",
        ),
        (
            'HEADER\n{"t": 1, "dir": "rx", "data": "a"}\n{"t": 0.5, "dir": "rx", "data": "b"}\n',
            3,
            "backwards",
        ),
        ('HEADER\n{"t": 1, "dir": "up", "data": "a"}\n', 2, "'dir'"),
        ('HEADER\n{"t": 1, "dir": "rx", "data": "a", "hex": "62"}\n', 2, "exactly one"),
        ('HEADER\n{"t": 1, "dir": "rx", "hex": "6"}\n', 2, "not hex"),
        ('HEADER\n{"t": 1, "dir": "rx", "data": "é"}\n', 2, "ASCII"),
        ('HEADER\n{"t": -1, "dir": "rx", "data": "a"}\n', 2, "'t'"),
        ("HEADER\n[1, 2]\n", 2, "not a JSON object"),
        ("HEADER\n{oops\n", 2, "not JSON"),
    ],
)
def test_bad_captures_name_the_line_and_the_fault(text: str, line: int, message: str) -> None:
    header = '{"format": "fanet-serial-capture", "version": 1, "created": "x", "source": "y", "baud": 115200}'
    stream = io.StringIO(text.replace("HEADER", header))
    with pytest.raises(CaptureError, match=message) as info:
        read_capture(stream)
    assert info.value.line == line


def test_header_extra_cannot_replace_the_format_keys() -> None:
    with pytest.raises(ValueError, match="baud"):
        CaptureWriter(io.StringIO(), CaptureHeader("x", "y", extra={"baud": 9600}))


def test_chunk_times_keep_microseconds() -> None:
    line = encode_chunk(Chunk(12.3456789, Direction.TX, b"#DGP 1\n"))
    assert decode_chunk(line) == Chunk(12.345679, Direction.TX, b"#DGP 1\n")
