"""The pipeline end to end on real encoded frames: dedupe, validation against phantoms, the live world."""

import pytest

from fanet.proto import (
    AircraftType,
    AirTracking,
    Frame,
    GroundTracking,
    GroundType,
    Message,
    Name,
    ReceivedFrame,
    Service,
    encode_frame,
)
from fanet.proto import Thermal as ThermalReport
from fanet.server.model import Action, ApplyBatch, GroundObject, Kind, Pilot, WeatherStation
from fanet.server.pipeline import API_STATION, Pipeline, PipelineSettings, Reason, Skip

T0 = 1_750_000_000.0
PILOT = 0x110B90
WALKER = 0x200C9E
STATION = 0xFB0042


def heard(
    payload: object, addr: int = PILOT, t: float = T0, station: str = "alpha", *, forward: bool = False
) -> ReceivedFrame:
    """A frame as station ``station`` received it at ``t`` (RSSI −90, SNR 7)."""
    return ReceivedFrame(station, t, -90, 7, encode_frame(Frame(addr, payload, forward)))


def air(
    lat: float = 46.20,
    lon: float = 13.60,
    altitude_m: int = 1800,
    kind: AircraftType = AircraftType.PARAGLIDER,
) -> AirTracking:
    return AirTracking(lat, lon, kind, altitude_m, 36.0, 1.5, 90.0, True)


def actions(batch: ApplyBatch) -> list[tuple[Kind, Action]]:
    return [(c.kind, c.action) for c in batch.changes]


def visible_pilot(p: Pipeline, addr: int = PILOT, t: float = T0) -> float:
    """Two consistent reports: the pilot is on the map. Returns the time of the second."""
    p.process(heard(air(), addr, t), t)
    assert actions(p.process(heard(air(46.2001), addr, t + 1), t + 1)) == [(Kind.PILOT, Action.ADD)]
    return t + 1


def check_counters(p: Pipeline) -> None:
    s = p.stats
    assert s.received == s.decoded + s.undecodable == sum(s.received_by_station.values())
    assert s.decoded == s.duplicates + s.accepted + sum(s.rejected.values()) + sum(s.ignored.values())


# --- deduplication -------------------------------------------------------------------------------


def test_a_frame_heard_by_two_stations_is_applied_once_and_counted_for_both() -> None:
    p = Pipeline()
    t = visible_pilot(p) + 1
    first = p.process(heard(air(46.2002), t=t, station="alpha"), t + 0.2)
    second = p.process(heard(air(46.2002), t=t, station="bravo"), t + 0.4)
    assert actions(first) == [(Kind.PILOT, Action.UPDATE)]
    assert second.changes == () and second.track_points == ()
    assert p.stats.duplicates == 1
    assert p.stats.received_by_station == {"alpha": 3, "bravo": 1}
    records = {r.station_id: r for r in first.base_stations + second.base_stations}
    assert records["bravo"].frames == 1 and records["bravo"].heard == (PILOT,)
    assert records["bravo"].rssi_avg == -90 and records["bravo"].snr_avg == 7
    check_counters(p)


def test_a_repeaters_copy_with_the_forward_bit_cleared_is_the_same_frame() -> None:
    p = Pipeline()
    t = visible_pilot(p) + 1
    assert p.process(heard(air(46.2002), t=t, forward=True), t).changes
    assert not p.process(heard(air(46.2002), t=t, station="bravo", forward=False), t + 1).changes
    assert p.stats.duplicates == 1


def test_the_same_bytes_after_the_window_are_a_new_report() -> None:
    p = Pipeline()
    t = visible_pilot(p) + 1
    p.process(heard(air(46.2002), t=t), t)
    assert actions(p.process(heard(air(46.2002), t=t + 4), t + 4)) == [(Kind.PILOT, Action.UPDATE)]
    assert p.stats.duplicates == 0


# --- proving, phantoms, hysteresis ---------------------------------------------------------------


