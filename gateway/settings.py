"""What ``fanet gateway`` is configured with: one settings model, and its resolved form.

:class:`GatewaySettings` is the one home of the configuration: a ``FanetSettings`` model that
``load_settings`` builds from command-line options, ``FANET_GATEWAY_*`` variables and the
``[gateway]`` table of a TOML file, in that order of precedence. :meth:`GatewaySettings.resolve`
turns it into a :class:`GatewayConfig` for the running program — the station id detected when not
given, the broker URL parsed, the spool directory chosen, and the settings objects of the parts
(``ModuleSettings``, ``MqttSettings``) built — and raises ``SettingsError`` naming the setting, as
``load_settings`` does, for what only shows when settings are combined.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from fanet.gateway.beacon import BeaconSettings
from fanet.gateway.module import MAX_READ_PAUSE_S, ModuleSettings
from fanet.gateway.mqtt import Backoff, LastWill, MqttSettings, parse_broker_url
from fanet.gateway.station_id import STATION_ID, detect_station_id
from fanet.settings import FanetSettings, SettingsError

ENV_PREFIX = "FANET_GATEWAY_"
TABLE = "gateway"
MEBIBYTE = 1024 * 1024


class GatewaySettings(FanetSettings):
    """Every setting of ``fanet gateway``; the option is ``--<name with dashes>``."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)
    toml_table = TABLE

    # the module
    serial: str = Field(min_length=1)
    """The module's serial device (``/dev/fanet`` with the udev rule, a replay's link)."""
    baud: int = Field(default=115200, gt=0)
    reset: bool = True
    power_dbm: int = Field(default=14, ge=2, le=20)
    boot_timeout_s: float = Field(default=10.0, gt=0)
    silence_limit_s: float = Field(default=120.0, gt=0)
    read_pause_s: float = Field(default=0.1, ge=0, le=MAX_READ_PAUSE_S)
    """Batch a burst of frames: wait this long after a read before the next (see ``ModuleSettings``)."""
    # the broker
    mqtt: str = Field(min_length=1)
    """``mqtt[s]://[user[:password]@]host[:port]``; checked in ``resolve`` (its errors hide the password)."""
    station_id: str | None = None
    topic_prefix: str = "fb/b"
    client_id: str | None = None
    keepalive_s: int = Field(default=30, ge=5, le=65535)
    max_in_flight: int = Field(default=20, ge=1, le=65535)
    ca_file: Path | None = None
    health_interval_s: float = Field(default=60.0, gt=0)
    reconnect_max_s: float = Field(default=30.0, ge=0.1)
    """The longest wait between attempts to reach the broker (the delays double up to it)."""
    # the spool
    spool_dir: Path | None = None
    spool_max_mb: float = Field(default=64.0, ge=0.1)
    spool_sync_s: float = Field(default=1.0, gt=0)
    # the beacon
    beacon_interval_s: float = Field(default=0.0, ge=0)
    beacon_lat: float | None = Field(default=None, ge=-90, le=90)
    beacon_lon: float | None = Field(default=None, ge=-180, le=180)
    beacon_altitude_m: float = 0.0
    # operation
    metrics_listen: str | None = None
    verbose: bool = False
    log_format: Literal["console", "json"] = "console"

    @field_validator("station_id")
    @classmethod
    def _station_id(cls, value: str | None) -> str | None:
        if value is not None and not STATION_ID.fullmatch(value):
            raise ValueError("1 to 64 letters, digits, '.', '_', ':' or '-', starting with a letter or digit")
        return value

    @field_validator("topic_prefix")
    @classmethod
    def _topic_prefix(cls, value: str) -> str:
        if not value or value.startswith("/") or value.endswith("/") or any(c in value for c in "+#\0"):
            raise ValueError("topic levels without wildcards, and no leading or trailing '/'")
        return value

    @field_validator("metrics_listen")
    @classmethod
    def _metrics_listen(cls, value: str | None) -> str | None:
        if value is not None:
            parse_listen(value)
        return value

    def resolve(self, config_file: Path | None = None) -> GatewayConfig:
        """The configuration the gateway runs with; raises ``SettingsError`` naming the setting."""

        def invalid(field: str, message: str) -> SettingsError:
            return self.invalid(field, message, config_file)

        try:
            broker = parse_broker_url(self.mqtt)
        except ValueError as error:  # the message shows the URL with the password starred out
            raise invalid("mqtt", str(error)) from None
        if self.station_id is not None:
            station_id, source = self.station_id, "configured"
        else:
            detected = detect_station_id()
            if detected is None:
                raise invalid("station_id", "not set, and no serial number or /etc/machine-id to use")
            station_id, source = detected
        beacon = None
        if self.beacon_interval_s > 0:
            for field in ("beacon_lat", "beacon_lon"):
                if getattr(self, field) is None:
                    raise invalid(field, "the beacon (beacon_interval_s > 0) needs the station's position")
            assert self.beacon_lat is not None and self.beacon_lon is not None
            beacon = BeaconSettings(
                self.beacon_interval_s, self.beacon_lat, self.beacon_lon, self.beacon_altitude_m
            )
        if self.ca_file is not None and not broker.tls:
            raise invalid("ca_file", "only used with an mqtts:// broker")
        topics = Topics(self.topic_prefix, station_id)
        max_bytes = int(self.spool_max_mb * MEBIBYTE)
        try:
            mqtt = MqttSettings(
                broker,
                self.client_id or f"fanet-gw-{station_id}",
                keepalive_s=self.keepalive_s,
                will=LastWill(topics.health, b"offline", qos=1, retain=True),
                max_in_flight=self.max_in_flight,
                backoff=Backoff(initial_s=min(0.5, self.reconnect_max_s), max_s=self.reconnect_max_s),
                ca_file=str(self.ca_file) if self.ca_file is not None else None,
            )
        except ValueError as error:
            raise invalid("client_id", str(error)) from None
        return GatewayConfig(
            station_id=station_id,
            station_id_source=source,
            module=ModuleSettings(
                port=self.serial,
                station_id=station_id,
                baud=self.baud,
                reset=self.reset,
                power_dbm=self.power_dbm,
                boot_timeout_s=self.boot_timeout_s,
                silence_limit_s=self.silence_limit_s,
                read_pause_s=self.read_pause_s,
                beacon=beacon,
            ),
            mqtt=mqtt,
            topics=topics,
            spool_dir=self.spool_dir or default_spool_dir(),
            spool_max_bytes=max_bytes,
            spool_sync_s=self.spool_sync_s,
            health_interval_s=self.health_interval_s,
            metrics_listen=parse_listen(self.metrics_listen) if self.metrics_listen else None,
        )


@dataclass(frozen=True, slots=True)
class Topics:
    prefix: str
    station_id: str

    @property
    def frames(self) -> str:
        return f"{self.prefix}/{self.station_id}/f"

    @property
    def health(self) -> str:
        return f"{self.prefix}/{self.station_id}/hw"


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """The resolved configuration a running gateway uses."""

    station_id: str
    station_id_source: str
    module: ModuleSettings
    mqtt: MqttSettings
    topics: Topics
    spool_dir: Path
    spool_max_bytes: int
    spool_sync_s: float
    health_interval_s: float
    metrics_listen: tuple[str, int] | None


def default_spool_dir() -> Path:
    """``$STATE_DIRECTORY/spool`` under systemd (``StateDirectory=``), else the user's state directory."""
    state = os.environ.get("STATE_DIRECTORY")
    if state:
        return Path(state.split(":")[0]) / "spool"
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "fanet" / "spool"


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:9100`` for IPv6) → ``(host, port)``; raises ``ValueError``."""
    host, separator, port = value.rpartition(":")
    if not separator or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{value!r} is not HOST:PORT")
    return host.removeprefix("[").removesuffix("]"), int(port)
