"""Time the cyclic garbage collector spends, by generation: what ``/metrics`` reports as
``fanet_gc_seconds_total``.

The collector's cost grows with the number of live container objects (every connection, task and
stored object), so it is what decides how a tuning holds up at 10,000 clients. ``gc.callbacks`` is
process-wide: :func:`install` is called once by the server's entry point; the callback costs a
``perf_counter`` pair per collection.
"""

import gc
import time
from typing import Any


class CollectorTimes:
    __slots__ = ("_started", "collections", "seconds")

    def __init__(self) -> None:
        self.seconds = [0.0, 0.0, 0.0]
        self.collections = [0, 0, 0]
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        generation = info["generation"]
        self.seconds[generation] += time.perf_counter() - self._started
        self.collections[generation] += 1


TIMES = CollectorTimes()


def install() -> None:
    """Start timing collections (idempotent)."""
    if TIMES not in gc.callbacks:
        gc.callbacks.append(TIMES)
