"""The module emulator answers like the firmware, and prints a capture as far as the module would."""

from hypothesis import given, settings
from hypothesis import strategies as st

from fanet.firmware_bridge import (
    Address,
    FrameReceived,
    InitSettings,
    ModuleConnection,
    ModuleReady,
    ModuleState,
    RadioPower,
    Region,
    ResetModule,
    TransmitAck,
)
from fanet.hardware import Booted, CommandAnswered, EmulatorSettings, ModuleEmulator, RadioSwitched
from fanet.proto import Name, decode_frame, encode_payload

FRAME = b"#FNF 11,D,1,0,2,3,616263\n"


def booted() -> ModuleEmulator:
    module = ModuleEmulator()
    module.attach(0.0)
    assert module.data_to_send() == b"#FNR MSG,1,initialized\n"
    return module


def ask(module: ModuleEmulator, line: bytes, now: float = 1.0) -> bytes:
    module.receive_data(line, now)
    return module.data_to_send()


def test_init_sequence_replies_exactly() -> None:
    module = booted()
    assert ask(module, b"#DGV\n") == b"#DGV build-202201131742\n"
    assert ask(module, b"#FNA\n") == b"#FNA 11,003F\n"
    assert ask(module, b"#DGL 868,14\n") == b"#DGR OK\n"
    assert ask(module, b"#FNC 1,1\n") == b"#FNR OK\n"
    assert ask(module, b"#FNM 1\n") == b"#FNR OK\n"
    assert ask(module, b"#DGP\n") == b"#DGP 0\n"
    assert module.waiting_for_radio
    assert ask(module, b"#DGP 1\r\n") == b"#DGR OK\n"
    assert ask(module, b"#DGP\n") == b"#DGP 1\n"
    assert not module.waiting_for_radio
    assert ask(module, b"#DGP 0\n") == b"#DGR OK\n"
    assert not module.radio_on
    assert not module.waiting_for_radio  # switched off by the host: not a boot


def test_value_reports() -> None:
    module = booted()
    assert ask(module, b"#FNZ\n") == b"#FNZ -1,UNSET\n"
    assert ask(module, b"#FNC 2,0,9\n#FNC\n#FNM 1\n#FNM\n") == b"#FNR OK\n#FNC 2,0,9\n#FNR OK\n#FNM 1\n"
    assert ask(module, b"#FNA 11,99\n") == b"#FNR ERR,15,address already set\n"


def test_unknown_and_malformed_commands() -> None:
    module = booted()
    assert ask(module, b"#XYZ\n") == b"#FNR ERR,5,unknown command\n"
    assert ask(module, b"\n") == b"#FNR ERR,5,unknown command\n"
    assert ask(module, b"#FNP 1\n") == b"#FNR ERR,6,unknown FN command\n"
    assert ask(module, b"#DGQ\n") == b"#DGR ERR,60,unknown DG command\n"
    assert ask(module, b"#FNT 2,0,0,0,0,3,61\n") == b"#FNR ERR,30,too short\n"
    assert module.stats.refused == 5


def test_commands_split_anywhere_are_answered_once_complete() -> None:
    module = booted()
    assert ask(module, b"#D") == b""
    assert ask(module, b"GV") == b""
    assert ask(module, b"\n#FN") == b"#DGV build-202201131742\n"
    assert ask(module, b"A\n") == b"#FNA 11,003F\n"


def test_state_and_transmit_need_the_radio() -> None:
    module = booted()
    assert ask(module, b"#FNS 47.3,8.9,1200,0,0,0\n") == b"#FNR MSG,13,power down\n"
    assert ask(module, b"#FNT 2,0,0,0,0,3,616263\n") == b"#FNR MSG,13,power down\n"
    ask(module, b"#DGP 1\n")
    assert ask(module, b"#FNS 47.3,8.9,1200,0,0,0\n") == b"#FNR OK\n"
    assert ask(module, b"#FNZ\n") == b"#FNZ 1,EU868\n"


def test_ack_requests_are_answered_later() -> None:
    module = booted()
    ask(module, b"#DGP 1\n")
    assert ask(module, b"#FNT 3,20,12F2,0,1,2,0041\n", now=5.0) == b"#FNR OK\n"
    assert module.next_deadline() == 5.25
    module.handle_timeout(5.2)
    assert module.data_to_send() == b""
    module.handle_timeout(5.25)
    assert module.data_to_send() == b"#FNR ACK,20,12F2\n"
    assert module.next_deadline() is None
    assert module.stats.transmitted == 1
    ask(module, b"#FNT 2,0,0,0,1,1,41\n", now=6.0)  # a broadcast cannot be acknowledged
    module.handle_timeout(7.0)
    assert module.data_to_send() == b"#FNR NACK,0,0\n"


def test_a_module_without_address_refuses_to_send_until_given_one() -> None:
    module = ModuleEmulator(EmulatorSettings(address=0))
    module.attach(0.0)
    module.data_to_send()
    assert ask(module, b"#FNA\n") == b"#FNA 00,0000\n"
    assert ask(module, b"#FNT 2,0,0,0,0,1,41\n") == b"#FNR ERR,10,no source address\n"
    assert ask(module, b"#FNA FB,102\n") == b"#FNR OK\n"
    assert ask(module, b"#FNA\n") == b"#FNA FB,0102\n"


