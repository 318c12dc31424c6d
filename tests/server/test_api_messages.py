"""The world model as the client API's messages: units, enums, the JSON mirror, and the update framing."""

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fanet.proto import AircraftType, GroundType
from fanet.proto import fanet_pb2 as pb
from fanet.server.api import messages
from fanet.server.api.updates import PendingUpdate, UpdateCodec
from fanet.server.model import (
    Action,
    BaseStation,
    GroundObject,
    Kind,
    Pilot,
    Thermal,
    TrackPoint,
    WeatherStation,
)

T0 = 1_750_000_000.7
PILOT = Pilot(0x110B90, 46.5, 8.25, 2100, AircraftType.HANG_GLIDER, 42.0, 1.5, 270.0, True, T0, "Ana", 87.6)


def test_a_pilot_keeps_km_h_and_its_address_as_the_24_bit_number() -> None:
    message = messages.pilot_message(PILOT)
    assert message.addr == 0x110B90
    assert message.type == pb.PILOT_TYPE_HANG_GLIDER
    assert (message.position.latitude, message.position.longitude, message.position.altitude) == (
        46.5,
        8.25,
        2100,
    )
    assert (message.altitude, message.speed, message.climb, message.course) == (2100, 42.0, 1.5, 270.0)
    assert (message.last_update, message.track_online, message.battery, message.name) == (
        int(T0),
        True,
        88,
        "Ana",
    )


def test_thermal_and_station_wind_is_converted_to_m_s() -> None:
    thermal = Thermal(9, 0x110B90, 46.0, 8.0, 1800, 5, 2.5, 36.0, 200.0, T0)
    message = messages.thermal_message(thermal)
    assert message.wind_speed == pytest.approx(10.0) and message.wind_heading == 200.0 and message.id == 9
    station = WeatherStation(0xFB0001, 46.0, 8.0, T0, "Pass", 12.5, 180.0, 18.0, 27.0, 65.4, 1013.2, None)
    message_s = messages.station_message(station)
    assert message_s.wind_speed == pytest.approx(5.0) and message_s.wind_gusts == pytest.approx(7.5)
    assert (message_s.humidity, message_s.battery) == (65, 0)
    assert message_s.pressure == pytest.approx(1013.2)


def test_an_unknown_station_value_is_the_zero_that_means_not_reported() -> None:
    message = messages.station_message(WeatherStation(1, 46.0, 8.0, T0))
    assert (message.temperature, message.wind_speed, message.humidity, message.battery) == (0, 0, 0, 0)


def test_ground_types_undefined_in_fanet_pass_as_numbers() -> None:
    assert messages.ground_message(GroundObject(1, 46.0, 8.0, GroundType.DISTRESS_CALL, True, T0)).type == 14
    assert messages.ground_message(GroundObject(1, 46.0, 8.0, 6, True, T0)).type == 6


def test_the_json_mirror_uses_proto_field_names_enum_names_and_prints_zeros() -> None:
    mirror = messages.to_dict(messages.pilot_message(PILOT))
    assert mirror["type"] == "PILOT_TYPE_HANG_GLIDER"
    assert mirror["track_online"] is True and mirror["last_update"] == str(int(T0))
    empty = messages.to_dict(pb.Pilot())
    assert empty["battery"] == 0 and empty["name"] == ""


def test_track_and_snapshot() -> None:
    points = [TrackPoint(46.0, 8.0, 1000, 30.0, 1.0, T0), TrackPoint(46.1, 8.0, 1100, 31.0, 0.5, T0 + 5)]
    track = messages.track_message(0x110B90, points)
    assert (track.start_time, track.end_time, len(track.points)) == (int(T0), int(T0) + 5, 2)
    snapshot = messages.snapshot_response([PILOT, WeatherStation(1, 46.0, 8.0, T0)], 42)
    assert (len(snapshot.pilots), len(snapshot.stations), snapshot.sequence) == (1, 1, 42)


def test_a_base_station_carries_every_figure_of_its_record() -> None:
    record = BaseStation(
        "gw-lj", T0, 1200, 7.5, -96.25, 6.5, (0x110B91, 0x110B90), 46.05, 14.5,
        {"version": "1.0", "module": {"address": "FB00A1", "version": "202404"}},
    )  # fmt: skip
    message = messages.base_station_message(record)
    assert (message.addr, message.name, message.last_seen) == (0xFB00A1, "gw-lj", int(T0))
    assert (message.position.latitude, message.position.longitude) == (46.05, 14.5)
    assert message.frames_per_minute == 7.5 and list(message.heard_addrs) == [0x110B91, 0x110B90]
    assert (message.rssi_avg, message.snr_avg) == (-96.25, 6.5)
    mirror = messages.to_dict(message)
    assert mirror["heard_addrs"] == [0x110B91, 0x110B90] and mirror["last_seen"] == str(int(T0))


