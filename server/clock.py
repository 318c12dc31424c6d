"""Unix time for the server's pure code, advancing with Trio's clock.

The pipeline compares frame timestamps (unix seconds) with ``now``, so it needs wall-clock time; taking
it as Trio's clock plus an offset read once keeps every task on one clock, and lets tests drive the
server with Trio's mock clock. The live-update listener runs on it too.
"""

import time

import trio


class UnixClock:
    """Unix seconds that advance with ``trio.current_time()``; build it inside ``trio.run``."""

    def __init__(self) -> None:
        self.offset = time.time() - trio.current_time()

    def now(self) -> float:
        return trio.current_time() + self.offset

    def unix(self, trio_time: float) -> float:
        """A ``trio.current_time()`` value as unix seconds."""
        return trio_time + self.offset

    def to_trio(self, unix_s: float) -> float:
        """Unix seconds as a ``trio.current_time()`` value (a deadline for ``trio.move_on_at``)."""
        return unix_s - self.offset
