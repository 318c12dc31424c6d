"""What a :class:`ModuleConnection` reports: small immutable events.

Three kinds, all in one stream so their order is kept:

- what the module said — a received frame, a reply, a value line, a dialect's extra line;
- what was wrong with the bytes — noise, a malformed, unknown or over-long line (never fatal);
- what the initialisation state machine did — attempts, failures, readiness, and
  :class:`ResetModule`, the one event that asks the I/O layer to act.
"""

from dataclasses import dataclass
from enum import Enum, StrEnum

from fanet.proto import format_address


class ReplyFamily(StrEnum):
    """The command family a reply line answers: its first two letters after ``#``."""

    FANET = "FN"
    DONGLE = "DG"
    FLARM = "FA"
    BLUETOOTH = "BT"


class Dialect(Enum):
    """Which firmware's received-frame line a :class:`FrameReceived` came from."""

    MODULE = "module"
    """``#FNF`` as the stock FANET module prints it (seven fields)."""
    PROMISCUOUS = "promiscuous"
    """``#FNF`` with the fanet-base firmware's three destination fields (after ``#FNP 1``)."""
    SOFTRF = "softrf"
    """``$PSRFI`` sentences of SoftRF-based bridges: the raw frame, its time and RSSI."""


class Event:
    """Base class of everything :meth:`ModuleConnection.next_event` returns."""

    __slots__ = ()


# --- received frames ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FrameReceived(Event):
    """A frame the module received, as raw FANET bytes ready for ``fanet.proto.decode_frame``.

    For ``#FNF`` lines the raw frame is rebuilt from the line's fields: the forward bit is not
    reported by the module and stays 0; the ACK bits stay 0 unless the dialect reports them.
    """

    raw: bytes
    source: int
    """24-bit address, manufacturer in the high byte."""
    dest: int | None
    """The destination address; ``None`` for broadcast, and for a frame addressed to us while our own
    address is not known yet (then ``broadcast`` is False and ``raw`` carries no destination)."""
    broadcast: bool
    signature: int | None
    frame_type: int
    dialect: Dialect = Dialect.MODULE
    rssi_dbm: int | None = None
    """Only SoftRF reports it; a stock module never does."""
    unix_time: int | None = None
    """The receive time the bridge stamped on the frame (SoftRF only)."""
    padding: int = 0
    """Trailing NUL bytes of ``raw`` that can be dropped with the frame still decoding (SoftRF pads
    frames to 32 bytes). They are kept in ``raw``: a payload may end in real zero bytes, so which of
    them are padding cannot be known in general."""

    @property
    def unpadded(self) -> bytes:
        """``raw`` without the :attr:`padding` bytes."""
        return self.raw[: len(self.raw) - self.padding]

    @property
    def address(self) -> str:
        """The source as ``MMIIII``."""
        return format_address(self.source)


# --- replies and value lines --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReplyOk(Event):
    """``#FNR OK``, ``#DGR OK`` …: the last command of that family succeeded."""

    family: ReplyFamily


@dataclass(frozen=True, slots=True)
class ReplyError(Event):
    """``#FNR ERR,<code>,<text>`` (e.g. 14 tx buffer full) or ``#DGR ERR,…`` (e.g. 70 power switch failed)."""

    family: ReplyFamily
    code: int
    text: str


@dataclass(frozen=True, slots=True)
class ModuleMessage(Event):
    """``#FNR MSG,<code>,<text>``: 1 initialized (reported as :class:`ModuleBooted`), 13 power down."""

    family: ReplyFamily
    code: int
    text: str


@dataclass(frozen=True, slots=True)
class ModuleBooted(ModuleMessage):
    """``#FNR MSG,1,initialized``: the module (re)started; its radio is off until ``#DGP 1``.

    A :class:`ModuleMessage` too, so handlers of module messages see it; match it first.
    """

    family: ReplyFamily = ReplyFamily.FANET
    code: int = 1
    text: str = "initialized"