@pytest.mark.parametrize(
    ("station_id", "health", "addr"),
    [
        ("FB0042", {}, 0xFB0042),  # FlyBeeper stations are named by their module's address
        ("fb0042", {"state": "offline"}, 0xFB0042),
        ("FB0042", {"module": {"address": "110B90"}}, 0x110B90),  # the report names the module
        ("gw-lj", {"module": {"address": None, "state": "booting"}}, 0),
        ("gw-lj", {"module": "FB00A1"}, 0),
        ("FB004", {}, 0),
        ("FB0042G", {}, 0),
    ],
)
def test_a_base_station_address_is_its_module_address_when_known(
    station_id: str, health: dict[str, object], addr: int
) -> None:
    assert messages.base_station_message(BaseStation(station_id, T0, health=health)).addr == addr


def test_a_base_station_without_figures_has_zeros_and_no_position() -> None:
    message = messages.base_station_message(BaseStation("gw", T0, lat=46.0))
    assert not message.HasField("position")
    assert (message.rssi_avg, message.snr_avg, message.frames_per_minute, len(message.heard_addrs)) == (
        0,
        0,
        0,
        0,
    )
    assert messages.base_station_message(BaseStation("gw", -math.inf)).last_seen == 0


def update(action: Action = Action.ADD, sequence: int = 7, obj: Pilot | None = PILOT) -> PendingUpdate:
    return PendingUpdate(Kind.PILOT, str(PILOT.addr), action, sequence, obj)


def test_a_hand_framed_batch_is_the_message_protobuf_would_build() -> None:
    codec = UpdateCodec()
    updates = [update(Action.ADD, 7), update(Action.REMOVE, 9, None)]
    frame = codec.batch(updates, 1_750_000_000, as_json=False)
    assert isinstance(frame, bytes)
    expected = pb.ServerMessage(
        batch=pb.UpdateBatch(
            updates=[
                pb.Update(
                    type=pb.UPDATE_TYPE_PILOT,
                    action=pb.ACTION_ADD,
                    data=messages.pilot_message(PILOT).SerializeToString(),
                    sequence=7,
                ),
                pb.Update(
                    type=pb.UPDATE_TYPE_PILOT,
                    action=pb.ACTION_REMOVE,
                    data=pb.Pilot(addr=PILOT.addr).SerializeToString(),
                    sequence=9,
                ),
            ],
            timestamp=1_750_000_000,
        )
    )
    assert frame == expected.SerializeToString()


def test_the_json_batch_embeds_the_object_itself() -> None:
    text = UpdateCodec().batch([update()], 1_750_000_000, as_json=True)
    assert isinstance(text, str)
    batch = json.loads(text)["batch"]
    assert batch["timestamp"] == "1750000000"
    [entry] = batch["updates"]
    assert (entry["type"], entry["action"], entry["sequence"]) == ("UPDATE_TYPE_PILOT", "ACTION_ADD", "7")
    assert entry["data"] == messages.to_dict(messages.pilot_message(PILOT))


STATION = WeatherStation(0x1F0001, 47.0, 9.0, T0, "Kamor", 4.5)


@given(
    kind_and_obj=st.sampled_from(
        [(Kind.PILOT, PILOT), (Kind.PILOT, None), (Kind.STATION, STATION), (Kind.GROUND, None)]
    ),
    action=st.sampled_from(Action),
    sequence=st.sampled_from([0, 1, 127, 128, 16383, 16384]) | st.integers(0, 2**64 - 1),
)
def test_an_update_on_the_wire_is_what_protobuf_writes(
    kind_and_obj: tuple[Kind, Pilot | WeatherStation | None], action: Action, sequence: int
) -> None:
    kind, obj = kind_and_obj
    pending = PendingUpdate(kind, "1117072", action, sequence, obj)
    codec = UpdateCodec()
    expected = pb.UpdateBatch(
        updates=[
            pb.Update(
                type=messages.UPDATE_TYPES[kind],
                action=action.value,  # type: ignore[arg-type]
                data=codec.data(pending),
                sequence=sequence,
            )
        ]
    ).SerializeToString()
    assert codec.wire(pending) == expected


def test_one_change_is_encoded_once_however_many_clients_get_it() -> None:
    codec = UpdateCodec()
    first, second = update(Action.ADD), update(Action.UPDATE)  # one change, two client-relative actions
    assert codec.data(first) is codec.data(second)
    assert codec.wire(first) is codec.wire(first)
    assert codec.data_json(first) is codec.data_json(second)


def test_the_data_cache_is_bounded() -> None:
    codec = UpdateCodec(capacity=3)
    for sequence in range(10):
        codec.data(update(sequence=sequence))
    assert len(codec._data) == 3


