"""The Redis store's value encoding gives back exactly what it was given, and refuses what is not its own."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fanet.proto import AircraftType, GroundType
from fanet.server.model import (
    Action,
    BaseStation,
    Change,
    GroundObject,
    LiveObject,
    PendingChange,
    Pilot,
    Thermal,
    TrackPoint,
    WeatherStation,
)
from fanet.server.store.codec import (
    CodecError,
    decode_base_station,
    decode_change,
    decode_object,
    decode_point,
    encode_base_station,
    encode_change,
    encode_object,
    encode_point,
)

_FLOATS = st.floats(allow_nan=False)
_OPTIONAL = st.none() | _FLOATS
_LAT, _LON = st.floats(-90, 90), st.floats(-180, 180)

OBJECTS: st.SearchStrategy[LiveObject] = st.one_of(
    st.builds(
        Pilot, st.integers(0, 2**24 - 1), _LAT, _LON, st.integers(-(2**31), 2**31 - 1),
        st.sampled_from(AircraftType), _FLOATS, _FLOATS, _FLOATS, st.booleans(), _FLOATS, st.text(),
        _OPTIONAL, _OPTIONAL,
    ),
    st.builds(
        GroundObject, st.integers(0, 2**24 - 1), _LAT, _LON, st.sampled_from(GroundType) | st.integers(0, 15),
        st.booleans(), _FLOATS, st.text(),
    ),
    st.builds(
        Thermal, st.integers(0, 2**64 - 1), st.integers(0, 2**24 - 1), _LAT, _LON,
        st.integers(-(2**31), 2**31 - 1), st.integers(0, 7), _FLOATS, _FLOATS, _FLOATS, _FLOATS,
        st.integers(0, 2**32 - 1),
    ),
    st.builds(WeatherStation, st.integers(0, 2**24 - 1), _LAT, _LON, _FLOATS, st.text(), *[_OPTIONAL] * 7),
)  # fmt: skip


@given(OBJECTS)
def test_objects_round_trip_exactly(obj: LiveObject) -> None:
    decoded = decode_object(encode_object(obj))
    assert decoded == obj
    assert type(decoded) is type(obj)


def test_enumerations_come_back_as_enumerations() -> None:
    pilot = Pilot(1, 46.0, 13.0, 900, AircraftType.HANG_GLIDER, 0.0, 0.0, 0.0, True, 0.0)
    assert decode_object(encode_object(pilot)).aircraft_type is AircraftType.HANG_GLIDER  # type: ignore[union-attr]
    ground = GroundObject(1, 46.0, 13.0, GroundType.DISTRESS_CALL, True, 0.0)
    assert decode_object(encode_object(ground)).ground_type is GroundType.DISTRESS_CALL  # type: ignore[union-attr]


@given(st.sampled_from(Action), OBJECTS, _FLOATS, st.booleans(), st.integers(1, 2**62))
def test_changes_round_trip_with_the_sequence_from_outside(
    action: Action, obj: LiveObject, time: float, urgent: bool, sequence: int
) -> None:
    data = encode_change(PendingChange(action, obj, time, urgent))
    assert decode_change(sequence, data) == Change(sequence, action, obj, time, urgent)


@given(st.builds(TrackPoint, _LAT, _LON, st.integers(-(2**31), 2**31 - 1), _FLOATS, _FLOATS, _FLOATS))
def test_track_points_round_trip(point: TrackPoint) -> None:
    assert decode_point(encode_point(point)) == point


def test_base_stations_round_trip() -> None:
    station = BaseStation(
        "gw-7", 1.75e9, 12, 2.5, -101.25, 6.5, (0x110B90, 0x0A0493), 46.1, 13.6, {"fw": "1.2", "rx": [1, 2]}
    )
    assert decode_base_station(encode_base_station(station)) == station
    assert decode_base_station(encode_base_station(BaseStation("x", 0.0))) == BaseStation("x", 0.0)


def test_values_out_of_range_are_refused_with_the_object_named() -> None:
    too_far = Pilot(2**24 * 256, 46.0, 13.0, 900, AircraftType.OTHER, 0.0, 0.0, 0.0, True, 0.0)
    with pytest.raises(CodecError, match="Pilot"):
        encode_object(too_far)
    with pytest.raises(CodecError, match="gw-1"):
        encode_base_station(BaseStation("gw-1", 0.0, health={"not json": object()}))


@pytest.mark.parametrize("data", [b"", b"X123", b"P\x00", b"T" + bytes(10), b"G" + bytes(30) + b"\xff"])
def test_bytes_that_are_not_ours_raise_codec_error(data: bytes) -> None:
    with pytest.raises(CodecError):
        decode_object(data)


def test_broken_changes_points_and_stations_raise_codec_error() -> None:
    for decode in (
        lambda: decode_change(1, b"\x09"),
        lambda: decode_point(b"short"),
        lambda: decode_base_station(b"{"),
    ):
        with pytest.raises(CodecError):
            decode()
