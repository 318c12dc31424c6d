"""End-to-end ingest: wrapped frames published to mosquitto, through ``fanet server``, into Redis.

Starts nothing but the servers under test: give it a broker and a Redis (``make bench`` starts both). The
frames are ``bench/pipeline.py``'s realistic mix (``--addresses`` senders, 70 % air tracking, duplicates
heard by several stations, a few bit errors), stamped with the time they are published. A separate
process publishes them with paho (QoS 1, 100 in flight). The phases, each on topics of its own:

1. **bare paho**: a subscriber that does nothing but count (paho's ``loop_forever`` in a thread, paho
   acknowledging): messages/s from the first publish to the last message received — the baseline —
   and the CPU time of its thread per message.
2. **one server** (``fanet server --mqtt … --redis …``): frames/s from the first publish until the server
   reports the last frame stored (``fanet_frames_stored_total`` on ``/metrics``, polled more often as
   the end nears) — the figure — and its ratio to the baseline; the server process's CPU time per frame
   (from ``/proc``; steadier than the rates on a shared machine); the server's own arrival-to-store
   histogram. Phases 1 and 2 take turns for ``--rounds`` rounds; the best round of each counts.
3. **latency**: one server, the publisher paced at ``--latency-rate`` frames/s (below the capacity
   measured in 2, so the figure is the pipeline's latency, not a queue's). ``--probes`` extra pilots
   report among the traffic, each report carrying its number in the heading (8 bits); the bench
   follows the store's change stream (``wait_for_changes``) and takes, per probe report that became a
   change, the time from its publish (CLOCK_MONOTONIC, shared by the processes) to its appearance.
4. **two servers** sharing the subscription (``--share-group``): frames/s as in 2, CPU of both per frame.

``--phases`` picks phases; ``--profile FILE`` runs the first one-server round under cProfile.

Mosquitto drops QoS-1 messages for a client once more than ``max_queued_messages`` (default 1000) wait
for it, and a fast publisher outruns a subscriber that acknowledges only after the store: the broker of
this benchmark needs ``max_queued_messages 0`` (no limit; in production set a bound that covers the
longest outage you want to ride out, and ``max_queued_bytes``). A phase that loses messages says so.

Example (services started by hand)::

    mosquitto -c <(printf 'listener 1884\\nallow_anonymous true\\nmax_queued_messages 0\\n') &
    redis-server --port 6380 --save '' &
    python bench/ingest.py --mqtt mqtt://127.0.0.1:1884 --redis redis://127.0.0.1:6380/0
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path

import paho.mqtt.client as paho_mqtt
import trio
from paho.mqtt.enums import CallbackAPIVersion

from fanet.gateway.mqtt import parse_broker_url
from fanet.proto import AircraftType, AirTracking, Frame, ReceivedFrame, encode_frame, wrap
from fanet.server.model import Kind, Pilot
from fanet.server.store import RedisStore

# bench/pipeline.py's generator: this folder is on sys.path when the script runs (mypy cannot see it).
simulate: Callable[..., list[tuple[ReceivedFrame, float]]] = import_module("pipeline").simulate
now = time.monotonic  # CLOCK_MONOTONIC: one clock for every process on the machine
FANET = str(Path(sys.executable).parent / "fanet")
PROBE_BASE = 0x3F0001
HEADING_STEP = 360 / 256


@dataclass(frozen=True)
class Message:
    topic_suffix: str
    """``<station>/f``; the phase's prefix goes in front."""
    raw: bytes
    rssi: int | None
    snr: int | None
    probe: tuple[int, int] | None = None
    """(probe address, report number mod 256) for latency probes."""


