"""Validation against phantoms: is a report plausible, and has its address proved itself?

Radio bit errors that slip past the checksum produce phantoms: a known pilot jumping 80 km for one
report, or an address nobody owns appearing once. The rules below are small pure functions; the
:class:`Validator` keeps one :class:`Standing` per address and scores it:

- A report from a reserved address, with a timestamp too old or in the future, or out of order is
  rejected without touching the score: the station's clock or the radio path is at fault, not the
  sender. User addresses (manufacturer 0xFF, reserved on the air) are accepted from
  :data:`API_STATION` alone: positions posted over the REST API arrive from it, and a radio frame
  claiming one is a bit error or an impostor.
- A position at 0°/0°, outside the globe, or an altitude outside the configured range is rejected
  and costs the address ``score_penalty`` (an address never seen before gets no standing at all).
- A position that moved faster than the aircraft type can fly since the last accepted report (or
  climbed or sank faster than ``max_vertical_speed_ms``) is rejected and costs ``score_penalty`` —
  unless it fits the accepted report before that one: then the last accepted report was a phantom
  that happened to lie within reach, and this report replaces it (score unchanged). When a
  penalty drives the score below ``disappear_score`` the validator gives up the old position and
  re-anchors on the new one with ``score_initial``: either the earlier reports or this one were the
  phantom, and the following reports decide.
- Every other position is accepted, becomes the new anchor and earns ``score_reward`` (up to
  ``score_max``).

Hysteresis: an address becomes visible when its score reaches ``appear_score`` and stays visible
until it drops below ``disappear_score``. Distress calls skip the movement check and the wait: they
are visible at once, and while an address's last accepted report is a distress call no rejected
report hides it (a device in trouble that loses its GPS fix must not vanish from the map).

Thermals carry no standing of their own; a thermal from an address on the map must lie within
``thermal_reporter_range_m`` of the reporter's recent position.
"""

import math
from collections.abc import Callable

from fanet.server.model import TrackPoint
from fanet.server.pipeline.deadlines import Deadlines
from fanet.server.pipeline.settings import PipelineSettings
from fanet.server.pipeline.stats import Reason
from fanet.server.store.base import distance_km

_MAX_HELD_POINTS = 16

API_STATION = "@api"
"""The pseudo-station that positions posted over the REST API arrive from (MQTT station ids do not
start with ``@``). Not a setting: the REST side stamps its frames with this very name."""
USER_MANUFACTURER = 0xFF
"""The manufacturer byte of user addresses: FANET reserves it, so no radio device sends from it."""


# --- rules ---------------------------------------------------------------------------------------


def reserved_address(addr: int) -> bool:
    """Manufacturers 0x00 and 0xFF and ids 0x0000 and 0xFFFF are reserved: no device sends from them."""
    manufacturer = addr >> 16
    device = addr & 0xFFFF
    return manufacturer in (0x00, 0xFF) or device in (0x0000, 0xFFFF)


def check_address(addr: int, station: str) -> Reason | None:
    """Reserved addresses are refused, except user addresses (device ids 1..0xFFFE of manufacturer
    :data:`USER_MANUFACTURER`) received from :data:`API_STATION`."""
    if not reserved_address(addr):
        return None
    if station == API_STATION and addr >> 16 == USER_MANUFACTURER and addr & 0xFFFF not in (0, 0xFFFF):
        return None
    return Reason.RESERVED_ADDRESS


def check_time(timestamp: float, now: float, max_age_s: float, max_future_s: float) -> Reason | None:
    """The receiving station's timestamp against ``now`` (written so that NaN is rejected)."""
    if not timestamp >= now - max_age_s:
        return Reason.TOO_OLD
    if not timestamp <= now + max_future_s:
        return Reason.IN_FUTURE
    return None


def check_position(lat: float, lon: float, null_island_deg: float) -> Reason | None:
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        return Reason.POSITION_OUT_OF_RANGE
    if abs(lat) < null_island_deg and abs(lon) < null_island_deg:
        return Reason.NULL_POSITION
    return None


def check_altitude(altitude_m: int, min_m: int, max_m: int) -> Reason | None:
    if not min_m <= altitude_m <= max_m:
        return Reason.ALTITUDE_OUT_OF_RANGE
    return None


