"""The fan-out core without I/O: routing, client-relative actions, coalescing, batching, urgency,
resubscription and resume — checked against a model of what the client should end up seeing."""

from collections.abc import Iterable
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fanet.proto import AircraftType, GroundType
from fanet.proto import fanet_pb2 as pb
from fanet.server.api.messages import apply_motion
from fanet.server.api.updates import MAX_BATCH_UPDATES
from fanet.server.live.hub import Hub
from fanet.server.live.outbox import compose
from fanet.server.live.region import Region, cell_of
from fanet.server.live.settings import LiveSettings
from fanet.server.live.subscriber import Close, Subscriber, batch_phase
from fanet.server.model import Action, Change, GroundObject, Kind, LiveObject, Pilot

T0 = 1_750_000_000.0
CENTRE = (46.0, 8.0)
REGION = Region.around(*CENTRE, 20)
# Positions by zone: in the region, just outside it (within its cells), far away.
INSIDE = [(46.0, 8.0), (46.1, 8.1), (45.9, 7.85), (46.15, 8.0)]
NEAR = [(46.0, 8.3), (46.2, 8.0), (45.8, 7.8)]
FAR = [(47.5, 10.0), (44.0, 6.0)]
assert all(REGION.contains(*p) for p in INSIDE)
assert all(REGION.covers(cell_of(*p)) and not REGION.contains(*p) for p in NEAR)
assert not any(REGION.covers(cell_of(*p)) for p in FAR)


def pilot(addr: int, lat: float, lon: float, t: float = T0) -> Pilot:
    return Pilot(addr, lat, lon, 1500, AircraftType.PARAGLIDER, 30.0, 1.0, 90.0, True, t, f"p{addr}")


class World:
    """The store's side of the story: objects and the numbered changes that made them."""

    def __init__(self) -> None:
        self.objects: dict[int, LiveObject] = {}
        self.log: list[Change] = []

    @property
    def sequence(self) -> int:
        return len(self.log)

    def move(self, addr: int, lat: float, lon: float, *, urgent: bool = False) -> Change:
        action = Action.UPDATE if addr in self.objects else Action.ADD
        obj = pilot(addr, lat, lon, T0 + self.sequence)
        before = self.objects.get(addr)
        if isinstance(before, Pilot):  # a move keeps the name
            obj = replace(obj, name=before.name)
        self.objects[addr] = obj
        return self._log(action, obj, urgent)

    def put(self, obj: LiveObject, *, urgent: bool = False) -> Change:
        action = Action.UPDATE if obj.addr in self.objects else Action.ADD
        self.objects[obj.addr] = obj
        return self._log(action, obj, urgent)

    def remove(self, addr: int) -> Change:
        return self._log(Action.REMOVE, self.objects.pop(addr), False)

    def in_region(self, region: Region) -> dict[int, tuple[float, float]]:
        return {a: (o.lat, o.lon) for a, o in self.objects.items() if region.contains(o.lat, o.lon)}

    def since(self, sequence: int) -> list[Change]:
        return self.log[sequence:]

    def _log(self, action: Action, obj: LiveObject, urgent: bool) -> Change:
        change = Change(self.sequence + 1, action, obj, T0, urgent)
        self.log.append(change)
        return change


