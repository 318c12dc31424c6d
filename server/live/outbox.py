"""What one client is owed: at most the newest update of each object, released in batches.

The outbox is the client's only queue of updates, and it is bounded by the objects in its region, not by
time: a client that cannot keep up is owed the newest version of each object, never a backlog. Two updates
of one object fold into one (:func:`compose`); the order is the sequence order (an entry moves to the end
when a newer change replaces it). Batches fall due on a grid of the interval, shifted by the client's
phase (see ``LiveSettings.stagger_batches``); an urgent update (distress) makes the outbox due at once.
"""

import math
from collections.abc import Iterable
from itertools import islice

from fanet.server.api.updates import MAX_BATCH_UPDATES, PendingUpdate
from fanet.server.model import Action, Kind

ObjectId = tuple[Kind, str]


def compose(earlier: Action | None, later: Action) -> Action | None:
    """The one action a client needs when it is owed ``earlier`` and then ``later`` for one object,
    before either was sent; ``None`` when it needs nothing (added and removed unseen).

    The client's view before the earlier action decides: an ADD means it did not have the object, a
    REMOVE or UPDATE that it had it.
    """
    if earlier is None:
        return later
    had_before = earlier is not Action.ADD
    if later is Action.REMOVE:
        return Action.REMOVE if had_before else None
    return Action.UPDATE if had_before else Action.ADD


class Outbox:
    """Owed updates by object, in sequence order, with the time the next batch is due."""

    __slots__ = ("_owed", "due_at", "interval_s", "paused", "phase_s")

    def __init__(self, interval_s: float, phase_s: float = 0.0) -> None:
        self.interval_s = interval_s
        self.phase_s = phase_s
        """Where in the interval this client's batches fall (0 ≤ phase < interval)."""
        self.due_at: float | None = None
        """When the next batch may go (``None``: nothing owed)."""
        self.paused = False
        """While a resubscription is being resolved nothing leaves (see :class:`~.hub.Hub`)."""
        self._owed: dict[ObjectId, PendingUpdate] = {}

    def __len__(self) -> int:
        return len(self._owed)

    def action_owed(self, oid: ObjectId) -> Action | None:
        owed = self._owed.get(oid)
        return None if owed is None else owed.action

    def put(self, oid: ObjectId, update: PendingUpdate, now: float) -> bool:
        """Owe ``update`` (replacing what was owed for the object); ``True`` when the batch became due
        earlier than before, so the sender must wake up."""
        owed = self._owed
        owed.pop(oid, None)
        owed[oid] = update
        if update.urgent:
            return self._due_by(now)
        if self.due_at is None:  # a batch already due is due no later than the next slot
            return self._due_by(self._next_slot(now))
        return False

    def drop(self, oid: ObjectId) -> None:
        self._owed.pop(oid, None)
        if not self._owed:
            self._owed = {}  # a dict keeps its table once emptied; a new empty one has none
            self.due_at = None

    def reorder(self) -> None:
        """Restore sequence order after updates were put out of order (a resolved resubscription)."""
        self._owed = dict(sorted(self._owed.items(), key=lambda item: item[1].sequence))

    def take(self, now: float, limit: int = MAX_BATCH_UPDATES) -> list[PendingUpdate]:
        """The next batch if it is due: the oldest ``limit`` updates. What remains is due at once."""
        if self.paused or self.due_at is None or now < self.due_at:
            return []
        oids = list(islice(self._owed, limit))
        batch = [self._owed.pop(oid) for oid in oids]
        if self._owed:
            self.due_at = now
        else:
            self._owed = {}  # as in drop: an idle client holds no table sized for its last snapshot
            self.due_at = None
        return batch

    def updates(self) -> Iterable[PendingUpdate]:
        return self._owed.values()

    def _due_by(self, at: float) -> bool:
        if self.due_at is not None and self.due_at <= at:
            return False
        self.due_at = at
        return not self.paused

    def _next_slot(self, now: float) -> float:
        if self.interval_s == 0:
            return now
        interval, phase = self.interval_s, self.phase_s
        return math.ceil((now - phase) / interval) * interval + phase
