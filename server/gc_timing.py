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

GC_THRESHOLD = 100_000
"""Generation 0's threshold in ``fanet server`` (and in the WebSocket benchmark's bare baseline, so that
the two are compared with the same collector). Measured (``fanet_gc_seconds`` in bench/ingest.py and
bench/ws_load.py): with the default (700) the cyclic collector ran every few batches and kept walking the
pipeline's long-lived state. A generation-0 collection costs ≈ 0.6 µs per young object on these machines
(memory-bound), and at 20,000 every 1 s batch tick of 3,000 WebSocket clients set one off: 12 % of the
server's CPU. At 100,000 the objects of a tick are gone before a collection comes, and in steady traffic
(objects replaced as fast as they are made) none comes at all."""


def tune() -> None:
    """The process's collector tuning: :data:`GC_THRESHOLD`, and what exists now frozen out of its way."""
    gc.set_threshold(GC_THRESHOLD, 20, 20)
    gc.freeze()


def install() -> None:
    """Start timing collections (idempotent)."""
    if TIMES not in gc.callbacks:
        gc.callbacks.append(TIMES)
