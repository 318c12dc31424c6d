"""The hub's compact indexes: a key's members stay exact whether held alone, in a tuple or in a set, and a
cell's group keeps each member's circle beside it."""

import math
from array import array

from fanet.server.api.updates import UpdateCodec
from fanet.server.live.index import SMALL, CellIndex, Index
from fanet.server.live.region import Region
from fanet.server.live.settings import LiveSettings
from fanet.server.live.subscriber import Subscriber
from fanet.server.store.base import EARTH_RADIUS_KM

REGION = Region.around(46.0, 8.0, 5)


def subscribers(count: int) -> list[Subscriber]:
    settings, codec = LiveSettings(), UpdateCodec()
    return [
        Subscriber(i, REGION, as_json=False, now=0.0, settings=settings, codec=codec) for i in range(count)
    ]


def test_members_come_and_go_through_every_size_of_group() -> None:
    index: Index[str] = Index()
    clients = subscribers(2 * SMALL + 2)
    for count, client in enumerate(clients, start=1):
        index.add("u0", client)
        index.add("u0", client)  # twice is once
        assert sorted(s.ident for s in index.get("u0")) == list(range(count))
    for gone, client in enumerate(clients, start=1):
        index.discard("u0", client)
        index.discard("u0", client)
        assert sorted(s.ident for s in index.get("u0")) == list(range(gone, len(clients)))
    assert len(index) == 0 and index.get("u0") == ()


def test_discarding_a_stranger_changes_nothing() -> None:
    index: Index[str] = Index()
    alone, other, stranger = subscribers(3)
    index.add("a", alone)
    index.discard("a", stranger)
    index.discard("b", stranger)
    assert list(index.get("a")) == [alone]
    index.add("a", other)
    index.discard("a", stranger)
    assert set(index.get("a")) == {alone, other}


def test_a_cell_group_keeps_each_members_circle_beside_it() -> None:
    settings, codec = LiveSettings(), UpdateCodec()
    regions = [Region.around(46.0, 8.0 + i / 100, 1 + i) for i in range(5)]
    clients = [
        Subscriber(i, region, as_json=False, now=0.0, settings=settings, codec=codec)
        for i, region in enumerate(regions)
    ]
    index = CellIndex()

    def check(expected: list[Subscriber]) -> None:
        assert list(index.get("u0")) == expected
        group = index.group("u0")
        if len(expected) == 1:
            assert group is expected[0]
        elif expected:
            assert isinstance(group, tuple) and isinstance(group[-1], array)
            assert list(group[-1]) == [term for client in expected for term in client.region.terms]
        else:
            assert group is None and len(index) == 0

    for count, client in enumerate(clients, start=1):
        index.add("u0", client)
        index.add("u0", client)
        check(clients[:count])
    index.discard("u0", clients[2])
    index.discard("u0", clients[2])
    check([clients[0], clients[1], clients[3], clients[4]])
    for client in (clients[0], clients[3], clients[4]):
        index.discard("u0", client)
    check([clients[1]])
    index.discard("u0", clients[1])
    check([])


def test_terms_are_what_holds_compares() -> None:
    region = Region.around(46.0, 8.0, 7)
    lat_rad, lon_rad, cos_lat, limit = region.terms
    assert (lat_rad, lon_rad) == (math.radians(46.0), math.radians(8.0))
    assert cos_lat == math.cos(lat_rad) and limit == math.sin(7 / (2 * EARTH_RADIUS_KM)) ** 2
