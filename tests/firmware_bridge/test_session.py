"""The initialisation state machine, driven by a fake clock against a scripted module.

``FakeModule`` answers commands the way the firmware does; ``drive`` plays the I/O layer: it writes
what the connection wants sent, performs ``ResetModule``, delivers the module's lines when they are
due and calls ``handle_timeout`` at each deadline — jumping the clock from one moment to the next.
"""

from dataclasses import dataclass, field

import pytest

from fanet.firmware_bridge import (
    Address,
    BridgeError,
    Event,
    InitFailed,
    InitSettings,
    InitStarted,
    InitStep,
    ModuleBooted,
    ModuleConnection,
    ModuleReady,
    ModuleState,
    RadioPower,
    ResetModule,
    Version,
)

INIT_COMMANDS = ["#DGV", "#FNA", "#DGL 868,14", "#FNM 1", "#DGP 1"]
BUILD = "build-202201131742"


@dataclass
class FakeModule:
    silent: bool = False
    resettable: bool = True
    boot_delay: float = 1.5
    reply_delay: float = 0.01
    errors: dict[str, str] = field(default_factory=dict)
    """Command → error reply line to give instead of the normal answer."""
    radio_on: bool = False
    commands: list[str] = field(default_factory=list)
    resets: int = 0
    pending: list[tuple[float, bytes]] = field(default_factory=list)

    def reset(self, now: float) -> None:
        self.resets += 1
        if self.resettable:
            self.boot(now)

    def boot(self, now: float) -> None:
        self.radio_on = False
        if not self.silent:
            self.pending.append((now + self.boot_delay, b"CCCCC#FNR MSG,1,initialized\r\n"))

    def write(self, data: bytes, now: float) -> None:
        for command in data.decode().splitlines():
            self.commands.append(command)
            if not self.silent:
                self.pending.append((now + self.reply_delay, self.answer(command).encode() + b"\r\n"))

    def answer(self, command: str) -> str:
        if command in self.errors:
            return self.errors[command]
        if command == "#DGP 1":
            self.radio_on = True
        return {
            "#DGV": f"#DGV {BUILD}",
            "#FNA": "#FNA 11,003F",
            "#DGP": f"#DGP {int(self.radio_on)}",
            "#FNM 1": "#FNR OK",
        }.get(command, "#DGR OK" if command.startswith("#DG") else "#FNR OK")


def drive(conn: ModuleConnection, module: FakeModule, now: float, until: float) -> list[Event]:
    """Run the I/O layer's loop from ``now`` to ``until``; return the events seen."""
    return [event for _, event in drive_timed(conn, module, now, until)]


def drive_timed(
    conn: ModuleConnection, module: FakeModule, now: float, until: float
) -> list[tuple[float, Event]]:
    """:func:`drive`, with the time each event was taken."""
    seen: list[tuple[float, Event]] = []
    for _ in range(10_000):
        while True:
            module.write(conn.data_to_send(), now)
            event = conn.next_event()
            if event is None:
                break
            seen.append((now, event))
            if isinstance(event, ResetModule):
                module.reset(now)
        moments = [due for due, _ in module.pending]
        deadline = conn.next_deadline()
        if deadline is not None:
            moments.append(deadline)
        if not moments or min(moments) > until:
            return seen
        now = max(now, min(moments))
        for item in sorted(p for p in module.pending if p[0] <= now):
            module.pending.remove(item)
            conn.receive_data(item[1], now)
        conn.handle_timeout(now)
    raise AssertionError("the state machine did not settle")


def of_type(events: list[Event], kind: type) -> list[Event]:
    return [e for e in events if isinstance(e, kind)]