def test_a_batch_holds_at_most_100_updates() -> None:
    with pytest.raises(ValueError, match="at most 100"):
        UpdateCodec().batch([update()] * 101, 0, as_json=False)


def test_server_messages() -> None:
    assert messages.welcome(T0, 5, "1.2").welcome.server_time == int(T0)
    assert messages.subscribe_response(["u0m"]).subscribe_response.success
    refused = messages.subscribe_response(error="radius").subscribe_response
    assert not refused.success and refused.error == "radius"
    assert messages.error("invalid_parameter", "radius").error.code == "invalid_parameter"
    assert json.loads(messages.encode(messages.pong(5, 1.5), as_json=True)) == {
        "pong": {"timestamp": "5", "server_time": "1500"}
    }


def moving(obj: Pilot = PILOT, sequence: int = 7) -> PendingUpdate:
    return PendingUpdate(Kind.PILOT, str(obj.addr), Action.UPDATE, sequence, obj, moving=True)


def test_a_pilot_update_on_the_wire() -> None:
    """The issue's target is ≤ 40 bytes. The whole update cannot reach it (the contract's doubles and
    fixed fields make a pilot ≈ 60); the compact one does, for a pilot far from the equator with a
    24-bit address and a sequence ≈ 37 hours into the stream at 2,000 changes a second."""
    busy = Pilot(0xFB1234, -46.12345, -123.45678, 4321, AircraftType.PARAGLIDER, 45.3, -3.2, 359.5, True, T0)
    codec = UpdateCodec()
    assert len(codec.wire(moving(busy, 2**28))) > 60
    assert len(codec.motion_wire(moving(busy, 2**28), int(T0) + 1)) <= 40


@given(
    lat=st.floats(-90, 90),
    lon=st.floats(-180, 180),
    altitude=st.integers(-500, 12_000),
    speed=st.floats(0, 400),
    climb=st.floats(-30, 30),
    course=st.floats(0, 360, exclude_max=True),
    age=st.integers(-5, 3600),
)
def test_a_pilot_motion_carries_the_pilot_to_its_units(
    lat: float, lon: float, altitude: int, speed: float, climb: float, course: float, age: int
) -> None:
    pilot = Pilot(
        0x110B90, lat, lon, altitude, AircraftType.GLIDER, speed, climb, course, True, T0, "Ana", 50
    )
    stamp = int(T0) + age
    motion = pb.Update.FromString(UpdateCodec().motion_wire(moving(pilot), stamp)[2:]).motion
    before = pb.Pilot(addr=PILOT.addr, name="Ana", type=pb.PILOT_TYPE_GLIDER, battery=50, track_online=True)
    moved = messages.apply_motion(before, motion, stamp)
    whole = messages.pilot_message(pilot)
    assert (moved.addr, moved.name, moved.type, moved.battery, moved.track_online) == (
        whole.addr,
        "Ana",
        whole.type,
        50,
        True,
    )
    assert moved.position.latitude == pytest.approx(lat, abs=0.5e-5)
    assert moved.position.longitude == pytest.approx(lon, abs=0.5e-5)
    assert moved.altitude == moved.position.altitude == altitude
    assert moved.speed == pytest.approx(whole.speed, abs=0.051)
    assert moved.climb == pytest.approx(whole.climb, abs=0.051)
    assert (moved.course - whole.course + 0.051) % 360 < 0.102
    assert moved.last_update == whole.last_update


def test_a_compact_batch_sends_moving_updates_as_motion_and_the_rest_whole() -> None:
    codec = UpdateCodec()
    updates = [moving(), update(Action.UPDATE, 8), update(Action.REMOVE, 9, None)]
    frame = codec.batch(updates, int(T0), as_json=False, compact=True)
    assert isinstance(frame, bytes)
    sent = pb.ServerMessage.FromString(frame).batch.updates
    assert [u.HasField("motion") for u in sent] == [True, False, False]
    assert (sent[0].action, sent[0].sequence, sent[0].data) == (pb.ACTION_UPDATE, 7, b"")
    assert codec.batch(updates, int(T0), as_json=False) == UpdateCodec().batch(
        [update(Action.UPDATE, 7), *updates[1:]], int(T0), as_json=False
    )  # a client that did not ask gets the moving update whole


def test_a_motion_is_encoded_once_a_second_and_whole_when_its_age_does_not_fit() -> None:
    codec, pending = UpdateCodec(), moving()
    assert codec.motion_wire(pending, int(T0)) is codec.motion_wire(pending, int(T0))
    assert codec.motion_wire(pending, int(T0) + 1) != codec.motion_wire(pending, int(T0))
    assert codec.motion_wire(pending, 2**33) == codec.wire(pending)  # a batch stamped by a clock gone wrong
