"""The memory store's spatial index: objects in a grid of small latitude/longitude cells.

A cell is 1/8° (about 14 × 10 km in the Alps), so a valley-sized query touches a handful of cells and
looks at little more than what it finds. The size is a power of two so that a coordinate's cell and a
cell's edges are exact in binary floating point. A query walks the rows of cells its area can reach and,
per row, works out two spans of columns: the cells that can hold a point of the area (the others are
never looked at) and the cells wholly inside it, whose objects are taken without a test. The caller
tests the objects of the remaining cells (:meth:`Grid.near` returns them apart), so the answer is the
exact filter's and a 200 km query tests only the objects near its rim.

Longitudes are read modulo 360°: a span may run past ±180°. ``lon == 180`` gets a column of its own
(the first beyond 180°), which is never taken as inside, since a box across the antimeridian holds
-180 but not 180 unless its east edge is 180.
"""

import functools
import math
from dataclasses import dataclass

from fanet.server.model import LiveObject
from fanet.server.store.base import EARTH_RADIUS_KM, Area, Bounds, Circle, distance_km

CELLS_PER_DEGREE = 8
_COLUMNS = 360 * CELLS_PER_DEGREE
_LON_180 = 180 * CELLS_PER_DEGREE
"""The column of ``lon == 180`` (the meridian of -180, a column of its own)."""

_OUTER_MARGIN_DEG = 1e-5
"""Widens the reachable span: rounding in its trigonometry must never hide a cell (~1 m)."""
_INNER_MARGIN_KM = 1e-3
"""A cell counts as inside a circle only with its corners 1 m within the rim, far beyond the rounding
of :func:`~fanet.server.store.base.distance_km` (even near the antipode)."""

Cell = tuple[int, int]


def cell_of(lat: float, lon: float) -> Cell:
    return math.floor(lat * CELLS_PER_DEGREE), math.floor(lon * CELLS_PER_DEGREE)


@dataclass(frozen=True, slots=True)
class _Span:
    """Consecutive columns from ``first`` (which may lie beyond ±180°), modulo 360°."""

    first: int
    count: int

    @classmethod
    def between(cls, west: float, east: float) -> "_Span":
        """The columns holding longitudes ``west..east`` (``east >= west``, both may pass ±180)."""
        first = math.floor(west * CELLS_PER_DEGREE)
        return cls(first, min(math.floor(east * CELLS_PER_DEGREE) - first + 1, _COLUMNS))

    def holds(self, column: int) -> bool:
        return (column - self.first) % _COLUMNS < self.count

    def columns(self) -> list[int]:
        """The span's columns as cells name them, with the column of ``lon == 180`` beside -180's."""
        columns = [
            (column + _LON_180) % _COLUMNS - _LON_180 for column in range(self.first, self.first + self.count)
        ]
        if -_LON_180 in columns:
            columns.append(_LON_180)
        return columns


_NOWHERE = _Span(0, 0)


class _BoxCover:
    """Cells of a latitude/longitude box: inside when within its edges."""

    def __init__(self, box: Bounds) -> None:
        self.south, self.north = box.south, box.north
        self.rows = range(
            math.floor(box.south * CELLS_PER_DEGREE), math.floor(box.north * CELLS_PER_DEGREE) + 1
        )
        # A box compares longitudes as numbers: what lies beyond ±180° holds no object.
        self.west, self.east = max(box.west, -180.0), min(box.east, 180.0)
        # Across the antimeridian (-180 and 180 both within) the east edge's columns count on past
        # 180°, in integers: adding 360 to a longitude would round.
        self.east_shift = 0
        if box.west > box.east:
            if box.west > 180:
                self.west = -180.0
            elif box.east < -180:
                self.east = 180.0
            else:
                self.east_shift = _COLUMNS
        first = math.floor(self.west * CELLS_PER_DEGREE)
        last = math.floor(self.east * CELLS_PER_DEGREE) + self.east_shift
        self.reach = _Span(first, max(0, min(last - first + 1, _COLUMNS)))

    def spans(self, row: int) -> tuple[_Span, _Span]:
        """Columns of this row that may hold a point of the box, and those wholly inside it."""
        if not (self.south <= row / CELLS_PER_DEGREE and (row + 1) / CELLS_PER_DEGREE <= self.north):
            return self.reach, _NOWHERE
        first = math.ceil(self.west * CELLS_PER_DEGREE)
        last = math.floor(self.east * CELLS_PER_DEGREE) - 1 + self.east_shift
        return self.reach, _Span(first, max(0, last - first + 1))


