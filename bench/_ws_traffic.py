"""The WebSocket load benchmark's traffic: the bundled scenario's flights at many sites, published to MQTT.

The bundled capture (``hardware/captures/simulated-10min-seed1.jsonl``) holds five paraglider flights over
Alp Scheidegg, ≈ 11 × 11 km. That area is one **site**; the benchmark lays ``sites`` copies of it side by
side (a square grid of tiles, each exactly the scenario's bounding box) and flies the five flights at
every site, each pilot at a random phase of its flight (played forwards, then backwards, so the track
never jumps). Each pilot reports every ``interval_s`` (FANET's air-tracking period, 5 s with fewer than
ten neighbours) and sends its name once at the start: at 2,000 frames/s that is 10,000 pilots at 2,000
sites. ``sites=1`` puts every pilot over the one scenario area instead (a dense crowd).

Matching a report to its publish time: a FANET frame has no room for a wall-clock stamp, so each pilot's
report number ``n`` rides in two fields the pipeline passes through untouched — heading (``n % 256`` in
steps of 360/256°) and climb (``(n // 256) % 121 − 60`` tenths of a m/s, FANET's fine scale) — which
gives 30,976 distinct reports per pilot (over 40 hours at one report per 5 s). :func:`report_key` packs
``(address, n)`` into one integer; the publisher records the CLOCK_MONOTONIC time of every publish under
that key and a client recovers the key from the Pilot it receives (:func:`key_of_pilot`).
"""

from __future__ import annotations

import bisect
import math
import random
import time
import uuid
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

import trio

from fanet.firmware_bridge import FrameReceived, ModuleConnection
from fanet.gateway.mqtt import MqttSettings, open_mqtt_client
from fanet.hardware import Direction, read_capture
from fanet.proto import (
    AircraftType,
    AirTracking,
    Frame,
    GroundTracking,
    Name,
    Thermal,
    decode_frame,
    encode_frame,
    wrap,
)

SCENARIO = Path(__file__).resolve().parent.parent / "hardware" / "captures" / "simulated-10min-seed1.jsonl"
HEADING_STEP = 360 / 256
CLIMB_CODES = 121  # -60..60 tenths of a m/s: FANET's fine climb scale
REPORTS_PER_PILOT = 256 * CLIMB_CODES
BASE_ADDRESS = 0x200000  # manufacturer 0x20 upwards: clear of the scenario's own addresses
now = time.monotonic  # CLOCK_MONOTONIC: one clock for every process on the machine


@dataclass(frozen=True, slots=True)
class Area:
    south: float
    west: float
    north: float
    east: float

    @property
    def height_deg(self) -> float:
        return self.north - self.south

    @property
    def width_deg(self) -> float:
        return self.east - self.west


@dataclass(frozen=True, slots=True)
class Flight:
    """One air-tracking track of the scenario: times (s from its start) and positions."""

    name: str
    times: tuple[float, ...]
    lats: tuple[float, ...]
    lons: tuple[float, ...]
    altitudes: tuple[int, ...]

    @property
    def duration_s(self) -> float:
        return self.times[-1] - self.times[0]

    def at(self, elapsed_s: float) -> tuple[float, float, int]:
        """Position after ``elapsed_s``, the track played forwards then backwards (linear in between)."""
        span = self.duration_s
        phase = elapsed_s % (2 * span)
        t = self.times[0] + (phase if phase <= span else 2 * span - phase)
        i = min(max(bisect.bisect_right(self.times, t), 1), len(self.times) - 1)
        t0, t1 = self.times[i - 1], self.times[i]
        w = 0.0 if t1 == t0 else (t - t0) / (t1 - t0)
        lat = self.lats[i - 1] + (self.lats[i] - self.lats[i - 1]) * w
        lon = self.lons[i - 1] + (self.lons[i] - self.lons[i - 1]) * w
        alt = round(self.altitudes[i - 1] + (self.altitudes[i] - self.altitudes[i - 1]) * w)
        return lat, lon, alt


@dataclass(frozen=True, slots=True)
class Scenario:
    area: Area
    flights: tuple[Flight, ...]


def load_scenario(path: Path = SCENARIO) -> Scenario:
    """The scenario's air-tracking flights (by address) and the bounding box of every position in it."""
    capture = read_capture(path)
    module = ModuleConnection()
    names = {d["address"]: d["name"] for d in capture.header.extra.get("simulation", {}).get("devices", [])}
    tracks: dict[int, list[tuple[float, float, float, int]]] = {}
    lats: list[float] = []
    lons: list[float] = []
    for chunk in capture.chunks:
        if chunk.direction is not Direction.RX:
            continue
        module.receive_data(chunk.data, chunk.t)
        for event in module.events():
            if not isinstance(event, FrameReceived):
                continue
            try:
                frame = decode_frame(event.raw)
            except ValueError:
                continue
            payload = frame.payload
            if isinstance(payload, AirTracking | GroundTracking | Thermal):
                lats.append(payload.lat)
                lons.append(payload.lon)
            if isinstance(payload, AirTracking):
                tracks.setdefault(frame.source, []).append(
                    (chunk.t, payload.lat, payload.lon, payload.altitude_m)
                )
    flights = []
    for address, points in sorted(tracks.items()):
        if len(points) < 2:
            continue
        start = points[0][0]
        flights.append(
            Flight(
                names.get(f"{address:06X}", f"Pilot {address:06X}"),
                tuple(p[0] - start for p in points),
                tuple(p[1] for p in points),
                tuple(p[2] for p in points),
                tuple(p[3] for p in points),
            )
        )
    return Scenario(Area(min(lats), min(lons), max(lats), max(lons)), tuple(flights))


