"""One WebSocket client as a sans-I/O state machine: messages in, frames out, time passed in.

The listener feeds it what the client sent (:meth:`Subscriber.receive`) and asks it what to send next
(:meth:`Subscriber.next_frame`), sleeping until :meth:`Subscriber.wake_at` or until the ``wakeup``
callback fires. It answers Pings, sends its own every ``ping_interval_s``, gives up on a client silent
for ``pong_timeout_s``, turns bad messages into ``Error`` answers and repeated ones into a 1008 close,
and releases the client's updates in batches (:class:`~.outbox.Outbox`). What the client is owed and
which objects it has are decided by the :class:`~.hub.Hub`, which sees every client.
"""

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message

from fanet.proto import fanet_pb2 as pb
from fanet.server.api import messages
from fanet.server.api.updates import UpdateCodec
from fanet.server.live.outbox import ObjectId, Outbox
from fanet.server.live.region import Region
from fanet.server.live.settings import LiveSettings
from fanet.server.live.waits import Waits

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_POLICY = 1008


@dataclass(frozen=True, slots=True)
class Close:
    """Close the connection with this code and reason (and send nothing else)."""

    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class Resubscribe:
    """The client asked for a new region (and, on a fresh connection, to resume after a sequence)."""

    region: Region
    last_sequence: int


Frame = bytes | str


