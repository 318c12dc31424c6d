"""WebSocket load: many live-update clients on one ``fanet server`` while frames arrive over MQTT.

The server under test is ``fanet server --mqtt … --ws-listen 127.0.0.1:0`` as users start it (memory
store: the fan-out is what is measured, and it does not read the store once a client is caught up).
Traffic (``bench/_ws_traffic.py``): the bundled scenario (five flights over Alp Scheidegg, one ≈ 10 × 7 km
*site*) copied to ``--sites`` tiles side by side, every pilot reporting every 5 s (FANET's air-tracking
period), published by a separate process at ``--rate`` frames/s (QoS 1). Clients: ``--clients``
trio-websocket connections centred uniformly over the sites' tiles with a radius uniform in
``--radius-km``. Every ``--probe-every``-th connection is a *probe*: it measures the delay (fanet: it
decodes its Pilots; every 50th by default: 200 of 10,000 probes receive ≈ 7,000 batches in a 20 s window with
interval 0, and with every 10th their own CPU kept the server waiting for a core 23–29 % of the window
instead of 8–14 %). Probes run in processes of their own (``--probes-per-process``), the rest — the
load — in processes of ``--per-process`` each, niced by ``--load-nice``: on this one machine the load
generator needs about twice the server's CPU, and in the field the clients' work is done on their own
devices; niced, it takes what the server and the probes leave, and the delay the probes see is the
server's and the network's, not the wait for a turn on a core shared with thousands of other clients.

Phases, one server process each, the same clients every time:

1. ``fanet`` with ``--ws-batch-interval-s`` 1 and then 0 (``--intervals``): after a warm-up (pilots
   become visible after two reports) the server's CPU is sampled for ``--idle-s`` with no client — the
   cost of ingest alone — then the clients connect, and for ``--duration`` s everything they receive is
   counted. Figures: clients connected, server RSS (VmRSS) and RSS per client (growth over the idle
   server), server CPU, **CPU per client batch** (the window's CPU less ingest's, divided by the frames
   clients received), delay from MQTT publish to client receipt (p50/p95/p99; a report is matched by the
   address, heading and climb it carries), and bytes per pilot update on the wire. Clients ask for
   compact updates (``compact=true``: a pilot's move as a ``PilotMotion``) unless ``--no-compact``.
2. ``bare``: ``bench/_ws_bare.py``, a trio-websocket server that broadcasts ``--bare-rate`` messages/s
   to every client (the size of the interval-1 phase's mean batch): RSS per connection and CPU per
   message sent to one client — the baseline for the ratios.

Open files: the server holds one descriptor per client, each client process one per connection; every
process here raises its soft ``RLIMIT_NOFILE`` to the hard limit (``ulimit -Hn``) and the run stops with
a message when that is below what the run needs. Local ports: 10,000 connections to one address use
10,000 of the ephemeral range (``net.ipv4.ip_local_port_range``, 28,232 by default).

Example::

    python bench/ws_load.py --quick                 # 200 clients, 8 s, 500 frames/s (CI size)
    python bench/ws_load.py --clients 10000 --json ws.json
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from services import start_mosquitto  # noqa: E402 - the tests' service helpers

from bench._ws_clients import Tally, client_process, raise_open_files_limit  # noqa: E402
from bench._ws_traffic import PUBLISH_WINDOW, Layout, load_scenario, publisher_process  # noqa: E402
from fanet.server.live.client import updates_url  # noqa: E402

FANET = str(Path(sys.executable).parent / "fanet")
BARE = str(Path(__file__).resolve().parent / "_ws_bare.py")
TRACKING_PERIOD_S = 5.0
TRACK_RETENTION_S = 20
"""The memory store keeps every track point for ``--track-retention-s`` (12 h by default): at 2,000
points/s its growth would be counted as the clients' memory, so the server keeps 20 s and the warm-up
lasts longer than that."""
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
now = time.monotonic


# --- the server processes --------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def cpu_wait_seconds(pid: int) -> float:
    """How long a process's main thread has been ready to run but waiting for a CPU
    (``/proc/<pid>/schedstat``, the run queue's delay); NaN where the kernel does not keep it."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return math.nan


def rss_bytes(pid: int) -> int:
    """Resident memory (``VmRSS`` of ``/proc/<pid>/status``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def stop_process(process: subprocess.Popen[bytes], timeout_s: float = 15.0) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def fanet_server(
    mqtt_url: str, prefix: str, interval_s: float, log_dir: Path
) -> Iterator[tuple[subprocess.Popen[bytes], int, int]]:
    """``fanet server`` with the memory store; yields (process, HTTP port, WebSocket port) once ready."""
    tag = uuid.uuid4().hex[:8]
    log_path = log_dir / f"server-{tag}.log"
    command = [FANET, "server", "--listen", "127.0.0.1:0", "--ws-listen", "127.0.0.1:0",
               "--ws-batch-interval-s", str(interval_s), "--mqtt", mqtt_url, "--topic-prefix", prefix,
               "--client-id", f"bench-ws-{tag}", "--session-expiry-s", "60", "--log-format", "json",
               "--track-retention-s", str(TRACK_RETENTION_S), "--trim-interval-s", "2"]  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        http_port = ws_port = 0
        deadline = now() + 30
        while not (http_port and ws_port):
            if process.poll() is not None or now() > deadline:
                raise RuntimeError(f"fanet server did not start:\n{log_path.read_text()[-3000:]}")
            for line in log_path.read_text().splitlines():
                if line.startswith("{"):
                    entry = json.loads(line)
                    if entry.get("event") == "http listening":
                        http_port = int(entry["port"])
                    elif entry.get("event") == "websocket listener ready":
                        ws_port = int(entry["port"])
            time.sleep(0.05)
        while http_get(http_port, "/ready")[0] != 200:
            if now() > deadline:
                raise RuntimeError(f"fanet server never became ready:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.1)
        yield process, http_port, ws_port
    finally:
        stop_process(process)


def http_get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""
    except OSError:
        return 0, ""


def scrape(port: int) -> str:
    """The server's ``/metrics`` text, read once for every figure taken at one moment."""
    return http_get(port, "/metrics")[1]


def metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith((name + " ", name + "{")):
            return float(line.rpartition(" ")[2])
    return math.nan


def collector_figures(text: str) -> dict[str, list[float]]:
    """``fanet_gc_seconds_total`` and ``fanet_gc_collections_total`` by generation (0, 1, 2)."""
    figures: dict[str, list[float]] = {"seconds": [0.0] * 3, "collections": [0.0] * 3}
    for line in text.splitlines():
        for key, name in (
            ("seconds", "fanet_gc_seconds_total"),
            ("collections", "fanet_gc_collections_total"),
        ):
            if line.startswith(name + '{generation="'):
                figures[key][int(line[len(name) + 13])] = float(line.rpartition(" ")[2])
    return figures


def collector_seconds(text: str) -> float:
    return sum(collector_figures(text)["seconds"])


def histogram(text: str, name: str) -> list[tuple[float, float]]:
    """A histogram's cumulative buckets: (upper bound, observations), ``inf`` last."""
    prefix = name + '_bucket{le="'
    return [
        (float(line[len(prefix) :].partition('"')[0]), float(line.rpartition(" ")[2]))
        for line in text.splitlines()
        if line.startswith(prefix)
    ]


def bucket_percentiles(before: str, after: str, name: str) -> dict[str, float]:
    """p50/p95/p99 in ms of what a histogram observed between two readings of the metrics, as the upper
    bound of the bucket each falls in (``inf`` above the last bound)."""
    counts = [
        (bound, a - b)
        for (bound, a), (_, b) in zip(histogram(after, name), histogram(before, name), strict=True)
    ]
    total = counts[-1][1] if counts else 0
    if not total:
        return {}
    return {
        f"p{round(q * 100)}": next(bound for bound, count in counts if count >= q * total) * 1000
        for q in (0.5, 0.95, 0.99)
    }


@contextmanager
def bare_server(rate: float, size: int) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    process = subprocess.Popen([sys.executable, BARE, "--rate", str(rate), "--size", str(size)],
                               stdout=subprocess.PIPE)  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline().decode()
        if not line.startswith("port "):
            raise RuntimeError(f"the bare server did not start: {line!r}")
        yield process, int(line.split()[1])
    finally:
        stop_process(process)


# --- the client processes and the publisher -------------------------------------------------------------


class Clients:
    """The client processes running :func:`client_process`: the probes, then the load (see the module
    docstring)."""

    def __init__(self, kind: str, urls: list[str], args: argparse.Namespace) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipes: list[Connection] = []
        self.processes = []
        every = args.probe_every
        probes = [url for i, url in enumerate(urls) if every and i % every == 0]
        load = [url for i, url in enumerate(urls) if not (every and i % every == 0)]
        groups = [(probes[start : start + args.probes_per_process], True, 0)
                  for start in range(0, len(probes), args.probes_per_process)]  # fmt: skip
        groups += [(load[start : start + args.per_process], False, args.load_nice)
                   for start in range(0, len(load), args.per_process)]  # fmt: skip
        for group, probe, nice in groups:
            ours, theirs = context.Pipe()
            process = context.Process(target=client_process, daemon=True,
                                      args=(kind, group, probe, args.ramp, nice, theirs))  # fmt: skip
            process.start()
            self.pipes.append(ours)
            self.processes.append(process)

    def _receive(self, pipe: Connection, timeout_s: float) -> tuple[Any, ...]:
        if not pipe.poll(timeout_s):
            raise TimeoutError(f"a client process said nothing for {timeout_s} s")
        answer: tuple[Any, ...] = pipe.recv()
        if answer[0] == "error":
            raise RuntimeError(f"a client process failed: {answer[1]}")
        return answer

    def connected(self, timeout_s: float) -> tuple[int, int, str]:
        """Wait until every process opened its connections; (connected, failed, first error)."""
        answers = [self._receive(pipe, timeout_s) for pipe in self.pipes]
        errors = [a[3] for a in answers if a[3]]
        return sum(a[1] for a in answers), sum(a[2] for a in answers), errors[0] if errors else ""

    def send(self, command: str) -> None:
        for pipe in self.pipes:
            pipe.send(command)

    def tallies(self) -> list[Tally]:
        self.send("stop")
        return [self._receive(pipe, 120)[1] for pipe in self.pipes]

    def close(self) -> None:
        for pipe in self.pipes:
            with suppress(OSError):
                pipe.send("close")
        for process in self.processes:
            process.join(30)
            if process.is_alive():
                process.kill()


class Publisher:
    def __init__(
        self, mqtt_url: str, prefix: str, layout: Layout, pilots: int, rate: float, seed: int
    ) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipe, theirs = context.Pipe()
        self.process = context.Process(target=publisher_process, daemon=True,
                                       args=(mqtt_url, prefix, layout, pilots, rate, seed, theirs))  # fmt: skip
        self.process.start()
        if not self.pipe.poll(30) or self.pipe.recv() != "ready":
            raise RuntimeError("the publisher did not connect to the broker")
        self.started = now()

    def stop(self) -> tuple[dict[int, float], int, float]:
        """Stop publishing: (report key → publish time, frames published, seconds spent)."""
        self.pipe.send("stop")
        if not self.pipe.poll(60):
            raise RuntimeError("the publisher did not stop")
        result: tuple[dict[int, float], int, float] = self.pipe.recv()
        self.process.join(10)
        return result


# --- one phase --------------------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    clients_asked: int
    clients_connected: int = 0
    clients_failed: int = 0
    clients_closed_early: int = 0
    first_error: str = ""
    connect_s: float = 0.0
    rss_idle_mb: float = 0.0
    rss_connected_mb: float = 0.0
    rss_after_mb: float = 0.0
    rss_per_client_kib: float = 0.0
    idle_cpu_per_s: float = 0.0
    """Server CPU seconds per second with no client (fanet: ingest alone)."""
    idle_cpu_per_frame_us: float = 0.0
    """fanet: the idle server's CPU per frame stored (ingest's cost, taken out of the window's CPU)."""
    behind_after_connect_s: float = 0.0
    """fanet: how far ingest lagged the publisher once the clients had connected (a connect storm
    costs CPU that ingest then lacks)."""
    catch_up_s: float = 0.0
    behind_at_end_s: float = 0.0
    window_s: float = 0.0
    cpu_window_s: float = 0.0
    cpu_share: float = 0.0
    cpu_wait_share: float = math.nan
    """Share of the window the server was ready to run but waited for a CPU: the machine's contention
    (the load generator, the broker and the publisher share it), which the delays include."""
    frames: int = 0
    frames_per_client_s: float = 0.0
    updates_per_frame: float = math.nan
    """From the probe clients' batches."""
    cpu_per_frame_us: float = 0.0
    """Server CPU per frame received by a client, ingest's CPU taken out (fanet) — per client batch."""
    gross_cpu_per_frame_us: float = 0.0
    bytes_per_frame: float = 0.0
    client_cpu_per_frame_us: float = 0.0
    """The load generator's CPU per frame received (all client processes)."""
    wire_bytes_per_update: float = 0.0
    """WebSocket payload and frame header per update (fanet)."""
    pilot_update_bytes_median: float = math.nan
    """One pilot's ``UpdateBatch.updates`` entry: tag, length and the Update (fanet)."""
    delay_ms: dict[str, float] = field(default_factory=dict)
    delay_samples: int = 0
    age_ms: dict[str, float] = field(default_factory=dict)
    """The same delay by the reports' whole-second timestamps (±1 s): a check on the matching."""
    unmatched_receipts: int = 0
    frames_published: int = 0
    publish_rate: float = 0.0
    server_frames_stored: float = math.nan
    server_ws_clients: float = math.nan
    """``fanet_ws_clients`` while the clients were connected (the server's own count)."""
    gc_after_connect: dict[str, list[float]] = field(default_factory=dict)
    """fanet: the collector's seconds and collections by generation since start, once the clients are in."""
    server_wait_ms: dict[str, float] = field(default_factory=dict)
    """fanet: ``fanet_ws_update_wait_seconds`` in the window (bucket bounds): from the hub owing an update
    to its batch going to the socket — with interval 0, the server's share of the delay after ingest."""
    ingest_to_store_ms: dict[str, float] = field(default_factory=dict)
    """fanet: ``fanet_ingest_to_store_seconds`` in the window (bucket bounds): arrival to store."""
    loop_lag_ms: dict[str, float] = field(default_factory=dict)
    """fanet: ``fanet_event_loop_lag_seconds`` in the window (bucket bounds): how long steps held the loop."""
    fanout: dict[str, float] = field(default_factory=dict)
    """fanet: the hub's routing in the window (``fanet_ws_fanout_*``): its seconds, µs and candidates per
    change, deliveries per change, and its share of the net CPU (what ``cpu_per_frame_us`` counts)."""
    gc_s: dict[str, float] = field(default_factory=dict)
    """fanet: seconds in the cyclic collector (``fanet_gc_seconds_total``) while idle, connecting and in the
    window."""


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50": math.nan, "p95": math.nan, "p99": math.nan, "max": math.nan}
    ordered = sorted(values)
    return {
        f"p{round(q * 100)}": ordered[min(len(ordered) - 1, int(q * len(ordered)))] for q in (0.5, 0.95, 0.99)
    } | {"max": ordered[-1]}


@dataclass(frozen=True)
class Ingest:
    """How far the server under test is behind the publisher (fanet phases)."""

    http_port: int
    publishing_since: float
    rate: float

    def stored(self, text: str | None = None) -> float:
        """Frames stored, from ``text`` if the metrics were just read."""
        return metric(scrape(self.http_port) if text is None else text, "fanet_frames_stored_total")

    def behind_s(self, text: str | None = None) -> float:
        return ((now() - self.publishing_since) * self.rate - self.stored(text)) / self.rate


def measure_clients(
    phase: Phase,
    pid: int,
    clients: Clients,
    args: argparse.Namespace,
    idle_rss: int,
    ingest: Ingest | None = None,
) -> list[Tally]:
    """Connected clients: wait for them (and for the server to work off the backlog of frames that
    built up while they connected), sample RSS, count for ``args.duration`` s; returns the tallies."""
    started = now()
    gc0 = collector_seconds(scrape(ingest.http_port)) if ingest else math.nan
    phase.clients_connected, phase.clients_failed, phase.first_error = clients.connected(args.connect_timeout)
    phase.connect_s = now() - started
    time.sleep(args.settle)
    rss = rss_bytes(pid)
    phase.rss_connected_mb = rss / 2**20
    phase.rss_per_client_kib = (rss - idle_rss) / max(phase.clients_connected, 1) / 1024
    log(f"  {phase.clients_connected:,} connected in {phase.connect_s:.1f} s ({phase.clients_failed} failed); "
        f"server RSS {phase.rss_connected_mb:.0f} MB; counting for {args.duration} s")  # fmt: skip
    stored0 = stored1 = 0.0
    if ingest is not None:
        phase.server_ws_clients = metric(scrape(ingest.http_port), "fanet_ws_clients")
        phase.behind_after_connect_s = ingest.behind_s()
        waited = now()
        while ingest.behind_s() > 1.0 and now() - waited < args.catch_up:
            time.sleep(1.0)
        phase.catch_up_s = now() - waited
        log(f"  ingest was {phase.behind_after_connect_s:.1f} s behind after the connections; "
            f"caught up in {phase.catch_up_s:.0f} s")  # fmt: skip
        before = scrape(ingest.http_port)
        stored0 = ingest.stored(before)
        phase.gc_after_connect = collector_figures(before)
        gc1 = sum(phase.gc_after_connect["seconds"])
        phase.gc_s["connect"] = gc1 - gc0
    clients.send("start")
    cpu0, wait0, t0 = cpu_seconds(pid), cpu_wait_seconds(pid), now()
    time.sleep(args.duration)
    cpu1, wait1, t1 = cpu_seconds(pid), cpu_wait_seconds(pid), now()
    if ingest is not None:
        after = scrape(ingest.http_port)
        phase.server_wait_ms = bucket_percentiles(before, after, "fanet_ws_update_wait_seconds")
        phase.ingest_to_store_ms = bucket_percentiles(before, after, "fanet_ingest_to_store_seconds")
        phase.loop_lag_ms = bucket_percentiles(before, after, "fanet_event_loop_lag_seconds")
        phase.fanout = fanout_figures(before, after)
        stored1 = ingest.stored(after)
        phase.behind_at_end_s = ingest.behind_s(after)
        phase.gc_s["window"] = collector_seconds(after) - gc1
        log(f"  cyclic collector: {phase.gc_s['connect']:.1f} s while connecting, "
            f"{phase.gc_s['window'] / (now() - t0):.1%} of the window")  # fmt: skip
    tallies = clients.tallies()
    phase.rss_after_mb = rss_bytes(pid) / 2**20
    phase.window_s = t1 - t0
    phase.cpu_window_s = cpu1 - cpu0
    phase.cpu_share = phase.cpu_window_s / phase.window_s
    phase.cpu_wait_share = (wait1 - wait0) / phase.window_s
    phase.clients_closed_early = sum(t.closed_early for t in tallies)
    phase.frames = sum(t.frames for t in tallies)
    phase.frames_per_client_s = phase.frames / max(phase.clients_connected, 1) / phase.window_s
    probe_frames = sum(t.probe_frames for t in tallies)
    phase.updates_per_frame = (
        sum(t.probe_updates for t in tallies) / probe_frames if probe_frames else math.nan
    )
    phase.wire_bytes_per_update = wire_bytes_per_update(tallies)
    phase.client_cpu_per_frame_us = sum(t.cpu_s for t in tallies) / max(phase.frames, 1) * 1e6
    phase.bytes_per_frame = sum(t.bytes for t in tallies) / max(phase.frames, 1)
    # Ingest's share: its CPU per frame on the idle server times the frames stored in the window.
    ingest_cpu = phase.idle_cpu_per_frame_us * 1e-6 * (stored1 - stored0) if ingest else 0.0
    net_cpu = phase.cpu_window_s - (ingest_cpu or phase.idle_cpu_per_s * phase.window_s)
    phase.cpu_per_frame_us = net_cpu / max(phase.frames, 1) * 1e6
    phase.gross_cpu_per_frame_us = phase.cpu_window_s / max(phase.frames, 1) * 1e6
    if phase.fanout:
        phase.fanout["share_of_net_cpu"] = phase.fanout["seconds"] / max(net_cpu, 1e-9)
    errors = [t.first_error for t in tallies if t.first_error]
    phase.first_error = phase.first_error or (errors[0] if errors else "")
    return tallies


def fanout_figures(before: str, after: str) -> dict[str, float]:
    """The hub's routing between two scrapes: its seconds, and per change routed (see ``Phase.fanout``)."""
    delta = {
        name: metric(after, f"fanet_ws_fanout_{name}_total") - metric(before, f"fanet_ws_fanout_{name}_total")
        for name in ("changes", "candidates", "deliveries", "seconds")
    }
    changes = max(delta["changes"], 1)
    return {
        "us_per_change": delta["seconds"] / changes * 1e6,
        "candidates_per_change": delta["candidates"] / changes,
        "deliveries_per_change": delta["deliveries"] / changes,
        "seconds": delta["seconds"],
    }


def wire_bytes_per_update(tallies: list[Tally]) -> float:
    """WebSocket payload and frame header per update, over the probe clients' batches."""
    updates = sum(t.probe_updates for t in tallies)
    if not updates:
        return math.nan
    average = sum(t.probe_bytes for t in tallies) / max(sum(t.probe_frames for t in tallies), 1)
    return sum(t.probe_bytes + ws_header_bytes(average) * t.probe_frames for t in tallies) / updates


def ws_header_bytes(payload: float) -> int:
    """The header of an unmasked server-to-client WebSocket frame of this payload size."""
    return 2 if payload < 126 else 4 if payload < 65536 else 10


def idle_cpu(pid: int, seconds: float) -> float:
    cpu0, t0 = cpu_seconds(pid), now()
    time.sleep(seconds)
    return (cpu_seconds(pid) - cpu0) / (now() - t0)


def fanet_phase(args: argparse.Namespace, layout: Layout, regions: list[tuple[float, float, float]],
                interval_s: float, mqtt_url: str, log_dir: Path) -> Phase:  # fmt: skip
    phase = Phase(f"fanet, interval {interval_s:g} s{', compact' if args.compact else ''}", len(regions))
    log(f"\n--- {phase.name}: {len(regions):,} clients, {args.rate:,.0f} frames/s from {args.pilots:,} pilots "
        f"at {layout.sites:,} sites")  # fmt: skip
    prefix = f"bench-{uuid.uuid4().hex[:8]}/b"
    with fanet_server(mqtt_url, prefix, interval_s, log_dir) as (server, http_port, ws_port):
        publisher = Publisher(mqtt_url, prefix, layout, args.pilots, args.rate, args.seed)
        clients: Clients | None = None
        try:
            # Names, then two reports per pilot (an address shows once two reports agree), and until the
            # tracks are trimmed to their retention: from then on the server's own memory stays level.
            time.sleep(
                args.warmup
                if args.warmup is not None
                else max(3 * args.pilots / args.rate, TRACK_RETENTION_S + 5) + 3
            )
            ingest = Ingest(http_port, publisher.started, args.rate)
            stored = ingest.stored()
            gc_idle = collector_seconds(scrape(http_port))
            phase.idle_cpu_per_s = idle_cpu(server.pid, args.idle_s)
            phase.gc_s["idle"] = collector_seconds(scrape(http_port)) - gc_idle
            phase.idle_cpu_per_frame_us = (
                phase.idle_cpu_per_s * args.idle_s / max(ingest.stored() - stored, 1) * 1e6
            )
            idle_rss = rss_bytes(server.pid)
            phase.rss_idle_mb = idle_rss / 2**20
            log(
                f"  idle server (ingest only): {phase.idle_cpu_per_s:.0%} CPU, RSS {phase.rss_idle_mb:.0f} MB"
            )
            url = f"ws://127.0.0.1:{ws_port}"
            urls = [updates_url(url, lat, lon, radius, compact=args.compact) for lat, lon, radius in regions]
            clients = Clients("fanet", urls, args)
            tallies = measure_clients(phase, server.pid, clients, args, idle_rss, ingest)
            phase.server_frames_stored = metric(scrape(http_port), "fanet_frames_stored_total")
        finally:
            if clients is not None:
                clients.close()
            published, phase.frames_published, spent = publisher.stop()
            phase.publish_rate = phase.frames_published / spent
    delays, ages = [], []
    for tally in tallies:
        for key, arrived, age_s in tally.receipts:
            ages.append(age_s * 1000)
            sent = published.get(key)
            if sent is None:
                phase.unmatched_receipts += 1
            else:
                delays.append((arrived - sent) * 1000)
    phase.age_ms = percentiles(ages)
    phase.delay_ms = percentiles(delays)
    phase.delay_samples = len(delays)
    sizes = [size for tally in tallies for size in tally.pilot_update_bytes]
    phase.pilot_update_bytes_median = statistics.median(sizes) if sizes else math.nan
    return phase


def bare_phase(args: argparse.Namespace, count: int, size: int) -> Phase:
    phase = Phase(f"bare trio-websocket, {args.bare_rate:g}/s", count)
    log(f"\n--- {phase.name}: {count:,} clients, {size}-byte broadcasts")
    with bare_server(args.bare_rate, size) as (server, port):
        phase.idle_cpu_per_s = idle_cpu(server.pid, 2.0)
        idle_rss = rss_bytes(server.pid)
        phase.rss_idle_mb = idle_rss / 2**20
        clients = Clients("bare", [f"ws://127.0.0.1:{port}/"] * count, args)
        try:
            tallies = measure_clients(phase, server.pid, clients, args, idle_rss)
        finally:
            clients.close()
    delays = [d * 1000 for tally in tallies for d in tally.delays_s]
    phase.delay_ms = percentiles(delays)
    phase.delay_samples = len(delays)
    return phase


# --- the run ---------------------------------------------------------------------------------------------


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def client_regions(
    layout: Layout, count: int, radius_km: tuple[float, float], seed: int
) -> list[tuple[float, float, float]]:
    rng = random.Random(seed + 1)
    regions = []
    for _ in range(count):
        lat, lon = layout.random_point(rng)
        regions.append((round(lat, 5), round(lon, 5), round(rng.uniform(*radius_km), 1)))
    return regions


def run(args: argparse.Namespace) -> dict[str, Any]:
    soft, hard = raise_open_files_limit()
    needed = args.clients + 200
    if soft < needed or soft < args.per_process + 200:
        raise SystemExit(f"ws_load: {args.clients:,} clients need ≈ {needed:,} open files in the server process, "
                         f"but RLIMIT_NOFILE is {soft:,} (hard {hard:,}): raise it (ulimit -Hn, or "
                         "/etc/security/limits.conf, or LimitNOFILE= for a service)")  # fmt: skip
    scenario = load_scenario()
    layout = Layout(scenario, args.sites)
    regions = client_regions(layout, args.clients, args.radius_km, args.seed)
    log(f"{args.clients:,} clients in {math.ceil(args.clients / args.per_process)} processes; "
        f"{args.pilots:,} pilots at {layout.sites:,} sites of {scenario.area.height_deg * 111:.0f} × "
        f"{scenario.area.width_deg * 111 * math.cos(math.radians(scenario.area.south)):.0f} km; "
        f"{args.rate:,.0f} frames/s; RLIMIT_NOFILE {soft:,}; {os.cpu_count()} CPUs shared by everything")  # fmt: skip
    phases: list[Phase] = []
    with tempfile.TemporaryDirectory(prefix="fanet-bench-ws-") as tmp:
        root = Path(tmp)
        if args.mqtt:
            mqtt_url = args.mqtt
            broker = None
        else:
            # No bound on what waits for a subscriber (see bench/ingest.py), and a Receive Maximum that
            # lets the publisher keep its window in flight (mosquitto's default is 20).
            broker = start_mosquitto(
                root / "mqtt",
                extra_config=["max_queued_messages 0", f"max_inflight_messages {PUBLISH_WINDOW}"],
            )
            mqtt_url = broker.url
        try:
            for interval in args.intervals:
                phases.append(fanet_phase(args, layout, regions, interval, mqtt_url, root))
                log(json.dumps(asdict(phases[-1])))  # each phase's figures as soon as it ends
        finally:
            if broker is not None:
                broker.stop()
    batched = next((p for p in phases if p.frames), None)
    size = args.bare_size or max(16, round(batched.bytes_per_frame) if batched else 100)
    bare = bare_phase(args, args.clients, size)
    phases.append(bare)
    return {
        "settings": {key: value for key, value in vars(args).items() if key != "json"},
        "sites": layout.sites,
        "cpus": os.cpu_count(),
        "rlimit_nofile": soft,
        "phases": [asdict(p) for p in phases],
        "ratios": {
            p.name: {
                "cpu_per_client_batch_to_bare_send": p.cpu_per_frame_us / bare.cpu_per_frame_us
                if bare.cpu_per_frame_us > 0
                else math.nan,
                "rss_per_client_to_bare": p.rss_per_client_kib / bare.rss_per_client_kib
                if bare.rss_per_client_kib > 0
                else math.nan,
            }
            for p in phases[:-1]
        },
    }


def print_table(report: dict[str, Any]) -> None:
    phases = report["phases"]
    rows: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
        ("clients connected / asked", lambda p: f"{p['clients_connected']:,} / {p['clients_asked']:,}"),
        ("failed / closed by server", lambda p: f"{p['clients_failed']} / {p['clients_closed_early']}"),
        ("connect time", lambda p: f"{p['connect_s']:.1f} s"),
        ("server RSS idle → connected", lambda p: f"{p['rss_idle_mb']:.0f} → {p['rss_connected_mb']:.0f} MB"),
        ("RSS per client", lambda p: f"{p['rss_per_client_kib']:.1f} KiB"),
        ("server CPU idle (ingest)", lambda p: f"{p['idle_cpu_per_s']:.0%}"),
        ("ingest behind after connect", lambda p: f"{p['behind_after_connect_s']:.1f} s"),
        ("ingest behind at end", lambda p: f"{p['behind_at_end_s']:.1f} s"),
        ("server CPU with clients", lambda p: f"{p['cpu_share']:.0%}"),
        ("server waiting for a CPU", lambda p: f"{p['cpu_wait_share']:.0%}"),
        ("frames per client per s", lambda p: f"{p['frames_per_client_s']:.2f}"),
        ("CPU per client frame (net)", lambda p: f"{p['cpu_per_frame_us']:.0f} µs"),
        ("CPU per client frame (gross)", lambda p: f"{p['gross_cpu_per_frame_us']:.0f} µs"),
        ("bytes per frame", lambda p: f"{p['bytes_per_frame']:.0f}"),
        ("updates per frame", lambda p: _number(p["updates_per_frame"], "{:.1f}")),
        ("wire bytes per update", lambda p: _number(p["wire_bytes_per_update"], "{:.1f}")),
        ("pilot UPDATE entry bytes", lambda p: _number(p["pilot_update_bytes_median"], "{:.0f}")),
        ("client CPU per frame", lambda p: f"{p['client_cpu_per_frame_us']:.0f} µs"),
        ("delay p50 / p95 / p99", lambda p: "{p50:.0f} / {p95:.0f} / {p99:.0f} ms".format(**p["delay_ms"])),
        (
            "server: outbox wait p50/p95/p99",
            lambda p: _bounds(p["server_wait_ms"]),
        ),
        (
            "server: arrival→store p50/p95/p99",
            lambda p: _bounds(p["ingest_to_store_ms"]),
        ),
        ("server: loop lag p50/p95/p99", lambda p: _bounds(p["loop_lag_ms"])),
        ("server: fan-out per change", lambda p: _fanout(p["fanout"])),
        ("delay samples (unmatched)", lambda p: f"{p['delay_samples']:,} ({p['unmatched_receipts']:,})"),
        (
            "age by timestamp p50 / p99",
            lambda p: "{p50:.0f} / {p99:.0f} ms".format(**p["age_ms"]) if p["age_ms"] else "—",
        ),
        ("publish rate", lambda p: f"{p['publish_rate']:,.0f}/s" if p["frames_published"] else "—"),
    ]
    width = 30
    print(f"\n{'':<{width}}" + "".join(f"{p['name']:>34}" for p in phases))
    for title, cell in rows:
        print(f"{title:<{width}}" + "".join(f"{cell(p):>34}" for p in phases))
    for name, ratio in report["ratios"].items():
        print(f"{name}: CPU per client batch ÷ bare per-client send = "
              f"{ratio['cpu_per_client_batch_to_bare_send']:.2f} (target ≤ 1); "
              f"RSS per client ÷ bare = {ratio['rss_per_client_to_bare']:.2f}")  # fmt: skip
    errors = {p["name"]: p["first_error"] for p in phases if p["first_error"]}
    for name, error in errors.items():
        print(f"  !! {name}: {error}")