class Client:
    """What a map client does with the frames: keeps a view, and checks every action makes sense."""

    def __init__(self) -> None:
        self.view: dict[int, tuple[float, float]] = {}
        self.updates: list[pb.Update] = []
        self.messages: list[pb.ServerMessage] = []
        self.closed: Close | None = None
        self.pilots: dict[int, pb.Pilot] = {}
        self.motions = 0
        """Compact updates received."""

    def drain(self, subscriber: Subscriber, now: float, *, lenient: bool = False) -> list[pb.Update]:
        """Everything the subscriber sends at ``now``; ``lenient`` allows what a resumed client may get
        (UPDATE for an object it does not have, REMOVE for one it never had)."""
        got: list[pb.Update] = []
        while (frame := subscriber.next_frame(now)) is not None:
            if isinstance(frame, Close):
                self.closed = frame
                break
            assert isinstance(frame, bytes)
            message = pb.ServerMessage.FromString(frame)
            self.messages.append(message)
            if message.WhichOneof("message") == "error" and message.error.code == "resume_unavailable":
                self.view.clear()
            if message.WhichOneof("message") != "batch":
                continue
            batch = list(message.batch.updates)
            assert 0 < len(batch) <= MAX_BATCH_UPDATES
            assert [u.sequence for u in batch] == sorted(u.sequence for u in batch)
            for update in batch:
                self.apply(update, lenient=lenient, timestamp_s=message.batch.timestamp)
            got.extend(batch)
        self.updates.extend(got)
        return got

    def apply(self, update: pb.Update, *, lenient: bool, timestamp_s: int = 0) -> None:
        if update.HasField("motion"):  # a compact update: only for a pilot the client has
            assert update.action == pb.ACTION_UPDATE and not update.data
            obj = apply_motion(self.pilots[update.motion.addr], update.motion, timestamp_s)
            self.motions += 1
        else:
            obj = pb.Pilot.FromString(update.data)
        known = obj.addr in self.view
        if update.action == pb.ACTION_ADD:
            assert not known, f"ADD for {obj.addr}, which the client has"
        elif not lenient:
            assert known, f"{pb.Action.Name(update.action)} for {obj.addr}, which the client does not have"
        if update.action == pb.ACTION_REMOVE:
            self.view.pop(obj.addr, None)
            self.pilots.pop(obj.addr, None)
        else:
            self.view[obj.addr] = (obj.position.latitude, obj.position.longitude)
            self.pilots[obj.addr] = obj

    def seen(self) -> dict[int, tuple[object, ...]]:
        """The pilots the client has, in a compact update's units (what both forms must agree on)."""
        return {
            addr: (
                p.name,
                p.type,
                p.track_online,
                p.battery,
                round(p.position.latitude * 1e5),
                round(p.position.longitude * 1e5),
                p.altitude,
                p.position.altitude,
                round(p.speed * 10),
                round(p.climb * 10),
                round(p.course * 10) % 3600,
                p.last_update,
            )
            for addr, p in self.pilots.items()
        }


def live_hub(
    world: World, region: Region = REGION, interval_s: float = 1.0, **options: float
) -> tuple[Hub, Subscriber]:
    settings = {"stagger_batches": False, **options}  # the tests below count on slots at whole seconds
    hub = Hub(LiveSettings(batch_interval_s=interval_s, freeze_gc=False, **settings))  # type: ignore[arg-type]
    hub.start(world.sequence)
    subscriber = hub.connect(region, as_json=False, now=T0)
    sync = hub.begin_sync(subscriber, region, 0, respond=False)
    hub.finish_sync(sync, list(world.objects.values()), world.sequence, T0)
    return hub, subscriber


zones = st.sampled_from(INSIDE + NEAR + FAR)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("move"), st.integers(1, 5), zones),
        st.tuples(st.just("remove"), st.integers(1, 5), st.none()),
        st.tuples(st.just("flush"), st.floats(0, 2.5), st.none()),
    ),
    max_size=40,
)


def run_steps(world: World, hub: Hub, steps: Iterable[tuple[str, int | float, object]], now: float) -> float:
    for op, arg, where in steps:
        if op == "move":
            assert isinstance(where, tuple)
            hub.publish([world.move(int(arg), *where)], now)
        elif op == "remove" and arg in world.objects:
            hub.publish([world.remove(int(arg))], now)
        elif op == "flush":
            now += float(arg)
    return now


# --- routing ------------------------------------------------------------------------------------


@given(steps)
@settings(max_examples=150, deadline=None)
def test_a_client_sees_exactly_the_objects_in_its_region_with_relative_actions(
    ops: list[tuple[str, int | float, object]],
) -> None:
    world = World()
    hub, subscriber = live_hub(world)
    client = Client()
    now = T0
    for op in ops:
        now = run_steps(world, hub, [op], now)
        client.drain(subscriber, now)
    client.drain(subscriber, now + 1)
    assert client.view == world.in_region(REGION)


