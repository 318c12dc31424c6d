"""The live map's routes on the server's Quart app: the page at ``/`` and the files under ``/static/``.

:func:`register_web` reads the static folder once (:mod:`~fanet.server.web.assets`), renders the page
with the settings (:mod:`~fanet.server.web.page`) and adds two GET routes; nothing here opens a socket
or starts a task. Answers carry ETags (``If-None-Match`` gives 304), gzip when the client takes it, and
their security headers; a static path that is not a packaged file is a 404 with the API's JSON error
body. Static files may be loaded from other origins (``Access-Control-Allow-Origin: *``) so another
frontend can ``import`` the JavaScript client from this server.
"""

from pathlib import Path

from quart import Quart, Response, request

from fanet.server.rest.errors import ApiError, error_response
from fanet.server.rest.negotiate import accepts_gzip, etag_matches
from fanet.server.web.assets import PACKAGED_STATIC, Asset, load_assets, make_asset
from fanet.server.web.page import page_headers, render_page
from fanet.server.web.settings import WebSettings

STATIC_PREFIX = "/static/"
STATIC_POLICY = "default-src 'none'; frame-ancestors 'none'"


def register_web(app: Quart, settings: WebSettings) -> None:
    """Add the map page (``/``) and the static files (``/static/<path>``) to ``app``.

    Quart gives every app a ``/static/<path:filename>`` route for its own static folder; when that
    folder does not exist (the server's apps have none), the route is taken over. Raises
    ``ValueError`` when the app serves real files under ``/static/`` or the static folder has no usable
    ``index.html``."""
    taken = [rule for rule in app.url_map.iter_rules() if rule.rule.startswith(STATIC_PREFIX)]
    quarts_own = [rule.endpoint for rule in taken] == ["static"] and not (
        app.static_folder and Path(app.static_folder).is_dir()
    )
    if taken and not quarts_own:
        raise ValueError("the app already serves files under /static/; create it with static_folder=None")
    assets = load_assets(settings.static_dir or PACKAGED_STATIC)
    template = assets.get("index.html")
    if template is None:
        raise ValueError("the static folder has no index.html")
    page = make_asset("index.html", render_page(template.body.decode("utf-8"), settings).encode("utf-8"))
    headers = page_headers(settings)
    static_headers = {
        **headers,
        "Content-Security-Policy": STATIC_POLICY,
        "Access-Control-Allow-Origin": "*",
        "Cross-Origin-Resource-Policy": "cross-origin",
    }

    async def map_page() -> Response:
        return _send(page, headers)

    async def static_file(path: str) -> Response:
        asset = assets.get(path)
        if asset is None:
            response = error_response(ApiError(404, "not_found", f"no static file {path!r}"))
            response.headers["X-Content-Type-Options"] = "nosniff"
            return response
        return _send(asset, static_headers)

    app.add_url_rule("/", "fanet_web_page", map_page, methods=["GET"])
    if taken:

        async def quart_static(filename: str) -> Response:
            return await static_file(filename)

        app.view_functions["static"] = quart_static
    else:
        app.add_url_rule(STATIC_PREFIX + "<path:path>", "fanet_web_static", static_file, methods=["GET"])


def _send(asset: Asset, headers: dict[str, str]) -> Response:
    common = {**headers, "ETag": asset.etag, "Cache-Control": asset.cache_control, "Vary": "Accept-Encoding"}
    if etag_matches(request.headers.get("If-None-Match"), asset.etag):
        return Response(b"", status=304, headers=common)
    body = asset.body
    if asset.gzipped is not None and accepts_gzip(request.accept_encodings):
        body = asset.gzipped
        common["Content-Encoding"] = "gzip"
    return Response(body, status=200, content_type=asset.content_type, headers=common)
