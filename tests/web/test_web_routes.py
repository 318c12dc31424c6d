"""The map page and the static files over HTTP: configuration, content types, caching, errors, headers."""

import gzip
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from quart_trio import QuartTrio

from fanet.server.rest import create_app
from fanet.server.store import MemoryStore
from fanet.server.web import WebSettings, register_web
from fanet.server.web.assets import PACKAGED_STATIC

CONFIG = re.compile(r'<script type="application/json" id="fanet-config">(.*?)</script>', re.S)


async def client_for(app: QuartTrio) -> AsyncIterator[Any]:
    async with app.test_app() as test_app:
        yield test_app.test_client()


@pytest.fixture
async def client() -> AsyncIterator[Any]:
    """The map on the REST API's app, as the server builds it."""
    app = create_app(MemoryStore())
    register_web(app, WebSettings(center_lat=46.18, center_lon=13.72, zoom=11))
    async for built in client_for(app):
        yield built


def page_config(html: str) -> dict[str, Any]:
    found = CONFIG.search(html)
    assert found, "no #fanet-config in the page"
    config: dict[str, Any] = json.loads(found.group(1))
    return config


# --- the page ------------------------------------------------------------------------------------


async def test_the_page_is_served_at_the_root_with_the_settings_rendered_in(client: Any) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    html = await response.get_data(as_text=True)
    config = page_config(html)
    assert config["center"] == {"lat": 46.18, "lon": 13.72, "zoom": 11}
    assert config["tiles"]["url"] == "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    assert config["apiBase"] == "/api/v1"
    assert config["maxRadiusKm"] == 200 and config["trackHours"] == 12
    for hook in ('id="map"', 'id="status"', 'id="alerts"', 'id="details"', 'data-state="connecting"'):
        assert hook in html
    assert response.headers["Cache-Control"] == "no-cache"


async def test_the_page_has_filters_for_every_kind_and_aircraft_type(client: Any) -> None:
    from fanet.proto import fanet_pb2 as pb

    html = await (await client.get("/")).get_data(as_text=True)
    kinds = set(re.findall(r'name="kind" value="(\w+)"', html))
    aircraft = set(re.findall(r'name="aircraft" value="(\w+)"', html))
    assert kinds == {"pilots", "ground", "thermals", "stations", "basestations"}
    assert aircraft == set(pb.PilotType.keys())


async def test_settings_cannot_break_out_of_the_configuration_script() -> None:
    hostile = "</script><script>alert(1)</script> & <!--"
    app = create_app(MemoryStore())
    register_web(app, WebSettings(title=hostile, tiles_attribution=hostile))
    async for client in client_for(app):
        html = await (await client.get("/")).get_data(as_text=True)
        assert "<script>alert(1)" not in html
        assert page_config(html)["tiles"]["attribution"] == hostile
        assert "<title>&lt;/script&gt;" in html


async def test_the_page_has_its_own_content_security_policy(client: Any) -> None:
    response = await client.get("/")
    policy = dict(
        part.strip().split(" ", 1) for part in response.headers["Content-Security-Policy"].split(";")
    )
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
    assert "https://tile.openstreetmap.org" in policy["img-src"].split()
    assert {"'self'", "ws:", "wss:"} <= set(policy["connect-src"].split())
    assert "unsafe" not in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    # Tile servers refuse requests without a Referer.
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


async def test_the_rest_api_keeps_its_strict_policy_beside_the_page(client: Any) -> None:
    api = await client.get("/api/v1/info")
    assert api.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    page = await client.get("/")
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]


async def test_frame_ancestors_allow_the_named_origins_only() -> None:
    app = create_app(MemoryStore())
    register_web(app, WebSettings(frame_ancestors=("https://club.example.org",), tiles_url=""))
    async for client in client_for(app):
        response = await client.get("/")
        assert "frame-ancestors https://club.example.org" in response.headers["Content-Security-Policy"]
        assert "X-Frame-Options" not in response.headers
        assert "img-src 'self' data:;" in response.headers["Content-Security-Policy"]  # no tile host


