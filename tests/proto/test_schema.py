"""The client API schema (proto/fanet.proto) against the compatibility contract, and its generated module.

Map clients already decode these messages, so a field or enum value that changes number breaks them silently on
the wire. The tables below restate the contract (and our additions, fixed once clients use them) in protobuf's
own notation; the tests compare them with the descriptors of the committed ``fanet.proto.fanet_pb2``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor

from fanet.proto import fanet_pb2 as pb

REPO = Path(__file__).resolve().parents[2]
GENERATOR = REPO / "scripts" / "gen_proto.py"

CONTRACT_MESSAGES: dict[str, tuple[str, ...]] = {
    "GeoPoint": ("double latitude = 1", "double longitude = 2", "int32 altitude = 3"),
    "Bounds": ("GeoPoint southwest = 1", "GeoPoint northeast = 2"),
    "Pilot": (
        "uint32 addr = 1",
        "string name = 2",
        "PilotType type = 3",
        "GeoPoint position = 4",
        "int32 altitude = 5",
        "float speed = 6",
        "float climb = 7",
        "float course = 8",
        "int64 last_update = 9",
        "bool track_online = 10",
        "uint32 battery = 11",
    ),
    "GroundObject": (
        "uint32 addr = 1",
        "string name = 2",
        "GroundType type = 3",
        "GeoPoint position = 4",
        "bool track_online = 5",
        "int64 last_update = 6",
    ),
    "Thermal": (
        "uint64 id = 1",
        "uint32 addr = 2",
        "GeoPoint position = 3",
        "int32 altitude = 4",
        "uint32 quality = 5",
        "float climb = 6",
        "float wind_speed = 7",
        "float wind_heading = 8",
        "int64 timestamp = 9",
    ),
    "Station": (
        "uint32 addr = 1",
        "string name = 2",
        "GeoPoint position = 3",
        "float temperature = 4",
        "float wind_speed = 5",
        "float wind_heading = 6",
        "float wind_gusts = 7",
        "uint32 humidity = 8",
        "float pressure = 9",
        "uint32 battery = 10",
        "int64 last_update = 11",
    ),
    "TrackPoint": (
        "GeoPoint position = 1",
        "int32 altitude = 2",
        "float speed = 3",
        "float climb = 4",
        "int64 timestamp = 5",
    ),
    "Track": (
        "uint32 addr = 1",
        "repeated TrackPoint points = 2",
        "int64 start_time = 3",
        "int64 end_time = 4",
    ),
    "SnapshotResponse": (
        "repeated Pilot pilots = 1",
        "repeated GroundObject ground_objects = 2",
        "repeated Thermal thermals = 3",
        "repeated Station stations = 4",
        "uint64 sequence = 5",
    ),
    "PilotsResponse": ("repeated Pilot pilots = 1",),
    "GroundObjectsResponse": ("repeated GroundObject ground_objects = 1",),
    "ThermalsResponse": ("repeated Thermal thermals = 1",),
    "StationsResponse": ("repeated Station stations = 1",),
    "TrackResponse": ("Track track = 1",),
    "PositionRequest": (
        "GeoPoint position = 1",
        "int32 altitude = 2",
        "float speed = 3",
        "float climb = 4",
        "float course = 5",
        "int64 timestamp = 6",
    ),
    "PositionResponse": ("bool success = 1", "string error = 2"),
    "Update": ("UpdateType type = 1", "Action action = 2", "bytes data = 3", "uint64 sequence = 4"),
    "UpdateBatch": ("repeated Update updates = 1", "int64 timestamp = 2"),
    "SubscribeRequest": ("GeoPoint center = 1", "int32 radius = 2", "uint64 last_sequence = 3"),
    "UnsubscribeRequest": ("string reason = 1",),
    "SubscribeResponse": ("bool success = 1", "string error = 2", "repeated string geohashes = 3"),
    "Welcome": ("uint64 server_time = 1", "uint64 sequence = 2", "string server_version = 3"),
    "Ping": ("int64 timestamp = 1",),
    "Pong": ("int64 timestamp = 1", "int64 server_time = 2"),
    # Our additions: the error body, the WebSocket envelopes and the status page.
    "Error": ("string code = 1", "string message = 2"),
    "ServerMessage": (
        "Welcome welcome = 1",
        "UpdateBatch batch = 2",
        "SubscribeResponse subscribe_response = 3",
        "Pong pong = 4",
        "Error error = 5",
        "Ping ping = 6",
    ),
    "ClientMessage": (
        "SubscribeRequest subscribe = 1",
        "UnsubscribeRequest unsubscribe = 2",
        "Ping ping = 3",
        "Pong pong = 4",
    ),
    "BaseStation": (
        "uint32 addr = 1",
        "string name = 2",
        "GeoPoint position = 3",
        "int64 last_seen = 4",
        "float frames_per_minute = 5",
        "float rssi_avg = 6",
        "float snr_avg = 7",
        "repeated uint32 heard_addrs = 8",
    ),
    "BaseStationsResponse": ("repeated BaseStation stations = 1",),
}

CONTRACT_ENUMS: dict[str, dict[str, int]] = {
    "PilotType": {
        "PILOT_TYPE_UNKNOWN": 0,
        "PILOT_TYPE_PARAGLIDER": 1,
        "PILOT_TYPE_HANG_GLIDER": 2,
        "PILOT_TYPE_BALLOON": 3,
        "PILOT_TYPE_GLIDER": 4,
        "PILOT_TYPE_POWERED": 5,
        "PILOT_TYPE_HELICOPTER": 6,
        "PILOT_TYPE_UAV": 7,
    },
    "GroundType": {
        "GROUND_TYPE_OTHER": 0,
        "GROUND_TYPE_WALKING": 1,
        "GROUND_TYPE_VEHICLE": 2,
        "GROUND_TYPE_BIKE": 3,
        "GROUND_TYPE_BOAT": 4,
        "GROUND_TYPE_NEED_RIDE": 8,
        "GROUND_TYPE_LANDED_WELL": 9,
        "GROUND_TYPE_NEED_TECHNICAL_SUPPORT": 12,
        "GROUND_TYPE_NEED_MEDICAL_HELP": 13,
        "GROUND_TYPE_DISTRESS_CALL": 14,
        "GROUND_TYPE_DISTRESS_CALL_AUTO": 15,
    },
    "UpdateType": {
        "UPDATE_TYPE_PILOT": 0,
        "UPDATE_TYPE_GROUND_OBJECT": 1,
        "UPDATE_TYPE_THERMAL": 2,
        "UPDATE_TYPE_STATION": 3,
    },
    "Action": {"ACTION_ADD": 0, "ACTION_UPDATE": 1, "ACTION_REMOVE": 2},
}

ENVELOPE_ONEOFS: dict[str, tuple[str, ...]] = {
    "ServerMessage": ("welcome", "batch", "subscribe_response", "pong", "error", "ping"),
    "ClientMessage": ("subscribe", "unsubscribe", "ping", "pong"),
}

_SCALAR_NAMES = {
    FieldDescriptor.TYPE_DOUBLE: "double",
    FieldDescriptor.TYPE_FLOAT: "float",
    FieldDescriptor.TYPE_INT32: "int32",
    FieldDescriptor.TYPE_INT64: "int64",
    FieldDescriptor.TYPE_UINT32: "uint32",
    FieldDescriptor.TYPE_UINT64: "uint64",
    FieldDescriptor.TYPE_BOOL: "bool",
    FieldDescriptor.TYPE_STRING: "string",
    FieldDescriptor.TYPE_BYTES: "bytes",
}


def _declaration(field: FieldDescriptor) -> str:
    """A field as the .proto declares it, e.g. ``repeated Pilot pilots = 1`` (types in package fanet.v1)."""
    if field.message_type is not None:
        type_name = field.message_type.name
    elif field.enum_type is not None:
        type_name = field.enum_type.name
    else:
        type_name = _SCALAR_NAMES[field.type]
    repeated = "repeated " if field.is_repeated else ""
    return f"{repeated}{type_name} {field.name} = {field.number}"


def _message(name: str) -> Descriptor:
    return pb.DESCRIPTOR.message_types_by_name[name]


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_proto", GENERATOR)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    return _load_generator()


def test_committed_generated_module_is_not_stale(generator: ModuleType) -> None:
    stale = generator.stale_files()
    assert stale == [], f"regenerate with `make proto`: {[str(p) for p in stale]}"


def test_check_names_the_stale_file_and_fails(
    generator: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert generator.main(["--out", str(tmp_path)]) == 0
    stub = tmp_path / "fanet_pb2.pyi"
    stub.write_text(stub.read_text() + "\n# edited by hand\n")
    capsys.readouterr()

    assert generator.main(["--check", "--out", str(tmp_path)]) == 1

    err = capsys.readouterr().err
    assert "fanet_pb2.pyi is stale" in err
    assert "fanet_pb2.py is stale" not in err
    assert "make proto" in err


def test_generated_files_embed_no_machine_path() -> None:
    for name in ("fanet_pb2.py", "fanet_pb2.pyi"):
        text = (REPO / "proto" / name).read_text()
        assert str(REPO) not in text, name
        assert "# source: fanet/proto/fanet.proto" in text or name.endswith(".pyi")


def test_schema_is_proto3_package_fanet_v1() -> None:
    file_proto = descriptor_pb2.FileDescriptorProto.FromString(pb.DESCRIPTOR.serialized_pb)
    assert file_proto.package == "fanet.v1"
    assert file_proto.syntax == "proto3"


@pytest.mark.parametrize("message_name", sorted(CONTRACT_MESSAGES))
def test_message_keeps_contract_field_numbers(message_name: str) -> None:
    declared = {_declaration(field) for field in _message(message_name).fields}
    missing = [spec for spec in CONTRACT_MESSAGES[message_name] if spec not in declared]
    assert missing == [], f"{message_name} declares {sorted(declared)}"


@pytest.mark.parametrize("enum_name", sorted(CONTRACT_ENUMS))
def test_enum_keeps_contract_values(enum_name: str) -> None:
    enum = pb.DESCRIPTOR.enum_types_by_name[enum_name]
    declared = {value.name: value.number for value in enum.values}
    assert {name: declared.get(name) for name in CONTRACT_ENUMS[enum_name]} == CONTRACT_ENUMS[enum_name]


@pytest.mark.parametrize("envelope", sorted(ENVELOPE_ONEOFS))
def test_envelope_is_one_oneof_named_message(envelope: str) -> None:
    descriptor = _message(envelope)
    assert [oneof.name for oneof in descriptor.oneofs] == ["message"]
    members = [field.name for field in descriptor.oneofs_by_name["message"].fields]
    assert members == list(ENVELOPE_ONEOFS[envelope])
    assert {field.name for field in descriptor.fields} == set(members)


def test_server_message_with_pilot_update_round_trips() -> None:
    pilot = pb.Pilot(
        addr=0x110B90,
        name="Anna",
        type=pb.PILOT_TYPE_PARAGLIDER,
        position=pb.GeoPoint(latitude=46.5, longitude=15.6, altitude=1830),
        altitude=1830,
        speed=32.5,
        climb=-1.5,
        course=270.0,
        last_update=1_750_000_000,
        track_online=True,
        battery=80,
    )
    update = pb.Update(
        type=pb.UPDATE_TYPE_PILOT,
        action=pb.ACTION_UPDATE,
        data=pilot.SerializeToString(),
        sequence=42,
    )
    sent = pb.ServerMessage(batch=pb.UpdateBatch(updates=[update], timestamp=1_750_000_001))

    received = pb.ServerMessage.FromString(sent.SerializeToString())

    assert received == sent
    assert received.WhichOneof("message") == "batch"
    (got,) = received.batch.updates
    assert (got.type, got.action, got.sequence) == (pb.UPDATE_TYPE_PILOT, pb.ACTION_UPDATE, 42)
    assert pb.Pilot.FromString(got.data) == pilot


def test_client_message_with_subscribe_round_trips() -> None:
    sent = pb.ClientMessage(
        subscribe=pb.SubscribeRequest(
            center=pb.GeoPoint(latitude=46.5, longitude=15.6), radius=50, last_sequence=41
        )
    )

    received = pb.ClientMessage.FromString(sent.SerializeToString())

    assert received.WhichOneof("message") == "subscribe"
    assert received == sent
