"""Splitting the byte stream into lines: terminators, bootloader noise, over-long lines, any split."""

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from fanet.firmware_bridge import (
    MAX_LINE_LENGTH,
    Event,
    FrameReceived,
    LineTooLong,
    MalformedLine,
    ModuleBooted,
    ModuleConnection,
    Noise,
    ReplyFamily,
    ReplyOk,
    UnknownLine,
)

DATA = Path(__file__).parent.parent / "data"
REAL_LINES = [json.loads(line)["line"] for line in (DATA / "module-lines.jsonl").read_text().splitlines()]
REAL_LINES += (DATA / "module-replies.txt").read_text().splitlines()


def events_of(*chunks: bytes, max_line_length: int = MAX_LINE_LENGTH) -> list[Event]:
    conn = ModuleConnection(max_line_length=max_line_length)
    for chunk in chunks:
        conn.receive_data(chunk, 0.0)
    return list(conn.events())


def test_crlf_and_lf_give_the_same_events() -> None:
    assert events_of(b"#FNR OK\r\n#DGR OK\r\n") == events_of(b"#FNR OK\n#DGR OK\n")
    assert events_of(b"#FNR OK\n") == [ReplyOk(ReplyFamily.FANET)]


def test_a_line_waits_for_its_newline() -> None:
    conn = ModuleConnection()
    conn.receive_data(b"#FNR O", 0.0)
    assert conn.next_event() is None
    conn.receive_data(b"K\r", 0.0)
    assert conn.next_event() is None
    conn.receive_data(b"\n", 0.0)
    assert conn.next_event() == ReplyOk(ReplyFamily.FANET)


def test_bootloader_noise_before_a_line_is_reported_then_the_line() -> None:
    assert events_of(b"CCCCCC#FNR MSG,1,initialized\n") == [Noise(b"CCCCCC"), ModuleBooted()]


def test_noise_on_its_own_line_and_empty_lines() -> None:
    assert events_of(b"CCC\n\r\n\n\xff\xfe\n") == [Noise(b"CCC"), Noise(b"\xff\xfe")]


def test_a_line_cut_short_by_a_reset_does_not_swallow_the_next() -> None:
    events = events_of(b"#FNF 11,D,1,0,7,7,861A", b"CCC#FNR MSG,1,initialized\r\n")
    assert isinstance(events[0], MalformedLine)
    assert events[1:] == [ModuleBooted()]


def test_hash_without_a_capital_letter_does_not_start_a_line() -> None:
    assert events_of(b"### rx: 'x#y'\n") == [Noise(b"### rx: 'x#y'")]
    assert events_of(b"#XYZ a#b\n") == [UnknownLine("#XYZ a#b")]


def test_over_long_line_is_dropped_reported_once_and_resynced_at_the_newline() -> None:
    garbage = b"#FNF " + b"A" * 300
    events = events_of(garbage[:100], garbage[100:], b"#FNR OK\n", b"#DGR OK\n", max_line_length=256)
    assert events == [LineTooLong(256, garbage[:32]), ReplyOk(ReplyFamily.DONGLE)]


def test_line_length_limit_is_exact_and_allows_a_carriage_return() -> None:
    line = b"#DGV " + b"x" * 251  # 256 bytes
    assert events_of(line + b"\r\n", max_line_length=256)[0] == parse_ok(line)
    assert isinstance(events_of(line + b"y\n", max_line_length=256)[0], LineTooLong)
    assert isinstance(events_of(line + b"\r\r\n", max_line_length=256)[0], LineTooLong)


def parse_ok(line: bytes) -> Event:
    return events_of(line + b"\n")[0]


def test_default_limit_takes_the_longest_frame_the_module_can_print() -> None:
    payload = "AB" * 251
    line = f"#FNF FF,FFFF,1,FFFFFFFF,3F,FB,{payload},FF,FFFF,3".encode()
    (event,) = events_of(line + b"\r\n")
    assert isinstance(event, FrameReceived)
    assert event.raw.endswith(bytes.fromhex(payload))


def test_garbage_flood_without_newlines_stays_bounded() -> None:
    conn = ModuleConnection(max_line_length=256)
    for _ in range(1000):
        conn.receive_data(b"\x00" * 1024, 0.0)
    assert list(conn.events()) == [LineTooLong(256, b"\x00" * 32)]
    conn.receive_data(b"\n#FNR OK\n", 0.0)
    assert list(conn.events()) == [ReplyOk(ReplyFamily.FANET)]


STREAM_PARTS = st.lists(
    st.one_of(
        st.sampled_from(REAL_LINES).map(lambda line: line.encode() + b"\n"),
        st.sampled_from(REAL_LINES).map(lambda line: line.encode() + b"\r\n"),
        st.sampled_from([b"CCCC", b"C", b"\x00\xff", b"\r\n", b"\n", b"#", b"$", b"x" * 300]),
    ),
    max_size=25,
)


@settings(max_examples=300)
@given(STREAM_PARTS, st.data())
def test_any_split_of_a_stream_gives_the_same_events(parts: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(parts)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=20)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    assert events_of(*chunks, max_line_length=256) == events_of(stream, max_line_length=256)
    assert events_of(*(bytes([b]) for b in stream), max_line_length=256) == events_of(
        stream, max_line_length=256
    )
