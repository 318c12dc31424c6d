"""One client's protocol state without I/O: answers, heartbeat, bad messages and the resubscription limit."""

from hypothesis import given
from hypothesis import strategies as st

from fanet.proto import fanet_pb2 as pb
from fanet.server.api.messages import to_json
from fanet.server.api.updates import UpdateCodec
from fanet.server.live.region import Region
from fanet.server.live.settings import LiveSettings
from fanet.server.live.subscriber import Close, Resubscribe, Subscriber

T0 = 1_750_000_000.0
SETTINGS = LiveSettings(freeze_gc=False)


def subscriber(now: float = T0, **options: object) -> Subscriber:
    settings = LiveSettings(freeze_gc=False, **options)  # type: ignore[arg-type]
    return Subscriber(
        1, Region.around(46.0, 8.0, 20), as_json=False, now=now, settings=settings, codec=UpdateCodec()
    )


def frames(sub: Subscriber, now: float) -> list[pb.ServerMessage | Close]:
    out: list[pb.ServerMessage | Close] = []
    while (frame := sub.next_frame(now)) is not None:
        if isinstance(frame, Close):
            out.append(frame)
            break
        assert isinstance(frame, bytes)
        out.append(pb.ServerMessage.FromString(frame))
    return out


def subscribe(lat: float = 46.0, lon: float = 8.0, radius: int = 50, last: int = 0) -> bytes:
    request = pb.SubscribeRequest(
        center=pb.GeoPoint(latitude=lat, longitude=lon), radius=radius, last_sequence=last
    )
    return pb.ClientMessage(subscribe=request).SerializeToString()


def test_a_ping_is_answered_with_its_timestamp_and_the_server_time() -> None:
    sub = subscriber()
    sub.receive(pb.ClientMessage(ping=pb.Ping(timestamp=123)).SerializeToString(), T0 + 1.5)
    [answer] = frames(sub, T0 + 1.5)
    assert isinstance(answer, pb.ServerMessage)
    assert answer.pong.timestamp == 123
    assert answer.pong.server_time == round((T0 + 1.5) * 1000)


def test_the_server_pings_every_30_s_and_closes_after_60_s_without_an_answer() -> None:
    sub = subscriber()
    assert frames(sub, T0 + 29.9) == []
    assert sub.wake_at() == T0 + 30
    [ping] = frames(sub, T0 + 30)
    assert isinstance(ping, pb.ServerMessage) and ping.WhichOneof("message") == "ping"
    assert sub.wake_at() == T0 + 60
    assert frames(sub, T0 + 60) == [Close(1001, "no answer for 60 s")]


def test_an_answered_ping_keeps_the_connection() -> None:
    sub = subscriber()
    for minute in range(1, 6):
        now = T0 + minute * 30
        [ping] = frames(sub, now)
        assert isinstance(ping, pb.ServerMessage)
        sub.receive(
            pb.ClientMessage(pong=pb.Pong(timestamp=ping.ping.timestamp)).SerializeToString(), now + 1
        )
    assert sub.closing is None


def test_a_subscribe_request_asks_the_listener_for_a_new_region() -> None:
    outcome = subscriber().receive(subscribe(47.0, 9.0, 120, last=55), T0)
    assert isinstance(outcome, Resubscribe)
    assert outcome.region.circle.radius_km == 120 and outcome.last_sequence == 55


def test_json_frames_are_read_as_the_json_mirror() -> None:
    request = pb.ClientMessage(
        subscribe=pb.SubscribeRequest(center=pb.GeoPoint(latitude=1, longitude=2), radius=5)
    )
    assert isinstance(subscriber().receive(to_json(request), T0), Resubscribe)


def errors(sub: Subscriber, now: float) -> list[str]:
    return [f.error.code for f in frames(sub, now) if isinstance(f, pb.ServerMessage) and f.HasField("error")]


@given(st.sampled_from([0, 201, -5, 10_000]))
def test_a_radius_out_of_range_is_an_error(radius: int) -> None:
    sub = subscriber()
    assert sub.receive(subscribe(radius=radius), T0) is None
    assert errors(sub, T0) == ["invalid_parameter"]


@given(st.binary(min_size=1, max_size=200).filter(lambda b: b[0] not in (0x0A, 0x12, 0x1A, 0x22)))
def test_undecodable_bytes_are_an_error(data: bytes) -> None:
    sub = subscriber()
    sub.receive(data, T0)
    assert errors(sub, T0) in (["invalid_message"], [])  # a few byte strings do parse (unknown fields)


def test_bad_messages_are_errors_and_repeated_ones_close_with_a_policy_code() -> None:
    sub = subscriber()
    bad: list[bytes | str] = [b"\xff\xff", "not json", b"x" * 5000, subscribe(radius=0)]
    for data in bad:
        assert sub.receive(data, T0) is None
    assert errors(sub, T0) == ["invalid_message", "invalid_message", "message_too_large", "invalid_parameter"]
    outcome = sub.receive(b"\xff", T0 + 1)
    assert isinstance(outcome, Close) and outcome.code == 1008
    assert frames(sub, T0 + 1) == [outcome]


def test_errors_are_forgiven_after_a_minute() -> None:
    sub = subscriber()
    for minute in range(10):
        sub.receive(b"\xff\xff", T0 + minute * 61)
    assert sub.closing is None


def test_more_than_ten_resubscriptions_a_minute_are_refused() -> None:
    sub = subscriber()
    outcomes = [sub.receive(subscribe(), T0 + i) for i in range(11)]
    assert all(isinstance(o, Resubscribe) for o in outcomes[:10])
    assert outcomes[10] is None
    assert errors(sub, T0 + 11) == ["rate_limited"]
    assert isinstance(sub.receive(subscribe(), T0 + 60.5), Resubscribe)


def test_an_unsubscribe_closes_normally() -> None:
    sub = subscriber()
    outcome = sub.receive(
        pb.ClientMessage(unsubscribe=pb.UnsubscribeRequest(reason="bye")).SerializeToString(), T0
    )
    assert outcome == Close(1000, "unsubscribed")


def test_a_client_that_lets_answers_pile_up_is_closed() -> None:
    sub = subscriber(max_control_messages=4)
    for _ in range(5):
        sub.receive(pb.ClientMessage(ping=pb.Ping(timestamp=1)).SerializeToString(), T0)
    assert sub.closing is not None and sub.closing.code == 1008
