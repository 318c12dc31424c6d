"""Landmark frames (type 5): the real truncated frame, every subtype, quantisation and truncation."""

import pytest
from hypothesis import example, given
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
from fanet.proto._compressed import COMPRESSED_STEP_DEG
from fanet.proto._dict import frame_to_dict
from fanet.proto._landmark import (
    SECTOR_NAMES,
    TTL_MIN,
    Landmark,
    LandmarkLayer,
    LandmarkPoint,
    LandmarkSubtype,
    WindSectors,
    encode_ttl,
)

SOURCE = 0xE81412
HEADER = encode_header(FrameType.LANDMARK, SOURCE)
START = len(HEADER)
REAL_PAYLOAD = bytes.fromhex("C4D7FC5CC5227B9B0C22DC")

LAT_HALF_STEP = 0.5 / 93206 + 1e-12
LON_HALF_STEP = 0.5 / 46603 + 1e-12


def decode(payload: bytes) -> Frame:
    return decode_frame(HEADER + payload)


def roundtrip(landmark: Landmark) -> Landmark:
    frame = decode_frame(encode_frame(Frame(SOURCE, landmark)))
    assert frame.trailing == b""
    payload: Landmark = frame.payload
    return payload


def assert_points_close(got: tuple[LandmarkPoint, ...], sent: list[LandmarkPoint]) -> None:
    assert len(got) == len(sent)
    for i, (g, s) in enumerate(zip(got, sent, strict=True)):
        # The first position is absolute (1/93206°, 1/46603° steps), the rest compressed (1/32767°).
        lat_tol, lon_tol = (LAT_HALF_STEP, LON_HALF_STEP) if i == 0 else (COMPRESSED_STEP_DEG,) * 2
        assert abs(g.lat - s.lat) <= lat_tol
        assert abs((g.lon - s.lon + 180.0) % 360.0 - 180.0) <= lon_tol


# --- strategies ----------------------------------------------------------------------------------

ttls = st.sampled_from(sorted(set(TTL_MIN)))
layers = st.sampled_from([*LandmarkLayer, 5, 9, 14])
winds = st.none() | st.integers(0, 255).map(WindSectors.from_mask)
radii = st.integers(0, 50_800)
altitudes = st.integers(-450, 5900)


@st.composite
def paths(draw: st.DrawFn, min_size: int = 1, max_size: int = 8) -> list[tuple[float, float]]:
    """Positions each less than 0.5° from the one before, across the antimeridian if need be."""
    lat = draw(st.floats(-85.0, 85.0))
    lon = draw(st.floats(-180.0, 180.0))
    out = [(lat, lon)]
    for _ in range(draw(st.integers(min_size, max_size)) - 1):
        lat = min(max(lat + draw(st.floats(-0.49, 0.49)), -89.0), 89.0)
        lon = (lon + draw(st.floats(-0.49, 0.49)) + 180.0) % 360.0 - 180.0
        out.append((lat, lon))
    return out


def radius_step(metres: int) -> int:
    """One quantisation step: 50 m, or 400 m once the ×8 scale is needed."""
    return 50 if metres < 127 * 50 + 25 else 400


# --- the real frame ------------------------------------------------------------------------------


def test_real_truncated_filled_area_decodes_its_one_point_and_flags_truncation() -> None:
    raw = HEADER + REAL_PAYLOAD
    frame = decode_frame(raw)

    assert frame.type == FrameType.LANDMARK
    p = frame.payload
    assert isinstance(p, Landmark)
    assert p.subtype is LandmarkSubtype.AREA_FILLED
    assert p.ttl_min == 300  # nibble 0xC: (4 + 1) × 10 min × 6
    assert p.layer == 7  # undefined: stays an int
    assert not isinstance(p.layer, LandmarkLayer)
    assert p.wind_sectors == WindSectors(0xFC, ("E", "SE", "S", "SW", "W", "NW"))
    assert len(p.points) == 1
    assert p.points[0].lat == pytest.approx(24.448, abs=1e-3)
    assert p.points[0].lon == pytest.approx(17.729, abs=1e-3)
    assert p.truncated
    assert p.reserved_bits == 0b110
    assert frame.trailing == bytes.fromhex("22DC")  # half a compressed position
    assert encode_frame(frame) == raw


