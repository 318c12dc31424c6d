"""Store throughput and query latency: the memory store always, the Redis store with ``--redis URL``.

The world is a busy flying day over 400 × 400 km of the Alps: 5,000 pilots, 500 thermals and 200
weather stations. ``apply`` is measured with batches of 100 changes as the pipeline makes them (90 pilot
updates, each with its track point, 5 thermals, 5 weather stations), one writer and several at once;
queries are what a map client's snapshot asks (every kind within a radius of the centre), at 200 km
(most of the world), 20 km (a valley) and 5 km (a live client's region: its catch-up reads such a
snapshot), repeated on an unchanged world and with 500 changes applied
between snapshots (the Redis store skips decoding objects that did not change). ``--codec`` adds the
value encoding against stdlib JSON.

The Redis store runs in its own namespace (``bench-<random>``), deleted at the end, so any Redis will do.
"""

import argparse
import functools
import json
import math
import random
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence

import redis
import trio

from fanet.proto import AircraftType
from fanet.server.model import (
    Action,
    ApplyBatch,
    Kind,
    LiveObject,
    PendingChange,
    Pilot,
    Thermal,
    TrackPoint,
    WeatherStation,
)
from fanet.server.store import Circle, MemoryStore, RedisStore, Store
from fanet.server.store.base import KM_PER_DEGREE, matches
from fanet.server.store.codec import decode_object, encode_object

CENTRE = (46.3, 12.0)
SIDE_KM = 400.0
T0 = 1_750_000_000.0
RADII_KM = (200.0, 20.0, 5.0)