@given(
    st.lists(
        st.tuples(st.integers(1, 4), st.floats(-0.01, 0.01), st.floats(-0.01, 0.01), st.booleans()),
        max_size=80,
    )
)
@settings(max_examples=150, deadline=None)
def test_objects_wandering_across_edges_within_one_cell_leave_every_client_with_its_region(
    moves: list[tuple[int, float, float, bool]],
) -> None:
    """Small steps around small regions (cells of ≈ 1.2 × 0.6 km): most moves stay in their cell, where
    the hub does not look at the holders, and many cross a circle's edge all the same."""
    world = World()
    hub = Hub(LiveSettings(stagger_batches=False, freeze_gc=False))
    hub.start(world.sequence)
    regions = [Region.around(46.0, 8.0, 1), Region.around(46.004, 8.006, 1.5), Region.around(46.0, 8.0, 3)]
    subscribers = []
    for region in regions:
        subscriber = hub.connect(region, as_json=False, now=T0)
        hub.finish_sync(hub.begin_sync(subscriber, region, 0, respond=False), [], world.sequence, T0)
        subscribers.append(subscriber)
    clients = [Client() for _ in regions]
    where = {addr: [46.0, 8.0] for addr in range(1, 5)}
    now = T0
    for addr, dlat, dlon, drain in moves:
        where[addr][0] += dlat
        where[addr][1] += dlon
        hub.publish([world.move(addr, *where[addr])], now)
        if drain:
            now += 1
            for client, subscriber in zip(clients, subscribers, strict=True):
                client.drain(subscriber, now)
    for client, subscriber, region in zip(clients, subscribers, regions, strict=True):
        client.drain(subscriber, now + 1)
        assert client.view.keys() == world.in_region(region).keys()


def test_leaving_the_region_is_a_remove_and_coming_back_an_add() -> None:
    world = World()
    hub, subscriber = live_hub(world, interval_s=0)
    client = Client()
    actions = []
    for where in (INSIDE[0], NEAR[0], FAR[0], INSIDE[1], INSIDE[2]):
        hub.publish([world.move(1, *where)], T0)
        actions += [pb.Action.Name(u.action) for u in client.drain(subscriber, T0)]
    assert actions == ["ACTION_ADD", "ACTION_REMOVE", "ACTION_ADD", "ACTION_UPDATE"]


def test_a_change_visits_only_the_clients_whose_cells_hold_it() -> None:
    world = World()
    hub = Hub(LiveSettings(freeze_gc=False))
    hub.start(0)
    far_away = [hub.connect(Region.around(10.0, 100.0 + i, 50), as_json=False, now=T0) for i in range(50)]
    near = [hub.connect(REGION, as_json=False, now=T0) for _ in range(3)]
    for subscriber in [*far_away, *near]:
        hub.finish_sync(hub.begin_sync(subscriber, subscriber.region, 0, respond=False), [], 0, T0)
    hub.publish([world.move(1, *INSIDE[0])], T0)
    assert (hub.stats.changes, hub.stats.candidates, hub.stats.deliveries) == (1, 3, 3)
    hub.publish([world.move(1, *NEAR[0])], T0 + 1)  # in the cells, out of the circle: three REMOVEs
    assert (hub.stats.changes, hub.stats.candidates, hub.stats.deliveries) == (2, 6, 6)
    hub.publish([world.move(1, *FAR[0])], T0 + 2)  # nobody's cells: nobody looked at, nobody has it
    assert (hub.stats.changes, hub.stats.candidates, hub.stats.deliveries) == (3, 6, 6)


# --- coalescing, batching, urgency --------------------------------------------------------------


def test_a_batch_records_how_long_its_oldest_update_waited() -> None:
    world = World()
    hub, subscriber = live_hub(world)  # batches on whole seconds
    client = Client()
    client.drain(subscriber, T0)
    before = sum(hub.waits.counts)
    hub.publish([world.move(1, *INSIDE[0])], T0 + 0.2)
    hub.publish([world.move(2, *INSIDE[1])], T0 + 0.7)
    client.drain(subscriber, T0 + 1.0)
    assert sum(hub.waits.counts) == before + 1  # one batch, one observation: its oldest update's wait
    assert hub.waits.total_s == pytest.approx(0.8)


def test_updates_of_one_object_within_an_interval_collapse_into_the_newest() -> None:
    world = World()
    hub, subscriber = live_hub(world, interval_s=1.0)
    client = Client()
    now = 1000.2  # grid slots at whole seconds
    for where in INSIDE:
        hub.publish([world.move(7, *where)], now)
    assert client.drain(subscriber, now + 0.5) == []  # not due before the next slot
    [update] = client.drain(subscriber, 1001.0)
    assert update.action == pb.ACTION_ADD and update.sequence == world.sequence
    assert client.view == {7: INSIDE[-1]}


