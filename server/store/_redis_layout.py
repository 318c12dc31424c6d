"""Where the Redis store keeps what: key names under one namespace, and how an area becomes a GEO search.

Key layout (``ns`` is the store's namespace, ``fanet`` by default):

============================  =========  ==========================================================
``ns:seq``                    string     the last sequence number handed out (INCRBY per batch)
``ns:changes``                stream     recent changes, entry id ``<sequence>-0``, field ``c`` = the
                                         encoded change; trimmed to the retained window
``ns:obj:<kind>:<key>``       string     one live object, encoded; expires ``object_ttl_s`` after its
                                         last write
``ns:geo:<kind>``             GEO zset   member = object key, for objects within ±85.05° latitude
``ns:polar:<kind>``           set        object keys beyond ±85.05°, where Redis GEO cannot index
``ns:track:<addr>``           zset       score = unix time, member = encoded track point; expires
                                         ``track_retention_s`` after its last write
``ns:tracks``                 zset       pilot address → time of its newest point (what to trim)
``ns:stations``               hash       base-station id → encoded base station
``ns:applied:<digest>``       string     first sequence number of a recently applied batch (retries)
============================  =========  ==========================================================

``<kind>`` is the :class:`~fanet.server.model.Kind` value (``pilot``, ``ground``, ``thermal``,
``station``). An area query asks Redis for a *covering* circle — padded for Redis's own earth radius and
its 52-bit geohash rounding — plus the polar members, then keeps exactly the objects that
:func:`~fanet.server.store.base.matches` selects, so the answer equals the memory store's to the metre.
"""

import math
from typing import Final

from fanet.server.model import Kind
from fanet.server.store.base import Area, Bounds, Circle, distance_km

GEO_LAT_LIMIT: Final = 85.05
"""Beyond this latitude an object goes to the polar set (Redis GEO stops at ±85.05112878°)."""
FULL_SCAN_KM: Final = 5000.0
"""A covering circle wider than this reads the whole kind (most of it would match anyway)."""
_RADIUS_PAD: Final = 1.001
"""Redis measures with an earth radius 0.03 % larger than ours; this covers it, with room to spare."""
_ROUNDING_PAD_KM: Final = 0.01
"""Redis stores positions as 52-bit geohashes, within a metre of the true position."""

KINDS: Final = (Kind.PILOT, Kind.GROUND, Kind.THERMAL, Kind.STATION)
"""The order of the per-kind keys handed to the apply script."""


class RedisKeys:
    """The key names of one namespace (see the module docstring)."""

    def __init__(self, namespace: str) -> None:
        if not namespace:
            raise ValueError("the Redis namespace must not be empty")
        self.namespace = namespace
        self.seq = f"{namespace}:seq"
        self.changes = f"{namespace}:changes"
        self.tracks = f"{namespace}:tracks"
        self.stations = f"{namespace}:stations"
        self.geo = {kind: f"{namespace}:geo:{kind}" for kind in Kind}
        self.polar = {kind: f"{namespace}:polar:{kind}" for kind in Kind}
        self._obj = {kind: f"{namespace}:obj:{kind}:" for kind in Kind}
        self._track = f"{namespace}:track:"
        self._applied = f"{namespace}:applied:"

    def obj(self, kind: Kind, key: str | bytes) -> str:
        return self._obj[kind] + (key if isinstance(key, str) else key.decode())

    def track(self, addr: int | bytes) -> str:
        return self._track + (str(addr) if isinstance(addr, int) else addr.decode())

    def applied(self, digest: str) -> str:
        return self._applied + digest


def is_polar(lat: float) -> bool:
    return abs(lat) > GEO_LAT_LIMIT


def search_circles(area: Area) -> list[Circle] | None:
    """The circles to hand GEOSEARCH so that together they return at least every indexed object in the
    area; ``None`` when reading the whole kind is the better plan.

    One circle, and a second when it reaches across the antimeridian: Redis GEO (seen on 7.0) misses
    members on the far side of ±180° near a search's centre (a member at 180° against a 1 km search from
    179.99999999999997°, found by hypothesis), so the far side gets its own search, centred on the
    antimeridian at the same latitude and reaching as far as the first circle does beyond it."""
    circle = area.covering_circle() if isinstance(area, Bounds) else area
    lat, radius = circle.lat, max(circle.radius_km, 0.0)
    if is_polar(lat):  # GEOSEARCH cannot start there: start at the limit and reach further
        limit = math.copysign(GEO_LAT_LIMIT, lat)
        radius += distance_km(lat, circle.lon, limit, circle.lon)
        lat = limit
    radius = radius * _RADIUS_PAD + _ROUNDING_PAD_KM
    if radius > FULL_SCAN_KM:
        return None
    circles = [Circle(lat, geo_lon(circle.lon), radius)]
    to_antimeridian = distance_km(lat, circle.lon, lat, 180.0)
    if to_antimeridian <= radius:
        far_side = -180.0 if circle.lon > 0 else _JUST_BELOW_180
        circles.append(Circle(lat, far_side, radius + to_antimeridian))
    return circles


_JUST_BELOW_180 = math.nextafter(180.0, 0.0)
"""Where a search of the eastern side of the antimeridian starts (Redis does not search from 180°)."""


def geo_lon(lon: float) -> float:
    """The longitude to hand Redis GEO: it misses members at, and searches from, exactly 180° (seen on
    7.0), so that meridian goes as -180°."""
    return -180.0 if lon == 180 else lon
