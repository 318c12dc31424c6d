"""Snapshot latency of the REST API: a 200 km snapshot of a busy day, asked by a separate client process.

The world is the store benchmark's (``bench/store.py``): 5,000 pilots, 500 thermals and 200 weather
stations over 400 × 400 km of the Alps. The API runs on hypercorn in this process; a client process
(this script with ``--client``, stdlib ``http.client`` over keep-alive connections) asks for
``/api/v1/snapshot?lat&lon&radius=200`` — one connection in sequence for the latency percentiles, then
several at once for requests per second — as protobuf and as JSON, from the memory store and (with
``--redis URL``) the Redis store, on an unchanged world and while 1,000 changes a second are applied
(pilots moving: the encodings of changed objects are made again). Baselines measured in the same run:
the bare store query (all four kinds in the circle, in this process) and a bare ASGI "hello" endpoint
on the same hypercorn, through the same client.
"""

import argparse
import http.client
import json
import math
import os
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import hypercorn.trio
import redis
import trio

from fanet.server.api.messages import snapshot_response
from fanet.server.model import Kind
from fanet.server.rest import RestSettings, create_app, hypercorn_config
from fanet.server.rest.negotiate import gzip_bytes
from fanet.server.store import Circle, MemoryStore, RedisStore, Store

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench.store import CENTRE, T0, World  # the store benchmark's world

PROTOBUF = "application/x-protobuf"
JSON = "application/json"


# --- the client process --------------------------------------------------------------------------