class World:
    """A deterministic day: where everything is, and batches of what moves."""

    def __init__(self, pilots: int, thermals: int, stations: int, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.pilots = [self._pilot(0x100000 + i, T0) for i in range(pilots)]
        self.thermals = [self._thermal(i, T0) for i in range(thermals)]
        self.stations = [self._station(0x200000 + i, T0) for i in range(stations)]

    def _place(self) -> tuple[float, float]:
        lat0, lon0 = CENTRE
        dlat = (self.rng.random() - 0.5) * SIDE_KM / KM_PER_DEGREE
        dlon = (self.rng.random() - 0.5) * SIDE_KM / (KM_PER_DEGREE * math.cos(math.radians(lat0)))
        return lat0 + dlat, lon0 + dlon

    def _pilot(self, addr: int, t: float) -> Pilot:
        lat, lon = self._place()
        rng = self.rng
        return Pilot(
            addr, lat, lon, rng.randrange(800, 3500), AircraftType.PARAGLIDER, rng.uniform(20, 55),
            rng.uniform(-3, 4), rng.uniform(0, 360), True, t, f"Pilot {addr & 0xFFFF}",
            rng.choice((None, 80.0)), rng.choice((None, 12.5)),
        )  # fmt: skip

    def _thermal(self, id_: int, t: float) -> Thermal:
        lat, lon = self._place()
        rng = self.rng
        return Thermal(
            id_, 0x100000, lat, lon, rng.randrange(1200, 3200), rng.randrange(8), rng.uniform(0.5, 4),
            rng.uniform(0, 30), rng.uniform(0, 360), t, rng.randrange(1, 9),
        )  # fmt: skip

    def _station(self, addr: int, t: float) -> WeatherStation:
        lat, lon = self._place()
        rng = self.rng
        return WeatherStation(
            addr, lat, lon, t, f"Station {addr & 0xFFFF}", rng.uniform(-5, 25), rng.uniform(0, 360),
            rng.uniform(0, 40), rng.uniform(0, 60), rng.uniform(20, 90), rng.uniform(990, 1030), 90.0,
        )  # fmt: skip

    def initial_batches(self, size: int = 100) -> list[ApplyBatch]:
        everything: list[LiveObject] = [*self.pilots, *self.thermals, *self.stations]
        return [
            ApplyBatch(changes=tuple(PendingChange(Action.ADD, obj, T0) for obj in everything[i : i + size]))
            for i in range(0, len(everything), size)
        ]

    def moving_batch(self, t: float) -> ApplyBatch:
        """90 pilot updates with their track points, 5 thermals, 5 weather stations."""
        rng = self.rng
        pilots = [self._pilot(p.addr, t) for p in rng.sample(self.pilots, 90)]
        others: list[LiveObject] = [
            *(self._thermal(th.id, t) for th in rng.sample(self.thermals, 5)),
            *(self._station(s.addr, t) for s in rng.sample(self.stations, 5)),
        ]
        return ApplyBatch(
            changes=tuple(PendingChange(Action.UPDATE, obj, t) for obj in [*pilots, *others]),
            track_points=tuple(
                (p.addr, TrackPoint(p.lat, p.lon, p.altitude_m, p.speed_kmh, p.climb_ms, t)) for p in pilots
            ),
        )


async def apply_rate(store: Store, batches: Sequence[ApplyBatch], writers: int) -> float:
    """Changes per second applied by ``writers`` concurrent tasks sharing the batches."""
    queue = list(batches)
    start = time.perf_counter()

    async def writer() -> None:
        while queue:
            await store.apply(queue.pop())

    async with trio.open_nursery() as nursery:
        for _ in range(writers):
            nursery.start_soon(writer)
    return sum(len(b.changes) for b in batches) / (time.perf_counter() - start)


async def latency_ms(
    query: Callable[[], Awaitable[object]],
    rounds: int,
    before: Callable[[int], Awaitable[object]] | None = None,
) -> tuple[float, float]:
    """Median and 95th percentile of ``rounds`` runs, in ms; ``before(round)`` runs untimed first."""
    times = []
    for number in range(rounds):
        if before is not None:
            await before(number)
        start = time.perf_counter()
        await query()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


async def snapshot(store: Store, circle: Circle) -> int:
    return sum([len(await store.objects(kind, circle)) for kind in (Kind.PILOT, Kind.THERMAL, Kind.STATION)])


async def measure(
    store: Store, world: World, moving: list[ApplyBatch], between: list[ApplyBatch], args: argparse.Namespace
) -> None:
    for batch in world.initial_batches():
        await store.apply(batch)
    half = len(moving) // 2
    one = await apply_rate(store, moving[:half], writers=1)
    many = await apply_rate(store, moving[half:], writers=args.writers)
    print(
        f"  apply, batches of 100      : {one:10,.0f} changes/s with 1 writer, "
        f"{many:,.0f} with {args.writers}"
    )
    for radius in RADII_KM:
        circle = Circle(*CENTRE, radius)
        found = await snapshot(store, circle)
        median, p95 = await latency_ms(functools.partial(snapshot, store, circle), args.rounds)
        pilots = len(await store.objects(Kind.PILOT, circle))
        print(
            f"  snapshot, {radius:3.0f} km radius    : {median:7.2f} ms median, {p95:7.2f} ms p95 "
            f"({found} objects, {pilots} pilots)"
        )

    async def apply_five(number: int) -> None:
        for batch in between[number * 5 : number * 5 + 5]:
            await store.apply(batch)

    circle = Circle(*CENTRE, 200.0)
    median, p95 = await latency_ms(functools.partial(snapshot, store, circle), args.rounds, apply_five)
    print(f"    … with 500 changes between : {median:7.2f} ms median, {p95:7.2f} ms p95")


def brute_force_ms(world: World, radius: float, rounds: int) -> float:
    everything: list[LiveObject] = [*world.pilots, *world.thermals, *world.stations]
    circle = Circle(*CENTRE, radius)
    start = time.perf_counter()
    for _ in range(rounds):
        [obj for obj in everything if matches(obj, circle, None, None)]
    return (time.perf_counter() - start) / rounds * 1000


def codec_figures(world: World) -> None:
    def as_json(p: Pilot) -> bytes:
        fields = [
            "P", p.addr, p.lat, p.lon, p.altitude_m, int(p.aircraft_type), p.speed_kmh, p.climb_ms,
            p.heading_deg, p.online, p.last_update, p.name, p.battery_pct, p.turn_rate_dps,
        ]  # fmt: skip
        return json.dumps(fields, separators=(",", ":")).encode()

    types = tuple(AircraftType)

    def from_json(data: bytes) -> Pilot:
        f = json.loads(data)
        return Pilot(f[1], f[2], f[3], f[4], types[f[5]], f[6], f[7], f[8], f[9], f[10], f[11], f[12], f[13])

    pilots = world.pilots
    for label, encode, decode in (("struct", encode_object, decode_object), ("json", as_json, from_json)):
        encode_s = decode_s = math.inf
        for _ in range(5):
            start = time.perf_counter()
            values = [encode(p) for p in pilots]
            encode_s = min(encode_s, time.perf_counter() - start)
            start = time.perf_counter()
            for value in values:
                decode(value)
            decode_s = min(decode_s, time.perf_counter() - start)
        size = sum(map(len, values)) / len(values)
        print(
            f"  {label:6}: encode {encode_s / len(pilots) * 1e6:5.2f} µs, decode "
            f"{decode_s / len(pilots) * 1e6:5.2f} µs, {size:4.0f} bytes per pilot"
        )


async def run(args: argparse.Namespace) -> None:
    world = World(args.pilots, args.thermals, args.stations)
    print(
        f"world: {args.pilots} pilots, {args.thermals} thermals, {args.stations} stations over 400 × 400 km"
    )
    moving = [world.moving_batch(T0 + 1 + i) for i in range(args.batches)]
    between = [world.moving_batch(T0 + 1 + args.batches + i) for i in range(args.rounds * 5)]
    print("memory store")
    await measure(MemoryStore(), world, moving, between, args)
    for radius in RADII_KM:
        print(
            f"  brute-force scan, {radius:3.0f} km   : "
            f"{brute_force_ms(world, radius, args.rounds):7.2f} ms (no index)"
        )
    if args.redis:
        namespace = f"bench-{uuid.uuid4().hex[:8]}"
        store = RedisStore(args.redis, namespace=namespace)
        print(f"redis store at {args.redis} (namespace {namespace})")
        try:
            await measure(store, world, moving, between, args)
        finally:
            await store.aclose()
            client = redis.Redis.from_url(args.redis)
            for key in client.scan_iter(match=f"{namespace}:*", count=1000):
                client.unlink(key)
            client.close()
    if args.codec:
        print("value encoding (one pilot)")
        codec_figures(world)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", metavar="URL", help="also measure a RedisStore on this Redis")
    parser.add_argument("--pilots", type=int, default=5000, help="pilots in the world (default 5000)")
    parser.add_argument("--thermals", type=int, default=500, help="thermals (default 500)")
    parser.add_argument("--stations", type=int, default=200, help="weather stations (default 200)")
    parser.add_argument("--batches", type=int, default=400, help="batches of 100 to apply (default 400)")
    parser.add_argument("--writers", type=int, default=4, help="concurrent writers in the second run")
    parser.add_argument("--rounds", type=int, default=50, help="query repetitions (default 50)")
    parser.add_argument("--codec", action="store_true", help="also compare the value encoding with JSON")
    trio.run(run, parser.parse_args())
    return 0


if __name__ == "__main__":
    sys.exit(main())
