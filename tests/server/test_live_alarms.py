"""The senders' alarm wheel: sleepers come out when their tick is due, once per pop, earliest first."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fanet.server.live.alarms import Alarms


def test_nothing_set_is_due_never() -> None:
    alarms: Alarms[str] = Alarms()
    assert alarms.next_at() == math.inf
    assert alarms.pop_due(1e12) == []


def test_due_sleepers_come_out_earliest_first() -> None:
    alarms: Alarms[str] = Alarms()
    assert alarms.set(5.0, "b")
    assert alarms.set(3.0, "a")  # the new earliest: the alarm task must look again
    assert not alarms.set(7.0, "c")
    assert not alarms.set(5.0, "d")  # shares b's tick
    assert alarms.next_at() == 3.0
    assert alarms.pop_due(2.999) == []
    assert alarms.pop_due(5.0) in (["a", "b", "d"], ["a", "d", "b"])
    assert alarms.pop_due(5.0) == []
    assert alarms.next_at() == 7.0
    assert len(alarms) == 1


def test_a_time_between_ticks_rounds_up_so_nobody_wakes_early() -> None:
    alarms: Alarms[str] = Alarms(resolution_s=0.01)
    alarms.set(1_750_000_000.123, "a")
    assert alarms.next_at() == pytest.approx(1_750_000_000.13)
    assert alarms.pop_due(1_750_000_000.125) == []
    assert alarms.pop_due(1_750_000_000.13) == ["a"]


def test_the_same_time_twice_is_one_entry_and_one_wake() -> None:
    alarms: Alarms[str] = Alarms()
    alarms.set(30.0, "a")
    alarms.set(30.0, "a")
    assert len(alarms) == 1
    assert alarms.pop_due(100.0) == ["a"]


def test_a_sleeper_due_at_several_ticks_comes_out_once_per_pop() -> None:
    alarms: Alarms[str] = Alarms()
    alarms.set(1.0, "a")
    alarms.set(2.0, "a")
    alarms.set(9.0, "a")
    assert alarms.pop_due(5.0) == ["a"]
    assert alarms.pop_due(10.0) == ["a"]


def test_a_resolution_must_be_positive() -> None:
    with pytest.raises(ValueError, match="resolution_s"):
        Alarms(resolution_s=0)


@given(st.lists(st.tuples(st.integers(0, 20), st.floats(0, 50)), max_size=60), st.floats(0, 50))
def test_pop_due_gives_each_sleeper_with_a_time_at_most_now_and_nobody_early(
    settings: list[tuple[int, float]], now: float
) -> None:
    alarms: Alarms[int] = Alarms()
    earliest: dict[int, float] = {}
    for sleeper, at in settings:
        alarms.set(at, sleeper)
        earliest[sleeper] = min(at, earliest.get(sleeper, at))
    due = alarms.pop_due(now)
    assert len(due) == len(set(due))
    assert all(earliest[s] <= now for s in due)  # nobody early
    assert set(due) >= {s for s, at in earliest.items() if at <= now - 0.001}  # nobody more than a tick late
    assert alarms.next_at() > now
