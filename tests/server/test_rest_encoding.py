"""Responses assembled from cached per-object encodings equal the messages module's; the generated
JSON Schemas accept the JSON mirror; Accept, Accept-Encoding and ETag handling."""

import gzip
import json
from typing import Any

import jsonschema_rs
import pytest
from google.protobuf.message import Message
from werkzeug.datastructures import MIMEAccept
from werkzeug.datastructures.accept import Accept
from werkzeug.http import parse_accept_header

from fanet.proto import AircraftType, GroundType
from fanet.proto import fanet_pb2 as pb
from fanet.server.api.messages import object_message, snapshot_response, to_dict
from fanet.server.api.wire import varint
from fanet.server.model import GroundObject, Kind, LiveObject, Pilot, Thermal, WeatherStation
from fanet.server.rest.encoding import LIST_OF, SNAPSHOT, ObjectEncodings
from fanet.server.rest.negotiate import accepts_gzip, etag_matches, gzip_bytes, wants_protobuf, weak_etag
from fanet.server.rest.schemas import message_schemas

OBJECTS: list[LiveObject] = [
    Pilot(0x110B90, 46.2, 13.6, 1800, AircraftType.PARAGLIDER, 36.0, 1.5, 90.0, True, 1.75e9, "Anna", 80.0),
    Pilot(0x110B91, -33.9, 151.2, 0, AircraftType.OTHER, 0.0, 0.0, 0.0, False, 1.75e9 + 0.6),
    GroundObject(0x200C9E, 46.25, 13.65, GroundType.DISTRESS_CALL, True, 1.75e9, "Bob"),
    GroundObject(0x200C9F, 46.26, 13.66, 6, True, 1.75e9),  # a ground type FANET leaves undefined
    Thermal(0x110B90 << 32 | 7, 0x110B90, 46.21, 13.61, 1900, 5, 2.5, 18.0, 270.0, 1.75e9, 3),
    WeatherStation(0xFB1234, 46.22, 13.62, 1.75e9, "Col", 12.5, 200.0, 18.0, 27.0, 60.0, 1013.0, None),
    WeatherStation(0xFB1235, 46.23, 13.63, 1.75e9),
]


@pytest.mark.parametrize("sequence", [0, 1, 2**40])
def test_a_snapshot_is_byte_for_byte_the_messages_modules(sequence: int) -> None:
    encodings = ObjectEncodings()
    expected = snapshot_response(OBJECTS, sequence)
    assert encodings.protobuf(SNAPSHOT, OBJECTS, sequence) == expected.SerializeToString()
    assert json.loads(encodings.json(SNAPSHOT, OBJECTS, sequence)) == to_dict(expected)


@pytest.mark.parametrize(
    ("kind", "message_type", "field"),
    [
        (Kind.PILOT, pb.PilotsResponse, "pilots"),
        (Kind.GROUND, pb.GroundObjectsResponse, "ground_objects"),
        (Kind.THERMAL, pb.ThermalsResponse, "thermals"),
        (Kind.STATION, pb.StationsResponse, "stations"),
    ],
)
def test_lists_of_one_kind_are_the_contracts_messages(kind: Kind, message_type: Any, field: str) -> None:
    encodings = ObjectEncodings()
    objects = [obj for obj in OBJECTS if type(obj) is {Kind.PILOT: Pilot, Kind.GROUND: GroundObject,
                                                        Kind.THERMAL: Thermal, Kind.STATION: WeatherStation}[kind]]  # fmt: skip
    expected = message_type()
    getattr(expected, field).extend(object_message(obj) for obj in objects)
    assert encodings.protobuf(LIST_OF[kind], objects) == expected.SerializeToString()
    assert json.loads(encodings.json(LIST_OF[kind], objects)) == to_dict(expected)
    assert json.loads(encodings.json(LIST_OF[kind], [])) == {field: []}


