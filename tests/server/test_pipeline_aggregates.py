"""The pipeline's two aggregations: thermal reports merged into thermals, receptions into base-station figures."""

import pytest

from fanet.proto import Frame, ReceivedFrame, encode_frame
from fanet.proto import Thermal as ThermalReport
from fanet.server.model import Action, BaseStation, Kind, Thermal
from fanet.server.pipeline import Pipeline, PipelineSettings
from fanet.server.pipeline.receivers import Receivers
from fanet.server.pipeline.thermals import ThermalMap

T0 = 1_750_000_000.0
S = PipelineSettings()
M_PER_DEG = 111_195.0


def report(
    lat: float = 46.2, lon: float = 13.6, altitude_m: int = 1500, quality: int = 4, climb: float = 2.0
) -> ThermalReport:
    return ThermalReport(lat, lon, quality, altitude_m, climb, 10.0, 240.0)


def test_nearby_reports_of_one_thermal_merge_into_one_stable_id() -> None:
    m = ThermalMap(S)
    action, first = m.report(0x110B90, report(), T0)
    assert action == Action.ADD and first.id == 0x110B90 << 32 | int(T0) & 0xFFFFFFFF
    action, merged = m.report(
        0x200C9E, report(46.2 + 200 / M_PER_DEG, altitude_m=1650, quality=6, climb=3.0), T0 + 60
    )
    assert action == Action.UPDATE
    assert (merged.id, merged.addr, merged.reports, merged.last_update) == (first.id, 0x200C9E, 2, T0 + 60)
    # Position, altitude, climb and quality are means; wind is the newest report's.
    assert merged.lat == pytest.approx(46.2 + 100 / M_PER_DEG)
    assert (merged.altitude_m, merged.quality, merged.climb_ms) == (1575, 5, 2.5)
    assert len(m.thermals) == 1


@pytest.mark.parametrize(
    ("north_m", "altitude_m", "after_s"),
    [(350, 1500, 60), (0, 1750, 60), (0, 1500, 601)],
    ids=["too far", "too high", "too late"],
)
def test_reports_beyond_the_merge_limits_are_new_thermals(
    north_m: float, altitude_m: int, after_s: float
) -> None:
    m = ThermalMap(S)
    m.report(1, report(), T0)
    action, _ = m.report(1, report(46.2 + north_m / M_PER_DEG, altitude_m=altitude_m), T0 + after_s)
    assert action == Action.ADD and len(m.thermals) == 2


def test_a_report_merges_into_the_nearest_of_two_thermals_across_cells() -> None:
    m = ThermalMap(S)
    _, west = m.report(1, report(46.2, 13.5999, altitude_m=1500), T0)
    _, east = m.report(1, report(46.2, 13.6019, altitude_m=1750), T0 + 1)  # 154 m away, 250 m higher
    assert len(m.thermals) == 2
    # Within the limits of both: 23 m from west across a cell border, 131 m from east.
    _, merged = m.report(2, report(46.2, 13.6002, altitude_m=1625), T0 + 2)
    assert merged.id == west.id != east.id


def test_restored_thermals_keep_their_id_and_merge() -> None:
    first = Pipeline()
    frame = ReceivedFrame("alpha", T0, None, None, encode_frame(Frame(0x110B90, report())))
    added = first.process(frame, T0).changes[0].obj
    assert isinstance(added, Thermal)
    restarted = Pipeline()
    restarted.restore([added])
    again = ReceivedFrame("alpha", T0 + 30, None, None, encode_frame(Frame(0x110B91, report(46.2001))))
    batch = restarted.process(again, T0 + 30)
    assert [(c.kind, c.action, c.key) for c in batch.changes] == [
        (Kind.THERMAL, Action.UPDATE, str(added.id))
    ]
    assert [(c.kind, c.action) for c in restarted.expire(T0 + 30 + 1201).changes] == [
        (Kind.THERMAL, Action.REMOVE)
    ]


# --- base stations -------------------------------------------------------------------------------


def test_base_station_figures() -> None:
    r = Receivers(PipelineSettings(signal_average_weight=0.5, base_station_heard=3))
    for i, (rssi, snr) in enumerate([(-100, 4), (None, None), (-80, 8)]):
        rx = r.reception("alpha", rssi, snr, T0 + i)
    for addr in (1, 2, 1, 3, 4):
        r.heard(rx, addr)
    record = rx.record(T0 + 2, S)
    assert (record.frames, record.last_seen) == (3, T0 + 2)
    assert (record.rssi_avg, record.snr_avg) == (-90.0, 6.0)  # the unknown reception is skipped
    assert record.heard == (4, 3, 1)  # most recent first, each once, bounded
    assert record.frames_per_minute == 3.0


def test_frames_per_minute_is_a_sliding_window() -> None:
    r = Receivers(S)
    for i in range(120):  # two frames a second for a minute
        rx = r.reception("alpha", None, None, T0 + i / 2)
    assert rx.frames_per_minute(T0 + 59.5, 60) == pytest.approx(120, abs=2)
    assert rx.frames_per_minute(T0 + 90, 60) == pytest.approx(60, abs=2)
    r.reception("alpha", None, None, T0 + 200)
    assert rx.frames_per_minute(T0 + 200, 60) == 1.0


def test_base_station_records_go_out_at_most_every_interval() -> None:
    p = Pipeline(PipelineSettings(base_station_interval_s=10))
    records: list[BaseStation] = []
    for i in range(30):
        raw = encode_frame(Frame(0x110B90 + i, report(46.2 + i / 100)))
        records += p.process(ReceivedFrame("alpha", T0 + i, -90, 5, raw), T0 + i).base_stations
    assert [r.last_seen for r in records] == [T0, T0 + 10, T0 + 20]
    assert records[-1].frames == 21
    # Quiet now: expiry sends the last figures once, then nothing until new frames arrive.
    assert [r.frames for r in p.expire(T0 + 40).base_stations] == [30]
    assert p.expire(T0 + 60).base_stations == ()


def test_station_health_is_kept_and_restored_figures_continue() -> None:
    p = Pipeline()
    p.restore([], [BaseStation("alpha", T0 - 100, frames=500, rssi_avg=-95.0, heard=(7, 8))])
    batch = p.station_health("alpha", {"version": "1.2"}, T0, lat=46.1, lon=13.5)
    (record,) = batch.base_stations
    assert (record.frames, record.health, record.lat, record.heard) == (500, {"version": "1.2"}, 46.1, (7, 8))
    raw = encode_frame(Frame(0x110B90, report()))
    (record,) = p.process(ReceivedFrame("alpha", T0 + 20, -85, None, raw), T0 + 20).base_stations
    assert record.frames == 501 and record.health == {"version": "1.2"}
    assert record.rssi_avg == pytest.approx(-94.5)
