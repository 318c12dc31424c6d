"""Readiness: which dependency is down and why, for ``/ready`` and the logs; and the tasks that watch them.

Liveness (``/health``) is simply "the event loop answers". Readiness names what is missing: the store
(Redis) not answering, the broker not connected, the warm start not done yet, a shutdown under way.
Each component reports its own dependency (:meth:`Readiness.down` / :meth:`Readiness.up`); a change is
logged once, not on every retry.
"""

from collections.abc import Callable

import structlog
import trio

from fanet.gateway.mqtt import MqttClient
from fanet.server.store import Store, StoreUnavailable

log = structlog.get_logger("fanet.server")

STORE = "store"
MQTT = "mqtt"
SUBSCRIPTION = "mqtt_subscription"
SERIAL = "serial"
STARTUP = "startup"
SHUTDOWN = "shutdown"


class Readiness:
    """What is down, by dependency name, with a reason a person can act on."""

    def __init__(self) -> None:
        self._down: dict[str, str] = {}

    @property
    def ready(self) -> bool:
        return not self._down

    @property
    def problems(self) -> dict[str, str]:
        return dict(self._down)

    def is_down(self, dependency: str) -> bool:
        return dependency in self._down

    def down(self, dependency: str, reason: str) -> None:
        if self._down.get(dependency) is None:
            level = log.info if dependency in (STARTUP, SHUTDOWN) else log.warning
            level("not ready", dependency=dependency, reason=reason)
        self._down[dependency] = reason

    def up(self, dependency: str) -> None:
        if self._down.pop(dependency, None) is not None:
            log.info("ready again", dependency=dependency)


async def watch_mqtt(client: MqttClient, readiness: Readiness) -> None:
    """Mirror the client's connection state into ``readiness`` until cancelled or the client closes."""
    url = client.settings.broker.url
    readiness.down(MQTT, f"connecting to {url}")
    while not client.closed:
        if client.connected:
            readiness.up(MQTT)
            await client.wait_disconnected()
        else:
            reason = client.stats.last_disconnect_reason
            readiness.down(MQTT, f"not connected to {url}" + (f" ({reason})" if reason else ""))
            try:
                await client.wait_connected()
            except Exception:  # closed: nothing more to watch
                return


async def probe_store(
    store: Store, readiness: Readiness, writer_failing: Callable[[], bool], interval_s: float = 1.0
) -> None:
    """Ping the store every ``interval_s`` so that ``/ready`` notices an outage while nothing is written.

    The store writer reports its own failures under the same name; a ping that succeeds while the
    writer still fails (Redis up but refusing writes) leaves that report standing.
    """
    while True:
        try:
            await store.ping()
        except StoreUnavailable as error:
            readiness.down(STORE, str(error))
        else:
            if not writer_failing():
                readiness.up(STORE)
        await trio.sleep(interval_s)
