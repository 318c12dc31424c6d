"""The service fixtures start real servers that answer, restart on the same port, and leave nothing behind."""

import queue
import signal
import socket
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import redis
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from services import (
    MosquittoBroker,
    MosquittoFactory,
    RedisFactory,
    RedisServer,
    ServerProcess,
    ServiceStartError,
    free_port,
    port_is_open,
    start_redis,
)

pytestmark = pytest.mark.integration

TIMEOUT_S = 5.0


class _Session:
    """A paho v5 client on a background loop thread, with its CONNACK, SUBACKs and received messages."""

    def __init__(self, client: mqtt.Client) -> None:
        self.client = client
        self.connack: queue.Queue[tuple[ReasonCode, bool]] = queue.Queue()
        self.subacks: queue.Queue[int] = queue.Queue()
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.session_present: bool | None = None
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message

    # Callbacks only record; assertions run in the test's thread, where a failure is reported.
    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self.connack.put((reason_code, flags.session_present))

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        self.subacks.put(mid)

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        self.messages.put(message)

    def subscribe(self, topic: str) -> None:
        result, mid = self.client.subscribe(topic, qos=1)
        assert result == mqtt.MQTT_ERR_SUCCESS
        assert self.subacks.get(timeout=TIMEOUT_S) == mid

    def publish(self, topic: str, payload: bytes) -> None:
        info = self.client.publish(topic, payload, qos=1)
        info.wait_for_publish(TIMEOUT_S)
        assert info.is_published(), "no PUBACK"

    def receive(self) -> mqtt.MQTTMessage:
        return self.messages.get(timeout=TIMEOUT_S)


@contextmanager
def mqtt_session(
    broker: MosquittoBroker, client_id: str, *, clean_start: bool = True, session_expiry_s: int = 0
) -> Iterator[_Session]:
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5, reconnect_on_failure=False
    )
    session = _Session(client)
    # paho's Properties() is unannotated; calling it through a typed name keeps mypy --strict clean.
    new_properties: Callable[[int], Properties] = Properties
    properties = new_properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = session_expiry_s
    client.connect(broker.host, broker.port, keepalive=30, clean_start=clean_start, properties=properties)
    client.loop_start()
    try:
        reason_code, session.session_present = session.connack.get(timeout=TIMEOUT_S)
        assert not reason_code.is_failure, f"{broker.url} refused {client_id}: {reason_code}"
        yield session
    finally:
        client.disconnect()
        client.loop_stop()


def test_redis_set_get_round_trip(redis_server: RedisServer) -> None:
    assert redis_server.url == f"redis://127.0.0.1:{redis_server.port}/0"
    client = redis.Redis.from_url(redis_server.url)
    key = f"test:{uuid.uuid4()}"
    try:
        assert client.set(key, b"\x00payload\xff")
        assert client.get(key) == b"\x00payload\xff"
    finally:
        client.delete(key)
        client.close()


def test_redis_has_no_persistence_by_default(redis_server: RedisServer) -> None:
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    try:
        assert client.config_get("save") == {"save": ""}
        assert client.config_get("appendonly") == {"appendonly": "no"}
        assert client.config_get("dir") == {"dir": str(redis_server.directory)}
    finally:
        client.close()


def test_mqtt_qos1_publish_subscribe_round_trip(mosquitto_broker: MosquittoBroker) -> None:
    assert mosquitto_broker.url == f"mqtt://127.0.0.1:{mosquitto_broker.port}"
    topic = f"test/{uuid.uuid4()}"
    with (
        mqtt_session(mosquitto_broker, f"sub-{uuid.uuid4()}") as subscriber,
        mqtt_session(mosquitto_broker, f"pub-{uuid.uuid4()}") as publisher,
    ):
        subscriber.subscribe(topic)
        publisher.publish(topic, b"frame")
        message = subscriber.receive()
    assert (message.topic, message.payload, message.qos) == (topic, b"frame", 1)


def test_broker_restart_on_same_port_keeps_queued_message_of_persistent_session(
    mosquitto_factory: MosquittoFactory,
) -> None:
    broker = mosquitto_factory()
    port, topic = broker.port, "fb/b/station-1/f"
    with mqtt_session(broker, "server", clean_start=False, session_expiry_s=300) as subscriber:
        assert subscriber.session_present is False
        subscriber.subscribe(topic)
    with mqtt_session(broker, "gateway") as publisher:
        publisher.publish(topic, b"queued while the server was away")

    broker.stop()
    assert not port_is_open(broker.host, port)
    broker.start()

    assert broker.port == port
    assert broker.running
    with mqtt_session(broker, "server", clean_start=False, session_expiry_s=300) as subscriber:
        assert subscriber.session_present is True
        message = subscriber.receive()
    assert (message.topic, message.payload, message.qos) == (topic, b"queued while the server was away", 1)


def test_redis_restart_on_same_port_starts_empty(redis_factory: RedisFactory) -> None:
    server = redis_factory()
    port = server.port
    client = redis.Redis.from_url(server.url)
    try:
        client.set("before-restart", b"1")
        server.stop()
        server.start()
        assert server.port == port
        assert client.get("before-restart") is None
    finally:
        client.close()


def _factory_instance(request: pytest.FixtureRequest, kind: str) -> ServerProcess:
    if kind == "redis":
        redis_factory: RedisFactory = request.getfixturevalue("redis_factory")
        return redis_factory()
    mosquitto_factory: MosquittoFactory = request.getfixturevalue("mosquitto_factory")
    return mosquitto_factory()


@pytest.mark.parametrize("kind", ["redis", "mosquitto"])
def test_factory_instance_is_gone_after_stop(request: pytest.FixtureRequest, kind: str) -> None:
    server = _factory_instance(request, kind)
    assert server.running
    assert port_is_open(server.host, server.port)
    process = server.process
    assert process is not None

    server.stop()

    assert process.returncode == 0, server.log_tail()
    assert not server.running
    assert not port_is_open(server.host, server.port)
    server.stop()  # idempotent


@pytest.mark.parametrize("kind", ["redis", "mosquitto"])
def test_kill_ends_the_process_with_sigkill(request: pytest.FixtureRequest, kind: str) -> None:
    server = _factory_instance(request, kind)
    process = server.process
    assert process is not None

    server.kill()

    assert process.returncode == -signal.SIGKILL
    assert not port_is_open(server.host, server.port)
    server.start()
    assert port_is_open(server.host, server.port)


def test_start_moves_to_another_port_when_the_first_is_taken(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        with start_redis(tmp_path, ports=[taken, free_port()]) as server:
            assert server.port != taken
            assert redis.Redis.from_url(server.url).ping()
        assert "Address already in use" in server.log_path.read_text()


def test_start_gives_up_when_every_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        with pytest.raises(ServiceStartError, match="every candidate port was taken"):
            start_redis(tmp_path, ports=[taken, taken])


def test_failed_start_leaves_no_process_behind(tmp_path: Path) -> None:
    server = RedisServer(tmp_path, port=0, extra_args=["--no-such-option", "yes"])
    with pytest.raises(ServiceStartError, match="exited"):
        server.start()
    assert server.process is not None
    assert server.process.returncode is not None
    assert not server.running


def test_missing_binary_fails_with_install_hint(tmp_path: Path) -> None:
    class Missing(RedisServer):
        binary = "redis-server-that-is-not-installed"

    with pytest.raises(pytest.fail.Exception, match="apt-get install redis-server mosquitto"):
        Missing(tmp_path, port=0).start()