def test_initialises_after_a_reset_step_by_step() -> None:
    conn = ModuleConnection(InitSettings(power_dbm=14))
    assert conn.state is ModuleState.IDLE
    assert conn.next_deadline() is None
    conn.start(100.0)
    assert list(conn.events()) == [InitStarted(1, "start", reset=True), ResetModule()]
    assert (conn.state, conn.init_step, conn.next_deadline()) == (
        ModuleState.INITIALISING,
        InitStep.BOOT,
        110.0,
    )
    assert conn.data_to_send() == b""

    replies = [
        (b"CCCCCC#FNR MSG,1,initialized\r\n", InitStep.VERSION, b"#DGV\n"),
        (b"#DGV build-202201131742\r\n", InitStep.ADDRESS, b"#FNA\n"),
        (b"#FNA 11,003F\r\n", InitStep.REGION, b"#DGL 868,14\n"),
        (b"#DGR OK\r\n", InitStep.MODE, b"#FNM 1\n"),
        (b"#FNR OK\r\n", InitStep.RADIO_ON, b"#DGP 1\n"),
    ]
    now = 101.0
    for reply, step, command in replies:
        conn.receive_data(reply, now)
        assert (conn.init_step, conn.data_to_send(), conn.next_deadline()) == (step, command, now + 2.0)
        now += 0.5
    conn.receive_data(b"#DGR OK\r\n", now)
    assert (conn.state, conn.version, conn.address, conn.init_step) == (
        ModuleState.READY,
        BUILD,
        0x11003F,
        None,
    )
    assert of_type(list(conn.events()), ModuleReady) == [ModuleReady(BUILD, 0x11003F)]
    assert conn.next_deadline() == now + 120.0


def test_fake_module_run_reports_every_reply_and_ready() -> None:
    conn, module = ModuleConnection(), FakeModule()
    conn.start(0.0)
    events = drive(conn, module, 0.0, until=30.0)
    assert module.commands == INIT_COMMANDS
    assert module.resets == 1
    assert [type(e).__name__ for e in events] == [
        "InitStarted",
        "ResetModule",
        "Noise",
        "ModuleBooted",
        "Version",
        "Address",
        "ReplyOk",
        "ReplyOk",
        "ReplyOk",
        "ModuleReady",
    ]
    assert conn.state is ModuleState.READY


def test_reboot_mid_session_initialises_again_without_reset() -> None:
    conn, module = ModuleConnection(), FakeModule()
    conn.start(0.0)
    drive(conn, module, 0.0, until=30.0)
    module.commands.clear()
    module.boot(40.0)  # brown-out: the module restarts on its own
    events = drive(conn, module, 40.0, until=60.0)
    assert of_type(events, InitStarted) == [InitStarted(1, "module rebooted", reset=False)]
    assert module.commands == INIT_COMMANDS
    assert module.resets == 1
    assert of_type(events, ModuleReady) == [ModuleReady(BUILD, 0x11003F)]
    assert module.radio_on


def test_reboot_during_initialisation_restarts_the_steps() -> None:
    conn = ModuleConnection()
    conn.start(0.0)
    conn.receive_data(b"#FNR MSG,1,initialized\n#DGV b1\n#FNA 11,3F\n", 1.0)
    assert conn.data_to_send() == b"#DGV\n#FNA\n#DGL 868,14\n"
    conn.receive_data(b"#FNR MSG,1,initialized\n", 1.5)
    assert (conn.init_step, conn.data_to_send()) == (InitStep.VERSION, b"#DGV\n")
    conn.receive_data(b"#DGR OK\n", 1.6)  # a late reply to the #DGL before the reboot changes nothing
    assert (conn.init_step, conn.data_to_send()) == (InitStep.VERSION, b"")


