"""Whatever arrives, the pipeline never raises, its counters add up, and its changes replay to its world."""

import dataclasses

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fanet.proto import (
    AircraftType,
    AirTracking,
    Frame,
    GroundTracking,
    Name,
    ReceivedFrame,
    Service,
    encode_frame,
)
from fanet.proto import Thermal as ThermalReport
from fanet.server.model import Action, ApplyBatch, Kind, LiveObject, key_of, kind_of
from fanet.server.pipeline import Pipeline, PipelineSettings

T0 = 1_750_000_000.0

Model = dict[tuple[Kind, str], LiveObject]


def timeless(obj: LiveObject) -> LiveObject:
    """With change coalescing the world may be ahead of the changes in ``last_update`` alone."""
    return dataclasses.replace(obj, last_update=0.0)


def replay(model: Model, batch: ApplyBatch, exact: bool = True) -> None:
    """Apply a batch the way a store would, checking that every change makes sense."""
    for change in batch.changes:
        key = (change.kind, change.key)
        obj = change.obj if exact else timeless(change.obj)
        if change.action == Action.ADD:
            assert key not in model, f"ADD of {key} already there"
            model[key] = obj
        elif change.action == Action.UPDATE:
            assert key in model, f"UPDATE of {key} not there"
            model[key] = obj
        else:
            assert model.pop(key, None) == obj, f"REMOVE of {key} not as known"


def world_of(p: Pipeline, exact: bool = True) -> Model:
    w = p.world
    objects: list[LiveObject] = [
        *w.pilots.values(),
        *w.ground.values(),
        *w.stations.values(),
        *w.thermals.thermals.values(),
    ]
    return {(kind_of(obj), key_of(obj)): obj if exact else timeless(obj) for obj in objects}


def check_counters(p: Pipeline) -> None:
    s = p.stats
    assert s.received == s.decoded + s.undecodable == sum(s.received_by_station.values())
    assert s.decoded == s.duplicates + s.accepted + sum(s.rejected.values()) + sum(s.ignored.values())
    assert s.held <= s.accepted


stations = st.sampled_from(["alpha", "bravo", "", "ü/#+"])
signal = st.none() | st.integers(-32768, 32767)
arbitrary_frames = st.builds(
    ReceivedFrame,
    stations,
    st.floats(allow_nan=True) | st.floats(T0 - 400, T0 + 400),
    signal,
    signal,
    st.binary(max_size=48),
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(arbitrary_frames, st.floats(0, 5)), max_size=40))
def test_arbitrary_frames_never_raise_and_the_counters_add_up(
    frames: list[tuple[ReceivedFrame, float]],
) -> None:
    p = Pipeline()
    model: Model = {}
    now = T0
    for frame, step in frames:
        now += step
        replay(model, p.process(frame, now))
    replay(model, p.expire(now + 1))
    check_counters(p)
    assert p.stats.received == len(frames)
    assert model == world_of(p)


# Valid frames from a handful of addresses around one place: every rule gets exercised.
addresses = st.sampled_from([0x110B90, 0x110B91, 0x200C9E, 0xFB0042, 0x000001])
lats = st.floats(46.19, 46.21) | st.just(0.0)
lons = st.floats(13.59, 13.61) | st.just(0.0)
payloads = st.one_of(
    st.builds(
        AirTracking,
        lats,
        lons,
        st.sampled_from(AircraftType),
        st.integers(0, 8000),
        st.floats(0, 300),
        st.floats(-20, 20),
        st.floats(0, 359),
        st.booleans(),
        turn_rate_dps=st.none() | st.floats(-60, 60),
        qne_offset_m=st.none(),
    ),
    st.builds(GroundTracking, lats, lons, st.integers(0, 15), st.booleans()),
    st.builds(Name, st.text(max_size=12)),
    st.builds(
        ThermalReport,
        lats,
        lons,
        st.integers(0, 7),
        st.integers(0, 8000),
        st.floats(0, 10),
        st.floats(0, 50),
        st.floats(0, 359),
    ),
    st.builds(
        lambda gateway, lat, lon, temperature: Service(gateway, lat, lon, temperature_c=temperature),
        st.booleans(),
        lats,
        lons,
        st.none() | st.floats(-20, 40),
    ),
    st.builds(
        lambda gateway, lat, lon, battery: Service(gateway, lat, lon, battery_pct=battery),
        st.booleans(),
        lats,
        lons,
        st.floats(0, 100),
    ),
    st.just(Service(gateway=True)),
)
reports = st.tuples(addresses, payloads, stations, st.floats(-10, 40), st.floats(0, 30), st.booleans())


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(reports, max_size=60), st.sampled_from([1, 2, 3]), st.sampled_from([0.0, 5.0]))
def test_valid_reports_replay_to_the_world_and_expire_completely(
    sequence: list[tuple[int, object, str, float, float, bool]], appear: int, coalesce: float
) -> None:
    p = Pipeline(PipelineSettings(appear_score=appear, min_update_interval_s=coalesce))
    exact = not coalesce
    model: Model = {}
    now = T0
    for addr, payload, station, skew, step, batched in sequence:
        now += step
        frame = ReceivedFrame(station, now - skew, -90, 5, encode_frame(Frame(addr, payload)))
        replay(model, p.process_many([frame, frame], now) if batched else p.process(frame, now), exact)
        assert model == world_of(p, exact)
    check_counters(p)
    assert all(obj.last_update <= now for obj in world_of(p).values())
    replay(model, p.expire(now + 86_400), exact)
    assert model == {} == world_of(p)
    assert not p.world.validator.standings
