"""IGC parsing and flight analysis: motion from fixes, takeoff and landing, thermals with their drift."""

import math
from datetime import UTC, datetime

import pytest

from fanet.hardware import IgcError, bundled_flights, parse_igc
from fanet.hardware._flight import Track, bearing_deg, distance_m
from fanet.hardware._igc import Fix, Flight

DAY = datetime(2024, 6, 16, tzinfo=UTC).timestamp()
METRES_PER_DEG_LAT = 111_195.0


def b_record(second: int, lat: float, lon: float, altitude: int, valid: str = "A") -> str:
    def part(value: float, width: int) -> str:
        minutes = round(abs(value) * 60000)
        return f"{minutes // 60000:0{width}d}{minutes % 60000:05d}"

    hh, mm, ss = second // 3600, second // 60 % 60, second % 60
    return f"B{hh:02d}{mm:02d}{ss:02d}{part(lat, 2)}N{part(lon, 3)}E{valid}{altitude:05d}{altitude:05d}"


def flight(points: list[tuple[float, float, float]], start_s: int = 12 * 3600) -> Flight:
    fixes = tuple(Fix(DAY + start_s + i, lat, lon, alt) for i, (lat, lon, alt) in enumerate(points))
    return Flight("synthetic", None, fixes)


def test_parses_date_fixes_and_the_extra_position_digits() -> None:
    text = "\n".join(
        [
            "AXXX",
            "HFDTEDATE:160624,01",
            "HFGTYGLIDERTYPE:OZONE  Swift Six",
            "I023636LAD3737LOD",
            "B1110094718238N00856589EA01189011990" + "5" + "7",
            "B1110094718238N00856589EA011890119957",  # the same second again: left out
            "B1110104718239N00856590EV011890119900",  # no 3D fix: left out
            "B1110114718240N00856591EA000000119800",  # no pressure altitude: GNSS
        ]
    )
    parsed = parse_igc(text, "pilot")
    assert parsed.glider == "OZONE Swift Six"
    assert [fix.time - DAY for fix in parsed.fixes] == [40209, 40211]
    first = parsed.fixes[0]
    assert first.lat == pytest.approx(47 + 18.2385 / 60)
    assert first.lon == pytest.approx(8 + 56.5897 / 60)
    assert first.altitude_m == 1199.0
    assert parsed.fixes[1].altitude_m == 1198.0


def test_short_date_header_and_midnight() -> None:
    text = "HFDTE160624\nB2359594718238N00856589EA0100001000\nB0000004718238N00856589EA0100001000\n"
    times = [fix.time for fix in parse_igc(text).fixes]
    assert times[1] - times[0] == 1.0


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("B1110094718238N00856589EA0118901199\n", "before the date"),
        ("HFDTE160624\nBgarbage\n", "not a B record"),
        ("HFDTE160624\n", "no valid fixes"),
    ],
)
def test_bad_logs_are_refused_with_the_line(text: str, reason: str) -> None:
    with pytest.raises(IgcError, match=reason):
        parse_igc(text, "bad")


def test_speed_heading_and_climb_come_from_consecutive_fixes() -> None:
    # 10 m/s due east, climbing 2 m/s: one fix a second.
    lat = 47.3
    step_lon = 10 / (METRES_PER_DEG_LAT * math.cos(math.radians(lat)))
    track = Track(flight([(lat, 8.9 + i * step_lon, 1000 + 2 * i) for i in range(20)]))
    point = track.points[10]
    assert point.speed_kmh == pytest.approx(36.0, abs=0.2)
    assert point.heading_deg == pytest.approx(90.0, abs=0.1)
    assert point.climb_ms == pytest.approx(2.0)
    assert track.at(track.start + 10.5) == point
    assert track.at(track.start - 1) is None