@dataclass(frozen=True, slots=True)
class TransmitAck(Event):
    """``#FNR ACK,m,id`` / ``#FNR NACK,m,id``: whether a frame we sent with ACK request was acknowledged."""

    dest: int
    acked: bool


@dataclass(frozen=True, slots=True)
class Version(Event):
    """``#DGV <build>``: the firmware build, as printed (``build-202201131742``, ``1.06, 1722e538e``)."""

    build: str


@dataclass(frozen=True, slots=True)
class Address(Event):
    """``#FNA mm,iiii``: the module's own FANET address (0 when none is set)."""

    address: int

    @property
    def is_set(self) -> bool:
        return self.address != 0


@dataclass(frozen=True, slots=True)
class RadioPower(Event):
    """``#DGP 0|1``: whether the radio is on."""

    on: bool


@dataclass(frozen=True, slots=True)
class Region(Event):
    """``#FNZ <idx>,<name>``: the module's zone (``-1,UNSET`` before the first ``#FNS``)."""

    index: int
    name: str


@dataclass(frozen=True, slots=True)
class ExtraLine(Event):
    """A dialect line passed through: FANET+ ``#FAO`` (FLARM objects), ``#FAX``, ``#FAP``, ``#DBR``."""

    kind: str
    """The tag without ``#``: ``"FAO"``."""
    fields: tuple[str, ...]
    """The text after the tag, split at commas."""
    line: str


# --- bytes that were not a good line ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Noise(Event):
    """Bytes outside any line: the bootloader's ``C`` characters, garbage after a reset or baud mismatch."""

    data: bytes


@dataclass(frozen=True, slots=True)
class MalformedLine(Event):
    """A line of a known kind that does not parse; ``reason`` names the field and what is wrong."""

    line: str
    reason: str


@dataclass(frozen=True, slots=True)
class UnknownLine(Event):
    """A line that starts like a module line but of a kind this bridge does not know."""

    line: str


@dataclass(frozen=True, slots=True)
class LineTooLong(Event):
    """More than ``limit`` bytes without a newline: dropped up to the next newline."""

    limit: int
    head: bytes
    """The first bytes of what was dropped, for diagnosis."""


# --- the initialisation state machine -----------------------------------------------------------


class ModuleState(Enum):
    IDLE = "idle"
    """:meth:`ModuleConnection.start` not called: lines are parsed, nothing is sent on our own."""
    INITIALISING = "initialising"
    READY = "ready"
    FAILED = "failed"
    """The last attempt failed; the next one starts at the deadline (or when the module boots)."""


class InitStep(Enum):
    """One step of initialisation; the value is the command it sends (none while waiting for boot)."""

    BOOT = ""
    VERSION = "#DGV"
    ADDRESS = "#FNA"
    REGION = "#DGL"
    MODE = "#FNM 1"
    RADIO_ON = "#DGP 1"


@dataclass(frozen=True, slots=True)
class ResetModule(Event):
    """Action: reset the module now (pulse RTS/DTR). Ignore it if the port has no reset line wired;
    initialisation then goes on once the module answers ``#DGV``."""


@dataclass(frozen=True, slots=True)
class InitStarted(Event):
    attempt: int
    """1 for the first attempt after start, a reboot or silence; counts up while attempts fail."""
    reason: str
    reset: bool
    """Whether this attempt begins with :class:`ResetModule`."""


@dataclass(frozen=True, slots=True)
class InitFailed(Event):
    """An attempt failed at ``step`` (no reply in time, or an error reply); the next starts at ``retry_at``."""

    step: InitStep
    reason: str
    attempt: int
    retry_at: float


@dataclass(frozen=True, slots=True)
class ModuleReady(Event):
    """Initialisation finished: the radio is on and frames will arrive."""

    version: str
    address: int | None
    """``None`` when the module has no address set (it receives, but cannot transmit)."""
