"""What the MQTT client is configured with: broker address, session, last will and reconnect backoff.

Pure data and pure functions: parsing a broker URL, validating settings, and the reconnect delay schedule.
Nothing here touches a socket or reads a clock, so all of it is unit-tested without a broker.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from random import Random
from typing import Any
from urllib.parse import unquote, urlsplit

DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}
_MAX_U16 = 0xFFFF
_MAX_U32 = 0xFFFF_FFFF  # a session expiry of 0xFFFFFFFF means "never expires"


def _check_topic_name(topic: str, what: str) -> None:
    """Topics we publish to (never filters): non-empty, no wildcards, no NUL, at most 65535 bytes."""
    if not topic:
        raise ValueError(f"{what} must not be empty")
    if "+" in topic or "#" in topic:
        raise ValueError(f"{what} {topic!r} contains a wildcard (+ or #); only subscriptions may")
    if "\0" in topic:
        raise ValueError(f"{what} {topic!r} contains a NUL character")
    if len(topic.encode()) > _MAX_U16:
        raise ValueError(f"{what} is longer than 65535 bytes")


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """Where the broker is and how to log in; built from a URL by ``parse_broker_url``."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """The address as a URL, with the password left out (safe to log)."""
        scheme = "mqtts" if self.tls else "mqtt"
        user = f"{self.username}@" if self.username is not None else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{user}{host}:{self.port}"


def parse_broker_url(url: str) -> BrokerAddress:
    """``mqtt://[user[:password]@]host[:port]`` or ``mqtts://…`` (TLS, port 8883 by default).

    User and password are percent-decoded. Raises ``ValueError`` naming the part that is wrong; the message
    never repeats the password.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:  # urlsplit's own complaint: a port that is not a number or out of range
        raise ValueError(f"broker URL {_redact(url)!r}: {error}") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise ValueError(
            f"broker URL {_redact(url)!r}: scheme must be mqtt:// or mqtts://, not {parts.scheme or '(none)'!r}"
        )
    if not parts.hostname:
        raise ValueError(f"broker URL {_redact(url)!r}: no host")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"broker URL {_redact(url)!r}: a path, query or fragment has no meaning for MQTT")
    if port == 0:
        raise ValueError(f"broker URL {_redact(url)!r}: port 0 is not a broker port")
    username = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    if password is not None and not username:
        raise ValueError(f"broker URL {_redact(url)!r}: a password needs a user name")
    return BrokerAddress(
        host=parts.hostname,
        port=port if port is not None else DEFAULT_PORTS[scheme],
        tls=scheme == "mqtts",
        username=username,
        password=password,
    )


def _redact(url: str) -> str:
    scheme, separator, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    return f"{scheme}{separator}{credentials.split(':', 1)[0]}:***@{host}"


@dataclass(frozen=True, slots=True)
class LastWill:
    """The message the broker publishes for us when our connection dies without a DISCONNECT."""

    topic: str
    payload: bytes = b""
    qos: int = 1
    retain: bool = False

    def __post_init__(self) -> None:
        _check_topic_name(self.topic, "last will topic")
        if self.qos not in (0, 1, 2):
            raise ValueError(f"last will qos must be 0, 1 or 2, not {self.qos!r}")


@dataclass(frozen=True, slots=True)
class Backoff:
    """Reconnect delays: ``initial_s · multiplier^n`` capped at ``max_s``, minus up to ``jitter`` of it.

    ``jitter`` is the fraction of each delay that is randomised (0 = fixed delays, 0.5 = each delay lies
    uniformly in [½·d, d]), so that many gateways cut off together do not reconnect in lockstep. The count
    of failures starts again once a connection has stayed up for ``reset_after_s``; a connection that the
    broker accepts and then drops at once (two gateways sharing a client id kick each other off) therefore
    still backs off.
    """

    initial_s: float = 0.5
    max_s: float = 30.0
    multiplier: float = 2.0
    jitter: float = 0.5
    reset_after_s: float = 10.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.initial_s) and self.initial_s >= 0):
            raise ValueError(f"backoff initial_s must be a finite number ≥ 0, not {self.initial_s!r}")
        if not (math.isfinite(self.max_s) and self.max_s >= self.initial_s):
            raise ValueError(
                f"backoff max_s must be finite and ≥ initial_s ({self.initial_s}), not {self.max_s!r}"
            )
        if not (math.isfinite(self.multiplier) and self.multiplier >= 1):
            raise ValueError(f"backoff multiplier must be ≥ 1, not {self.multiplier!r}")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"backoff jitter must lie in [0, 1], not {self.jitter!r}")
        if not (math.isfinite(self.reset_after_s) and self.reset_after_s >= 0):
            raise ValueError(f"backoff reset_after_s must be a finite number ≥ 0, not {self.reset_after_s!r}")

    def delay_s(self, failures: int, sample: float) -> float:
        """The wait before the next attempt after ``failures`` (≥ 1) failures in a row.

        ``sample`` is a number in [0, 1) (from ``random.random()``) that places the delay inside its jitter
        range; passing it in keeps this function pure.
        """
        if failures < 1:
            raise ValueError(f"failures must be ≥ 1, not {failures!r}")
        try:
            base = min(self.max_s, self.initial_s * self.multiplier ** (failures - 1))
        except OverflowError:  # a very long outage: the cap has long applied
            base = self.max_s
        return base * (1.0 - self.jitter * sample)

    def delays_s(self, rng: Random | None = None) -> Iterator[float]:
        """The endless schedule after the 1st, 2nd, … failure in a row (jitter drawn from ``rng``)."""
        rng = rng if rng is not None else Random()
        failures = 0
        while True:
            failures += 1
            yield self.delay_s(failures, rng.random())


