"""Wiring: the REST API onto a Quart(-Trio) app, and a standalone app for tests and benchmarks.

:func:`register_rest` is what the server's app factory calls: it adds the ``/api/v1`` blueprint, the
OpenAPI document, CORS for the configured origins, JSON error bodies for the whole app, and closes the
account-service client when the app stops serving. The store, the settings and the position sink come
in; nothing here starts a task or opens a socket (the server serves the app with hypercorn in its
nursery, see :mod:`~fanet.server.rest.listener`).
"""

import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import trio
from quart import Quart, Response, request
from quart_cors import cors
from quart_schema import HttpSecurityScheme, Info, QuartSchema, hide
from quart_trio import QuartTrio

from fanet import __version__
from fanet.server.rest.auth import TokenChecker
from fanet.server.rest.errors import ApiError, install_error_handlers
from fanet.server.rest.limits import RateLimiter
from fanet.server.rest.openapi import BEARER_SCHEME, ApiDocument
from fanet.server.rest.positions import PositionSink
from fanet.server.rest.protection import read_body
from fanet.server.rest.routes import RestContext, build_blueprint
from fanet.server.rest.settings import RestSettings
from fanet.server.store import Store

_EXPOSED_HEADERS = ("ETag", "Retry-After", "Content-Encoding", "WWW-Authenticate")


@dataclass(frozen=True, slots=True)
class RestApi:
    """What :func:`register_rest` set up (the context holds the store, limiters and token checker)."""

    context: RestContext


def register_rest(
    app: Quart,
    *,
    store: Store,
    settings: RestSettings,
    ingest: PositionSink,
    clock: Callable[[], float] = time.time,
    monotonic: Callable[[], float] = trio.current_time,
    version: str = __version__,
) -> RestApi:
    """Add the REST API to ``app`` (see the module docstring). ``clock`` gives unix seconds (what
    ``max_age`` and track windows count from), ``monotonic`` the clock of rate limits and the token
    cache. Call once per app."""
    context = RestContext(
        store=store,
        settings=settings,
        ingest=ingest,
        tokens=TokenChecker(
            settings.auth_url,
            timeout_s=settings.auth_timeout_s,
            valid_ttl_s=settings.auth_valid_ttl_s,
            invalid_ttl_s=settings.auth_invalid_ttl_s,
            max_entries=settings.auth_cache_entries,
            clock=monotonic,
        ),
        ip_limits=RateLimiter(
            settings.rate_limit_per_s, settings.rate_limit_burst, settings.rate_limit_clients
        ),
        token_limits=RateLimiter(
            settings.rate_limit_per_s, settings.rate_limit_burst, settings.rate_limit_clients
        ),
        version=version,
        clock=clock,
        monotonic=monotonic,
    )
    schema = QuartSchema(
        app,
        openapi_path=None,
        redoc_ui_path=None,
        scalar_ui_path=None,
        swagger_ui_path=None,
        info=Info(
            title="FANET live tracking",
            version=version,
            description="Pilots, ground objects, thermals and weather stations heard over FANET, live. "
            "Every body is the contract's protobuf message (Accept: application/x-protobuf) or its JSON "
            "mirror (field names of fanet.proto, enums by name, 64-bit integers as strings).",
        ),
        security_schemes={BEARER_SCHEME: HttpSecurityScheme(scheme="bearer")},
        openapi_provider_class=ApiDocument,
    )
    install_error_handlers(app)
    blueprint = build_blueprint(context)
    document: dict[str, Any] = {}

    @hide
    async def openapi() -> Response:
        if not document:
            document.update(schema.openapi_provider.schema())
        return Response(json.dumps(document), content_type="application/json")

    blueprint.add_url_rule("/openapi.json", "openapi", openapi)
    if settings.cors_origins:
        cors(
            blueprint,
            allow_origin=list(settings.cors_origins),
            allow_methods=["GET", "HEAD", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "Accept", "If-None-Match"],
            expose_headers=list(_EXPOSED_HEADERS),
            max_age=settings.cors_max_age_s,
        )
    app.register_blueprint(blueprint)
    app.before_request(_drain_unrouted(settings.max_body_bytes))

    async def close_clients() -> None:
        await context.tokens.aclose()

    app.after_serving(close_clients)
    return RestApi(context)


def _drain_unrouted(limit: int) -> Callable[[], Awaitable[None]]:
    """Read the body of a request no route takes (404, 405) before the error answers it, as the
    blueprint does for its own (see ``Routes.read_whole_body``)."""

    async def drain() -> None:
        if request.routing_exception is not None:
            with contextlib.suppress(ApiError):
                await read_body(limit)

    return drain


def create_app(
    store: Store,
    settings: RestSettings | None = None,
    ingest: PositionSink | None = None,
    **options: Any,
) -> QuartTrio:
    """A QuartTrio app serving only the REST API (tests, benchmarks). Without ``ingest``, posted
    positions are dropped after authentication."""

    async def drop(_: object) -> None:
        return None

    app = QuartTrio("fanet.server.rest")
    register_rest(app, store=store, settings=settings or RestSettings(), ingest=ingest or drop, **options)
    return app
