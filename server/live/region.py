"""A client's region: the circle it subscribed to, and the geohash cells that cover it.

The cells are how a change finds its clients (:class:`~fanet.server.live.hub.Hub` indexes clients by
cell); the circle is what decides, exactly, whether an object is in the region. So the cover trades the
cells a client occupies in the index against the false positives a change brings (objects in a covering
cell but outside the circle, checked and dropped).

No single precision serves radii from 1 to 200 km: measured over 300 random regions (radius log-uniform in
1..200 km, latitude 35..65°), precision 4 gives 2 cells and ×169 over-coverage at 1 km, and ~2,000 cells
at 100 km. So each region takes the finest precision (at most 6) whose cover stays within
:data:`CELL_BUDGET` cells. Budgets measured (cells per region mean/max, covered area ÷ circle area
mean/p95): 16 → 6.5/16, ×4.4/×10; 32 → 12/32, ×2.8/×5.2; **64 → 23/63, ×2.0/×3.6**; 128 → 39/128,
×1.7/×2.5. 64 halves the false positives of 32 for twice the index entries, while 128 would double the
entries again for a sixth fewer; at 10,000 clients 64 means ≈ 230,000 index entries. A change then costs
one geohash encoding and six dictionary lookups (one per precision), whatever the number of clients.

Geohash cells come from ``pygeohash`` (its box enumeration walks the grid exactly); a box across the
antimeridian is split in two. A region keeps its cells once, as a sorted tuple of interned strings, so that
overlapping regions share the strings (:meth:`Region.covers`, off the hot path, bisects the tuple): with 1 to
10 km radii a region costs ≈ 1.3 kB, where a second copy of its cells in a set and strings of its own cost
≈ 3 kB.
"""

import math
import sys
from bisect import bisect_left
from dataclasses import dataclass, field

import pygeohash

from fanet.server.store import Bounds, Circle
from fanet.server.store.base import EARTH_RADIUS_KM

MIN_RADIUS_KM = 1
MAX_RADIUS_KM = 200
CELL_BUDGET = 64
"""The most cells a region's cover may hold (see the module docstring for the measurement)."""
MAX_PRECISION = 6
"""Cells of precision 6 are ≈ 1.2 × 0.6 km: finer would exceed the budget even at a 1 km radius."""

