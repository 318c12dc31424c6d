"""The whole server in one nursery: replayed frames reach the REST API and WebSocket clients.

``run_server`` runs in-process with the bundled capture replayed fast (no broker), the WebSocket
listener and the HTTP listener on free ports; the tests talk to them over real sockets.
"""

import json
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import pytest
import trio
from services import RedisServer
from trio_websocket import ConnectionClosed

from fanet.hardware import bundled_captures, read_capture
from fanet.server.app import Shutdown, run_server
from fanet.server.live.client import open_updates, update_object, updates_of
from fanet.server.live.settings import LiveSettings
from fanet.server.rest import RestSettings
from fanet.server.settings import Replay, ServerConfig
from fanet.server.state import AppState
from fanet.server.web import WebSettings

SCENARIO = (47.25, 9.07)  # the bundled flights start near Amden, Switzerland
CAPTURE = next(path for path in bundled_captures() if path.name == "simulated-10min-seed1.jsonl")


def config(**options: Any) -> ServerConfig:
    return replace(
        ServerConfig(
            listen=("127.0.0.1", 0),
            live=LiveSettings(host="127.0.0.1", port=0, batch_interval_s=0, freeze_gc=False),
            replay=Replay(read_capture(CAPTURE), "local", speed=60.0),
            web=WebSettings(tiles_url=""),
        ),
        **options,
    )


@asynccontextmanager
async def running(cfg: ServerConfig, shutdown: Shutdown | None = None) -> AsyncIterator[AppState]:
    shutdown = shutdown or Shutdown()
    async with trio.open_nursery() as nursery:
        state: AppState = await nursery.start(lambda task_status: run_server(cfg, shutdown=shutdown,
                                                                              task_status=task_status))  # fmt: skip
        yield state
        shutdown.request()


async def get_json(port: int | None, path: str) -> tuple[int, dict[str, object]]:
    def fetch() -> tuple[int, dict[str, object]]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    return await trio.to_thread.run_sync(fetch)


@pytest.fixture(params=["memory", "redis"])
def store_options(request: pytest.FixtureRequest) -> dict[str, Any]:
    if request.param == "memory":
        return {}
    server: RedisServer = request.getfixturevalue("redis_server")
    return {"redis_url": server.url, "redis_namespace": f"wiring-{uuid.uuid4().hex[:8]}"}


async def test_replayed_frames_reach_websocket_clients_and_the_rest_api(
    store_options: dict[str, Any],
) -> None:
    async with running(config(**store_options)) as state:
        assert state.store.name == ("redis" if store_options else "memory")
        assert state.ws_port is not None and state.hub is not None
        async with open_updates(f"ws://127.0.0.1:{state.ws_port}", *SCENARIO, 50) as stream:
            seen: set[int] = set()
            with trio.fail_after(20):
                while len(seen) < 3:
                    for update in updates_of(await stream.receive()):
                        obj = update_object(update)
                        if "addr" in obj:
                            seen.add(int(obj["addr"]))
        status, info = await get_json(state.http_port, "/api/v1/info")
        assert status == 200
        assert info["websocket_url"] == f"ws://127.0.0.1:{state.ws_port}/ws/v1/updates"
        counts = info["counts"]
        assert isinstance(counts, dict) and counts["pilots"] >= 1
        status, pilots = await get_json(state.http_port, "/api/v1/pilots?bounds=46,8,48.5,10.5")
        assert status == 200
        listed = pilots["pilots"]
        assert isinstance(listed, list) and listed
        status, error = await get_json(state.http_port, "/api/v1/snapshot?lat=47&lon=9&radius=900")
        assert status == 400 and "radius" in json.dumps(error)


async def test_a_configured_websocket_url_is_what_info_names() -> None:
    url = "wss://live.example.org/ws/v1/updates"
    async with running(config(rest=RestSettings(websocket_url=url), replay=None)) as state:
        status, info = await get_json(state.http_port, "/api/v1/info")
    assert status == 200 and info["websocket_url"] == url


async def test_without_a_running_pipeline_a_posted_position_is_refused_with_503() -> None:
    # No auth service configured: the API refuses with 503 before anything else (never 401 or 500).
    async with running(config(replay=None)) as state:

        def post() -> int:
            request = urllib.request.Request(
                f"http://127.0.0.1:{state.http_port}/api/v1/position",
                data=b'{"lat": 47.2, "lon": 9.1}',
                headers={"Content-Type": "application/json", "Authorization": "Bearer x"},
                method="POST",
            )
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    return int(response.status)
            except urllib.error.HTTPError as error:
                return error.code

        assert await trio.to_thread.run_sync(post) == 503


async def test_shutdown_closes_websocket_clients_with_going_away() -> None:
    shutdown = Shutdown()
    async with (
        running(config(replay=None), shutdown) as state,
        open_updates(f"ws://127.0.0.1:{state.ws_port}", *SCENARIO, 50) as stream,
    ):
        await stream.receive()  # the Welcome
        shutdown.request()
        with trio.fail_after(5), pytest.raises(ConnectionClosed) as closed:
            while True:
                await stream.receive()
    assert closed.value.reason is not None and closed.value.reason.code == 1001


async def test_the_map_and_its_client_are_served_beside_the_api() -> None:
    async with running(config(replay=None)) as state:

        def fetch(path: str) -> tuple[int, str, bytes]:
            with urllib.request.urlopen(f"http://127.0.0.1:{state.http_port}{path}", timeout=5) as response:
                return response.status, response.headers.get("Content-Type", ""), response.read()

        status, kind, page = await trio.to_thread.run_sync(fetch, "/")
        assert status == 200 and kind.startswith("text/html") and b'id="map"' in page
        status, kind, script = await trio.to_thread.run_sync(fetch, "/static/fanet-client.js")
        assert status == 200 and "javascript" in kind and b"export" in script
        status, body = await get_json(state.http_port, "/static/no-such-file.js")
        assert status == 404 and body["code"] == "not_found"