def messages(count: int, addresses: int, probes: int, probe_every: int) -> list[Message]:
    """The mix from ``bench/pipeline.py``, with a probe report after every ``probe_every`` frames."""
    mix = simulate(count, addresses, stations=20, copies=1.5, tx_rate=1000.0, bit_errors=0.002)
    out: list[Message] = []
    reports = [0] * probes
    for i, (frame, _) in enumerate(mix):
        out.append(Message(f"{frame.station}/f", frame.raw, frame.rssi, frame.snr))
        if probes and i % probe_every == 0:
            k = (i // probe_every) % probes
            n = reports[k]
            reports[k] += 1
            heading = (n % 256) * HEADING_STEP
            payload = AirTracking(45.5 + k * 0.01 + n * 0.0002, 11.0, AircraftType.PARAGLIDER, 1200, 25.0,
                                  0.5, heading)  # fmt: skip
            raw = encode_frame(Frame(PROBE_BASE + k, payload))
            out.append(Message("probe-station/f", raw, -80, 6, (PROBE_BASE + k, n % 256)))
    return out


# --- the publisher process -----------------------------------------------------------------------------


def publisher_process(
    url: str, prefix: str, batch: list[Message], rate: float, results: queue.Queue[object]
) -> None:
    """Publish every message (QoS 1, 100 in flight); puts (first publish, last PUBACK, probe times)."""
    try:
        address = parse_broker_url(url)
        client = paho_mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{uuid.uuid4().hex[:8]}",
                                  protocol=paho_mqtt.MQTTv5)  # fmt: skip
        client.max_inflight_messages_set(100)
        connected = threading.Event()
        client.on_connect = lambda *_: connected.set()
        client.connect(address.host, address.port)
        client.loop_start()
        if not connected.wait(10):
            raise TimeoutError("publisher: no CONNACK")
        probe_times: dict[tuple[int, int], float] = {}
        started = now()
        last = None
        for i, message in enumerate(batch):
            if rate:
                delay = started + i / rate - now()
                if delay > 0:
                    time.sleep(delay)
            payload = wrap(message.raw, int(time.time()), message.rssi, message.snr)
            if message.probe is not None:
                probe_times[message.probe] = now()
            last = client.publish(f"{prefix}/{message.topic_suffix}", payload, qos=1)
        assert last is not None
        last.wait_for_publish(120)
        finished = now()
        client.disconnect()
        client.loop_stop()
        results.put((started, finished, probe_times))
    except BaseException as error:
        results.put(error)
        raise


class Publisher:
    def __init__(self, url: str, prefix: str, batch: list[Message], rate: float = 0.0) -> None:
        context = multiprocessing.get_context("spawn")
        self._results: multiprocessing.Queue[object] = context.Queue()
        self._process = context.Process(target=publisher_process, args=(url, prefix, batch, rate, self._results),
                                        daemon=True)  # fmt: skip
        self._process.start()

    async def result(self) -> tuple[float, float, dict[tuple[int, int], float]]:
        outcome = await trio.to_thread.run_sync(self._results.get, True, 300.0)
        await trio.to_thread.run_sync(self._process.join, 10.0)
        if isinstance(outcome, BaseException):
            raise RuntimeError(f"the publisher failed: {outcome!r}")
        return outcome  # type: ignore[return-value]


# --- phase 1: the bare subscriber ------------------------------------------------------------------------


@dataclass(frozen=True)
class BareRun:
    messages_per_s: float
    cpu_us: float
    """CPU time of the subscriber's thread per message."""


