"""The collector's time, by generation, as ``/metrics`` reports it."""

import gc
import itertools

from fanet.server import gc_timing


def test_a_collection_is_counted_and_timed_in_its_generation() -> None:
    gc_timing.install()
    gc_timing.install()  # idempotent: one callback, not two
    assert gc.callbacks.count(gc_timing.TIMES) == 1
    was_enabled = gc.isenabled()
    gc.disable()  # no automatic collection while the garbage is built: only the one asked for
    try:
        collections, seconds = list(gc_timing.TIMES.collections), list(gc_timing.TIMES.seconds)
        garbage: list[list[object]] = [[] for _ in range(10_000)]
        for first, second in itertools.pairwise(garbage):
            first.append(second)
            second.append(first)  # cycles, so that the collection has work
        del garbage, first, second
        gc.collect()
    finally:
        if was_enabled:
            gc.enable()
    assert gc_timing.TIMES.collections[2] == collections[2] + 1
    assert gc_timing.TIMES.seconds[2] > seconds[2]
