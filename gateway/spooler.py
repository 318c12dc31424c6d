"""The Trio side of the spool: received frames in, and the periodic fsync in a worker thread.

``spool_frames`` is the consumer of the module link's channel: it appends each frame, wrapped as it
will be published, and wakes the publisher. ``keep_synced`` runs the spool's sync jobs (fsync,
cursor) every ``interval_s`` in a worker thread, so a slow SD card never stalls the event loop;
a job, once started, is never abandoned (a cancel waits for it).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import structlog
import trio

from fanet.gateway.spool import Spool, SpoolError
from fanet.proto import ReceivedFrame

log = structlog.get_logger("fanet.gateway")


@dataclass(slots=True)
class IntakeStats:
    spooled: int = 0
    lost: int = 0
    """Frames the spool could not store (disk full, I/O error)."""


async def spool_frames(
    frames: trio.MemoryReceiveChannel[ReceivedFrame],
    spool: Spool,
    wake_publisher: Callable[[], None],
    stats: IntakeStats,
) -> None:
    """Append every frame from ``frames`` until the channel is closed and empty."""
    dropped = spool.stats.dropped
    async with frames:
        async for first in frames:
            batch = [first]  # and whatever else is queued: one wake-up of the publisher for all
            with contextlib.suppress(trio.WouldBlock, trio.EndOfChannel):
                while True:
                    batch.append(frames.receive_nowait())
            for frame in batch:
                try:
                    spool.append(frame.wrapped())
                except SpoolError as error:
                    stats.lost += 1
                    log.error("frame lost: the spool cannot store it", error=str(error), lost=stats.lost)
                    continue
                stats.spooled += 1
            if spool.stats.dropped != dropped:
                log.warning(
                    "spool full: oldest frames dropped",
                    dropped=spool.stats.dropped - dropped,
                    dropped_total=spool.stats.dropped,
                    max_bytes=spool.max_bytes,
                )
                dropped = spool.stats.dropped
            wake_publisher()


async def sync_spool(spool: Spool, limiter: trio.CapacityLimiter) -> None:
    """Run one sync job, if there is anything to sync, in a worker thread (not abandoned on cancel)."""
    job = spool.sync_job()
    if job is None:
        return
    try:
        await trio.to_thread.run_sync(job.run, limiter=limiter)
    except OSError as error:
        spool.sync_failed()
        log.error("spool sync failed", directory=str(spool.directory), error=str(error))


async def keep_synced(spool: Spool, interval_s: float) -> None:
    """Sync the spool every ``interval_s`` until cancelled (the final sync is ``Spool.close``)."""
    limiter = trio.CapacityLimiter(1)  # one job at a time: each owns the descriptors it syncs
    while True:
        await trio.sleep(interval_s)
        await sync_spool(spool, limiter)