async def bare_paho(url: str, batch: list[Message]) -> BareRun:
    prefix = f"bench-{uuid.uuid4().hex[:8]}/b"
    address = parse_broker_url(url)
    done, subscribed = threading.Event(), threading.Event()
    state = {"received": 0, "at": 0.0, "cpu": 0.0}

    def on_message(client: paho_mqtt.Client, userdata: object, message: paho_mqtt.MQTTMessage) -> None:
        state["received"] += 1
        if state["received"] == len(batch):
            state["at"] = now()
            state["cpu"] = time.thread_time() - state["cpu"]
            done.set()

    def on_subscribe(*_: object) -> None:
        state["cpu"] = time.thread_time()
        subscribed.set()

    client = paho_mqtt.Client(CallbackAPIVersion.VERSION2, protocol=paho_mqtt.MQTTv5)
    client.on_connect = lambda c, *_: c.subscribe(f"{prefix}/+/f/#", qos=1)
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.connect(address.host, address.port)
    thread = threading.Thread(target=client.loop_forever, name="bare-paho", daemon=True)
    thread.start()
    try:
        if not await trio.to_thread.run_sync(subscribed.wait, 10.0):
            raise TimeoutError("the bare subscriber got no SUBACK")
        publisher = Publisher(url, prefix, batch)
        started, _, _ = await publisher.result()
        with trio.move_on_after(60):
            while not done.is_set():
                await trio.sleep(0.005)
        if not done.is_set():
            raise RuntimeError(f"bare subscriber: {state['received']} of {len(batch)} messages arrived")
        return BareRun(len(batch) / (state["at"] - started), state["cpu"] / len(batch) * 1e6)
    finally:
        client.disconnect()
        thread.join(5)


# --- the servers under test -------------------------------------------------------------------------------


