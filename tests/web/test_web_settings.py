"""WebSettings: defaults, validation with messages naming the setting, and the tile host for the policy."""

from pathlib import Path
from typing import Any

import pytest

from fanet.server.web import WebSettings
from fanet.server.web.settings import OSM_TILES_URL, tiles_source


def test_the_defaults_show_openstreetmap_and_fit_the_map_to_what_is_there() -> None:
    settings = WebSettings()
    assert settings.tiles_url == OSM_TILES_URL
    assert settings.center_lat is None and settings.center_lon is None
    assert settings.max_radius_km == 200 and settings.track_hours == 12


def test_an_empty_tiles_url_means_a_plain_background() -> None:
    assert WebSettings(tiles_url="").tiles_url == ""


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"tiles_url": "https://tiles.example.org/{z}/{x}.png"}, "tiles_url must contain {y}"),
        ({"tiles_url": "ftp://tiles.example.org/{z}/{x}/{y}.png"}, "http"),
        ({"tiles_url": "tiles/{z}/{x}/{y}.png"}, "http"),
        ({"tiles_url": "https://{z}.example.org/{z}/{x}/{y}.png"}, "only {s}"),
        ({"tiles_url": "https://a.example.org;script-src/{z}/{x}/{y}.png"}, "only {s}"),
        ({"center_lat": 46.0}, "center_lat and center_lon"),
        ({"center_lat": 91.0, "center_lon": 0.0}, "center_lat must be -90..90"),
        ({"center_lat": 0.0, "center_lon": 181.0}, "center_lon must be -180..180"),
        ({"center_lat": float("nan"), "center_lon": 0.0}, "center_lat"),
        ({"zoom": 20}, "zoom must be 0..tiles_max_zoom"),
        ({"tiles_max_zoom": 30}, "tiles_max_zoom"),
        ({"max_radius_km": 250}, "max_radius_km must be 1..200"),
        ({"stale_after_s": 0}, "stale_after_s"),
        ({"track_hours": 13}, "track_hours must be 1..12"),
        ({"base_stations_refresh_s": 1}, "base_stations_refresh_s"),
        ({"client_format": "xml"}, "client_format"),
        ({"title": "  "}, "title"),
        ({"frame_ancestors": ("club.example.org",)}, "frame_ancestors"),
        ({"static_dir": Path("/nonexistent")}, "static_dir"),
    ],
)
def test_bad_settings_are_refused_naming_the_setting(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("{", r"\{").replace("}", r"\}").replace("(", r"\(")):
        WebSettings(**options)


def test_settings_are_frozen() -> None:
    settings = WebSettings()
    with pytest.raises(AttributeError):
        settings.title = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("url", "source"),
    [
        (OSM_TILES_URL, "https://tile.openstreetmap.org"),
        ("https://{s}.tile.example.org/{z}/{x}/{y}.png", "https://*.tile.example.org"),
        ("http://tiles.club.lan:8000/{z}/{x}/{y}.png", "http://tiles.club.lan:8000"),
        ("https://tiles-{s}.example.org/{z}/{x}/{y}.png", "https:"),
        ("/tiles/{z}/{x}/{y}.png", None),
        ("", None),
    ],
)
def test_the_tile_host_becomes_an_image_source_of_the_policy(url: str, source: str | None) -> None:
    assert tiles_source(url) == source
