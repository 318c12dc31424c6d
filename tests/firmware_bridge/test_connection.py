"""The connection as a whole: arbitrary input never raises; events come out in order, once."""

from hypothesis import given, settings
from hypothesis import strategies as st

from fanet.firmware_bridge import (
    Event,
    FrameReceived,
    InitSettings,
    ModuleConnection,
    ModuleState,
    Noise,
    ReplyFamily,
    ReplyOk,
    parse_line,
)

MODULE_ALPHABET = st.sampled_from(
    [
        *(b"#", b"$", b"C", b",", b"\r", b"\n", b"\x00", b"\xff", b"0", b"1", b"F", b"A", b"Z", b"-", b"*"),
        *(b"#FNF ", b"#FNR ", b"#DGR ", b"#DGV ", b"#FNA ", b"#DGP ", b"#FNZ ", b"#FAO ", b"$PSRFI,"),
        *(b"OK", b"ERR,", b"ACK,", b"MSG,1,initialized", b"11,D,1,0,2,3,616263", b",20,12F2,1"),
    ]
)
CHUNKS = st.lists(st.one_of(st.binary(max_size=80), st.lists(MODULE_ALPHABET, max_size=30).map(b"".join)))


@settings(max_examples=1500)
@given(CHUNKS)
def test_arbitrary_bytes_never_raise(chunks: list[bytes]) -> None:
    conn = ModuleConnection(max_line_length=256)
    for chunk in chunks:
        conn.receive_data(chunk, 0.0)
    for event in conn.events():
        assert isinstance(event, Event)


@settings(max_examples=500)
@given(CHUNKS, st.lists(st.floats(0, 50, allow_nan=False), max_size=10), st.booleans())
def test_arbitrary_bytes_and_timeouts_never_raise_while_initialising(
    chunks: list[bytes], gaps: list[float], reset: bool
) -> None:
    conn = ModuleConnection(InitSettings(reset=reset, silence_limit_s=30.0))
    now = 0.0
    conn.start(now)
    for index, chunk in enumerate(chunks):
        now += gaps[index] if index < len(gaps) else 1.0
        conn.receive_data(chunk, now)
        conn.handle_timeout(now)
        conn.data_to_send()
        list(conn.events())
        deadline = conn.next_deadline()
        assert deadline is None or deadline > now or conn.state is ModuleState.IDLE


@settings(max_examples=1000)
@given(st.text(max_size=120))
def test_parse_line_never_raises(line: str) -> None:
    assert isinstance(parse_line("#" + line), Event)
    assert isinstance(parse_line("$PSRFI," + line), Event)
    assert isinstance(parse_line("#FNF " + line), Event)


def test_next_event_and_events_drain_the_same_queue() -> None:
    conn = ModuleConnection()
    assert conn.next_event() is None
    conn.receive_data(b"C#FNR OK\n#DGR OK\n", 0.0)
    assert conn.next_event() == Noise(b"C")
    assert list(conn.events()) == [ReplyOk(ReplyFamily.FANET), ReplyOk(ReplyFamily.DONGLE)]
    assert conn.next_event() is None


def test_known_address_can_be_given_up_front() -> None:
    conn = ModuleConnection(address=0xFB0102)
    conn.receive_data(b"#FNF 11,D,0,0,2,3,616263\n", 0.0)
    event = conn.next_event()
    assert isinstance(event, FrameReceived)
    assert event.dest == 0xFB0102
    assert event.address == "11000D"


def test_module_reporting_no_address_leaves_frames_without_destination() -> None:
    conn = ModuleConnection(address=0xFB0102)
    conn.receive_data(b"#FNA 0,0\n#FNF 11,D,0,0,2,3,616263\n", 0.0)
    frames = [e for e in conn.events() if isinstance(e, FrameReceived)]
    assert conn.address is None
    assert frames[0].dest is None
