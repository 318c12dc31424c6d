"""The gateway's health report: one JSON document, retained on ``<prefix>/<id>/hw``.

Published at every (re)connection and every ``interval_s`` while connected, and logged as an info
line ("status") each time, connected or not. The broker publishes the last will, a retained
``offline``, on the same topic when the connection dies without a DISCONNECT; a clean shutdown
publishes ``offline`` itself before disconnecting. :meth:`GatewayStatus.snapshot` is also what the
metrics endpoint and the shutdown summary read; :meth:`GatewayStatus.status_line` is the status
systemd shows.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import structlog
import trio

from fanet import __version__
from fanet.gateway.module import ModuleStatus
from fanet.gateway.mqtt import MqttClient, MqttError
from fanet.gateway.publisher import Publisher
from fanet.gateway.spool import Spool
from fanet.gateway.spooler import IntakeStats

log = structlog.get_logger("fanet.gateway")

OFFLINE = b"offline"
PUBLISH_TIMEOUT_S = 10.0


@dataclass(slots=True)
class GatewayStatus:
    """Where each part of the gateway keeps its state; read, never written, here."""

    station_id: str
    module: ModuleStatus
    spool: Spool
    intake: IntakeStats
    publisher: Publisher
    client: MqttClient
    started_at: float
    """Trio time when the gateway started."""

    def snapshot(self) -> dict[str, Any]:
        module, spool, client = self.module, self.spool, self.client
        mqtt = client.stats
        return {
            "state": "online",
            "station": self.station_id,
            "version": __version__,
            "time": int(time.time()),
            "uptime_s": round(trio.current_time() - self.started_at),
            "module": {
                "state": module.module_state,
                "version": module.version,
                "address": module.address_text,
                "boots": module.boots,
                "init_failures": module.init_failures,
                "beacons_sent": module.beacons_sent,
                "beacons_failed": module.beacons_failed,
            },
            "serial": {
                "port": module.port,
                "state": module.serial_state,
                "opens": module.opens,
                "losses": module.losses,
                "last_error": module.last_error,
            },
            "mqtt": {
                "state": "connected" if client.connected else "disconnected",
                "broker": client.settings.broker.url,
                "connects": mqtt.connects,
                "disconnects": mqtt.disconnects,
                "connect_failures": mqtt.connect_failures,
            },
            "frames": {
                "received": module.frames_received,
                "spooled": self.intake.spooled,
                "published": self.publisher.stats.published,
                "pending": spool.pending,
                "dropped": spool.stats.dropped,
                "lost": self.intake.lost,
                "republished": self.publisher.stats.republished,
                "corrupt_lines": module.corrupt_lines,
                "unknown_lines": module.unknown_lines,
                "types": {str(kind): count for kind, count in sorted(module.frame_types.items())},
            },
            "spool": {
                "bytes": spool.size_bytes,
                "max_bytes": spool.max_bytes,
                "segments": spool.segment_count,
                "recovered": spool.stats.recovered,
                "truncated_bytes": spool.stats.truncated_bytes,
            },
        }

    def status_line(self) -> str:
        """One line for people (``systemctl status`` shows it): states, then the frame counters."""
        module, spool = self.module, self.spool
        return (
            f"module {module.module_state}, serial {module.serial_state}, "
            f"MQTT {'connected' if self.client.connected else 'disconnected'}; "
            f"frames: {module.frames_received} received, {self.publisher.stats.published} published, "
            f"{spool.pending} pending"
        )

    def summary(self) -> dict[str, Any]:
        """The counters worth a log line, flat."""
        snapshot = self.snapshot()
        frames = {key: value for key, value in snapshot["frames"].items() if key != "types"}
        return {
            "module": snapshot["module"]["state"],
            "serial": snapshot["serial"]["state"],
            "mqtt": snapshot["mqtt"]["state"],
            **frames,
        }


class Health:
    """Publishes the health report; :meth:`run` until cancelled."""

    def __init__(self, status: GatewayStatus, topic: str, interval_s: float) -> None:
        self.status = status
        self.topic = topic
        self.interval_s = interval_s

    async def run(self) -> None:
        client = self.status.client
        while True:
            if client.connected:
                await self.publish(json.dumps(self.status.snapshot(), separators=(",", ":")).encode())
            log.info("status", **self.status.summary())
            with trio.move_on_after(self.interval_s):
                if client.connected:
                    await client.wait_disconnected()
                try:
                    await client.wait_connected()  # a new connection gets a report at once
                except MqttError:
                    return  # the client is closed

    async def publish(self, payload: bytes, timeout_s: float = PUBLISH_TIMEOUT_S) -> bool:
        """Publish ``payload`` retained at QoS 1; False (logged) if it did not get through in time."""
        with trio.move_on_after(timeout_s):
            try:
                await self.status.client.publish(self.topic, payload, qos=1, retain=True)
            except MqttError as error:
                log.info("health report not published", error=str(error))
                return False
            return True
        log.info("health report not acknowledged in time", timeout_s=timeout_s)
        return False
