"""``fanet watch`` against a running listener."""

import json
from dataclasses import replace
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


ANA = Pilot(0x110B90, 46.0, 8.0, 1500, AircraftType.PARAGLIDER, 31.0, 1.2, 90.0, True, T0, "Ana")


async def watch(*args: str, moves: int = 0) -> tuple[Result, list[Any]]:
    """Run ``fanet watch`` on a store holding Ana; once it is live, Ana moves north ``moves`` times."""
    store = MemoryStore()
    await store.apply(ApplyBatch(changes=(PendingChange(Action.ADD, ANA, T0),)))
    settings = LiveSettings(host="127.0.0.1", port=0, batch_interval_s=0, freeze_gc=False)
    hub = Hub(settings)

    def sent_all(step: int) -> bool:  # a move must not fold into an update still owed
        published = hub.position >= step  # Ana's ADD is change 1, her moves 2, 3 …
        return published and any(s.state == "live" and s.outbox.due_at is None for s in hub.subscribers)

    async def move() -> None:
        for step in range(1, moves + 1):
            while not sent_all(step):
                await trio.sleep(0.01)
            moved = replace(ANA, lat=46.0 + step * 0.001, last_update=T0 + step)
            await store.apply(ApplyBatch(changes=(PendingChange(Action.UPDATE, moved, T0),)))

    async with trio.open_nursery() as nursery:
        port = await nursery.start(serve_websockets, hub, store, settings)
        nursery.start_soon(move)
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


async def test_watch_compact_prints_the_same_lines_as_whole_updates() -> None:
    """Compact moves are applied to the pilot the command has, so its lines read the same."""
    whole = await watch("--count", "4", moves=3)
    compact = await watch("--compact", "--count", "4", moves=3)
    for result, _ in (whole, compact):
        assert result.exit_code == 0, result.output
    assert compact[1][1:] == whole[1][1:]
    assert compact[1][-1].split()[1:5] == ["UPDATE", "pilot", "110B90", "46.00300"]
    assert "'Ana'" in compact[1][-1]


async def test_watch_compact_wants_protobuf() -> None:
    result, _ = await watch("--compact", "--json", "--count", "1")
    assert result.exit_code == 2 and "--compact is for protobuf" in result.output