def test_a_new_pilot_appears_only_after_a_second_consistent_report() -> None:
    p = Pipeline()
    first = p.process(heard(air(), t=T0), T0)
    assert first.changes == () and first.track_points == ()
    assert p.stats.held == 1 and not p.is_visible(PILOT)
    second = p.process(heard(air(46.2003), t=T0 + 2), T0 + 2)
    assert actions(second) == [(Kind.PILOT, Action.ADD)]
    # The report that was held joins the track when the pilot appears.
    assert [point.timestamp for _, point in second.track_points] == [T0, T0 + 2]
    pilot = second.changes[0].obj
    assert isinstance(pilot, Pilot) and pilot.lat == pytest.approx(46.2003, abs=1e-4)


def test_with_appear_score_at_the_initial_score_a_single_report_shows_a_pilot() -> None:
    p = Pipeline(PipelineSettings(appear_score=1))
    assert actions(p.process(heard(air(), t=T0), T0)) == [(Kind.PILOT, Action.ADD)]


def test_a_phantom_jump_is_rejected_and_counted_and_the_pilot_stays() -> None:
    p = Pipeline()
    t = visible_pilot(p) + 1
    phantom = p.process(heard(air(47.2), t=t), t)  # 110 km in a second
    assert phantom.changes == () and phantom.track_points == ()
    assert p.stats.rejected[Reason.TOO_FAST] == 1
    assert p.world.pilots[PILOT].lat == pytest.approx(46.2001, abs=1e-4)
    assert actions(p.process(heard(air(46.2004), t=t + 1), t + 1)) == [(Kind.PILOT, Action.UPDATE)]
    check_counters(p)


def test_a_phantom_just_within_reach_is_replaced_by_the_next_report() -> None:
    p = Pipeline()
    t = visible_pilot(p)  # at 46.2001, 13.6
    east = 13.6 + 410 / (111_195 * 0.6921)  # 410 m east: within 8 s at 80 km/h plus slack
    assert p.process(heard(air(46.2001, east), t=t + 8), t + 8).changes  # taken for real
    # The pilot is back where it was a second later: the phantom was the odd one out.
    batch = p.process(heard(air(46.2001, 13.6001), t=t + 9), t + 9)
    assert actions(batch) == [(Kind.PILOT, Action.UPDATE)]
    assert p.world.pilots[PILOT].lon == pytest.approx(13.6001, abs=1e-4)
    assert sum(p.stats.rejected.values()) == 0
    assert p.process(heard(air(46.2001, 13.6002), t=t + 10), t + 10).changes


def test_an_altitude_jump_is_rejected() -> None:
    p = Pipeline()
    t = visible_pilot(p) + 1
    assert not p.process(heard(air(46.2002, altitude_m=7000), t=t), t).changes
    assert p.stats.rejected[Reason.TOO_STEEP] == 1


def test_the_speed_limit_depends_on_the_aircraft_type() -> None:
    # 1.2 km in 10 s (430 km/h): too fast for a paraglider (80 km/h), not for a powered aircraft
    # (400 km/h, with 2 s and 200 m of slack).
    for kind, accepted in ((AircraftType.PARAGLIDER, False), (AircraftType.POWERED, True)):
        p = Pipeline()
        p.process(heard(air(kind=kind), t=T0), T0)
        p.process(heard(air(46.2001, kind=kind), t=T0 + 1), T0 + 1)
        batch = p.process(heard(air(46.2001 + 0.0108, kind=kind), t=T0 + 11), T0 + 11)
        assert bool(batch.changes) is accepted, kind


def test_an_address_heard_once_never_appears_and_is_forgotten() -> None:
    p = Pipeline()
    p.process(heard(air(), addr=0x123456, t=T0), T0)
    assert not p.is_visible(0x123456)
    p.expire(T0 + 60)
    assert 0x123456 in p.world.validator.standings
    p.expire(T0 + 601)
    assert 0x123456 not in p.world.validator.standings


