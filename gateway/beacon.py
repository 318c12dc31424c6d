"""The gateway's beacon: a FANET service frame (type 4) with the internet-gateway bit, sent every N s.

Commercial base stations announce themselves this way, so that devices in range know an uplink is
near. The module only transmits once it knows its own position, so every beacon is two commands,
one after the other::

    due, module READY ─▶ #FNS lat,lon,alt,… ─#FNR OK─▶ #FNT 4,0,0,0,0,<len>,<service payload> ─#FNR OK─▶ sent
                              │                              │
                              └── #FNR ERR / MSG,13 power down / no reply in REPLY_TIMEOUT_S ─▶ failed

Sans I/O like the connection it drives: :class:`Beacon` queues commands on a ``ModuleConnection`` and
reports :class:`BeaconSent` / :class:`BeaconFailed`; the module session feeds it events and time.
While the module is READY, nothing else we send is answered by ``#FNR``, so those replies are ours.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from fanet.firmware_bridge import (
    Event,
    ModuleBooted,
    ModuleConnection,
    ModuleMessage,
    ModuleState,
    ReplyError,
    ReplyFamily,
    ReplyOk,
)
from fanet.proto import FrameType, Service, encode_payload

REPLY_TIMEOUT_S = 2.0


@dataclass(frozen=True, slots=True)
class BeaconSettings:
    interval_s: float
    lat: float
    lon: float
    altitude_m: float = 0.0

    def __post_init__(self) -> None:
        if not self.interval_s > 0:
            raise ValueError(f"beacon interval must be positive, got {self.interval_s}")
        if not -90 <= self.lat <= 90 or not -180 <= self.lon <= 180:
            raise ValueError(f"beacon position ({self.lat}, {self.lon}) is not a latitude and longitude")

    @property
    def payload(self) -> bytes:
        """The service payload: gateway bit and position."""
        return encode_payload(Service(gateway=True, lat=self.lat, lon=self.lon))


@dataclass(frozen=True, slots=True)
class BeaconSent:
    pass


@dataclass(frozen=True, slots=True)
class BeaconFailed:
    reason: str


BeaconOutcome = BeaconSent | BeaconFailed


class _Step(Enum):
    IDLE = "idle"
    POSITION = "#FNS"
    TRANSMIT = "#FNT"


class Beacon:
    """When the beacon is due and where its two commands stand. The first one goes out once READY."""

    def __init__(self, settings: BeaconSettings, now: float) -> None:
        self._settings = settings
        self._payload = settings.payload
        self._due = now
        self._step = _Step.IDLE
        self._reply_deadline = 0.0

    def next_deadline(self, connection: ModuleConnection) -> float | None:
        """When :meth:`poll` must run next; ``None`` while the module is not READY (events wake it then)."""
        if self._step is not _Step.IDLE:
            return self._reply_deadline
        return self._due if connection.state is ModuleState.READY else None

    def poll(self, connection: ModuleConnection, now: float) -> BeaconOutcome | None:
        """Start a due beacon (only while READY), or give up on a reply that did not come."""
        if self._step is not _Step.IDLE:
            if connection.state is not ModuleState.READY:
                self._step = _Step.IDLE  # re-initialising: the beacon goes out once READY again
                self._due = now
            elif now >= self._reply_deadline:
                return self._fail(f"no reply to {self._step.value} within {REPLY_TIMEOUT_S:g} s")
            return None
        if now < self._due or connection.state is not ModuleState.READY:
            return None
        settings = self._settings
        connection.set_position(settings.lat, settings.lon, settings.altitude_m)
        self._step = _Step.POSITION
        self._due = now + settings.interval_s
        self._reply_deadline = now + REPLY_TIMEOUT_S
        return None

    def handle_event(self, event: Event, connection: ModuleConnection, now: float) -> BeaconOutcome | None:
        """Feed every event of the connection; returns the beacon's outcome when one is known."""
        if self._step is _Step.IDLE:
            return None
        if isinstance(event, ModuleBooted):
            self._step = _Step.IDLE
            self._due = now
            return None
        if isinstance(event, ReplyOk) and event.family is ReplyFamily.FANET:
            if self._step is _Step.TRANSMIT:
                self._step = _Step.IDLE
                return BeaconSent()
            connection.transmit(FrameType.SERVICE, self._payload)
            self._step = _Step.TRANSMIT
            self._reply_deadline = now + REPLY_TIMEOUT_S
            return None
        if isinstance(event, ReplyError) and event.family is ReplyFamily.FANET:
            return self._fail(f"{self._step.value} refused: {event.code} {event.text}")
        if isinstance(event, ModuleMessage) and event.family is ReplyFamily.FANET:
            return self._fail(f"{self._step.value}: module says {event.code} {event.text}")
        return None

    def _fail(self, reason: str) -> BeaconFailed:
        self._step = _Step.IDLE
        return BeaconFailed(reason)
