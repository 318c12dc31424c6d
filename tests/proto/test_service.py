"""Service frames (type 4): the real station frame, optional positions, quantisation, truncation."""

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fanet.proto import Frame, FrameError, FrameType, decode_frame, encode_frame, encode_header, unwrap
from fanet.proto._service import Service

SOURCE = 0x067393
HEADER = encode_header(FrameType.SERVICE, SOURCE)
START = len(HEADER)
POSITION = bytes.fromhex("ecb741a9a509")  # 46.208656, 13.566358: the real station's position


def decode(payload: bytes) -> Frame:
    return decode_frame(HEADER + payload)


def roundtrip(service: Service) -> Service:
    frame = decode_frame(encode_frame(Frame(SOURCE, service)))
    assert frame.trailing == b""
    payload: Service = frame.payload
    return payload


# --- real traffic ------------------------------------------------------------------------------


def test_real_weather_station_frame_decodes_to_its_published_values() -> None:
    wrapped = unwrap(bytes.fromhex("1e894468beff09004406937360ecb741a9a5092e800e24"))
    frame = decode_frame(wrapped.raw)

    assert frame.type == FrameType.SERVICE
    assert frame.address == "067393"
    assert frame.forward
    p = frame.payload
    assert isinstance(p, Service)
    assert p.gateway is False
    assert p.lat == pytest.approx(46.208656, abs=1e-5)
    assert p.lon == pytest.approx(13.566358, abs=1e-5)
    assert p.temperature_c == 23.0
    assert p.wind_heading_deg == 180.0
    assert p.wind_speed_kmh == pytest.approx(2.8)
    assert p.wind_gust_kmh == pytest.approx(7.2)
    assert (p.humidity_pct, p.pressure_hpa, p.battery_pct, p.ext_header) == (None, None, None, None)
    assert p.remote_config is False
    assert frame.trailing == b""


def test_real_weather_station_frame_reencodes_to_the_same_bytes() -> None:
    raw = bytes.fromhex("4406937360ecb741a9a5092e800e24")
    assert encode_frame(decode_frame(raw)) == raw


# --- layout --------------------------------------------------------------------------------------


def test_every_data_field_in_order_after_the_extended_header_and_position() -> None:
    payload = (
        bytes((0x7B, 0xA5))  # temperature, wind, humidity, pressure, battery, ext header
        + POSITION
        + bytes((0xF6,))  # −5 °C
        + bytes((0x40, 0x85, 0x14))  # 90°, 5 × 5 × 0.2 = 5 km/h, 20 × 0.2 = 4 km/h
        + bytes((200,))  # 80 %
        + (10132 - 4300).to_bytes(2, "little")  # 1013.2 hPa
        + bytes((0xF9,))  # high nibble unused, 9/15
    )
    p = decode(payload).payload

    assert p.ext_header == 0xA5
    assert p.lat == pytest.approx(46.208656, abs=1e-5)
    assert p.temperature_c == -5.0
    assert (p.wind_heading_deg, p.wind_speed_kmh, p.wind_gust_kmh) == pytest.approx((90.0, 5.0, 4.0))
    assert p.humidity_pct == 80.0
    assert p.pressure_hpa == 1013.2
    assert p.battery_pct == pytest.approx(60.0)
    assert not p.gateway
    assert not p.remote_config


def test_bytes_after_the_last_announced_field_are_trailing() -> None:
    frame = decode(bytes((0x40,)) + POSITION + bytes((0x2E, 0, 0)))
    assert frame.payload.temperature_c == 23.0
    assert frame.trailing == b"\x00\x00"


@pytest.mark.parametrize("head", [0x80, 0x04, 0x84])
def test_gateway_and_remote_config_flags_alone_carry_a_position_when_six_bytes_follow(head: int) -> None:
    frame = decode(bytes((head,)) + POSITION)
    p = frame.payload
    assert p.gateway == bool(head & 0x80)
    assert p.remote_config == bool(head & 0x04)
    assert p.lat == pytest.approx(46.208656, abs=1e-5)
    assert p.lon == pytest.approx(13.566358, abs=1e-5)
    assert frame.trailing == b""


