"""The fan-out core: which client gets which change, as what — pure, time passed in.

The :class:`Hub` follows the store's change stream (:meth:`Hub.publish`, in sequence order) and knows every
:class:`~.subscriber.Subscriber`. A change finds its clients through two indexes, so it costs work in
proportion to the clients that need it: geohash cell → clients whose region's cover holds the cell (one
lookup per precision), and object → clients that have it (they must hear when it leaves). For each, the
client-relative action follows from the exact circle and the client's ``has`` set: inside and new → ADD,
inside and known → UPDATE, outside or removed and known → REMOVE, otherwise nothing.

Catching a client up (a new connection, a new region, a resume) needs the store, so it is a
:class:`Sync` the listener completes: :meth:`Hub.begin_sync` fixes where the hub stands (``base``), the
listener reads the missed changes (:meth:`Hub.add_replayed`, for a resume) and then the region's objects
followed by the store's sequence ``S`` (:meth:`Hub.finish_sync`). Meanwhile the hub keeps every change it
publishes after ``base``; once it has published up to ``S`` it resolves the sync exactly: an object's state
at ``S`` is its last change in the window if there is one, else its snapshot state (the snapshot was read
after ``base`` and before ``S``). The client gets ADD for what entered its view, UPDATE for what changed,
REMOVE for what left; changes after ``S`` then reach it live — no gap and no duplicate.

A resume (``last_sequence`` on a fresh connection) cannot know what the client had, only what changed: an
object unchanged since ``last_sequence`` and in the region now was there then; for an object that changed,
the client is taken to have had it unless it was added since or its first position after
``last_sequence`` lies outside the region's cells (so a REMOVE may reach a client that never had the
object, which clients ignore). When ``last_sequence`` has left the store's window the client gets a fresh
snapshot instead, announced by an Error ``resume_unavailable`` so that it drops what it has. A snapshot larger than a batch is marked with the sequence ``S``; a client that loses the
connection in the middle of one should resume from the sequence it had before.
"""

import math
from array import array
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from fanet.server.api import messages
from fanet.server.api.messages import pilot_at_rest
from fanet.server.api.updates import PendingUpdate, UpdateCodec
from fanet.server.live.index import CellIndex, Index
from fanet.server.live.outbox import ObjectId, OutboxFull
from fanet.server.live.region import Point, Region, cell_of
from fanet.server.live.settings import LiveSettings
from fanet.server.live.subscriber import CLOSE_GOING_AWAY, Subscriber
from fanet.server.live.waits import Waits
from fanet.server.model import Action, Change, Kind, LiveObject, key_of, kind_of


def _nothing(at: float) -> None:
    pass


@dataclass(slots=True)
class FanoutStats:
    """What routing the change stream cost (``fanet_ws_fanout_*``): the listener times :meth:`Hub.publish`;
    the hub counts the rest. Candidates per delivery tell how tight the regions' covers are."""

    changes: int = 0
    """Changes routed."""
    candidates: int = 0
    """Clients filed under the cells of a change's position, looked at for it."""
    deliveries: int = 0
    """Updates owed to clients (before folding in their outboxes)."""
    seconds: float = 0.0
    """Time spent routing (set by the listener)."""


@dataclass(eq=False, slots=True)
class Sync:
    """Catching one client up to a region (see the module docstring); the listener reads ``region``,
    ``replay_after`` and ``base`` to know what to fetch."""

    subscriber: Subscriber
    region: Region
    base: int
    """The hub's position when the sync began: later changes are kept by the hub."""
    replay_after: int | None
    """For a resume: the client's ``last_sequence``; the listener replays ``(replay_after, base]``."""
    snapshot: list[LiveObject] = field(default_factory=list)
    sequence: int = -1
    """The store's sequence read after the snapshot (``S``); -1 until :meth:`Hub.finish_sync`."""
    first: dict[ObjectId, Change] = field(default_factory=dict)
    last: dict[ObjectId, Change] = field(default_factory=dict)

    def note(self, change: Change) -> None:
        oid = (change.kind, change.key)
        self.first.setdefault(oid, change)
        self.last[oid] = change


