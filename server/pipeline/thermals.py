"""Thermals: reports of the same thermal merged into one object with a stable id.

A report joins the nearest known thermal within ``thermal_merge_m`` horizontally,
``thermal_merge_altitude_m`` vertically and ``thermal_merge_s`` of its last report; otherwise it
starts a new thermal. Merging:

- position, altitude, climb and quality are running means over the reports, where the newest
  weighs at least ``1 / thermal_average_reports`` (the thermal sits at the centre of its reports,
  and a thermal that drifts with the wind follows);
- wind speed and heading are the newest report's (wind changes; averaging headings is wrong anyway);
- ``addr`` is the newest reporter, ``last_update`` the newest report time, ``reports`` the count.

The id is ``reporter address << 32 | first report's unix second`` (bumped on the rare collision):
stable across restarts once the store returns the thermal, and unique across replicas in practice.
A grid of cells about 1 km wide finds the neighbours without scanning every thermal.
"""

import math
from dataclasses import dataclass

from fanet.proto import Thermal as ThermalReport
from fanet.server.model import Action, Thermal
from fanet.server.pipeline.deadlines import Deadlines
from fanet.server.pipeline.settings import PipelineSettings
from fanet.server.store.base import distance_km

_CELL_DEG = 0.01
_M_PER_DEG_LAT = 111_195.0

Cell = tuple[int, int]


@dataclass(slots=True)
class _Means:
    """Unrounded running means behind a published thermal (quality is published as an integer)."""

    lat: float
    lon: float
    altitude_m: float
    climb_ms: float
    quality: float


def _cell(lat: float, lon: float) -> Cell:
    return (math.floor(lat / _CELL_DEG), math.floor(lon / _CELL_DEG))


class ThermalMap:
    """The live thermals, indexed by id and by grid cell."""

    __slots__ = ("_cells", "_deadlines", "_means", "_settings", "thermals")

    def __init__(self, settings: PipelineSettings) -> None:
        self._settings = settings
        self.thermals: dict[int, Thermal] = {}
        self._means: dict[int, _Means] = {}
        self._cells: dict[Cell, set[int]] = {}
        self._deadlines: Deadlines[int] = Deadlines()
        """When each thermal is gone (``thermal_gone_after_s`` after its ``last_update``)."""

    def report(self, addr: int, report: ThermalReport, time: float) -> tuple[Action, Thermal]:
        """Merge or add one (validated) report; returns ADD or UPDATE and the thermal as it is now."""
        near = self._nearest(report.lat, report.lon, report.altitude_m, time)
        if near is None:
            return Action.ADD, self._add(addr, report, time)
        return Action.UPDATE, self._merge(near, addr, report, time)

    def remove(self, thermal_id: int) -> Thermal | None:
        thermal = self.thermals.pop(thermal_id, None)
        if thermal is not None:
            del self._means[thermal_id]
            self._unindex(thermal_id, thermal)
            self._deadlines.discard(thermal_id)
        return thermal

    def expire(self, now: float) -> list[Thermal]:
        """Remove the thermals gone at ``now`` (no report for ``thermal_gone_after_s``); returns them."""
        gone = [self.remove(thermal_id) for thermal_id in self._deadlines.due(now)]
        return [thermal for thermal in gone if thermal is not None]

    def restore(self, thermal: Thermal) -> None:
        self.remove(thermal.id)
        self._put(
            thermal, _Means(thermal.lat, thermal.lon, thermal.altitude_m, thermal.climb_ms, thermal.quality)
        )

    def _nearest(self, lat: float, lon: float, altitude_m: int, time: float) -> Thermal | None:
        s = self._settings
        row, col = _cell(lat, lon)
        rows = math.ceil(s.thermal_merge_m / (_CELL_DEG * _M_PER_DEG_LAT))
        cos_lat = max(math.cos(math.radians(lat)), 1e-3)
        cols = min(math.ceil(s.thermal_merge_m / (_CELL_DEG * _M_PER_DEG_LAT * cos_lat)), 18_000)
        best: Thermal | None = None
        best_km = s.thermal_merge_m / 1000.0
        for r in range(row - rows, row + rows + 1):
            for c in range(col - cols, col + cols + 1):
                ids = self._cells.get((r, c))
                if not ids:
                    continue
                for thermal_id in ids:
                    t = self.thermals[thermal_id]
                    if abs(t.altitude_m - altitude_m) > s.thermal_merge_altitude_m:
                        continue
                    if abs(time - t.last_update) > s.thermal_merge_s:
                        continue
                    km = distance_km(t.lat, t.lon, lat, lon)
                    if km <= best_km:
                        best, best_km = t, km
        return best

    def _add(self, addr: int, r: ThermalReport, time: float) -> Thermal:
        thermal_id = addr << 32 | (int(time) & 0xFFFFFFFF)
        while thermal_id in self.thermals:
            thermal_id += 1
        thermal = Thermal(
            thermal_id,
            addr,
            r.lat,
            r.lon,
            r.altitude_m,
            r.quality,
            r.climb_ms,
            r.wind_speed_kmh,
            r.wind_heading_deg,
            time,
        )
        self._put(thermal, _Means(r.lat, r.lon, r.altitude_m, r.climb_ms, r.quality))
        return thermal

    def _merge(self, old: Thermal, addr: int, r: ThermalReport, time: float) -> Thermal:
        reports = old.reports + 1
        weight = 1.0 / min(reports, self._settings.thermal_average_reports)
        m = self._means[old.id]
        m.lat += (r.lat - m.lat) * weight
        m.lon += (r.lon - m.lon) * weight
        m.altitude_m += (r.altitude_m - m.altitude_m) * weight
        m.climb_ms += (r.climb_ms - m.climb_ms) * weight
        m.quality += (r.quality - m.quality) * weight
        thermal = Thermal(
            old.id,
            addr,
            m.lat,
            m.lon,
            round(m.altitude_m),
            min(max(round(m.quality), 0), 7),
            round(m.climb_ms, 2),
            r.wind_speed_kmh,
            r.wind_heading_deg,
            max(time, old.last_update),
            reports,
        )
        self._unindex(old.id, old)
        self._put(thermal, m)
        return thermal

    def _put(self, thermal: Thermal, means: _Means) -> None:
        self.thermals[thermal.id] = thermal
        self._means[thermal.id] = means
        self._cells.setdefault(_cell(thermal.lat, thermal.lon), set()).add(thermal.id)
        self._deadlines.set(thermal.id, thermal.last_update + self._settings.thermal_gone_after_s)

    def _unindex(self, thermal_id: int, thermal: Thermal) -> None:
        cell = _cell(thermal.lat, thermal.lon)
        ids = self._cells.get(cell)
        if ids is not None:
            ids.discard(thermal_id)
            if not ids:
                del self._cells[cell]