def test_repeated_implausible_reports_hide_a_pilot_and_the_new_position_proves_itself() -> None:
    p = Pipeline()
    t = visible_pilot(p)
    for i in range(1, 4):  # score 3 → 5 after two good reports; each bad report costs 2
        p.process(heard(air(46.2001 + i * 0.0001), t=t + i), t + i)
    t += 4
    far = 47.5
    assert not p.process(heard(air(far), t=t), t).changes  # 5 → 3
    assert not p.process(heard(air(far + 0.0001), t=t + 1), t + 1).changes  # 3 → 1
    hidden = p.process(heard(air(far + 0.0002), t=t + 2), t + 2)  # 1 → −1: gone, re-anchored at the new place
    assert actions(hidden) == [(Kind.PILOT, Action.REMOVE)]
    back = p.process(heard(air(far + 0.0003), t=t + 3), t + 3)
    assert actions(back) == [(Kind.PILOT, Action.ADD)]
    assert p.world.pilots[PILOT].lat == pytest.approx(far + 0.0003, abs=1e-4)
    assert p.stats.rejected[Reason.TOO_FAST] == 3


def test_a_null_position_is_rejected_and_costs_standing() -> None:
    p = Pipeline()
    visible_pilot(p)
    p.process(heard(air(0.0, 0.0), t=T0 + 2), T0 + 2)
    assert p.stats.rejected[Reason.NULL_POSITION] == 1
    assert p.world.validator.standings[PILOT].score == 0
    assert p.is_visible(PILOT)


@pytest.mark.parametrize("addr", [0x000B90, 0xFF0B90, 0x110000, 0x11FFFF])
def test_reserved_addresses_are_rejected(addr: int) -> None:
    p = Pipeline(PipelineSettings(appear_score=1))
    assert not p.process(heard(air(), addr=addr, t=T0), T0).changes
    assert not p.process(heard(Name("x"), addr=addr, t=T0), T0).changes
    assert p.stats.rejected[Reason.RESERVED_ADDRESS] == 2
    assert addr not in p.world.validator.standings


def test_user_addresses_are_accepted_from_the_api_station_only() -> None:
    user = 0xFF002A
    p = Pipeline(PipelineSettings(appear_score=1))
    batch = p.process(heard(air(), addr=user, t=T0, station=API_STATION), T0)
    assert actions(batch) == [(Kind.PILOT, Action.ADD)] and batch.changes[0].obj.addr == user
    assert [addr for addr, _ in batch.track_points] == [user]
    assert not p.process(heard(air(46.2001), addr=user, t=T0 + 1, station="alpha"), T0 + 1).changes
    assert not p.process(heard(Name("Mallory"), addr=user, t=T0 + 2, station="alpha"), T0 + 2).changes
    assert p.stats.rejected[Reason.RESERVED_ADDRESS] == 2 and p.stats.accepted == 1
    assert p.world.pilots[user].lat == pytest.approx(46.20, abs=1e-4) and p.world.pilots[user].name == ""
    check_counters(p)


def test_the_api_station_is_no_base_station() -> None:
    p = Pipeline(PipelineSettings(appear_score=1))
    assert not p.process(heard(air(), addr=0xFF002A, t=T0, station=API_STATION), T0).base_stations
    undecodable = ReceivedFrame(API_STATION, T0, None, None, b"\x01")
    assert not p.process(undecodable, T0).base_stations
    [record] = p.process(heard(air(), t=T0), T0).base_stations
    assert record.station_id == "alpha" and record.heard == (PILOT,)
    assert [r.station_id for r in p.expire(T0 + 60).base_stations] == []
    assert p.stats.received_by_station == {API_STATION: 2, "alpha": 1}


@pytest.mark.parametrize("addr", [0x000B90, 0x110000, 0xFF0000, 0xFFFFFF])
def test_the_api_station_gets_no_other_reserved_address(addr: int) -> None:
    p = Pipeline(PipelineSettings(appear_score=1))
    assert not p.process(heard(air(), addr=addr, t=T0, station=API_STATION), T0).changes
    assert p.stats.rejected[Reason.RESERVED_ADDRESS] == 1 and addr not in p.world.validator.standings


