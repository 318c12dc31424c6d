"""The live map's settings: one frozen record, built once by the server's settings.

Everything here reaches the page as its configuration (:func:`~fanet.server.web.page.page_config`):
where map tiles come from, where the map starts, how old a pilot may be before it is drawn faded. The
tile host also decides the page's ``Content-Security-Policy`` (``img-src``), so a tile server that is not
named here cannot be loaded by the page.
"""

import math
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

OSM_TILES_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
MAX_RADIUS_KM = 200
"""The contract's largest subscription radius."""
MAX_TRACK_HOURS = 12
"""The contract's longest track (``/api/v1/track/{addr}?hours``)."""
CLIENT_FORMATS = ("protobuf", "json")


@dataclass(frozen=True, slots=True)
class WebSettings:
    """Settings of the map page at ``/`` and the static files under ``/static/``."""

    tiles_url: str = OSM_TILES_URL
    """A Leaflet tile URL template (``{z}``, ``{x}``, ``{y}``, optional ``{s}`` and ``{r}``), absolute
    (``https://…``) or on this server (``/tiles/{z}/{x}/{y}.png``); empty: no tiles, a plain background
    (a club network without internet). The page also falls back to the plain background when tiles
    keep failing to load."""
    tiles_attribution: str = OSM_ATTRIBUTION
    """HTML shown in the map's corner; the tile provider's licence usually requires it."""
    tiles_max_zoom: int = 19
    tiles_subdomains: str = "abc"
    """What ``{s}`` in ``tiles_url`` stands for, one character each."""
    center_lat: float | None = None
    center_lon: float | None = None
    zoom: int = 10
    """The initial view when ``center_lat``/``center_lon`` are set; without them the page fits the base
    stations (or what is on the map). A URL hash ``#lat,lon,zoom`` overrides both."""
    max_radius_km: float = MAX_RADIUS_KM
    """The largest region the page subscribes to; a wider view shows only this circle around its centre."""
    stale_after_s: float = 300.0
    """A pilot not heard for this long is drawn faded (the pipeline's ``pilot_stale_after_s``)."""
    track_hours: int = MAX_TRACK_HOURS
    """How much of a clicked pilot's track the page draws."""
    base_stations_refresh_s: float = 60.0
    """How often the page reloads the base stations (they are not in the live updates)."""
    client_format: str = "protobuf"
    """What the page's client asks the server for: ``protobuf`` (falls back to JSON by itself when a
    message cannot be decoded) or ``json``."""
    title: str = "FANET live map"
    frame_ancestors: tuple[str, ...] = ()
    """Origins allowed to show the page in a frame (``https://club.example.org``); empty: none."""
    static_dir: Path | None = None
    """Serve the page and ``/static/`` from this folder instead of the packaged one (a customised page,
    or developing the page without reinstalling)."""

    def __post_init__(self) -> None:
        if self.tiles_url:
            _check_tiles_url(self.tiles_url)
        if not 0 <= self.tiles_max_zoom <= 24:
            raise ValueError(f"tiles_max_zoom must be 0..24, not {self.tiles_max_zoom}")
        if (self.center_lat is None) != (self.center_lon is None):
            raise ValueError("center_lat and center_lon must be given together (or neither)")
        if self.center_lat is not None and not (
            math.isfinite(self.center_lat) and -90 <= self.center_lat <= 90
        ):
            raise ValueError(f"center_lat must be -90..90, not {self.center_lat}")
        if self.center_lon is not None and not (
            math.isfinite(self.center_lon) and -180 <= self.center_lon <= 180
        ):
            raise ValueError(f"center_lon must be -180..180, not {self.center_lon}")
        if not 0 <= self.zoom <= self.tiles_max_zoom:
            raise ValueError(f"zoom must be 0..tiles_max_zoom ({self.tiles_max_zoom}), not {self.zoom}")
        if not 1 <= self.max_radius_km <= MAX_RADIUS_KM:
            raise ValueError(f"max_radius_km must be 1..{MAX_RADIUS_KM}, not {self.max_radius_km}")
        if not self.stale_after_s > 0:
            raise ValueError(f"stale_after_s must be positive, not {self.stale_after_s}")
        if not 1 <= self.track_hours <= MAX_TRACK_HOURS:
            raise ValueError(f"track_hours must be 1..{MAX_TRACK_HOURS}, not {self.track_hours}")
        if not self.base_stations_refresh_s >= 5:
            raise ValueError(f"base_stations_refresh_s must be 5 or more, not {self.base_stations_refresh_s}")
        if self.client_format not in CLIENT_FORMATS:
            raise ValueError(
                f"client_format must be one of {', '.join(CLIENT_FORMATS)}, not {self.client_format!r}"
            )
        if not self.title.strip():
            raise ValueError("title must not be empty")
        for origin in self.frame_ancestors:
            parts = urlsplit(origin)
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
                raise ValueError(
                    f"frame_ancestors: {origin!r} is not an origin like https://club.example.org"
                )
        if self.static_dir is not None and not (self.static_dir / "index.html").is_file():
            raise ValueError(f"static_dir: {self.static_dir} has no index.html")


def _check_tiles_url(url: str) -> None:
    for placeholder in ("{z}", "{x}", "{y}"):
        if placeholder not in url:
            raise ValueError(f"tiles_url must contain {placeholder}: {url!r}")
    if url.startswith("/") and not url.startswith("//"):
        return
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"tiles_url must be an http(s) URL or a path on this server (/tiles/…): {url!r}")
    host = parts.netloc
    if any(c in host for c in " ;,'\"") or "{" in host.replace("{s}", ""):
        raise ValueError(f"tiles_url: only {{s}} may stand in the host name: {url!r}")


def tiles_source(url: str) -> str | None:
    """The ``img-src`` source that lets the page load tiles from ``url``: its scheme and host
    (``{s}.tile…`` becomes ``*.tile…``); ``None`` for tiles on this server or no tiles."""
    if not url or (url.startswith("/") and not url.startswith("//")):
        return None
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    if host.startswith("{s}."):
        host = "*." + host.removeprefix("{s}.")
    elif "{s}" in host:  # a placeholder inside a label: CSP wildcards are whole leading labels only
        return f"{parts.scheme}:"
    return f"{parts.scheme}://{host}"
