"""The hub's two indexes (geohash cell → clients, object → clients that have it), compact for small groups.

Most keys hold one or a few clients, and a ``set`` per key (216 bytes with up to four members, ≈ 700 from
five on) was the largest share of a client's memory. So a key holds its single member itself, a tuple of up
to :data:`SMALL` members, or a set beyond that. Measured at 10,000 clients with 1 to 10 km radii over
400 km: the groups take ≈ 0.2 kB per client instead of ≈ 2.7 kB, and publishing a change got ≈ 20 % faster
(a tuple is iterated faster than a set, and the holders need no copy). A tuple changes by being copied,
cheap at this size.
"""

from array import array
from collections.abc import Collection, Hashable
from typing import Generic, TypeVar

from fanet.server.live.subscriber import Subscriber

SMALL = 32
"""The most members a key holds as a tuple; a set shrinks back to a tuple at half that."""

K = TypeVar("K", bound=Hashable)
_Group = Subscriber | tuple[Subscriber, ...] | set[Subscriber]


class Index(Generic[K]):
    """Keys to the subscribers filed under them; a key without members is not kept."""

    __slots__ = ("_groups",)

    def __init__(self) -> None:
        self._groups: dict[K, _Group] = {}

    def __len__(self) -> int:
        return len(self._groups)

    def get(self, key: K) -> Collection[Subscriber]:
        """The members of ``key`` (empty if none). A set returned is the index's own: iterate over
        ``tuple(...)`` of the result when the index may change meanwhile (a tuple is not copied)."""
        group = self._groups.get(key)
        if group is None:
            return ()
        if isinstance(group, Subscriber):
            return (group,)
        return group

    def add(self, key: K, member: Subscriber) -> None:
        groups = self._groups
        group = groups.get(key)
        if group is None:
            groups[key] = member
        elif isinstance(group, Subscriber):
            if group is not member:
                groups[key] = (group, member)
        elif isinstance(group, tuple):
            if member not in group:
                groups[key] = (*group, member) if len(group) < SMALL else {*group, member}
        else:
            group.add(member)

    def discard(self, key: K, member: Subscriber) -> None:
        groups = self._groups
        group = groups.get(key)
        if group is None:
            return
        if isinstance(group, Subscriber):
            if group is member:
                del groups[key]
        elif isinstance(group, tuple):
            if member in group:
                rest = tuple(other for other in group if other is not member)
                groups[key] = rest[0] if len(rest) == 1 else rest
        else:
            group.discard(member)
            if len(group) <= SMALL // 2:
                groups[key] = tuple(group)


CellGroup = Subscriber | tuple["Subscriber | array[float]", ...]
"""A cell's members: one alone, or several followed by their circles (:meth:`Region.terms`, four floats
each, in one ``array('d')``) as the tuple's last item."""


class CellIndex:
    """Geohash cells to the subscribers whose cover holds them, with their circles alongside.

    The fan-out's hot loop runs over these groups (:meth:`~.hub.Hub.publish`), and at 10,000 clients it
    was bound by memory, not by arithmetic: every candidate's subscriber, region, four floats and ``has``
    set were cold, so that a change cost ≈ 90 µs for ≈ 17 candidates and 9 deliveries — half the
    server's CPU beyond ingest (``fanet_ws_fanout_seconds``). With the circles of a group in one array
    a candidate outside its circle costs no object of its own (about half of them: a cover holds twice its
    circle's area). A single member needs no array: its region is read as before. Measured in benchmark
    runs alternating the two: 103 and 114 µs a change with the plain index, 75 and 80 with this one, for
    ≈ 0.8 KiB more per client (34.9 KiB in all).

    Groups are tuples, rebuilt on every change of membership: O(members) per add or discard, cheap at the
    sizes regions make (a few to a few hundred clients a cell).
    """

    __slots__ = ("_groups",)

    def __init__(self) -> None:
        self._groups: dict[str, CellGroup] = {}

    def __len__(self) -> int:
        return len(self._groups)

    def group(self, key: str) -> CellGroup | None:
        """The raw group (what the fan-out's loop takes), ``None`` for a key without members."""
        return self._groups.get(key)

    def get(self, key: str) -> tuple[Subscriber, ...]:
        group = self._groups.get(key)
        if group is None:
            return ()
        if isinstance(group, Subscriber):
            return (group,)
        return group[:-1]  # type: ignore[return-value]  # all but the terms are subscribers

    def add(self, key: str, member: Subscriber) -> None:
        members = self.get(key)
        if member not in members:
            self._store(key, (*members, member))

    def discard(self, key: str, member: Subscriber) -> None:
        members = self.get(key)
        if member in members:
            self._store(key, tuple(other for other in members if other is not member))

    def _store(self, key: str, members: tuple[Subscriber, ...]) -> None:
        if not members:
            del self._groups[key]
        elif len(members) == 1:
            self._groups[key] = members[0]
        else:
            self._groups[key] = (*members, array("d", [t for m in members for t in m.region.terms]))
