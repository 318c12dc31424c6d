"""What one client is owed: at most the newest update of each object, released in batches.

The outbox is the client's only queue of updates, and it is bounded by the objects in its region, not by
time: a client that cannot keep up is owed the newest version of each object, never a backlog. Two updates
of one object fold into one (:func:`compose`); the order is the sequence order (an entry moves to the end
when a newer change replaces it). Batches fall due on a grid of the interval, shifted by the client's
phase (see ``LiveSettings.stagger_batches``); an urgent update (distress) makes the outbox due at once.
"""

import math
from collections.abc import Callable
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


class OutboxFull(Exception):
    """More objects are owed than the outbox's limit: the client cannot keep up with its region."""


class Outbox:
    """Owed updates by object, in sequence order, with the time the next batch is due."""

    __slots__ = ("_owed", "due_at", "interval_s", "limit", "paused", "phase_s")

    def __init__(self, interval_s: float, phase_s: float = 0.0, limit: int = 50_000) -> None:
        self.interval_s = interval_s
        self.phase_s = phase_s
        self.limit = limit
        """The most objects owed at once; one more raises :class:`OutboxFull`."""
        """Where in the interval this client's batches fall (0 ≤ phase < interval)."""
        self.due_at: float | None = None
        """When the next batch may go (``None``: nothing owed)."""
        self.paused = False
        """While a resubscription is being resolved nothing leaves (see :class:`~.hub.Hub`)."""
        self._owed: dict[ObjectId, PendingUpdate] = {}

    def owe(
        self, oid: ObjectId, action: Action, make: Callable[[Action, bool], PendingUpdate], now: float
    ) -> float | None:
        """Owe the client ``action`` for an object: folded with what it is owed already
        (:func:`compose`), the update made by ``make`` for the folded action and put last, or nothing
        left owed when they cancel out. ``make``'s second argument says the update must be whole: it
        folds one that was (a pilot's name may have changed in it), so a compact ``PilotMotion`` would
        not do (see :attr:`PendingUpdate.moving`). Returns when the batch is due if that became earlier than
        before (the sender must be told), else ``None``; raises :class:`OutboxFull` when a new object
        takes the outbox over its limit. The fan-out's one call per delivery, hence one dictionary
        lookup."""
        owed = self._owed
        earlier = owed.pop(oid, None)
        whole = False
        if earlier is not None:
            folded = compose(earlier.action, action)
            if folded is None:
                if not owed:
                    self._owed = {}  # a dict keeps its table once emptied; a new one has none
                    self.due_at = None
                return None
            action = folded
            whole = not earlier.moving
        elif len(owed) >= self.limit:
            owed[oid] = make(action, False)
            raise OutboxFull(f"{len(owed)} objects owed")
        update = owed[oid] = make(action, whole)
        if update.urgent:
            return self._due_by(now)
        if self.due_at is None:  # a batch already due is due no later than the next slot
            return self._due_by(self._next_slot(now))
        return None

    def reorder(self) -> None:
        """Restore sequence order after updates were put out of order (a resolved resubscription)."""
        self._owed = dict(sorted(self._owed.items(), key=lambda item: item[1].sequence))

    def take(self, now: float, limit: int = MAX_BATCH_UPDATES) -> list[PendingUpdate]:
        """The next batch if it is due: the oldest ``limit`` updates. What remains is due at once."""
        if self.paused or self.due_at is None or now < self.due_at:
            return []
        if len(self._owed) <= limit:  # the usual case: everything owed fits in one batch
            batch = list(self._owed.values())
            self._owed = {}  # a new table: an idle client holds none sized for its last snapshot
            self.due_at = None
            return batch
        oids = list(islice(self._owed, limit))
        batch = [self._owed.pop(oid) for oid in oids]
        self.due_at = now  # more than a batch was owed: the rest is due at once
        return batch

    def _due_by(self, at: float) -> float | None:
        if self.due_at is not None and self.due_at <= at:
            return None
        self.due_at = at
        return None if self.paused else at

    def _next_slot(self, now: float) -> float:
        if self.interval_s == 0:
            return now
        interval, phase = self.interval_s, self.phase_s
        return math.ceil((now - phase) / interval) * interval + phase
