"""The Trio MQTT client against real mosquitto brokers: delivery, acknowledgement, back-pressure, outages.

Brokers that a test pauses (SIGSTOP), stops, restarts or kills come from ``mosquitto_factory``; the others
share the session broker with unique topics and client ids. Waits are bounded by ``trio.fail_after``.
"""

from __future__ import annotations

import gc
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho_mqtt
import pytest
import trio
from paho.mqtt.enums import CallbackAPIVersion
from services import MosquittoBroker, MosquittoFactory

from fanet.gateway.mqtt import (
    CLOSE_TIMEOUT_S,
    Backoff,
    LastWill,
    MqttClient,
    MqttDisconnected,
    MqttMessage,
    MqttSettings,
    PublishFailed,
    open_mqtt_client,
)

TIMEOUT_S = 5.0
QUIET_S = 0.3  # how long "nothing more arrives" is watched for
FAST_BACKOFF = Backoff(initial_s=0.05, max_s=0.2, jitter=0.0, reset_after_s=0.0)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def settings_for(url: str, client_id: str | None = None, **options: Any) -> MqttSettings:
    options.setdefault("backoff", FAST_BACKOFF)
    options.setdefault("connect_timeout_s", 2.0)
    return MqttSettings.from_url(url, client_id or unique("test"), **options)