@pytest.mark.parametrize(
    ("received_at", "reason"),
    [
        (T0 - 301, Reason.TOO_OLD),
        (T0 + 31, Reason.IN_FUTURE),
        (float("nan"), Reason.TOO_OLD),
        (0.0, Reason.TOO_OLD),
    ],
)
def test_timestamps_too_old_or_in_the_future_are_rejected(received_at: float, reason: Reason) -> None:
    p = Pipeline(PipelineSettings(appear_score=1))
    assert not p.process(heard(air(), t=received_at), T0).changes
    assert p.stats.rejected[reason] == 1
    # Within the limits the report counts, stamped no later than now.
    batch = p.process(heard(air(46.21), t=T0 + 20), T0)
    assert batch.changes[0].obj.last_update == T0 == batch.changes[0].time


def test_a_report_older_than_the_last_accepted_one_is_out_of_order() -> None:
    p = Pipeline()
    t = visible_pilot(p, t=T0 + 100)
    assert not p.process(heard(air(46.2002), t=t - 10), t + 1).changes
    assert p.stats.rejected[Reason.OUT_OF_ORDER] == 1
    assert p.world.validator.standings[PILOT].score == 2  # the sender is not to blame


# --- distress ------------------------------------------------------------------------------------


def test_a_distress_call_is_shown_at_once_and_urgent() -> None:
    p = Pipeline()
    batch = p.process(
        heard(GroundTracking(46.3, 13.7, GroundType.DISTRESS_CALL, True), addr=WALKER, t=T0), T0
    )
    assert actions(batch) == [(Kind.GROUND, Action.ADD)]
    change = batch.changes[0]
    assert change.urgent and isinstance(change.obj, GroundObject) and change.obj.distress
    # Leaving the distress state is urgent too; an ordinary update afterwards is not.
    ok = p.process(
        heard(GroundTracking(46.3, 13.7, GroundType.LANDED_WELL, True), addr=WALKER, t=T0 + 5), T0 + 5
    )
    assert [c.urgent for c in ok.changes] == [True]
    later = p.process(
        heard(GroundTracking(46.3001, 13.7, GroundType.LANDED_WELL, True), addr=WALKER, t=T0 + 9), T0 + 9
    )
    assert [c.urgent for c in later.changes] == [False]


def test_a_distress_call_far_from_the_last_position_is_still_shown() -> None:
    p = Pipeline()
    t = visible_pilot(p)
    batch = p.process(heard(GroundTracking(46.9, 13.6, GroundType.NEED_MEDICAL_HELP, True), t=t + 1), t + 1)
    assert actions(batch) == [(Kind.PILOT, Action.REMOVE), (Kind.GROUND, Action.ADD)]
    assert batch.changes[1].urgent


def test_rejected_reports_do_not_hide_a_distress_call() -> None:
    p = Pipeline()
    p.process(heard(GroundTracking(46.3, 13.7, GroundType.DISTRESS_CALL_AUTO, True), addr=WALKER, t=T0), T0)
    for i in range(1, 6):  # the device lost its GPS fix
        lost = GroundTracking(0.0, 0.0, GroundType.DISTRESS_CALL_AUTO, True)
        assert not p.process(heard(lost, addr=WALKER, t=T0 + 10 * i), T0 + 10 * i).changes
    assert p.stats.rejected[Reason.NULL_POSITION] == 5
    assert WALKER in p.world.ground and p.is_visible(WALKER)


# --- the world: kinds, names, weather ------------------------------------------------------------


def test_a_thermal_far_from_its_reporter_is_rejected() -> None:
    p = Pipeline()
    t = visible_pilot(p)
    far = ThermalReport(46.4, 13.6, 5, 1500, 2.0, 10.0, 240.0)  # 22 km from the pilot
    assert not p.process(heard(far, t=t + 5), t + 5).changes
    assert p.stats.rejected[Reason.FAR_FROM_REPORTER] == 1
    near = far._replace(lat=46.21)
    assert actions(p.process(heard(near, t=t + 6), t + 6)) == [(Kind.THERMAL, Action.ADD)]
    # From an address nobody has seen, a thermal is taken as it comes.
    assert p.process(heard(far, addr=WALKER, t=t + 7), t + 7).changes


