"""MQTT throughput: QoS-1 messages through our Trio client, received by our client and by bare paho.

Publisher processes (``--publishers``, default 1) send ``--count`` QoS-1 messages in all through our
client (each keeping its in-flight window full) to the broker at the given URL. In this process the
messages are received at QoS 1, paho acknowledging each, by

- (a) our client, consuming with ``receive_batch()``;
- (a') our client, consuming with ``async for`` over ``client.messages``: one trip through Trio's
  scheduler per message;
- (b) the baseline: a bare paho subscriber running ``loop_forever`` in a thread.

The publishers live in their own processes so that they take no CPU from the receiver under test, as in
production, where gateways publish and the server receives; with one publisher the publisher is usually
the bottleneck, so ``--publishers 2`` shows the receivers' ceilings better. A round runs from the first
publish to the last message received; the publishers' own rate (to the last PUBACK) is reported too. The
publishers stay at most ``--lead`` messages ahead of the receiver, because mosquitto drops QoS-1 messages
for a client once more than ``max_queued_messages`` (1000 by default) wait for it. The receivers take
turns round by round so that a noisy neighbour hurts all alike; each figure is the best round. Beside
each rate: the CPU time of the receiving thread per message (the lowest of the rounds), which a busy
machine disturbs less than the rates.

Start a broker by hand, e.g. ``mosquitto -p 1884``, then::

    python bench/mqtt_throughput.py mqtt://127.0.0.1:1884 --publishers 2
"""

from __future__ import annotations

import argparse
import multiprocessing
import queue
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from multiprocessing.sharedctypes import Synchronized

import paho.mqtt.client as paho_mqtt
import trio
from paho.mqtt.enums import CallbackAPIVersion

from fanet.gateway.mqtt import MqttSettings, open_mqtt_client, parse_broker_url

# time.monotonic is CLOCK_MONOTONIC on Linux, one clock for all processes: the publisher's start and the
# receiver's end can be subtracted.
now = time.monotonic


@dataclass(frozen=True)
class Load:
    url: str
    count: int  # in all, shared out over the publishers
    payload_bytes: int
    lead: int
    window: int
    publishers: int


@dataclass(frozen=True)
class Published:
    started: float
    finished: float  # the last PUBACK
    window: int


@dataclass(frozen=True)
class Round:
    received_per_s: float
    published_per_s: float
    publish_window: int
    cpu_us: float
    """CPU time of the receiving thread per message."""


# --- the publisher process --------------------------------------------------------------------------------


