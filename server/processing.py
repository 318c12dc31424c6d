"""The pipeline task: arrivals in, one :class:`WriteBatch` per group of them out, to the store writer.

It takes what the sources have delivered — up to ``max_frames`` frames, waiting up to ``max_wait_s``
for more (0: not at all) — runs it through the pure pipeline at once (``process_many``) and hands the
result to the writer. While the writer is busy with one batch, arrivals pile up in the channel and the
next batch takes them all: batches grow with the load by themselves, and at low load a frame is
written as soon as it arrives. The pipeline's state is owned by this task; the expiry sweeper calls
it from the same thread between two of this task's steps (Trio tasks only switch at a checkpoint).

The channel to the writer keeps order: expiry batches and frame batches reach the store in the order
the pipeline produced them.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

import trio

from fanet.server.clock import UnixClock
from fanet.server.ingest import Arrivals, OnStored
from fanet.server.model import ApplyBatch
from fanet.server.pipeline import Pipeline


@dataclass(slots=True)
class WriteBatch:
    """What the writer stores in one go, and what to call once it is stored."""

    batch: ApplyBatch
    frames: int = 0
    on_stored: list[OnStored] = field(default_factory=list)
    received_at: float | None = None
    """``trio.current_time()`` when the oldest of its frames arrived (``None``: no frames, e.g. expiry)."""


def merge(batches: Iterable[ApplyBatch]) -> ApplyBatch:
    """One batch holding all of ``batches``, in order (the store folds changes of one object)."""
    batches = [batch for batch in batches if batch.changes or batch.track_points or batch.base_stations]
    if len(batches) <= 1:
        return batches[0] if batches else ApplyBatch()
    return ApplyBatch(
        tuple(change for batch in batches for change in batch.changes),
        tuple(point for batch in batches for point in batch.track_points),
        tuple(station for batch in batches for station in batch.base_stations),
    )


def combine(writes: list[WriteBatch]) -> WriteBatch:
    """Several write batches as one (the writer stores what queued up while it was busy at once)."""
    if len(writes) == 1:
        return writes[0]
    started = [write.received_at for write in writes if write.received_at is not None]
    return WriteBatch(
        merge(write.batch for write in writes),
        sum(write.frames for write in writes),
        [callback for write in writes for callback in write.on_stored],
        min(started) if started else None,
    )


async def run_pipeline(
    pipeline: Pipeline,
    clock: UnixClock,
    arrivals: trio.MemoryReceiveChannel[Arrivals],
    writes: trio.MemorySendChannel[WriteBatch],
    *,
    max_frames: int = 500,
    max_wait_s: float = 0.0,
) -> None:
    """Until every source has closed ``arrivals``; then it closes ``writes`` (the drain at shutdown)."""
    async with writes:
        while True:
            try:
                group = [await arrivals.receive()]
            except trio.EndOfChannel:
                return
            await _gather(group, arrivals, max_frames, group[0].received_at + max_wait_s)
            await writes.send(process(pipeline, group, clock.now()))


async def _gather(
    group: list[Arrivals], arrivals: trio.MemoryReceiveChannel[Arrivals], max_frames: int, deadline: float
) -> None:
    """Add arrivals to ``group`` until ``max_frames``, nothing more by ``deadline``, or the channel ends."""
    size = group[0].size
    while size < max_frames:
        try:
            more: Arrivals | None = arrivals.receive_nowait()
        except trio.WouldBlock:
            more = await _receive_by(arrivals, deadline)
        except trio.EndOfChannel:
            return
        if more is None:
            return
        group.append(more)
        size += more.size


async def _receive_by(arrivals: trio.MemoryReceiveChannel[Arrivals], deadline: float) -> Arrivals | None:
    if trio.current_time() >= deadline:
        return None
    with trio.move_on_at(deadline):
        try:
            return await arrivals.receive()
        except trio.EndOfChannel:
            return None
    return None


def process(pipeline: Pipeline, group: list[Arrivals], now: float) -> WriteBatch:
    """Run a group of arrivals through the pipeline at ``now`` (unix seconds)."""
    if len(group) == 1:
        frames = group[0].frames
    else:
        frames = [frame for arrivals in group for frame in arrivals.frames]
    batches = [pipeline.process_many(frames, now)]
    batches.extend(
        pipeline.station_health(report.station, report.report, now, lat=report.lat, lon=report.lon)
        for arrivals in group
        for report in arrivals.health
    )
    return WriteBatch(
        merge(batches),
        len(frames),
        [arrivals.on_stored for arrivals in group if arrivals.on_stored is not None],
        min(arrivals.received_at for arrivals in group),
    )
