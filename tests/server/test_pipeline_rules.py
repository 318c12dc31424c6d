"""The pipeline's small pure pieces: validation rules, the standing score, dedupe keys, settings."""

import math

import pytest

from fanet.proto import AircraftType, AirTracking, Frame, decode_frame, encode_frame, encode_header
from fanet.server.model import GroundObject, Pilot, Thermal
from fanet.server.pipeline import Deduplicator, PipelineSettings, Reason, dedupe_key, is_gone, is_stale
from fanet.server.pipeline.validate import (
    API_STATION,
    Validator,
    check_address,
    check_altitude,
    check_move,
    check_position,
    check_time,
    reserved_address,
)

S = PipelineSettings()
T0 = 1_750_000_000.0


@pytest.mark.parametrize(
    ("addr", "reserved"),
    [
        (0x110B90, False),
        (0xFB0042, False),
        (0x000001, True),
        (0xFF0001, True),
        (0x110000, True),
        (0x11FFFF, True),
    ],
)
def test_reserved_manufacturers_and_ids(addr: int, reserved: bool) -> None:
    assert reserved_address(addr) is reserved


@pytest.mark.parametrize(
    ("addr", "station", "reason"),
    [
        (0xFF0001, API_STATION, None),
        (0xFFFFFE, API_STATION, None),
        (0x110B90, "alpha", None),
        (0xFF0001, "alpha", Reason.RESERVED_ADDRESS),
        (0xFF0001, "api", Reason.RESERVED_ADDRESS),
        (0xFF0000, API_STATION, Reason.RESERVED_ADDRESS),
        (0xFFFFFF, API_STATION, Reason.RESERVED_ADDRESS),
        (0x000001, API_STATION, Reason.RESERVED_ADDRESS),
    ],
)
def test_user_addresses_only_from_the_api_station(addr: int, station: str, reason: Reason | None) -> None:
    assert check_address(addr, station) is reason
    assert Validator(S).check_report(addr, station, T0, T0) is reason


@pytest.mark.parametrize(
    ("timestamp", "reason"),
    [
        (T0, None),
        (T0 - 300, None),
        (T0 + 30, None),
        (T0 - 300.5, Reason.TOO_OLD),
        (T0 + 30.5, Reason.IN_FUTURE),
        (math.nan, Reason.TOO_OLD),
        (math.inf, Reason.IN_FUTURE),
        (-math.inf, Reason.TOO_OLD),
    ],
)
def test_timestamps_against_now(timestamp: float, reason: Reason | None) -> None:
    assert check_time(timestamp, T0, 300, 30) == reason


@pytest.mark.parametrize(
    ("lat", "lon", "reason"),
    [
        (46.2, 13.6, None),
        (0.0, 13.6, None),  # the equator is a place
        (0.0, 0.0, Reason.NULL_POSITION),
        (0.0004, -0.0009, Reason.NULL_POSITION),
        (90.5, 0.0, Reason.POSITION_OUT_OF_RANGE),
        (10.0, -180.0001, Reason.POSITION_OUT_OF_RANGE),
    ],
)
def test_positions(lat: float, lon: float, reason: Reason | None) -> None:
    assert check_position(lat, lon, S.null_island_deg) == reason


def test_altitudes() -> None:
    assert check_altitude(8188, -500, 10_000) is None
    assert check_altitude(10_001, -500, 10_000) == Reason.ALTITUDE_OUT_OF_RANGE
    assert check_altitude(-501, -500, 10_000) == Reason.ALTITUDE_OUT_OF_RANGE


def test_moves_allow_the_type_speed_plus_slack() -> None:
    # 80 km/h for 10 s (+2 s slack) is 267 m, plus 200 m of GPS slack: 467 m.
    north_m = 0.0042 * 111_195  # ≈ 467 m
    assert check_move(46.0, 13.0, None, T0, 46.0041, 13.0, None, T0 + 10, 80, S) is None
    assert check_move(46.0, 13.0, None, T0, 46.0043, 13.0, None, T0 + 10, 80, S) == Reason.TOO_FAST
    assert 460 < north_m < 470
    # Reports out of order by a little count as no time at all, not as negative time.
    assert check_move(46.0, 13.0, None, T0, 46.001, 13.0, None, T0 - 3, 80, S) is None


def test_vertical_moves_only_when_both_reports_have_an_altitude() -> None:
    assert check_move(46.0, 13.0, 1000, T0, 46.0, 13.0, 1700, T0 + 10, 80, S) is None  # 50 m/s × 12 s + 100
    assert check_move(46.0, 13.0, 1000, T0, 46.0, 13.0, 1701, T0 + 10, 80, S) == Reason.TOO_STEEP
    assert check_move(46.0, 13.0, None, T0, 46.0, 13.0, 9000, T0 + 10, 80, S) is None


