"""Bringing the module up, and back up: the initialisation state machine.

At power-up the module's radio is off until ``#DGP 1``. This machine resets the module (an action
the I/O layer performs), waits for ``#FNR MSG,1,initialized``, then sends one command a step and
waits for its reply before the next. It never waits forever: every wait has a deadline, and the I/O
layer calls :meth:`InitSession.handle_timeout` when :attr:`~InitSession.deadline` passes. ::

    start(now)
      │
      ▼
    INITIALISING: [ResetModule] BOOT ─initialized─▶ VERSION ─▶ ADDRESS ─▶ REGION ─▶ MODE ─▶ RADIO_ON ─▶ READY
      ▲    │                      │                 #DGV       #FNA       #DGL      #FNM 1   #DGP 1
      │    │                      └─boot_timeout_s─▶ (probe: a module that did not reset answers #DGV)
      │    │ no reply within reply_timeout_s, or an ERR reply: InitFailed(step, attempt, retry_at)
      │    ▼
      │  FAILED
      └────┴── retry_at passes (backoff doubles up to retry_max_s), or initialized: next attempt

    READY ── initialized ─────────────────────────────────────────────▶ INITIALISING (attempt 1, no reset)
    READY ── nothing heard for silence_limit_s ─▶ probe #DGP ─ any line ─▶ READY
                                                      └─ nothing within reply_timeout_s ─▶ INITIALISING (reset)

``initialized`` while INITIALISING restarts the steps at VERSION (the module rebooted under us).

Replies are matched by kind and family: ``#DGV``/``#FNA`` by their value line, ``#DGL`` and
``#DGP 1`` by ``#DGR OK``, ``#FNM 1`` by ``#FNR OK``; an ``ERR`` of the awaited family fails the
step. Frames and other lines pass by untouched. Commands from the user are not allowed while
initialising (their replies could not be told from ours).
"""

from collections.abc import Callable
from dataclasses import dataclass

from fanet.firmware_bridge import _commands
from fanet.firmware_bridge._errors import BridgeError
from fanet.firmware_bridge._events import (
    Address,
    Event,
    InitFailed,
    InitStarted,
    InitStep,
    LineTooLong,
    ModuleBooted,
    ModuleReady,
    ModuleState,
    Noise,
    ReplyError,
    ReplyFamily,
    ReplyOk,
    ResetModule,
    Version,
)


@dataclass(frozen=True, slots=True)
class InitSettings:
    """How the module is brought up; times in seconds of the clock the caller passes as ``now``."""

    reset: bool = True
    """Start every attempt after a start, a failure or silence with :class:`ResetModule`."""
    boot_timeout_s: float = 10.0
    """How long to wait for ``initialized`` before probing with ``#DGV`` (a module that did not reset)."""
    reply_timeout_s: float = 2.0
    """How long one step waits for its reply."""
    frequency_mhz: int = 868
    power_dbm: int = 14
    """Transmit power for ``#DGL`` (2..20; 14 dBm is the EU limit on 868.2 MHz)."""
    silence_limit_s: float | None = 120.0
    """When READY and nothing was heard this long, probe with ``#DGP``; ``None`` never probes."""
    retry_initial_s: float = 5.0
    retry_max_s: float = 300.0

    def __post_init__(self) -> None:
        _commands.region(self.power_dbm, self.frequency_mhz)  # raises BridgeError for bad values
        for name in ("boot_timeout_s", "reply_timeout_s", "retry_initial_s", "retry_max_s"):
            if not getattr(self, name) > 0:
                raise BridgeError(name, f"must be positive, got {getattr(self, name)}")
        if self.silence_limit_s is not None and not self.silence_limit_s > 0:
            raise BridgeError("silence_limit_s", f"must be positive or None, got {self.silence_limit_s}")
        if self.retry_max_s < self.retry_initial_s:
            raise BridgeError("retry_max_s", "must not be below retry_initial_s")


_REPLY_FAMILY = {
    InitStep.VERSION: ReplyFamily.DONGLE,
    InitStep.ADDRESS: ReplyFamily.FANET,
    InitStep.REGION: ReplyFamily.DONGLE,
    InitStep.MODE: ReplyFamily.FANET,
    InitStep.RADIO_ON: ReplyFamily.DONGLE,
}
_VALUE_STEPS = (InitStep.VERSION, InitStep.ADDRESS)
"""Steps answered by a value line rather than ``OK``."""
_NEXT_STEP = {
    InitStep.VERSION: InitStep.ADDRESS,
    InitStep.ADDRESS: InitStep.REGION,
    InitStep.REGION: InitStep.MODE,
    InitStep.MODE: InitStep.RADIO_ON,
}


