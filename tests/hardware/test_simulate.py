"""The simulator: deterministic, realistic traffic, and a bundled capture whose header tells the truth."""

import itertools
import re
import subprocess
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fanet.firmware_bridge import FrameReceived, parse_line
from fanet.hardware import Capture, Direction, bundled_captures, bundled_flights, read_capture, simulate
from fanet.hardware._flight import Track
from fanet.hardware._traffic import choose_window, tracking_interval_s
from fanet.proto import (
    AirTracking,
    Frame,
    GroundTracking,
    GroundType,
    Name,
    Service,
    Thermal,
    decode_frame,
    format_address,
)

BUNDLED = Path(__file__).parents[2] / "hardware" / "captures" / "simulated-10min-seed1.jsonl"
# As the module prints it: hex without zero padding (no leading 0 unless the value is 0), upper-case payload.
FNF_LINE = re.compile(
    r"#FNF (0|[1-9A-F][0-9A-F]?),(0|[1-9A-F][0-9A-F]{0,3}),1,0,([1-9A-F]),([1-9A-F][0-9A-F]?),((?:[0-9A-F]{2})+)"
)


@pytest.fixture(scope="module")
def bundled() -> Capture:
    return read_capture(BUNDLED)


def frame_lines(capture: Capture) -> list[tuple[float, str]]:
    """(time of the chunk that ends the line, line) for every line holding ``#FNF``, counted independently
    of the bridge's splitter: join the received bytes, cut at newlines, start at ``#FNF``."""
    found = []
    pending = b""
    for chunk in capture.chunks:
        if chunk.direction is not Direction.RX:
            continue
        pending += chunk.data
        *complete, pending = pending.split(b"\n")
        for raw in complete:
            start = raw.find(b"#FNF")
            if start >= 0:
                found.append((chunk.t, raw[start:].decode("ascii")))
    return found


def frames(capture: Capture) -> list[tuple[float, Frame]]:
    decoded = []
    for t, line in frame_lines(capture):
        event = parse_line(line)
        if isinstance(event, FrameReceived):
            decoded.append((t, decode_frame(event.raw)))
    return decoded


def test_the_bundled_capture_is_what_the_simulator_makes(
    tmp_path: Path, bundled: Capture, fanet_exe: Path
) -> None:
    simulation = bundled.header.extra["simulation"]
    out = tmp_path / "again.jsonl"
    minutes, seed = str(simulation["minutes"]), str(simulation["seed"])
    subprocess.run(
        [str(fanet_exe), "simulate", "--out", str(out), "--minutes", minutes, "--seed", seed],
        check=True,
        capture_output=True,
        timeout=60,
    )
    assert out.read_bytes() == BUNDLED.read_bytes(), (
        "the bundled capture is stale: regenerate it with "
        "`uv run fanet simulate --minutes 10 --seed 1 --out hardware/captures/simulated-10min-seed1.jsonl`"
    )
    assert BUNDLED in bundled_captures()
    assert BUNDLED.stat().st_size < 1_000_000


def test_same_seed_same_capture_other_seed_other_traffic() -> None:
    flights = bundled_flights()
    first = simulate(flights, minutes=2, seed=5)
    assert simulate(flights, minutes=2, seed=5) == first
    assert simulate(flights, minutes=2, seed=6).chunks != first.chunks


def test_header_counts_match_the_lines(bundled: Capture) -> None:
    expected = bundled.header.extra["expected"]
    lines = frame_lines(bundled)
    good = frames(bundled)
    assert len(good) == expected["frames"] == 620
    assert len(lines) - len(good) == expected["corrupt_lines"] == 1
    types = Counter(str(frame.type) for _, frame in good)
    assert dict(types) == expected["frame_types"]
    distress = [f for _, f in good if getattr(f.payload, "ground_type", None) == GroundType.DISTRESS_CALL]
    assert len(distress) == expected["distress_frames"] == 71  # one call, repeated until the end
    assert len({f.source for f in distress}) == expected["distress_calls"] == 1
    received = bundled.data(Direction.RX)
    first_frame = received.index(b"#FNF")
    assert received[first_frame:].count(b"#FNR MSG,1,initialized\n") == expected["reboots"] == 1


def test_frames_are_printed_as_the_module_prints_them(bundled: Capture) -> None:
    for _, line in frame_lines(bundled):
        match = FNF_LINE.fullmatch(line)
        if match is None:
            assert len(line.rsplit(",", 1)[1]) % 2 == 1  # the one corrupt line: a character lost
            continue
        assert int(match[4], 16) * 2 == len(match[5])


def test_the_window_has_all_five_pilots_in_the_air_and_one_landing(bundled: Capture) -> None:
    tracks = [Track(flight) for flight in bundled_flights()]
    start = choose_window(tracks, 10)
    assert datetime.fromtimestamp(start, UTC).strftime("%H:%M") == "13:53"
    assert bundled.header.created == "2024-06-16T13:53:00Z"
    assert max(sum(track.flying(start + t) for track in tracks) for t in range(0, 600, 10)) == 5


