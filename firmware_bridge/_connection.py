"""The module's serial line protocol as one sans-I/O object: bytes in → events, commands → bytes.

The I/O layer (the gateway's serial link) owns the port and the clock and drives the object::

    conn = ModuleConnection(InitSettings(power_dbm=14))
    conn.start(now)
    while True:
        port.write(conn.data_to_send())
        for event in conn.events():
            if isinstance(event, ResetModule): pulse RTS/DTR
            elif isinstance(event, FrameReceived): publish event.raw
        wait until bytes arrive or conn.next_deadline() passes
        conn.receive_data(bytes, now) or conn.handle_timeout(now)

Nothing here reads a clock or touches a port; ``receive_data`` and ``handle_timeout`` never raise.
"""

from collections import deque
from collections.abc import Iterator

from fanet.firmware_bridge import _commands
from fanet.firmware_bridge._errors import BridgeError
from fanet.firmware_bridge._events import Address, Event, InitStep, ModuleState, Version
from fanet.firmware_bridge._lines import MAX_LINE_LENGTH, LineSplitter
from fanet.firmware_bridge._parse import parse_line
from fanet.firmware_bridge._session import InitSession, InitSettings


class ModuleConnection:
    """One FANET radio module on one serial line.

    Until :meth:`start` is called the connection only parses (state ``IDLE``): useful for replaying
    captures. After it, the initialisation state machine (see ``_session``) runs on its own and
    command methods raise :class:`BridgeError` unless the state is ``READY``.
    """

    def __init__(
        self,
        settings: InitSettings | None = None,
        *,
        address: int | None = None,
        max_line_length: int = MAX_LINE_LENGTH,
    ) -> None:
        """``address`` is the module's own address if known beforehand; ``#FNA`` replies update it."""
        self._lines = LineSplitter(max_line_length)
        self._events: deque[Event] = deque()
        self._outgoing = bytearray()
        self._session = InitSession(settings or InitSettings(), self._outgoing.extend, self._events.append)
        self._address = address or None
        self._version: str | None = None

    # --- state ------------------------------------------------------------------------------------

    @property
    def state(self) -> ModuleState:
        return self._session.state

    @property
    def init_step(self) -> InitStep | None:
        """The initialisation step waited on, while ``INITIALISING``."""
        return self._session.step

    @property
    def address(self) -> int | None:
        """The module's address as it last reported it (``None`` before that, or when it has none)."""
        return self._address

    @property
    def version(self) -> str | None:
        """The firmware build as the module last reported it."""
        return self._version

    # --- driving it ---------------------------------------------------------------------------------

    def start(self, now: float) -> None:
        """Begin initialisation (see the diagram in ``_session``). Raises :class:`BridgeError` if started."""
        self._session.start(now)

    def receive_data(self, data: bytes, now: float) -> None:
        """Feed bytes read from the port, split anywhere. Events for complete lines are queued."""
        for item in self._lines.feed(data):
            event = parse_line(item, self._address) if isinstance(item, str) else item
            if isinstance(event, Address):
                self._address = event.address or None
            elif isinstance(event, Version):
                self._version = event.build
            self._events.append(event)
            self._session.handle_event(event, now)

    def next_deadline(self) -> float | None:
        """When :meth:`handle_timeout` must be called next (``None``: no deadline pending)."""
        return self._session.deadline

    def handle_timeout(self, now: float) -> None:
        """Act on a deadline that has passed; calling it early or twice does nothing."""
        self._session.handle_timeout(now)

    def next_event(self) -> Event | None:
        """The oldest queued event, or ``None`` when there is none."""
        return self._events.popleft() if self._events else None

    def events(self) -> Iterator[Event]:
        """Drain the queued events, oldest first (also those queued while iterating)."""
        while self._events:
            yield self._events.popleft()

    def data_to_send(self) -> bytes:
        """Bytes to write to the port (commands queued by the methods below and by initialisation)."""
        data = bytes(self._outgoing)
        self._outgoing.clear()
        return data

    # --- commands -----------------------------------------------------------------------------------

    def request_version(self) -> None:
        """``#DGV``; the module answers with a :class:`Version` event."""
        self._queue(_commands.version_query())

    def request_address(self) -> None:
        """``#FNA``; answered by :class:`Address`."""
        self._queue(_commands.address_query())

    def request_radio_power(self) -> None:
        """``#DGP``; answered by :class:`RadioPower`."""
        self._queue(_commands.radio_power_query())

    def request_zone(self) -> None:
        """``#FNZ``; answered by :class:`Region`."""
        self._queue(_commands.zone_query())

    def set_region(self, power_dbm: int, frequency_mhz: int = 868) -> None:
        """``#DGL 868,<dBm>``; answered by ``#DGR OK`` or ``#DGR ERR``."""
        self._queue(_commands.region(power_dbm, frequency_mhz))

    def set_config(self, aircraft: int, online: bool, ground: int | None = None) -> None:
        """``#FNC <aircraft>,<online>[,<ground type>]``."""
        self._queue(_commands.config(aircraft, online, ground))

    def set_ground_mode(self, ground: bool) -> None:
        """``#FNM 1`` (ground) or ``#FNM 0`` (flying)."""
        self._queue(_commands.mode(ground))

    def set_radio_power(self, on: bool) -> None:
        """``#DGP 1`` / ``#DGP 0``."""
        self._queue(_commands.radio_power(on))

    def set_promiscuous(self, on: bool = True) -> None:
        """``#FNP 1``: fanet-base firmware then reports every frame with its destination."""
        self._queue(_commands.promiscuous(on))

    def set_position(
        self,
        lat: float,
        lon: float,
        altitude_m: float,
        speed_kmh: float = 0.0,
        climb_ms: float = 0.0,
        heading_deg: float = 0.0,
    ) -> None:
        """``#FNS``: our own position; the module transmits only once it has one."""
        self._queue(_commands.state(lat, lon, altitude_m, speed_kmh, climb_ms, heading_deg))

    def transmit(
        self,
        frame_type: int,
        payload: bytes,
        *,
        dest: int | None = None,
        forward: bool = False,
        ack: bool = False,
        signature: int | None = None,
    ) -> None:
        """``#FNT``: send a frame from the module's address; ``dest=None`` broadcasts.

        Answered by ``#FNR OK`` (queued), ``#FNR ERR`` or ``#FNR MSG,13,power down``; with ``ack``
        later by :class:`TransmitAck`.
        """
        self._queue(
            _commands.transmit(frame_type, payload, dest=dest, forward=forward, ack=ack, signature=signature)
        )

    def _queue(self, command: bytes) -> None:
        state = self._session.state
        if state in (ModuleState.INITIALISING, ModuleState.FAILED):
            raise BridgeError("state", f"the module is {state.name}; commands can be sent when it is READY")
        self._outgoing += command