def test_staggered_clients_get_their_batches_at_their_own_phase_within_one_interval() -> None:
    world = World()
    hub, subscriber = live_hub(world, interval_s=1.0, stagger_batches=True)
    phase = batch_phase(subscriber.ident, hub.settings)
    assert phase == subscriber.outbox.phase_s and 0 < phase < 1.0
    client = Client()
    client.drain(subscriber, 1000.0)  # the snapshot, nothing else owed
    hub.publish([world.move(7, *INSIDE[0])], 1000.0 + phase + 0.01)
    assert subscriber.wake_at() == pytest.approx(1001.0 + phase)  # the next slot of its own grid
    assert client.drain(subscriber, 1001.0 + phase - 0.01) == []
    [update] = client.drain(subscriber, 1001.0 + phase)
    assert update.action == pb.ACTION_ADD


def test_the_phases_of_any_run_of_clients_cover_the_interval_evenly() -> None:
    settings = LiveSettings(batch_interval_s=2.0)
    for first in (1, 500, 9_000):
        phases = [batch_phase(ident, settings) for ident in range(first, first + 100)]
        assert all(0 <= phase < 2.0 for phase in phases)
        per_tenth = [sum(1 for p in phases if k * 0.2 <= p < (k + 1) * 0.2) for k in range(10)]
        assert min(per_tenth) >= 8 and max(per_tenth) <= 12, per_tenth
    assert batch_phase(7, LiveSettings(batch_interval_s=2.0, stagger_batches=False)) == 0.0


def test_added_and_removed_within_an_interval_is_never_sent() -> None:
    world = World()
    hub, subscriber = live_hub(world)
    hub.publish([world.move(3, *INSIDE[0]), world.remove(3)], 1000.2)
    assert Client().drain(subscriber, 1002.0) == []


def test_batches_hold_at_most_100_updates_and_the_rest_follows_at_once() -> None:
    world = World()
    hub, subscriber = live_hub(world, interval_s=1.0)
    hub.publish([world.move(addr, 46.0 + addr * 1e-4, 8.0) for addr in range(1, 251)], 1000.5)
    client = Client()
    client.drain(subscriber, 1001.0)
    sizes = [len(m.batch.updates) for m in client.messages if m.WhichOneof("message") == "batch"]
    assert sizes == [100, 100, 50]
    assert [u.sequence for u in client.updates] == list(range(1, 251))


def test_an_urgent_change_is_due_at_once_and_takes_the_waiting_updates_along() -> None:
    world = World()
    hub, subscriber = live_hub(world, interval_s=5.0)
    client = Client()
    hub.publish([world.move(1, *INSIDE[0])], 1000.1)
    assert client.drain(subscriber, 1000.2) == []
    assert subscriber.wake_at() == 1005.0
    distress = GroundObject(2, *INSIDE[1], GroundType.DISTRESS_CALL, True, T0)
    hub.publish([world.put(distress, urgent=True)], 1000.3)
    assert subscriber.wake_at() == 1000.3
    assert [u.sequence for u in client.drain(subscriber, 1000.3)] == [1, 2]


def test_interval_zero_sends_every_change_as_soon_as_the_client_can_take_it() -> None:
    world = World()
    hub, subscriber = live_hub(world, interval_s=0)
    Client().drain(subscriber, 1000.0)  # the Welcome
    hub.publish([world.move(1, *INSIDE[0])], 1000.123)
    assert subscriber.wake_at() == 1000.123
    assert len(Client().drain(subscriber, 1000.123)) == 1


def test_compose_keeps_what_the_client_needs() -> None:
    assert compose(None, Action.ADD) is Action.ADD
    assert compose(Action.ADD, Action.UPDATE) is Action.ADD
    assert compose(Action.ADD, Action.REMOVE) is None
    assert compose(Action.UPDATE, Action.REMOVE) is Action.REMOVE
    assert compose(Action.REMOVE, Action.ADD) is Action.UPDATE
    assert compose(Action.UPDATE, Action.UPDATE) is Action.UPDATE


def test_a_client_owed_more_objects_than_the_bound_is_closed_going_away() -> None:
    world = World()
    hub, subscriber = live_hub(world, max_outbox=10)
    hub.publish([world.move(addr, 46.0 + addr * 1e-4, 8.0) for addr in range(1, 12)], 1000.5)
    assert subscriber.closing is not None and subscriber.closing.code == 1001


