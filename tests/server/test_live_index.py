"""The hub's compact index: a key's members stay exact whether held alone, in a tuple or in a set."""

from fanet.server.api.updates import UpdateCodec
from fanet.server.live.index import SMALL, Index
from fanet.server.live.region import Region
from fanet.server.live.settings import LiveSettings
from fanet.server.live.subscriber import Subscriber

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
