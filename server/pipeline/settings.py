"""Every threshold of the pipeline in one frozen dataclass, with the defaults the server runs with.

The server's configuration layer builds one :class:`PipelineSettings` at start-up (from options,
environment and file) and hands it to :class:`~fanet.server.pipeline.Pipeline`; nothing in the
pipeline reads configuration from anywhere else. Times are in seconds, speeds in km/h unless the
name says otherwise.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType

from fanet.proto import AircraftType

DEFAULT_MAX_SPEED_KMH: Mapping[AircraftType, float] = MappingProxyType(
    {
        AircraftType.OTHER: 500.0,
        AircraftType.PARAGLIDER: 80.0,
        AircraftType.HANG_GLIDER: 130.0,
        AircraftType.BALLOON: 150.0,
        AircraftType.GLIDER: 300.0,
        AircraftType.POWERED: 400.0,
        AircraftType.HELICOPTER: 350.0,
        AircraftType.UAV: 200.0,
    }
)
"""The fastest each aircraft type plausibly moves over ground (wind included)."""


@dataclass(frozen=True, slots=True)
class PipelineSettings:
    # --- deduplication -------------------------------------------------------------------------
    dedupe_window_s: float = 3.0
    """The same frame heard again within this time (by any station, or via a repeater) is a duplicate."""
    dedupe_max_entries: int = 200_000
    """Hard bound on remembered frames; past it the window shortens rather than memory growing."""

    # --- timestamps (the receiving station's clock against ``now``) ----------------------------
    max_age_s: float = 300.0
    """Reports received longer ago than this are too old for the live map (a gateway's spool replay)."""
    max_future_s: float = 30.0
    """Reports stamped further ahead of ``now`` than this come from a station with a wrong clock."""
    reorder_tolerance_s: float = 5.0
    """A report older than the object's last accepted one by more than this is out of order."""

    # --- values --------------------------------------------------------------------------------
    null_island_deg: float = 0.001
    """A position this close to 0°/0° is an empty GPS fix, not a place."""
    min_altitude_m: int = -500
    max_altitude_m: int = 10_000

    # --- movement plausibility ----------------------------------------------------------------
    max_speed_kmh: Mapping[AircraftType, float] = field(default_factory=lambda: DEFAULT_MAX_SPEED_KMH)
    """Per aircraft type; every type must be present."""
    ground_max_speed_kmh: float = 200.0
    """Ground objects and weather stations."""
    max_vertical_speed_ms: float = 50.0
    time_slack_s: float = 2.0
    """Added to the time between two reports: station clocks tick in whole seconds and disagree a little."""
    distance_slack_m: float = 200.0
    """Added to the allowed distance: GPS noise and rounding of the 24-bit coordinates."""
    altitude_slack_m: float = 100.0

    # --- score and hysteresis -----------------------------------------------------------------
    score_initial: int = 1
    """The score of an address after its first plausible report."""
    score_reward: int = 1
    score_penalty: int = 2
    score_max: int = 5
    score_min: int = -5
    appear_score: int = 2
    """An address becomes visible when its score reaches this (2 = two consistent reports; set it to
    ``score_initial`` to show new objects at once)."""
    disappear_score: int = 0
    """A visible address disappears when its score drops below this."""
    candidate_forget_s: float = 600.0
    """An address that never became visible is forgotten after this long without a report."""

    # --- names ---------------------------------------------------------------------------------
    name_memory_s: float = 12 * 3600.0
    """Names are kept per address this long after the last name frame, for positions that follow."""

    # --- thermals ------------------------------------------------------------------------------
    thermal_merge_m: float = 300.0
    thermal_merge_altitude_m: float = 200.0
    thermal_merge_s: float = 600.0
    thermal_average_reports: int = 10
    """Running means weigh the newest report at least 1/this, so an old thermal still drifts."""
    thermal_reporter_range_m: float = 10_000.0
    """A thermal reported by an address on the map must lie this close to the reporter's last position…"""
    thermal_reporter_window_s: float = 600.0
    """…when that position is at most this old (older positions say nothing)."""

    # --- change coalescing ---------------------------------------------------------------------
    min_update_interval_s: float = 0.0
    """An UPDATE whose only difference is ``last_update`` is emitted at most this often per object
    (0 = always). The object's state is updated either way."""

    # --- expiry --------------------------------------------------------------------------------
    pilot_stale_after_s: float = 300.0
    """Exposed for the UI (``is_stale``); a stale pilot stays on the map."""
    pilot_gone_after_s: float = 1800.0
    ground_gone_after_s: float = 1800.0
    distress_gone_after_s: float = 6 * 3600.0
    """A ground object in a distress state stays on the map this long after its last report."""
    thermal_gone_after_s: float = 1200.0
    station_gone_after_s: float = 7200.0

    # --- base stations (receivers) -------------------------------------------------------------
    base_station_interval_s: float = 10.0
    """Fresh base-station records go to the store at most this often per station."""
    base_station_rate_window_s: float = 60.0
    """The sliding window for frames per minute."""
    base_station_heard: int = 20
    """How many recently heard addresses a base-station record lists."""
    signal_average_weight: float = 0.05
    """Weight of the newest RSSI/SNR in the exponential running averages."""
    base_station_forget_s: float = 86_400.0
    """A station silent this long is dropped from memory (the store keeps its record)."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            measure = isinstance(value, int | float) and f.name.endswith(
                ("_s", "_m", "_kmh", "_ms", "_entries")
            )
            if measure and f.name != "min_altitude_m" and not value >= 0:
                raise ValueError(f"pipeline setting {f.name} must be ≥ 0, got {value!r}")
        missing = [t.name for t in AircraftType if not self.max_speed_kmh.get(t, 0) > 0]
        if missing:
            raise ValueError(
                f"pipeline setting max_speed_kmh needs a positive speed for {', '.join(missing)}"
            )
        if not self.score_min <= self.disappear_score < self.appear_score <= self.score_max:
            raise ValueError(
                "pipeline settings need score_min ≤ disappear_score < appear_score ≤ score_max, got "
                f"{self.score_min}, {self.disappear_score}, {self.appear_score}, {self.score_max}"
            )
        if not self.score_min <= self.score_initial <= self.score_max:
            raise ValueError(
                f"pipeline setting score_initial must lie in score_min..score_max, got {self.score_initial}"
            )
        if not self.min_altitude_m < self.max_altitude_m:
            raise ValueError("pipeline setting min_altitude_m must be below max_altitude_m")
        if self.score_reward < 1 or self.score_penalty < 1:
            raise ValueError("pipeline settings score_reward and score_penalty must be ≥ 1")
        if self.thermal_average_reports < 1 or self.base_station_heard < 0:
            raise ValueError("pipeline settings thermal_average_reports ≥ 1 and base_station_heard ≥ 0")
        if not 0 < self.signal_average_weight <= 1:
            raise ValueError(
                f"pipeline setting signal_average_weight must be in (0, 1], got {self.signal_average_weight}"
            )
        if self.dedupe_window_s <= 0 or self.base_station_rate_window_s <= 0:
            raise ValueError("pipeline settings dedupe_window_s and base_station_rate_window_s must be > 0")
