"""Hardware info frames: the deprecated type 8 and type 10, from real module lines to truncation."""

import datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fanet.proto import Frame, FrameError, FrameType, decode_frame, encode_frame, encode_header
from fanet.proto._hardware import HardwareInfo, HardwareInfoLegacy

SOURCE = 0x0A0493
LEGACY_HEADER = encode_header(FrameType.HARDWARE_INFO_LEGACY, SOURCE)
HEADER = encode_header(FrameType.HARDWARE_INFO, SOURCE)
START = len(HEADER)

build_dates = st.dates(datetime.date(2019, 1, 1), datetime.date(2082, 12, 31))


def decode_legacy(payload: bytes) -> Frame:
    return decode_frame(LEGACY_HEADER + payload)


def decode(payload: bytes) -> Frame:
    return decode_frame(HEADER + payload)


def roundtrip(record: HardwareInfoLegacy | HardwareInfo) -> HardwareInfoLegacy | HardwareInfo:
    frame = decode_frame(encode_frame(Frame(SOURCE, record)))
    assert frame.trailing == b""
    payload: HardwareInfoLegacy | HardwareInfo = frame.payload
    return payload


# --- type 8 (deprecated) ------------------------------------------------------------------------


def test_skytraxx_legacy_hardware_info_from_a_module_line() -> None:
    # #FNF 11,D,1,0,8,5,01DE062014
    frame = decode_frame(encode_header(8, 0x11000D) + bytes.fromhex("01DE062014"))

    assert frame.type == FrameType.HARDWARE_INFO_LEGACY
    assert frame.address == "11000D"
    assert frame.payload == HardwareInfoLegacy(
        hw_subtype=1,
        experimental=False,
        build_date=datetime.date(2022, 6, 30),
        uptime_min=161,
        uptime_low_bits=0,
    )
    assert frame.trailing == b""
    assert encode_frame(frame) == encode_header(8, 0x11000D) + bytes.fromhex("01DE062014")


def test_legacy_pull_request_carries_only_the_device_type() -> None:
    frame = decode_legacy(b"\x00\xde\x06")
    assert frame.payload == HardwareInfoLegacy(hw_subtype=0)
    assert frame.trailing == b"\xde\x06"
    assert encode_frame(Frame(SOURCE, HardwareInfoLegacy(0))) == LEGACY_HEADER + b"\x00"


def test_legacy_without_uptime_and_with_a_lone_byte_after_the_date() -> None:
    assert decode_legacy(bytes.fromhex("01DE06")).payload.uptime_min is None
    frame = decode_legacy(bytes.fromhex("01DE0614"))
    assert (frame.payload.uptime_min, frame.payload.uptime_low_bits) == (None, None)
    assert frame.trailing == b"\x14"


def test_legacy_uptime_low_bits_and_experimental_flag_are_kept() -> None:
    p = decode_legacy(bytes.fromhex("01DE863B14")).payload
    assert p.experimental is True
    assert p.build_date == datetime.date(2022, 6, 30)
    assert (p.uptime_min, p.uptime_low_bits) == (161.5, 0xB)


@pytest.mark.parametrize(
    "word",
    [
        0x0000,  # month 0, day 0
        3 << 9 | 2 << 5 | 30,  # 2022-02-30
        3 << 9 | 13 << 5 | 1,  # month 13
    ],
)
def test_build_date_bits_that_are_no_calendar_date_decode_to_none(word: int) -> None:
    p = decode_legacy(b"\x01" + word.to_bytes(2, "little")).payload
    assert p.build_date is None
    assert p.experimental is False


@pytest.mark.parametrize(
    ("payload", "field", "offset"),
    [
        (b"", "hw_subtype", 0),
        (b"\x01", "build_date", 1),
        (b"\x01\xde", "build_date", 1),
    ],
)
def test_legacy_payload_cut_short_names_the_field(payload: bytes, field: str, offset: int) -> None:
    with pytest.raises(FrameError) as caught:
        decode_legacy(payload)
    assert caught.value.field == f"hardware_info_legacy.{field}"
    assert caught.value.offset == START + offset