@contextmanager
def broker_paused(broker: MosquittoBroker) -> Iterator[None]:
    """Freeze the broker process: sockets stay open, nothing is answered."""
    assert broker.process is not None
    os.kill(broker.process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        if broker.running:
            os.kill(broker.process.pid, signal.SIGCONT)


def subscribes_logged(broker: MosquittoBroker, client_id: str) -> int:
    """How many SUBSCRIBE packets the broker received from ``client_id`` (its log survives restarts)."""
    return len(re.findall(rf"Received SUBSCRIBE from {re.escape(client_id)}\b", broker.log_path.read_text()))


async def receive_within(client: MqttClient, timeout_s: float = TIMEOUT_S) -> MqttMessage:
    with trio.fail_after(timeout_s):
        return await client.messages.receive()


async def assert_nothing_more(client: MqttClient) -> None:
    with trio.move_on_after(QUIET_S):
        message = await client.messages.receive()
        pytest.fail(f"unexpected message {message}")


class PahoSubscriber:
    """An independent witness: plain paho on its own network thread, subscribed before it is returned."""

    def __init__(self, broker: MosquittoBroker, topic: str) -> None:
        self.messages: list[paho_mqtt.MQTTMessage] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self._client = paho_mqtt.Client(CallbackAPIVersion.VERSION2, protocol=paho_mqtt.MQTTv5)
        self._client.on_message = self._on_message
        self._client.on_subscribe = lambda *_: self._subscribed.set()
        self._client.on_connect = lambda client, *_: client.subscribe(topic, qos=1)
        self._client.connect(broker.host, broker.port)

    def _on_message(self, client: paho_mqtt.Client, userdata: object, message: paho_mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append(message)

    def __enter__(self) -> PahoSubscriber:
        self._client.loop_start()
        if not self._subscribed.wait(TIMEOUT_S):
            self.__exit__()
            raise TimeoutError("the witness subscriber got no SUBACK")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    async def wait_for(self, count: int) -> list[paho_mqtt.MQTTMessage]:
        with trio.fail_after(TIMEOUT_S):
            while True:
                with self._lock:
                    if len(self.messages) >= count:
                        return list(self.messages)
                await trio.sleep(0.01)


async def test_publish_returns_only_after_the_brokers_puback(mosquitto_factory: MosquittoFactory) -> None:
    broker = mosquitto_factory()
    topic = unique("fb/b/puback") + "/f"
    with PahoSubscriber(broker, topic) as witness:
        async with open_mqtt_client(settings_for(broker.url)) as client:
            with trio.fail_after(TIMEOUT_S):
                await client.wait_connected()
            with broker_paused(broker):
                handle = await client.start_publish(topic, b"frame-1")
                await trio.sleep(QUIET_S)
                assert not handle.settled  # written, but a frozen broker cannot acknowledge it
                assert client.in_flight == 1
                with trio.fail_after(TIMEOUT_S):  # QoS 0 is done once written, answered or not
                    await client.publish(topic, b"frame-0", qos=0)
            with trio.fail_after(TIMEOUT_S):
                assert (await handle.wait()).value == 0
                assert (await client.publish(topic, b"frame-2")).value == 0
            received = await witness.wait_for(3)
    assert [(m.payload, m.qos) for m in received] == [(b"frame-1", 1), (b"frame-0", 0), (b"frame-2", 1)]
    assert (client.stats.published, client.stats.publish_acked, client.stats.in_flight) == (3, 3, 0)


async def test_publishes_are_pipelined_within_the_window(mosquitto_factory: MosquittoFactory) -> None:
    broker = mosquitto_factory()
    topic = unique("fanet/window")
    async with open_mqtt_client(settings_for(broker.url, max_in_flight=500)) as client:
        with trio.fail_after(TIMEOUT_S):
            await client.wait_connected()
        assert client.publish_window == 20  # mosquitto's Receive Maximum lowers our 500
        with broker_paused(broker):
            handles = [client.publish_nowait(topic, b"%d" % i) for i in range(20)]
            with pytest.raises(trio.WouldBlock):
                client.publish_nowait(topic, b"one too many")
            with trio.move_on_after(QUIET_S) as waited:
                await client.start_publish(topic, b"waits for room")
            assert waited.cancelled_caught
        with trio.fail_after(TIMEOUT_S):
            for handle in handles:
                await handle.wait()
            await client.publish(topic, b"room again")
    assert client.stats.publish_acked == 21


async def test_publish_while_disconnected_raises_at_once() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    async with open_mqtt_client(settings_for(f"mqtt://127.0.0.1:{port}")) as client:
        with trio.fail_after(1.0), pytest.raises(MqttDisconnected, match="not connected"):
            await client.publish("fanet/nowhere", b"x")
        with pytest.raises(MqttDisconnected):
            client.publish_nowait("fanet/nowhere", b"x")
        with trio.move_on_after(QUIET_S):
            await client.wait_connected()
        assert not client.connected
        assert client.stats.connect_failures >= 2  # it keeps trying, with backoff


async def test_publish_refused_by_the_broker_raises_publish_failed(
    mosquitto_factory: MosquittoFactory, tmp_path: Path
) -> None:
    acl = tmp_path / "acl"
    acl.write_text("topic readwrite fanet/allowed/#\n")
    broker = mosquitto_factory(extra_config=[f"acl_file {acl}"])
    async with open_mqtt_client(settings_for(broker.url)) as client:
        with trio.fail_after(TIMEOUT_S):
            await client.wait_connected()
            with pytest.raises(PublishFailed, match="Not authorized") as refused:
                await client.publish("fanet/forbidden", b"x")
            assert refused.value.reason_code.value == 0x87
            # mosquitto grants any valid filter and applies the ACL on delivery, so SubscribeFailed (a
            # SUBACK failure code) cannot be provoked here; the connection survives the refusal.
            await client.subscribe([("fanet/allowed/#", 1)])
            await client.publish("fanet/allowed/x", b"still connected")
            assert (await receive_within(client)).payload == b"still connected"
    assert (client.stats.publish_failed, client.stats.connects) == (1, 1)


async def test_unacked_message_is_redelivered_to_the_same_client_id_and_acked_one_is_not(
    mosquitto_broker: MosquittoBroker,
) -> None:
    topic = unique("fanet/ack")
    server = settings_for(
        mosquitto_broker.url, unique("server"), manual_ack=True, clean_start=False, session_expiry_s=60
    )
    async with open_mqtt_client(settings_for(mosquitto_broker.url)) as publisher:
        async with open_mqtt_client(server) as first_run:
            with trio.fail_after(TIMEOUT_S):
                await first_run.subscribe([(topic, 1)])
                await publisher.wait_connected()
                await publisher.publish(topic, b"stored")
                await publisher.publish(topic, b"not stored")
            stored, not_stored = await receive_within(first_run), await receive_within(first_run)
            assert (stored.payload, not_stored.payload) == (b"stored", b"not stored")
            assert first_run.ack(stored)
            assert not first_run.ack(stored)  # a second ack could acknowledge a later message with its mid
        # Leaving the block wrote the PUBACK, then DISCONNECT; the broker keeps the session.
        async with open_mqtt_client(server) as second_run:
            redelivered = await receive_within(second_run)
            assert (redelivered.payload, redelivered.duplicate) == (b"not stored", True)
            assert not second_run.ack(not_stored)  # from the old connection: ignored
            assert second_run.ack(redelivered)
            await assert_nothing_more(second_run)
        async with open_mqtt_client(server) as third_run:
            with trio.fail_after(TIMEOUT_S):
                await third_run.wait_connected()
            await assert_nothing_more(third_run)
    assert second_run.stats.stale_acks == 1


async def test_reconnect_resumes_the_session_and_ignores_acks_from_the_old_connection(
    mosquitto_factory: MosquittoFactory,
) -> None:
    broker = mosquitto_factory()
    topic, client_id = unique("fanet/resume"), unique("server")
    settings = settings_for(broker.url, client_id, manual_ack=True, clean_start=False, session_expiry_s=60)
    async with open_mqtt_client(settings) as client:
        with trio.fail_after(TIMEOUT_S):
            await client.subscribe([(topic, 1)])
        async with open_mqtt_client(settings_for(broker.url)) as publisher:
            with trio.fail_after(TIMEOUT_S):
                await publisher.wait_connected()
                await publisher.publish(topic, b"before restart")
        before = await receive_within(client)
        await trio.to_thread.run_sync(broker.stop)  # saves the session, with the unacknowledged message
        with trio.fail_after(TIMEOUT_S):
            await client.wait_disconnected()
        await trio.to_thread.run_sync(broker.start)
        again = await receive_within(client)
        assert (again.payload, again.duplicate) == (b"before restart", True)
        assert again.connection > before.connection  # numbered per attempt: some failed while it was down
        assert not client.ack(before)
        assert client.ack(again)
        with trio.fail_after(TIMEOUT_S):
            await client.wait_connected()
        assert subscribes_logged(broker, client_id) == 1  # the resumed session kept the subscription
    assert (client.stats.connects, client.stats.disconnects, client.stats.stale_acks) == (2, 2, 1)
    # mosquitto 2.0.11 closes the socket on shutdown without a DISCONNECT packet
    assert client.stats.disconnect_reasons == {"connection lost": 1, "closed by client": 1}


async def test_new_session_after_reconnect_subscribes_again(mosquitto_factory: MosquittoFactory) -> None:
    broker = mosquitto_factory()
    topic, client_id = unique("fanet/resubscribe"), unique("server")
    async with (
        open_mqtt_client(settings_for(broker.url, client_id)) as subscriber,
        open_mqtt_client(settings_for(broker.url)) as publisher,
    ):
        with trio.fail_after(TIMEOUT_S):
            await subscriber.subscribe([(topic, 1)])
        await trio.to_thread.run_sync(broker.stop)
        await trio.to_thread.run_sync(broker.start)
        with trio.fail_after(TIMEOUT_S):
            await subscriber.wait_connected()
            await publisher.wait_connected()
            await publisher.publish(topic, b"after restart")
        assert (await receive_within(subscriber)).payload == b"after restart"
    assert subscribes_logged(broker, client_id) == 2


async def test_broker_outage_publishes_raise_then_the_client_reconnects_by_itself(
    mosquitto_factory: MosquittoFactory, caplog: pytest.LogCaptureFixture
) -> None:
    broker = mosquitto_factory()
    topic = unique("fb/b/outage") + "/f"
    caplog.set_level("INFO", logger="fanet.mqtt")
    async with open_mqtt_client(settings_for(broker.url)) as client:
        with trio.fail_after(TIMEOUT_S):
            await client.wait_connected()
            await client.publish(topic, b"before")
        await trio.to_thread.run_sync(broker.stop)
        with trio.fail_after(TIMEOUT_S):
            await client.wait_disconnected()
        down_since = trio.current_time()
        with pytest.raises(MqttDisconnected):
            await client.publish(topic, b"during")  # the gateway spools this one
        await trio.sleep(2.0 - (trio.current_time() - down_since))
        assert client.stats.connect_failures >= 2
        await trio.to_thread.run_sync(broker.start)
        with trio.fail_after(TIMEOUT_S):
            await client.wait_connected()
            with PahoSubscriber(broker, topic) as witness:
                await client.publish(topic, b"after")
                assert [m.payload for m in await witness.wait_for(1)] == [b"after"]
    assert (client.stats.connects, client.stats.disconnects) == (2, 2)
    connects = [r for r in caplog.records if r.getMessage().startswith("connected to")]
    disconnects = [r for r in caplog.records if r.getMessage().startswith("disconnected from")]
    assert len(connects) == 2 and len(disconnects) == 2
    assert disconnects[0].getMessage().endswith(": connection lost")
    assert disconnects[1].getMessage().endswith(": closed by client")


async def test_publish_in_flight_fails_when_the_connection_dies(mosquitto_factory: MosquittoFactory) -> None:
    broker = mosquitto_factory()
    async with open_mqtt_client(settings_for(broker.url)) as client:
        with trio.fail_after(TIMEOUT_S):
            await client.wait_connected()
        with broker_paused(broker):
            handle = await client.start_publish("fanet/lost", b"x")
            broker.kill()
        with trio.fail_after(TIMEOUT_S), pytest.raises(MqttDisconnected, match="before the broker answered"):
            await handle.wait()
        assert client.stats.publish_failed == 1 and client.in_flight == 0


async def test_slow_consumer_gets_every_message_in_order_while_the_broker_holds_the_backlog(
    mosquitto_broker: MosquittoBroker,
) -> None:
    count, buffer = 500, 2
    topic = unique("fanet/backpressure")
    async with (
        open_mqtt_client(settings_for(mosquitto_broker.url, message_buffer=buffer)) as subscriber,
        open_mqtt_client(settings_for(mosquitto_broker.url)) as publisher,
    ):
        with trio.fail_after(TIMEOUT_S):
            await subscriber.subscribe([(topic, 1)])
            await publisher.wait_connected()
        most_held = 0

        async def watch_held() -> None:
            nonlocal most_held
            while True:
                most_held = max(most_held, subscriber.held_messages)
                await trio.sleep(0.0005)

        received: list[int] = []
        with trio.fail_after(30):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(watch_held)
                handles = [await publisher.start_publish(topic, i.to_bytes(2, "big")) for i in range(count)]
                for handle in handles:
                    await handle.wait()
                # All 500 are acknowledged by the broker while nobody consumed: it holds them, not us.
                assert subscriber.stats.received <= buffer + 1
                async for message in subscriber.messages:
                    received.append(int.from_bytes(message.payload, "big"))
                    if len(received) % 50 == 0:
                        await trio.sleep(0.02)  # a slow store
                    if len(received) == count:
                        break
                nursery.cancel_scope.cancel()
    assert received == list(range(count))
    assert most_held <= buffer + 1  # the channel plus the one message paho parsed in its last read


LAST_WILL_CHILD = """
import sys, trio
from fanet.gateway.mqtt import LastWill, MqttSettings, open_mqtt_client

async def main():
    url, client_id, topic = sys.argv[1:]
    settings = MqttSettings.from_url(url, client_id, will=LastWill(topic, b"gateway lost"))
    async with open_mqtt_client(settings) as client:
        await client.wait_connected()
        print("connected", flush=True)
        await trio.sleep_forever()

trio.run(main)
"""


async def test_last_will_is_published_when_the_client_dies_without_disconnect(
    mosquitto_broker: MosquittoBroker,
) -> None:
    topic = unique("fb/b/will") + "/status"
    async with open_mqtt_client(settings_for(mosquitto_broker.url)) as watcher:
        with trio.fail_after(TIMEOUT_S):
            await watcher.subscribe([(topic, 1)])
        gateway = await trio.lowlevel.open_process(
            [sys.executable, "-c", LAST_WILL_CHILD, mosquitto_broker.url, unique("gateway"), topic],
            stdout=subprocess.PIPE,
        )
        try:
            assert gateway.stdout is not None
            said = b""
            with trio.fail_after(15):
                while not said.endswith(b"\n"):
                    said += await gateway.stdout.receive_some()
            assert said == b"connected\n"
        finally:
            gateway.kill()  # SIGKILL: no DISCONNECT, the kernel just closes the socket
            await gateway.wait()
        will = await receive_within(watcher)
        assert (will.topic, will.payload, will.qos) == (topic, b"gateway lost", 1)


async def test_closing_the_client_sends_disconnect_so_no_will_is_published(
    mosquitto_broker: MosquittoBroker,
) -> None:
    topic = unique("fb/b/will") + "/status"
    async with open_mqtt_client(settings_for(mosquitto_broker.url)) as watcher:
        with trio.fail_after(TIMEOUT_S):
            await watcher.subscribe([(topic, 1)])
        async with open_mqtt_client(
            settings_for(mosquitto_broker.url, will=LastWill(topic, b"lost"))
        ) as gateway:
            with trio.fail_after(TIMEOUT_S):
                await gateway.wait_connected()
        await assert_nothing_more(watcher)


def _task_count() -> int:
    def count(task: trio.lowlevel.Task) -> int:
        return 1 + sum(count(child) for nursery in task.child_nurseries for child in nursery.child_tasks)

    root = trio.lowlevel.current_root_task()
    assert root is not None
    return count(root)


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd")) - 1  # less the one listdir opened


async def test_cancelling_the_owner_ends_every_task_and_closes_the_socket_promptly(
    mosquitto_factory: MosquittoFactory,
) -> None:
    broker = mosquitto_factory()
    topic = unique("fanet/cancel")
    gc.collect()  # what earlier tests left to the collector must not close during this one
    tasks_before, fds_before = _task_count(), _open_fds()
    client = MqttClient(settings_for(broker.url))
    consumer_saw_end = False

    async def consume() -> None:
        nonlocal consumer_saw_end
        async for _ in client.messages:
            pass
        consumer_saw_end = True

    with trio.fail_after(TIMEOUT_S + CLOSE_TIMEOUT_S):
        async with trio.open_nursery() as outer:
            outer.start_soon(consume)
            async with trio.open_nursery() as owner:
                await owner.start(client.run)
                await client.wait_connected()
                await client.subscribe([(topic, 1)])
                with broker_paused(broker):  # the PUBACK never comes
                    handle = await client.start_publish(topic, b"in flight")
                    cancelled_at = trio.current_time()
                    owner.cancel_scope.cancel()
            shutdown_s = trio.current_time() - cancelled_at
    assert shutdown_s < CLOSE_TIMEOUT_S  # nothing to wait for: DISCONNECT fits in the socket buffer
    assert consumer_saw_end and client.closed and not client.connected
    with pytest.raises(MqttDisconnected, match="closed by client"):
        await handle.wait()
    assert _task_count() == tasks_before
    assert _open_fds() <= fds_before
    with pytest.raises(MqttDisconnected, match="closed"):
        await client.wait_connected()


async def test_cancelling_a_hanging_connect_does_not_wait_for_it() -> None:
    # A TLS client facing a listener that never answers blocks in its handshake inside the worker thread.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        gc.collect()
        fds_before = _open_fds()
        settings = settings_for(f"mqtts://127.0.0.1:{silent.getsockname()[1]}", connect_timeout_s=30.0)
        started = trio.current_time()
        with trio.move_on_after(0.3):
            async with open_mqtt_client(settings):
                await trio.sleep_forever()
        assert trio.current_time() - started < 0.8
        # Hanging up on it ends the handshake: the abandoned thread returns and closes its socket.
        connection, _ = silent.accept()
        connection.close()
        with trio.fail_after(TIMEOUT_S):
            while _open_fds() > fds_before:
                await trio.sleep(0.02)


async def test_run_can_only_be_started_once(mosquitto_broker: MosquittoBroker) -> None:
    client = MqttClient(settings_for(mosquitto_broker.url))
    async with trio.open_nursery() as nursery:
        await nursery.start(client.run)
        with pytest.raises(RuntimeError, match="only be called once"):
            await client.run()
        nursery.cancel_scope.cancel()


async def test_ack_needs_manual_ack_and_logging_stays_quiet_per_message(
    mosquitto_broker: MosquittoBroker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="fanet.mqtt")
    topic = unique("fanet/quiet")
    async with open_mqtt_client(settings_for(mosquitto_broker.url)) as client:
        with trio.fail_after(TIMEOUT_S):
            await client.subscribe([(topic, 1)])
            for i in range(50):
                await client.publish(topic, b"%d" % i)
            for _ in range(50):
                message = await client.messages.receive()
        with pytest.raises(RuntimeError, match="manual_ack"):
            client.ack(message)
    assert len([r for r in caplog.records if r.name == "fanet.mqtt"]) == 2  # connected, disconnected
    assert client.stats.received == 50


async def test_keepalive_detects_a_broker_that_stopped_answering(mosquitto_factory: MosquittoFactory) -> None:
    broker = mosquitto_factory()
    async with open_mqtt_client(settings_for(broker.url, keepalive_s=1)) as client:
        with trio.fail_after(TIMEOUT_S):
            await client.wait_connected()
        with broker_paused(broker), trio.fail_after(TIMEOUT_S):  # a silent, half-open link
            await client.wait_disconnected()
        with trio.fail_after(TIMEOUT_S):
            await client.wait_connected()
            await client.publish("fanet/keepalive", b"after the silence")
    assert client.stats.disconnect_reasons["keepalive timeout (no answer from the broker)"] == 1


async def _refusing_broker(listener: trio.SocketListener, reply: bytes) -> None:
    """Accepts connections and answers CONNECT with ``reply`` (nothing if empty), then keeps them open."""
    async with trio.open_nursery() as nursery:
        while True:
            stream = await listener.accept()

            async def serve(stream: trio.abc.Stream = stream) -> None:
                await stream.receive_some()
                if reply:
                    await stream.send_all(reply)
                await trio.sleep_forever()

            nursery.start_soon(serve)


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (bytes([0x20, 3, 0, 0x87, 0]), "connection refused: Not authorized"),  # CONNACK, reason 0x87
        (b"", "no CONNACK/SUBACK within 0.3 s"),  # accepts TCP, never answers
    ],
)
async def test_refused_or_unanswered_connects_are_retried_with_the_reason_logged(
    reply: bytes, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("WARNING", logger="fanet.mqtt")
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_refusing_broker, listeners[0], reply)
        settings = settings_for(f"mqtt://127.0.0.1:{port}", connect_timeout_s=0.3)
        async with open_mqtt_client(settings) as client:
            with trio.fail_after(TIMEOUT_S):
                while client.stats.connect_failures < 2:
                    await trio.sleep(0.02)
            assert not client.connected
        nursery.cancel_scope.cancel()
    assert client.stats.disconnect_reasons[reason] >= 2
    assert caplog.records[0].getMessage() == f"connection to mqtt://127.0.0.1:{port} failed: {reason}"