def test_a_pilot_who_lands_becomes_a_ground_object() -> None:
    p = Pipeline()
    t = visible_pilot(p)
    batch = p.process(heard(GroundTracking(46.2001, 13.6, GroundType.LANDED_WELL, True), t=t + 3), t + 3)
    assert actions(batch) == [(Kind.PILOT, Action.REMOVE), (Kind.GROUND, Action.ADD)]
    assert PILOT not in p.world.pilots and PILOT in p.world.ground


def test_a_name_before_the_first_position_is_used_when_the_pilot_appears() -> None:
    p = Pipeline()
    assert not p.process(heard(Name("Tom Payne\x00\x00"), t=T0), T0).changes
    t = visible_pilot(p, t=T0 + 1)
    assert p.world.pilots[PILOT].name == "Tom Payne"
    assert p.stats.accepted == 3
    # The name sticks to later reports too.
    p.process(heard(air(46.2002), t=t + 1), t + 1)
    assert p.world.pilots[PILOT].name == "Tom Payne"


def test_a_name_after_the_first_position_updates_the_pilot() -> None:
    p = Pipeline()
    t = visible_pilot(p)
    batch = p.process(heard(Name("Ana"), t=t + 1), t + 1)
    assert actions(batch) == [(Kind.PILOT, Action.UPDATE)]
    assert p.world.pilots[PILOT].name == "Ana"
    assert not p.process(heard(Name("Ana"), t=t + 5), t + 5).changes  # unchanged name: nothing to tell


def test_an_empty_name_is_ignored() -> None:
    p = Pipeline()
    p.process(heard(Name(" \x01 "), t=T0), T0)
    assert p.stats.ignored[Skip.EMPTY_NAME] == 1


WEATHER = Service(
    lat=46.25,
    lon=13.58,
    temperature_c=12.5,
    wind_heading_deg=241.9,
    wind_speed_kmh=10.0,
    wind_gust_kmh=18.0,
    humidity_pct=60.0,
    pressure_hpa=1013.2,
)


def test_a_service_frame_with_weather_is_a_weather_station() -> None:
    p = Pipeline()
    p.process(heard(Name("SkyNet: Matajur"), addr=STATION, t=T0), T0)
    p.process(heard(WEATHER, addr=STATION, t=T0 + 1), T0 + 1)
    batch = p.process(heard(WEATHER._replace(temperature_c=13.0), addr=STATION, t=T0 + 60), T0 + 60)
    assert actions(batch) == [(Kind.STATION, Action.ADD)]
    station = batch.changes[0].obj
    assert isinstance(station, WeatherStation)
    assert (station.name, station.temperature_c, station.wind_gust_kmh) == ("SkyNet: Matajur", 13.0, 18.0)


def test_a_service_frame_with_only_the_gateway_bit_is_a_beacon_not_a_station() -> None:
    p = Pipeline(PipelineSettings(appear_score=1))
    for beacon in (Service(gateway=True), Service(gateway=True, lat=46.25, lon=13.58)):
        assert not p.process(heard(beacon, addr=STATION, t=T0), T0).changes
    assert p.stats.ignored[Skip.GATEWAY_BEACON] == 2
    assert not p.world.stations
    assert STATION not in p.world.validator.standings


def test_a_battery_report_updates_a_pilot() -> None:
    p = Pipeline()
    t = visible_pilot(p)
    battery = Service(lat=46.2001, lon=13.6, battery_pct=80.0)
    batch = p.process(heard(battery, t=t + 1), t + 1)
    assert actions(batch) == [(Kind.PILOT, Action.UPDATE)]
    assert p.world.pilots[PILOT].battery_pct == 80.0
    p.process(heard(air(46.2002), t=t + 2), t + 2)
    assert p.world.pilots[PILOT].battery_pct == 80.0
    p.process(heard(battery, addr=0x123456, t=t + 3), t + 3)
    assert p.stats.ignored[Skip.SERVICE_WITHOUT_WEATHER] == 1


