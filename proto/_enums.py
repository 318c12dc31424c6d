"""The FANET protocol's enumerations (values from the firmware's protocol.txt)."""

from enum import IntEnum


class FrameType(IntEnum):
    ACK = 0
    AIR_TRACKING = 1
    NAME = 2
    MESSAGE = 3
    SERVICE = 4
    LANDMARK = 5
    REMOTE_CONFIG = 6
    GROUND_TRACKING = 7
    HARDWARE_INFO_LEGACY = 8
    THERMAL = 9
    HARDWARE_INFO = 10


class AckMode(IntEnum):
    """Extended header bits 7..6."""

    NONE = 0
    REQUESTED = 1
    REQUESTED_VIA_FORWARD = 2
    RESERVED = 3


class AircraftType(IntEnum):
    OTHER = 0
    PARAGLIDER = 1
    HANG_GLIDER = 2
    BALLOON = 3
    GLIDER = 4
    POWERED = 5
    HELICOPTER = 6
    UAV = 7


class GroundType(IntEnum):
    """Ground-tracking state (type 7, bits 7..4). Values 5–7 and 10–11 are undefined and stay ints."""

    OTHER = 0
    WALKING = 1
    VEHICLE = 2
    BIKE = 3
    BOAT = 4
    NEED_RIDE = 8
    LANDED_WELL = 9
    NEED_TECHNICAL_SUPPORT = 12
    NEED_MEDICAL_HELP = 13
    DISTRESS_CALL = 14
    DISTRESS_CALL_AUTO = 15


DISTRESS_GROUND_TYPES = frozenset(
    {GroundType.NEED_MEDICAL_HELP, GroundType.DISTRESS_CALL, GroundType.DISTRESS_CALL_AUTO}
)
"""Ground states that ask for help now: the server shows them at once, bypassing validation delays."""