class Hub:
    """Every client of this process and the indexes that route changes to them."""

    def __init__(self, settings: LiveSettings, codec: UpdateCodec | None = None) -> None:
        self.settings = settings
        self.codec = codec or UpdateCodec()
        self.waits = Waits()
        """How long updates waited before their batch went out (``fanet_ws_update_wait_seconds``)."""
        self.stats = FanoutStats()
        self.position = 0
        """The sequence of the last change published (set by :meth:`start`)."""
        self.subscribers: set[Subscriber] = set()
        self._cells = CellIndex()
        self._precisions: dict[int, int] = {}
        """Regions indexed, by the precision of their cells: a change looks its cells up at those only."""
        self._holders: Index[ObjectId] = Index()
        self._last_cells: dict[ObjectId, str] = {}
        """The cell of each object's last change (see :meth:`publish`)."""
        self._at_rest: dict[str, tuple[object, ...]] = {}
        """What a compact update leaves out of each pilot, as of its last change (see :meth:`_moving`)."""
        self._syncs: dict[Subscriber, Sync] = {}
        self._ready: list[Sync] = []
        self._recent: deque[Change] = deque()
        self._next_ident = 1

    def start(self, position: int) -> None:
        """Follow the stream from ``position`` (the store's current sequence); clients already connected
        are closed (1001) so that they resume — they would otherwise miss what lies in between."""
        for subscriber in list(self.subscribers):
            subscriber.close(CLOSE_GOING_AWAY, "the server lost its place in the change stream; resume")
            self._forget_sync(subscriber)
        self._recent.clear()
        self._last_cells.clear()
        self._at_rest.clear()
        self.position = position

    # --- clients --------------------------------------------------------------------------------------

    def connect(
        self,
        region: Region,
        *,
        as_json: bool,
        now: float,
        compact: bool = False,
        wakeup: Callable[[float], None] = _nothing,
    ) -> Subscriber:
        """A new client: its Welcome is queued; it gets changes once a sync has caught it up."""
        subscriber = Subscriber(
            self._next_ident,
            region,
            as_json=as_json,
            compact=compact,
            now=now,
            settings=self.settings,
            codec=self.codec,
            waits=self.waits,
            wakeup=wakeup,
        )
        self._next_ident += 1
        subscriber.send(messages.welcome(now, self.position, self.settings.server_version))
        self.subscribers.add(subscriber)
        self._index(subscriber)
        return subscriber

    def disconnect(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)
        self._unindex(subscriber)
        for oid in subscriber.has:
            self._holders.discard(oid, subscriber)
        subscriber.has.clear()
        self._forget_sync(subscriber)

    # --- catching a client up -------------------------------------------------------------------------

    def begin_sync(
        self, subscriber: Subscriber, region: Region, last_sequence: int, *, respond: bool
    ) -> Sync:
        """Start moving ``subscriber`` to ``region`` (replacing a sync in progress). ``last_sequence``
        counts only while the connection has not been caught up yet; ``respond`` queues the
        SubscribeResponse (for a SubscribeRequest, not for the region of the URL)."""
        self._forget_sync(subscriber)
        resume = not subscriber.caught_up and last_sequence > 0
        if region is not subscriber.region:  # a new connection syncs to the region it was filed under
            self._unindex(subscriber)
            subscriber.region = region
            self._index(subscriber)
        subscriber.state = "syncing"
        subscriber.outbox.paused = True
        sync = Sync(subscriber, region, self.position, last_sequence if resume else None)
        self._syncs[subscriber] = sync
        if respond:
            subscriber.send(messages.subscribe_response(region.cells))
        return sync

    def add_replayed(self, sync: Sync, changes: Iterable[Change]) -> bool:
        """Changes read from the store for a resume (any order of chunks, oldest first within one);
        ``False`` when the sync no longer matters (the client left or asked again)."""
        if self._syncs.get(sync.subscriber) is not sync or sync.replay_after is None:
            return False
        for change in changes:
            if sync.replay_after < change.sequence <= sync.base:
                sync.note(change)
        return True

    def replay_unavailable(self, sync: Sync) -> None:
        """The resume point has left the store's window (or the store was reset): the client is told so
        (an Error ``resume_unavailable``, so that it drops what it has) and gets a fresh snapshot."""
        if sync.replay_after is None:
            return
        sync.subscriber.send(
            messages.error(
                "resume_unavailable",
                f"last_sequence {sync.replay_after} is outside the change window: "
                "drop what you have, a fresh snapshot follows",
            )
        )
        sync.replay_after = None
        sync.first.clear()
        sync.last.clear()

    def finish_sync(self, sync: Sync, objects: Iterable[LiveObject], sequence: int, now: float) -> None:
        """The region's objects, then the store's sequence read after them; resolves the sync as soon as
        the hub has published up to ``sequence``."""
        if self._syncs.get(sync.subscriber) is not sync:
            return
        sync.snapshot = list(objects)
        sync.sequence = sequence
        if sync.replay_after is not None and sync.replay_after > sequence:
            self.replay_unavailable(sync)  # a resume point from the future: the store was reset
        if sequence <= self.position:
            self._resolve(sync, now)
        else:
            self._ready.append(sync)

    # --- the change stream ----------------------------------------------------------------------------

    def publish(self, changes: Iterable[Change], now: float) -> None:
        """Route changes (in sequence order; ones already seen are skipped) to the clients that need them."""
        stats = self.stats
        for change in changes:
            sequence = change.sequence
            if sequence <= self.position:
                continue
            stats.changes += 1
            if self._ready:
                self._resolve_ready(now)
            if self._syncs:
                self._recent.append(change)
            variants = _Variants(change, now, self._moving(change))
            obj = change.obj
            cell = cell_of(obj.lat, obj.lon)
            oid = variants.oid
            if variants.point is not None:  # a removal goes to the holders alone (below)
                cells = self._cells
                for precision in self._precisions:
                    group = cells.group(cell[:precision])
                    if group is None:
                        continue
                    if isinstance(group, Subscriber):
                        stats.candidates += 1
                        self._visit_all((group,), variants, now)
                    else:
                        stats.candidates += len(group) - 1
                        self._visit_group(group, variants, now)
            # Clients that have the object and whose cells do not hold its new position must hear it left.
            # After every change each live holder's circle holds the object, so while the object stays in
            # one cell its holders were all among the candidates above: only a move to another cell (or a
            # removal, or an object whose last cell is unknown) needs them looked at.
            if change.action is Action.REMOVE:
                self._last_cells.pop(oid, None)
                moved = True
            else:
                moved = self._last_cells.get(oid) != cell
                if moved:
                    self._last_cells[oid] = cell
            holders = self._holders.get(oid) if moved else None
            if holders:  # a copy (unless a tuple already): a REMOVE takes the client out of the index
                self._visit_holders(tuple(holders), variants, now)
            self.position = sequence
        if self._ready:
            self._resolve_ready(now)
        self._trim_recent()

    def _moving(self, change: Change) -> bool:
        """Whether a change to a pilot kept everything a compact update leaves out, since the change
        before it (the first one the hub sees of a pilot is taken to have changed everything)."""
        if change.kind is not Kind.PILOT:
            return False
        if change.action is Action.REMOVE:
            self._at_rest.pop(change.key, None)
            return False
        rest = pilot_at_rest(change.obj)  # type: ignore[arg-type]  # a pilot's change holds a Pilot
        before = self._at_rest.get(change.key)
        self._at_rest[change.key] = rest
        return change.action is Action.UPDATE and rest == before

    def _visit_all(self, subscribers: Iterable[Subscriber], variants: "_Variants", now: float) -> None:
        """The hot loop, over the clients filed under the cell of the change's position: each comes once
        (a region's cells are of one precision, and a position lies in one cell of each precision), and
        one that needs nothing costs a few hundred nanoseconds."""
        oid, point = variants.oid, variants.point
        for subscriber in subscribers:
            if subscriber.state != "live":
                continue
            if point is not None and subscriber.region.holds(point):
                action = Action.UPDATE if oid in subscriber.has else Action.ADD
                self._deliver(subscriber, oid, action, variants.get, now)
            elif oid in subscriber.has:
                self._deliver(subscriber, oid, Action.REMOVE, variants.get, now)

    def _visit_group(
        self, group: tuple["Subscriber | array[float]", ...], variants: "_Variants", now: float
    ) -> None:
        """:meth:`_visit_all` over a cell's group (:class:`~.index.CellIndex`), with the circles from the
        group's array and what the clients have from the object's holders: a client outside its circle
        that does not have the object costs no look at its own objects (see the index's docstring)."""
        terms: array[float] = group[-1]  # type: ignore[assignment]  # annotations: no call in the hot path
        point: Point = variants.point  # type: ignore[assignment]  # a removal visits no cell
        members: tuple[Subscriber, ...] = group  # type: ignore[assignment]  # zip stops before the terms
        oid, held, make, sin = variants.oid, variants.held(self._holders), variants.get, math.sin
        lat, lon, cos_lat = point.lat_rad, point.lon_rad, point.cos_lat
        for subscriber, at in zip(members, range(0, len(terms), 4), strict=False):
            half_dlat = sin((lat - terms[at]) / 2)  # Region.holds, with the terms at hand
            half_dlon = sin((lon - terms[at + 1]) / 2)
            if half_dlat * half_dlat + terms[at + 2] * cos_lat * half_dlon * half_dlon <= terms[at + 3]:
                if subscriber.state == "live":
                    action = Action.UPDATE if id(subscriber) in held else Action.ADD
                    self._deliver(subscriber, oid, action, make, now)
            elif id(subscriber) in held and subscriber.state == "live":
                self._deliver(subscriber, oid, Action.REMOVE, make, now)

    def _visit_holders(self, holders: Iterable[Subscriber], variants: "_Variants", now: float) -> None:
        """The clients that have the object, after the cells' clients were visited: those it is not inside
        of now hear that it left (the others were among the cells' clients, or were told already)."""
        oid, point = variants.oid, variants.point
        for subscriber in holders:
            if (
                subscriber.state == "live"
                and oid in subscriber.has
                and (point is None or not subscriber.region.holds(point))
            ):
                self._deliver(subscriber, oid, Action.REMOVE, variants.get, now)

    def _deliver(
        self,
        subscriber: Subscriber,
        oid: ObjectId,
        action: Action,
        make: Callable[[Action, bool], PendingUpdate],
        now: float,
    ) -> None:
        """Owe ``subscriber`` an action; an ADD or REMOVE also changes what it has (an UPDATE is for an
        object it has)."""
        self.stats.deliveries += 1
        if action is Action.ADD:
            self._hold(subscriber, oid)
        elif action is Action.REMOVE:
            self._release(subscriber, oid)
        try:
            due = subscriber.outbox.owe(oid, action, make, now)
            if due is not None:
                subscriber.wakeup(due)
        except OutboxFull:
            subscriber.close(CLOSE_GOING_AWAY, "too far behind; resume")

    # --- resolving a sync -----------------------------------------------------------------------------

    def _resolve_ready(self, now: float) -> None:
        ready = [sync for sync in self._ready if sync.sequence <= self.position]
        if ready:
            self._ready = [sync for sync in self._ready if sync.sequence > self.position]
            for sync in ready:
                self._resolve(sync, now)

    def _resolve(self, sync: Sync, now: float) -> None:
        subscriber, region, upto = sync.subscriber, sync.region, sync.sequence
        since = sync.base if sync.replay_after is None else max(sync.replay_after, sync.base)
        for change in self._recent:
            if since < change.sequence <= upto:
                sync.note(change)
        state: dict[ObjectId, LiveObject | None] = {(kind_of(obj), key_of(obj)): obj for obj in sync.snapshot}
        for oid, change in sync.last.items():
            state[oid] = None if change.action is Action.REMOVE else change.obj
        view = {oid for oid, obj in state.items() if obj is not None and region.contains(obj.lat, obj.lon)}
        if sync.replay_after is not None:
            for oid in view - sync.last.keys():
                self._hold(subscriber, oid)  # unchanged since the resume point, so the client has it
            for oid, change in sync.first.items():
                if change.action is not Action.ADD and region.covers(cell_of(change.obj.lat, change.obj.lon)):
                    self._hold(subscriber, oid)
        for oid in subscriber.has - view:
            self._deliver(subscriber, oid, Action.REMOVE, self._maker(oid, sync, state.get(oid), now), now)
        for oid in view:
            if oid not in subscriber.has:
                self._deliver(subscriber, oid, Action.ADD, self._maker(oid, sync, state[oid], now), now)
            elif oid in sync.last:
                self._deliver(subscriber, oid, Action.UPDATE, self._maker(oid, sync, state[oid], now), now)
        del self._syncs[subscriber]
        subscriber.outbox.reorder()
        subscriber.outbox.paused = False
        subscriber.state = "live"
        subscriber.caught_up = True
        for change in self._recent:  # what the hub published after S reaches the client live
            if change.sequence > upto:
                self._visit_all((subscriber,), _Variants(change, now), now)
        subscriber.wakeup(-math.inf)

    @staticmethod
    def _maker(
        oid: ObjectId, sync: Sync, obj: LiveObject | None, now: float
    ) -> Callable[[Action, bool], PendingUpdate]:
        change = sync.last.get(oid)
        if change is not None:
            sequence, urgent, obj = change.sequence, change.urgent, change.obj
        else:
            sequence, urgent = sync.sequence, False
        kind, key = oid
        return lambda action, whole: PendingUpdate(kind, key, action, sequence, obj, urgent, now)

    def _forget_sync(self, subscriber: Subscriber) -> None:
        sync = self._syncs.pop(subscriber, None)
        if sync is not None and sync in self._ready:
            self._ready.remove(sync)

    def _trim_recent(self) -> None:
        if not self._syncs:
            self._recent.clear()
            return
        while len(self._recent) > self.settings.max_recent_changes:
            oldest = min(self._syncs.values(), key=lambda sync: sync.base)
            oldest.subscriber.close(CLOSE_GOING_AWAY, "the server fell behind catching up; resume")
            self._forget_sync(oldest.subscriber)
            if not self._syncs:
                self._recent.clear()
                return
        floor = min(sync.base for sync in self._syncs.values())
        while self._recent and self._recent[0].sequence <= floor:
            self._recent.popleft()

    # --- indexes --------------------------------------------------------------------------------------

    def _index(self, subscriber: Subscriber) -> None:
        region = subscriber.region
        for cell in region.cells:
            self._cells.add(cell, subscriber)
        counts = self._precisions
        counts[region.precision] = counts.get(region.precision, 0) + 1
        if counts[region.precision] == 1:
            self._precisions = dict(sorted(counts.items()))

    def _unindex(self, subscriber: Subscriber) -> None:
        region = subscriber.region
        for cell in region.cells:
            self._cells.discard(cell, subscriber)
        counts = self._precisions
        counts[region.precision] -= 1
        if not counts[region.precision]:
            del counts[region.precision]

    def _hold(self, subscriber: Subscriber, oid: ObjectId) -> None:
        if oid not in subscriber.has:
            subscriber.has.add(oid)
            self._holders.add(oid, subscriber)

    def _release(self, subscriber: Subscriber, oid: ObjectId) -> None:
        if oid in subscriber.has:
            subscriber.has.discard(oid)
            self._holders.discard(oid, subscriber)


