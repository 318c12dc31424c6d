"""The expiry sweep by deadline: it finds exactly what the rules say is gone, without a scan."""

import pytest
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
from fanet.server.model import Action, Kind, LiveObject, key_of, kind_of
from fanet.server.pipeline import Pipeline, PipelineSettings, is_gone
from fanet.server.pipeline.deadlines import SPAN_S, Deadlines

T0 = 1_750_000_000.0


def test_due_takes_the_passed_deadlines_earliest_first_and_only_once() -> None:
    d: Deadlines[str] = Deadlines()
    d.set("late", T0 + 100)
    d.set("early", T0 + 3.5)
    d.set("now", T0 + 10)
    assert d.due(T0 + 3.5) == []  # a deadline is passed once ``now`` is after it, as in ``is_gone``
    assert d.due(T0 + 10.001) == ["early", "now"]
    assert d.due(T0 + 10.001) == [] and len(d) == 1 and "late" in d
    assert d.due(T0 + 1000) == ["late"] and len(d) == 0


def test_a_key_set_again_moves_and_a_discarded_key_is_never_due() -> None:
    d: Deadlines[int] = Deadlines()
    d.set(1, T0 + 5)
    d.set(1, T0 + 5 + 3 * SPAN_S)  # another bucket
    d.set(2, T0 + 5)
    d.set(2, T0 + 6)  # the same bucket
    d.set(3, T0 + 7)
    d.discard(3)
    d.discard(4)  # not filed: nothing
    assert d.due(T0 + 10) == [2]
    assert d.get(1) == T0 + 5 + 3 * SPAN_S
    assert d.due(T0 + 4 * SPAN_S + 6) == [1]


operations = st.lists(
    st.one_of(
        st.tuples(st.just("set"), st.integers(0, 20), st.floats(0, 200)),
        st.tuples(st.just("discard"), st.integers(0, 20), st.just(0.0)),
        st.tuples(st.just("due"), st.just(0), st.floats(0, 200)),
    ),
    max_size=80,
)


@given(operations)
def test_deadlines_behave_as_a_dictionary_of_deadlines(ops: list[tuple[str, int, float]]) -> None:
    d: Deadlines[int] = Deadlines()
    model: dict[int, float] = {}
    swept = 0.0
    for op, key, value in ops:
        if op == "set":
            d.set(key, T0 + value)
            model[key] = T0 + value
        elif op == "discard":
            d.discard(key)
            model.pop(key, None)
        else:
            swept = max(swept, value)  # the server's clock does not go back
            expected = sorted((k for k, at in model.items() if at < T0 + swept), key=lambda k: (model[k], k))
            assert sorted(d.due(T0 + swept), key=lambda k: (model[k], k)) == expected
            for k in expected:
                del model[k]
        assert len(d) == len(model) and all(d.get(k) == at for k, at in model.items())


# --- the pipeline's sweep against the rules, object by object ---------------------------------------

addresses = st.sampled_from([0x110B90, 0x110B91, 0x200C9E, 0xFB0042, 0x110B92])
lats, lons = st.floats(46.19, 46.21), st.floats(13.59, 13.61)
payloads = st.one_of(
    st.builds(
        lambda lat, lon: AirTracking(lat, lon, AircraftType.PARAGLIDER, 1500, 30.0, 1.0, 90.0, True),
        lats,
        lons,
    ),
    st.builds(
        lambda lat, lon, kind: GroundTracking(lat, lon, kind, True), lats, lons, st.sampled_from([1, 14])
    ),
    st.builds(lambda lat, lon: Service(False, lat, lon, temperature_c=12.0), lats, lons),
    st.builds(lambda lat, lon: ThermalReport(lat, lon, 3, 1800, 2.0, 10.0, 90.0), lats, lons),
    st.builds(Name, st.sampled_from(["Ana", "Tom"])),
)
reports = st.lists(st.tuples(addresses, payloads, st.floats(0, 900)), max_size=40)


@pytest.mark.parametrize("appear", [1, 3])
@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(reports, st.lists(st.floats(0, 8 * 3600), min_size=1, max_size=4))
def test_the_sweep_removes_and_forgets_exactly_what_the_rules_say(
    appear: int, sequence: list[tuple[int, object, float]], sweeps: list[float]
) -> None:
    s = PipelineSettings(appear_score=appear)
    p = Pipeline(s)
    now = T0
    for addr, payload, step in sequence:
        now += step
        p.process(ReceivedFrame("alpha", now, -90, 5, encode_frame(Frame(addr, payload))), now)
    w = p.world
    for offset in sorted(sweeps):
        at = now + offset
        objects: list[LiveObject] = [
            *w.pilots.values(),
            *w.ground.values(),
            *w.stations.values(),
            *w.thermals.thermals.values(),
        ]
        gone = {(kind_of(obj), key_of(obj)) for obj in objects if is_gone(obj, at, s)}
        names = {addr for addr, (_, heard) in w.names.items() if heard >= at - s.name_memory_s}
        seen = {addr: standing.seen for addr, standing in w.validator.standings.items()}
        changes = p.expire(at).changes
        assert {(c.kind, c.key) for c in changes} == gone
        assert all(c.action is Action.REMOVE for c in changes)
        assert set(w.names) == names
        # A standing stays while its address is on the map, or was heard within candidate_forget_s
        # and did not just leave the map (back after a long silence, it proves itself again).
        left = {int(c.key) for c in changes if c.kind is not Kind.THERMAL}
        kept = {
            a
            for a, heard in seen.items()
            if w.on_map(a) or (a not in left and heard >= at - s.candidate_forget_s)
        }
        assert set(w.validator.standings) == kept
