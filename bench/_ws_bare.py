"""The baseline of the WebSocket benchmark: a bare trio-websocket server that broadcasts to everyone.

Run as its own process (``python bench/_ws_bare.py --rate R --size S``): it prints ``port N`` once it
listens, then every 1/R seconds replaces the current message with a new one of S bytes (its first
8 bytes the CLOCK_MONOTONIC time, so that clients measure the delay) and wakes every connection's handler,
which sends it. One idle handler per connection, nothing else: what a connection costs in trio-websocket
and what one send to one client costs. The process tunes the collector as ``fanet server`` does
(``fanet.server.gc_timing.tune``: the same threshold, start-up objects frozen), so the comparison is of the code, not of GC settings.
Runs until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import resource
import struct
import sys
import time

import trio
from trio_websocket import ConnectionClosed, WebSocketRequest, serve_websocket

from fanet.server import gc_timing


class Broadcast:
    def __init__(self) -> None:
        self.message = b""
        self.generation = 0
        self.changed = trio.Event()

    def publish(self, message: bytes) -> None:
        self.message = message
        self.generation += 1
        self.changed.set()
        self.changed = trio.Event()


async def main(rate: float, size: int, host: str) -> None:
    broadcast = Broadcast()

    async def handler(request: WebSocketRequest) -> None:
        ws = await request.accept()
        seen = broadcast.generation
        try:
            while True:
                while broadcast.generation == seen:
                    await broadcast.changed.wait()
                seen = broadcast.generation
                await ws.send_message(broadcast.message)
        except ConnectionClosed:
            pass

    async def tick() -> None:
        padding = bytes(max(size - 8, 0))
        while True:
            await trio.sleep(1 / rate)
            broadcast.publish(struct.pack("d", time.monotonic()) + padding)

    async with trio.open_nursery() as nursery:
        server = await nursery.start(serve_websocket, handler, host, 0, None)
        print(f"port {server.port}", flush=True)
        gc_timing.tune()
        nursery.start_soon(tick)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1.0, help="broadcasts per second (1)")
    parser.add_argument("--size", type=int, default=100, help="bytes per message (100, at least 8)")
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    try:
        trio.run(main, args.rate, args.size, args.host)
    except KeyboardInterrupt:
        sys.exit(0)