@dataclass(frozen=True, slots=True)
class Layout:
    """Where the sites are: a square grid of scenario-sized tiles, ``columns`` wide, south-west first."""

    scenario: Scenario
    sites: int

    @property
    def columns(self) -> int:
        return math.ceil(math.sqrt(self.sites))

    def site_origin(self, site: int) -> tuple[float, float]:
        """(Δlat, Δlon) of a site's tile from the scenario's own."""
        row, column = divmod(site, self.columns)
        area = self.scenario.area
        return row * area.height_deg, column * area.width_deg

    def random_point(self, rng: random.Random) -> tuple[float, float]:
        """A position uniformly over the sites' tiles (where clients look)."""
        dlat, dlon = self.site_origin(rng.randrange(self.sites))
        area = self.scenario.area
        return (
            area.south + dlat + rng.random() * area.height_deg,
            area.west + dlon + rng.random() * area.width_deg,
        )


@dataclass(frozen=True, slots=True)
class SyntheticPilot:
    address: int
    flight: Flight
    phase_s: float
    dlat: float
    dlon: float


def make_pilots(layout: Layout, count: int, seed: int) -> list[SyntheticPilot]:
    """``count`` pilots: site ``i // len(flights)`` flies flight ``i % len(flights)`` at a random phase."""
    rng = random.Random(seed)
    flights = layout.scenario.flights
    pilots = []
    for i in range(count):
        site = (i // len(flights)) % layout.sites
        flight = flights[i % len(flights)]
        dlat, dlon = layout.site_origin(site)
        pilots.append(
            SyntheticPilot(BASE_ADDRESS + i, flight, rng.uniform(0, 2 * flight.duration_s), dlat, dlon)
        )
    return pilots


def report_key(address: int, number: int) -> int:
    return address << 16 | number


def report_fields(number: int) -> tuple[float, float]:
    """(heading °, climb m/s) that carry report ``number`` (see the module docstring)."""
    n = number % REPORTS_PER_PILOT
    return (n % 256) * HEADING_STEP, ((n // 256) - 60) / 10


def key_of_pilot(address: int, course_deg: float, climb_ms: float) -> int:
    """The :func:`report_key` of a received Pilot (its heading and climb as the server passed them on)."""
    heading_code = round(course_deg / HEADING_STEP) % 256
    climb_code = round(climb_ms * 10) + 60
    return report_key(address, climb_code * 256 + heading_code)


def tracking_frame(pilot: SyntheticPilot, elapsed_s: float, number: int) -> bytes:
    lat, lon, altitude = pilot.flight.at(pilot.phase_s + elapsed_s)
    heading, climb = report_fields(number)
    payload = AirTracking(
        lat + pilot.dlat, lon + pilot.dlon, AircraftType.PARAGLIDER, altitude, 32.0, climb, heading
    )
    return encode_frame(Frame(pilot.address, payload))


def name_frame(pilot: SyntheticPilot) -> bytes:
    return encode_frame(Frame(pilot.address, Name(pilot.flight.name)))


# --- the publisher process ---------------------------------------------------------------------------


def publisher_process(
    url: str, topic_prefix: str, layout: Layout, pilots: int, rate: float, seed: int, control: Connection
) -> None:
    """Publish the pilots' reports at ``rate`` frames/s (QoS 1, up to ``PUBLISH_WINDOW`` in flight, one topic
    per site) until ``control`` says ``"stop"``; then send back ``{report key: publish time}`` and the count
    published.

    Every pilot first sends its name (at the same pace); then they report in turn, each every
    ``pilots / rate`` seconds. ``"ready"`` goes to ``control`` once the broker accepted the connection.
    The client is the gateway's own (:mod:`fanet.gateway.mqtt`), as a base station publishes: paho's
    threaded client took a quarter of a core at 2,000 frames/s, CPU the server under test then waited
    for on a machine the two share.
    """
    trio.run(_publish, url, topic_prefix, layout, pilots, rate, seed, control)


PUBLISH_WINDOW = 2000
"""Publishes awaiting their PUBACK: at 2,000 frames/s a broker round trip of up to a second (the broker's
Receive Maximum must allow it: ``max_inflight_messages``)."""


async def _publish(
    url: str, topic_prefix: str, layout: Layout, pilots: int, rate: float, seed: int, control: Connection
) -> None:
    flock = make_pilots(layout, pilots, seed)
    settings = MqttSettings.from_url(
        url, client_id=f"bench-ws-pub-{uuid.uuid4().hex[:8]}", max_in_flight=PUBLISH_WINDOW
    )
    async with open_mqtt_client(settings) as client:
        with trio.fail_after(10):
            await client.wait_connected()
        flights = len(layout.scenario.flights)
        # A random order, so that the reports of one site spread over the period as real ones do.
        random.Random(seed).shuffle(flock)
        topics = [
            f"{topic_prefix}/site{(p.address - BASE_ADDRESS) // flights % layout.sites}/f" for p in flock
        ]
        published: dict[int, float] = {}
        control.send("ready")
        started = now()
        sent = 0
        names = len(flock)
        while not control.poll():
            due = int((now() - started) * rate)
            while sent < due:
                i = sent % pilots
                pilot = flock[i]
                if sent < names:
                    raw = name_frame(pilot)
                else:
                    number = (sent - names) // pilots
                    raw = tracking_frame(pilot, now() - started, number)
                    published[report_key(pilot.address, number % REPORTS_PER_PILOT)] = now()
                await client.start_publish(topics[i], wrap(raw, int(time.time()), -90, 5), qos=1)
                sent += 1
            await trio.sleep(0.002)
        control.recv()
        control.send((published, sent, now() - started))
