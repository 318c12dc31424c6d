"""One MQTT connection: a connected paho client, its socket, and the three Trio tasks that move its bytes.

paho-mqtt 2.x serves as the protocol engine, without its network thread (connecting: ``_mqtt_connect``):

- a reader task waits ``wait_readable`` and calls ``loop_read`` (paho then runs our callbacks);
- a writer task sleeps until paho asks for a write (``on_socket_register_write``), re-checks
  ``want_write()``, waits ``wait_writable`` and calls ``loop_write``;
- a misc task calls ``loop_misc`` every second (keepalive PINGREQ, and the dead-broker check).

The PUBACKs and PINGRESPs a burst of reads produced are written by the reader right after the burst, as
far as the socket takes them without blocking. Everything else (publishes, manual acks, PINGREQ) wakes
the writer task, which sends whatever has queued up by the time it runs as one buffer (``_mqtt_paho``):
a gateway's burst of publishes, or a batch's acks, costs one ``send`` and one trip through the scheduler
instead of one each (measured with ``bench/gateway.py`` and ``bench/mqtt_throughput.py``).

Which thread runs the callbacks: paho calls them from inside ``loop_*`` and ``connect``. Our callbacks are
installed only after ``connect()`` has returned, so all of them run in the Trio thread, inside a
``loop_*`` call of one of our tasks. ``on_socket_register_write`` still checks and, if it is ever called
from another thread (a future paho), wakes the writer through the Trio token's ``run_sync_soon``.
"""

from __future__ import annotations

import contextlib
import ssl
import threading
from collections.abc import Awaitable, Callable, Iterable

import paho.mqtt.client as paho_mqtt
import trio
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from fanet.gateway._mqtt_connect import connect_paho
from fanet.gateway._mqtt_paho import PahoClient
from fanet.gateway._mqtt_settings import MqttSettings
from fanet.gateway._mqtt_types import MqttDisconnected, MqttMessage, PublishFailed, PublishHandle

CLOSE_TIMEOUT_S = 1.0  # how long a shutdown may spend writing what is queued plus DISCONNECT
CLOSED_BY_CLIENT = "closed by client"
MISC_INTERVAL_S = 1.0
DEFAULT_RECEIVE_MAXIMUM = 65535
_READ_BURST = 512
"""Packets read per wake-up before the reader yields to other tasks. Each wake-up is one turn of the
scheduler, which with 10,000 WebSocket clients takes tens of milliseconds: at 32 a turn the server read
≈ 1,400–1,500 messages/s of 2,000 published, at 512 ≈ 1,950/s (bench/ws_load.py); the channel's
back-pressure still bounds a burst."""
_SUCCESS = MQTTErrorCode.MQTT_ERR_SUCCESS
_new_message = tuple.__new__  # MqttMessage without the NamedTuple's argument handling


async def open_connection(
    settings: MqttSettings,
    number: int,
    limiter: trio.CapacityLimiter,
    on_message: Callable[[MqttMessage], None],
) -> Connection:
    """Connect (see ``connect_paho``); the CONNACK is read once ``serve`` runs.

    Raises ``OSError`` (refused, unreachable, DNS, TLS verification) when the broker cannot be reached.
    """
    client = await connect_paho(settings, limiter)
    return Connection(number, client, settings, on_message)


class _PendingSubscribe:
    __slots__ = ("done", "reason_codes")

    def __init__(self) -> None:
        self.done = trio.Event()
        self.reason_codes: list[ReasonCode] | None = None