async def test_receive_batch_takes_what_is_buffered_in_one_go(mosquitto_broker: MosquittoBroker) -> None:
    topic = unique("fanet/batch")
    async with open_mqtt_client(settings_for(mosquitto_broker.url, message_buffer=10)) as client:
        with trio.fail_after(TIMEOUT_S):
            await client.subscribe([(topic, 1)])
            for i in range(7):
                await client.publish(topic, b"%d" % i)
            while client.held_messages < 7:
                await trio.sleep(0.01)
            first = await client.receive_batch(5)
            rest = await client.receive_batch(5)
    assert [m.payload for m in first + rest] == [b"%d" % i for i in range(7)]
    assert (len(first), len(rest)) == (5, 2)
    with pytest.raises(trio.EndOfChannel):  # the client is closed and everything was taken
        await client.receive_batch()


@asynccontextmanager
async def server_and_publisher(
    broker: MosquittoBroker, topic: str, receive_maximum: int
) -> AsyncIterator[tuple[MqttClient, MqttClient]]:
    """A manual-ack subscriber to ``topic`` with ``receive_maximum``, and a publisher, both connected."""
    settings = settings_for(broker.url, manual_ack=True, receive_maximum=receive_maximum, message_buffer=100)
    async with (
        open_mqtt_client(settings) as server,
        open_mqtt_client(settings_for(broker.url)) as publisher,
    ):
        with trio.fail_after(TIMEOUT_S):
            await server.subscribe([(topic, 1)])
            await publisher.wait_connected()
        yield server, publisher


