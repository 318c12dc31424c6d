"""Received-frame lines: real ``#FNF`` lines rebuild into frames that decode to the recorded values."""

import contextlib
import datetime
import json
from pathlib import Path
from typing import Any

import pytest

from fanet.firmware_bridge import Dialect, FrameReceived, MalformedLine, ModuleConnection, parse_line
from fanet.proto import AckMode, FrameError, decode_frame, encode_header

DATA = Path(__file__).parent.parent / "data"
RECORDS = [json.loads(line) for line in (DATA / "module-lines.jsonl").read_text().splitlines() if line]
VALID = [r for r in RECORDS if "malformed" not in r]
MALFORMED = [r for r in RECORDS if "malformed" in r and r["line"].startswith("#")]
HEADER_KEYS = {"type", "forward", "manufacturer", "id", "address"}


def frame_of(line: str, own_address: int | None = None) -> FrameReceived:
    event = parse_line(line, own_address)
    assert isinstance(event, FrameReceived), event
    return event


def assert_decodes_to(raw: bytes, expected: dict[str, Any]) -> None:
    frame = decode_frame(raw)
    header = {
        "type": frame.type,
        "forward": frame.forward,
        "manufacturer": frame.manufacturer,
        "id": frame.device_id,
        "address": frame.address,
    }
    for key, value in expected.items():
        got = header[key] if key in HEADER_KEYS else getattr(frame.payload, key)
        if isinstance(got, datetime.date):
            got = got.isoformat()
        if key in ("lat", "lon"):
            assert got == pytest.approx(value, abs=1e-5), key
        elif isinstance(value, float):
            assert got == pytest.approx(value, abs=1e-9), key
        else:
            assert got == value, key


@pytest.mark.parametrize("record", VALID, ids=[r["line"][:40] for r in VALID])
def test_real_fnf_line_rebuilds_a_frame_with_the_recorded_values(record: dict[str, Any]) -> None:
    event = frame_of(record["line"])
    fields = record["line"][5:].split(",")
    source = int(fields[0], 16) << 16 | int(fields[1], 16)
    assert event.source == source
    assert event.frame_type == int(fields[4], 16)
    assert event.raw.endswith(bytes.fromhex(fields[6]))
    assert event.dialect is Dialect.MODULE
    assert event.rssi_dbm is None
    if "expected" in record:
        assert_decodes_to(event.raw, record["expected"])
    else:  # the landmark record: decode what is there, or say why not, never anything worse
        assert event.raw == encode_header(5, source) + bytes.fromhex(fields[6])
        with contextlib.suppress(FrameError):
            decode_frame(event.raw)


@pytest.mark.parametrize("record", MALFORMED, ids=[r["malformed"] for r in MALFORMED])
def test_malformed_fnf_line_is_rejected_with_the_field_named(record: dict[str, Any]) -> None:
    event = parse_line(record["line"])
    assert isinstance(event, MalformedLine)
    assert event.line == record["line"]
    keyword = {"broadcast": "broadcast", "payload length": "announced", "non-hex": "non-hex"}
    assert any(word in record["malformed"] and hint in event.reason for word, hint in keyword.items())


def test_unicast_frame_gets_our_address_as_destination_once_known() -> None:
    line = "#FNF 11,1FE3,0,0,3,4,00596573"
    event = frame_of(line, own_address=0x11003F)
    assert (event.dest, event.broadcast) == (0x11003F, False)
    frame = decode_frame(event.raw)
    assert frame.dest == 0x11003F
    assert frame.payload.message == "Yes"


def test_unicast_frame_before_our_address_is_known_has_no_destination() -> None:
    event = frame_of("#FNF 11,1FE3,0,0,3,4,00596573")
    assert (event.dest, event.broadcast) == (None, False)
    assert event.raw == bytes.fromhex("0311E31F00596573")
    assert decode_frame(event.raw).dest is None


def test_connection_learns_its_address_from_fna_for_later_frames() -> None:
    conn = ModuleConnection()
    conn.receive_data(b"#FNF 11,1FE3,0,0,3,4,00596573\n#FNA 11,003F\n#FNF 11,1FE3,0,0,3,4,00596573\n", 0.0)
    frames = [e for e in conn.events() if isinstance(e, FrameReceived)]
    assert [f.dest for f in frames] == [None, 0x11003F]
    assert conn.address == 0x11003F


def test_signature_goes_into_the_extended_header() -> None:
    event = frame_of("#FNF 11,D,1,DEADBEEF,2,3,414243")
    assert event.signature == 0xDEADBEEF
    frame = decode_frame(event.raw)
    assert (frame.signature, frame.dest, frame.forward) == (0xDEADBEEF, None, False)
    assert event.raw == bytes.fromhex("82110D0010EFBEADDE414243")


def test_signature_and_destination_together() -> None:
    event = frame_of("#FNF 11,D,0,1,2,1,41", own_address=0xFB0102)
    assert event.raw == bytes.fromhex("82110D0030FB02010100000041")


def test_zero_padded_fields_and_lower_case_payload_are_accepted() -> None:
    assert frame_of("#FNF 011,000D,1,00,02,03,616263").raw == frame_of("#FNF 11,D,1,0,2,3,616263").raw


