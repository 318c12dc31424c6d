"""When each module → host chunk of a capture is due, on the caller's clock: the replay's schedule.

Playback starts at the capture's first received frame (``#FNF`` or ``$PSRFI``): what comes before is
the recording host bringing its module up, which the emulator does afresh for every host. Capture
time then runs ``speed`` times as fast as the clock, while the playback is running; the caller pauses
it while the emulated module waits for the host (see ``replay``). With ``loop`` the capture starts
over after :attr:`Playback.period_s` of capture time, and times keep counting up.

Pure: the caller passes ``now`` (any monotonic clock, in seconds) and never waits here.
"""

import math

from fanet.hardware._capture import Capture, Direction

LOOP_PAUSE_S = 1.0
"""Capture seconds between the last chunk and the start over, when the header gives no duration."""
_FRAME_MARKERS = (b"#FNF", b"$PSRFI")


class Playback:
    def __init__(self, capture: Capture, *, speed: float = 1.0, loop: bool = False) -> None:
        if not (math.isfinite(speed) and speed > 0):
            raise ValueError(f"speed must be a positive number, got {speed}")
        received = [chunk for chunk in capture.chunks if chunk.direction is Direction.RX]
        first = next(
            (i for i, chunk in enumerate(received) if any(m in chunk.data for m in _FRAME_MARKERS)), 0
        )
        self._chunks = received[first:]
        self._t0 = self._chunks[0].t if self._chunks else 0.0
        last = self._chunks[-1].t - self._t0 if self._chunks else 0.0
        duration = capture.header.extra.get("duration_s")
        if isinstance(duration, (int, float)) and duration - self._t0 > last:
            self.period_s = float(duration) - self._t0
        else:
            self.period_s = last + LOOP_PAUSE_S
        self.speed = speed
        self.loop = loop
        self.loops = 0
        """How many times the capture started over."""
        self._index = 0
        self._position = 0.0
        self._anchor: float | None = None

    @property
    def running(self) -> bool:
        return self._anchor is not None

    @property
    def finished(self) -> bool:
        return self._index >= len(self._chunks)

    def position(self, now: float) -> float:
        """Capture seconds played since the first frame (counting on across loops)."""
        if self._anchor is None:
            return self._position
        return self._position + (now - self._anchor) * self.speed

    def resume(self, now: float) -> None:
        if self._anchor is None:
            self._anchor = now

    def pause(self, now: float) -> None:
        self._position = self.position(now)
        self._anchor = None

    def next_due(self) -> float | None:
        """The clock time the next chunk is due; ``None`` while paused or when finished."""
        if self._anchor is None or self.finished:
            return None
        return self._anchor + (self._due_position() - self._position) / self.speed

    def pop_due(self, now: float) -> bytes | None:
        """The next chunk if it is due at ``now`` (call until ``None``), else ``None``."""
        due = self.next_due()
        # Compared on the clock, the scale next_due() answers in: a caller that waits until exactly the
        # time it was told gets the chunk (comparing capture positions could miss it by a rounding).
        if due is None or due > now:
            return None
        data = self._chunks[self._index].data
        self._index += 1
        if self.finished and self.loop:
            self._index = 0
            self.loops += 1
        return data

    def _due_position(self) -> float:
        return self._chunks[self._index].t - self._t0 + self.loops * self.period_s