def test_takeoff_and_landing_need_standing_still_around_the_flight() -> None:
    lat, lon = 47.3, 8.9
    still = [(lat, lon, 1200.0)] * 30
    step = 10 / METRES_PER_DEG_LAT
    flying = [(lat + i * step, lon, 1200.0 - i) for i in range(60)]
    landed = [(flying[-1][0], lon, flying[-1][2])] * 30
    track = Track(flight(still + flying + landed))
    assert track.takeoff == pytest.approx(track.start + 25, abs=5)
    assert track.landing == pytest.approx(track.start + 90, abs=6)
    assert not track.flying(track.start + 5)
    assert track.flying(track.start + 60)
    assert track.landed(track.end)

    in_the_air = Track(flight(flying))  # a log that starts and ends in flight
    assert (in_the_air.takeoff, in_the_air.landing) == (None, None)
    assert in_the_air.flying(in_the_air.start) and in_the_air.flying(in_the_air.end)
    assert not in_the_air.landed(in_the_air.end + 100)


def circling(seconds: int, climb_ms: float, drift_east_ms: float) -> list[tuple[float, float, float]]:
    """A 20-second circle of 40 m radius, drifting east, climbing steadily."""
    lat0, lon0 = 47.3, 8.9
    metres_per_deg_lon = METRES_PER_DEG_LAT * math.cos(math.radians(lat0))
    points = []
    for t in range(seconds):
        angle = 2 * math.pi * t / 20
        east = 40 * math.sin(angle) + drift_east_ms * t
        north = 40 * math.cos(angle)
        points.append(
            (lat0 + north / METRES_PER_DEG_LAT, lon0 + east / metres_per_deg_lon, 1000 + climb_ms * t)
        )
    return points


def test_circling_in_a_climb_is_a_thermal_with_its_drift() -> None:
    track = Track(flight(circling(120, climb_ms=2.0, drift_east_ms=2.0)))
    assert track.thermal(track.start + 20) is None  # not a whole window yet
    report = track.thermal(track.start + 100)
    assert report is not None
    assert report.climb_ms == pytest.approx(3.1, abs=0.05)  # the air: the pilot's 2 m/s plus the sink rate
    assert report.quality == 7
    assert report.wind_speed_kmh == pytest.approx(7.2, abs=1.0)
    assert report.wind_heading_deg == pytest.approx(270.0, abs=10.0)  # drifting east: wind from the west
    centre_lon = 8.9 + 2.0 * 90.5 / (METRES_PER_DEG_LAT * math.cos(math.radians(47.3)))
    assert distance_m(report.lat, report.lon, 47.3, centre_lon) < 5  # the last circle's centre


def test_circling_without_climb_or_climbing_straight_is_no_thermal() -> None:
    sinking = Track(flight(circling(90, climb_ms=-1.0, drift_east_ms=0.0)))
    assert all(sinking.thermal(p.time) is None for p in sinking.points)
    lat = 47.3
    straight = Track(flight([(lat + i * 10 / METRES_PER_DEG_LAT, 8.9, 1000 + 2 * i) for i in range(90)]))
    assert all(straight.thermal(p.time) is None for p in straight.points)


def test_bearing_and_distance() -> None:
    assert bearing_deg(47.0, 8.0, 48.0, 8.0) == pytest.approx(0.0)
    assert bearing_deg(47.0, 8.0, 47.0, 7.9) == pytest.approx(270.0, abs=0.1)
    assert distance_m(47.0, 8.0, 48.0, 8.0) == pytest.approx(METRES_PER_DEG_LAT, rel=1e-3)


def test_bundled_flights_hold_the_landing_the_simulation_shows() -> None:
    flights = bundled_flights()
    assert [f.name for f in flights] == [f"2024-06-16-pilot{n}" for n in range(1, 6)]
    tracks = [Track(f) for f in flights]
    landings = [track.landing for track in tracks]
    pilot3 = landings[2]
    assert pilot3 is not None
    assert datetime.fromtimestamp(pilot3, UTC).strftime("%H:%M") == "13:58"
    assert landings[:2] + landings[3:] == [None] * 4  # the others fly on past the trimmed logs
    assert sum(track.thermal(p.time) is not None for track in tracks for p in track.points) > 300