class ServerProcess:
    def __init__(self, args: list[str], log_dir: Path, profile: str | None = None) -> None:
        self.log_path = log_dir / f"server-{uuid.uuid4().hex[:6]}.log"
        command = [sys.executable, "-m", "cProfile", "-o", profile, FANET] if profile else [FANET]
        command += ["server", "--listen", "127.0.0.1:0", "--ws-listen", "127.0.0.1:0", "--log-format", "json"]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen([*command, *args], stdout=log, stderr=subprocess.STDOUT)
        self.port = 0

    async def ready(self) -> None:
        with trio.fail_after(20):
            while not self.port:
                if self.process.poll() is not None:
                    raise RuntimeError(f"fanet server exited:\n{self.log_path.read_text()[-3000:]}")
                for line in self.log_path.read_text().splitlines():
                    if '"http listening"' in line:
                        self.port = int(json.loads(line)["port"])
                await trio.sleep(0.05)
            while (await self.get("/ready"))[0] != 200:
                await trio.sleep(0.05)

    async def get(self, path: str) -> tuple[int, str]:
        def fetch() -> tuple[int, str]:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as response:
                    return response.status, response.read().decode()
            except urllib.error.HTTPError as error:
                return error.code, ""

        return await trio.to_thread.run_sync(fetch)

    async def metrics(self) -> dict[str, float]:
        _, text = await self.get("/metrics")
        values = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                values[name] = float(value)
        return values

    def cpu_s(self) -> float:
        """CPU seconds the server process has used (user + system; Linux)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class ServerRun:
    frames_per_s: float
    stored: int
    server_p50_ms: float
    server_p99_ms: float
    probe_latencies_ms: list[float]
    cpu_us: float
    """CPU time of the server process(es) per frame, from the first publish to the last frame stored."""


async def through_servers(args: argparse.Namespace, batch: list[Message], servers: int, rate: float = 0.0,
                          follow: bool = False, profile: str | None = None) -> ServerRun:  # fmt: skip
    tag = uuid.uuid4().hex[:8]
    prefix = f"bench-{tag}/b"
    common = ["--mqtt", args.mqtt, "--redis", args.redis, "--redis-namespace", f"bench-{tag}",
              "--topic-prefix", prefix, "--session-expiry-s", "60", *args.server_arg]  # fmt: skip
    if servers > 1:
        common += ["--share-group", f"bench-{tag}"]
    with tempfile.TemporaryDirectory(prefix="fanet-bench-ingest-") as tmp:
        procs = [
            ServerProcess(
                [*common, "--client-id", f"bench-{tag}-{i}"], Path(tmp), profile if i == 0 else None
            )
            for i in range(servers)
        ]
        store = RedisStore(args.redis, namespace=f"bench-{tag}")
        try:
            for proc in procs:
                await proc.ready()
            seen: dict[tuple[int, int], float] = {}
            async with trio.open_nursery() as nursery:
                if follow:
                    nursery.start_soon(follow_probes, store, seen)
                cpu_before = sum(proc.cpu_s() for proc in procs)
                publisher = Publisher(args.mqtt, prefix, batch, rate)
                polled_from = now()
                stored, finished, cpu = 0.0, 0.0, 0.0
                with trio.move_on_after(args.timeout):
                    while stored < len(batch):
                        samples = [await proc.metrics() for proc in procs]
                        stored = sum(m.get("fanet_frames_stored_total", 0) for m in samples)
                        finished = now()
                        cpu = sum(proc.cpu_s() for proc in procs) - cpu_before
                        # /metrics costs the server CPU (a tenth of it at 20 requests a second): poll
                        # seldom while far from the end, every 10 ms close to it.
                        left_s = (len(batch) - stored) * (finished - polled_from) / stored if stored else 0.1
                        await trio.sleep(min(max(left_s / 3, 0.01), 0.5))
                started, _, probe_times = await publisher.result()
                await trio.sleep(0.3 if follow else 0)
                nursery.cancel_scope.cancel()
            samples = [await proc.metrics() for proc in procs]
            if stored < len(batch):
                print(f"  !! only {stored:.0f} of {len(batch)} frames stored within {args.timeout} s "
                      "(a broker with max_queued_messages drops them: see --help)")  # fmt: skip
            latencies = [(seen[key] - probe_times[key]) * 1000 for key in seen if key in probe_times]
            p50, p99 = histogram_quantiles(samples, "fanet_ingest_to_store_seconds", (0.5, 0.99))
            return ServerRun(stored / (finished - started), int(stored), p50 * 1000, p99 * 1000, latencies,
                             cpu / max(stored, 1) * 1e6)  # fmt: skip
        finally:
            for proc in procs:
                proc.stop()
            await store.aclose()


async def follow_probes(store: RedisStore, seen: dict[tuple[int, int], float]) -> None:
    """Note when each probe report first shows up in the change stream."""
    after = await store.current_sequence()
    while True:
        changes = await store.wait_for_changes(after, 1.0, limit=5000)
        arrived = now()
        if not changes:
            continue
        after = changes[-1].sequence
        for change in changes:
            obj = change.obj
            if change.kind is Kind.PILOT and isinstance(obj, Pilot) and obj.addr >= PROBE_BASE:
                seen.setdefault((obj.addr, round(obj.heading_deg / HEADING_STEP) % 256), arrived)


def histogram_quantiles(
    samples: list[dict[str, float]], name: str, quantiles: tuple[float, ...]
) -> list[float]:
    """Quantiles of a Prometheus histogram summed over servers (upper bucket bounds)."""
    buckets: dict[float, float] = {}
    for sample in samples:
        for key, value in sample.items():
            if key.startswith(f"{name}_bucket"):
                bound = key.split('le="')[1].rstrip('"}')
                buckets[float(bound)] = buckets.get(float(bound), 0) + value
    ordered = sorted(buckets.items())
    total = ordered[-1][1] if ordered else 0
    return [
        next((bound for bound, count in ordered if total and count >= q * total), float("nan"))
        for q in quantiles
    ]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


PHASES = ("bare", "one", "latency", "two")


async def main_async(args: argparse.Namespace) -> None:
    phases = set(args.phases.split(","))
    if unknown := phases - set(PHASES):
        raise SystemExit(f"unknown phase(s) {', '.join(sorted(unknown))}; choose from {', '.join(PHASES)}")
    batch = messages(args.frames, args.addresses, args.probes, args.probe_every)
    print(f"{len(batch):,} wrapped frames ({args.addresses:,} addresses, {args.probes} probe pilots), "
          f"QoS 1, one publisher process; {os.cpu_count()} CPUs shared by everything")  # fmt: skip
    bare = one = bare_cpu = float("nan")
    bares: list[BareRun] = []
    runs: list[ServerRun] = []
    for i in range(args.rounds):  # taking turns, so that a noisy neighbour hurts both alike
        if "bare" in phases:
            bares.append(await bare_paho(args.mqtt, batch))
        if "one" in phases:
            runs.append(await through_servers(args, batch, 1, profile=args.profile if i == 0 else None))
    if bares:
        bare = max(run.messages_per_s for run in bares)
        bare_cpu = min(run.cpu_us for run in bares)
        print(f"bare paho subscriber            : {bare:10,.0f} messages/s, {bare_cpu:5.1f} µs CPU a message")
    if runs:
        best = max(runs, key=lambda r: r.frames_per_s)
        one, cpu = best.frames_per_s, min(run.cpu_us for run in runs)
        print(f"fanet server, 1 process         : {one:10,.0f} frames/s into Redis, {cpu:5.1f} µs CPU a "
              f"frame (ratio to bare paho {one / bare:.2f}, target ≥ 0.8; CPU {cpu / bare_cpu:.2f} × bare "
              "paho's)")  # fmt: skip
        print(f"  its arrival-to-store histogram: p50 ≤ {best.server_p50_ms:.1f} ms, "
              f"p99 ≤ {best.server_p99_ms:.1f} ms (at full load: includes the queue)")  # fmt: skip
    if "latency" in phases:
        rate = args.latency_rate or round(0.5 * (one if not math.isnan(one) else 4000.0), -2)
        paced = await through_servers(
            args, batch[: max(int(rate * args.latency_seconds), 1000)], 1, rate, follow=True
        )
        lat = paced.probe_latencies_ms
        print(f"latency at {rate:,.0f} frames/s     : publish → store p50 {percentile(lat, 0.5):.1f} ms, "
              f"p99 {percentile(lat, 0.99):.1f} ms over {len(lat)} probe reports (target p99 < 100 ms); "
              f"server histogram p99 ≤ {paced.server_p99_ms:.1f} ms")  # fmt: skip
    if "two" in phases:
        twos = [await through_servers(args, batch, 2) for _ in range(args.rounds)]
        two, cpu = max(run.frames_per_s for run in twos), min(run.cpu_us for run in twos)
        print(f"fanet server, 2 processes shared: {two:10,.0f} frames/s, {cpu:5.1f} µs CPU a frame (both) "
              f"(ratio to bare paho {two / bare:.2f}, to one server {two / one:.2f})")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__,
    )
    parser.add_argument("--mqtt", required=True, help="broker URL (needs max_queued_messages 0, see above)")
    parser.add_argument("--redis", required=True, help="Redis URL (namespaces bench-<random> are used)")
    parser.add_argument("--frames", type=int, default=30_000, help="frames per phase (default 30000)")
    parser.add_argument("--addresses", type=int, default=2000, help="distinct senders (default 2000)")
    parser.add_argument("--probes", type=int, default=40, help="latency probe pilots (default 40)")
    parser.add_argument("--probe-every", type=int, default=10, help="a probe report every N frames (10)")
    parser.add_argument("--latency-rate", type=float, default=0.0,
                        help="frames/s of the latency phase (default: half the measured capacity)")  # fmt: skip
    parser.add_argument("--latency-seconds", type=float, default=8.0, help="length of the latency phase (8)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of the throughput phases; best counts")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds a phase may take (120)")
    parser.add_argument("--server-arg", action="append", default=[], metavar="ARG",
                        help="extra argument for fanet server (repeat), e.g. --server-arg=--batch-max-wait-ms=2")  # fmt: skip
    parser.add_argument("--phases", default=",".join(PHASES),
                        help=f"comma-separated phases to run (default {','.join(PHASES)})")  # fmt: skip
    parser.add_argument("--profile", metavar="FILE",
                        help="run the first one-server round under cProfile, its stats to FILE")  # fmt: skip
    args = parser.parse_args()
    trio.run(main_async, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
