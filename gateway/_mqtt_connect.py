"""Opening an MQTT connection: a fresh paho client, connected in a worker thread Trio may abandon.

paho's ``connect()`` blocks (DNS, TCP, the TLS handshake), so it runs in ``trio.to_thread.run_sync``
under a ``CapacityLimiter`` and with ``abandon_on_cancel=True``: cancelling a connect to an unreachable
host returns at once instead of after ``connect_timeout_s``. ``_ConnectAttempt`` then closes the socket
of the abandoned attempt when the thread returns. Inside ``connect()`` paho also writes CONNECT (no
callbacks are installed yet, so it writes in place); nothing else of paho ever runs off the Trio thread.

A new paho client per connection keeps nothing stale between connections: no old message ids, no
messages paho would resend on its own (resending is the caller's decision: see ``MqttDisconnected``).
The session lives in the broker.
"""

from __future__ import annotations

import logging
import ssl
import threading

import paho.mqtt.client as paho_mqtt
import trio
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from fanet.gateway._mqtt_paho import PahoClient
from fanet.gateway._mqtt_settings import MqttSettings

_PAHO_LOGGER = logging.getLogger("paho.mqtt.client")  # paho's own name: a library's logger


def _new_paho_client(settings: MqttSettings) -> PahoClient:
    client = PahoClient(settings.client_id, manual_ack=settings.manual_ack)
    # Our window (≤ max_in_flight) is the only limit, so paho never queues a publish behind its own.
    client.max_inflight_messages = settings.max_in_flight
    client.max_queued_messages = 0
    client.connect_timeout = settings.connect_timeout_s
    if _PAHO_LOGGER.isEnabledFor(logging.DEBUG):  # paho's log costs ≈ 2 µs a packet even when filtered out
        client.enable_logger(_PAHO_LOGGER)
    broker = settings.broker
    if broker.username is not None:
        client.username_pw_set(broker.username, broker.password)
    if settings.will is not None:
        will = settings.will
        client.will_set(will.topic, will.payload, will.qos, will.retain)
    return client


def _connect_properties(settings: MqttSettings) -> Properties:
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    if settings.session_expiry_s:
        properties.SessionExpiryInterval = settings.session_expiry_s
    if settings.receive_maximum is not None:
        properties.ReceiveMaximum = settings.receive_maximum
    return properties


class _ConnectAttempt:
    """paho's blocking ``connect()`` in a worker thread, which Trio may abandon when cancelled.

    Whichever side finishes last closes the socket if nobody is going to use it: the thread, when it
    completes after Trio gave up; Trio, when it gives up after the thread completed.
    """

    def __init__(self, client: PahoClient, settings: MqttSettings) -> None:
        self._client = client
        self._settings = settings
        self._lock = threading.Lock()
        self._abandoned = False
        self._finished = False

    def run(self) -> None:
        """In the worker thread."""
        settings = self._settings
        connected = False
        try:
            if settings.broker.tls:
                # Loads the CA store from disk, hence here rather than in the Trio thread.
                self._client.tls_context = ssl.create_default_context(cafile=settings.ca_file)
            self._client.connect(
                settings.broker.host,
                settings.broker.port,
                keepalive=settings.keepalive_s,
                clean_start=settings.clean_start,
                properties=_connect_properties(settings),
            )
            connected = True
        finally:
            with self._lock:
                self._finished = True
                abandoned = self._abandoned
            if abandoned or not connected:
                _close_quietly(self._client)

    def abandon(self) -> None:
        """In the Trio thread, after ``to_thread.run_sync`` was cancelled."""
        with self._lock:
            self._abandoned = True
            finished = self._finished
        if finished:
            _close_quietly(self._client)


def _close_quietly(client: paho_mqtt.Client) -> None:
    sock = client.socket()
    if sock is not None:
        sock.close()


async def connect_paho(settings: MqttSettings, limiter: trio.CapacityLimiter) -> PahoClient:
    """A new paho client, connected (TCP, TLS) and with CONNECT sent; the CONNACK is still to be read.

    Raises ``OSError`` (refused, unreachable, DNS, TLS verification) when the broker cannot be reached.
    """
    client = _new_paho_client(settings)
    attempt = _ConnectAttempt(client, settings)
    try:
        await trio.to_thread.run_sync(attempt.run, limiter=limiter, abandon_on_cancel=True)
    except BaseException:
        attempt.abandon()
        raise
    return client
