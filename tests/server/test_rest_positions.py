"""Posted positions, pure: user addresses, the request body, the frame the pipeline receives."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fanet.proto import AircraftType, AirTracking, decode_frame
from fanet.proto import fanet_pb2 as pb
from fanet.server.pipeline import API_STATION
from fanet.server.pipeline.validate import reserved_address
from fanet.server.rest.errors import ApiError, ParameterError
from fanet.server.rest.positions import (
    PostedPosition,
    is_user_address,
    parse_position_body,
    user_address,
)


@pytest.mark.parametrize(("user_id", "addr"), [("1", 0xFF0001), ("42", 0xFF002A), ("65534", 0xFFFFFE)])
def test_small_numeric_user_ids_are_the_device_id(user_id: str, addr: int) -> None:
    assert user_address(user_id) == addr


@given(st.one_of(st.text(), st.integers(min_value=-(10**20), max_value=10**20).map(str)))
def test_every_user_address_is_under_the_reserved_manufacturer_and_a_valid_device_id(user_id: str) -> None:
    addr = user_address(user_id)
    assert addr >> 16 == 0xFF and is_user_address(addr)
    assert reserved_address(addr)  # no radio device sends from it …
    assert 0x0001 <= addr & 0xFFFF <= 0xFFFE  # … and the device ids FANET reserves stay unused
    assert user_address(user_id) == addr  # stable


def test_other_ids_are_hashed_and_leading_zeros_are_not_the_same_user() -> None:
    assert user_address("0042") != user_address("42")
    assert user_address("65535") != 0xFFFFFF and user_address("u-abc") != user_address("u-abd")


def test_a_json_body_with_the_protos_field_names() -> None:
    body = parse_position_body(
        "application/json; charset=utf-8",
        b'{"position": {"latitude": 46.2, "longitude": 13.6, "altitude": 1200}, "speed": 30, '
        b'"climb": -1.5, "course": 359.5, "timestamp": "1750000000"}',
    )
    position = PostedPosition.from_body(
        body, "42", received_at=1_750_000_002.0, aircraft_type=AircraftType.PARAGLIDER
    )
    assert (position.addr, position.altitude_m, position.timestamp) == (0xFF002A, 1200, 1_750_000_000.0)
    assert (position.speed_kmh, position.climb_ms, position.heading_deg) == (30.0, -1.5, 359.5)


def test_a_protobuf_body_reads_the_same() -> None:
    message = pb.PositionRequest(
        position=pb.GeoPoint(latitude=46.2, longitude=13.6), altitude=900, speed=12.5
    )
    body = parse_position_body("application/x-protobuf", message.SerializeToString())
    assert (body.position.latitude, body.altitude, body.speed, body.timestamp) == (46.2, 900, 12.5, "0")


def test_without_a_time_the_position_is_stamped_when_received() -> None:
    body = parse_position_body("application/json", b'{"position": {"latitude": 1, "longitude": 2}}')
    position = PostedPosition.from_body(body, "7", received_at=123.0, aircraft_type=AircraftType.OTHER)
    assert position.timestamp == 123.0 and position.heading_deg == 0.0


def test_the_pipeline_receives_an_air_tracking_frame_from_the_api_station() -> None:
    position = PostedPosition(0xFF002A, "42", 46.2, 13.6, 1500, 36.0, 1.2, 270.0, 1_750_000_000.0, 1_750_000_001.0,
                              AircraftType.HANG_GLIDER)  # fmt: skip
    frame = position.received_frame()
    assert (frame.station, frame.timestamp, frame.rssi, frame.snr) == (
        API_STATION,
        1_750_000_000.0,
        None,
        None,
    )
    decoded = decode_frame(frame.raw)
    assert decoded.source == 0xFF002A
    payload = decoded.payload
    assert (
        isinstance(payload, AirTracking)
        and payload.aircraft_type is AircraftType.HANG_GLIDER
        and payload.online
    )
    assert payload.lat == pytest.approx(46.2, abs=1e-4) and payload.lon == pytest.approx(13.6, abs=1e-4)
    assert payload.altitude_m == 1500 and payload.speed_kmh == 36.0 and payload.climb_ms == pytest.approx(1.2)


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b'{"position": {"latitude": 1, "longitude": 2}, "altitude": 1.5}', "altitude"),
        (b'{"position": {"latitude": 1, "longitude": 2}, "altitude": true}', "altitude"),
        (b'{"position": {"latitude": 1, "longitude": 2}, "course": 360.5}', "course"),
        (b'{"position": {"latitude": "1", "longitude": 2}}', "position.latitude"),
        (b'{"position": {"latitude": 1, "longitude": 2}, "timestamp": -5}', "timestamp"),
        (b"[]", "body"),
    ],
)
def test_a_field_out_of_range_or_of_the_wrong_type_is_named(body: bytes, where: str) -> None:
    with pytest.raises(ParameterError) as raised:
        parse_position_body("application/json", body)
    assert raised.value.parameter == where


def test_a_body_of_another_type_is_415() -> None:
    with pytest.raises(ApiError) as raised:
        parse_position_body("text/plain", b"46.2,13.6")
    assert raised.value.status == 415
