"""The replay schedule: original timing times the speed, held while paused, looped with times counting on."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fanet.hardware import Capture, CaptureHeader, Chunk, Direction, Playback

LEAD_IN = (
    Chunk(0.0, Direction.RX, b"#FNR MSG,1,initialized\n"),
    Chunk(0.1, Direction.TX, b"#DGV\n"),
    Chunk(0.2, Direction.RX, b"#DGV build-1\n"),
)
TRAFFIC = (
    Chunk(1.0, Direction.RX, b"#FNF 11,D,1,0,2,1,41\n"),
    Chunk(1.5, Direction.TX, b"#FNS 47,8,0,0,0,0\n"),
    Chunk(3.0, Direction.RX, b"#FNF 11,"),
    Chunk(3.0, Direction.RX, b"D,1,0,2,1,42\n"),
    Chunk(5.0, Direction.RX, b"CC"),
)


def capture(**extra: object) -> Capture:
    return Capture(CaptureHeader("2025-01-01T00:00:00Z", "test", extra=extra), LEAD_IN + TRAFFIC)


def drain(playback: Playback, now: float) -> list[bytes]:
    found = []
    while (chunk := playback.pop_due(now)) is not None:
        found.append(chunk)
    return found


def test_plays_received_chunks_from_the_first_frame_with_their_timing() -> None:
    playback = Playback(capture(), speed=2.0)
    assert playback.next_due() is None  # nothing runs before resume
    playback.resume(100.0)
    assert playback.next_due() == 100.0
    assert drain(playback, 100.0) == [b"#FNF 11,D,1,0,2,1,41\n"]
    assert playback.next_due() == 101.0  # two capture seconds at double speed
    assert drain(playback, 100.99) == []
    assert drain(playback, 101.0) == [b"#FNF 11,", b"D,1,0,2,1,42\n"]
    assert drain(playback, 103.0) == [b"CC"]
    assert playback.finished
    assert playback.next_due() is None


def test_pause_holds_the_capture_clock() -> None:
    playback = Playback(capture())
    playback.resume(0.0)
    drain(playback, 0.0)
    playback.pause(1.0)
    assert playback.position(50.0) == 1.0
    assert drain(playback, 50.0) == []
    playback.resume(50.0)
    assert playback.next_due() == 51.0
    assert playback.position(51.0) == 2.0


def test_loop_starts_over_with_times_counting_on() -> None:
    playback = Playback(capture(), loop=True)
    assert playback.period_s == 5.0  # last chunk at 4 s after the first frame, then a one-second pause
    playback.resume(0.0)
    assert len(drain(playback, 4.0)) == 4
    assert playback.loops == 1
    assert playback.next_due() == 5.0
    assert drain(playback, 5.0) == [b"#FNF 11,D,1,0,2,1,41\n"]
    assert playback.position(7.0) == 7.0


def test_loop_period_follows_the_header_duration() -> None:
    assert Playback(capture(duration_s=10.0), loop=True).period_s == 9.0


def test_a_capture_without_frames_plays_from_its_start() -> None:
    only_noise = Capture(CaptureHeader("x", "y"), (Chunk(2.0, Direction.RX, b"CC"),))
    playback = Playback(only_noise)
    playback.resume(0.0)
    assert drain(playback, 0.0) == [b"CC"]
    empty = Playback(Capture(CaptureHeader("x", "y"), ()))
    assert empty.finished


def test_speed_must_be_positive() -> None:
    with pytest.raises(ValueError, match="speed"):
        Playback(capture(), speed=0)


@given(
    speed=st.floats(0.01, 1000, allow_nan=False),
    start=st.floats(0, 1e6, allow_nan=False),
    pause_at=st.floats(0, 10, allow_nan=False),
)
def test_a_chunk_is_due_at_exactly_the_time_next_due_names(
    speed: float, start: float, pause_at: float
) -> None:
    # Waiting until next_due() and asking then must give the chunk, whatever rounding the floats do.
    playback = Playback(capture(), speed=speed, loop=True)
    playback.resume(start)
    playback.pause(start + pause_at)
    playback.resume(start + pause_at + 1.0)
    for _ in range(12):  # across the loop's start-over too
        due = playback.next_due()
        assert due is not None
        assert playback.pop_due(due) is not None