def test_frames_the_map_does_not_show_are_ignored_and_garbage_is_counted() -> None:
    p = Pipeline()
    p.process(heard(Message("hello"), t=T0), T0)
    p.process(ReceivedFrame("alpha", T0, None, None, b"\x01\x11"), T0)
    assert p.stats.ignored[Skip.MESSAGE] == 1
    assert p.stats.undecodable == 1
    check_counters(p)


def test_unchanged_updates_are_coalesced_when_configured() -> None:
    p = Pipeline(PipelineSettings(min_update_interval_s=10))
    t = visible_pilot(p)
    same = air(46.2001)  # as the report at t, but after the dedupe window
    assert not p.process(heard(same, t=t + 4), t + 4).changes  # nothing but the time changed
    assert p.world.pilots[PILOT].last_update == t + 4  # …but the state has it
    assert p.process(heard(air(46.2002), t=t + 5), t + 5).changes  # a real change goes out
    assert not p.process(heard(air(46.2002), t=t + 9), t + 9).changes
    assert p.process(heard(air(46.2002), t=t + 15), t + 15).changes  # after the interval, a heartbeat


# --- expiry and warm start -----------------------------------------------------------------------


def test_expiry_removes_what_nobody_has_heard_from() -> None:
    p = Pipeline()
    t = visible_pilot(p)
    for i in (-1, 0):
        walking = GroundTracking(46.3 + i * 0.0001, 13.7, GroundType.WALKING, True)
        p.process(heard(walking, addr=WALKER, t=t + i), t + i)
    p.process(heard(GroundTracking(46.3, 13.7, GroundType.DISTRESS_CALL, True), addr=0x200C9F, t=t), t)
    assert p.expire(t + 1799).changes == ()
    batch = p.expire(t + 1801)
    assert sorted(c.key for c in batch.changes) == sorted([str(PILOT), str(WALKER)])
    assert all(c.action == Action.REMOVE and c.time == t + 1801 for c in batch.changes)
    assert not p.world.pilots and PILOT not in p.world.validator.standings
    # A distress call stays much longer: someone may still be waiting for help.
    assert actions(p.expire(t + 6 * 3600 + 1)) == [(Kind.GROUND, Action.REMOVE)]
    # Back after a long silence: it has to prove itself again.
    assert not p.process(heard(air(), t=t + 7 * 3600), t + 7 * 3600).changes


def test_warm_start_continues_without_re_adding() -> None:
    first = Pipeline()
    t = visible_pilot(first)
    first.process(heard(Name("Tom"), t=t), t)
    live = [*first.world.pilots.values()]
    restarted = Pipeline()
    restarted.restore(live)
    batch = restarted.process(heard(air(46.2002), t=t + 30), t + 30)
    assert actions(batch) == [(Kind.PILOT, Action.UPDATE)]
    assert batch.changes[0].obj.name == "Tom"  # type: ignore[union-attr]
    # A phantom right after the restart does not take the pilot off the map.
    assert not restarted.process(heard(air(48.0), t=t + 31), t + 31).changes
    assert restarted.is_visible(PILOT)


def test_restored_objects_that_are_already_gone_are_removed_by_the_next_expiry() -> None:
    p = Pipeline()
    old = Pilot(PILOT, 46.2, 13.6, 1800, AircraftType.PARAGLIDER, 30.0, 1.0, 90.0, True, T0 - 4000)
    p.restore([old])
    assert actions(p.expire(T0)) == [(Kind.PILOT, Action.REMOVE)]


def test_process_many_is_process_frame_by_frame() -> None:
    frames = [heard(air(46.2 + i * 0.0001), t=T0 + i, station=("alpha", "bravo")[i % 2]) for i in range(6)]
    one, many = Pipeline(), Pipeline()
    singles = [change for frame in frames for change in one.process(frame, T0 + 6).changes]
    batch = many.process_many(frames, T0 + 6)
    assert batch.changes == tuple(singles)
    assert one.stats.changes == many.stats.changes and one.stats.accepted == many.stats.accepted == 6