@pytest.mark.parametrize("extra", [b"", b"\x00", b"\x01\x02\x03\x04\x05"])
def test_gateway_flag_alone_without_six_more_bytes_has_no_position(extra: bytes) -> None:
    frame = decode(b"\x80" + extra)
    assert frame.payload == Service(gateway=True)
    assert frame.trailing == extra


def test_gateway_with_extended_header_reads_the_position_after_it() -> None:
    frame = decode(b"\x81\x07" + POSITION)
    assert frame.payload.ext_header == 7
    assert frame.payload.lat == pytest.approx(46.208656, abs=1e-5)
    assert encode_frame(frame) == HEADER + b"\x81\x07" + POSITION


def test_gateway_without_position_encodes_to_the_header_byte_alone() -> None:
    assert encode_frame(Frame(SOURCE, Service(gateway=True, remote_config=True))) == HEADER + b"\x84"


# --- truncation ----------------------------------------------------------------------------------

FULL = bytes((0x7B, 0)) + POSITION + bytes((0x2E, 0x80, 0x0E, 0x24, 100, 0x10, 0x27, 0x0F))
# (first payload byte of a field, the field's name): cutting the payload before a field's last byte names it
FIELDS = [
    (0, "header"),
    (1, "ext_header"),
    (2, "position"),
    (8, "temperature_c"),
    (9, "wind_heading_deg"),
    (10, "wind_speed_kmh"),
    (11, "wind_gust_kmh"),
    (12, "humidity_pct"),
    (13, "pressure_hpa"),
    (15, "battery_pct"),
]


@pytest.mark.parametrize("cut", range(len(FULL)))
def test_a_payload_cut_short_names_the_field_and_where_it_starts(cut: int) -> None:
    offset, name = max((o, n) for o, n in FIELDS if o <= cut)
    with pytest.raises(FrameError) as caught:
        decode(FULL[:cut])
    assert caught.value.field == f"service.{name}"
    assert caught.value.offset == START + offset


def test_the_uncut_payload_decodes() -> None:
    assert decode(FULL).payload.battery_pct == 100.0


def test_position_is_mandatory_when_a_data_field_is_announced() -> None:
    with pytest.raises(FrameError) as caught:
        decode(b"\x02\x0f")  # battery, but no position
    assert (caught.value.field, caught.value.offset) == ("service.position", START + 1)


# --- encoding --------------------------------------------------------------------------------------


def step_for_wind(kmh: float) -> float:
    return 0.2 if kmh <= 127 * 0.2 else 1.0


def heading_distance(a: float, b: float) -> float:
    d = abs(a - b) % 360.0
    return min(d, 360.0 - d)


def optional(strategy: st.SearchStrategy[float]) -> st.SearchStrategy[float | None]:
    return st.one_of(st.none(), strategy)


def finite(low: float, high: float) -> st.SearchStrategy[float]:
    return st.floats(low, high, allow_nan=False, allow_infinity=False)


winds = st.one_of(
    st.just((None, None, None)),
    st.tuples(finite(0, 360), finite(0, 127), finite(0, 127)),
)


@st.composite
def services(draw: st.DrawFn) -> Service:
    heading, speed, gust = draw(winds)
    data = {
        "temperature_c": draw(optional(finite(-64, 63.5))),
        "humidity_pct": draw(optional(finite(0, 102))),
        "pressure_hpa": draw(optional(finite(430, 430 + 0xFFFF / 10))),
        "battery_pct": draw(optional(finite(0, 100))),
    }
    has_data = heading is not None or any(v is not None for v in data.values())
    lat, lon = draw(
        st.tuples(finite(-90, 90), finite(-180, 180))
        if has_data
        else st.one_of(st.just((None, None)), st.tuples(finite(-90, 90), finite(-180, 180)))
    )
    return Service(
        gateway=draw(st.booleans()),
        lat=lat,
        lon=lon,
        wind_heading_deg=heading,
        wind_speed_kmh=speed,
        wind_gust_kmh=gust,
        remote_config=draw(st.booleans()),
        ext_header=draw(st.one_of(st.none(), st.integers(0, 255))),
        **data,
    )


