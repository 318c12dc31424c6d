"""The gateway process on one screen: every task, who owns it, and the order they stop in.

::

    ModuleLink ─ReceivedFrame channel─▶ spool_frames ─▶ Spool ─▶ Publisher ─▶ MqttClient ─▶ fb/b/<id>/f
    (serial port, module session)         (intake)        │ keep_synced       Health ─▶ fb/b/<id>/hw
                                                          └ (fsync thread)    serve_metrics (optional)
                                                                              Systemd.keep_informed

Nurseries, outermost first: the spool (closed last: final fsync and cursor), the MQTT client (its
exit sends DISCONNECT), the *uplink* nursery (publisher, health, spool sync, metrics, systemd
notifications) and inside it the *intake* nursery (module link and spool writer).

Under systemd (``Type=notify``, see ``systemd``) the gateway sends ``READY=1`` once all of these run:
the settings are valid (a bad one exits 2 before), the spool is open, the MQTT client and the uplink
tasks are started and so is the module link. Readiness does not wait for the broker or the module:
either may be away for hours, which the gateway rides out on its own (spooling, reopening the port),
while a start that waited for them would time out and be retried in a loop. From then on a task in
the uplink nursery sends the watchdog pings with a ``STATUS=`` line, so a hung event loop gets the
service restarted.

:meth:`Gateway.request_stop` (SIGINT, SIGTERM) sends ``STOPPING=1`` and shuts down in this order,
within ``SHUTDOWN_BOUND_S``:

1. stop reading: the module link is cancelled — the port is closed — and closes its channel;
2. the intake spools what is still in the channel, so everything received is on disk;
3. while connected, the publisher gets ``DRAIN_S`` to have the spool acknowledged, then a retained
   ``offline`` goes to the health topic (``OFFLINE_TIMEOUT_S``);
4. the uplink tasks are cancelled and the client writes what paho holds plus DISCONNECT
   (``CLOSE_TIMEOUT_S``; the broker then keeps the will to itself);
5. the spool is synced and closed. Whatever was not acknowledged is published at the next start.
"""

from __future__ import annotations

import signal

import structlog
import trio

from fanet import __version__
from fanet.gateway.health import OFFLINE, GatewayStatus, Health
from fanet.gateway.metrics import serve_metrics
from fanet.gateway.module import ModuleLink
from fanet.gateway.mqtt import CLOSE_TIMEOUT_S, MqttClient, open_mqtt_client
from fanet.gateway.publisher import Publisher
from fanet.gateway.settings import GatewayConfig
from fanet.gateway.spool import Spool
from fanet.gateway.spooler import IntakeStats, keep_synced, spool_frames
from fanet.gateway.systemd import Systemd
from fanet.proto import ReceivedFrame

log = structlog.get_logger("fanet.gateway")

FRAME_BUFFER = 256
"""Frames between the module link and the spool writer; when full the link stops reading the port."""
DRAIN_S = 1.0
OFFLINE_TIMEOUT_S = 0.5
SHUTDOWN_BOUND_S = DRAIN_S + OFFLINE_TIMEOUT_S + CLOSE_TIMEOUT_S
"""2.5 s: what a stop may take before the final spool sync (the promise is exit within 3 s)."""


class Gateway:
    """One gateway run; :meth:`run` returns after :meth:`request_stop` and a clean shutdown."""

    def __init__(self, config: GatewayConfig, systemd: Systemd | None = None) -> None:
        self.config = config
        self.systemd = systemd or Systemd()
        self.module = ModuleLink(config.module)
        self.intake = IntakeStats()
        self.status: GatewayStatus | None = None
        self._stop = trio.Event()

    def request_stop(self) -> None:
        if not self._stop.is_set():
            self.systemd.notify("STOPPING=1", "STATUS=stopping")
        self._stop.set()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        config = self.config
        spool = Spool.open(config.spool_dir, max_bytes=config.spool_max_bytes)
        log.info(
            "spool open",
            directory=str(config.spool_dir),
            pending=spool.pending,
            bytes=spool.size_bytes,
            truncated_bytes=spool.stats.truncated_bytes,
        )
        try:
            async with open_mqtt_client(config.mqtt) as client:
                publisher = Publisher(spool, client, config.topics.frames)
                status = self.status = GatewayStatus(
                    config.station_id,
                    self.module.status,
                    spool,
                    self.intake,
                    publisher,
                    client,
                    started_at=trio.current_time(),
                )
                health = Health(status, config.topics.health, config.health_interval_s)
                async with trio.open_nursery() as uplink:
                    uplink.start_soon(publisher.run)
                    uplink.start_soon(health.run)
                    uplink.start_soon(keep_synced, spool, config.spool_sync_s)
                    if config.metrics_listen is not None:
                        await uplink.start(serve_metrics, *config.metrics_listen, status)
                    frames_in, frames_out = trio.open_memory_channel[ReceivedFrame](FRAME_BUFFER)
                    async with trio.open_nursery() as intake:
                        intake.start_soon(spool_frames, frames_out, spool, publisher.wake, self.intake)
                        await intake.start(self._read_until_stopped, frames_in)
                        self.systemd.notify("READY=1", f"STATUS={status.status_line()}")
                        uplink.start_soon(self.systemd.keep_informed, self._describe)
                        task_status.started()
                    await self._drain(publisher, health, client)
                    uplink.cancel_scope.cancel()
        finally:
            try:
                spool.close()
            except OSError as error:
                log.error("final spool sync failed", error=str(error))
            if self.status is not None:
                log.info("gateway stopped", **self.status.summary())

    def _describe(self) -> str:
        """The ``STATUS=`` line for systemd."""
        line = self.status.status_line() if self.status is not None else "starting"
        return f"stopping; {line}" if self._stop.is_set() else line

    async def _read_until_stopped(
        self,
        frames: trio.MemorySendChannel[ReceivedFrame],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(self.module.run, frames)
            task_status.started()
            await self._stop.wait()
            log.info("stopping: closing the serial port, flushing what was read")
            nursery.cancel_scope.cancel()

    async def _drain(self, publisher: Publisher, health: Health, client: MqttClient) -> None:
        with trio.move_on_after(DRAIN_S) as scope:
            if client.connected:
                await publisher.drained()
        if scope.cancelled_caught:
            log.info(
                "shutdown: not everything acknowledged; kept in the spool", pending=publisher.spool.pending
            )
        if client.connected:
            await health.publish(OFFLINE, timeout_s=OFFLINE_TIMEOUT_S)


async def run_gateway(config: GatewayConfig) -> None:
    """Run a gateway until SIGINT or SIGTERM, then shut it down cleanly (see the module docstring)."""
    log.info(
        "gateway starting",
        version=__version__,
        station_id=config.station_id,
        station_id_from=config.station_id_source,
        serial=config.module.port,
        broker=config.mqtt.broker.url,
        topic=config.topics.frames,
        beacon=config.module.beacon is not None,
    )
    systemd = Systemd.from_environment()
    if systemd.active:
        log.info("notifying systemd", watchdog_interval_s=systemd.watchdog_interval_s)
    gateway = Gateway(config, systemd)
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:

            async def stop_on_signal() -> None:
                async for signum in signals:
                    log.info("signal received", signal=signal.Signals(signum).name)
                    gateway.request_stop()

            nursery.start_soon(stop_on_signal)
            await gateway.run()
            nursery.cancel_scope.cancel()