async def test_receive_maximum_bounds_unacknowledged_deliveries(mosquitto_broker: MosquittoBroker) -> None:
    topic = unique("fanet/receive-maximum")
    async with server_and_publisher(mosquitto_broker, topic, 5) as (server, publisher):
        with trio.fail_after(TIMEOUT_S):
            for i in range(12):
                await publisher.publish(topic, b"%d" % i)
            first = [await receive_within(server) for _ in range(5)]
        await assert_nothing_more(server)  # the broker waits for our acks
        for message in first:
            assert server.ack(message)
        rest = [await receive_within(server) for _ in range(5)]
    assert [m.payload for m in first + rest] == [b"%d" % i for i in range(10)]


def _publish_packet(topic: bytes, payload: bytes, *, mid: int = 0, properties: bytes = b"") -> bytes:
    """An MQTT v5 PUBLISH (QoS 1 when ``mid``), ``properties`` already encoded (without their length)."""
    body = len(topic).to_bytes(2, "big") + topic
    body += mid.to_bytes(2, "big") if mid else b""
    body += bytes([len(properties)]) + properties + payload
    length, header = len(body), bytearray([0x32 if mid else 0x30])
    while True:  # the remaining length as a variable byte integer
        length, digit = divmod(length, 128)
        header.append(digit | (0x80 if length else 0))
        if not length:
            return bytes(header) + body