@dataclass(frozen=True, slots=True)
class MqttSettings:
    """Everything one MQTT client needs; build it once from the process configuration.

    - ``clean_start=False`` with ``session_expiry_s > 0`` asks the broker to keep the session (its
      subscriptions, and QoS-1 messages for us while we are away or have not acknowledged them) across
      reconnects and process restarts; ``0xFFFFFFFF`` means "never expire". Both are sent on every connect.
    - ``max_in_flight`` bounds publishes awaiting their PUBACK (QoS 1) or their write (QoS 0); the broker's
      own Receive Maximum (20 for Debian's mosquitto) lowers it per connection.
    - ``receive_maximum`` is the Receive Maximum we announce: how many unacknowledged QoS-1 messages the
      broker may have outstanding to us. None announces nothing, and mosquitto then uses its
      ``max_inflight_messages`` (20 by default); mosquitto 2.0.11 honours a value we announce, also above 20.
    - ``message_buffer`` is the size of ``client.messages``; when it is full the client stops reading the
      socket, so the backlog waits in the broker.
    - ``manual_ack=True``: QoS-1 messages are acknowledged only by ``client.ack(message)``.
    - ``ca_file`` replaces the system CA store for ``mqtts://`` (a private CA); None uses the system store.
    """

    broker: BrokerAddress
    client_id: str
    keepalive_s: int = 30
    clean_start: bool = True
    session_expiry_s: int = 0
    will: LastWill | None = None
    backoff: Backoff = Backoff()
    connect_timeout_s: float = 10.0
    max_in_flight: int = 100
    receive_maximum: int | None = None
    message_buffer: int = 100
    manual_ack: bool = False
    ca_file: str | None = None

    def __post_init__(self) -> None:
        if not self.client_id:
            raise ValueError("client_id must not be empty (the broker keeps sessions and wills by it)")
        if len(self.client_id.encode()) > _MAX_U16:
            raise ValueError("client_id is longer than 65535 bytes")
        if not 0 <= self.keepalive_s <= _MAX_U16:
            raise ValueError(f"keepalive_s must lie in [0, 65535], not {self.keepalive_s!r}")
        if not 0 <= self.session_expiry_s <= _MAX_U32:
            raise ValueError(f"session_expiry_s must lie in [0, 4294967295], not {self.session_expiry_s!r}")
        if not (math.isfinite(self.connect_timeout_s) and self.connect_timeout_s > 0):
            raise ValueError(f"connect_timeout_s must be a finite number > 0, not {self.connect_timeout_s!r}")
        if not 1 <= self.max_in_flight <= _MAX_U16:
            raise ValueError(f"max_in_flight must lie in [1, 65535], not {self.max_in_flight!r}")
        if self.receive_maximum is not None and not 1 <= self.receive_maximum <= _MAX_U16:
            raise ValueError(f"receive_maximum must lie in [1, 65535], not {self.receive_maximum!r}")
        if self.message_buffer < 1:
            raise ValueError(f"message_buffer must be ≥ 1, not {self.message_buffer!r}")
        if self.ca_file is not None and not self.broker.tls:
            raise ValueError("ca_file is set but the broker URL is not mqtts://")

    @classmethod
    def from_url(cls, url: str, client_id: str, **options: Any) -> MqttSettings:
        """``MqttSettings(parse_broker_url(url), client_id, **options)``."""
        return cls(parse_broker_url(url), client_id, **options)
