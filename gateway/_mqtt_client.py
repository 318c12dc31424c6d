"""``MqttClient``: one broker connection at a time, kept up with backoff, behind a publish/receive API.

The public description (delivery guarantees, cancellation) is in ``fanet.gateway.mqtt``, which re-exports
these names; one connection's tasks and paho callbacks are in ``_mqtt_connection``.
"""

from __future__ import annotations

import itertools
import logging
import random
from collections import deque
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager

import trio
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from fanet.gateway._mqtt_connection import CLOSED_BY_CLIENT, Connection, open_connection
from fanet.gateway._mqtt_settings import MqttSettings, _check_topic_name
from fanet.gateway._mqtt_types import (
    MqttDisconnected,
    MqttMessage,
    MqttStats,
    PublishHandle,
    SubscribeFailed,
)

logger = logging.getLogger("fanet.mqtt")


@asynccontextmanager
async def open_mqtt_client(settings: MqttSettings) -> AsyncIterator[MqttClient]:
    """A running ``MqttClient`` in a nursery of its own; leaving the block closes it (see ``fanet.gateway.mqtt``).

    Entering does not wait for the broker: use ``await client.wait_connected()`` where that matters.
    """
    client = MqttClient(settings)
    async with trio.open_nursery() as nursery:
        await nursery.start(client.run)
        try:
            yield client
        finally:
            nursery.cancel_scope.cancel()


