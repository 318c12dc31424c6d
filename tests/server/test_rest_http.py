"""The API served by real hypercorn on loopback: positions with tokens checked by a real account service,
HTTP/2 (h2c and TLS), gzip and keep-alive on the wire, and schemathesis against the OpenAPI document.

The account service is a second Quart-Trio app on hypercorn in the test's nursery: ``GET /me`` with
``Authorization: Bearer good`` (user 42) or ``Bearer text`` (user "u-abc") answers the user, ``Bearer
broken`` a 500, ``Bearer no-id`` a user without an id, anything else 401.
"""

import dataclasses
import json
import ssl
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import hypercorn.trio
import pytest
import structlog
import trio
from quart import Quart, request
from quart_trio import QuartTrio

from fanet.proto import (
    AircraftType,
    AirTracking,
    Frame,
    GroundTracking,
    GroundType,
    ReceivedFrame,
    Service,
    Thermal,
    decode_frame,
    encode_frame,
)
from fanet.proto import fanet_pb2 as pb
from fanet.server.model import Kind
from fanet.server.pipeline import API_STATION as pipeline_api_station
from fanet.server.pipeline import Pipeline, PipelineSettings
from fanet.server.rest import (
    API_STATION,
    PostedPosition,
    RestSettings,
    create_app,
    frame_sink,
    hypercorn_config,
    user_address,
)
from fanet.server.store import MemoryStore, Store

pytestmark = pytest.mark.integration

USERS: dict[str, dict[str, Any]] = {
    "good": {"id": 42, "name": "Anna"},
    "text": {"id": "u-abc"},
    "no-id": {"x": 1},
}
POSITION = {
    "position": {"latitude": 46.2, "longitude": 13.6},
    "altitude": 1500,
    "speed": 30.0,
    "course": 90.0,
}


@dataclasses.dataclass
class AccountService:
    url: str = ""
    calls: int = 0
    seen: list[str] = dataclasses.field(default_factory=list)

    def app(self) -> Quart:
        app = QuartTrio("accounts")

        @app.get("/me")
        async def me() -> Any:
            self.calls += 1
            authorization = request.headers.get("Authorization", "")
            self.seen.append(authorization)
            token = authorization.removeprefix("Bearer ")
            if token == "broken":
                return {"error": "database down"}, 500
            if token in USERS:
                return USERS[token]
            return {"error": "unknown token"}, 401

        return app


@asynccontextmanager
async def serving(app: Quart, settings: RestSettings | None = None) -> AsyncIterator[str]:
    """``app`` on hypercorn at a free loopback port; yields its base URL and stops it afterwards."""
    config = hypercorn_config(settings or RestSettings(), ["127.0.0.1:0"])
    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        binds: list[str] = await nursery.start(
            partial(hypercorn.trio.serve, app, config, shutdown_trigger=stop.wait)
        )
        yield binds[0]
        stop.set()


@pytest.fixture
async def accounts() -> AsyncIterator[AccountService]:
    service = AccountService()
    async with serving(service.app()) as url:
        service.url = url + "/me"
        yield service