def test_an_object_is_encoded_once_and_the_cache_is_bounded() -> None:
    encodings = ObjectEncodings(capacity=3)
    first = encodings.wire(OBJECTS[0])
    assert (
        encodings.wire(Pilot(*(getattr(OBJECTS[0], f) for f in OBJECTS[0].__slots__))) is first
    )  # equal value
    for obj in OBJECTS:
        encodings.wire(obj)
        encodings.text(obj)
    assert len(encodings._wire) == len(encodings._text) == 3


# --- JSON Schemas from the descriptors -----------------------------------------------------------


def _validator(message_type: Any) -> Any:
    name = message_type.DESCRIPTOR.name
    components = message_schemas(message_type.DESCRIPTOR, "#/$defs/")
    return jsonschema_rs.validator_for({"$ref": f"#/$defs/{name}", "$defs": components})


@pytest.mark.parametrize(
    "message",
    [
        snapshot_response(OBJECTS, 123),
        pb.TrackResponse(
            track=pb.Track(addr=1, points=[pb.TrackPoint(timestamp=5)], start_time=5, end_time=5)
        ),
        pb.TrackResponse(),
        pb.BaseStationsResponse(stations=[pb.BaseStation(name="FB0042", heard_addrs=[1, 2])]),
        pb.PositionResponse(success=True),
        pb.Station(addr=1),
    ],
)
def test_the_json_mirror_of_a_message_matches_its_generated_schema(message: Message) -> None:
    validator = _validator(type(message))
    assert validator.is_valid(to_dict(message)), list(validator.iter_errors(to_dict(message)))


def test_the_schema_requires_every_scalar_and_forbids_unknown_fields() -> None:
    validator = _validator(pb.Pilot)
    body = to_dict(object_message(OBJECTS[0]))
    assert validator.is_valid(body)
    assert not validator.is_valid({**body, "extra": 1})
    assert not validator.is_valid({key: value for key, value in body.items() if key != "last_update"})
    assert validator.is_valid(
        {key: value for key, value in body.items() if key != "position"}
    )  # a message field
    assert not validator.is_valid({**body, "last_update": 1750000000})  # int64 is a string in JSON


# --- negotiation -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "protobuf"),
    [
        ("application/x-protobuf", True),
        ("application/protobuf", True),
        ("application/json", False),
        ("*/*", False),
        ("", False),
        ("application/json;q=0.5, application/x-protobuf", True),
        ("application/json, application/x-protobuf;q=0.9", False),
        ("text/html", False),
    ],
)
def test_protobuf_only_when_preferred(accept: str, protobuf: bool) -> None:
    assert wants_protobuf(parse_accept_header(accept, MIMEAccept)) is protobuf


@pytest.mark.parametrize(
    ("accept_encoding", "gzip_ok"),
    [
        ("gzip", True),
        ("br, gzip;q=0.5", True),
        ("gzip;q=0", False),
        ("*", True),
        ("identity", False),
        ("", False),
    ],
)
def test_gzip_when_accepted(accept_encoding: str, gzip_ok: bool) -> None:
    assert accepts_gzip(parse_accept_header(accept_encoding, Accept)) is gzip_ok


def test_etags_compare_weakly_and_star_matches_any() -> None:
    tag = weak_etag(b"body")
    assert tag != weak_etag(b"other")
    assert etag_matches(tag, tag)
    assert etag_matches(tag.removeprefix("W/"), tag)
    assert etag_matches(f'"x", {tag}', tag)
    assert etag_matches("*", tag)
    assert not etag_matches('"x"', tag)
    assert not etag_matches(None, tag)


def test_gzip_bytes_round_trip() -> None:
    assert gzip.decompress(gzip_bytes(b"x" * 10_000, 5)) == b"x" * 10_000


@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 16383, 16384, 2**31, 2**63 - 1, -1, -(2**63)])
def test_varint_matches_what_protobuf_writes(value: int) -> None:
    # PositionRequest's int64 timestamp is a varint behind the tag byte 0x30 (field 6, wire type 0).
    encoded = pb.PositionRequest(timestamp=value).SerializeToString()
    assert encoded == (b"\x30" + varint(value) if value else b"")