@st.composite
def legacy_records(draw: st.DrawFn) -> HardwareInfoLegacy:
    has_uptime = draw(st.booleans())
    return HardwareInfoLegacy(
        hw_subtype=draw(st.integers(1, 255)),
        experimental=draw(st.booleans()),
        build_date=draw(build_dates),
        uptime_min=draw(st.floats(0, 0xFFF / 2)) if has_uptime else None,
        uptime_low_bits=draw(st.integers(0, 15)) if has_uptime else None,
    )


@given(legacy_records())
def test_legacy_decode_of_encode_is_within_one_quantisation_step(r: HardwareInfoLegacy) -> None:
    d = roundtrip(r)
    assert d._replace(uptime_min=None) == r._replace(uptime_min=None)
    if r.uptime_min is None:
        assert d.uptime_min is None
    else:
        assert d.uptime_min is not None
        assert abs(d.uptime_min - r.uptime_min) <= 0.5  # 30 s steps


@pytest.mark.parametrize(
    ("field", "value", "limit"),
    [
        ("build_date", datetime.date(2010, 5, 5), datetime.date(2019, 1, 1)),
        ("build_date", datetime.date(2100, 5, 5), datetime.date(2082, 12, 31)),
        ("uptime_min", 1e6, 0xFFF / 2),
        ("uptime_min", -5.0, 0.0),
    ],
)
def test_legacy_values_outside_a_field_clamp(field: str, value: Any, limit: object) -> None:
    base = HardwareInfoLegacy(1, False, datetime.date(2022, 6, 30), 1.0, 0)._replace(**{field: value})
    assert getattr(roundtrip(base), field) == limit


@pytest.mark.parametrize(
    "record",
    [
        HardwareInfoLegacy(0, build_date=datetime.date(2022, 6, 30)),
        HardwareInfoLegacy(1, False, datetime.date(2022, 6, 30), uptime_low_bits=3),
    ],
)
def test_legacy_records_that_cannot_go_on_the_air_are_refused(record: HardwareInfoLegacy) -> None:
    with pytest.raises(ValueError, match="hardware_info_legacy"):
        encode_frame(Frame(SOURCE, record))


# --- type 10 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "build_date", "uptime"),
    [
        ("5012670A0A00", datetime.date(2024, 3, 7), 10),
        ("5012680A0B00", datetime.date(2024, 3, 8), 11),
    ],
)
def test_naviter_hardware_info_from_module_lines(
    payload: str, build_date: datetime.date, uptime: int
) -> None:
    # #FNF A,493,1,0,A,6,<payload>
    frame = decode(bytes.fromhex(payload))

    assert frame.type == FrameType.HARDWARE_INFO
    assert frame.address == "0A0493"
    assert frame.payload == HardwareInfo(
        hw_subtype=18, experimental=False, build_date=build_date, uptime_min=uptime
    )
    assert frame.trailing == b""
    assert encode_frame(frame) == HEADER + bytes.fromhex(payload)


FULL = bytes.fromhex(
    "7F"  # subtype + build date, ICAO, uptime, RX RSSI, reserved bits 2..1, extended header
    "A5"  # extended header byte
    "12670A"  # Oudie N, 2024-03-07
    "563412"  # ICAO 0x123456
    "3412"  # 0x1234 minutes
    "E2"  # −30 → −80 dBm
    "11900B"  # heard 110B90
)
# (first payload byte of a field, the field's name): cutting the payload before a field's last byte names it
FIELDS = [
    (0, "header"),
    (1, "ext_header"),
    (2, "hw_subtype"),
    (3, "build_date"),
    (5, "icao_address"),
    (8, "uptime_min"),
    (10, "rx_rssi_dbm"),
    (11, "rx_address"),
]


def test_every_field_in_order_after_the_extended_header() -> None:
    assert decode(FULL + b"\xee").payload == HardwareInfo(
        hw_subtype=0x12,
        experimental=False,
        build_date=datetime.date(2024, 3, 7),
        icao_address=0x123456,
        uptime_min=0x1234,
        rx_rssi_dbm=-80,
        rx_address=0x110B90,
        reserved=3,
        ext_header=0xA5,
    )
    assert decode(FULL + b"\xee").trailing == b"\xee"


@pytest.mark.parametrize("cut", range(len(FULL)))
def test_a_payload_cut_short_names_the_field_and_where_it_starts(cut: int) -> None:
    offset, name = max((o, n) for o, n in FIELDS if o <= cut)
    with pytest.raises(FrameError) as caught:
        decode(FULL[:cut])
    assert caught.value.field == f"hardware_info.{name}"
    assert caught.value.offset == START + offset