def check_near_reporter(
    reporter_lat: float,
    reporter_lon: float,
    reporter_time: float,
    lat: float,
    lon: float,
    time: float,
    settings: PipelineSettings,
) -> Reason | None:
    """A thermal report against its reporter's last accepted position, when that is recent."""
    if abs(time - reporter_time) > settings.thermal_reporter_window_s:
        return None
    if distance_km(reporter_lat, reporter_lon, lat, lon) * 1000.0 > settings.thermal_reporter_range_m:
        return Reason.FAR_FROM_REPORTER
    return None


def check_move(
    from_lat: float,
    from_lon: float,
    from_altitude_m: int | None,
    from_time: float,
    lat: float,
    lon: float,
    altitude_m: int | None,
    time: float,
    max_speed_kmh: float,
    settings: PipelineSettings,
) -> Reason | None:
    """Could the object have moved from the first report to the second? Slack covers clock rounding
    and GPS noise; altitudes are compared only when both reports carry one."""
    elapsed_s = max(time - from_time, 0.0) + settings.time_slack_s
    allowed_m = max_speed_kmh / 3.6 * elapsed_s + settings.distance_slack_m
    if distance_km(from_lat, from_lon, lat, lon) * 1000.0 > allowed_m:
        return Reason.TOO_FAST
    if (
        altitude_m is not None
        and from_altitude_m is not None
        and abs(altitude_m - from_altitude_m)
        > settings.max_vertical_speed_ms * elapsed_s + settings.altitude_slack_m
    ):
        return Reason.TOO_STEEP
    return None


# --- per-address state ---------------------------------------------------------------------------


class Standing:
    """What the validator knows about one address: its score, the last accepted position (the
    anchor) and the one before it."""

    __slots__ = (
        "altitude_m",
        "distress",
        "emitted",
        "held",
        "lat",
        "lon",
        "previous",
        "score",
        "seen",
        "time",
        "visible",
    )

    def __init__(
        self,
        lat: float,
        lon: float,
        altitude_m: int | None,
        time: float,
        seen: float,
        score: int,
        visible: bool,
    ) -> None:
        self.lat = lat
        self.lon = lon
        self.altitude_m = altitude_m
        self.time = time
        """Timestamp of the anchor (the last accepted position)."""
        self.previous: tuple[float, float, int | None, float] | None = None
        """The anchor before: (lat, lon, altitude, time)."""
        self.seen = seen
        """``now`` at the last report of any kind (for forgetting candidates)."""
        self.score = score
        self.visible = visible
        self.distress = False
        """The last accepted report was a distress call: rejected reports do not hide the address."""
        self.held: list[TrackPoint] = []
        """Track points of an address not yet visible; the pipeline hands them over when it appears."""
        self.emitted = -math.inf
        """``now`` when the world last emitted a change for this address (change coalescing)."""

    def hold(self, point: TrackPoint) -> None:
        if len(self.held) < _MAX_HELD_POINTS:
            self.held.append(point)

    def __repr__(self) -> str:
        return (
            f"Standing(score={self.score}, visible={self.visible}, lat={self.lat:.5f}, lon={self.lon:.5f}, "
            f"altitude_m={self.altitude_m}, time={self.time})"
        )