async def test_an_unchanged_page_is_answered_304(client: Any) -> None:
    first = await client.get("/")
    again = await client.get("/", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and await again.get_data() == b""


async def test_head_is_answered_like_get(client: Any) -> None:
    # (hypercorn drops the body of a HEAD answer; the test client does not)
    response = await client.head("/static/fanet-client.js")
    size = (PACKAGED_STATIC / "fanet-client.js").stat().st_size
    assert response.status_code == 200 and response.headers["Content-Length"] == str(size)


# --- static files ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("fanet-client.js", "text/javascript; charset=utf-8"),
        ("map.js", "text/javascript; charset=utf-8"),
        ("map.css", "text/css; charset=utf-8"),
        ("vendor/leaflet/leaflet.js", "text/javascript; charset=utf-8"),
        ("vendor/leaflet/leaflet.css", "text/css; charset=utf-8"),
        ("vendor/leaflet/images/layers.png", "image/png"),
        ("vendor/leaflet/LICENSE", "text/plain; charset=utf-8"),
        ("favicon.svg", "image/svg+xml"),
    ],
)
async def test_static_files_are_served_with_their_content_type(
    client: Any, path: str, content_type: str
) -> None:
    response = await client.get(f"/static/{path}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == content_type
    assert await response.get_data() == (PACKAGED_STATIC / path).read_bytes()
    assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_vendored_files_are_cached_and_our_own_revalidated(client: Any) -> None:
    vendored = await client.get("/static/vendor/leaflet/leaflet.js")
    own = await client.get("/static/map.js")
    assert vendored.headers["Cache-Control"] == "public, max-age=86400"
    assert own.headers["Cache-Control"] == "no-cache"
    again = await client.get("/static/map.js", headers={"If-None-Match": own.headers["ETag"]})
    assert again.status_code == 304


async def test_static_files_go_gzipped_to_clients_that_take_it(client: Any) -> None:
    response = await client.get("/static/vendor/leaflet/leaflet.js", headers={"Accept-Encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.headers["Vary"] == "Accept-Encoding"
    plain = (PACKAGED_STATIC / "vendor/leaflet/leaflet.js").read_bytes()
    assert gzip.decompress(await response.get_data()) == plain


async def test_the_client_module_may_be_imported_from_other_origins(client: Any) -> None:
    response = await client.get("/static/fanet-client.js")
    assert response.headers["Access-Control-Allow-Origin"] == "*"


async def test_a_missing_static_file_is_a_404_with_the_api_error_body(client: Any) -> None:
    response = await client.get("/static/nothing-here.js")
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/json"
    body = json.loads(await response.get_data())
    assert body["code"] == "not_found" and "nothing-here.js" in body["message"]


@pytest.mark.parametrize(
    "path",
    [
        "/static/../routes.py",
        "/static/%2e%2e/routes.py",
        "/static/..%2froutes.py",
        "/static/vendor/../../settings.py",
        "/static//etc/passwd",
        "/static/%2fetc%2fpasswd",
        "/static/..\\routes.py",
        "/static/vendor/",
        "/static/vendor",
    ],
)
async def test_paths_outside_the_static_files_are_refused(client: Any, path: str) -> None:
    response = await client.get(path)
    if response.status_code == 308:  # werkzeug merges double slashes: a redirect within /static/
        target = urlsplit(response.headers["Location"]).path
        assert target.startswith("/static/")
        response = await client.get(target)
    assert response.status_code == 404
    data = await response.get_data()
    assert b"register_web" not in data and b"root:" not in data


async def test_hidden_files_are_not_served(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text((PACKAGED_STATIC / "index.html").read_text())
    (tmp_path / ".env").write_text("SECRET=1")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text("x")
    app = create_app(MemoryStore())
    register_web(app, WebSettings(static_dir=tmp_path))
    async for client in client_for(app):
        assert (await client.get("/static/.env")).status_code == 404
        assert (await client.get("/static/.git/config")).status_code == 404
        assert (await client.get("/static/index.html")).status_code == 200


async def test_a_static_folder_of_ones_own_replaces_the_packaged_page(tmp_path: Path) -> None:
    template = '<title>x</title><script type="application/json" id="fanet-config">{}</script>Our club'
    (tmp_path / "index.html").write_text(template)
    app = create_app(MemoryStore())
    register_web(app, WebSettings(static_dir=tmp_path, title="Club map"))
    async for client in client_for(app):
        html = await (await client.get("/")).get_data(as_text=True)
        assert "Our club" in html and "<title>Club map</title>" in html
        assert page_config(html)["title"] == "Club map"


async def test_a_page_without_the_configuration_placeholder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<p>no placeholder</p>")
    with pytest.raises(ValueError, match="placeholder"):
        register_web(create_app(MemoryStore()), WebSettings(static_dir=tmp_path))


async def test_an_app_serving_its_own_static_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "static").mkdir()
    app = QuartTrio("club", root_path=str(tmp_path))
    with pytest.raises(ValueError, match="static_folder=None"):
        register_web(app, WebSettings())


async def test_an_app_without_a_static_folder_gets_the_static_route() -> None:
    app = QuartTrio("plain", static_folder=None)
    register_web(app, WebSettings())
    async for client in client_for(app):
        assert (await client.get("/static/map.js")).status_code == 200
        assert (await client.get("/")).status_code == 200