# --- resubscription ------------------------------------------------------------------------------


def test_resubscribing_answers_with_the_cells_then_adds_what_entered_and_removes_what_left() -> None:
    world = World()
    for addr, where in enumerate([INSIDE[0], INSIDE[1], FAR[0]], start=1):
        world.move(addr, *where)
    hub, subscriber = live_hub(world, interval_s=0)
    client = Client()
    client.drain(subscriber, T0)
    assert client.view == world.in_region(REGION)
    moved = Region.around(INSIDE[1][0], INSIDE[1][1] + 0.3, 20)  # keeps object 2, loses object 1
    far = Region.around(*FAR[0], 30)  # object 3 only
    for region in (moved, far):
        sync = hub.begin_sync(subscriber, region, 0, respond=True)
        hub.finish_sync(sync, [o for o in world.objects.values() if region.contains(o.lat, o.lon)], 3, T0)
        before, seen = dict(client.view), len(client.messages)
        got = client.drain(subscriber, T0)
        response = client.messages[seen]
        assert response.subscribe_response.success
        assert list(response.subscribe_response.geohashes) == list(region.cells)
        assert client.view == world.in_region(region)
        unchanged = set(before) & set(client.view)
        assert not [u for u in got if u.action == pb.ACTION_UPDATE]  # nothing changed meanwhile
        assert unchanged.isdisjoint(pb.Pilot.FromString(u.data).addr for u in got)


@given(
    before=steps,
    during=st.lists(st.tuples(st.integers(1, 5), zones), max_size=12),
    read_at=st.integers(0, 12),
    published=st.integers(0, 12),
    after=steps,
    centre=st.sampled_from(INSIDE + NEAR),
)
@settings(max_examples=150, deadline=None)
def test_a_resubscription_racing_the_change_stream_has_no_gap_and_no_duplicate(
    before: list[tuple[str, int | float, object]],
    during: list[tuple[int, tuple[float, float]]],
    read_at: int,
    published: int,
    after: list[tuple[str, int | float, object]],
    centre: tuple[float, float],
) -> None:
    """Changes land while the snapshot is read: the store reads objects after ``read_at`` of them and its
    sequence after all; the hub has published only ``published`` of them when the snapshot arrives."""
    world = World()
    hub, subscriber = live_hub(world)
    client = Client()
    now = run_steps(world, hub, before, T0)
    client.drain(subscriber, now + 1)
    region = Region.around(*centre, 20)
    sync = hub.begin_sync(subscriber, region, 0, respond=True)
    racing = [world.move(addr, *where) for addr, where in during]
    read_at, published = min(read_at, len(racing)), min(published, len(racing))
    snapshot_world = World()
    snapshot_world.log = world.log[: sync.base + read_at]
    for change in snapshot_world.log:
        if change.action is Action.REMOVE:
            snapshot_world.objects.pop(change.obj.addr, None)
        else:
            snapshot_world.objects[change.obj.addr] = change.obj
    hub.publish(racing[:published], now)
    snapshot = [o for o in snapshot_world.objects.values() if region.contains(o.lat, o.lon)]
    hub.finish_sync(sync, snapshot, world.sequence, now)
    hub.publish(racing[published:], now)
    now = run_steps(world, hub, after, now)
    client.drain(subscriber, now + 1)
    assert client.view == world.in_region(region)
    sequences: dict[int, int] = {}
    for update in client.updates:
        addr = pb.Pilot.FromString(update.data).addr
        assert update.sequence >= sequences.get(addr, 0), "an older state after a newer one"
        sequences[addr] = update.sequence


# --- resume ---------------------------------------------------------------------------------------

# An object moves one zone at a time (in, near, far), as pilots do between two frames.
walks = st.lists(
    st.tuples(st.integers(1, 4), st.sampled_from(["in", "near", "far", "remove"])),
    max_size=30,
)
_ZONES = {"in": INSIDE, "near": NEAR, "far": FAR}
_NEXT = {"in": {"in", "near"}, "near": {"in", "near", "far"}, "far": {"near", "far"}}


