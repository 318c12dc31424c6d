"""Spool → broker: every spooled frame is published in order, QoS 1, with a window of them in flight.

While connected, one *round* runs two tasks:

- the sender publishes first what an earlier round left unacknowledged (the broker may have it:
  a possible duplicate, counted in ``republished``), then whatever the spool yields, waiting for room
  in the client's window (``MqttSettings.max_in_flight``, lowered to the broker's Receive Maximum);
- the acknowledger waits for the handles in publishing order and moves the spool's cursor past each
  record the broker acknowledged (``Spool.ack``), so the cursor only advances over an unbroken run.

A lost connection ends the round (``MqttDisconnected``); what was read and not acknowledged is kept in
memory, in order, and the next round starts with it. Nothing is lost and the order of first arrivals
is kept; duplicates occur only around a reconnect, at most a window's worth. A publish the broker
refuses (``PublishFailed``: not authorised, quota) ends the round too; the publisher then waits with
backoff before it tries again, and the frames wait in the spool (which drops its oldest when full).
"""

from __future__ import annotations

import contextlib
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import structlog
import trio

from fanet.gateway.mqtt import Backoff, MqttClient, MqttDisconnected, MqttError, PublishFailed, PublishHandle
from fanet.gateway.spool import Record, Spool

log = structlog.get_logger("fanet.gateway")

READ_BATCH = 64
REFUSED_BACKOFF = Backoff(initial_s=5.0, max_s=120.0, jitter=0.2)


@dataclass(slots=True)
class PublisherStats:
    published: int = 0
    """Frames the broker acknowledged."""
    republished: int = 0
    """Frames published again after their connection was lost before the PUBACK (possible duplicates)."""
    refused: int = 0
    """Rounds ended by the broker refusing a publish."""


class Publisher:
    """Publishes the spool's records to ``topic``; :meth:`run` until cancelled."""

    def __init__(self, spool: Spool, client: MqttClient, topic: str) -> None:
        self.spool = spool
        self.client = client
        self.topic = topic
        self.stats = PublisherStats()
        self._unacked: deque[Record] = deque()
        """Read from the spool, not yet acknowledged, in order: the next round publishes these first."""
        self._sent_through = 0
        """The highest seq handed to the client: records up to it may be at the broker already."""
        self._new_records = trio.Event()
        self._progress = trio.Event()

    @property
    def in_flight(self) -> int:
        return len(self._unacked)

    def wake(self) -> None:
        """New records are in the spool (called by the intake)."""
        self._new_records.set()

    async def run(self) -> None:
        """Publish while connected, round after round, until cancelled (or the client closes)."""
        refusals = 0
        while True:
            try:
                await self.client.wait_connected()
            except MqttDisconnected:
                return  # the client is closed
            failure = await self._round()
            if isinstance(failure, PublishFailed):
                refusals += 1
                self.stats.refused += 1
                delay = REFUSED_BACKOFF.delay_s(refusals, random.random())
                log.error(
                    "broker refused a frame; keeping it in the spool",
                    error=str(failure),
                    retry_in_s=round(delay, 1),
                    pending=self.spool.pending,
                )
                await trio.sleep(delay)
            else:
                refusals = 0

    async def drained(self) -> None:
        """Return once everything spooled so far is acknowledged (used at shutdown, under a deadline)."""
        while self._unacked or self.spool.pending:
            self._progress = trio.Event()
            await self._progress.wait()

    async def _round(self) -> MqttError | None:
        # Records the spool dropped meanwhile (it was full) are not sent again.
        first = self.spool.first_seq
        self._unacked = deque(record for record in self._unacked if record.seq >= first)
        again = sum(1 for record in self._unacked if record.seq <= self._sent_through)
        if again:
            self.stats.republished += again
            log.info("publishing unacknowledged frames again", count=again)
        failure: MqttError | None = None
        send, receive = trio.open_memory_channel[tuple[Record, PublishHandle]](float("inf"))

        def fail(error: MqttError) -> None:
            nonlocal failure
            failure = failure or error
            nursery.cancel_scope.cancel()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._acknowledge, receive, fail)
            nursery.start_soon(self._send, send, fail)
        return failure

    async def _send(
        self,
        channel: trio.MemorySendChannel[tuple[Record, PublishHandle]],
        fail: Callable[[MqttError], None],
    ) -> None:
        spool, unacked = self.spool, self._unacked
        try:
            for record in list(unacked):
                channel.send_nowait((record, await self._publish(record)))
                self._sent_through = max(self._sent_through, record.seq)
            while True:
                records = spool.read(READ_BATCH)
                if not records:
                    self._new_records = trio.Event()  # no await since the read: no wake-up is missed
                    await self._new_records.wait()
                    continue
                unacked.extend(records)  # before publishing: a record is never out of both places
                for record in records:
                    channel.send_nowait((record, await self._publish(record)))
                    self._sent_through = record.seq
        except MqttError as error:
            fail(error)

    async def _publish(self, record: Record) -> PublishHandle:
        """Hand ``record`` to the client: at once while the window has room, else wait for room."""
        try:
            return self.client.publish_nowait(self.topic, record.payload)
        except trio.WouldBlock:
            return await self.client.start_publish(self.topic, record.payload)

    async def _acknowledge(
        self,
        channel: trio.MemoryReceiveChannel[tuple[Record, PublishHandle]],
        fail: Callable[[MqttError], None],
    ) -> None:
        spool, unacked, stats = self.spool, self._unacked, self.stats
        try:
            while True:
                batch = [await channel.receive()]  # and what else is queued: one pass for a burst
                with contextlib.suppress(trio.WouldBlock):
                    while True:
                        batch.append(channel.receive_nowait())
                for record, handle in batch:
                    if not handle.settled or handle.failed:
                        await handle.wait()  # raises MqttDisconnected or PublishFailed
                    if unacked and unacked[0] is record:
                        unacked.popleft()
                    spool.ack(record.seq)
                    stats.published += 1
                self._progress.set()
        except MqttError as error:
            fail(error)
