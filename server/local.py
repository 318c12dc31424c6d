"""Local ingest sources, the embedded default that needs no broker: a capture replayed, or a module on a
serial port (the gateway's link, embedded).

Replay reads the capture's module → host bytes with their timing (``fanet.hardware.Playback``, times
``speed``, optionally looping), parses them as the module's serial lines (a ``ModuleConnection`` that is
never started only parses) and stamps each received frame with the current time, as a gateway would.

A looped replay (``fanet demo``) goes through the same validation as live traffic, on purpose: at the
loop boundary every pilot jumps from where the capture ends back to where it began (a few km within
seconds), the phantom validator rejects the first reports after the jump as too fast, hides the pilot
and re-anchors on the new position, and the pilot is back at its start after about five capture
seconds. Stamping each loop later cannot hide the jump (the stamps are already continuous; positions
are what jump), and rewriting addresses or positions per loop would show the map something no
radio sent.
"""

import structlog
import trio

from fanet.firmware_bridge import FrameReceived, ModuleConnection
from fanet.gateway.module import ModuleLink, ModuleSettings
from fanet.hardware import Playback
from fanet.proto import ReceivedFrame
from fanet.server.clock import UnixClock
from fanet.server.health import SERIAL, Readiness
from fanet.server.ingest import Arrivals, SourceStats
from fanet.server.settings import Replay

log = structlog.get_logger("fanet.server")

_SERIAL_BATCH = 100
_STATUS_INTERVAL_S = 1.0


async def replay_capture(
    replay: Replay, arrivals: trio.MemorySendChannel[Arrivals], stats: SourceStats, clock: UnixClock
) -> None:
    """Play the capture's frames into ``arrivals``; returns at its end (never, with ``loop``)."""
    playback = Playback(replay.capture, speed=replay.speed, loop=replay.loop)
    module = ModuleConnection()
    playback.resume(trio.current_time())
    log.info(
        "replaying a capture",
        source=replay.capture.header.source,
        station=replay.station_id,
        speed=replay.speed,
        loop=replay.loop,
    )
    async with arrivals:
        while (due := playback.next_due()) is not None:
            await trio.sleep_until(due)
            now = trio.current_time()
            while (data := playback.pop_due(now)) is not None:
                module.receive_data(data, now)
            stamp = clock.unix(now)
            frames = [
                ReceivedFrame(replay.station_id, stamp, event.rssi_dbm, None, event.raw)
                for event in module.events()
                if isinstance(event, FrameReceived)
            ]
            if frames:
                stats.frames += len(frames)
                await arrivals.send(Arrivals(frames, received_at=now))
    log.info("replay finished", frames=stats.frames)


async def read_serial(
    settings: ModuleSettings,
    arrivals: trio.MemorySendChannel[Arrivals],
    stats: SourceStats,
    readiness: Readiness,
) -> None:
    """Run the module link (reopening the port with backoff) and forward its frames until cancelled."""
    link = ModuleLink(settings)
    frames_send, frames = trio.open_memory_channel[ReceivedFrame](_SERIAL_BATCH)
    async with arrivals, trio.open_nursery() as nursery:
        await nursery.start(link.run, frames_send)
        nursery.start_soon(_watch_link, link, readiness)
        async for first in frames:
            batch = [first]
            while len(batch) < _SERIAL_BATCH:
                try:
                    batch.append(frames.receive_nowait())
                except trio.WouldBlock:
                    break
            stats.frames += len(batch)
            await arrivals.send(Arrivals(batch, received_at=trio.current_time()))


async def _watch_link(link: ModuleLink, readiness: Readiness) -> None:
    status = link.status
    while True:
        if status.serial_state == "open":
            readiness.up(SERIAL)
        else:
            detail = f": {status.last_error}" if status.last_error else ""
            readiness.down(SERIAL, f"{status.port} {status.serial_state}{detail}")
        await trio.sleep(_STATUS_INTERVAL_S)
