"""The live world: validated reports applied to pilots, ground objects, weather stations and thermals.

Each handler takes one decoded report (the sender's address, the receiving station, the payload, the
station's timestamp and ``now``), asks the :class:`~fanet.server.pipeline.validate.Validator` about
it, updates the world and appends :class:`~fanet.server.model.PendingChange` records (and pilots'
track points) to the caller's lists. It returns the report's :data:`~fanet.server.pipeline.stats.Outcome`.

Rules of the world:

- An address is on the map only while its standing is visible; a report that hides it removes every
  object of that address. Reports of an address that is still proving itself are held: nothing is
  emitted, and its track points are handed over when it appears.
- One device is one object: when an address switches between air and ground tracking (a pilot
  lands, a walker takes off) the object of the other kind is removed first.
- Names are remembered per address for ``name_memory_s`` and apply to pilots, ground objects and
  weather stations alike, whether the name comes before or after the first position.
- Weather stations: a service frame with temperature, wind, humidity or pressure. Each report
  replaces all readings (a reading missing from a frame is gone, not remembered). A service frame
  without weather is a pilot's battery level when the pilot is on the map, a gateway beacon when
  the gateway bit is set, and ignored otherwise.
- Changes to a ground object in a distress state, and leaving that state, are urgent.
- Time of a change and ``last_update``: the station's receive time, never later than ``now``.
- Coalescing: an UPDATE whose only difference is ``last_update`` is skipped when the object's last
  change is younger than ``min_update_interval_s`` (default 0: every accepted report is an UPDATE,
  so clients see that a pilot is alive). The state is updated either way, and expiry works on it.
"""

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

from fanet.proto import DISTRESS_GROUND_TYPES, AircraftType, AirTracking, GroundTracking, Name, Service
from fanet.proto import Thermal as ThermalReport
from fanet.server.model import (
    Action,
    GroundObject,
    LiveObject,
    PendingChange,
    Pilot,
    Thermal,
    TrackPoint,
    WeatherStation,
)
from fanet.server.pipeline.deadlines import Deadlines
from fanet.server.pipeline.expiry import gone_after_s
from fanet.server.pipeline.settings import PipelineSettings
from fanet.server.pipeline.stats import Outcome, PipelineStats, Skip
from fanet.server.pipeline.thermals import ThermalMap
from fanet.server.pipeline.validate import Standing, Validator

Handler = Callable[[int, str, Any, float, float, list[PendingChange], list[tuple[int, TrackPoint]]], Outcome]
"""``(addr, receiving station, payload, station timestamp, now, changes out, track points out) ->
outcome``."""

Addressed = Pilot | GroundObject | WeatherStation

_ADD, _UPDATE, _REMOVE = Action.ADD, Action.UPDATE, Action.REMOVE


def _compared_fields(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls) if f.name != "last_update")


_COMPARED = {cls: _compared_fields(cls) for cls in (Pilot, GroundObject, WeatherStation)}


def same_but_time(old: Addressed, new: Addressed) -> bool:
    """True when two states of an object differ in nothing but ``last_update``."""
    return type(old) is type(new) and all(getattr(old, n) == getattr(new, n) for n in _COMPARED[type(new)])


def clean_name(text: str) -> str:
    """A name as shown: printable characters only, outer whitespace stripped."""
    if not text.isprintable():
        text = "".join(ch for ch in text if ch.isprintable())
    return text.strip()


_A = TypeVar("_A", Pilot, GroundObject, WeatherStation)


def _remove(
    objects: dict[int, _A], deadlines: Deadlines[int], addr: int, time: float, changes: list[PendingChange]
) -> None:
    deadlines.discard(addr)
    changes.append(PendingChange(_REMOVE, objects.pop(addr), time))


