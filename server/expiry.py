"""Upkeep on a timer: the expiry sweeper and the track trimmer.

The sweeper asks the pipeline what is gone every ``interval_s`` (``Pipeline.expire``: REMOVE changes,
and the base-station records that are due) and queues that batch to the store writer behind the frame
batches already queued, so the store sees changes in the order the pipeline made them. The trimmer drops
track points older than the retention (12 h) every few minutes: the store trims a pilot's track when it
writes a point, so this is what takes the tracks of pilots who stopped sending. A store outage only
postpones a trim to the next round.
"""

import structlog
import trio

from fanet.server.clock import UnixClock
from fanet.server.pipeline import Pipeline
from fanet.server.processing import WriteBatch
from fanet.server.store import Store, StoreUnavailable

log = structlog.get_logger("fanet.server")


async def sweep_expired(
    pipeline: Pipeline, clock: UnixClock, writes: trio.MemorySendChannel[WriteBatch], interval_s: float
) -> None:
    """Every ``interval_s`` until cancelled."""
    async with writes:
        while True:
            await trio.sleep(interval_s)
            batch = pipeline.expire(clock.now())
            if batch.changes or batch.base_stations:
                await writes.send(WriteBatch(batch))


async def trim_tracks(store: Store, clock: UnixClock, retention_s: float, interval_s: float) -> None:
    """Every ``interval_s`` until cancelled."""
    while True:
        await trio.sleep(interval_s)
        try:
            dropped = await store.trim_tracks(clock.now() - retention_s)
        except StoreUnavailable as error:
            log.warning("track trim skipped", error=str(error), next_in_s=interval_s)
            continue
        if dropped:
            log.info("tracks trimmed", points=dropped, retention_s=retention_s)