class InitSession:
    """The state machine above. It sends through ``send`` and reports through ``emit``."""

    def __init__(
        self, settings: InitSettings, send: Callable[[bytes], None], emit: Callable[[Event], None]
    ) -> None:
        self._settings = settings
        self._send = send
        self._emit = emit
        self.state = ModuleState.IDLE
        self.step: InitStep | None = None
        """The step waited on while INITIALISING, else ``None``."""
        self.deadline: float | None = None
        self._attempt = 0
        self._backoff = settings.retry_initial_s
        self._boot_missed = False
        self._probing = False
        self._last_heard = 0.0
        self._version = ""
        self._address: int | None = None

    def start(self, now: float) -> None:
        if self.state is not ModuleState.IDLE:
            raise BridgeError("state", f"initialisation already started (state {self.state.name})")
        self._attempt = 1
        self._begin(now, "start", reset=self._settings.reset)

    def handle_event(self, event: Event, now: float) -> None:
        """Feed every event parsed from the module, in order."""
        if self.state is ModuleState.IDLE or isinstance(event, (Noise, LineTooLong)):
            return  # a bootloader prints noise: that is no sign of a running module
        self._last_heard = now
        if isinstance(event, ModuleBooted):
            if self.state is ModuleState.INITIALISING:
                self._ask(InitStep.VERSION, now)
            elif self.state is ModuleState.FAILED:
                self._attempt += 1
                self._begin(now, "module booted", reset=False)
            else:
                self._attempt = 1
                self._begin(now, "module rebooted", reset=False)
        elif self.state is ModuleState.INITIALISING:
            self._on_reply(event, now)
        elif self.state is ModuleState.READY:
            self._probing = False
            self._arm_silence()

    def handle_timeout(self, now: float) -> None:
        """Act on the deadline if it has passed; calling it early does nothing."""
        if self.deadline is None or now < self.deadline:
            return
        if self.state is ModuleState.INITIALISING:
            if self.step is InitStep.BOOT:
                self._boot_missed = True  # perhaps it was running already and did not reset: ask it
                self._ask(InitStep.VERSION, now)
                return
            assert self.step is not None
            reason = f"no reply to {self.step.value} within {self._settings.reply_timeout_s:g} s"
            if self._boot_missed and self.step is InitStep.VERSION:
                reason += f", and no 'initialized' within {self._settings.boot_timeout_s:g} s before"
            self._fail(now, reason)
        elif self.state is ModuleState.FAILED:
            self._attempt += 1
            self._begin(now, "retry", reset=self._settings.reset)
        elif not self._probing:
            self._probing = True
            self._send(_commands.radio_power_query())
            self.deadline = now + self._settings.reply_timeout_s
        else:
            self._attempt = 1
            silent = now - self._last_heard
            self._begin(now, f"module silent for {silent:.0f} s", reset=self._settings.reset)

    def _on_reply(self, event: Event, now: float) -> None:
        step = self.step
        if step is None or step is InitStep.BOOT:
            return
        family = _REPLY_FAMILY[step]
        if isinstance(event, ReplyError) and event.family is family:
            self._fail(now, f"refused: {family.value}R ERR,{event.code},{event.text}")
        elif step is InitStep.VERSION and isinstance(event, Version):
            self._version = event.build
            self._ask(InitStep.ADDRESS, now)
        elif step is InitStep.ADDRESS and isinstance(event, Address):
            self._address = event.address or None
            self._ask(InitStep.REGION, now)
        elif isinstance(event, ReplyOk) and event.family is family and step not in _VALUE_STEPS:
            if step is InitStep.RADIO_ON:
                self._ready()
            else:
                self._ask(_NEXT_STEP[step], now)

    def _begin(self, now: float, reason: str, *, reset: bool) -> None:
        self.state = ModuleState.INITIALISING
        self._boot_missed = False
        self._probing = False
        self._emit(InitStarted(self._attempt, reason, reset))
        if reset:
            self._emit(ResetModule())
            self.step = InitStep.BOOT
            self.deadline = now + self._settings.boot_timeout_s
        else:
            self._ask(InitStep.VERSION, now)

    def _ask(self, step: InitStep, now: float) -> None:
        settings = self._settings
        if step is InitStep.VERSION:
            command = _commands.version_query()
        elif step is InitStep.ADDRESS:
            command = _commands.address_query()
        elif step is InitStep.REGION:
            command = _commands.region(settings.power_dbm, settings.frequency_mhz)
        elif step is InitStep.MODE:
            command = _commands.mode(ground=True)
        else:
            command = _commands.radio_power(on=True)
        self._send(command)
        self.step = step
        self.deadline = now + settings.reply_timeout_s

    def _fail(self, now: float, reason: str) -> None:
        assert self.step is not None
        retry_at = now + self._backoff
        self._emit(InitFailed(self.step, reason, self._attempt, retry_at))
        self._backoff = min(self._backoff * 2, self._settings.retry_max_s)
        self.state = ModuleState.FAILED
        self.step = None
        self.deadline = retry_at

    def _ready(self) -> None:
        self.state = ModuleState.READY
        self.step = None
        self._backoff = self._settings.retry_initial_s
        self._probing = False
        self._emit(ModuleReady(self._version, self._address))
        self._arm_silence()

    def _arm_silence(self) -> None:
        limit = self._settings.silence_limit_s
        self.deadline = None if limit is None else self._last_heard + limit
