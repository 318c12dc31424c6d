"""The MQTT client over TLS (``mqtts://``) against mosquitto with a certificate from a throwaway CA."""

from __future__ import annotations

import gc
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import trio
from services import MosquittoBroker, MosquittoFactory, free_port

from fanet.gateway.mqtt import Backoff, MqttSettings, open_mqtt_client

TIMEOUT_S = 5.0
FAST_BACKOFF = Backoff(initial_s=0.05, max_s=0.1, jitter=0.0, reset_after_s=0.0)


@dataclass(frozen=True)
class TlsBroker:
    broker: MosquittoBroker
    port: int
    ca_file: Path


def _openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)


@pytest.fixture
def tls_broker(mosquitto_factory: MosquittoFactory, tmp_path: Path) -> TlsBroker:
    """A broker with a TLS listener whose certificate (for IP 127.0.0.1) is signed by ``ca_file``."""
    ca_key, ca_cert = tmp_path / "ca.key", tmp_path / "ca.pem"
    key, request, cert = tmp_path / "server.key", tmp_path / "server.csr", tmp_path / "server.pem"
    extensions = tmp_path / "server.ext"
    extensions.write_text("subjectAltName=IP:127.0.0.1\n")
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl("req", "-x509", *ec, "-keyout", ca_key, "-out", ca_cert, "-days", "2", "-subj", "/CN=fanet test CA",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign")  # fmt: skip
    _openssl("req", *ec, "-keyout", key, "-out", request, "-subj", "/CN=127.0.0.1")
    _openssl("x509", "-req", "-in", request, "-CA", ca_cert, "-CAkey", ca_key, "-CAcreateserial",
             "-out", cert, "-days", "2", "-extfile", extensions)  # fmt: skip
    port = free_port()
    broker = mosquitto_factory(
        extra_config=[f"listener {port} 127.0.0.1", f"certfile {cert}", f"keyfile {key}"]
    )
    return TlsBroker(broker, port, ca_cert)


def _settings(url: str, **options: object) -> MqttSettings:
    return MqttSettings.from_url(url, f"tls-{os.urandom(4).hex()}", backoff=FAST_BACKOFF, **options)


async def test_messages_flow_over_tls_with_a_private_ca(tls_broker: TlsBroker) -> None:
    url = f"mqtts://127.0.0.1:{tls_broker.port}"
    ca_file = str(tls_broker.ca_file)
    count = 300
    async with (
        open_mqtt_client(_settings(url, ca_file=ca_file, message_buffer=4)) as subscriber,
        open_mqtt_client(_settings(url, ca_file=ca_file)) as publisher,
    ):
        with trio.fail_after(TIMEOUT_S):
            await subscriber.subscribe([("fanet/tls", 1)])
            await publisher.wait_connected()
        received: list[int] = []
        with trio.fail_after(15):
            for i in range(count):
                await publisher.start_publish("fanet/tls", i.to_bytes(2, "big") + bytes(100))
            async for message in subscriber.messages:
                received.append(int.from_bytes(message.payload[:2], "big"))
                if len(received) == count:
                    break
    assert received == list(range(count))


@pytest.mark.parametrize(
    ("host", "ca", "complaint"),
    [
        ("127.0.0.1", False, "CERTIFICATE_VERIFY_FAILED"),  # the system store does not know our CA
        ("localhost", True, "CERTIFICATE_VERIFY_FAILED"),  # the certificate names 127.0.0.1 only
    ],
)
async def test_unverifiable_broker_certificate_is_refused_and_retried(
    tls_broker: TlsBroker, caplog: pytest.LogCaptureFixture, host: str, ca: bool, complaint: str
) -> None:
    caplog.set_level("WARNING", logger="fanet.mqtt")
    url = f"mqtts://{host}:{tls_broker.port}"
    settings = _settings(url, ca_file=str(tls_broker.ca_file) if ca else None)
    gc.collect()  # what earlier tests left to the collector must not close during this one
    fds_before = len(os.listdir("/proc/self/fd"))
    async with open_mqtt_client(settings) as client:
        with trio.move_on_after(0.5):
            await client.wait_connected()
        assert not client.connected
        assert client.stats.connect_failures >= 2
    assert complaint in caplog.records[0].getMessage()
    # Failed handshakes leave no socket behind (one attempt may still be finishing in its abandoned thread).
    with trio.fail_after(TIMEOUT_S):
        while len(os.listdir("/proc/self/fd")) > fds_before:
            await trio.sleep(0.02)