async def publish_all(load: Load, topic: str, received: Synchronized[int]) -> Published:
    settings = MqttSettings.from_url(load.url, f"bench-pub-{uuid.uuid4().hex[:8]}", max_in_flight=load.window)
    body = bytes(load.payload_bytes)
    async with open_mqtt_client(settings) as publisher:
        with trio.fail_after(10):
            await publisher.wait_connected()
        started = now()
        handles = []
        for i in range(load.count // load.publishers):
            while i * load.publishers - received.value >= load.lead:
                await trio.sleep(0.0005)
            handles.append(await publisher.start_publish(topic, i.to_bytes(4, "big") + body))
        for handle in handles:
            await handle.wait()
        return Published(started, now(), publisher.publish_window)


def publisher_process(
    load: Load, topic: str, received: Synchronized[int], results: queue.Queue[object]
) -> None:
    try:
        results.put(trio.run(publish_all, load, topic, received))
    except BaseException as error:
        results.put(error)
        raise


class Publishers:
    """The publisher processes of one round; ``received`` is the receiver's count, shared for pacing."""

    def __init__(self, load: Load, topic: str) -> None:
        context = multiprocessing.get_context("spawn")
        self.received = context.Value("q", 0, lock=False)
        self._results: multiprocessing.Queue[object] = context.Queue()
        self._processes = [
            context.Process(
                target=publisher_process, args=(load, topic, self.received, self._results), daemon=True
            )
            for _ in range(load.publishers)
        ]
        for process in self._processes:
            process.start()

    async def results(self) -> list[Published]:
        results = []
        for process in self._processes:
            outcome = await trio.to_thread.run_sync(self._results.get, True, 60.0)
            await trio.to_thread.run_sync(process.join, 10.0)
            if not isinstance(outcome, Published):
                raise RuntimeError(f"a publisher process failed: {outcome!r}")
            results.append(outcome)
        return results

    def kill(self) -> None:
        for process in self._processes:
            if process.is_alive():
                process.kill()


async def run_round(
    load: Load, topic: str, receive_all: Callable[[Publishers], Awaitable[tuple[float, float]]]
) -> Round:
    """``receive_all`` returns when the last message arrived and the receiving thread's CPU seconds."""
    publishers = Publishers(load, topic)
    try:
        last_received, cpu_s = await receive_all(publishers)
        results = await publishers.results()
    finally:
        publishers.kill()
    started = min(r.started for r in results)
    finished = max(r.finished for r in results)
    return Round(
        load.count / (last_received - started),
        load.count / (finished - started),
        results[0].window,
        cpu_s / load.count * 1e6,
    )


# --- the receivers ----------------------------------------------------------------------------------------


async def round_with_our_subscriber(load: Load, buffer: int, batches: bool) -> Round:
    topic = f"bench/{uuid.uuid4().hex}"
    settings = MqttSettings.from_url(load.url, f"bench-sub-{uuid.uuid4().hex[:8]}", message_buffer=buffer)
    async with open_mqtt_client(settings) as subscriber:
        await subscriber.subscribe([(topic, 1)])

        async def receive_all(publishers: Publishers) -> tuple[float, float]:
            count = publishers.received
            cpu_before = time.thread_time()  # this thread runs the client's tasks too
            if batches:
                while count.value < load.count:
                    count.value += len(await subscriber.receive_batch(buffer))
            else:
                async for _ in subscriber.messages:
                    count.value += 1
                    if count.value == load.count:
                        break
            return now(), time.thread_time() - cpu_before

        return await run_round(load, topic, receive_all)


class PahoSubscriber:
    """Plain paho, ``loop_forever`` in its own thread, counting in ``on_message``."""

    def __init__(self, url: str, topic: str, count: int) -> None:
        address = parse_broker_url(url)
        self.count = count
        self.shared: Synchronized[int] | None = None
        self.received = 0
        self.done_at = 0.0
        self.cpu_s = 0.0
        self.done = threading.Event()
        self.subscribed = threading.Event()
        self.client = paho_mqtt.Client(CallbackAPIVersion.VERSION2, protocol=paho_mqtt.MQTTv5)
        if address.username is not None:
            self.client.username_pw_set(address.username, address.password)
        if address.tls:
            self.client.tls_set()
        self.client.on_connect = lambda client, *_: client.subscribe(topic, qos=1)
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.client.connect(address.host, address.port)
        self.thread = threading.Thread(target=self.client.loop_forever, name="paho-bench-subscriber")

    def _on_subscribe(self, *_: object) -> None:
        self.cpu_s = time.thread_time()  # of paho's thread, as in _on_message
        self.subscribed.set()

    def _on_message(self, client: paho_mqtt.Client, userdata: object, message: paho_mqtt.MQTTMessage) -> None:
        self.received += 1
        if self.shared is not None:
            self.shared.value = self.received
        if self.received == self.count:
            self.done_at = now()
            self.cpu_s = time.thread_time() - self.cpu_s
            self.done.set()

    def close(self) -> None:
        self.client.disconnect()
        self.thread.join()


async def round_with_paho_subscriber(load: Load) -> Round:
    topic = f"bench/{uuid.uuid4().hex}"
    subscriber = PahoSubscriber(load.url, topic, load.count)
    subscriber.thread.start()
    try:
        if not await trio.to_thread.run_sync(subscriber.subscribed.wait, 10.0):
            raise TimeoutError("the paho subscriber got no SUBACK")

        async def receive_all(publishers: Publishers) -> tuple[float, float]:
            subscriber.shared = publishers.received
            while not subscriber.done.is_set():  # polled: a thread blocked in Event.wait cannot be cancelled
                await trio.sleep(0.001)
            return subscriber.done_at, subscriber.cpu_s

        return await run_round(load, topic, receive_all)
    finally:
        subscriber.close()


async def main_async(args: argparse.Namespace) -> None:
    count = args.count - args.count % args.publishers
    load = Load(args.url, count, args.payload_bytes, args.lead, args.window, args.publishers)
    batched: list[Round] = []
    ours: list[Round] = []
    paho: list[Round] = []
    for _ in range(args.rounds):
        with trio.fail_after(args.timeout):
            batched.append(await round_with_our_subscriber(load, args.buffer, batches=True))
        with trio.fail_after(args.timeout):
            paho.append(await round_with_paho_subscriber(load))
        with trio.fail_after(args.timeout):
            ours.append(await round_with_our_subscriber(load, args.buffer, batches=False))
    best_batched = max(r.received_per_s for r in batched)
    best_ours = max(r.received_per_s for r in ours)
    best_paho = max(r.received_per_s for r in paho)
    best_publisher = max(r.published_per_s for r in batched + ours + paho)
    cpu_batched, cpu_ours, cpu_paho = (min(r.cpu_us for r in rounds) for rounds in (batched, ours, paho))
    print(
        f"{count} QoS-1 messages of {args.payload_bytes + 4} bytes from {args.publishers} publisher "
        f"process(es), best of {args.rounds} rounds"
    )
    rows = [
        ("(a)  our client, receive_batch()   ", best_batched, cpu_batched),
        ("(a') our client, async for         ", best_ours, cpu_ours),
        ("(b)  bare paho, loop_forever thread", best_paho, cpu_paho),
    ]
    for label, rate, cpu in rows:
        print(f"{label}: {rate:10,.0f} messages/s, {cpu:5.1f} µs CPU each")
    for label, rate, cpu in rows[:2]:
        ratio = f"ratio {label[:4].strip()} : (b)"
        print(f"{ratio:<35}: {rate / best_paho:10.2f} (CPU {cpu / cpu_paho:.2f})")
    print(
        f"our publishers, to the last PUBACK : {best_publisher:10,.0f} messages/s "
        f"(window {ours[0].publish_window}: --window {args.window}, capped by the broker's Receive Maximum)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__,
    )
    parser.add_argument("url", help="broker URL, mqtt://[user:pass@]host[:port] or mqtts://…")
    parser.add_argument("--count", type=int, default=20_000, help="messages per round (default 20000)")
    parser.add_argument("--payload-bytes", type=int, default=36, help="payload padding (default 36: a frame)")
    parser.add_argument("--publishers", type=int, default=1, help="publisher processes (default 1)")
    parser.add_argument("--window", type=int, default=100, help="publisher max_in_flight (default 100)")
    parser.add_argument(
        "--buffer", type=int, default=100, help="our subscriber's message_buffer (default 100)"
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds per receiver; the best counts (default 3)"
    )
    parser.add_argument(
        "--lead", type=int, default=500, help="most messages sent ahead of the receiver (500)"
    )
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds a round may take (default 120)")
    args = parser.parse_args()
    trio.run(main_async, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
