"""The values the MQTT client hands out: received messages, publish handles, errors and counters."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import trio
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode


class MqttError(Exception):
    """Base of the errors this client raises (configuration errors are plain ``ValueError``)."""


class MqttDisconnected(MqttError):
    """There is no connection, or it was lost before the broker answered.

    For a publish this means *unknown*: the broker may or may not have the message. Keep it (spool it)
    and publish it again later; the receiver must tolerate the resulting duplicate.
    """


class PublishFailed(MqttError):
    """The broker answered a publish with a failure reason code (e.g. "Not authorized", "Quota exceeded")."""

    def __init__(self, topic: str, reason_code: ReasonCode) -> None:
        super().__init__(f"publish to {topic!r} refused by the broker: {reason_code}")
        self.topic = topic
        self.reason_code = reason_code


class SubscribeFailed(MqttError):
    """The broker refused one or more filters of a SUBSCRIBE; ``refused`` pairs each with its reason."""

    def __init__(self, refused: list[tuple[str, ReasonCode]]) -> None:
        details = ", ".join(f"{topic!r}: {reason}" for topic, reason in refused)
        super().__init__(f"subscription refused by the broker: {details}")
        self.refused = refused


class MqttMessage(NamedTuple):
    """One PUBLISH received from the broker.

    ``connection`` numbers the connection that delivered it: ``client.ack`` only acknowledges messages of
    the current connection (the broker redelivers the others). ``duplicate`` is the DUP flag: the broker
    may have sent this message before. ``received_at`` is ``trio.current_time()`` when it was read.
    ``properties`` is None when the PUBLISH carried none. A NamedTuple because one is made per message:
    built with ``tuple.__new__`` it costs a fifth of a frozen dataclass.
    """

    topic: str
    payload: bytes
    qos: int
    retain: bool
    mid: int
    duplicate: bool
    properties: Properties | None
    received_at: float
    connection: int


class PublishHandle:
    """A publish on its way to the broker; ``await handle.wait()`` for the broker's answer.

    Settles exactly once: acknowledged (``wait()`` returns the PUBACK reason code; for QoS 0 a synthetic
    "Success" once the packet is written), refused (``PublishFailed``) or lost with its connection
    (``MqttDisconnected``). Cancelling ``wait()`` does not recall the message.
    """

    __slots__ = ("_done", "_error", "_on_settled", "mid", "qos", "reason_code", "topic")

    def __init__(self, topic: str, qos: int, on_settled: Callable[[PublishHandle], None]) -> None:
        self.topic = topic
        self.qos = qos
        self.mid = 0
        self.reason_code: ReasonCode | None = None
        self._error: MqttError | None = None
        self._done = trio.Event()
        self._on_settled = on_settled

    @property
    def settled(self) -> bool:
        return self._done.is_set()

    async def wait(self) -> ReasonCode:
        """Wait until the broker acknowledged the message; raises ``MqttDisconnected`` or ``PublishFailed``."""
        await self._done.wait()
        if self._error is not None:
            raise self._error
        assert self.reason_code is not None
        return self.reason_code

    def _settle(self, reason_code: ReasonCode | None, error: MqttError | None = None) -> None:
        if self._done.is_set():
            return
        self.reason_code = reason_code
        self._error = error
        self._done.set()
        self._on_settled(self)

    @property
    def failed(self) -> bool:
        return self._error is not None

    def __repr__(self) -> str:
        state = "pending" if not self.settled else ("failed" if self._error else "acknowledged")
        return f"<PublishHandle {self.topic!r} qos={self.qos} mid={self.mid} {state}>"


@dataclass(slots=True)
class MqttStats:
    """Counters since the client was created, as plain attributes (a metrics exporter reads them).

    ``published`` counts publishes handed to the connection, ``publish_acked`` those the broker
    acknowledged (or, at QoS 0, that were written), ``publish_failed`` those refused or lost. ``received``
    counts messages read from the broker, ``acked`` the PUBACKs sent by ``client.ack``, ``stale_acks`` the
    acks ignored because their connection was gone. ``disconnect_reasons`` counts each reason text.
    """

    connects: int = 0
    connect_failures: int = 0
    disconnects: int = 0
    published: int = 0
    publish_acked: int = 0
    publish_failed: int = 0
    in_flight: int = 0
    received: int = 0
    acked: int = 0
    stale_acks: int = 0
    last_disconnect_reason: str | None = None
    disconnect_reasons: Counter[str] = field(default_factory=Counter)
