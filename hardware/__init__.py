"""Hardware in the loop: serial captures, a FANET module emulator, replay over a pty, simulated traffic.

The pure pieces are exported here: the capture format (:func:`read_capture`, :class:`CaptureWriter`),
the module emulator (:class:`ModuleEmulator`, sans I/O like ``fanet.firmware_bridge``), the replay
schedule (:class:`Playback`) and the simulator (:func:`simulate` from IGC flights). The Trio adapters
behind ``fanet record`` and ``fanet replay`` live in ``fanet.hardware.record`` and
``fanet.hardware.replay`` (they need the ``gateway`` extra); the commands in ``commands``.
Raspberry Pi deployment files are in the ``pi`` folder of the source tree.
"""

from fanet.hardware._bundled import bundled_captures, bundled_flights
from fanet.hardware._capture import (
    Capture,
    CaptureError,
    CaptureHeader,
    CaptureWriter,
    Chunk,
    Direction,
    decode_chunk,
    decode_header,
    encode_chunk,
    encode_header,
    read_capture,
)
from fanet.hardware._emulator import (
    Booted,
    CommandAnswered,
    EmulatorEvent,
    EmulatorSettings,
    EmulatorStats,
    ModuleEmulator,
    RadioSwitched,
)
from fanet.hardware._host_commands import Command, parse_command
from fanet.hardware._igc import Fix, Flight, IgcError, parse_igc
from fanet.hardware._module_lines import frame_line
from fanet.hardware._playback import Playback
from fanet.hardware._simulation import expected_counts, simulate

__all__ = [
    "Booted",
    "Capture",
    "CaptureError",
    "CaptureHeader",
    "CaptureWriter",
    "Chunk",
    "Command",
    "CommandAnswered",
    "Direction",
    "EmulatorEvent",
    "EmulatorSettings",
    "EmulatorStats",
    "Fix",
    "Flight",
    "IgcError",
    "ModuleEmulator",
    "Playback",
    "RadioSwitched",
    "bundled_captures",
    "bundled_flights",
    "decode_chunk",
    "decode_header",
    "encode_chunk",
    "encode_header",
    "expected_counts",
    "frame_line",
    "parse_command",
    "parse_igc",
    "read_capture",
    "simulate",
]
