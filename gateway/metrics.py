"""Optional Prometheus endpoint: ``GET /metrics`` on ``--metrics-listen HOST:PORT``.

A tiny HTTP/1.0-style handler on ``trio.serve_tcp`` — no thread, no web framework — answers with
``prometheus_client.generate_latest`` of a registry of its own, whose one collector reads the
gateway's :class:`~fanet.gateway.health.GatewayStatus` at scrape time (nothing is updated per frame).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import structlog
import trio
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from fanet.gateway.health import GatewayStatus

log = structlog.get_logger("fanet.gateway")

REQUEST_TIMEOUT_S = 5.0
MAX_REQUEST_BYTES = 8192
CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"

# (metric name, help, section of the snapshot, key, counter?)
_METRICS: tuple[tuple[str, str, str, str, bool], ...] = (
    ("frames_received", "Frames received from the module", "frames", "received", True),
    ("frames_spooled", "Frames written to the spool", "frames", "spooled", True),
    ("frames_published", "Frames acknowledged by the broker", "frames", "published", True),
    ("frames_republished", "Frames published again after a lost connection", "frames", "republished", True),
    ("frames_dropped", "Unpublished frames dropped because the spool was full", "frames", "dropped", True),
    ("frames_lost", "Frames the spool could not store", "frames", "lost", True),
    ("frames_pending", "Frames in the spool waiting for the broker", "frames", "pending", False),
    ("corrupt_lines", "Module lines that did not parse", "frames", "corrupt_lines", True),
    ("spool_bytes", "Size of the spool on disk", "spool", "bytes", False),
    ("serial_opens", "Times the serial port was opened", "serial", "opens", True),
    ("serial_losses", "Times the open serial port failed (unplugged)", "serial", "losses", True),
    ("module_boots", "Times the module printed 'initialized'", "module", "boots", True),
    ("mqtt_connects", "Connections to the broker", "mqtt", "connects", True),
    ("beacons_sent", "Beacons transmitted", "module", "beacons_sent", True),
    ("uptime_seconds", "Seconds since the gateway started", "", "uptime_s", False),
)


class _StatusCollector(Collector):
    def __init__(self, status: GatewayStatus) -> None:
        self._status = status

    def collect(self) -> Iterator[Metric]:
        snapshot = self._status.snapshot()
        for name, help_text, section, key, counter in _METRICS:
            values: dict[str, Any] = snapshot[section] if section else snapshot
            family = CounterMetricFamily if counter else GaugeMetricFamily
            yield family(f"fanet_gateway_{name}", help_text, value=float(values[key] or 0))
        for what, up in (
            ("serial_open", snapshot["serial"]["state"] == "open"),
            ("module_ready", snapshot["module"]["state"] == "ready"),
            ("mqtt_connected", snapshot["mqtt"]["state"] == "connected"),
        ):
            yield GaugeMetricFamily(f"fanet_gateway_{what}", f"1 when {what.replace('_', ' ')}", value=up)


async def serve_metrics(
    host: str,
    port: int,
    status: GatewayStatus,
    *,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve until cancelled; ``task_status`` gets the bound port (useful with port 0)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_StatusCollector(status))

    async def handle(stream: trio.SocketStream) -> None:
        try:
            async with stream:
                await respond(stream)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as error:
            log.debug("metrics request failed", error=str(error))  # the scraper went away

    async def respond(stream: trio.SocketStream) -> None:
        with trio.move_on_after(REQUEST_TIMEOUT_S):
            request = bytearray()
            while b"\r\n\r\n" not in request and len(request) < MAX_REQUEST_BYTES:
                chunk = await stream.receive_some(4096)
                if not chunk:
                    return
                request += chunk
            method, _, rest = bytes(request).partition(b" ")
            path = rest.split(b" ", 1)[0].split(b"?", 1)[0]
            if method == b"GET" and path == b"/metrics":
                body, status_line, content_type = generate_latest(registry), b"200 OK", CONTENT_TYPE
            else:
                body, status_line, content_type = b"not found\n", b"404 Not Found", b"text/plain"
            head = (
                b"HTTP/1.1 "
                + status_line
                + b"\r\nContent-Type: "
                + content_type
                + b"\r\nContent-Length: "
                + str(len(body)).encode()
                + b"\r\nConnection: close\r\n\r\n"
            )
            await stream.send_all(head + body)

    listeners = await trio.open_tcp_listeners(port, host=host)
    bound = listeners[0].socket.getsockname()[1]
    log.info("metrics endpoint listening", url=f"http://{host}:{bound}/metrics")
    task_status.started(bound)
    await trio.serve_listeners(handle, listeners)
