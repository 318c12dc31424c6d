"""The replay source in a loop (what ``fanet demo`` runs): every pilot survives the jump back to the start.

At the loop boundary each pilot jumps from where the capture left it to where it began (1–5 km in a few
seconds). The phantom validator rejects the first reports after the jump (too fast), hides the pilot and
re-anchors on the new position: the pilot is back at its start a few reports later, every loop.
"""

from pathlib import Path

import trio
import trio.testing

from fanet.hardware import read_capture
from fanet.server.clock import UnixClock
from fanet.server.ingest import Arrivals, SourceStats
from fanet.server.local import replay_capture
from fanet.server.pipeline import Pipeline
from fanet.server.settings import Replay

CAPTURE = Path(__file__).parents[2] / "hardware" / "captures" / "simulated-10min-seed1.jsonl"
SPEED = 10.0
PERIOD_S = 600.0 / SPEED
BACK_WITHIN_S = 10.0 / SPEED
"""Capture seconds a pilot may be off the map after the jump (two reports), on the replay's clock."""


async def test_every_pilot_is_back_on_the_map_soon_after_each_loop(
    autojump_clock: trio.testing.MockClock,
) -> None:
    capture = read_capture(CAPTURE)
    devices = capture.header.extra["simulation"]["devices"]
    pilots = {int(d["address"], 16) for d in devices if d["kind"] == "paraglider"}
    clock = UnixClock()
    pipeline = Pipeline()
    stats = SourceStats()
    arrivals_send, arrivals = trio.open_memory_channel[Arrivals](8)
    start = trio.current_time()
    gone_since: dict[int, float] = {}
    longest_gone: dict[int, float] = dict.fromkeys(pilots, 0.0)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(
            replay_capture, Replay(capture, "local", SPEED, loop=True), arrivals_send, stats, clock
        )
        async for batch in arrivals:
            pipeline.process_many(batch.frames, clock.unix(batch.received_at))
            now = trio.current_time()
            on_map = pipeline.world.pilots.keys() | pipeline.world.ground.keys()
            for addr in pilots & on_map:
                if addr in gone_since:
                    longest_gone[addr] = max(longest_gone[addr], now - gone_since.pop(addr))
            if now - start > PERIOD_S:  # once every pilot has appeared
                for addr in pilots - on_map:
                    gone_since.setdefault(addr, now)
            if now - start > 2.5 * PERIOD_S:
                nursery.cancel_scope.cancel()
    assert stats.frames > 2 * capture.header.extra["expected"]["frames"]  # two loops and a half
    assert not gone_since, {f"{addr:06X}": since - start for addr, since in gone_since.items()}
    assert all(gone <= BACK_WITHIN_S for gone in longest_gone.values()), longest_gone
