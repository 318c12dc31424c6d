"""The HTTP side: the quart-trio app (``/health``, ``/ready``, ``/metrics``) and hypercorn serving it.

:func:`create_app` builds the app around the server's :class:`~fanet.server.state.AppState`; routes added
later (the REST API) reach the state with :func:`app_state` or register a blueprint on the app before it
is served. :func:`serve_http` runs hypercorn inside our nursery (``nursery.start`` returns the bound port,
so port 0 works); it stops when cancelled. Domain tasks never run in the app's own nursery, which only
lives while hypercorn runs it.
"""

import json
import logging
from functools import partial

import structlog
import trio
from hypercorn.trio import serve
from quart import Response, current_app
from quart_trio import QuartTrio

from fanet.server.rest import RestSettings
from fanet.server.rest.listener import hypercorn_config
from fanet.server.state import AppState

log = structlog.get_logger("fanet.server")

_STATE_KEY = "fanet.server.state"
GRACEFUL_TIMEOUT_S = 1.0


def create_app(state: AppState) -> QuartTrio:
    app = QuartTrio("fanet.server", static_folder=None)  # /static/ is the map's (fanet.server.web)
    app.extensions[_STATE_KEY] = state

    @app.get("/health")
    async def health() -> Response:
        """Liveness: the event loop answers."""
        return _json({"status": "ok"}, 200)

    @app.get("/ready")
    async def ready() -> Response:
        """200 when every dependency is there; 503 naming each one that is not, and why."""
        readiness = app_state().readiness
        if readiness.ready:
            return _json({"status": "ready"}, 200)
        return _json({"status": "unavailable", "down": readiness.problems}, 503)

    @app.get("/metrics")
    async def metrics() -> Response:
        from fanet.server.metrics import CONTENT_TYPE  # noqa: PLC0415  (prometheus only when scraped)

        return Response(app_state().metrics.exposition(), status=200, content_type=CONTENT_TYPE)

    return app


def app_state() -> AppState:
    """The server state of the app handling the current request."""
    state: AppState = current_app.extensions[_STATE_KEY]
    return state


def _json(body: object, status: int) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


async def serve_http(
    app: QuartTrio,
    listen: tuple[str, int],
    settings: RestSettings | None = None,
    *,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``app`` on ``listen`` until cancelled; reports the bound port once it accepts connections.

    HTTP/1.1 and HTTP/2 (h2c; h2 over TLS when ``settings`` name certificate files)."""
    host, port = listen
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    config = hypercorn_config(settings or RestSettings(), [bind])
    config.accesslog = None
    # Through our log configuration (a Logger is used as it is); its "Running on" line repeats ours.
    config.errorlog = logging.getLogger("hypercorn.error")
    config.errorlog.setLevel(logging.WARNING)
    config.graceful_timeout = GRACEFUL_TIMEOUT_S
    async with trio.open_nursery() as nursery:
        binds: list[str] = await nursery.start(
            partial(serve, app, config, shutdown_trigger=trio.sleep_forever)
        )
        bound = int(binds[0].rsplit(":", 1)[1])
        log.info("http listening", url=binds[0], port=bound)
        task_status.started(bound)
