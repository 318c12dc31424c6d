"""Remote configuration frames (type 6): every sub-type, removal, reply features, truncation."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fanet.proto import (
    Frame,
    FrameError,
    FrameType,
    decode_frame,
    encode_frame,
    encode_header,
    encode_payload,
)
from fanet.proto._compressed import COMPRESSED_STEP_DEG, Point
from fanet.proto._dict import frame_to_dict
from fanet.proto._landmark import WindSectors
from fanet.proto._remote_config import (
    ConfigAck,
    ConfigPosition,
    ConfigRequest,
    Geofence,
    RemoteConfig,
    ReplyFeature,
)
from fanet.proto._text import Name
from fanet.proto._tracking import GroundTracking

SOURCE = 0xFB1234
HEADER = encode_header(FrameType.REMOTE_CONFIG, SOURCE, dest=0x010203, signature=0xDEADBEEF)
START = len(HEADER)
POSITION = bytes.fromhex("ecb741a9a509")  # 46.208656, 13.566358

LAT_HALF_STEP = 0.5 / 93206 + 1e-12
LON_HALF_STEP = 0.5 / 46603 + 1e-12
HEADING_HALF_STEP = 360 / 256 / 2 + 1e-9

altitudes = st.integers(-450, 5900)
winds = st.integers(0, 255).map(WindSectors.from_mask)


def decode(payload: bytes) -> Frame:
    return decode_frame(HEADER + payload)


def roundtrip(config: RemoteConfig) -> RemoteConfig:
    frame = decode_frame(encode_frame(Frame(SOURCE, config, dest=0x010203)))
    assert frame.trailing == b""
    payload: RemoteConfig = frame.payload
    return payload


@st.composite
def geofence_points(draw: st.DrawFn) -> list[Point]:
    """Vertices each less than 0.5° from the one before."""
    lat, lon = draw(st.floats(-85.0, 85.0)), draw(st.floats(-179.0, 179.0))
    out = [Point(lat, lon)]
    for _ in range(draw(st.integers(0, 7))):
        lat += draw(st.floats(-0.49, 0.49))
        lon = min(max(lon + draw(st.floats(-0.49, 0.49)), -179.5), 179.5)
        out.append(Point(lat, lon))
    return out


# --- acknowledge, request, reserved, unknown -----------------------------------------------------


@given(st.integers(0, 255))
def test_acknowledge_and_request_carry_one_subtype(subtype: int) -> None:
    assert roundtrip(RemoteConfig(0, ConfigAck(subtype))) == RemoteConfig(0, ConfigAck(subtype))
    assert roundtrip(RemoteConfig(1, ConfigRequest(subtype))) == RemoteConfig(1, ConfigRequest(subtype))


def test_acknowledge_prints_as_a_nested_object() -> None:
    got = frame_to_dict(decode(bytes((0, 9))))
    assert got["type_name"] == "remote_config"
    assert got["remote_config"] == {"subtype": 0, "body": {"acknowledged_subtype": 9}}


@pytest.mark.parametrize("subtype", [3, 34, 200, 255])
def test_reserved_and_undefined_subtypes_keep_their_bytes(subtype: int) -> None:
    for body in (b"", b"\x01\x02\x03"):
        frame = decode(bytes((subtype,)) + body)
        assert frame.payload == RemoteConfig(subtype, body)
        assert frame.trailing == b""
        assert roundtrip(frame.payload) == frame.payload


# --- position ------------------------------------------------------------------------------------


def test_position_reads_altitude_like_landmarks_and_heading_like_tracking() -> None:
    frame = decode(bytes((2,)) + POSITION + bytes((0xE7, 64, 0xAA)))
    p = frame.payload.body
    assert isinstance(p, ConfigPosition)
    assert p.lat == pytest.approx(46.208656, abs=1e-5)
    assert p.lon == pytest.approx(13.566358, abs=1e-5)
    assert p.altitude_m == (-25 + 109) * 25
    assert p.heading_deg == 90.0
    assert frame.trailing == b"\xaa"


@given(st.floats(-90, 90), st.floats(-180, 180), altitudes, st.floats(0, 359.9))
def test_position_roundtrips_within_one_step(lat: float, lon: float, altitude: int, heading: float) -> None:
    got = roundtrip(RemoteConfig(2, ConfigPosition(lat, lon, altitude, heading))).body
    assert isinstance(got, ConfigPosition)
    assert abs(got.lat - lat) <= LAT_HALF_STEP
    assert abs(got.lon - lon) <= LON_HALF_STEP
    assert abs(got.altitude_m - altitude) <= 12.5
    assert abs((got.heading_deg - heading + 180) % 360 - 180) <= HEADING_HALF_STEP


def test_position_altitude_clamps() -> None:
    high = roundtrip(RemoteConfig(2, ConfigPosition(0.0, 0.0, 20_000, 0.0))).body
    low = roundtrip(RemoteConfig(2, ConfigPosition(0.0, 0.0, -20_000, 0.0))).body
    assert isinstance(high, ConfigPosition) and isinstance(low, ConfigPosition)
    assert (high.altitude_m, low.altitude_m) == (5900, -450)


# --- geofences -----------------------------------------------------------------------------------


@given(st.integers(4, 8), altitudes, altitudes, geofence_points())
def test_geofence_roundtrips_within_one_step(
    subtype: int, bottom: int, top: int, points: list[Point]
) -> None:
    got = roundtrip(RemoteConfig(subtype, Geofence(bottom, top, tuple(points))))
    assert got.subtype == subtype
    fence = got.body
    assert isinstance(fence, Geofence)
    assert abs(fence.altitude_bottom_m - bottom) <= 12.5
    assert abs(fence.altitude_top_m - top) <= 12.5
    assert not fence.truncated
    assert len(fence.points) == len(points)
    assert abs(fence.points[0].lat - points[0].lat) <= LAT_HALF_STEP
    assert abs(fence.points[0].lon - points[0].lon) <= LON_HALF_STEP
    for g, s in zip(fence.points[1:], points[1:], strict=True):
        assert abs(g.lat - s.lat) <= COMPRESSED_STEP_DEG
        assert abs(g.lon - s.lon) <= COMPRESSED_STEP_DEG


def test_geofence_altitudes_clamp() -> None:
    fence = roundtrip(RemoteConfig(4, Geofence(-1000, 100_000, (Point(46.0, 13.0),)))).body
    assert isinstance(fence, Geofence)
    assert (fence.altitude_bottom_m, fence.altitude_top_m) == (-450, 5900)


def test_geofence_needs_a_position() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        encode_frame(Frame(SOURCE, RemoteConfig(5, Geofence(0, 100, ()))))


# --- broadcast reply features --------------------------------------------------------------------


def test_reply_feature_keeps_the_payload_raw_and_decodes_it() -> None:
    frame = decode(bytes((9, 0x81, 0x42)) + b"Tolmin Takeoff")
    config = frame.payload
    assert config.subtype == 9
    feature = config.body
    assert isinstance(feature, ReplyFeature)
    assert feature.wind_sectors == WindSectors(0x81, ("N", "NW"))
    assert (feature.payload_type, feature.forward) == (FrameType.NAME, True)
    assert feature.data == b"Tolmin Takeoff"
    assert feature.payload == Name("Tolmin Takeoff")
    assert frame.trailing == b""
    assert encode_frame(frame) == HEADER + bytes((9, 0x81, 0x42)) + b"Tolmin Takeoff"
    printed = frame_to_dict(frame)["remote_config"]["body"]
    assert printed["payload"] == {"name": "Tolmin Takeoff"}
    assert printed["data"] == b"Tolmin Takeoff".hex().upper()


@pytest.mark.parametrize("payload_type", [FrameType.AIR_TRACKING, FrameType.REMOTE_CONFIG, 0x3F])
def test_reply_feature_payload_it_cannot_decode_stays_raw(payload_type: int) -> None:
    frame = decode(bytes((20, 0x00, payload_type)) + b"\x01\x02")  # too short for tracking
    feature = frame.payload.body
    assert isinstance(feature, ReplyFeature)
    assert (feature.payload_type, feature.data, feature.payload) == (payload_type, b"\x01\x02", None)


@given(st.integers(9, 33), winds, st.booleans(), st.text(max_size=30).map(lambda t: t.replace("\0", "")))
def test_reply_feature_carrying_a_record_roundtrips(
    subtype: int, wind: WindSectors, forward: bool, name: str
) -> None:
    feature = ReplyFeature.carrying(Name(name), wind, forward=forward)
    assert feature.payload_type == FrameType.NAME
    assert roundtrip(RemoteConfig(subtype, feature)) == RemoteConfig(subtype, feature)


def test_reply_feature_carrying_ground_tracking() -> None:
    record = GroundTracking(46.0, 13.0, 9, True)
    feature = ReplyFeature.carrying(record, WindSectors.from_names("S"))
    got = roundtrip(RemoteConfig(10, feature)).body
    assert isinstance(got, ReplyFeature)
    assert isinstance(got.payload, GroundTracking)
    assert got.payload.ground_type == 9
    with pytest.raises(TypeError):
        ReplyFeature.carrying(object(), WindSectors.from_mask(1))


@pytest.mark.parametrize("subtype", [2, 4, 8, 9, 21, 33])
def test_an_empty_body_removes_the_setting(subtype: int) -> None:
    frame = decode(bytes((subtype,)))
    assert frame.payload == RemoteConfig(subtype, None)
    assert frame.payload.removes
    assert encode_frame(frame) == HEADER + bytes((subtype,))
    assert frame_to_dict(frame)["remote_config"] == {"subtype": subtype}


def test_a_body_that_does_not_fit_the_subtype_is_an_error() -> None:
    for config in (
        RemoteConfig(1, ConfigAck(3)),
        RemoteConfig(0, None),
        RemoteConfig(3, ConfigPosition(0.0, 0.0, 0, 0.0)),
        RemoteConfig(40, Geofence(0, 0, (Point(0.0, 0.0),))),
        RemoteConfig(8, b"\x00"),
    ):
        with pytest.raises(ValueError, match="does not fit"):
            encode_frame(Frame(SOURCE, config))


# --- truncation ----------------------------------------------------------------------------------

EXAMPLES = [
    RemoteConfig(0, ConfigAck(9)),
    RemoteConfig(1, ConfigRequest(4)),
    RemoteConfig(2, ConfigPosition(46.2, 13.5, 1200, 270.0)),
    RemoteConfig(3, b"\x01\x02"),
    RemoteConfig(6, Geofence(0, 3000, (Point(46.0, 13.0), Point(46.3, 13.2), Point(46.1, 13.4)))),
    RemoteConfig(9, ReplyFeature.carrying(Name("Kobala"), WindSectors.from_names("SW", "W"))),
    RemoteConfig(99, b"\x01\x02\x03"),
]


@pytest.mark.parametrize("config", EXAMPLES, ids=lambda c: str(c.subtype))
def test_truncation_at_every_byte_raises_only_frame_error(config: RemoteConfig) -> None:
    payload = encode_payload(config)
    for cut in range(len(payload)):
        try:
            frame = decode(payload[:cut])
        except FrameError as error:
            assert error.offset >= START
            continue
        assert frame.payload.subtype == config.subtype
        assert encode_frame(frame) == HEADER + payload[:cut]


def test_a_geofence_cut_inside_a_compressed_position_is_flagged() -> None:
    config = EXAMPLES[4]
    payload = encode_payload(config)
    with pytest.raises(FrameError, match="geofence"):
        decode(payload[:8])  # altitudes, then half the first position
    frame = decode(payload[:-2])
    fence = frame.payload.body
    assert isinstance(fence, Geofence)
    assert fence.truncated
    assert len(fence.points) == 2
    assert frame.trailing == payload[-4:-2]


@given(st.binary(max_size=40))
def test_any_bytes_decode_or_raise_frame_error_and_re_encode_stably(data: bytes) -> None:
    try:
        frame = decode(data)
    except FrameError:
        return
    frame_to_dict(frame)
    once = encode_frame(frame)
    assert encode_frame(decode_frame(once)) == once