class Subscriber:
    """One client: its region, what it has, what it is owed, and its connection's health.

    ``state``: ``"waiting"`` until its first snapshot is being read, ``"syncing"`` while a (re)subscription
    is resolved, ``"live"`` afterwards; changes reach it only when live (the hub catches it up).

    Thousands of these live at once, mostly idle, so they are slotted and hold nothing they do not use:
    the answer queue exists only while answers wait, and the rate windows are tuples (``()`` is shared).
    """

    __slots__ = (
        "_codec",
        "_control",
        "_errors",
        "_last_heard",
        "_next_ping_at",
        "_resubscriptions",
        "_settings",
        "_waits",
        "as_json",
        "caught_up",
        "closing",
        "compact",
        "has",
        "ident",
        "outbox",
        "region",
        "state",
        "wakeup",
    )

    def __init__(
        self,
        ident: int,
        region: Region,
        *,
        as_json: bool,
        now: float,
        settings: LiveSettings,
        compact: bool = False,
        codec: UpdateCodec,
        waits: Waits | None = None,
        wakeup: Callable[[float], None] = lambda at: None,
    ) -> None:
        self.ident = ident
        self.region = region
        self.as_json = as_json
        self.compact = compact
        """Whether a pilot's UPDATE that only moved it goes as a ``PilotMotion`` (``compact=true``)."""
        self.state = "waiting"
        self.caught_up = False
        """Whether a sync has completed: from then on the hub knows exactly what the client has."""
        self.has: set[ObjectId] = set()
        """Objects the client has once its outbox is delivered (so a move out of the region is a REMOVE)."""
        self.outbox = Outbox(settings.batch_interval_s, batch_phase(ident, settings), settings.max_outbox)
        self.closing: Close | None = None
        self.wakeup = wakeup
        """Called when something is to be sent sooner than :meth:`wake_at` said, with the time from which
        it is (``-inf``: now)."""
        self._settings = settings
        self._codec = codec
        self._waits = waits
        self._control: deque[Frame] | None = None
        """Answers waiting to be sent, ahead of the updates (``None`` while there are none)."""
        self._last_heard = now
        self._next_ping_at = now + settings.ping_interval_s
        self._resubscriptions: tuple[float, ...] = ()
        self._errors: tuple[float, ...] = ()

    def __repr__(self) -> str:
        return f"<Subscriber {self.ident} {self.state} {self.region.circle}>"

    # --- what the client sends ----------------------------------------------------------------------

    def receive(self, data: bytes | str, now: float) -> Resubscribe | Close | None:
        """Handle one message from the client. Returns what the listener must do about it, if anything:
        read a new region (:class:`Resubscribe`), or close (:class:`Close`, also set in ``closing``)."""
        self._last_heard = now
        if len(data) > self._settings.max_message_bytes:
            return self._reject(
                "message_too_large", f"messages are limited to {self._settings.max_message_bytes} bytes", now
            )
        message = pb.ClientMessage()
        try:
            if isinstance(data, str):
                json_format.Parse(data, message)
            else:
                message.ParseFromString(data)
        except (DecodeError, json_format.ParseError) as error:
            return self._reject("invalid_message", f"not a ClientMessage: {error}", now)
        which = message.WhichOneof("message")
        if which == "ping":
            self._answer(messages.pong(message.ping.timestamp, now))
        elif which == "subscribe":
            return self._subscribe(message.subscribe, now)
        elif which == "unsubscribe":
            return self.close(CLOSE_NORMAL, "unsubscribed")
        elif which is None:
            return self._reject("invalid_message", "the ClientMessage holds no message", now)
        return self.closing

    def _subscribe(self, request: pb.SubscribeRequest, now: float) -> Resubscribe | Close | None:
        if not request.HasField("center"):
            return self._reject("invalid_parameter", "subscribe: center is missing", now)
        try:
            region = Region.around(request.center.latitude, request.center.longitude, request.radius)
        except ValueError as error:
            return self._reject("invalid_parameter", f"subscribe: {error}", now)
        self._resubscriptions = _since(self._resubscriptions, now - 60)
        if len(self._resubscriptions) >= self._settings.resubscriptions_per_minute:
            limit = self._settings.resubscriptions_per_minute
            return self._reject("rate_limited", f"subscribe: at most {limit} subscriptions a minute", now)
        self._resubscriptions += (now,)
        return Resubscribe(region, request.last_sequence)

    def _reject(self, code: str, text: str, now: float) -> Close | None:
        self._errors = (*_since(self._errors, now - 60), now)
        if len(self._errors) >= self._settings.errors_per_minute:
            return self.close(CLOSE_POLICY, f"{len(self._errors)} bad messages within a minute; last: {text}")
        self._answer(messages.error(code, text))
        return self.closing

    # --- what the server sends ----------------------------------------------------------------------

    def send(self, message: Message) -> None:
        """Queue a message (Welcome, SubscribeResponse…) ahead of the updates."""
        self._answer(message)

    def close(self, code: int, reason: str) -> Close:
        """Close the connection once the sender gets to it; the first reason given stays."""
        if self.closing is None:
            self.closing = Close(code, reason[:120])  # a close frame's reason holds 123 bytes
            self.wakeup(-math.inf)
        return self.closing

    def next_frame(self, now: float) -> Frame | Close | None:
        """What to send now: a close, an answer, a Ping, a batch of updates; ``None`` until
        :meth:`wake_at`."""
        if self.closing is None and now - self._last_heard >= self._settings.pong_timeout_s:
            self.close(CLOSE_GOING_AWAY, f"no answer for {self._settings.pong_timeout_s:g} s")
        if self.closing is not None:
            return self.closing
        if self._control is not None:
            frame = self._control.popleft()
            if not self._control:
                self._control = None
            return frame
        if now >= self._next_ping_at:
            self._next_ping_at = now + self._settings.ping_interval_s
            return messages.encode(messages.ping(now), as_json=self.as_json)
        updates = self.outbox.take(now)
        if updates:
            if self._waits is not None:
                self._waits.observe(now - updates[0].owed_at)  # the first in the outbox, owed longest
            return self._codec.batch(updates, int(now), as_json=self.as_json, compact=self.compact)
        return None

    def wake_at(self) -> float:
        """When :meth:`next_frame` may have something, unless ``wakeup`` is called first."""
        if self.closing is not None or self._control is not None:
            return -float("inf")
        at = min(self._next_ping_at, self._last_heard + self._settings.pong_timeout_s)
        if self.outbox.due_at is not None and not self.outbox.paused:
            at = min(at, self.outbox.due_at)
        return at

    def _answer(self, message: Message) -> None:
        if self._control is None:
            self._control = deque()
        elif len(self._control) >= self._settings.max_control_messages:
            self.close(CLOSE_POLICY, "too many messages left unanswered: the client does not read")
            return
        self._control.append(messages.encode(message, as_json=self.as_json))
        self.wakeup(-math.inf)


_GOLDEN = (5**0.5 - 1) / 2


def batch_phase(ident: int, settings: LiveSettings) -> float:
    """Where in the batch interval client ``ident`` gets its batches: consecutive clients land far apart
    and any run of them covers the interval evenly (the golden-ratio sequence); 0 when not staggered."""
    if not settings.stagger_batches:
        return 0.0
    return (ident * _GOLDEN) % 1.0 * settings.batch_interval_s


def _since(times: tuple[float, ...], cutoff: float) -> tuple[float, ...]:
    """The times after ``cutoff`` (a rate window holds a handful, so rebuilding it is cheap)."""
    return tuple(at for at in times if at > cutoff) if times and times[0] <= cutoff else times