class Clock:
    """A monotonic clock the test moves (the token cache's and the rate limits')."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@asynccontextmanager
async def api(
    accounts: AccountService | None,
    *,
    store: Store | None = None,
    ingest: Callable[[PostedPosition], Any] | None = None,
    clock: Clock | None = None,
    **settings: Any,
) -> AsyncIterator[httpx.AsyncClient]:
    """The REST app on hypercorn, and an HTTP client for it."""
    rest_settings = RestSettings(
        auth_url=settings.pop("auth_url", accounts.url if accounts else None),
        rate_limit_per_s=1e6,
        rate_limit_burst=1e6,
        **settings,
    )
    options: dict[str, Any] = {"monotonic": clock} if clock else {}
    app = create_app(store or MemoryStore(), rest_settings, ingest, **options)
    async with serving(app, rest_settings) as url, httpx.AsyncClient(base_url=url) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- positions and tokens --------------------------------------------------------------------------


async def test_a_position_with_a_valid_token_goes_to_the_pipeline_as_a_frame(
    accounts: AccountService,
) -> None:
    send, receive = trio.open_memory_channel[ReceivedFrame](10)
    async with api(accounts, ingest=frame_sink(send)) as client:
        before = time.time()
        response = await client.post(
            "/api/v1/position", json={**POSITION, "timestamp": 0}, headers=bearer("good")
        )
        assert response.status_code == 200 and response.json() == {"success": True, "error": ""}
    frame = receive.receive_nowait()
    assert frame.station == API_STATION and frame.rssi is None and before <= frame.timestamp <= time.time()
    decoded = decode_frame(frame.raw)
    assert decoded.source == user_address("42") == 0xFF002A
    payload = decoded.payload
    assert isinstance(payload, AirTracking)
    assert payload.lat == pytest.approx(46.2, abs=1e-4) and payload.lon == pytest.approx(13.6, abs=1e-4)
    assert payload.altitude_m == 1500 and payload.speed_kmh == pytest.approx(30.0, abs=0.5)
    assert accounts.seen == ["Bearer good"]


async def test_a_protobuf_position_gets_a_protobuf_answer(accounts: AccountService) -> None:
    posted: list[PostedPosition] = []

    async def keep(position: PostedPosition) -> None:
        posted.append(position)

    request_body = pb.PositionRequest(position=pb.GeoPoint(latitude=46.2, longitude=13.6), altitude=900,
                                      climb=1.5, timestamp=1_750_000_000)  # fmt: skip
    async with api(accounts, ingest=keep) as client:
        response = await client.post(
            "/api/v1/position",
            content=request_body.SerializeToString(),
            headers={
                **bearer("text"),
                "Content-Type": "application/x-protobuf",
                "Accept": "application/x-protobuf",
            },
        )
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/x-protobuf"
    assert pb.PositionResponse.FromString(response.content).success
    [position] = posted
    assert position.user_id == "u-abc" and position.addr >> 16 == 0xFF and position.addr != user_address("42")
    assert (position.altitude_m, position.climb_ms, position.timestamp) == (900, 1.5, 1_750_000_000.0)


async def test_posted_positions_appear_on_the_map_through_the_pipeline(accounts: AccountService) -> None:
    assert pipeline_api_station == API_STATION  # the station the pipeline takes user addresses from
    store = MemoryStore()
    pipeline = Pipeline(PipelineSettings(appear_score=1))
    send, receive = trio.open_memory_channel[ReceivedFrame](10)

    async def run_pipeline() -> None:
        async for frame in receive:
            await store.apply(pipeline.process(frame, time.time()))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_pipeline)
        async with api(accounts, store=store, ingest=frame_sink(send)) as client:
            for step in range(2):
                body = {**POSITION, "position": {"latitude": 46.2 + step * 1e-4, "longitude": 13.6}}
                assert (
                    await client.post("/api/v1/position", json=body, headers=bearer("good"))
                ).status_code == 200
            with trio.fail_after(5):
                while len(await store.objects(Kind.PILOT)) < 1 or len(await store.track(0xFF002A, 0)) < 2:
                    await trio.sleep(0.01)
            pilots = (await client.get("/api/v1/pilots?bounds=46,13,47,14")).json()["pilots"]
            assert [pilot["addr"] for pilot in pilots] == [0xFF002A]
            track = (await client.get("/api/v1/track/FF002A")).json()["track"]
            assert len(track["points"]) == 2
        nursery.cancel_scope.cancel()


async def test_no_token_is_401_with_a_challenge(accounts: AccountService) -> None:
    async with api(accounts) as client:
        for headers in ({}, {"Authorization": "Basic dXNlcjpwdw=="}, {"Authorization": "Bearer"}):
            response = await client.post("/api/v1/position", json=POSITION, headers=headers)
            assert response.status_code == 401 and response.json()["code"] == "unauthorized"
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert accounts.calls == 0


async def test_an_invalid_token_is_401_and_remembered_for_30_seconds(accounts: AccountService) -> None:
    clock = Clock()
    async with api(accounts, clock=clock) as client:
        for _ in range(3):
            response = await client.post("/api/v1/position", json=POSITION, headers=bearer("stolen"))
            assert response.status_code == 401 and response.json()["code"] == "invalid_token"
        assert accounts.calls == 1
        clock.now += 29
        await client.post("/api/v1/position", json=POSITION, headers=bearer("stolen"))
        assert accounts.calls == 1
        clock.now += 2
        await client.post("/api/v1/position", json=POSITION, headers=bearer("stolen"))
        assert accounts.calls == 2


async def test_a_valid_token_is_remembered_for_five_minutes(accounts: AccountService) -> None:
    clock = Clock()
    async with api(accounts, clock=clock) as client:
        for _ in range(3):
            assert (
                await client.post("/api/v1/position", json=POSITION, headers=bearer("good"))
            ).status_code == 200
        clock.now += 299
        assert (
            await client.post("/api/v1/position", json=POSITION, headers=bearer("good"))
        ).status_code == 200
        assert accounts.calls == 1
        clock.now += 2  # the cached answer has expired: the account service is asked again
        assert (
            await client.post("/api/v1/position", json=POSITION, headers=bearer("good"))
        ).status_code == 200
        assert accounts.calls == 2


async def test_concurrent_requests_with_one_token_ask_the_account_service_once(
    accounts: AccountService,
) -> None:
    async with api(accounts) as client:
        statuses: list[int] = []

        async def post() -> None:
            response = await client.post("/api/v1/position", json=POSITION, headers=bearer("good"))
            statuses.append(response.status_code)

        async with trio.open_nursery() as nursery:
            for _ in range(10):
                nursery.start_soon(post)
    assert statuses == [200] * 10 and accounts.calls == 1


async def test_the_token_is_neither_kept_nor_logged(accounts: AccountService) -> None:
    secret = "stolen-" + "x" * 20
    with structlog.testing.capture_logs() as logs:
        async with api(accounts) as client:
            await client.post("/api/v1/position", json=POSITION, headers=bearer(secret))
            await client.post("/api/v1/position", json=POSITION, headers=bearer("broken"))
    assert (
        logs and secret not in json.dumps(logs, default=str) and "broken" not in json.dumps(logs, default=str)
    )


@pytest.mark.parametrize("token", ["broken", "no-id"])
async def test_an_account_service_that_fails_is_503_not_401(accounts: AccountService, token: str) -> None:
    async with api(accounts) as client:
        response = await client.post("/api/v1/position", json=POSITION, headers=bearer(token))
        assert response.status_code == 503 and response.json()["code"] == "auth_unavailable"
        assert response.headers["Retry-After"].isdigit()
        await client.post("/api/v1/position", json=POSITION, headers=bearer(token))
    assert accounts.calls == 2  # nothing was cached


async def test_an_unreachable_account_service_is_503_not_401() -> None:
    down = AccountService()
    async with serving(down.app()) as url:
        pass  # the port is free again: nothing listens there any more
    async with api(None, auth_url=url + "/me", auth_timeout_s=2.0) as client:
        response = await client.post("/api/v1/position", json=POSITION, headers=bearer("good"))
    assert response.status_code == 503 and response.json()["code"] == "auth_unavailable"


async def test_without_an_account_service_positions_are_refused_with_503() -> None:
    async with api(None) as client:
        response = await client.post("/api/v1/position", json=POSITION, headers=bearer("good"))
    assert response.status_code == 503 and "auth_url" in response.json()["message"]


@pytest.mark.parametrize(
    ("body", "content_type", "status", "fragment"),
    [
        (b'{"altitude": 5}', "application/json", 400, "position: missing"),
        (b'{"position": {"latitude": 91, "longitude": 0}}', "application/json", 400, "position.latitude: "),
        (b'{"position": {"latitude": 1, "longitude": 0}, "speed": -1}', "application/json", 400, "speed: "),
        (b'{"position": {"latitude": 1, "longitude": 0}, "extra": 1}', "application/json", 400, "extra: "),
        (
            b'{"position": {"latitude": 1, "longitude": 0}, "timestamp": "x"}',
            "application/json",
            400,
            "timestamp",
        ),
        (b"{not json", "application/json", 400, "body: not valid JSON"),
        (b"\xff\xff\xff", "application/x-protobuf", 400, "body: not a PositionRequest"),
        (b"", "application/x-protobuf", 400, "position: missing"),
        (b"lat=1", "application/x-www-form-urlencoded", 415, "application/json"),
    ],
)
async def test_a_bad_position_body_is_refused_naming_the_field(
    accounts: AccountService, body: bytes, content_type: str, status: int, fragment: str
) -> None:
    async with api(accounts) as client:
        response = await client.post(
            "/api/v1/position", content=body, headers={**bearer("good"), "Content-Type": content_type}
        )
    assert response.status_code == status
    assert fragment in response.json()["message"]


async def test_a_chunked_body_over_the_limit_is_413(accounts: AccountService) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b" " * 100

    async with api(accounts, max_body_bytes=500) as client:
        response = await client.post(
            "/api/v1/position",
            content=chunks(),
            headers={**bearer("good"), "Content-Type": "application/json"},
        )
    assert response.status_code == 413 and response.json()["code"] == "payload_too_large"


async def test_a_full_pipeline_queue_is_503_not_a_hang(accounts: AccountService) -> None:
    send, _receive = trio.open_memory_channel[ReceivedFrame](0)  # nobody receives
    async with api(accounts, ingest=frame_sink(send, timeout_s=0.2)) as client:
        response = await client.post("/api/v1/position", json=POSITION, headers=bearer("good"))
    assert response.status_code == 503 and response.json()["code"] == "ingest_busy"


# --- the wire --------------------------------------------------------------------------------------


async def test_a_keep_alive_connection_survives_answers_given_before_the_body_was_read() -> None:
    """Like Python's http.client: headers, then the body in a second write; three times on one connection,
    each answered 401 (no token) — hypercorn 0.18 stalled the third before the API read bodies first."""
    async with api(None) as client:
        host, port = str(client.base_url.host), int(client.base_url.port or 80)
        stream = await trio.open_tcp_stream(host, port)
        async with stream:
            body = json.dumps(POSITION).encode()
            for _ in range(3):
                head = (f"POST /api/v1/position HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                        f"Content-Length: {len(body)}\r\n\r\n")  # fmt: skip
                await stream.send_all(head.encode())
                await trio.sleep(0.02)
                await stream.send_all(body)
                with trio.fail_after(2):
                    answer = await _read_response(stream)
                assert answer.startswith(b"HTTP/1.1 401")


async def _read_response(stream: trio.SocketStream) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        data += await stream.receive_some(4096)
    head, _, rest = data.partition(b"\r\n\r\n")
    length = int(
        next(
            line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
        )
    )
    while len(rest) < length:
        rest += await stream.receive_some(4096)
    return head


async def test_http2_with_prior_knowledge_on_a_plain_listener() -> None:
    store = MemoryStore()
    async with (
        serving(create_app(store)) as url,
        httpx.AsyncClient(base_url=url, http1=False, http2=True) as client,
    ):
        response = await client.get("/api/v1/snapshot?lat=46&lon=13&radius=10")
    assert response.status_code == 200 and response.http_version == "HTTP/2"


async def test_http2_over_tls_when_certificates_are_configured(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    await trio.run_process(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        capture_stdout=True, capture_stderr=True,
    )  # fmt: skip
    settings = RestSettings(tls_certfile=cert, tls_keyfile=key, hsts_max_age_s=600)
    async with serving(create_app(MemoryStore(), settings), settings) as url:
        assert url.startswith("https://")
        context = ssl.create_default_context(cafile=str(cert))
        async with httpx.AsyncClient(base_url=url, http2=True, verify=context) as client:
            response = await client.get("/api/v1/info")
    assert response.status_code == 200 and response.http_version == "HTTP/2"
    assert response.headers["Strict-Transport-Security"] == "max-age=600"
    assert response.json()["websocket_url"].startswith("wss://127.0.0.1:8081/")


async def test_gzip_on_the_wire(accounts: AccountService) -> None:
    store = MemoryStore()
    async with api(accounts, store=store, gzip_min_bytes=0) as client:
        response = await client.get("/api/v1/openapi.json", headers={"Accept-Encoding": "gzip"})
        assert "gzip" not in response.headers.get("Content-Encoding", "")  # a document, not a negotiated body
        response = await client.get("/api/v1/basestations", headers={"Accept-Encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip" and response.json() == {"stations": []}


# --- the OpenAPI document, checked by schemathesis -------------------------------------------------

T0 = 1_750_000_000.0
WORLD = [
    ReceivedFrame("alpha", T0 + step, -90, 7, encode_frame(Frame(addr, payload)))
    for step, (addr, payload) in enumerate(
        [
            (0x110B90, AirTracking(46.2, 13.6, AircraftType.PARAGLIDER, 1800, 36.0, 1.5, 90.0)),
            (0x110B90, AirTracking(46.2001, 13.6, AircraftType.PARAGLIDER, 1801, 36.0, 1.5, 90.0)),
            (0x110B90, Thermal(46.21, 13.61, 5, 1900, 2.5, 18.0, 270.0)),
            (0x200C9E, GroundTracking(46.25, 13.65, GroundType.NEED_RIDE)),
            (0xFB1234, Service(lat=46.22, lon=13.62, temperature_c=12.5)),
        ]
    )
]
"""Objects of every kind, among them the addresses the schemathesis configuration names."""

SCHEMATHESIS_CONFIG = """
# Schema-valid boxes whose south-west latitude lies north of the north-east one are refused with 400:
# JSON Schema cannot compare two numbers inside one string, the parameter's description says so.
[[operations]]
include-path-regex = "^/api/v1/(pilots|ground|thermals|stations)$"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400"]