def client_main(args: argparse.Namespace) -> int:
    """Measure one URL; prints one JSON line: latencies (ms), requests/s, body size."""
    parts = urlsplit(args.client)
    path = parts.path + ("?" + parts.query if parts.query else "")
    headers = {"Accept": args.accept, "Accept-Encoding": "gzip" if args.gzip else "identity"}

    def connect() -> http.client.HTTPConnection:
        return http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=30)

    def get(connection: http.client.HTTPConnection) -> int:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise SystemExit(f"{args.client}: HTTP {response.status} {body[:200]!r}")
        return len(body)

    connection = connect()
    size = 0
    for _ in range(args.warmup):
        size = get(connection)
    latencies = []
    for _ in range(args.requests):
        start = time.perf_counter()
        get(connection)
        latencies.append((time.perf_counter() - start) * 1000)
    connection.close()

    done = 0
    lock = threading.Lock()
    deadline = time.perf_counter() + args.seconds

    def worker() -> None:
        nonlocal done
        own = connect()
        while time.perf_counter() < deadline:
            get(own)
            with lock:
                done += 1
        own.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(args.connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rate = done / (time.perf_counter() - started)
    latencies.sort()
    print(
        json.dumps(
            {
                "p50": statistics.median(latencies),
                "p95": percentile(latencies, 95),
                "p99": percentile(latencies, 99),
                "rate": rate,
                "bytes": size,
            }
        )
    )
    return 0


def percentile(ordered: list[float], p: float) -> float:
    return ordered[min(len(ordered) - 1, math.ceil(len(ordered) * p / 100) - 1)]


async def measure_url(
    url: str, accept: str, args: argparse.Namespace, *, gzip: bool = False
) -> dict[str, float]:
    command = [
        sys.executable, os.path.abspath(__file__), "--client", url, "--accept", accept,
        "--requests", str(args.requests), "--warmup", str(args.warmup), "--seconds", str(args.seconds),
        "--connections", str(args.connections), *(["--gzip"] if gzip else []),
    ]  # fmt: skip
    result = await trio.run_process(command, capture_stdout=True, capture_stderr=True, check=False)
    if result.returncode != 0:
        raise SystemExit(result.stderr.decode(errors="replace"))
    figures: dict[str, float] = json.loads(result.stdout)
    return figures


def row(label: str, figures: dict[str, float]) -> None:
    print(
        f"  {label:<44} p50 {figures['p50']:7.2f} ms  p95 {figures['p95']:7.2f} ms  p99 {figures['p99']:7.2f} ms"
        f"  {figures['rate']:7.1f} req/s  {figures['bytes'] / 1024:8.1f} KiB",
        flush=True,
    )


# --- the server side -----------------------------------------------------------------------------


async def hello(
    scope: dict[str, Any], receive: Callable[[], Awaitable[Any]], send: Callable[[Any], Awaitable[None]]
) -> None:
    """The smallest ASGI app: what hypercorn and the client cost without the API."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"hello"})


async def serve(nursery: trio.Nursery, app: Any, stop: trio.Event) -> str:
    config = hypercorn_config(RestSettings(), ["127.0.0.1:0"])
    binds: list[str] = await nursery.start(
        partial(hypercorn.trio.serve, app, config, shutdown_trigger=stop.wait)
    )
    return binds[0]


async def query_ms(store: Store, rounds: int) -> tuple[float, float, int]:
    """The bare store query of a snapshot: median and p95 in ms, and how many objects it found."""
    circle = Circle(*CENTRE, 200.0)
    times = []
    found = 0
    for _ in range(rounds):
        start = time.perf_counter()
        found = sum([len(await store.objects(kind, circle)) for kind in Kind])
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), percentile(times, 95), found


async def keep_moving(store: Store, world: World, changes_per_s: float) -> None:
    """Apply the world's moving batches (100 changes each) at ``changes_per_s``, until cancelled."""
    interval = 100 / changes_per_s
    t = T0
    while True:
        t += interval
        await store.apply(world.moving_batch(t))
        await trio.sleep(interval)


async def bench_store(name: str, store: Store, world: World, args: argparse.Namespace) -> None:
    for batch in world.initial_batches():
        await store.apply(batch)
    median, p95, found = await query_ms(store, args.requests)
    print(f"\n{name} store: {found} objects in the 200 km circle", flush=True)
    print(f"  {'bare store query (baseline)':<44} p50 {median:7.2f} ms  p95 {p95:7.2f} ms", flush=True)
    stop = trio.Event()
    settings = RestSettings(rate_limit_per_s=1e9, rate_limit_burst=1e9)
    async with trio.open_nursery() as nursery:
        url = await serve(nursery, create_app(store, settings, clock=lambda: T0 + 60), stop)
        snapshot = f"{url}/api/v1/snapshot?lat={CENTRE[0]}&lon={CENTRE[1]}&radius=200"
        for label, accept, gzip in (("protobuf", PROTOBUF, False), ("JSON", JSON, False),
                                    ("protobuf, gzip", PROTOBUF, True), ("JSON, gzip", JSON, True)):  # fmt: skip
            row(f"snapshot, {label}, unchanged world", await measure_url(snapshot, accept, args, gzip=gzip))
        if args.changes_per_s > 0:
            nursery.start_soon(keep_moving, store, world, args.changes_per_s)
            for label, accept in (("protobuf", PROTOBUF), ("JSON", JSON)):
                figures = await measure_url(snapshot, accept, args)
                row(f"snapshot, {label}, {args.changes_per_s:,.0f} changes/s", figures)
        stop.set()
        nursery.cancel_scope.cancel()


def sizes(world: World) -> None:
    thousand = world.pilots[:1000]
    raw = snapshot_response(thousand, 123456).SerializeToString()
    print(
        f"\nprotobuf snapshot of {len(thousand):,} pilots: {len(raw) / 1000:.1f} KB, gzipped "
        f"{len(gzip_bytes(raw, 1)) / 1000:.1f} KB at level 1, {len(gzip_bytes(raw, 9)) / 1000:.1f} KB at level 9"
    )


async def run(args: argparse.Namespace) -> None:
    world = World(args.pilots, args.thermals, args.stations)
    sizes(world)
    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        hello_url = await serve(nursery, hello, stop)
        print(f"\nbaseline: bare ASGI hello on the same hypercorn, {args.requests} requests, then "
              f"{args.connections} connections for {args.seconds:g} s", flush=True)  # fmt: skip
        row("hello", await measure_url(hello_url + "/", "text/plain", args))
        await bench_store("memory", MemoryStore(), world, args)
        if args.redis:
            namespace = f"bench-{uuid.uuid4().hex}"
            store = RedisStore(args.redis, namespace=namespace)
            try:
                await bench_store("redis", store, world, args)
            finally:
                await trio.to_thread.run_sync(_delete_namespace, args.redis, namespace)
                await store.aclose()
        stop.set()


def _delete_namespace(url: str, namespace: str) -> None:
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(f"{namespace}:*", count=1000))
    for start in range(0, len(keys), 1000):
        client.delete(*keys[start : start + 1000])
    client.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", metavar="URL", help="also measure the Redis store (redis://host:port/0)")
    parser.add_argument("--requests", type=int, default=200, help="sequential requests for the percentiles")
    parser.add_argument("--warmup", type=int, default=10, help="requests before measuring")
    parser.add_argument("--connections", type=int, default=4, help="concurrent connections for req/s")
    parser.add_argument("--seconds", type=float, default=5.0, help="how long to measure req/s")
    parser.add_argument(
        "--changes-per-s", type=float, default=1000.0, help="store changes while measuring (0: none)"
    )
    parser.add_argument("--pilots", type=int, default=5000)
    parser.add_argument("--thermals", type=int, default=500)
    parser.add_argument("--stations", type=int, default=200)
    parser.add_argument("--client", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--accept", default=PROTOBUF, help=argparse.SUPPRESS)
    parser.add_argument("--gzip", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        return client_main(args)
    trio.run(run, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