def test_real_frame_prints_as_a_nested_landmark_object() -> None:
    got = frame_to_dict(decode(REAL_PAYLOAD))
    assert got["type_name"] == "landmark"
    assert got["landmark"]["subtype"] == 4
    assert got["landmark"]["truncated"] is True
    assert got["landmark"]["wind_sectors"] == {"mask": 0xFC, "sectors": ["E", "SE", "S", "SW", "W", "NW"]}
    assert got["trailing_bytes"] == "22DC"


# --- header fields -------------------------------------------------------------------------------


def test_time_to_live_is_nibble_plus_one_times_ten_minutes_bit_three_times_six() -> None:
    assert TTL_MIN[0x0] == 10
    assert TTL_MIN[0x1] == 20
    assert TTL_MIN[0x7] == 80
    assert TTL_MIN[0x8] == 60
    assert TTL_MIN[0xC] == 300
    assert TTL_MIN[0xF] == 8 * 60


def test_time_to_live_encodes_to_the_nearest_value_and_clamps() -> None:
    assert encode_ttl(60) == 0x5  # the finer scale when both can say it
    assert TTL_MIN[encode_ttl(90)] == 80
    assert TTL_MIN[encode_ttl(110)] == 120
    assert encode_ttl(0) == 0x0
    assert encode_ttl(10_000) == 0xF


@given(st.floats(0, 1000, allow_nan=False))
def test_time_to_live_encodes_to_the_nearest_representable_value(minutes: float) -> None:
    assert abs(TTL_MIN[encode_ttl(minutes)] - minutes) == min(abs(v - minutes) for v in TTL_MIN)


def test_layers_and_subtypes_outside_the_protocol_stay_ints() -> None:
    position = bytes.fromhex("5CC5227B9B0C")
    p = decode(bytes((0x01, 0x05)) + position + position[:4]).payload
    assert p.layer == 5
    assert not isinstance(p.layer, LandmarkLayer)
    assert decode(bytes((0x01, 0x0F)) + position).payload.layer is LandmarkLayer.DONT_CARE


@pytest.mark.parametrize("subtype", range(10, 16))
def test_undefined_subtypes_keep_their_element_bytes(subtype: int) -> None:
    payload = bytes((0x30 | subtype, 0x13, 0x81, 1, 2, 3))
    frame = decode(payload)
    p = frame.payload
    assert p.subtype == subtype
    assert p.layer is LandmarkLayer.TOUCH_DOWN
    assert p.ttl_min == 40
    assert p.wind_sectors == WindSectors(0x81, ("N", "NW"))
    assert p.raw_elements == bytes((1, 2, 3))
    assert p.points == ()
    assert frame.trailing == b""
    assert encode_frame(frame) == HEADER + payload


def test_wind_sectors_by_name_and_bearing() -> None:
    sectors = WindSectors.from_names("nw", "N", "SE")
    assert sectors.mask == 0b1000_1001
    assert sectors.sectors == ("N", "SE", "NW")
    assert sectors.bearings_deg == (0, 135, 315)
    assert WindSectors.from_mask(0) == WindSectors(0, ())  # only when there is no wind
    with pytest.raises(ValueError, match="not a wind sector"):
        WindSectors.from_names("NNE")
    assert len(SECTOR_NAMES) == 8


# --- every subtype roundtrips --------------------------------------------------------------------


@given(ttls, layers, winds, paths(max_size=1), st.text(max_size=40))
def test_text_roundtrips(
    ttl: int, layer: int, wind: WindSectors | None, path: list[tuple[float, float]], text: str
) -> None:
    text = text.replace("\0", "")
    sent = Landmark(LandmarkSubtype.TEXT, layer, ttl, (LandmarkPoint(*path[0]),), text, wind_sectors=wind)
    got = roundtrip(sent)
    assert got._replace(points=sent.points) == sent
    assert_points_close(got.points, list(sent.points))