def assert_close(decoded: float | None, original: float | None, step: float) -> None:
    if original is None:
        assert decoded is None
    else:
        assert decoded is not None
        assert abs(decoded - original) <= step + 1e-9


@given(services())
def test_decode_of_encode_is_within_one_quantisation_step(s: Service) -> None:
    d = roundtrip(s)

    assert (d.gateway, d.remote_config, d.ext_header) == (s.gateway, s.remote_config, s.ext_header)
    assert_close(d.lat, s.lat, 1 / 93206)
    assert_close(d.lon, s.lon, 1 / 46603)
    assert_close(d.temperature_c, s.temperature_c, 0.5)
    assert_close(d.humidity_pct, s.humidity_pct, 0.4)
    assert_close(d.pressure_hpa, s.pressure_hpa, 0.1)
    assert_close(d.battery_pct, s.battery_pct, 100 / 15)
    if s.wind_heading_deg is None:
        assert (d.wind_heading_deg, d.wind_speed_kmh, d.wind_gust_kmh) == (None, None, None)
    else:
        assert s.wind_speed_kmh is not None
        assert s.wind_gust_kmh is not None
        assert d.wind_heading_deg is not None
        assert heading_distance(d.wind_heading_deg, s.wind_heading_deg) <= 360 / 256
        assert_close(d.wind_speed_kmh, s.wind_speed_kmh, step_for_wind(s.wind_speed_kmh))
        assert_close(d.wind_gust_kmh, s.wind_gust_kmh, step_for_wind(s.wind_gust_kmh))


@given(services())
def test_encoding_a_decoded_record_gives_the_same_bytes(s: Service) -> None:
    raw = encode_frame(Frame(SOURCE, s))
    assert encode_frame(decode_frame(raw)) == raw


@pytest.mark.parametrize(
    ("field", "value", "limit"),
    [
        ("temperature_c", 100.0, 63.5),
        ("temperature_c", -100.0, -64.0),
        ("humidity_pct", 150.0, 102.0),
        ("humidity_pct", -3.0, 0.0),
        ("pressure_hpa", 9000.0, 430 + 0xFFFF / 10),
        ("pressure_hpa", 100.0, 430.0),
        ("battery_pct", 250.0, 100.0),
        ("battery_pct", -1.0, 0.0),
        ("wind_speed_kmh", 500.0, 127.0),
        ("wind_gust_kmh", -4.0, 0.0),
    ],
)
def test_values_outside_a_field_clamp_to_its_limit(field: str, value: Any, limit: float) -> None:
    base = Service(lat=46.2, lon=13.5, wind_heading_deg=0.0, wind_speed_kmh=0.0, wind_gust_kmh=0.0)._replace(
        **{field: value}
    )
    assert getattr(roundtrip(base), field) == pytest.approx(limit)


def test_positions_outside_the_field_clamp() -> None:
    d = roundtrip(Service(gateway=True, lat=95.0, lon=-200.0))
    assert d.lat == ((1 << 23) - 1) / 93206  # the 24-bit field's limit, a hair past 90°
    assert d.lon == -(1 << 23) / 46603


def test_heading_wraps_rather_than_clamps() -> None:
    d = roundtrip(Service(lat=0.0, lon=0.0, wind_heading_deg=359.9, wind_speed_kmh=1.0, wind_gust_kmh=1.0))
    assert d.wind_heading_deg == 0.0


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (Service(temperature_c=20.0), "needs a position"),
        (Service(gateway=True, lat=46.0), "lat and lon"),
        (Service(lat=46.0, lon=13.0, wind_speed_kmh=10.0), "wind"),
    ],
)
def test_records_that_cannot_go_on_the_air_are_refused(record: Service, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        encode_frame(Frame(SOURCE, record))


def test_service_record_reports_its_frame_type() -> None:
    assert Service().frame_type == FrameType.SERVICE