def test_ping_pong_request_names_the_fields_asked_for_and_carries_no_data() -> None:
    frame = decode(b"\xc8\x00\x00")  # request: subtype + build date, RX RSSI
    assert frame.payload == HardwareInfo(ping_pong=True, requested=("hw_subtype", "rx_rssi_dbm"))
    assert frame.trailing == b"\x00\x00"
    assert encode_frame(frame._replace(trailing=b"")) == HEADER + b"\xc8"


def test_ping_pong_request_keeps_its_extended_header_byte() -> None:
    frame = decode(b"\xb1\x42")
    assert frame.payload == HardwareInfo(
        ping_pong=True, requested=("icao_address", "uptime_min"), ext_header=0x42
    )
    assert frame.trailing == b""


def test_a_header_alone_is_a_complete_payload() -> None:
    assert decode(b"\x00").payload == HardwareInfo()


@st.composite
def records(draw: st.DrawFn) -> HardwareInfo:
    has_build = draw(st.booleans())
    has_rssi = draw(st.booleans())
    optional_address = st.one_of(st.none(), st.integers(0, 0xFFFFFF))
    return HardwareInfo(
        hw_subtype=draw(st.integers(0, 255)) if has_build else None,
        experimental=draw(st.booleans()) if has_build else None,
        build_date=draw(build_dates) if has_build else None,
        icao_address=draw(optional_address),
        uptime_min=draw(st.one_of(st.none(), st.integers(0, 0xFFFF))),
        rx_rssi_dbm=draw(st.integers(-178, 77)) if has_rssi else None,
        rx_address=draw(st.integers(0, 0xFFFFFF)) if has_rssi else None,
        reserved=draw(st.integers(0, 3)),
        ext_header=draw(st.one_of(st.none(), st.integers(0, 255))),
    )


@given(records())
def test_decode_of_encode_is_exact(r: HardwareInfo) -> None:
    assert roundtrip(r) == r


@given(
    st.lists(st.sampled_from(["hw_subtype", "icao_address", "uptime_min", "rx_rssi_dbm"]), unique=True),
    st.one_of(st.none(), st.integers(0, 255)),
)
def test_ping_pong_requests_round_trip(requested: list[str], ext_header: int | None) -> None:
    order = ["hw_subtype", "icao_address", "uptime_min", "rx_rssi_dbm"]
    r = HardwareInfo(ping_pong=True, requested=tuple(requested), ext_header=ext_header)
    assert roundtrip(r) == r._replace(requested=tuple(sorted(requested, key=order.index)))


@pytest.mark.parametrize(
    ("field", "value", "limit"),
    [
        ("uptime_min", 70000, 0xFFFF),
        ("uptime_min", -1, 0),
        ("rx_rssi_dbm", -300, -178),
        ("rx_rssi_dbm", 200, 77),
        ("build_date", datetime.date(2018, 12, 31), datetime.date(2019, 1, 1)),
    ],
)
def test_values_outside_a_field_clamp(field: str, value: Any, limit: object) -> None:
    base = HardwareInfo(
        hw_subtype=1, experimental=True, build_date=datetime.date(2024, 3, 7), rx_rssi_dbm=-80, rx_address=1
    )._replace(**{field: value})
    assert getattr(roundtrip(base), field) == limit


@pytest.mark.parametrize(
    "record",
    [
        HardwareInfo(ping_pong=True, uptime_min=5),
        HardwareInfo(ping_pong=True, requested=("name",)),
        HardwareInfo(requested=("uptime_min",)),
        HardwareInfo(build_date=datetime.date(2024, 3, 7)),
        HardwareInfo(rx_rssi_dbm=-80),
    ],
)
def test_records_that_cannot_go_on_the_air_are_refused(record: HardwareInfo) -> None:
    with pytest.raises(ValueError, match="hardware_info"):
        encode_frame(Frame(SOURCE, record))


def test_records_report_their_frame_types() -> None:
    assert HardwareInfoLegacy(0).frame_type == FrameType.HARDWARE_INFO_LEGACY
    assert HardwareInfo().frame_type == FrameType.HARDWARE_INFO