def test_the_score_rises_falls_and_has_hysteresis() -> None:
    v = Validator(S)
    position = v.position
    assert position(1, 46.0, 13.0, 1000, T0, T0, 80) is None
    st = v.standings[1]
    assert (st.score, st.visible) == (1, False)
    position(1, 46.0001, 13.0, 1000, T0 + 1, T0 + 1, 80)
    assert (st.score, st.visible) == (2, True)
    assert position(1, 47.0, 13.0, 1000, T0 + 2, T0 + 2, 80) == Reason.TOO_FAST
    assert (st.score, st.visible) == (0, True)  # below appear, not below disappear: still shown
    for i in range(10):
        position(1, 46.0002 + i * 0.0001, 13.0, 1000, T0 + 3 + i, T0 + 3 + i, 80)
    assert st.score == S.score_max


def test_a_distress_report_is_visible_at_once_even_after_a_jump() -> None:
    v = Validator(S)
    assert v.position(1, 46.0, 13.0, None, T0, T0, 200, urgent=True) is None
    assert v.standings[1].visible
    assert v.position(1, 47.0, 13.0, None, T0 + 1, T0 + 1, 200, urgent=True) is None
    assert v.standings[1].lat == 47.0


def test_the_dedupe_key_ignores_forward_bits_and_padding() -> None:
    frame = encode_frame(Frame(0x110B90, AirTracking(46.2, 13.6, AircraftType.PARAGLIDER, 1800, 36, 1.5, 90)))
    forwarded = bytes((frame[0] | 0x40,)) + frame[1:]
    padded = forwarded + b"\x00" * 12
    assert dedupe_key(frame) is frame  # nothing to mask: no copy
    assert dedupe_key(forwarded) == dedupe_key(padded, 12) == frame
    # Extended header: the geo-forwarded bit is a repeater's too, the rest of the header is not.
    ext = encode_header(1, 0x110B90, geo_forwarded=True) + frame[4:]
    plain_ext = encode_header(1, 0x110B90, ack=1) + frame[4:]
    assert dedupe_key(ext) != dedupe_key(plain_ext)
    assert dedupe_key(bytes((ext[0] | 0x40,)) + ext[1:]) == dedupe_key(
        ext[:4] + bytes((ext[4] & ~0x08,)) + ext[5:]
    )
    assert decode_frame(ext).geo_forwarded


def test_the_deduplicator_remembers_a_window_and_no_longer() -> None:
    d = Deduplicator(3.0, 1000)
    assert not d.seen(b"a", 0.0)
    assert d.seen(b"a", 2.9)
    assert not d.seen(b"a", 3.0)  # a new report with the same bytes
    assert d.seen(b"a", 5.9)
    for i in range(100):
        d.seen(bytes((i,)), 10.0 + i * 0.1)
    d.evict(100.0)
    d.evict(110.0)
    assert len(d) == 0


def test_the_deduplicator_is_bounded_in_entries() -> None:
    d = Deduplicator(3.0, 100)
    for i in range(10_000):
        d.seen(i.to_bytes(4, "little"), 0.0)
    assert len(d) <= 100


@pytest.mark.parametrize(
    "change",
    [
        {"appear_score": 0},
        {"disappear_score": 3},
        {"score_initial": 9},
        {"dedupe_window_s": 0},
        {"pilot_gone_after_s": -1},
        {"max_speed_kmh": {AircraftType.PARAGLIDER: 80.0}},
        {"signal_average_weight": 0.0},
        {"min_altitude_m": 20_000},
    ],
)
def test_inconsistent_settings_name_the_setting(change: dict[str, object]) -> None:
    name = next(iter(change))
    with pytest.raises(ValueError, match=name.split("_")[0]):
        PipelineSettings(**change)  # type: ignore[arg-type]


def test_stale_and_gone() -> None:
    pilot = Pilot(1, 46.0, 13.0, 1000, AircraftType.PARAGLIDER, 30, 1, 90, True, T0)
    assert not is_stale(pilot, T0 + 300, S) and is_stale(pilot, T0 + 301, S)
    assert not is_gone(pilot, T0 + 1800, S) and is_gone(pilot, T0 + 1801, S)
    walker = GroundObject(1, 46.0, 13.0, 1, True, T0)
    assert not is_stale(walker, T0 + 1000, S)
    thermal = Thermal(1, 1, 46.0, 13.0, 1500, 5, 2.0, 10.0, 240.0, T0)
    assert is_gone(thermal, T0 + 1201, S) and not is_gone(thermal, T0 + 1199, S)