def test_empty_payload() -> None:
    event = frame_of("#FNF 11,D,1,0,3F,0,")
    assert event.raw == bytes.fromhex("3F110D00")


@pytest.mark.parametrize(
    ("line", "hint"),
    [
        ("#FNF 11,D,1,0,2,3", "fields"),
        ("#FNF 11,D,1,0,2,3,616263,1", "fields"),
        ("#FNF 100,D,1,0,2,3,616263", "src_manufacturer"),
        ("#FNF 11,10000,1,0,2,3,616263", "src_id"),
        ("#FNF 11,-D,1,0,2,3,616263", "src_id"),
        ("#FNF 11,0x0D,1,0,2,3,616263", "src_id"),
        ("#FNF 11,D,1,0,40,3,616263", "type"),
        ("#FNF 11,D,1,100000000,2,3,616263", "signature"),
        ("#FNF 11,D,1,0,2,3,61626", "odd"),
        ("#FNF 11,D,1,0,2,3,61 62 63", "non-hex"),
        ("#FNF 11,D,1,0,2,,616263", "payload_length"),
        ("#FNF 11,D,1,0,2,3,616263,11,D,4", "ack_requested"),
    ],
)
def test_broken_fnf_fields_are_named(line: str, hint: str) -> None:
    event = parse_line(line)
    assert isinstance(event, MalformedLine), event
    assert hint in event.reason


# --- dialects -----------------------------------------------------------------------------------


def test_promiscuous_suffix_builds_the_destination_and_ack() -> None:
    event = frame_of("#FNF 11,1FE3,0,0,3,4,00596573,20,12F2,1")
    assert event.dialect is Dialect.PROMISCUOUS
    assert (event.dest, event.broadcast) == (0x2012F2, False)
    frame = decode_frame(event.raw)
    assert (frame.dest, frame.ack, frame.payload.message) == (0x2012F2, AckMode.REQUESTED, "Yes")


def test_promiscuous_broadcast_has_a_zero_destination() -> None:
    event = frame_of("#FNF 11,D,1,0,2,3,616263,0,0,0", own_address=0x11003F)
    assert (event.dest, event.broadcast) == (None, True)
    assert event.raw == frame_of("#FNF 11,D,1,0,2,3,616263").raw


def test_softrf_sentence_carries_rssi_and_time() -> None:
    raw = "01209E0C601A43330F06B91100008C"
    event = frame_of(f"$PSRFI,1749300000,{raw},-87")
    assert event.dialect is Dialect.SOFTRF
    assert (event.raw, event.rssi_dbm, event.unix_time, event.padding) == (
        bytes.fromhex(raw),
        -87,
        1749300000,
        0,
    )
    assert (event.source, event.frame_type, event.broadcast) == (0x200C9E, 1, True)


def test_softrf_padding_to_32_bytes_is_kept_and_reported() -> None:
    frame = "02110D00" + "536B79747261787820332E30"  # name "Skytraxx 3.0", 16 bytes
    padded = frame + "00" * 16
    event = frame_of(f"$PSRFI,1749300000,{padded},-90")
    assert event.raw == bytes.fromhex(padded)
    assert event.padding == 16
    assert event.unpadded == bytes.fromhex(frame)


def test_softrf_padding_stops_where_the_frame_would_no_longer_decode() -> None:
    # air tracking whose altitude bytes and speed are zero: stripping all zeros truncates the payload
    frame = "01209E0C601A43330F060000000000"
    event = frame_of(f"$PSRFI,1,{frame}{'00' * 17},-90")
    assert event.padding == 17
    decode_frame(event.unpadded)
    with pytest.raises(FrameError):
        decode_frame(event.raw[: len(event.raw) - event.padding - 1])


def test_softrf_unicast_signed_header() -> None:
    event = frame_of("$PSRFI,5,83110D0030FB020144332211596573,-50")
    assert (event.dest, event.signature, event.broadcast) == (0xFB0102, 0x11223344, False)


def test_softrf_nmea_checksum_is_checked_when_present() -> None:
    body = "PSRFI,1749300000,02110D00414243,-90"
    checksum = 0
    for char in body:
        checksum ^= ord(char)
    assert isinstance(parse_line(f"${body}*{checksum:02X}"), FrameReceived)
    event = parse_line(f"${body}*{checksum ^ 1:02X}")
    assert isinstance(event, MalformedLine)
    assert "checksum" in event.reason


@pytest.mark.parametrize(
    ("line", "hint"),
    [
        ("$PSRFI,1749300000,02110D,-90", "header"),
        ("$PSRFI,1749300000,83110D0030FB02,-90", "header"),
        ("$PSRFI,1749300000,02110D00414243", "fields"),
        ("$PSRFI,x,02110D00414243,-90", "time"),
        ("$PSRFI,1,02110D00414243,strong", "rssi"),
        ("$PSRFI,1,02110D0041424,-90", "odd"),
    ],
)
def test_broken_softrf_sentences_are_named(line: str, hint: str) -> None:
    event = parse_line(line)
    assert isinstance(event, MalformedLine), event
    assert hint in event.reason