def walk(world: World, hub: Hub | None, moves: list[tuple[int, str]], zone: dict[int, str]) -> None:
    for addr, to in moves:
        if to == "remove":
            if addr in world.objects:
                change = world.remove(addr)
                zone.pop(addr)
            else:
                continue
        else:
            current = zone.get(addr)
            if current is not None and to not in _NEXT[current]:
                continue
            zone[addr] = to
            change = world.move(addr, *_ZONES[to][addr % len(_ZONES[to])])
        if hub is not None:
            hub.publish([change], T0)


@given(first=walks, missed=walks, later=walks, window=st.sampled_from([None, 1000, 3]))
@settings(max_examples=200, deadline=None)
def test_a_resumed_client_ends_with_exactly_its_region(
    first: list[tuple[int, str]],
    missed: list[tuple[int, str]],
    later: list[tuple[int, str]],
    window: int | None,
) -> None:
    """A client follows, disconnects, changes happen, it reconnects with its last sequence: within the
    store's window it gets what it missed, beyond it (``window`` = retained changes) a fresh snapshot."""
    world, zone = World(), dict[int, str]()
    hub, subscriber = live_hub(world, interval_s=0)
    client = Client()
    walk(world, hub, first, zone)
    client.drain(subscriber, T0)
    last_sequence = max([u.sequence for u in client.updates], default=0)
    hub.disconnect(subscriber)
    walk(world, hub, missed, zone)

    resumed = hub.connect(REGION, as_json=False, now=T0)
    sync = hub.begin_sync(resumed, REGION, last_sequence, respond=False)
    retained = world.log if window is None else world.log[-window:]
    if sync.replay_after is not None and sync.replay_after < sync.base:
        if retained and retained[0].sequence <= last_sequence + 1:
            hub.add_replayed(sync, [c for c in retained if c.sequence > last_sequence])
        else:
            hub.replay_unavailable(sync)
    hub.finish_sync(sync, list(world.objects.values()), world.sequence, T0)
    walk(world, hub, later, zone)
    new = client.drain(resumed, T0, lenient=True)
    assert client.view == world.in_region(REGION)
    if window is None:  # nothing the client had applied comes again
        assert all(update.sequence > last_sequence for update in new)


def test_a_resume_inside_the_window_sends_only_what_changed() -> None:
    world = World()
    for addr in range(1, 6):
        world.move(addr, 46.0 + addr * 0.01, 8.0)
    hub, subscriber = live_hub(world, interval_s=0)
    client = Client()
    client.drain(subscriber, T0)
    hub.disconnect(subscriber)
    resume_from = world.sequence
    hub.publish([world.move(2, 46.05, 8.05), world.move(9, *INSIDE[1]), world.move(3, *NEAR[0])], T0)

    resumed = hub.connect(REGION, as_json=False, now=T0)
    sync = hub.begin_sync(resumed, REGION, resume_from, respond=False)
    assert (sync.replay_after, sync.base) == (resume_from, world.sequence)
    assert hub.add_replayed(sync, world.since(resume_from))
    hub.finish_sync(sync, list(world.objects.values()), world.sequence, T0)
    got = {pb.Pilot.FromString(u.data).addr: pb.Action.Name(u.action) for u in client.drain(resumed, T0)}
    assert got == {2: "ACTION_UPDATE", 9: "ACTION_ADD", 3: "ACTION_REMOVE"}
    assert client.view == world.in_region(REGION)


def test_a_resume_beyond_the_window_announces_a_fresh_snapshot() -> None:
    world = World()
    world.move(1, *INSIDE[0])
    hub, _ = live_hub(world, interval_s=0)
    resumed = hub.connect(REGION, as_json=False, now=T0)
    sync = hub.begin_sync(resumed, REGION, 1, respond=False)
    hub.finish_sync(sync, list(world.objects.values()), 0, T0)  # the store was reset: 1 is in its future
    client = Client()
    client.view = {1: INSIDE[0], 99: FAR[0]}
    client.drain(resumed, T0)
    kinds = [m.WhichOneof("message") for m in client.messages]
    assert kinds == ["welcome", "error", "batch"]
    assert client.messages[1].error.code == "resume_unavailable"
    assert client.view == {1: INSIDE[0]}