def _rename(objects: dict[int, _A], addr: int, name: str, time: float, changes: list[PendingChange]) -> None:
    old = objects.get(addr)
    if old is not None and old.name != name:
        new = objects[addr] = dataclasses.replace(old, name=name)
        urgent = isinstance(new, GroundObject) and new.distress
        changes.append(PendingChange(_UPDATE, new, time, urgent))


class World:
    """Pilots, ground objects and weather stations by address; thermals by id (in ``thermals``).

    Each table has its :class:`~.deadlines.Deadlines`: when each object is gone (``*_gone_after_s``
    after its ``last_update``) and when each name is forgotten, kept as they are written, so that the
    expiry sweep looks only at what fell due.
    """

    __slots__ = (
        "_ground_speed",
        "_interval",
        "_settings",
        "_speed",
        "_stats",
        "ground",
        "ground_deadlines",
        "name_deadlines",
        "names",
        "pilot_deadlines",
        "pilots",
        "station_deadlines",
        "stations",
        "thermals",
        "validator",
    )

    def __init__(
        self, settings: PipelineSettings, validator: Validator, thermals: ThermalMap, stats: PipelineStats
    ) -> None:
        self._stats = stats
        self._speed = tuple(settings.max_speed_kmh[t] for t in AircraftType)
        self._ground_speed = settings.ground_max_speed_kmh
        self._interval = settings.min_update_interval_s
        self.validator = validator
        self.thermals = thermals
        self.pilots: dict[int, Pilot] = {}
        self.ground: dict[int, GroundObject] = {}
        self.stations: dict[int, WeatherStation] = {}
        self.names: dict[int, tuple[str, float]] = {}
        """Address → (name, ``now`` when last received)."""
        self._settings = settings
        self.pilot_deadlines: Deadlines[int] = Deadlines()
        self.ground_deadlines: Deadlines[int] = Deadlines()
        self.station_deadlines: Deadlines[int] = Deadlines()
        self.name_deadlines: Deadlines[int] = Deadlines()

    # --- handlers ----------------------------------------------------------------------------

    def air(
        self,
        addr: int,
        station: str,
        p: AirTracking,
        timestamp: float,
        now: float,
        changes: list[PendingChange],
        points: list[tuple[int, TrackPoint]],
    ) -> Outcome:
        v = self.validator
        reason = v.check_report(addr, station, timestamp, now)
        if reason is not None:
            return reason
        time = timestamp if timestamp < now else now
        reason = v.position(addr, p.lat, p.lon, p.altitude_m, time, now, self._speed[p.aircraft_type])
        st = v.standings.get(addr)
        if reason is not None:
            if st is None or not st.visible:
                self._hide(addr, time, changes)
            return reason
        assert st is not None
        point = TrackPoint(p.lat, p.lon, p.altitude_m, p.speed_kmh, p.climb_ms, time)
        if not st.visible:
            st.hold(point)
            self._stats.held += 1
            return None
        if st.held:
            self._release(addr, st, points)
        points.append((addr, point))
        if addr in self.ground:
            _remove(self.ground, self.ground_deadlines, addr, time, changes)
        old = self.pilots.get(addr)
        named = self.names.get(addr)
        pilot = Pilot(
            addr,
            p.lat,
            p.lon,
            p.altitude_m,
            p.aircraft_type,
            p.speed_kmh,
            p.climb_ms,
            p.heading_deg,
            p.online,
            time,
            named[0] if named is not None else "" if old is None else old.name,
            None if old is None else old.battery_pct,
            p.turn_rate_dps,
        )
        self._put(self.pilots, self.pilot_deadlines, pilot)
        self._emit(old, pilot, st, time, now, changes, False)
        return None

    def ground_tracking(
        self,
        addr: int,
        station: str,
        p: GroundTracking,
        timestamp: float,
        now: float,
        changes: list[PendingChange],
        points: list[tuple[int, TrackPoint]],
    ) -> Outcome:
        v = self.validator
        reason = v.check_report(addr, station, timestamp, now)
        if reason is not None:
            return reason
        time = timestamp if timestamp < now else now
        urgent = p.ground_type in DISTRESS_GROUND_TYPES
        reason = v.position(addr, p.lat, p.lon, None, time, now, self._ground_speed, urgent=urgent)
        st = v.standings.get(addr)
        if reason is not None:
            if st is None or not st.visible:
                self._hide(addr, time, changes)
            return reason
        assert st is not None
        if not st.visible:
            self._stats.held += 1
            return None
        if st.held:
            self._release(addr, st, points)
        if addr in self.pilots:
            _remove(self.pilots, self.pilot_deadlines, addr, time, changes)
        old = self.ground.get(addr)
        named = self.names.get(addr)
        obj = GroundObject(
            addr,
            p.lat,
            p.lon,
            p.ground_type,
            p.online,
            time,
            named[0] if named is not None else "" if old is None else old.name,
        )
        self._put(self.ground, self.ground_deadlines, obj)
        # Leaving a distress state is as urgent as entering it: the rescuers want to know.
        self._emit(old, obj, st, time, now, changes, urgent or (old is not None and old.distress))
        return None

    def service(
        self,
        addr: int,
        station: str,
        p: Service,
        timestamp: float,
        now: float,
        changes: list[PendingChange],
        points: list[tuple[int, TrackPoint]],
    ) -> Outcome:
        if (
            p.temperature_c is None
            and p.wind_speed_kmh is None
            and p.humidity_pct is None
            and p.pressure_hpa is None
        ):
            return self._battery(addr, station, p, timestamp, now, changes)
        v = self.validator
        reason = v.check_report(addr, station, timestamp, now)
        if reason is not None:
            return reason
        time = timestamp if timestamp < now else now
        lat = 0.0 if p.lat is None else p.lat  # the codec guarantees a position with weather data
        lon = 0.0 if p.lon is None else p.lon
        reason = v.position(addr, lat, lon, None, time, now, self._ground_speed)
        st = v.standings.get(addr)
        if reason is not None:
            if st is None or not st.visible:
                self._hide(addr, time, changes)
            return reason
        assert st is not None
        if not st.visible:
            self._stats.held += 1
            return None
        if st.held:
            self._release(addr, st, points)
        old = self.stations.get(addr)
        named = self.names.get(addr)
        weather = WeatherStation(
            addr,
            lat,
            lon,
            time,
            named[0] if named is not None else "" if old is None else old.name,
            p.temperature_c,
            p.wind_heading_deg,
            p.wind_speed_kmh,
            p.wind_gust_kmh,
            p.humidity_pct,
            p.pressure_hpa,
            p.battery_pct,
        )
        self._put(self.stations, self.station_deadlines, weather)
        self._emit(old, weather, st, time, now, changes, False)
        return None

    def name(
        self,
        addr: int,
        station: str,
        p: Name,
        timestamp: float,
        now: float,
        changes: list[PendingChange],
        points: list[tuple[int, TrackPoint]],
    ) -> Outcome:
        reason = self.validator.check_report(addr, station, timestamp, now)
        if reason is not None:
            return reason
        text = clean_name(p.name)
        if not text:
            return Skip.EMPTY_NAME
        self._put_name(addr, text, now)
        time = timestamp if timestamp < now else now
        _rename(self.pilots, addr, text, time, changes)
        _rename(self.ground, addr, text, time, changes)
        _rename(self.stations, addr, text, time, changes)
        return None

    def thermal(
        self,
        addr: int,
        station: str,
        p: ThermalReport,
        timestamp: float,
        now: float,
        changes: list[PendingChange],
        points: list[tuple[int, TrackPoint]],
    ) -> Outcome:
        v = self.validator
        reason = v.check_report(addr, station, timestamp, now)
        if reason is not None:
            return reason
        time = timestamp if timestamp < now else now
        reason = v.thermal(addr, p.lat, p.lon, p.altitude_m, time)
        if reason is not None:
            return reason
        action, thermal = self.thermals.report(addr, p, time)
        changes.append(PendingChange(action, thermal, time))
        return None

    # --- restore and removal -----------------------------------------------------------------

    def restore(self, obj: LiveObject) -> None:
        """Put back an object a store returned after a restart: visible, with full standing."""
        if isinstance(obj, Thermal):
            self.thermals.restore(obj)
            return
        if isinstance(obj, Pilot):
            self._put(self.pilots, self.pilot_deadlines, obj)
            altitude: int | None = obj.altitude_m
        elif isinstance(obj, GroundObject):
            self._put(self.ground, self.ground_deadlines, obj)
            altitude = None
        else:
            self._put(self.stations, self.station_deadlines, obj)
            altitude = None
        distress = isinstance(obj, GroundObject) and obj.distress
        self.validator.restore(obj.addr, obj.lat, obj.lon, altitude, obj.last_update, distress)
        known = self.names.get(obj.addr)
        if obj.name and (known is None or known[1] < obj.last_update):
            self._put_name(obj.addr, obj.name, obj.last_update)

    def on_map(self, addr: int) -> bool:
        return addr in self.pilots or addr in self.ground or addr in self.stations

    def _hide(self, addr: int, time: float, changes: list[PendingChange]) -> None:
        if addr in self.pilots:
            _remove(self.pilots, self.pilot_deadlines, addr, time, changes)
        if addr in self.ground:
            _remove(self.ground, self.ground_deadlines, addr, time, changes)
        if addr in self.stations:
            _remove(self.stations, self.station_deadlines, addr, time, changes)

    # --- what is written, with when it is gone -----------------------------------------------
    # (A rename or a battery level keeps ``last_update`` and the ground type: the deadline stays.)

    def _put(self, objects: dict[int, _A], deadlines: Deadlines[int], obj: _A) -> None:
        objects[obj.addr] = obj
        deadlines.set(obj.addr, obj.last_update + gone_after_s(obj, self._settings))

    def _put_name(self, addr: int, name: str, heard: float) -> None:
        self.names[addr] = (name, heard)
        self.name_deadlines.set(addr, heard + self._settings.name_memory_s)

    # --- helpers -----------------------------------------------------------------------------

    @staticmethod
    def _release(addr: int, st: Standing, points: list[tuple[int, TrackPoint]]) -> None:
        """The air positions an address reported while proving itself join its track once it appears."""
        points.extend([(addr, held) for held in st.held])
        st.held.clear()

    def _battery(
        self, addr: int, station: str, p: Service, timestamp: float, now: float, changes: list[PendingChange]
    ) -> Outcome:
        """A service frame without weather: a gateway beacon, or a pilot's device reporting its battery."""
        old = self.pilots.get(addr)
        if p.battery_pct is None or old is None:
            return Skip.GATEWAY_BEACON if p.gateway else Skip.SERVICE_WITHOUT_WEATHER
        reason = self.validator.check_report(addr, station, timestamp, now)
        if reason is not None:
            return reason
        if old.battery_pct != p.battery_pct:
            new = dataclasses.replace(old, battery_pct=p.battery_pct)
            self.pilots[addr] = new
            changes.append(PendingChange(_UPDATE, new, timestamp if timestamp < now else now))
        return None

    def _emit(
        self,
        old: Addressed | None,
        new: Addressed,
        st: Standing,
        time: float,
        now: float,
        changes: list[PendingChange],
        urgent: bool,
    ) -> None:
        if old is None:
            changes.append(PendingChange(_ADD, new, time, urgent))
        elif (
            self._interval > 0
            and not urgent
            and now - st.emitted < self._interval
            and same_but_time(old, new)
        ):
            return
        else:
            changes.append(PendingChange(_UPDATE, new, time, urgent))
        st.emitted = now