# Addresses that exist, so that these operations are tested beyond 404.
[[operations]]
include-path = "/api/v1/track/{addr}"
parameters = { addr = "110B90" }

[[operations]]
include-path = "/api/v1/stations/{addr}"
parameters = { addr = "FB1234" }
"""


async def test_schemathesis_finds_no_failures(accounts: AccountService, tmp_path: Path) -> None:
    store = MemoryStore()
    pipeline = Pipeline(PipelineSettings(appear_score=1))
    for frame in WORLD:
        await store.apply(pipeline.process(frame, frame.timestamp))
    config = tmp_path / "schemathesis.toml"
    config.write_text(SCHEMATHESIS_CONFIG)
    settings = RestSettings(auth_url=accounts.url, rate_limit_per_s=1e6, rate_limit_burst=1e6)
    async with serving(create_app(store, settings, clock=lambda: T0 + 60), settings) as url:
        result = await trio.run_process(
            [str(Path(sys.executable).with_name("st")), "--config-file", str(config), "run",
             f"{url}/api/v1/openapi.json", "--checks", "all", "--max-examples", "40", "--seed", "20250611",
             "--workers", "1", "--header", "Authorization: Bearer good", "--generation-database", "none",
             "--no-color"],
            capture_stdout=True, capture_stderr=True, check=False, cwd=tmp_path,
        )  # fmt: skip
    output = result.stdout.decode(errors="replace")
    assert result.returncode == 0, output[-6000:] + result.stderr.decode(errors="replace")[-2000:]
    assert "No issues found" in output
