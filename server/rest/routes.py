"""The API's routes: parameters in, store queries, the contract's messages out.

Each handler parses its parameters (:mod:`~fanet.server.rest.params`; 400 naming the parameter),
asks the store, and answers with the contract's message as protobuf or JSON by ``Accept``
(:mod:`~fanet.server.rest.negotiate`). Everything a handler needs is in :class:`RestContext`, which
the app wiring (:mod:`~fanet.server.rest.app`) builds once; handlers keep no other state.

Two things the store does not keep, said here so nobody looks for them: a weather station's history
(``/stations/{addr}`` is its latest report), and base stations' identities as FANET addresses (a base
station is known by its MQTT station id; ``addr`` is the module address its health report names, or
the id itself when that is six hex digits: :func:`~fanet.server.api.messages.base_station_address`).
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import trio
from google.protobuf.message import Message
from quart import Blueprint, Response, g, request
from quart_schema import document_querystring

from fanet.proto import fanet_pb2 as pb
from fanet.proto import format_address
from fanet.server.api.messages import base_station_message, station_message, to_json, track_message
from fanet.server.model import Kind, LiveObject, WeatherStation
from fanet.server.rest.auth import TokenChecker, bearer_token
from fanet.server.rest.encoding import LIST_OF, SNAPSHOT, ObjectEncodings
from fanet.server.rest.errors import not_found
from fanet.server.rest.limits import RateLimiter
from fanet.server.rest.negotiate import Negotiated, accepts_gzip, encoded_response, wants_protobuf
from fanet.server.rest.openapi import API_PREFIX, RouteDoc, documented
from fanet.server.rest.params import (
    BoundsQuery,
    QueryArgs,
    SnapshotQuery,
    ThermalsQuery,
    TrackQuery,
    parse_bounds,
    parse_path_address,
    parse_query,
    snapshot_area,
)
from fanet.server.rest.positions import PositionBody, PositionSink, PostedPosition, parse_position_body
from fanet.server.rest.protection import Protection
from fanet.server.rest.schemas import InfoBody, ObjectCounts
from fanet.server.rest.settings import RestSettings
from fanet.server.store import Area, Store


@dataclass(slots=True)
class RestContext:
    """Everything the routes use; built once by :func:`fanet.server.rest.app.register_rest`."""

    store: Store
    settings: RestSettings
    ingest: PositionSink
    tokens: TokenChecker
    ip_limits: RateLimiter
    token_limits: RateLimiter
    version: str
    clock: Callable[[], float]
    """Unix seconds (``time.time`` in the server)."""
    monotonic: Callable[[], float] = trio.current_time
    encodings: ObjectEncodings = field(default_factory=ObjectEncodings)


class Routes:
    """The handlers, bound to one :class:`RestContext`."""

    def __init__(self, context: RestContext) -> None:
        self.context = context
        self.settings = context.settings

    # --- reading the live world ---------------------------------------------------------------

    @documented(
        RouteDoc(
            "Everything in the circle, and the sequence to resume live updates from.",
            message=pb.SnapshotResponse.DESCRIPTOR,
            etag=True,
            errors=(503,),
        )
    )
    @document_querystring(SnapshotQuery)
    async def snapshot(self) -> Response:
        """Snapshot of a circle

        Pilots, ground objects, thermals and weather stations within `radius` km of `lat`,`lon`, with the
        change-stream sequence read before them: resume the WebSocket from it (`last_sequence`)."""
        area = snapshot_area(parse_query(SnapshotQuery, _args()))
        negotiated = _negotiated()
        sequence = await self.context.store.current_sequence()
        since = None if area.max_age_s is None else self.context.clock() - area.max_age_s
        objects = await _query_kinds(self.context.store, area.kinds, area.circle, since)
        encodings = self.context.encodings
        if negotiated.protobuf:
            body = encodings.protobuf(SNAPSHOT, objects, sequence)
        else:
            body = encodings.json(SNAPSHOT, objects, sequence).encode()
        return await self._respond(body, negotiated, etag=True)

    async def _object_list(
        self, kind: Kind, query_model: type[BoundsQuery] | type[ThermalsQuery]
    ) -> Response:
        query = parse_query(query_model, _args())
        bounds = parse_bounds(query.bounds)
        min_quality = query.min_quality if isinstance(query, ThermalsQuery) else None
        objects = await self.context.store.objects(kind, bounds, min_quality=min_quality)
        negotiated = _negotiated()
        layout = LIST_OF[kind]
        encodings = self.context.encodings
        body = (
            encodings.protobuf(layout, objects)
            if negotiated.protobuf
            else encodings.json(layout, objects).encode()
        )
        return await self._respond(body, negotiated)

    @documented(RouteDoc("Pilots in the box.", message=pb.PilotsResponse.DESCRIPTOR, errors=(503,)))
    @document_querystring(BoundsQuery)
    async def pilots(self) -> Response:
        """Pilots in a box"""
        return await self._object_list(Kind.PILOT, BoundsQuery)

    @documented(
        RouteDoc("Ground objects in the box.", message=pb.GroundObjectsResponse.DESCRIPTOR, errors=(503,))
    )
    @document_querystring(BoundsQuery)
    async def ground(self) -> Response:
        """Ground objects in a box

        Landed pilots, retrieve cars, people walking, and distress calls."""
        return await self._object_list(Kind.GROUND, BoundsQuery)

    @documented(RouteDoc("Thermals in the box.", message=pb.ThermalsResponse.DESCRIPTOR, errors=(503,)))
    @document_querystring(ThermalsQuery)
    async def thermals(self) -> Response:
        """Thermals in a box"""
        return await self._object_list(Kind.THERMAL, ThermalsQuery)

    @documented(
        RouteDoc("Weather stations in the box.", message=pb.StationsResponse.DESCRIPTOR, errors=(503,))
    )
    @document_querystring(BoundsQuery)
    async def stations(self) -> Response:
        """Weather stations in a box"""
        return await self._object_list(Kind.STATION, BoundsQuery)

    @documented(RouteDoc("The station's latest report.", message=pb.Station.DESCRIPTOR, errors=(404, 503)))
    async def station(self, addr: str) -> Response:
        """One weather station

        Its latest report (the store keeps no history of weather readings)."""
        address = parse_path_address(addr)
        found = await self.context.store.get(Kind.STATION, str(address))
        if not isinstance(found, WeatherStation):
            raise not_found(f"no weather station with address {format_address(address)}")
        return await self._message(station_message(found))

    @documented(
        RouteDoc(
            "The pilot's track, oldest point first.", message=pb.TrackResponse.DESCRIPTOR, errors=(404, 503)
        )
    )
    @document_querystring(TrackQuery)
    async def track(self, addr: str) -> Response:
        """A pilot's recent track

        The points of the last `hours` hours (12 at most); 404 when the address has neither a track nor
        a pilot on the map."""
        address = parse_path_address(addr)
        query = parse_query(TrackQuery, _args())
        store = self.context.store
        points = await store.track(address, self.context.clock() - query.hours * 3600.0)
        if not points and await store.get(Kind.PILOT, str(address)) is None:
            raise not_found(f"no pilot or track with address {format_address(address)}")
        return await self._message(pb.TrackResponse(track=track_message(address, points)))

    @documented(
        RouteDoc("Every receiving base station.", message=pb.BaseStationsResponse.DESCRIPTOR, errors=(503,))
    )
    async def base_stations(self) -> Response:
        """Receiving base stations

        Position, last seen, frames per minute, mean RSSI and SNR, and the addresses each heard
        recently: why a pilot is (not) on the map."""
        records = await self.context.store.base_stations()
        response = pb.BaseStationsResponse(stations=[base_station_message(record) for record in records])
        return await self._message(response)

    @documented(RouteDoc("About this server.", json_body=InfoBody, errors=(503,)))
    async def info(self) -> Response:
        """Server information

        Version, store, the WebSocket URL to subscribe to, and how much is on the map."""
        store = self.context.store
        sequence = await store.current_sequence()
        counts = await store.counts()
        objects = counts.objects
        body = InfoBody(
            server_version=self.context.version,
            api_version="v1",
            store=store.name,
            websocket_url=self.websocket_url(),
            server_time=math.floor(self.context.clock()),
            sequence=sequence,
            counts=ObjectCounts(
                pilots=objects[Kind.PILOT],
                ground_objects=objects[Kind.GROUND],
                thermals=objects[Kind.THERMAL],
                stations=objects[Kind.STATION],
                base_stations=counts.base_stations,
            ),
        )
        response = Response(body.model_dump_json(), content_type="application/json")
        response.cache_control.no_cache = True
        return response

    def websocket_url(self) -> str:
        settings = self.context.settings  # not self.settings: the server sets the bound port after start
        if settings.websocket_url:
            return settings.websocket_url
        host = urlsplit("//" + request.host).hostname or "localhost"
        if ":" in host:
            host = f"[{host}]"
        scheme = "wss" if request.scheme in ("https", "wss") else "ws"
        return f"{scheme}://{host}:{settings.websocket_port}{settings.websocket_path}"

    # --- writing -----------------------------------------------------------------------------------

    @documented(
        RouteDoc(
            "The position was handed to the pipeline (which may still reject it as implausible).",
            message=pb.PositionResponse.DESCRIPTOR,
            bearer=True,
            errors=(401, 413, 415, 503),
            request=(pb.PositionRequest.DESCRIPTOR, PositionBody),
        )
    )
    async def position(self) -> Response:
        """Post your position

        The signed-in user's position (e.g. from a phone), shown on the map like a FANET device under
        address FFxxxx; `Authorization: Bearer <token>` is checked with the account service."""
        context = self.context
        user = await context.tokens.user(bearer_token(request.headers.get("Authorization")))
        body: bytes = g.fanet_body
        parsed = parse_position_body(request.headers.get("Content-Type", ""), body)
        position = PostedPosition.from_body(
            parsed, user.id, context.clock(), self.settings.position_aircraft_type
        )
        await context.ingest(position)
        return await self._message(pb.PositionResponse(success=True))

    # --- answers -----------------------------------------------------------------------------------

    async def _message(self, message: Message) -> Response:
        negotiated = _negotiated()
        body = message.SerializeToString() if negotiated.protobuf else to_json(message).encode()
        return await self._respond(body, negotiated)

    async def _respond(self, body: bytes, negotiated: Negotiated, *, etag: bool = False) -> Response:
        return await encoded_response(
            body,
            negotiated,
            gzip_min_bytes=self.settings.gzip_min_bytes,
            gzip_level=self.settings.gzip_level,
            etag=etag,
        )


def build_blueprint(context: RestContext) -> Blueprint:
    """The API under ``/api/v1`` (without the OpenAPI route, which :mod:`~.app` adds)."""
    routes = Routes(context)
    blueprint = Blueprint("fanet_rest", __name__, url_prefix=API_PREFIX)
    Protection(
        context.settings,
        context.ip_limits,
        context.token_limits,
        context.tokens.fingerprint,
        context.monotonic,
    ).install(blueprint)
    blueprint.add_url_rule("/snapshot", view_func=routes.snapshot)
    for path in ("pilots", "ground", "thermals", "stations"):
        blueprint.add_url_rule(f"/{path}", view_func=getattr(routes, path))
    blueprint.add_url_rule("/stations/<addr>", view_func=routes.station)
    blueprint.add_url_rule("/track/<addr>", view_func=routes.track)
    blueprint.add_url_rule("/basestations", view_func=routes.base_stations)
    blueprint.add_url_rule("/info", view_func=routes.info)
    blueprint.add_url_rule("/position", view_func=routes.position, methods=["POST"])
    return blueprint


# --- helpers -----------------------------------------------------------------------------------


def _args() -> QueryArgs:
    return {name: values[0] if len(values) == 1 else values for name, values in request.args.lists()}


def _negotiated() -> Negotiated:
    return Negotiated(
        protobuf=wants_protobuf(request.accept_mimetypes),
        gzip=accepts_gzip(request.accept_encodings),
        if_none_match=request.headers.get("If-None-Match"),
    )


async def _query_kinds(
    store: Store, kinds: Sequence[Kind], area: Area | None, updated_since: float | None
) -> list[LiveObject]:
    """Objects of several kinds at once (concurrent store calls; the first failure is raised bare)."""
    results: dict[Kind, list[LiveObject]] = {}
    failures: list[Exception] = []

    async def one(kind: Kind) -> None:
        try:
            results[kind] = await store.objects(kind, area, updated_since=updated_since)
        except Exception as exc:  # re-raised below, outside the nursery's exception group
            failures.append(exc)

    async with trio.open_nursery() as nursery:
        for kind in kinds:
            nursery.start_soon(one, kind)
    if failures:
        raise failures[0]
    return [obj for kind in kinds for obj in results[kind]]