class _Variants:
    """One change's updates by action, made when a client first needs each (at most three, and a whole
    twin of a ``moving`` UPDATE for the clients owed it folded with one that was not)."""

    __slots__ = ("_held", "change", "made", "moving", "now", "oid", "point")

    def __init__(self, change: Change, now: float, moving: bool = False) -> None:
        self.change = change
        self.now = now
        self.moving = moving
        """Whether an UPDATE of this change may go compact (see :attr:`PendingUpdate.moving`)."""
        self.oid: ObjectId = (change.kind, change.key)
        self.made: dict[Action | None, PendingUpdate] = {}
        obj = change.obj
        self.point = None if change.action is Action.REMOVE else Point.at(obj.lat, obj.lon)
        """Where the object is after the change; ``None`` when it is gone (in no region)."""
        self._held: frozenset[int] | None = None

    def held(self, holders: Index[ObjectId]) -> frozenset[int]:
        """The ``id`` of each client that has the object as the change comes (taken once): whether a
        client has it without touching the client (its ``has`` set would be one more object to fetch)."""
        if self._held is None:
            self._held = frozenset(map(id, holders.get(self.oid)))
        return self._held

    def get(self, action: Action, whole: bool = False) -> PendingUpdate:
        moving = self.moving and action is Action.UPDATE
        slot: Action | None = None if moving and whole else action
        update = self.made.get(slot)
        if update is None:
            change = self.change
            kind, key = self.oid
            update = self.made[slot] = PendingUpdate(
                kind, key, action, change.sequence, change.obj, change.urgent, self.now, moving and not whole
            )
        return update
