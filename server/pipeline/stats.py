"""The pipeline's counters: plain integers and dicts the metrics layer reads (and tests check).

Every received frame ends in exactly one bucket, so the counters add up::

    received  == decoded + undecodable
    decoded   == duplicates + accepted + sum(rejected.values()) + sum(ignored.values())

``accepted`` reports passed validation and changed the pipeline's state; ``held`` counts those among
them that belong to an address still proving itself (not yet on the map).
"""

from dataclasses import dataclass, field
from enum import StrEnum

from fanet.server.model import Action, Kind, PendingChange


class Reason(StrEnum):
    """Why a decoded report was rejected (the ``rejected`` counter's keys)."""

    RESERVED_ADDRESS = "reserved_address"
    """Manufacturer 0x00/0xFF or id 0x0000/0xFFFF (0xFF is accepted from the API's pseudo-station)."""
    TOO_OLD = "too_old"
    IN_FUTURE = "in_future"
    OUT_OF_ORDER = "out_of_order"
    """Older than the last accepted report of the same address."""
    NULL_POSITION = "null_position"
    POSITION_OUT_OF_RANGE = "position_out_of_range"
    ALTITUDE_OUT_OF_RANGE = "altitude_out_of_range"
    TOO_FAST = "too_fast"
    """A position jump faster than the aircraft type can fly."""
    TOO_STEEP = "too_steep"
    """An altitude jump faster than anything climbs or sinks."""
    FAR_FROM_REPORTER = "far_from_reporter"
    """A thermal far from where its reporter just was."""


class Skip(StrEnum):
    """Why a decoded, non-duplicate frame changed nothing (the ``ignored`` counter's keys)."""

    GATEWAY_BEACON = "gateway_beacon"
    """A service frame without weather data: an internet gateway announcing itself."""
    SERVICE_WITHOUT_WEATHER = "service_without_weather"
    """Only battery or remote-config flags, from an address that is not a pilot on the map."""
    EMPTY_NAME = "empty_name"
    MESSAGE = "message"
    ACK = "ack"
    LANDMARK = "landmark"
    REMOTE_CONFIG = "remote_config"
    HARDWARE_INFO = "hardware_info"
    UNKNOWN_TYPE = "unknown_type"


Outcome = Reason | Skip | None
"""What handling one report came to: ``None`` accepted, a :class:`Reason` rejected, a :class:`Skip` ignored."""


@dataclass(slots=True, eq=False)
class PipelineStats:
    received: int = 0
    received_by_station: dict[str, int] = field(default_factory=dict)
    decoded: int = 0
    undecodable: int = 0
    duplicates: int = 0
    accepted: int = 0
    held: int = 0
    rejected: dict[Reason, int] = field(default_factory=lambda: dict.fromkeys(Reason, 0))
    ignored: dict[Skip, int] = field(default_factory=lambda: dict.fromkeys(Skip, 0))
    changes: dict[tuple[Kind, Action], int] = field(
        default_factory=lambda: {(kind, action): 0 for kind in Kind for action in Action}
    )
    track_points: int = 0
    base_station_records: int = 0

    def count(self, outcome: Outcome) -> None:
        if outcome is None:
            self.accepted += 1
        elif isinstance(outcome, Reason):
            self.rejected[outcome] += 1
        else:
            self.ignored[outcome] += 1

    def count_changes(self, changes: list[PendingChange]) -> None:
        counts = self.changes
        for change in changes:
            counts[change.kind, change.action] += 1
