"""The map page as sent: ``index.html`` with the settings rendered in, and the policy it runs under.

The settings reach the page as one JSON object in ``<script type="application/json" id="fanet-config">``
(not executed, so the page's ``Content-Security-Policy`` allows no inline script at all); ``map.js``
reads it. The page's policy allows scripts and styles from this server only, images from this server and
the tile host, and connections to this server and WebSockets (the live updates have their own port).
"""

import html
import json
import re
from typing import Any

from fanet.server.web.settings import WebSettings, tiles_source

CONFIG_PLACEHOLDER = '<script type="application/json" id="fanet-config">{}</script>'
"""What ``index.html`` holds where the settings go (so the raw file still works, with defaults)."""
API_BASE = "/api/v1"
_TITLE = re.compile(r"<title>[^<]*</title>")


def page_config(settings: WebSettings) -> dict[str, Any]:
    """What ``map.js`` reads from ``#fanet-config`` (camelCase, as JavaScript names things)."""
    center = None
    if settings.center_lat is not None and settings.center_lon is not None:
        center = {"lat": settings.center_lat, "lon": settings.center_lon, "zoom": settings.zoom}
    return {
        "title": settings.title,
        "apiBase": API_BASE,
        "format": settings.client_format,
        "tiles": {
            "url": settings.tiles_url,
            "attribution": settings.tiles_attribution,
            "maxZoom": settings.tiles_max_zoom,
            "subdomains": settings.tiles_subdomains,
        },
        "center": center,
        "maxRadiusKm": settings.max_radius_km,
        "staleAfterS": settings.stale_after_s,
        "trackHours": settings.track_hours,
        "baseStationsRefreshS": settings.base_stations_refresh_s,
    }


def render_page(template: str, settings: WebSettings) -> str:
    """``index.html`` with the title and the configuration of ``settings``."""
    if template.count(CONFIG_PLACEHOLDER) != 1:
        raise ValueError(f"index.html must hold the placeholder {CONFIG_PLACEHOLDER} exactly once")
    config = _script_safe_json(page_config(settings))
    page = template.replace(CONFIG_PLACEHOLDER, CONFIG_PLACEHOLDER.replace("{}", config))
    return _TITLE.sub(lambda _: f"<title>{html.escape(settings.title)}</title>", page, count=1)


def _script_safe_json(value: object) -> str:
    """JSON that cannot end the ``<script>`` element it sits in, nor open a comment in it."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def page_policy(settings: WebSettings) -> str:
    """The page's ``Content-Security-Policy``."""
    images = ["'self'", "data:"]  # Leaflet blanks aborted tiles with a data: GIF
    tiles = tiles_source(settings.tiles_url)
    if tiles:
        images.append(tiles)
    ancestors = " ".join(settings.frame_ancestors) or "'none'"
    return "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src {' '.join(images)}",
            "connect-src 'self' ws: wss:",
            "base-uri 'none'",
            "form-action 'none'",
            f"frame-ancestors {ancestors}",
        )
    )


def page_headers(settings: WebSettings) -> dict[str, str]:
    """Security headers of the page (and of every static file, with a stricter policy there)."""
    headers = {
        "Content-Security-Policy": page_policy(settings),
        "X-Content-Type-Options": "nosniff",
        # Tile servers (openstreetmap.org among them) refuse requests without a Referer: send the origin.
        "Referrer-Policy": "strict-origin-when-cross-origin",
    }
    if not settings.frame_ancestors:
        headers["X-Frame-Options"] = "DENY"
    return headers