def reboot_time(capture: Capture) -> float:
    """When the module printed ``initialized`` again mid-capture."""
    reboot = 0.0
    for chunk in capture.chunks:
        if b"initialized" in chunk.data and chunk.t > 1:
            reboot = chunk.t
    assert reboot > 0.0
    return reboot


def is_distress(frame: Frame) -> bool:
    return getattr(frame.payload, "ground_type", None) == GroundType.DISTRESS_CALL


def test_traffic_follows_the_firmware_intervals(bundled: Capture) -> None:
    by_source: dict[tuple[int, object], list[float]] = defaultdict(list)
    for t, frame in frames(bundled):
        # Tracking is one stream whether in the air or on the ground; the distress reports start a new one.
        kind: object = GroundTracking if isinstance(frame.payload, AirTracking) else type(frame.payload)
        by_source[frame.source, "distress" if is_distress(frame) else kind].append(t)
    reboot = reboot_time(bundled)
    tau = tracking_interval_s(5)
    assert tau == 5
    intervals: dict[object, int] = {GroundTracking: tau, "distress": tau, Name: 240, Service: 40, Thermal: 30}
    checked: Counter[object] = Counter()
    for (_, kind), times in by_source.items():
        interval = intervals[kind]
        # Gaps longer than two intervals: frames lost to the reboot, the corrupt line, or no thermal.
        for a, b in itertools.pairwise(times):
            if b - a < 2 * interval and not a < reboot < b:
                assert interval <= b - a <= interval + 0.3
                checked[kind] += 1
    assert checked[GroundTracking] > 450
    assert checked["distress"] > 60
    assert checked[Name] >= 4
    assert checked[Service] >= 10


def test_the_pilot_in_distress_stays_down_and_repeats_the_call_until_the_end(bundled: Capture) -> None:
    sent = frames(bundled)
    calls = [(t, frame) for t, frame in sent if is_distress(frame)]
    pilot = calls[0][1].source
    assert {frame.source for _, frame in calls} == {pilot}
    assert format_address(pilot) == "07CD62"  # Sara Huber, as the map tests expect
    first = calls[0][0]
    assert 0.3 * 600 <= first <= 0.45 * 600
    own = [(t, frame.payload) for t, frame in sent if frame.source == pilot]
    assert any(isinstance(payload, AirTracking) for t, payload in own if t < first)  # flying until then
    after = [payload for t, payload in own if t >= first]
    # Down: no air tracking or thermals any more, only the call (from where it came down) and the name.
    assert {type(payload) for payload in after} <= {GroundTracking, Name}
    reports = [payload for payload in after if isinstance(payload, GroundTracking)]
    assert all(payload.ground_type == GroundType.DISTRESS_CALL for payload in reports)
    assert len({(payload.lat, payload.lon) for payload in reports}) == 1
    # At the tracking pace to the end of the capture; the only longer gap is the module's reboot.
    times = [t for t, _ in calls]
    reboot = reboot_time(bundled)
    tau = tracking_interval_s(5)
    for a, b in itertools.pairwise(times):
        if not a < reboot < b:
            assert tau <= b - a <= tau + 0.3
    assert times[-1] > 600 - tau - 0.3
    assert len(times) >= (600 - first) / (tau + 0.25) - 2  # the reboot's bootloader costs one or two


def test_the_pilots_fly_land_and_circle_and_the_station_reports(bundled: Capture) -> None:
    payloads = [frame.payload for _, frame in frames(bundled)]
    air = [p for p in payloads if isinstance(p, AirTracking)]
    assert all(1 <= p.speed_kmh <= 80 and -6 <= p.climb_ms <= 6 for p in air)
    assert all(47.1 < p.lat < 47.4 and 8.8 < p.lon < 9.2 for p in air)
    assert len({round(p.altitude_m, -2) for p in air}) > 5
    landed = [
        p for p in payloads if isinstance(p, GroundTracking) and p.ground_type == GroundType.LANDED_WELL
    ]
    assert len(landed) > 50
    thermals = [p for p in payloads if isinstance(p, Thermal)]
    assert thermals and all(p.climb_ms > 1.0 for p in thermals)
    weather = [p for p in payloads if isinstance(p, Service)]
    assert weather and all(p.temperature_c is not None and p.wind_speed_kmh is not None for p in weather)
    names = {p.name for p in payloads if isinstance(p, Name)}
    devices = bundled.header.extra["simulation"]["devices"]
    assert names == {device["name"] for device in devices}
    manufacturers = {int(device["address"][:2], 16) for device in devices}
    assert manufacturers <= {0x01, 0x07, 0x11}


def test_the_line_shows_noise_split_reads_and_a_gateway(bundled: Capture) -> None:
    received = [chunk for chunk in bundled.chunks if chunk.direction is Direction.RX]
    assert any(not chunk.data.isascii() for chunk in received)
    assert any(chunk.data == b"C" for chunk in received)
    assert any(not chunk.data.endswith(b"\n") and b"#FNF" in chunk.data for chunk in received)
    sent = bundled.data(Direction.TX)
    assert sent.count(b"#DGP 1\n") == 2  # at the start and after the reboot