def test_text_is_padded_to_an_even_length_and_the_terminator_is_optional() -> None:
    position = bytes.fromhex("5CC5227B9B0C")
    sent = Landmark(LandmarkSubtype.TEXT, LandmarkLayer.INFO, 10, (LandmarkPoint(24.4, 17.7),), "abc")
    assert encode_frame(Frame(SOURCE, sent)).endswith(b"abc\0")
    assert encode_payload(sent._replace(text="ab"))[8:] == b"ab"

    for tail, text, trailing in [
        (b"ab", "ab", b""),
        (b"abc\0", "abc", b""),
        (b"ab\0\0", "ab", b"\0\0"),
        (b"abc", "abc", b""),
        (b"", "", b""),
    ]:
        frame = decode(bytes((0, 0)) + position + tail)
        assert frame.payload.text == text
        assert frame.trailing == trailing


@pytest.mark.parametrize(
    "subtype",
    [LandmarkSubtype.LINE, LandmarkSubtype.ARROW, LandmarkSubtype.AREA, LandmarkSubtype.AREA_FILLED],
)
@given(ttl=ttls, layer=layers, wind=winds, path=paths())
def test_lines_and_areas_roundtrip(
    subtype: LandmarkSubtype, ttl: int, layer: int, wind: WindSectors | None, path: list[tuple[float, float]]
) -> None:
    points = [LandmarkPoint(lat, lon) for lat, lon in path]
    got = roundtrip(Landmark(subtype, layer, ttl, tuple(points), wind_sectors=wind))
    assert (got.subtype, got.layer, got.ttl_min, got.wind_sectors, got.truncated) == (
        subtype,
        layer,
        ttl,
        wind,
        False,
    )
    assert_points_close(got.points, points)
    assert all(p.radius_m is None and p.altitude_m is None for p in got.points)


@pytest.mark.parametrize("subtype", [LandmarkSubtype.CIRCLE, LandmarkSubtype.CIRCLE_FILLED])
@given(path=paths(), data=st.data())
def test_circles_roundtrip_with_a_radius_each(
    subtype: LandmarkSubtype, path: list[tuple[float, float]], data: st.DataObject
) -> None:
    points = [LandmarkPoint(lat, lon, radius_m=data.draw(radii)) for lat, lon in path]
    got = roundtrip(Landmark(subtype, LandmarkLayer.KEEP_OUT, 60, tuple(points)))
    assert_points_close(got.points, points)
    for g, s in zip(got.points, points, strict=True):
        assert s.radius_m is not None and g.radius_m is not None
        assert abs(g.radius_m - s.radius_m) <= radius_step(s.radius_m)
        assert g.altitude_m is None


@given(path=paths(), data=st.data())
def test_3d_line_roundtrips_with_an_altitude_each(
    path: list[tuple[float, float]], data: st.DataObject
) -> None:
    points = [LandmarkPoint(lat, lon, altitude_m=data.draw(altitudes)) for lat, lon in path]
    got = roundtrip(Landmark(LandmarkSubtype.LINE_3D, LandmarkLayer.WARNING, 480, tuple(points)))
    assert_points_close(got.points, points)
    for g, s in zip(got.points, points, strict=True):
        assert s.altitude_m is not None and g.altitude_m is not None
        assert abs(g.altitude_m - s.altitude_m) <= 12.5
        assert g.radius_m is None


@given(path=paths(min_size=3), bottom=altitudes, top=altitudes)
def test_3d_area_roundtrips_with_one_altitude_band(
    path: list[tuple[float, float]], bottom: int, top: int
) -> None:
    points = [LandmarkPoint(lat, lon) for lat, lon in path]
    got = roundtrip(
        Landmark(LandmarkSubtype.AREA_3D, LandmarkLayer.KEEP_OUT, 120, tuple(points), None, bottom, top)
    )
    assert_points_close(got.points, points)
    assert got.altitude_bottom_m is not None and got.altitude_top_m is not None
    assert abs(got.altitude_bottom_m - bottom) <= 12.5
    assert abs(got.altitude_top_m - top) <= 12.5