class MqttClient:
    """An MQTT v5 client that stays connected while ``run`` runs; see ``fanet.gateway.mqtt``."""

    def __init__(self, settings: MqttSettings) -> None:
        self.settings = settings
        self.stats = MqttStats()
        send, receive = trio.open_memory_channel[MqttMessage](settings.message_buffer)
        self._send_messages = send
        self.messages: trio.MemoryReceiveChannel[MqttMessage] = receive
        self._staged: deque[MqttMessage] = deque()  # parsed by paho, not yet in the channel
        self._connection: Connection | None = None  # accepted and subscribed: usable
        self._current: Connection | None = None  # whose socket is open (acks go there)
        self._state_changed = trio.Event()
        self._window = trio.CapacityLimiter(settings.max_in_flight)
        self._connect_limiter = trio.CapacityLimiter(1)
        self._subscriptions: dict[str, int] = {}  # granted at least once; issued again on a new session
        self._numbers = itertools.count(1)
        self._started = False
        self._closed = False

    # --- state ---------------------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Connected, CONNACK accepted and subscriptions in place."""
        return self._connection is not None

    @property
    def closed(self) -> bool:
        """``run`` has ended; the client will not connect again."""
        return self._closed

    @property
    def held_messages(self) -> int:
        """Received messages the client holds: the channel's buffer plus those parsed but not yet in it."""
        return self.messages.statistics().current_buffer_used + len(self._staged)

    async def wait_connected(self) -> None:
        """Return once ``connected``; raises ``MqttDisconnected`` if the client is closed."""
        await trio.lowlevel.checkpoint()
        while self._connection is None:
            if self._closed:
                raise MqttDisconnected("the MQTT client is closed")
            await self._state_changed.wait()

    async def wait_disconnected(self) -> None:
        """Return once not ``connected`` (at once if it is not)."""
        await trio.lowlevel.checkpoint()
        while self._connection is not None:
            await self._state_changed.wait()

    def _state_change(self) -> None:
        self._state_changed.set()
        self._state_changed = trio.Event()

    # --- publishing -------------------------------------------------------------------------------------------

    async def publish(
        self,
        topic: str,
        payload: bytes,
        qos: int = 1,
        retain: bool = False,
        properties: Properties | None = None,
    ) -> ReasonCode:
        """Publish and wait for the broker's acknowledgement; returns its reason code.

        Raises ``MqttDisconnected`` (not connected, or lost before the answer: the broker may or may not have
        the message) or ``PublishFailed`` (refused by the broker). Waits first if the window is full.
        Cancelling it after the message was handed over does not recall the message.
        """
        handle = await self.start_publish(topic, payload, qos, retain, properties)
        return await handle.wait()

    async def start_publish(
        self,
        topic: str,
        payload: bytes,
        qos: int = 1,
        retain: bool = False,
        properties: Properties | None = None,
    ) -> PublishHandle:
        """Wait for room in the in-flight window, hand the message over and return its handle.

        Raises ``MqttDisconnected`` at once when not connected (it does not wait for a connection).
        """
        handle = self._new_handle(topic, qos)
        await trio.lowlevel.checkpoint_if_cancelled()
        self._require_connection()
        await self._window.acquire_on_behalf_of(handle)
        self._hand_over(handle, payload, retain, properties)
        return handle

    def publish_nowait(
        self,
        topic: str,
        payload: bytes,
        qos: int = 1,
        retain: bool = False,
        properties: Properties | None = None,
    ) -> PublishHandle:
        """Like ``start_publish`` but raises ``trio.WouldBlock`` when the window is full."""
        handle = self._new_handle(topic, qos)
        self._require_connection()
        self._window.acquire_on_behalf_of_nowait(handle)
        self._hand_over(handle, payload, retain, properties)
        return handle

    @property
    def in_flight(self) -> int:
        """Publishes handed over and not yet settled."""
        return self.stats.in_flight

    @property
    def publish_window(self) -> int:
        """How many publishes may be in flight: ``max_in_flight``, lowered to the broker's Receive Maximum."""
        return int(self._window.total_tokens)

    def _new_handle(self, topic: str, qos: int) -> PublishHandle:
        _check_topic_name(topic, "publish topic")
        if qos not in (0, 1):
            raise ValueError(f"publish qos must be 0 or 1, not {qos!r}")
        return PublishHandle(topic, qos, self._publish_settled)

    def _require_connection(self) -> Connection:
        connection = self._connection
        if connection is None:
            raise MqttDisconnected(
                "the MQTT client is closed" if self._closed else "not connected to the broker"
            )
        return connection

    def _hand_over(
        self, handle: PublishHandle, payload: bytes, retain: bool, properties: Properties | None
    ) -> None:
        # Counted first: a QoS-0 publish may be written, and so settled, before publish() returns.
        self.stats.published += 1
        self.stats.in_flight += 1
        try:
            # Checked again: the connection may have gone while we waited for the window.
            self._require_connection().publish(handle, payload, retain, properties)
        except BaseException:
            self.stats.published -= 1
            self.stats.in_flight -= 1
            self._window.release_on_behalf_of(handle)
            raise

    def _publish_settled(self, handle: PublishHandle) -> None:
        self._window.release_on_behalf_of(handle)
        self.stats.in_flight -= 1
        if handle.failed:
            self.stats.publish_failed += 1
        else:
            self.stats.publish_acked += 1

    # --- subscribing and receiving ---------------------------------------------------------------------------

    async def subscribe(self, subscriptions: Sequence[tuple[str, int]]) -> list[ReasonCode]:
        """Subscribe to ``(filter, qos)`` pairs (qos 0 or 1) and return the SUBACK's reason codes.

        Waits for a connection if there is none and tries again if the connection drops before the SUBACK,
        so it returns once the broker granted the subscriptions (or raises ``SubscribeFailed`` listing
        the refused filters; the granted ones stand). Granted subscriptions are issued again after every
        reconnect that does not resume the session. Raises ``MqttDisconnected`` only if the client closes.
        """
        wanted = list(subscriptions)
        if not wanted:
            raise ValueError("subscribe needs at least one (filter, qos) pair")
        for topic, qos in wanted:
            if not topic:
                raise ValueError("subscription filter must not be empty")
            if qos not in (0, 1):
                raise ValueError(f"subscription qos must be 0 or 1, not {qos!r} (for {topic!r})")
        while True:
            await self.wait_connected()
            connection = self._require_connection()
            try:
                reason_codes = await connection.subscribe(wanted)
            except MqttDisconnected:
                continue
            self._record_granted(wanted, reason_codes)
            refused = [
                (topic, code)
                for (topic, _), code in zip(wanted, reason_codes, strict=False)
                if code.is_failure
            ]
            if refused:
                raise SubscribeFailed(refused)
            return reason_codes

    def _record_granted(self, wanted: list[tuple[str, int]], reason_codes: list[ReasonCode]) -> None:
        for (topic, qos), code in zip(wanted, reason_codes, strict=False):
            if not code.is_failure:
                self._subscriptions[topic] = qos

    async def receive_batch(self, max_messages: int = 100) -> list[MqttMessage]:
        """Wait for a message, then take whatever else is already buffered, up to ``max_messages``.

        One trip through the scheduler for the whole batch, where ``async for`` over ``messages`` costs one
        per message (``bench/mqtt_throughput.py`` measures both). A batch also suits a consumer that stores
        with one pipelined round trip. Raises ``trio.EndOfChannel`` once the client is closed and
        everything was received.
        """
        batch = [await self.messages.receive()]
        receive_nowait = self.messages.receive_nowait
        while len(batch) < max_messages:
            try:
                batch.append(receive_nowait())
            except trio.WouldBlock:
                break
        return batch

    def ack(self, message: MqttMessage) -> bool:
        """Send the PUBACK for a QoS-1 ``message`` (``manual_ack=True`` only).

        Returns False, sending nothing, for QoS 0, for a message already acknowledged, and for a message
        of an earlier connection (the broker redelivers those on a resumed session). Never blocks; the
        PUBACK is written by the connection's writer.
        """
        return self.ack_many((message,)) == 1

    def ack_many(self, messages: Iterable[MqttMessage]) -> int:
        """``ack`` for each of ``messages``, their PUBACKs written together; returns how many were sent."""
        if not self.settings.manual_ack:
            raise RuntimeError("ack() needs MqttSettings(manual_ack=True); otherwise paho acknowledges")
        current = self._current
        number = current.number if current is not None else -1
        acks = [message for message in messages if message.qos]
        fresh = [message for message in acks if message.connection == number]
        sent = current.ack(fresh) if current is not None and fresh else 0
        self.stats.acked += sent
        self.stats.stale_acks += len(acks) - sent
        return sent

    def _stage(self, message: MqttMessage) -> None:
        """paho's on_message: keep the message until the reader can put it into the channel."""
        self.stats.received += 1
        self._staged.append(message)

    def _deliver_nowait(self) -> bool:
        """Move staged messages into the channel while it has room; True when none is left."""
        staged, send = self._staged, self._send_messages
        while staged:
            try:
                send.send_nowait(staged[0])
            except trio.WouldBlock:
                return False
            staged.popleft()
        return True

    async def _deliver(self) -> None:
        """Move all staged messages into the channel, waiting for room (this is the back-pressure)."""
        while not self._deliver_nowait():
            await self._send_messages.send(self._staged[0])
            self._staged.popleft()

    # --- the connection loop ---------------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Connect, serve and reconnect with backoff until cancelled; reports started at once.

        Only one ``run`` per client, once. Never returns normally; connection problems are logged and
        retried, not raised.
        """
        if self._started:
            raise RuntimeError("MqttClient.run may only be called once per client")
        self._started = True
        task_status.started()
        backoff = self.settings.backoff
        failures = 0
        try:
            while True:
                # Messages left from a lost connection go out first: a new connection could not read its
                # CONNACK while the reader waits for room in the channel.
                await self._deliver()
                up_for_s = await self._connect_and_serve()
                if up_for_s is not None and up_for_s >= backoff.reset_after_s:
                    failures = 0
                failures += 1
                delay_s = backoff.delay_s(failures, random.random())
                logger.debug("next attempt to connect to %s in %.1f s", self.settings.broker.url, delay_s)
                await trio.sleep(delay_s)
        finally:
            self._closed = True
            self._send_messages.close()
            self._state_change()

    async def _connect_and_serve(self) -> float | None:
        """One connection from connect to loss; returns how long it was usable (None: never)."""
        settings = self.settings
        try:
            connection = await open_connection(
                settings, next(self._numbers), self._connect_limiter, self._stage
            )
        except OSError as error:
            self.stats.connect_failures += 1
            logger.warning(
                "cannot connect to %s: %s", settings.broker.url, str(error) or type(error).__name__
            )
            return None
        self._current = connection
        usable_since: float | None = None
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(connection.serve, self._deliver, self._deliver_nowait)
                with trio.move_on_after(settings.connect_timeout_s):
                    await self._handshake(connection)
                if self._connection is connection:
                    usable_since = trio.current_time()
                else:
                    connection.mark_lost(f"no CONNACK/SUBACK within {settings.connect_timeout_s} s")
                await connection.lost.wait()
        finally:
            if self._connection is connection:
                self._connection = None  # before closing: no new publish may join a closing connection
            await connection.close(graceful=not connection.lost.is_set())
            self._current = None
            self._disconnected(connection, usable_since)
        return None if usable_since is None else trio.current_time() - usable_since

    async def _handshake(self, connection: Connection) -> None:
        """Wait for the CONNACK, subscribe again on a new session, then declare the connection usable."""
        await connection.connack_or_lost.wait()
        if not connection.accepted or connection.lost.is_set():
            return
        if self._subscriptions and not connection.session_present:
            wanted = list(self._subscriptions.items())
            try:
                reason_codes = await connection.subscribe(wanted)
            except MqttDisconnected:
                return
            for (topic, _), code in zip(wanted, reason_codes, strict=False):
                if code.is_failure:
                    logger.error(
                        "broker %s refused the subscription %r again: %s",
                        self.settings.broker.url,
                        topic,
                        code,
                    )
        self._window.total_tokens = min(self.settings.max_in_flight, connection.receive_maximum)
        self._connection = connection
        self.stats.connects += 1
        logger.info(
            "connected to %s as %r (%s session)",
            self.settings.broker.url,
            self.settings.client_id,
            "resumed" if connection.session_present else "new",
        )
        self._state_change()

    def _disconnected(self, connection: Connection, usable_since: float | None) -> None:
        reason = connection.lost_reason
        self.stats.disconnect_reasons[reason] += 1
        self.stats.last_disconnect_reason = reason
        level = logging.INFO if reason == CLOSED_BY_CLIENT else logging.WARNING
        if usable_since is None:
            self.stats.connect_failures += 1
            logger.log(level, "connection to %s failed: %s", self.settings.broker.url, reason)
            return
        self.stats.disconnects += 1
        up_for_s = trio.current_time() - usable_since
        logger.log(level, "disconnected from %s after %.1f s: %s", self.settings.broker.url, up_for_s, reason)
        self._state_change()