def test_silent_module_times_out_retries_with_backoff_then_succeeds() -> None:
    settings = InitSettings(retry_initial_s=5.0, retry_max_s=20.0)
    conn, module = ModuleConnection(settings), FakeModule(silent=True)
    conn.start(0.0)
    timeline = drive_timed(conn, module, 0.0, until=150.0)
    failures = [(at, e) for at, e in timeline if isinstance(e, InitFailed)]
    assert [e.step for _, e in failures] == [InitStep.VERSION] * len(failures)
    assert [e.attempt for _, e in failures] == list(range(1, len(failures) + 1))
    first_at, first = failures[0]
    assert first_at == 12.0  # 10 s waiting for "initialized", then 2 s for the #DGV probe
    assert first.reason == "no reply to #DGV within 2 s, and no 'initialized' within 10 s before"
    assert [e.retry_at - at for at, e in failures][:4] == [5.0, 10.0, 20.0, 20.0]
    starts = [(at, e) for at, e in timeline if isinstance(e, InitStarted)]
    assert [at for at, _ in starts[1:]] == [e.retry_at for _, e in failures[: len(starts) - 1]]
    assert {(e.reason, e.reset) for _, e in starts[1:]} == {("retry", True)}
    assert module.resets == len(starts)
    assert (conn.state, module.commands) == (ModuleState.FAILED, ["#DGV"] * len(failures))

    module.silent = False  # the module comes back: the next retry succeeds
    events = drive(conn, module, 150.0, until=200.0)
    assert len(of_type(events, ModuleReady)) == 1
    assert conn.state is ModuleState.READY


def test_module_already_running_without_reset_line_goes_on_after_dgv() -> None:
    conn, module = ModuleConnection(), FakeModule(resettable=False)
    conn.start(0.0)
    events = drive(conn, module, 0.0, until=30.0)
    assert not of_type(events, ModuleBooted)
    assert not of_type(events, InitFailed)
    assert module.commands == INIT_COMMANDS
    assert conn.state is ModuleState.READY


def test_module_already_running_without_reset_configured_answers_at_once() -> None:
    conn, module = ModuleConnection(InitSettings(reset=False)), FakeModule()
    conn.start(0.0)
    assert conn.data_to_send() == b"#DGV\n"
    conn.receive_data(b"#DGV 1.06, 1722e538e\n#FNA 11,003F\n#DGR OK\n#FNR OK\n#DGR OK\n", 0.1)
    assert conn.state is ModuleState.READY
    assert conn.version == "1.06, 1722e538e"
    assert module.resets == 0


def test_refused_step_fails_the_attempt_naming_the_step_and_the_error() -> None:
    conn = ModuleConnection(InitSettings(reset=False))
    module = FakeModule(errors={"#DGL 868,14": "#DGR ERR,81,unknown parameter"})
    conn.start(0.0)
    events = drive(conn, module, 0.0, until=1.0)
    (failure,) = of_type(events, InitFailed)
    assert isinstance(failure, InitFailed)
    assert (failure.step, failure.attempt, failure.retry_at) == (InitStep.REGION, 1, 0.03 + 5.0)
    assert "ERR,81,unknown parameter" in failure.reason
    assert conn.state is ModuleState.FAILED


def test_error_of_another_family_does_not_fail_the_step() -> None:
    conn = ModuleConnection(InitSettings(reset=False))
    conn.start(0.0)
    conn.receive_data(b"#FNR ERR,14,tx buffer full\n", 0.1)
    assert (conn.state, conn.init_step) == (ModuleState.INITIALISING, InitStep.VERSION)


def test_module_booting_while_failed_starts_the_next_attempt_at_once() -> None:
    conn = ModuleConnection()
    conn.start(0.0)
    conn.handle_timeout(10.0)
    conn.handle_timeout(12.0)
    assert conn.state is ModuleState.FAILED
    list(conn.events())
    conn.data_to_send()
    conn.receive_data(b"#FNR MSG,1,initialized\n", 13.0)
    assert of_type(list(conn.events()), InitStarted) == [InitStarted(2, "module booted", reset=False)]
    assert conn.data_to_send() == b"#DGV\n"


def test_silence_while_ready_is_probed_and_an_answer_keeps_it_ready() -> None:
    conn, module = ModuleConnection(InitSettings(silence_limit_s=60.0)), FakeModule()
    conn.start(0.0)
    drive(conn, module, 0.0, until=10.0)
    ready_at = conn.next_deadline()
    assert ready_at is not None
    module.commands.clear()
    events = drive(conn, module, 10.0, until=ready_at + 1.0)
    assert module.commands == ["#DGP"]
    assert of_type(events, RadioPower) == [RadioPower(on=True)]
    assert conn.state is ModuleState.READY
    assert conn.next_deadline() == pytest.approx(ready_at + 60.0 + 0.01)


