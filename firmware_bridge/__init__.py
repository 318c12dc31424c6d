"""The FANET radio module's serial line protocol, sans I/O: bytes in → events, commands → bytes.

:class:`ModuleConnection` is the one object: feed it what the port read (``receive_data``), take
events (``next_event`` / ``events``), write what it wants sent (``data_to_send``) and call
``handle_timeout`` when ``next_deadline`` passes. It brings the module up on its own (see
``_session`` for the state machine) and asks the I/O layer to reset the module with
:class:`ResetModule`. Nothing reads a clock or touches a port; only command methods and settings
raise, and only :class:`BridgeError`. :func:`parse_line` parses one line on its own (replays).

Received frames come out as raw FANET bytes (:class:`FrameReceived`) for ``fanet.proto``.
"""

from fanet.firmware_bridge._commands import MAX_COMMAND_LENGTH, MAX_TX_PAYLOAD
from fanet.firmware_bridge._connection import ModuleConnection
from fanet.firmware_bridge._errors import BridgeError
from fanet.firmware_bridge._events import (
    Address,
    Dialect,
    Event,
    ExtraLine,
    FrameReceived,
    InitFailed,
    InitStarted,
    InitStep,
    LineTooLong,
    MalformedLine,
    ModuleBooted,
    ModuleMessage,
    ModuleReady,
    ModuleState,
    Noise,
    RadioPower,
    Region,
    ReplyError,
    ReplyFamily,
    ReplyOk,
    ResetModule,
    TransmitAck,
    UnknownLine,
    Version,
)
from fanet.firmware_bridge._lines import MAX_LINE_LENGTH
from fanet.firmware_bridge._parse import parse_line
from fanet.firmware_bridge._session import InitSettings

__all__ = [
    "MAX_COMMAND_LENGTH",
    "MAX_LINE_LENGTH",
    "MAX_TX_PAYLOAD",
    "Address",
    "BridgeError",
    "Dialect",
    "Event",
    "ExtraLine",
    "FrameReceived",
    "InitFailed",
    "InitSettings",
    "InitStarted",
    "InitStep",
    "LineTooLong",
    "MalformedLine",
    "ModuleBooted",
    "ModuleConnection",
    "ModuleMessage",
    "ModuleReady",
    "ModuleState",
    "Noise",
    "RadioPower",
    "Region",
    "ReplyError",
    "ReplyFamily",
    "ReplyOk",
    "ResetModule",
    "TransmitAck",
    "UnknownLine",
    "Version",
    "parse_line",
]
