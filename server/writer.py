"""The store writer: write batches into the store, in order, then run their callbacks (the MQTT acks).

A message is acknowledged only after its effect is in the store, so a crash anywhere before that makes
the broker deliver it again instead of losing it. When the store is unavailable the writer retries the
*same* batch with backoff — the store recognises a batch identical to one it applied whose answer was
lost, so nothing is applied twice — holding the acks meanwhile and reporting the store down on
``/ready``. Behind it the channels fill, the pipeline and the sources wait, and the MQTT client stops
reading: the backlog stays in the broker.

Batches that queued up while a write was under way are stored together in one call. A batch the store
refuses as invalid (a value no store can keep: a pipeline bug, never a radio problem) is logged with the
reason, counted and dropped — its messages acknowledged — rather than blocking every later batch.
"""

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog
import trio

from fanet.gateway.mqtt import Backoff
from fanet.server.health import STORE, Readiness
from fanet.server.processing import WriteBatch, combine
from fanet.server.store import InvalidBatch, Store, StoreUnavailable
from fanet.server.store.codec import CodecError

log = structlog.get_logger("fanet.server")

STORE_BACKOFF = Backoff(initial_s=0.05, max_s=2.0, multiplier=2.0, jitter=0.2, reset_after_s=0.0)
"""Short: a restarted Redis is written to within 2 s of its return."""

Observer = Callable[[WriteBatch, int, float], None]
"""Called after each write with the batch, the number of changes stored, and the seconds it took."""


@dataclass(slots=True)
class WriterStats:
    batches: int = 0
    frames: int = 0
    """Frames whose batch is in the store."""
    changes: int = 0
    failures: int = 0
    """Write attempts that failed with ``StoreUnavailable`` (each retry counts)."""
    dropped_batches: int = 0
    dropped_frames: int = 0
    retrying: bool = False
    """A batch is waiting for the store to come back."""
    sequence: int = 0
    """The sequence number of the last change written."""


class StoreWriter:
    def __init__(
        self,
        store: Store,
        readiness: Readiness,
        *,
        observe: Observer | None = None,
        backoff: Backoff = STORE_BACKOFF,
    ) -> None:
        self.store = store
        self.readiness = readiness
        self.stats = WriterStats()
        self._observe = observe
        self._backoff = backoff

    async def run(self, writes: trio.MemoryReceiveChannel[WriteBatch]) -> None:
        """Write everything from ``writes`` until it is closed and empty (the flush at shutdown)."""
        async with writes:
            async for first in writes:
                queued = [first]
                while True:
                    try:
                        queued.append(writes.receive_nowait())
                    except (trio.WouldBlock, trio.EndOfChannel):
                        break
                await self.write(combine(queued))

    async def write(self, write: WriteBatch) -> None:
        """Store one batch (retrying while the store is unavailable), then run its callbacks."""
        stats = self.stats
        started = time.perf_counter()
        changes = await self._apply(write)
        elapsed = time.perf_counter() - started
        stats.batches += 1
        stats.frames += write.frames
        for callback in write.on_stored:
            callback()
        if self._observe is not None:
            self._observe(write, changes, elapsed)

    async def _apply(self, write: WriteBatch) -> int:
        """Apply, retrying the same batch while the store is unavailable; the number of changes stamped."""
        stats, failures = self.stats, 0
        while True:
            try:
                stamped = await self.store.apply(write.batch)
            except StoreUnavailable as error:
                failures += 1
                stats.failures += 1
                stats.retrying = True
                delay = self._backoff.delay_s(failures, random.random())
                self.readiness.down(STORE, f"{error}; {write.frames} frames wait to be written")
                if failures == 1 or failures % 20 == 0:
                    log.warning(
                        "store write failed, retrying",
                        error=str(error),
                        frames=write.frames,
                        attempts=failures,
                        retry_in_s=round(delay, 2),
                    )
                await trio.sleep(delay)
                continue
            except (InvalidBatch, CodecError) as error:
                stats.dropped_batches += 1
                stats.dropped_frames += write.frames
                log.error("store refused a batch; dropped", error=str(error), frames=write.frames)
                return 0
            if failures:
                log.info("store write succeeded after retrying", attempts=failures + 1, frames=write.frames)
            stats.retrying = False
            self.readiness.up(STORE)
            if stamped:
                stats.changes += len(stamped)
                stats.sequence = stamped[-1].sequence
            return len(stamped)