def test_module_silent_while_ready_is_reset_and_initialised_again() -> None:
    conn, module = ModuleConnection(InitSettings(silence_limit_s=60.0)), FakeModule()
    conn.start(0.0)
    drive(conn, module, 0.0, until=10.0)
    module.silent = True
    events = drive(conn, module, 10.0, until=70.0)
    (started,) = of_type(events, InitStarted)
    assert isinstance(started, InitStarted)
    assert (started.attempt, started.reset) == (1, True)
    assert started.reason.startswith("module silent for 6")
    assert module.commands[-1] == "#DGP"
    module.silent = False
    drive(conn, module, 70.0, until=200.0)
    assert conn.state is ModuleState.READY


def test_frames_keep_a_ready_module_from_being_probed() -> None:
    conn = ModuleConnection(InitSettings(reset=False, silence_limit_s=60.0))
    conn.start(0.0)
    conn.receive_data(b"#DGV b\n#FNA 11,3F\n#DGR OK\n#FNR OK\n#DGR OK\n", 0.0)
    conn.data_to_send()
    for minute in range(1, 10):
        now = minute * 50.0
        conn.handle_timeout(now)
        conn.receive_data(b"#FNF 11,D,1,0,2,3,616263\n", now)
    assert conn.data_to_send() == b""
    assert conn.next_deadline() == 450.0 + 60.0


def test_no_silence_limit_means_no_deadline_when_ready() -> None:
    conn = ModuleConnection(InitSettings(reset=False, silence_limit_s=None))
    conn.start(0.0)
    conn.receive_data(b"#DGV b\n#FNA 00,0000\n#DGR OK\n#FNR OK\n#DGR OK\n", 0.0)
    assert conn.state is ModuleState.READY
    assert conn.next_deadline() is None
    assert of_type(list(conn.events()), ModuleReady) == [ModuleReady("b", None)]


def test_timeouts_before_the_deadline_do_nothing() -> None:
    conn = ModuleConnection()
    conn.start(0.0)
    list(conn.events())
    conn.handle_timeout(9.99)
    assert (conn.init_step, conn.data_to_send(), list(conn.events())) == (InitStep.BOOT, b"", [])


def test_commands_wait_for_ready() -> None:
    conn = ModuleConnection(InitSettings(reset=False))
    conn.start(0.0)
    with pytest.raises(BridgeError) as raised:
        conn.transmit(2, b"x")
    assert raised.value.field == "state"
    conn.receive_data(b"#DGV b\n#FNA 11,3F\n#DGR OK\n#FNR OK\n#DGR OK\n", 0.0)
    conn.data_to_send()
    conn.transmit(2, b"x")
    assert conn.data_to_send() == b"#FNT 2,0,0,0,0,1,78\n"


def test_start_twice_is_an_error() -> None:
    conn = ModuleConnection()
    conn.start(0.0)
    with pytest.raises(BridgeError):
        conn.start(1.0)


def test_replies_from_an_idle_connection_only_update_what_it_learnt() -> None:
    conn = ModuleConnection()
    conn.receive_data(b"#DGV b7\n#FNA 11,3F\n#FNR MSG,1,initialized\n", 0.0)
    assert list(conn.events()) == [Version("b7"), Address(0x11003F), ModuleBooted()]
    assert (conn.state, conn.version, conn.address, conn.data_to_send()) == (
        ModuleState.IDLE,
        "b7",
        0x11003F,
        b"",
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"power_dbm": 30},
        {"frequency_mhz": 433},
        {"reply_timeout_s": 0},
        {"boot_timeout_s": -1},
        {"silence_limit_s": 0},
        {"retry_initial_s": 10, "retry_max_s": 5},
    ],
)
def test_bad_settings_raise_bridge_error(kwargs: dict[str, float]) -> None:
    with pytest.raises(BridgeError):
        InitSettings(**kwargs)  # type: ignore[arg-type]