class Connection:
    """A connected paho client plus the bookkeeping of what is outstanding on this connection.

    ``number`` tells this connection apart from earlier ones (messages carry it, so acks for messages of
    a dead connection are recognised). ``accepted``/``session_present``/``receive_maximum`` describe the
    CONNACK; ``lost`` is set once the connection is over and ``lost_reason`` says why.
    """

    def __init__(
        self,
        number: int,
        client: PahoClient,
        settings: MqttSettings,
        on_message: Callable[[MqttMessage], None],
    ) -> None:
        sock = client.socket()
        if sock is None:  # connect() returned without raising, so paho holds a socket
            raise MqttDisconnected("paho returned from connect() without a socket")
        self.number = number
        self.client = client
        self.sock = sock
        self.accepted = False
        self.session_present = False
        self.receive_maximum = DEFAULT_RECEIVE_MAXIMUM
        self.connack_or_lost = trio.Event()
        self.lost = trio.Event()
        self.lost_reason = "connection lost"
        self._settings = settings
        self._on_message = on_message
        self._manual_ack = settings.manual_ack
        self._refusal: str | None = None
        self._socket_closed = False
        self._packets = 0  # packets handled by callbacks; tells the reader whether a read made progress
        self._publishes: dict[int, PublishHandle] = {}
        self._subscribes: dict[int, _PendingSubscribe] = {}
        self._unacked: dict[int, MqttMessage] = {}
        self._write_wanted = trio.Event()
        self._writing_inline = False  # inside the reader's paho calls, after which the reader writes itself
        self._trio_thread = threading.get_ident()
        self._trio_token = trio.lowlevel.current_trio_token()
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish_received = self._on_publish_received
        client.on_publish = self._on_publish
        client.on_subscribe = self._on_subscribe
        client.on_socket_close = self._on_socket_close
        client.on_socket_register_write = self._on_socket_register_write

    # --- the tasks -------------------------------------------------------------------------------------

    async def serve(self, deliver: Callable[[], Awaitable[None]], deliver_nowait: Callable[[], bool]) -> None:
        """Run reader, writer and keepalive until the connection is lost (or this is cancelled)."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._read_loop, deliver, deliver_nowait)
            nursery.start_soon(self._write_loop)
            nursery.start_soon(self._misc_loop)
            await self.lost.wait()
            nursery.cancel_scope.cancel()

    async def _read_loop(
        self, deliver: Callable[[], Awaitable[None]], deliver_nowait: Callable[[], bool]
    ) -> None:
        client, sock = self.client, self.sock
        try:
            while not self._socket_closed:
                # Back-pressure: nothing more is read while a received message waits for room in the channel.
                await deliver()
                if self._socket_closed:
                    return
                if client.buffered or (isinstance(sock, ssl.SSLSocket) and sock.pending()):
                    await trio.lowlevel.checkpoint()  # bytes already read: no need to wait for the socket
                else:
                    await trio.lowlevel.wait_readable(sock)
                # Several packets per wake-up: each wait is a trip through the scheduler.
                self._writing_inline = True
                try:
                    for _ in range(_READ_BURST):
                        before = self._packets
                        rc = client.loop_read()
                        if rc != _SUCCESS:
                            self.mark_lost(f"read failed: {paho_mqtt.error_string(rc)}")
                            return
                        if self._packets == before or self._socket_closed or not deliver_nowait():
                            break
                finally:
                    self._writing_inline = False
                self._write_now()  # the PUBACKs (or PINGRESP) these reads produced
        except trio.ClosedResourceError:  # paho closed the socket while we waited on it
            self.mark_lost("connection lost")

    async def _write_loop(self) -> None:
        client, sock = self.client, self.sock
        try:
            while not self._socket_closed:
                # Armed before the check, so a request made between check and wait is not missed.
                self._write_wanted = trio.Event()
                if not client.want_write():
                    await self._write_wanted.wait()
                    continue
                await trio.lowlevel.wait_writable(sock)
                if self._socket_closed:
                    return
                rc = client.loop_write()
                if rc != _SUCCESS:
                    self.mark_lost(f"write failed: {paho_mqtt.error_string(rc)}")
                    return
        except trio.ClosedResourceError:
            self.mark_lost("connection lost")

    async def _misc_loop(self) -> None:
        while not self._socket_closed:
            await trio.sleep(MISC_INTERVAL_S)
            if self._socket_closed:
                return
            if self.client.loop_misc() != _SUCCESS:
                self.mark_lost("keepalive timeout (no answer from the broker)")
                return

    def _write_now(self) -> None:
        """Write what paho has queued from the calling task, as far as the socket takes it without blocking.

        The reader's PUBACKs go out without waking the writer task; whatever the socket does not take now
        is left to the writer task.
        """
        client = self.client
        if self._socket_closed or not client.want_write():
            return
        rc = client.loop_write()
        if rc != _SUCCESS:
            self.mark_lost(f"write failed: {paho_mqtt.error_string(rc)}")
        elif client.want_write():
            self._write_wanted.set()

    def mark_lost(self, reason: str) -> None:
        if not self.lost.is_set():
            self.lost_reason = reason
            self.lost.set()
            self.connack_or_lost.set()

    async def close(self, *, graceful: bool) -> None:
        """End the connection and settle everything outstanding on it with ``MqttDisconnected``.

        ``graceful``: first write what paho has queued (publishes, acks) and a DISCONNECT, so the broker
        does not publish our will, bounded by ``CLOSE_TIMEOUT_S`` and shielded from cancellation.
        Publishes still awaiting their PUBACK fail: the broker may or may not have them.
        """
        with trio.CancelScope(shield=True):
            if graceful and not self._socket_closed:
                with trio.move_on_after(CLOSE_TIMEOUT_S):
                    self.client.disconnect()
                    while not self._socket_closed and self.client.want_write():
                        await trio.lowlevel.wait_writable(self.sock)
                        if not self._socket_closed:
                            self.client.loop_write()
            if not self._socket_closed:
                self._socket_closed = True
                trio.lowlevel.notify_closing(self.sock)
                self.sock.close()
        self.mark_lost(CLOSED_BY_CLIENT)
        publishes, self._publishes = self._publishes, {}
        for handle in publishes.values():
            handle._settle(
                None, MqttDisconnected(f"connection lost before the broker answered ({self.lost_reason})")
            )
        subscribes, self._subscribes = self._subscribes, {}
        for pending in subscribes.values():
            pending.done.set()
        self._unacked.clear()

    # --- requests from the client ------------------------------------------------------------------------

    def publish(
        self, handle: PublishHandle, payload: bytes, retain: bool, properties: Properties | None
    ) -> None:
        if self._socket_closed:
            raise MqttDisconnected(f"not connected ({self.lost_reason})")
        info = self.client.publish(handle.topic, payload, handle.qos, retain, properties)  # wakes the writer
        if info.rc != _SUCCESS:
            raise MqttDisconnected(f"paho did not queue the publish: {paho_mqtt.error_string(info.rc)}")
        handle.mid = info.mid
        self._publishes[info.mid] = handle

    async def subscribe(self, subscriptions: list[tuple[str, int]]) -> list[ReasonCode]:
        """Send one SUBSCRIBE and return the SUBACK's reason codes; ``MqttDisconnected`` if lost first."""
        if self._socket_closed:
            raise MqttDisconnected(f"not connected ({self.lost_reason})")
        rc, mid = self.client.subscribe([(topic, SubscribeOptions(qos=qos)) for topic, qos in subscriptions])
        if rc != _SUCCESS or mid is None:
            raise MqttDisconnected(f"paho did not queue the subscribe: {paho_mqtt.error_string(rc)}")
        pending = _PendingSubscribe()
        self._subscribes[mid] = pending
        try:
            await pending.done.wait()
        finally:
            self._subscribes.pop(mid, None)
        if pending.reason_codes is None:
            raise MqttDisconnected(f"connection lost before the SUBACK ({self.lost_reason})")
        return pending.reason_codes

    def ack(self, messages: Iterable[MqttMessage]) -> int:
        """Queue the PUBACKs of those ``messages`` still unacknowledged on this connection (as one write);
        returns how many. The writer task writes them."""
        if self._socket_closed:
            return 0
        unacked = self._unacked
        mids = []
        for message in messages:
            mid = message.mid
            if unacked.get(mid) is message:
                del unacked[mid]
                mids.append(mid)
        self.client.ack_many(mids)
        return len(mids)

    # --- paho callbacks (all in the Trio thread, see the module docstring) -------------------------------

    def _on_connect(
        self,
        client: paho_mqtt.Client,
        userdata: object,
        flags: paho_mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._packets += 1
        if reason_code.is_failure:
            self._refusal = str(reason_code)
            return  # paho closes the socket next and reports it through on_disconnect
        self.accepted = True
        self.session_present = flags.session_present
        self.receive_maximum = getattr(properties, "ReceiveMaximum", DEFAULT_RECEIVE_MAXIMUM)
        self.connack_or_lost.set()

    def _on_disconnect(
        self,
        client: paho_mqtt.Client,
        userdata: object,
        flags: paho_mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if self._refusal is not None:
            reason = f"connection refused: {self._refusal}"
        elif flags.is_disconnect_packet_from_server:
            reason = f"broker sent DISCONNECT: {reason_code}"
        elif reason_code == ReasonCode(PacketTypes.DISCONNECT, "Keep alive timeout"):
            reason = "keepalive timeout (no answer from the broker)"
        elif reason_code.value == 0:
            reason = CLOSED_BY_CLIENT
        else:
            reason = "connection lost"
        self.mark_lost(reason)

    def _on_socket_close(self, client: paho_mqtt.Client, userdata: object, sock: object) -> None:
        if self._socket_closed:  # we closed it ourselves (paho's __del__ may call this again later)
            return
        self._socket_closed = True
        trio.lowlevel.notify_closing(self.sock)  # wakes a task waiting on it, before the fd can be reused

    def _on_socket_register_write(self, client: paho_mqtt.Client, userdata: object, sock: object) -> None:
        if threading.get_ident() == self._trio_thread:
            if not self._writing_inline:  # else the caller writes as soon as paho returns
                self._write_wanted.set()
        else:
            with contextlib.suppress(trio.RunFinishedError):
                self._trio_token.run_sync_soon(self._wake_writer)

    def _wake_writer(self) -> None:
        self._write_wanted.set()

    def _on_publish_received(
        self,
        topic: str,
        payload: bytes,
        qos: int,
        retain: bool,
        mid: int,
        duplicate: bool,
        properties: Properties | None,
    ) -> None:
        self._packets += 1
        received = _new_message(
            MqttMessage,
            (topic, payload, qos, retain, mid, duplicate, properties, trio.current_time(), self.number),
        )
        if qos and self._manual_ack:
            self._unacked[mid] = received
        self._on_message(received)

    def _on_publish(
        self,
        client: paho_mqtt.Client,
        userdata: object,
        mid: int,
        reason_code: ReasonCode,
        properties: Properties,
    ) -> None:
        self._packets += 1
        handle = self._publishes.pop(mid, None)
        if handle is None:
            return
        if reason_code.is_failure:
            handle._settle(reason_code, PublishFailed(handle.topic, reason_code))
        else:
            handle._settle(reason_code)

    def _on_subscribe(
        self,
        client: paho_mqtt.Client,
        userdata: object,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        self._packets += 1
        pending = self._subscribes.pop(mid, None)
        if pending is not None:
            pending.reason_codes = reason_codes
            pending.done.set()