class _CircleCover:
    """Cells of a circle: per row, the longitudes within the radius at the row's latitudes."""

    def __init__(self, circle: Circle) -> None:
        self.circle = circle
        self.box = _BoxCover(circle.covering_bounds())
        self.rows, self.reach = self.box.rows, self.box.reach
        self.by_row: dict[int, tuple[_Span, _Span]] = {}
        """Spans worked out so far: a snapshot asks for every kind in the same circle."""
        angle = min(circle.radius_km / EARTH_RADIUS_KM, math.pi)  # an infinite radius: everywhere
        self.sin_lat, self.cos_lat = math.sin(math.radians(circle.lat)), math.cos(math.radians(circle.lat))
        self.cos_radius = math.cos(angle)
        # The per-row reach needs a circle narrower than a hemisphere, around no pole: its width then
        # grows towards the latitude where it is widest and shrinks beyond.
        self.narrow = angle < math.pi / 2 * 0.99 and self.reach.count < _COLUMNS
        if self.narrow:
            self.widest_lat = math.degrees(math.asin(max(-1.0, min(1.0, self.sin_lat / self.cos_radius))))

    def spans(self, row: int) -> tuple[_Span, _Span]:
        """Columns of this row that may hold a point of the circle, and those wholly inside it."""
        spans = self.by_row.get(row)
        if spans is None:
            spans = self.by_row[row] = self._spans(row)
        return spans

    def _spans(self, row: int) -> tuple[_Span, _Span]:
        south, north = row / CELLS_PER_DEGREE, (row + 1) / CELLS_PER_DEGREE
        reach = self.reach
        if self.narrow:
            half_width = self._half_width(min(max(self.widest_lat, south), north))
            if half_width is not None:
                half_width = max(half_width, 0.0) + _OUTER_MARGIN_DEG
                reach = _Span.between(self.circle.lon - half_width, self.circle.lon + half_width)
        return reach, self._inside(south, north)

    def _half_width(self, lat: float) -> float | None:
        """Degrees of longitude either side of the centre's meridian within the radius at ``lat``: -1
        when no point of the parallel is, 180 when all are, ``None`` near a pole (no answer worth having)."""
        across = self.cos_lat * math.cos(math.radians(lat))
        if across < 1e-9:
            return None
        ratio = (self.cos_radius - self.sin_lat * math.sin(math.radians(lat))) / across
        if ratio > 1:
            return -1.0
        return 180.0 if ratio < -1 else math.degrees(math.acos(ratio))

    def _inside(self, south: float, north: float) -> _Span:
        """The row's cells wholly within the radius.

        Along a parallel the distance grows with the longitude difference, and along a meridian less
        than 90° from the centre's it has no maximum inside a segment; so a band of cells up to 90° of
        longitude from the centre is farthest from it at a corner, and the corners are checked with
        the very distance the exact test uses.
        """
        if north > 90:
            return _NOWHERE
        at_south, at_north = self._half_width(south), self._half_width(north)
        if at_south is None or at_north is None:
            return _NOWHERE
        half_width = min(at_south, at_north, 90.0)
        lat, lon = self.circle.lat, self.circle.lon
        first = math.ceil((lon - half_width) * CELLS_PER_DEGREE)
        last = math.floor((lon + half_width) * CELLS_PER_DEGREE) - 1
        limit = self.circle.radius_km - _INNER_MARGIN_KM

        def within(column: int) -> bool:
            edge = column / CELLS_PER_DEGREE
            return distance_km(lat, lon, south, edge) <= limit and distance_km(lat, lon, north, edge) <= limit

        while first <= last and not within(first):
            first += 1
        while first <= last and not within(last + 1):
            last -= 1
        return _Span(first, last - first + 1) if first <= last else _NOWHERE


@functools.lru_cache(maxsize=256)
def _circle_cover(circle: Circle) -> _CircleCover:
    return _CircleCover(circle)


class Grid:
    """Objects by cell; each object is in exactly one cell, the caller remembers which."""

    def __init__(self) -> None:
        self.cells: dict[Cell, dict[str, LiveObject]] = {}

    def put(self, key: str, obj: LiveObject, cell: Cell) -> None:
        self.cells.setdefault(cell, {})[key] = obj

    def discard(self, key: str, cell: Cell) -> None:
        objects = self.cells[cell]
        del objects[key]
        if not objects:
            del self.cells[cell]

    def near(self, area: Area) -> tuple[list[LiveObject], list[LiveObject]]:
        """The objects in cells wholly inside the area, and those in the other cells it reaches (which
        the caller tests)."""
        cover = _circle_cover(area) if isinstance(area, Circle) else _BoxCover(area)
        inside: list[LiveObject] = []
        edge: list[LiveObject] = []
        cells, rows = self.cells, cover.rows
        # Looking a cell up costs about a quarter of classifying one that holds something.
        if len(rows) * cover.reach.count <= 4 * len(cells):
            for row in rows:
                reach, inner = cover.spans(row)
                columns = reach.columns()
                start = (inner.first - reach.first) % _COLUMNS
                end = start + inner.count
                if end > reach.count:  # not within the reach (never so far): test everything
                    start = end = 0
                for column in columns[start:end]:
                    objects = cells.get((row, column))
                    if objects is not None:
                        inside.extend(objects.values())
                for column in (*columns[:start], *columns[end:]):
                    objects = cells.get((row, column))
                    if objects is not None:
                        edge.extend(objects.values())
        else:  # a vast area: fewer cells hold something than it reaches
            for (row, column), objects in cells.items():
                if row not in rows:
                    continue
                reach, inner = cover.spans(row)
                if reach.holds(column):
                    held = column != _LON_180 and inner.holds(column)
                    (inside if held else edge).extend(objects.values())
        return inside, edge