async def _scripted_broker(listener: trio.SocketListener, chunks: list[bytes]) -> None:
    """Answers every CONNECT with ``chunks``, each sent on its own a moment after the one before."""
    async with trio.open_nursery() as nursery:
        while True:
            stream = await listener.accept()

            async def serve(stream: trio.abc.Stream = stream) -> None:
                await stream.receive_some()
                for chunk in chunks:
                    await stream.send_all(chunk)
                    await trio.sleep(0.05)
                await trio.sleep_forever()

            nursery.start_soon(serve)


async def test_publishes_are_decoded_whole_split_or_with_properties_and_a_malformed_one_drops_the_link() -> (
    None
):
    expiring = _publish_packet(b"fb/b/x/f", b"second", mid=7, properties=bytes([0x02, 0, 0, 0, 60]))
    chunks = [
        bytes([0x20, 3, 0, 0, 0])  # CONNACK: accepted, no properties
        + _publish_packet(b"fb/b/x/f", b"first")
        + expiring[:9],  # the rest comes with the next read
        expiring[9:] + _publish_packet("fb/b/ü/f".encode(), bytes(70_000)) + bytes([0x30, 3, 0, 9, 0x41]),
    ]
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_scripted_broker, listeners[0], chunks)
        async with open_mqtt_client(settings_for(f"mqtt://127.0.0.1:{port}", message_buffer=10)) as client:
            first, second, third = [await receive_within(client) for _ in range(3)]
            with trio.fail_after(TIMEOUT_S):  # the malformed fourth ends the connection
                while not client.stats.disconnect_reasons:
                    await trio.sleep(0.01)
        nursery.cancel_scope.cancel()
    assert (first.topic, first.payload, first.qos, first.mid, first.properties) == (
        "fb/b/x/f",
        b"first",
        0,
        0,
        None,
    )
    assert (second.payload, second.qos, second.mid, second.duplicate) == (b"second", 1, 7, False)
    assert getattr(second.properties, "MessageExpiryInterval", None) == 60
    assert (third.topic, third.payload) == ("fb/b/ü/f", bytes(70_000))
    assert set(client.stats.disconnect_reasons) == {"connection lost"}


async def test_ack_many_acknowledges_each_fresh_message_once(mosquitto_broker: MosquittoBroker) -> None:
    topic = unique("fanet/ack-many")
    async with server_and_publisher(mosquitto_broker, topic, 21) as (server, publisher):
        with trio.fail_after(TIMEOUT_S):
            handles = [publisher.publish_nowait(topic, b"%d" % i) for i in range(20)]  # one burst
            handles.append(await publisher.start_publish(topic, b"large" + bytes(200_000)))
            handles.append(await publisher.start_publish(topic, b"last"))
            for handle in handles:
                await handle.wait()
            first = [await receive_within(server) for _ in range(21)]
        await assert_nothing_more(server)  # receive_maximum: "last" waits for our acks
        assert server.ack_many([*first, first[0]]) == 21  # the repeated one is not acknowledged twice
        last = await receive_within(server)
        assert server.ack_many([last]) == 1
    assert [m.payload for m in first[:20]] == [b"%d" % i for i in range(20)]
    assert (first[20].payload, last.payload) == (b"large" + bytes(200_000), b"last")
    assert (server.stats.acked, server.stats.stale_acks) == (22, 1)