class Validator:
    """Applies the rules and keeps the standings; time and settings come in, nothing is read."""

    __slots__ = ("_forget_at", "_settings", "standings")

    def __init__(self, settings: PipelineSettings) -> None:
        self._settings = settings
        self.standings: dict[int, Standing] = {}
        self._forget_at: Deadlines[int] = Deadlines()
        """When each standing is ``candidate_forget_s`` past its ``seen`` (see :meth:`forget`)."""

    def check_report(self, addr: int, station: str, timestamp: float, now: float) -> Reason | None:
        """The checks every report gets: address (against the receiving station) and timestamp. No
        state changes."""
        reason = check_address(addr, station)
        if reason is not None:
            return reason
        s = self._settings
        return check_time(timestamp, now, s.max_age_s, s.max_future_s)

    def check_values(self, lat: float, lon: float, altitude_m: int | None) -> Reason | None:
        s = self._settings
        reason = check_position(lat, lon, s.null_island_deg)
        if reason is None and altitude_m is not None:
            reason = check_altitude(altitude_m, s.min_altitude_m, s.max_altitude_m)
        return reason

    def position(
        self,
        addr: int,
        lat: float,
        lon: float,
        altitude_m: int | None,
        time: float,
        now: float,
        max_speed_kmh: float,
        *,
        urgent: bool = False,
    ) -> Reason | None:
        """Judge a position report (already through :meth:`check_report`; ``time`` at most ``now``).

        Afterwards ``standings[addr]`` exists when the report was accepted, and its ``visible``
        says whether the address is on the map; a rejected report may have hidden it.
        """
        s = self._settings
        st = self.standings.get(addr)
        reason = self.check_values(lat, lon, altitude_m)
        if reason is not None:
            if st is not None:
                self._seen(addr, st, now)
                self._penalise(st)
            return reason
        if st is None:
            score = max(s.score_initial, s.appear_score) if urgent else s.score_initial
            st = self.standings[addr] = Standing(
                lat, lon, altitude_m, time, now, score, score >= s.appear_score
            )
            st.distress = urgent
            self._file(addr, now)
            return None
        self._seen(addr, st, now)
        if time < st.time - s.reorder_tolerance_s:
            return Reason.OUT_OF_ORDER
        if urgent:
            st.score = max(st.score, s.appear_score)
        else:
            reason = check_move(
                st.lat, st.lon, st.altitude_m, st.time, lat, lon, altitude_m, time, max_speed_kmh, s
            )
            previous = st.previous
            if (
                reason is not None
                and previous is not None
                and check_move(*previous, lat, lon, altitude_m, time, max_speed_kmh, s) is None
            ):
                # The anchor was the odd one out (a phantom just within reach): this report replaces
                # it, and the score stays (the phantom's reward stands in for this report's).
                st.lat, st.lon, st.altitude_m = lat, lon, altitude_m
                st.time = max(previous[3], time)
                st.distress = urgent
                if st.held:
                    st.held.pop()
                return None
            if reason is not None:
                self._penalise(st)
                if st.score < s.disappear_score and not st.distress:
                    st.lat, st.lon, st.altitude_m, st.time = lat, lon, altitude_m, time
                    st.previous = None
                    st.score = s.score_initial
                    st.visible = st.score >= s.appear_score
                    st.held.clear()
                return reason
            score = st.score + s.score_reward
            st.score = score if score < s.score_max else s.score_max
        st.previous = (st.lat, st.lon, st.altitude_m, st.time)
        st.lat = lat
        st.lon = lon
        st.altitude_m = altitude_m
        st.time = max(st.time, time)
        st.distress = urgent
        if not st.visible and st.score >= s.appear_score:
            st.visible = True
        return None

    def thermal(self, addr: int, lat: float, lon: float, altitude_m: int, time: float) -> Reason | None:
        """Judge a thermal report (already through :meth:`check_report`)."""
        reason = self.check_values(lat, lon, altitude_m)
        if reason is None:
            st = self.standings.get(addr)
            if st is not None and st.visible:
                reason = check_near_reporter(st.lat, st.lon, st.time, lat, lon, time, self._settings)
        return reason

    def restore(
        self, addr: int, lat: float, lon: float, altitude_m: int | None, time: float, distress: bool = False
    ) -> None:
        """An object that was on the map before a restart: visible, with full standing."""
        st = self.standings.get(addr)
        if st is None or time >= st.time:
            st = self.standings[addr] = Standing(
                lat, lon, altitude_m, time, time, self._settings.score_max, True
            )
            st.distress = distress
            self._file(addr, time)

    def forget(self, now: float, on_map: Callable[[int], bool]) -> None:
        """Drop addresses silent for ``candidate_forget_s`` that have nothing on the map (never made it
        there, or were hidden)."""
        for addr in self._forget_at.due(now):
            if on_map(addr):  # kept; when it leaves the map unheard (expiry), the sweep drops it
                self._file(addr, now)
            else:
                del self.standings[addr]

    def drop(self, addr: int) -> None:
        """Forget an address's standing now (it proves itself again when it is back)."""
        if self.standings.pop(addr, None) is not None:
            self._forget_at.discard(addr)

    def _seen(self, addr: int, st: Standing, now: float) -> None:
        st.seen = now
        self._file(addr, now)

    def _file(self, addr: int, seen: float) -> None:
        """File the standing to be forgotten ``candidate_forget_s`` after ``seen`` (see :meth:`forget`)."""
        self._forget_at.set(addr, seen + self._settings.candidate_forget_s)

    def _penalise(self, st: Standing) -> None:
        s = self._settings
        st.score = max(st.score - s.score_penalty, s.score_min)
        if st.score < s.disappear_score and not st.distress:
            st.visible = False