def _bounds(found: dict[str, float]) -> str:
    """Bucket bounds of a histogram's percentiles ("≤ x ms")."""
    if not found:
        return "—"
    return "≤ " + " / ".join(f"{found[key]:g}" for key in ("p50", "p95", "p99")) + " ms"


def _fanout(found: dict[str, float]) -> str:
    """µs, candidates → deliveries per change routed, and the share of the net CPU."""
    if not found:
        return "—"
    return ("{us_per_change:.0f} µs, {candidates_per_change:.1f} → {deliveries_per_change:.1f}, "
            "{share_of_net_cpu:.0%}").format(**found)  # fmt: skip


def _number(value: float, form: str) -> str:
    return "—" if value is None or math.isnan(value) else form.format(value)


def parse_range(text: str) -> tuple[float, float]:
    low, _, high = text.partition("-")
    return float(low), float(high or low)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--clients", type=int, default=10_000, help="WebSocket clients (10000)")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds counted per phase (20)")
    parser.add_argument("--quick", action="store_true", help="CI size: 200 clients, 8 s, 500 frames/s")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--rate", type=float, default=2000.0, help="frames/s published (2000)")
    parser.add_argument(
        "--pilots", type=int, default=0, help=f"pilots (default: rate × {TRACKING_PERIOD_S:g} s)"
    )
    parser.add_argument(
        "--sites", type=int, default=0, help="copies of the scenario's area (default: pilots / 5)"
    )
    parser.add_argument("--radius-km", type=parse_range, default=(1.0, 10.0), metavar="LOW-HIGH",
                        help="client radius, uniform in this range (1-10)")  # fmt: skip
    parser.add_argument("--intervals", type=lambda s: [float(x) for x in s.split(",")], default=[1.0, 0.0],
                        help="batch intervals to measure, comma-separated (1,0)")  # fmt: skip
    parser.add_argument("--per-process", type=int, default=2000, help="connections per client process (2000)")
    parser.add_argument("--probe-every", type=int,
                        help="every N-th client is a probe: it measures the delay (fanet: decodes its pilots) (50; --quick: 10)")  # fmt: skip
    parser.add_argument("--probes-per-process", type=int, default=250,
                        help="probe connections per client process, apart from the load (250)")  # fmt: skip
    parser.add_argument("--load-nice", type=int, default=19,
                        help="niceness added to the load processes (not the probes): as if on other machines (19)")  # fmt: skip
    parser.add_argument("--ramp", type=int, default=32, help="handshakes in flight per client process (32)")
    parser.add_argument("--idle-s", type=float, default=5.0, help="idle-server CPU sample, s (5)")
    parser.add_argument("--warmup", type=float, help="seconds of traffic before measuring (default: ≈ 28)")
    parser.add_argument("--catch-up", type=float, default=300.0,
                        help="seconds to wait for ingest to work off the connect storm's backlog (300)")  # fmt: skip
    parser.add_argument("--settle", type=float, default=3.0, help="wait after connecting, s (3)")
    parser.add_argument("--connect-timeout", type=float, default=600.0, help="for all clients to connect, s")
    parser.add_argument("--bare-rate", type=float, default=1.0, help="bare server broadcasts/s (1)")
    parser.add_argument(
        "--bare-size", type=int, default=0, help="bare message bytes (default: mean fanet batch)"
    )
    parser.add_argument("--compact", action=argparse.BooleanOptionalAction, default=True,
                        help="clients ask for compact pilot updates (default: yes)")  # fmt: skip
    parser.add_argument(
        "--mqtt",
        help="use this broker (default: start a mosquitto); its max_inflight_messages bounds the publisher's window",
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.quick:
        args.clients, args.duration, args.rate, args.per_process = 200, 8.0, 500.0, 100
    if args.probe_every is None:
        args.probe_every = 10 if args.quick else 50
    args.pilots = args.pilots or round(args.rate * TRACKING_PERIOD_S)
    args.sites = args.sites or max(1, math.ceil(args.pilots / 5))
    report = run(args)
    print_table(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