_LAT_BITS = [(5 * precision) // 2 for precision in range(MAX_PRECISION + 1)]
_LON_BITS = [(5 * precision + 1) // 2 for precision in range(MAX_PRECISION + 1)]


def cell_of(lat: float, lon: float) -> str:
    """The geohash of a position at :data:`MAX_PRECISION`; its prefixes are the coarser cells."""
    return pygeohash.encode(lat, lon, MAX_PRECISION)


@dataclass(frozen=True, slots=True)
class Point:
    """A position prepared for many :meth:`Region.holds` checks (the trigonometry done once)."""

    lat_rad: float
    lon_rad: float
    cos_lat: float

    @classmethod
    def at(cls, lat: float, lon: float) -> "Point":
        lat_rad = math.radians(lat)
        return cls(lat_rad, math.radians(lon), math.cos(lat_rad))


@dataclass(frozen=True, slots=True)
class Region:
    """A circle and its cover: ``cells``, sorted, all have ``precision`` characters."""

    circle: Circle
    precision: int
    cells: tuple[str, ...]
    _lat_rad: float = field(repr=False, compare=False)
    _lon_rad: float = field(repr=False, compare=False)
    _cos_lat: float = field(repr=False, compare=False)
    """The centre as :class:`Point` has it, held here: one object less to reach per check."""
    _haversine_max: float = field(repr=False, compare=False)
    """sin²(r / 2R): a point is in the circle when its haversine term is at most this."""

    @classmethod
    def around(cls, lat: float, lon: float, radius_km: float) -> "Region":
        """The region of a subscription; ``ValueError`` naming the value for a radius outside 1..200 km
        or a centre off the globe."""
        if not (math.isfinite(lat) and -90 <= lat <= 90 and math.isfinite(lon) and -180 <= lon <= 180):
            raise ValueError(f"centre ({lat}, {lon}) is not a position on the globe")
        if not MIN_RADIUS_KM <= radius_km <= MAX_RADIUS_KM:
            raise ValueError(f"radius {radius_km} km is outside {MIN_RADIUS_KM}..{MAX_RADIUS_KM} km")
        circle = Circle(lat, lon, radius_km)
        precision, cells = _cover(circle)
        haversine_max = math.sin(radius_km / (2 * EARTH_RADIUS_KM)) ** 2
        centre = Point.at(lat, lon)
        return cls(circle, precision, cells, centre.lat_rad, centre.lon_rad, centre.cos_lat, haversine_max)

    @property
    def terms(self) -> tuple[float, float, float, float]:
        """What :meth:`holds` compares with: the centre's latitude and longitude in radians, the cosine
        of its latitude, and sin²(r / 2R) (the fan-out keeps them in arrays, see :class:`~.index.CellIndex`)."""
        return self._lat_rad, self._lon_rad, self._cos_lat, self._haversine_max

    def contains(self, lat: float, lon: float) -> bool:
        """Whether a position is in the circle (edge included)."""
        return self.holds(Point.at(lat, lon))

    def holds(self, point: Point) -> bool:
        """:meth:`contains` for a prepared point: the haversine distance test of
        :func:`~fanet.server.store.distance_km` without the inverse trigonometry (the hot path of the
        fan-out: one call per change and candidate client)."""
        half_dlat = math.sin((point.lat_rad - self._lat_rad) / 2)
        half_dlon = math.sin((point.lon_rad - self._lon_rad) / 2)
        term = half_dlat * half_dlat + self._cos_lat * point.cos_lat * half_dlon * half_dlon
        return term <= self._haversine_max

    def covers(self, cell: str) -> bool:
        """Whether a position's cell (:func:`cell_of`) lies in one of the region's cells."""
        prefix, cells = cell[: self.precision], self.cells
        at = bisect_left(cells, prefix)
        return at < len(cells) and cells[at] == prefix


def _cover(circle: Circle) -> tuple[int, tuple[str, ...]]:
    """The finest cover within the budget: precision and cells (sorted, interned).

    Tried from the finest precision down, skipping without enumerating those whose box alone is far over
    budget or whose circle's area alone needs more cells than the budget (:func:`_fewest_cells`), so that
    a region usually enumerates one precision, not six: the cover was ≈ 45 % of handling a new client
    (py-spy, 10,000 connecting); 268 → 97 µs for 1–10 km radii, covers unchanged."""
    box = circle.covering_bounds()
    centre = Point.at(circle.lat, circle.lon)
    # The margin (0.1 % and 10 m) keeps rounding, and the nearest-point approximation of _touches, from
    # ever dropping a cell that holds part of the circle.
    reach = math.sin((circle.radius_km * 1.001 + 0.01) / (2 * EARTH_RADIUS_KM)) ** 2
    for precision in range(MAX_PRECISION, 0, -1):
        if _box_cells_estimate(box, precision) > 4 * CELL_BUDGET:
            continue  # the box alone is far over budget: enumerating it would only waste time
        if _fewest_cells(circle, precision) > CELL_BUDGET:
            continue  # the circle's own area needs more cells than the budget holds
        cells = [cell for cell in _cells_in_box(box, precision) if _touches(circle, centre, reach, cell)]
        if len(cells) <= CELL_BUDGET:
            return precision, tuple(sys.intern(cell) for cell in sorted(cells))
    # cannot happen for radii up to 200 km (precision 1 cells are ≥ 2,500 km tall)
    raise AssertionError(f"no geohash cover of {circle} within {CELL_BUDGET} cells")


def _fewest_cells(circle: Circle, precision: int) -> float:
    """A lower bound of the cells of one precision that a circle touches (they cover it): its area (a
    spherical cap) over the largest area such a cell can have (R² Δλ (sin φ₂ − sin φ₁) is at most
    R² Δλ Δφ cos φ for the cell's φ nearest the equator)."""
    reach_rad = circle.radius_km / EARTH_RADIUS_KM
    if reach_rad >= math.pi / 2:
        return 0.0
    cap = 2 * math.pi * (1 - math.cos(reach_rad))
    height = math.pi / (1 << _LAT_BITS[precision])
    width = 2 * math.pi / (1 << _LON_BITS[precision])
    # A touching cell may reach a cell's height further towards the equator than the circle does.
    nearest_equator = max(0.0, math.radians(abs(circle.lat)) - reach_rad - height)
    return cap / (width * height * math.cos(nearest_equator))


def _box_cells_estimate(box: Bounds, precision: int) -> float:
    height = 180.0 / (1 << _LAT_BITS[precision])
    width = 360.0 / (1 << _LON_BITS[precision])
    return ((box.north - box.south) / height + 1) * (box.width_deg / width + 1)


def _cells_in_box(box: Bounds, precision: int) -> list[str]:
    across_antimeridian = box.west > box.east
    parts = [(box.west, 180.0), (-180.0, box.east)] if across_antimeridian else [(box.west, box.east)]
    return [
        cell
        for west, east in parts
        for cell in pygeohash.geohashes_in_box(
            pygeohash.BoundingBox(box.south, west, box.north, east), precision
        )
    ]


def _touches(circle: Circle, centre: Point, reach: float, cell: str) -> bool:
    """Whether the cell's rectangle reaches into the circle: the cell's point nearest the centre (the
    centre clamped to the rectangle: exact along meridians; along parallels the true nearest point lies a
    little poleward, a second-order difference) is within ``reach``, the haversine term of the radius and
    a margin (the comparison :meth:`Region.holds` makes, without the inverse trigonometry of a distance)."""
    bounds = pygeohash.get_bounding_box(cell)
    lat = min(max(circle.lat, bounds.min_lat), bounds.max_lat)
    centre_lon = circle.lon  # on the cell's side of the antimeridian, so that clamping finds the nearest edge
    middle = (bounds.min_lon + bounds.max_lon) / 2
    if centre_lon - middle > 180:
        centre_lon -= 360
    elif middle - centre_lon > 180:
        centre_lon += 360
    lon = min(max(centre_lon, bounds.min_lon), bounds.max_lon)
    lat_rad = math.radians(lat)
    half_dlat = math.sin((lat_rad - centre.lat_rad) / 2)
    half_dlon = math.sin(math.radians(lon - centre_lon) / 2)
    return half_dlat * half_dlat + centre.cos_lat * math.cos(lat_rad) * half_dlon * half_dlon <= reach
