"""The REST API: snapshot, objects, tracks, base stations, positions; OpenAPI, auth and limits.

``register_rest(app, store=…, settings=…, ingest=…)`` adds it to the server's Quart-Trio app;
``create_app(store, …)`` is a standalone app for tests and benchmarks. Posted positions leave through
the ``ingest`` seam, a :data:`PositionSink` (``frame_sink(channel)`` sends them into the frame channel
of the pipeline as frames of the pseudo-station ``@api``); :func:`hypercorn_config` is the listener's
configuration (HTTP/2, TLS).
"""

from fanet.server.pipeline import API_STATION
from fanet.server.rest.app import RestApi, create_app, register_rest
from fanet.server.rest.listener import hypercorn_config
from fanet.server.rest.positions import (
    IngestBusy,
    PositionSink,
    PostedPosition,
    frame_sink,
    user_address,
)
from fanet.server.rest.settings import RestSettings

__all__ = [
    "API_STATION",
    "IngestBusy",
    "PositionSink",
    "PostedPosition",
    "RestApi",
    "RestSettings",
    "create_app",
    "frame_sink",
    "hypercorn_config",
    "register_rest",
    "user_address",
]