def test_frames_are_printed_only_while_the_radio_is_on() -> None:
    module = booted()
    module.air_data(FRAME, 1.0)
    assert module.data_to_send() == b""
    assert module.stats.frames_dropped == 1
    ask(module, b"#DGP 1\n")
    module.air_data(b"\xff\x00" + FRAME, 2.0)  # noise before a line goes out with it
    assert module.data_to_send() == b"\xff\x00" + FRAME
    module.air_data(b"#FNF 11,D,1,0,2,3,61626\n", 3.0)
    assert module.data_to_send() == b"#FNF 11,D,1,0,2,3,61626\n"
    assert (module.stats.frames_sent, module.stats.corrupt_sent) == (1, 1)


def test_capture_lines_are_printed_whole() -> None:
    module = booted()
    ask(module, b"#DGP 1\n")
    module.air_data(FRAME[:10], 1.0)
    assert module.data_to_send() == b""
    module.air_data(FRAME[10:] + FRAME[:3], 1.1)
    assert module.data_to_send() == FRAME


def test_the_recorded_hosts_replies_are_left_out_and_a_recorded_boot_reboots() -> None:
    module = booted()
    ask(module, b"#DGP 1\n")
    list(module.events())
    module.air_data(b"#DGV build-1\n#FNA 11,003F\n#DGR OK\n#FNR OK\n#FNR ACK,20,12F2\n#FAO 0,DF2029,2\n", 1.0)
    assert module.data_to_send() == b"#FAO 0,DF2029,2\n"
    assert module.stats.replies_skipped == 5
    module.air_data(b"CC#FNR MSG,1,initialized\r\n" + FRAME, 2.0)
    assert module.data_to_send() == b"CC#FNR MSG,1,initialized\r\n"  # radio off after the reboot
    assert module.waiting_for_radio
    assert module.stats.capture_reboots == 1
    assert list(module.events()) == [RadioSwitched(False), Booted("the capture's module rebooted")]


def test_nothing_reaches_a_host_that_is_not_there() -> None:
    module = ModuleEmulator()
    module.receive_data(b"#DGV\n", 0.0)
    module.air_data(FRAME, 0.0)
    assert module.data_to_send() == b""
    module.attach(1.0)
    ask(module, b"#DGP 1\n")
    module.data_to_send()
    module.detach()
    module.air_data(FRAME, 2.0)
    assert module.data_to_send() == b""
    assert module.stats.frames_unheard == 1
    module.attach(3.0)  # opening the port resets the module
    assert module.data_to_send() == b"#FNR MSG,1,initialized\n"
    assert not module.radio_on


def test_events_report_boots_switches_and_commands() -> None:
    module = booted()
    ask(module, b"#DGP 1\n")
    events = list(module.events())
    assert events[0] == Booted("host opened the port")
    assert events[1] == RadioSwitched(True)
    assert isinstance(events[2], CommandAnswered)
    assert (events[2].line, events[2].reply) == ("#DGP 1", b"#DGR OK\n")


class Wire:
    """A bridge connection and the emulator, joined in-process; the clock is stepped by hand."""

    def __init__(self) -> None:
        self.module = ModuleEmulator()
        self.host = ModuleConnection(InitSettings(power_dbm=14))
        self.events: list[object] = []
        self.now = 0.0
        self.host.start(self.now)

    def run(self, seconds: float) -> None:
        """Exchange bytes every 10 ms; the host's reset request resets the emulated module."""
        end = self.now + seconds
        while self.now < end:
            self.now += 0.01
            self.module.receive_data(self.host.data_to_send(), self.now)
            self.module.handle_timeout(self.now)
            self.host.receive_data(self.module.data_to_send(), self.now)
            self.host.handle_timeout(self.now)
            for event in self.host.events():
                if not isinstance(event, ResetModule):
                    self.events.append(event)
                elif self.module.attached:
                    self.module.reset(self.now)
                else:
                    self.module.attach(self.now)


def test_a_bridge_connection_brings_the_emulated_module_up() -> None:
    wire = Wire()
    wire.run(0.2)
    assert wire.host.state is ModuleState.READY
    assert ModuleReady("build-202201131742", 0x11003F) in wire.events
    assert wire.module.radio_on

    # Every other command the bridge can send is accepted, and answered the way it expects.
    wire.host.set_config(1, True, 9)
    wire.host.set_position(47.304, 8.9431, 1200.0)
    wire.host.request_zone()
    wire.host.request_radio_power()
    wire.host.request_address()
    wire.host.transmit(2, encode_payload(Name("Base")), dest=0x2012F2, ack=True)
    wire.run(0.4)
    assert Region(1, "EU868") in wire.events
    assert RadioPower(True) in wire.events
    assert Address(0x11003F) in wire.events
    assert TransmitAck(0x2012F2, True) in wire.events
    assert wire.module.stats.refused == 0

    # A reboot in the middle: the bridge brings the module up again, and frames flow.
    wire.module.air_data(b"#FNR MSG,1,initialized\n", wire.now)
    wire.run(0.2)
    assert wire.host.state is ModuleState.READY
    assert wire.module.radio_on
    wire.module.air_data(FRAME, wire.now)
    wire.run(0.02)
    frames = [event for event in wire.events if isinstance(event, FrameReceived)]
    assert [decode_frame(frame.raw).payload for frame in frames] == [Name("abc")]


@settings(max_examples=300)
@given(st.lists(st.binary(max_size=80), max_size=20), st.lists(st.binary(max_size=80), max_size=20))
def test_arbitrary_bytes_never_raise(host_chunks: list[bytes], air_chunks: list[bytes]) -> None:
    module = booted()
    for index, chunk in enumerate(host_chunks):
        module.receive_data(chunk, float(index))
        module.handle_timeout(float(index))
    for index, chunk in enumerate(air_chunks):
        module.air_data(chunk, float(index))
    module.data_to_send()
    list(module.events())
