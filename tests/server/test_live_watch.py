"""``fanet watch`` against a running listener."""

import json
from typing import Any

import trio
from click.testing import CliRunner, Result

from fanet.main import cli
from fanet.proto import AircraftType
from fanet.server.live.hub import Hub
from fanet.server.live.listener import serve_websockets
from fanet.server.live.settings import LiveSettings
from fanet.server.model import Action, ApplyBatch, PendingChange, Pilot
from fanet.server.store import MemoryStore

T0 = 1_750_000_000.0


async def watch(*args: str) -> tuple[Result, list[Any]]:
    store = MemoryStore()
    ana = Pilot(0x110B90, 46.0, 8.0, 1500, AircraftType.PARAGLIDER, 31.0, 1.2, 90.0, True, T0, "Ana")
    await store.apply(ApplyBatch(changes=(PendingChange(Action.ADD, ana, T0),)))
    settings = LiveSettings(host="127.0.0.1", port=0, batch_interval_s=0, freeze_gc=False)
    async with trio.open_nursery() as nursery:
        port = await nursery.start(serve_websockets, Hub(settings), store, settings)
        command = ["watch", "--url", f"ws://127.0.0.1:{port}", "--lat", "46", "--lon", "8", "--radius", "20"]
        result = await trio.to_thread.run_sync(lambda: CliRunner().invoke(cli, [*command, *args]))
        nursery.cancel_scope.cancel()
    return result, result.output.splitlines()


async def test_watch_prints_one_line_per_update() -> None:
    result, lines = await watch("--count", "1")
    assert result.exit_code == 0, result.output
    assert lines[0].startswith("# welcome: server")
    assert lines[1].split()[:4] == ["1", "ADD", "pilot", "110B90"]
    assert "31 km/h" in lines[1] and "'Ana'" in lines[1]


async def test_watch_json_prints_the_frames_as_received() -> None:
    result, lines = await watch("--json", "--count", "1")
    assert result.exit_code == 0, result.output
    frames = [json.loads(line) for line in lines]
    assert "welcome" in frames[0]
    assert frames[1]["batch"]["updates"][0]["data"]["name"] == "Ana"
