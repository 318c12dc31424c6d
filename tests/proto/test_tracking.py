"""Air tracking, ground tracking, thermals, names and messages: values, quantisation, truncation."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fanet.proto import (
    AircraftType,
    AirTracking,
    Frame,
    FrameError,
    GroundTracking,
    GroundType,
    Message,
    Name,
    Thermal,
    decode_frame,
    encode_frame,
)

LAT_STEP = 1 / 93206
LON_STEP = 1 / 46603

lats = st.floats(-90, 90, allow_nan=False)
lons = st.floats(-180, 179.99, allow_nan=False)
altitudes = st.integers(0, 8188)
speeds = st.floats(0, 317.5, allow_nan=False)
climbs = st.floats(-31.5, 31.5, allow_nan=False)
headings = st.floats(0, 360, allow_nan=False, exclude_max=True)
addresses = st.integers(0x010001, 0xFDFFFE)


def heading_error(a: float, b: float) -> float:
    d = abs(a - b) % 360
    return min(d, 360 - d)


def roundtrip(payload: object, source: int = 0x110B90) -> object:
    return decode_frame(encode_frame(Frame(source, payload))).payload


@given(
    lats,
    lons,
    st.sampled_from(AircraftType),
    altitudes,
    speeds,
    climbs,
    headings,
    st.booleans(),
    st.none() | st.floats(-63.5, 63.5, allow_nan=False),
    st.none() | st.integers(-250, 250),
)
def test_air_tracking_survives_encoding_within_one_step(
    lat: float,
    lon: float,
    aircraft: AircraftType,
    alt: int,
    speed: float,
    climb: float,
    heading: float,
    online: bool,
    turn: float | None,
    qne: int | None,
) -> None:
    sent = AirTracking(lat, lon, aircraft, alt, speed, climb, heading, online, turn, qne)
    got = roundtrip(sent)
    assert isinstance(got, AirTracking)
    assert abs(got.lat - lat) <= LAT_STEP
    assert abs(got.lon - lon) <= LON_STEP
    assert got.aircraft_type is aircraft
    assert got.online is online
    assert abs(got.altitude_m - alt) <= (1 if alt <= 2047 else 4)
    assert abs(got.speed_kmh - speed) <= (0.5 if speed <= 63.5 else 2.5)
    assert abs(got.climb_ms - climb) <= (0.1 if abs(climb) <= 6.3 else 0.5) + 1e-9
    assert heading_error(got.heading_deg, heading) <= 360 / 256
    if turn is None and qne is None:
        assert got.turn_rate_dps is None
    else:
        assert got.turn_rate_dps is not None
        assert abs(got.turn_rate_dps - (turn or 0.0)) <= (0.25 if abs(turn or 0) <= 15.75 else 1.0)
    if qne is None:
        assert got.qne_offset_m is None
    else:
        assert got.qne_offset_m is not None
        assert abs(got.qne_offset_m - qne) <= (1 if -64 <= qne <= 63 else 4)


def test_air_tracking_clamps_out_of_range_values() -> None:
    got = roundtrip(
        AirTracking(10.0, 20.0, AircraftType.GLIDER, 12000, 900.0, -80.0, 725.0, True, 500.0, -900)
    )
    assert isinstance(got, AirTracking)
    assert got.altitude_m == 2047 * 4
    assert got.speed_kmh == 317.5
    assert got.climb_ms == -31.5
    assert got.heading_deg == pytest.approx(5.625)  # 725° is 5° past two turns
    assert got.turn_rate_dps == 63.0
    assert got.qne_offset_m == -252
    low = roundtrip(AirTracking(10.0, 20.0, AircraftType.GLIDER, -30, -4.0, 0.0, 0.0))
    assert isinstance(low, AirTracking)
    assert (low.altitude_m, low.speed_kmh) == (0, 0.0)


def test_air_tracking_reads_every_aircraft_type_bit() -> None:
    # The type sits in bits 14..12; masking with 0x3000 (a known public-decoder bug) loses UAV → other.
    raw = (
        bytes.fromhex("01110B90")
        + bytes.fromhex("4caf411bc209")
        + (0x7000 | 100).to_bytes(2, "little")
        + b"\0\0\0"
    )
    payload = decode_frame(raw).payload
    assert payload.aircraft_type is AircraftType.UAV
    assert payload.online is False


@pytest.mark.parametrize(
    ("byte", "kmh"), [(0x00, 0.0), (0x01, 0.5), (0x7F, 63.5), (0x80, 0.0), (0x81, 2.5), (0xFF, 317.5)]
)
def test_speed_byte_scale_bit_multiplies_by_five(byte: int, kmh: float) -> None:
    raw = bytes.fromhex("01110B90") + bytes(6) + b"\0\0" + bytes((byte, 0, 0))
    assert decode_frame(raw).payload.speed_kmh == kmh


@pytest.mark.parametrize(
    ("byte", "ms"), [(0x00, 0.0), (0x3F, 6.3), (0x40, -6.4), (0x7F, -0.1), (0xBF, 31.5), (0xC1, -31.5)]
)
def test_climb_byte_is_seven_bit_twos_complement_with_scale(byte: int, ms: float) -> None:
    raw = bytes.fromhex("01110B90") + bytes(6) + b"\0\0" + bytes((0, byte, 0))
    assert decode_frame(raw).payload.climb_ms == ms


def test_heading_uses_256_steps() -> None:
    raw = bytes.fromhex("01110B90") + bytes(6) + b"\0\0" + bytes((0, 0, 0xFF))
    assert decode_frame(raw).payload.heading_deg == 358.59375


@given(lats, lons, st.sampled_from(list(GroundType)), st.booleans())
def test_ground_tracking_round_trip(lat: float, lon: float, state: GroundType, online: bool) -> None:
    got = roundtrip(GroundTracking(lat, lon, state, online))
    assert isinstance(got, GroundTracking)
    assert abs(got.lat - lat) <= LAT_STEP
    assert abs(got.lon - lon) <= LON_STEP
    assert got.ground_type is state
    assert got.online is online


def test_undefined_ground_state_stays_a_number() -> None:
    raw = bytes.fromhex("07110B90") + bytes(6) + bytes((0x51,))
    payload = decode_frame(raw).payload
    assert payload.ground_type == 5
    assert not isinstance(payload.ground_type, GroundType)


@given(lats, lons, st.integers(0, 7), altitudes, climbs, speeds, headings)
def test_thermal_round_trip(
    lat: float, lon: float, quality: int, alt: int, climb: float, wind: float, wind_heading: float
) -> None:
    got = roundtrip(Thermal(lat, lon, quality, alt, climb, wind, wind_heading))
    assert isinstance(got, Thermal)
    assert abs(got.lat - lat) <= LAT_STEP
    assert abs(got.lon - lon) <= LON_STEP
    assert got.quality == quality
    assert abs(got.altitude_m - alt) <= (1 if alt <= 2047 else 4)
    assert abs(got.climb_ms - climb) <= (0.1 if abs(climb) <= 6.3 else 0.5) + 1e-9
    assert abs(got.wind_speed_kmh - wind) <= (0.5 if wind <= 63.5 else 2.5)
    assert heading_error(got.wind_heading_deg, wind_heading) <= 360 / 256


@given(st.text(st.characters(codec="utf-8", exclude_characters="\0"), max_size=60))
def test_name_round_trip(name: str) -> None:
    assert roundtrip(Name(name)) == Name(name)


@given(
    st.text(st.characters(codec="utf-8", exclude_characters="\0"), max_size=60),
    st.integers(0, 255),
)
def test_message_round_trip(text: str, subheader: int) -> None:
    assert roundtrip(Message(text, subheader)) == Message(text, subheader)


def test_name_ends_at_nul_padding_which_is_reported_as_trailing() -> None:
    frame = decode_frame(bytes.fromhex("02110B90") + b"Bob\0\0\0")
    assert frame.payload == Name("Bob")
    assert frame.trailing == b"\0\0\0"


def test_invalid_utf8_in_a_name_is_replaced_not_an_error() -> None:
    assert decode_frame(bytes.fromhex("02110B90") + b"J\xf6rg").payload == Name("J\ufffdrg")


@pytest.mark.parametrize(
    ("type_byte", "size", "field"),
    [(0x01, 11, "air_tracking"), (0x07, 7, "ground_tracking"), (0x09, 11, "thermal")],
)
def test_truncated_position_reports_name_and_offset(type_byte: int, size: int, field: str) -> None:
    for cut in range(size):
        with pytest.raises(FrameError) as info:
            decode_frame(bytes((type_byte,)) + bytes.fromhex("110B90") + bytes(cut))
        assert info.value.field == field
        assert info.value.offset == 4
        assert f"{size} bytes needed, {cut} given" in str(info.value)


def test_empty_message_has_no_subheader() -> None:
    with pytest.raises(FrameError, match=r"message\.subheader at byte 4"):
        decode_frame(bytes.fromhex("03110B90"))


def test_optional_turn_rate_and_qne_offset() -> None:
    base = bytes.fromhex("01110B90") + bytes(6) + b"\0\0\0\0\0"
    assert decode_frame(base + bytes((0x04,))).payload.turn_rate_dps == 1.0
    both = decode_frame(base + bytes((0x84, 0x7F))).payload
    assert (both.turn_rate_dps, both.qne_offset_m) == (4.0, -1)
    padded = decode_frame(base + bytes((0x04, 0x02, 0x00, 0x00)))
    assert padded.trailing == b"\0\0"
    assert math.isclose(padded.payload.turn_rate_dps, 1.0)