@given(path=paths(), bottom=altitudes, top=altitudes, data=st.data())
def test_3d_cylinder_roundtrips_with_radii_and_one_altitude_band(
    path: list[tuple[float, float]], bottom: int, top: int, data: st.DataObject
) -> None:
    points = [LandmarkPoint(lat, lon, radius_m=data.draw(radii)) for lat, lon in path]
    sent = Landmark(LandmarkSubtype.CYLINDER_3D, LandmarkLayer.WARNING, 30, tuple(points), None, bottom, top)
    got = roundtrip(sent)
    assert_points_close(got.points, points)
    for g, s in zip(got.points, points, strict=True):
        assert s.radius_m is not None and g.radius_m is not None
        assert abs(g.radius_m - s.radius_m) <= radius_step(s.radius_m)
    assert got.altitude_bottom_m is not None and got.altitude_top_m is not None
    assert abs(got.altitude_bottom_m - bottom) <= 12.5
    assert abs(got.altitude_top_m - top) <= 12.5


def test_3d_cylinder_band_follows_the_first_radius() -> None:
    sent = Landmark(
        LandmarkSubtype.CYLINDER_3D,
        LandmarkLayer.INFO,
        10,
        (LandmarkPoint(46.0, 13.0, 500), LandmarkPoint(46.1, 13.1, 1000)),
        None,
        1000,
        2500,
    )
    payload = encode_payload(sent)
    assert payload[8:11] == bytes((10, 40 - 109 & 0xFF, 100 - 109 & 0xFF))  # radius, bottom, top
    assert payload[15] == 20  # second radius after the compressed position
    assert len(payload) == 16


# --- clamping ------------------------------------------------------------------------------------


def test_radii_and_altitudes_clamp_at_the_field_limits() -> None:
    sent = Landmark(
        LandmarkSubtype.CYLINDER_3D,
        LandmarkLayer.INFO,
        10,
        (LandmarkPoint(46.0, 13.0, 10_000_000), LandmarkPoint(46.1, 13.1, -5)),
        None,
        -10_000,
        99_999,
    )
    got = roundtrip(sent)
    assert [p.radius_m for p in got.points] == [127 * 400, 0]
    assert (got.altitude_bottom_m, got.altitude_top_m) == (-450, 5900)

    line = roundtrip(Landmark(LandmarkSubtype.LINE_3D, 0, 10, (LandmarkPoint(1.0, 2.0, altitude_m=-600),)))
    assert line.points[0].altitude_m == -450


def test_altitude_byte_is_signed_plus_109_times_25_m() -> None:
    position = bytes.fromhex("5CC5227B9B0C")
    for byte, metres in [(0x81, -450), (0x7F, 5900), (0x00, 2725), (0x80, -475)]:
        p = decode(bytes((0x07, 0x00)) + position + bytes((byte,))).payload
        assert p.points[0].altitude_m == metres


def test_radius_byte_is_fifty_metres_with_an_eightfold_scale() -> None:
    position = bytes.fromhex("5CC5227B9B0C")
    for byte, metres in [(0x01, 50), (0x7F, 6350), (0x81, 400), (0xFF, 50_800)]:
        p = decode(bytes((0x05, 0x00)) + position + bytes((byte,))).payload
        assert p.points[0].radius_m == metres


def test_a_missing_radius_is_an_error_unless_the_record_is_truncated() -> None:
    points = (LandmarkPoint(46.0, 13.0, 500), LandmarkPoint(46.1, 13.1))
    sent = Landmark(LandmarkSubtype.CIRCLE, LandmarkLayer.INFO, 10, points)
    with pytest.raises(ValueError, match=r"points\[1\]\.radius_m"):
        encode_frame(Frame(SOURCE, sent))
    payload = encode_payload(sent._replace(truncated=True))
    assert len(payload) == 2 + 6 + 1 + 4  # stops where the value is missing
    with pytest.raises(ValueError, match="at least one position"):
        encode_frame(Frame(SOURCE, sent._replace(points=())))


# --- truncation ----------------------------------------------------------------------------------

SHAPES = [
    Landmark(
        LandmarkSubtype.AREA, 0, 10, tuple(LandmarkPoint(46.0 + i / 10, 13.0 - i / 10) for i in range(3))
    ),
    Landmark(
        LandmarkSubtype.CIRCLE_FILLED, 0, 10, (LandmarkPoint(46.0, 13.0, 300), LandmarkPoint(46.2, 13.1, 900))
    ),
    Landmark(
        LandmarkSubtype.LINE_3D,
        0,
        10,
        (LandmarkPoint(46.0, 13.0, None, 1500), LandmarkPoint(46.2, 13.1, None, 1600)),
    ),
    Landmark(
        LandmarkSubtype.AREA_3D,
        0,
        10,
        tuple(LandmarkPoint(46.0 + i / 10, 13.0) for i in range(3)),
        None,
        0,
        3000,
    ),
    Landmark(
        LandmarkSubtype.CYLINDER_3D,
        0,
        10,
        (LandmarkPoint(46.0, 13.0, 300), LandmarkPoint(46.2, 13.1, 900)),
        None,
        500,
        3000,
        WindSectors.from_mask(0),
    ),
]


