"""Parameter parsing, pure: query models, bounds, addresses, kinds; the errors name the parameter."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fanet.server.model import Kind
from fanet.server.rest.errors import ApiError, ParameterError
from fanet.server.rest.params import (
    ADDRESS_PATTERN,
    BOUNDS_PATTERN,
    SnapshotQuery,
    ThermalsQuery,
    TrackQuery,
    parse_bounds,
    parse_path_address,
    parse_query,
    snapshot_area,
)
from fanet.server.store import Bounds, Circle


def test_a_snapshot_query_becomes_a_circle_and_kinds() -> None:
    query = parse_query(SnapshotQuery, {"lat": "46.5", "lon": "-7.25", "radius": "200", "unknown": "ignored"})
    area = snapshot_area(query)
    assert area.circle == Circle(46.5, -7.25, 200.0)
    assert area.kinds == (Kind.PILOT, Kind.GROUND, Kind.THERMAL, Kind.STATION)
    assert area.max_age_s is None


def test_types_select_kinds_once_each_in_the_order_given() -> None:
    query = parse_query(
        SnapshotQuery,
        {"lat": "0", "lon": "0", "radius": "1", "types": "thermals,pilots,thermals", "max_age": "60"},
    )
    area = snapshot_area(query)
    assert area.kinds == (Kind.THERMAL, Kind.PILOT) and area.max_age_s == 60


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"lon": "0", "radius": "5"}, "lat: missing (required)"),
        ({"lat": "0", "lon": "0", "radius": "200.5"}, "radius: input should be less than or equal to 200"),
        ({"lat": "0", "lon": "0", "radius": "inf"}, "radius: "),
        ({"lat": "0", "lon": ["1", "2"], "radius": "5"}, "lon: given more than once"),
        ({"lat": "0", "lon": "0", "radius": "5", "types": ""}, "types: "),
    ],
)
def test_a_bad_query_names_the_parameter(args: dict[str, str | list[str]], message: str) -> None:
    with pytest.raises(ParameterError) as raised:
        parse_query(SnapshotQuery, args)
    assert raised.value.status == 400 and raised.value.code == "invalid_parameter"
    assert raised.value.message.startswith(message)


def test_defaults_of_optional_parameters() -> None:
    assert parse_query(TrackQuery, {}).hours == 12
    assert parse_query(ThermalsQuery, {"bounds": "0,0,1,1"}).min_quality is None


@pytest.mark.parametrize(
    ("text", "bounds"),
    [
        ("45.5,5.8,47.9,10.6", Bounds(45.5, 5.8, 47.9, 10.6)),
        ("-90,-180,90,180", Bounds(-90.0, -180.0, 90.0, 180.0)),
        ("-10,170,10,-170", Bounds(-10.0, 170.0, 10.0, -170.0)),  # across the antimeridian
        ("1,1,1,1", Bounds(1.0, 1.0, 1.0, 1.0)),
    ],
)
def test_bounds_are_south_west_then_north_east(text: str, bounds: Bounds) -> None:
    assert parse_bounds(text) == bounds


@pytest.mark.parametrize(
    "text",
    ["", "1,2,3", "1,2,3,4,5", "91,0,92,1", "0,181,1,1", "a,b,c,d", "1e1,0,20,1", " 1,2,3,4", "2,0,1,1"],
)
def test_malformed_bounds_are_refused_naming_bounds(text: str) -> None:
    with pytest.raises(ParameterError) as raised:
        parse_bounds(text)
    assert raised.value.parameter == "bounds"


@given(
    st.floats(-90, 90),
    st.floats(-180, 180),
    st.floats(-90, 90),
    st.floats(-180, 180),
)
def test_every_box_on_the_globe_matches_the_documented_pattern(
    s: float, w: float, n: float, e: float
) -> None:
    south, north = sorted((s, n))
    text = f"{south:.6f},{w:.6f},{north:.6f},{e:.6f}"
    assert re.fullmatch(BOUNDS_PATTERN, text)
    assert parse_bounds(text) == Bounds(*(float(part) for part in text.split(",")))


@pytest.mark.parametrize(
    ("text", "addr"),
    [("110B90", 0x110B90), ("110b90", 0x110B90), ("1117072", 0x110B90), ("42", 42), ("16777215", 0xFFFFFF)],
)
def test_addresses_in_paths_are_hex_or_decimal(text: str, addr: int) -> None:
    assert re.fullmatch(ADDRESS_PATTERN, text)
    assert parse_path_address(text) == addr


@pytest.mark.parametrize("text", ["", "12345G", "-1", "0x1234", "1_000", " 42", "123456789"])
def test_what_is_not_an_address_is_a_bad_parameter(text: str) -> None:
    with pytest.raises(ParameterError) as raised:
        parse_path_address(text)
    assert raised.value.parameter == "addr"


def test_a_decimal_beyond_24_bits_names_no_object() -> None:
    with pytest.raises(ApiError) as raised:
        parse_path_address("16777216")
    assert raised.value.status == 404 and raised.value.code == "not_found"