def test_a_sync_kept_waiting_too_long_is_closed_so_that_it_resumes() -> None:
    world = World()
    hub, _ = live_hub(world, max_recent_changes=5)
    waiting = hub.connect(REGION, as_json=False, now=T0)
    hub.begin_sync(waiting, REGION, 0, respond=False)
    hub.publish([world.move(addr, *FAR[0]) for addr in range(1, 8)], T0)
    assert waiting.closing is not None and waiting.closing.code == 1001


def test_kinds_route_alike() -> None:
    world = World()
    hub, subscriber = live_hub(world, interval_s=0)
    ground = GroundObject(5, *INSIDE[0], GroundType.WALKING, True, T0)
    hub.publish([world.put(ground)], T0)
    [update] = Client().drain(subscriber, T0, lenient=True)
    assert update.type == pb.UPDATE_TYPE_GROUND_OBJECT
    assert (Kind.GROUND, "5") in subscriber.has


# --- compact updates ------------------------------------------------------------------------------


def two_clients(world: World, interval_s: float) -> tuple[Hub, Subscriber, Subscriber]:
    """One hub, and a client of each form on the same region: whole updates, and compact ones."""
    hub = Hub(LiveSettings(batch_interval_s=interval_s, stagger_batches=False, freeze_gc=False))
    hub.start(world.sequence)
    whole, compact = (hub.connect(REGION, as_json=False, compact=c, now=T0) for c in (False, True))
    for subscriber in (whole, compact):
        sync = hub.begin_sync(subscriber, REGION, 0, respond=False)
        hub.finish_sync(sync, list(world.objects.values()), world.sequence, T0)
    return hub, whole, compact


def rename(world: World, addr: int, name: str) -> Change:
    obj = world.objects[addr]
    assert isinstance(obj, Pilot)
    return world.put(replace(obj, name=name, last_update=T0 + world.sequence))


@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("move"), st.integers(1, 4), zones),
            st.tuples(st.just("rename"), st.integers(1, 4), st.sampled_from(["Ana", "Bea", ""])),
            st.tuples(st.just("remove"), st.integers(1, 4), st.none()),
            st.tuples(st.just("flush"), st.floats(0, 1.5), st.none()),
        ),
        max_size=50,
    ),
    st.sampled_from([0.0, 1.0]),
)
@settings(max_examples=200, deadline=None)
def test_a_compact_client_ends_with_the_same_pilots_as_a_whole_one(
    ops: list[tuple[str, int | float, object]], interval_s: float
) -> None:
    """Moves, renames (which a PilotMotion cannot carry) and removals, folded within an interval or not:
    after every batch the compact client holds what the whole one does, to the compact units."""
    world = World()
    hub, whole, compact = two_clients(world, interval_s)
    clients = (Client(), Client())
    now = T0
    for op, arg, what in ops:
        if op == "rename" and arg in world.objects:
            hub.publish([rename(world, int(arg), str(what))], now)
        elif op != "rename":
            now = run_steps(world, hub, [(op, arg, what)], now)
        for client, subscriber in zip(clients, (whole, compact), strict=True):
            client.drain(subscriber, now)
        assert clients[0].seen() == clients[1].seen()
    assert clients[0].motions == 0


def test_a_move_goes_compact_and_a_rename_folded_into_it_goes_whole() -> None:
    world = World()
    world.move(1, *INSIDE[0])
    hub, _, compact = two_clients(world, interval_s=1.0)
    client = Client()
    client.drain(compact, T0 + 1)
    hub.publish([world.move(1, *INSIDE[1])], T0 + 1.2)
    [first] = client.drain(compact, T0 + 2)
    assert not first.HasField("motion")  # the first change the hub sees of a pilot: it cannot tell
    hub.publish([world.move(1, *INSIDE[0])], T0 + 2.2)
    [moved] = client.drain(compact, T0 + 3)
    assert moved.HasField("motion") and not moved.data and client.motions == 1
    hub.publish([rename(world, 1, "Ana")], T0 + 3.2)
    hub.publish([world.move(1, *INSIDE[2])], T0 + 3.4)  # only moved, but folded into the rename
    [folded] = client.drain(compact, T0 + 4)
    assert not folded.HasField("motion") and pb.Pilot.FromString(folded.data).name == "Ana"
    hub.publish([world.move(1, *INSIDE[3])], T0 + 4.2)
    [after] = client.drain(compact, T0 + 5)
    assert after.HasField("motion") and client.pilots[1].name == "Ana"