def element_ends(landmark: Landmark) -> tuple[int, list[int]]:
    """Where the first absolute position ends, and where each element ends, in the payload."""
    subtype = landmark.subtype
    position_end = 2 + (landmark.wind_sectors is not None) + 2 * (subtype == LandmarkSubtype.AREA_3D) + 6
    per_point = int(subtype in (5, 6, 7, 9))
    first_end = position_end + per_point + 2 * (subtype == LandmarkSubtype.CYLINDER_3D)
    return position_end, [first_end + i * (4 + per_point) for i in range(len(landmark.points))]


@pytest.mark.parametrize("landmark", SHAPES, ids=lambda p: p.subtype.name)
def test_a_shape_cut_at_any_byte_decodes_what_is_there(landmark: Landmark) -> None:
    payload = encode_payload(landmark)
    full = decode(payload).payload
    position_end, ends = element_ends(landmark)
    assert ends[-1] == len(payload)
    for cut in range(len(payload) + 1):
        if cut < position_end:
            with pytest.raises(FrameError):
                decode(payload[:cut])
            continue
        frame = decode(payload[:cut])
        p = frame.payload
        complete = sum(end <= cut for end in ends)
        assert p.truncated == (cut not in ends)
        assert [point[:2] for point in p.points] == [point[:2] for point in full.points[: max(complete, 1)]]
        if complete:
            assert p.points == full.points[:complete]
            assert frame.trailing == payload[ends[complete - 1] : cut]
        else:
            assert frame.trailing == b""  # the first element's values that arrived are in the record
        # What was cut short is decoded or trailing, never lost: the frame re-encodes to its bytes.
        assert encode_frame(frame) == HEADER + payload[:cut]


def test_a_cylinder_cut_inside_its_first_element_keeps_the_values_that_arrived() -> None:
    payload = encode_payload(SHAPES[-1])
    position_end, _ = element_ends(SHAPES[-1])
    p = decode(payload[: position_end + 2]).payload
    assert p.truncated
    assert (p.points[0].radius_m, p.altitude_bottom_m, p.altitude_top_m) == (300, 500, None)
    assert decode(payload[:position_end]).payload.points[0].radius_m is None


def test_a_text_cut_at_any_byte_decodes_what_is_there() -> None:
    text = Landmark(
        LandmarkSubtype.TEXT,
        0,
        10,
        (LandmarkPoint(46.0, 13.0),),
        "Landing",
        wind_sectors=WindSectors.from_mask(3),
    )
    payload = encode_payload(text)
    for cut in range(len(payload) + 1):
        if cut < 9:
            with pytest.raises(FrameError):
                decode(payload[:cut])
        else:
            assert decode(payload[:cut]).payload.text == "Landing"[: cut - 9]


def test_an_undefined_subtype_needs_only_its_header() -> None:
    payload = bytes((0x0E, 0x10, 0xFF, 1, 2))
    for cut in range(len(payload) + 1):
        if cut < 3:
            with pytest.raises(FrameError):
                decode(payload[:cut])
        else:
            assert decode(payload[:cut]).payload.raw_elements == payload[3:cut]


@given(st.integers(0, 255), st.integers(0, 255), st.binary(max_size=40))
# A text that is not UTF-8 changes length when re-encoded; its trailing bytes must stay apart.
@example(0x60, 0x09, bytes.fromhex("8336aad39ac18d6a1c2c0ebd1ef0a2009acf"))
def test_any_bytes_decode_or_raise_frame_error_and_re_encode_stably(
    head: int, flags: int, data: bytes
) -> None:
    try:
        frame = decode(bytes((head, flags)) + data)
    except FrameError:
        return
    frame_to_dict(frame)
    once = encode_frame(frame)
    assert encode_frame(decode_frame(once)) == once
