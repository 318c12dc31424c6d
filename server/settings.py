"""What ``fanet server`` is configured with: one settings model, and its resolved form.

:class:`ServerSettings` is the one home of the configuration: a ``FanetSettings`` model that
``load_settings`` builds from command-line options, ``FANET_SERVER_*`` variables and the ``[server]``
table of a TOML file, in that order of precedence. :meth:`ServerSettings.resolve` turns it into the
:class:`ServerConfig` the running server uses — the broker URL parsed, the capture to replay read, the
pipeline's thresholds checked, the MQTT client's settings built — and raises ``SettingsError`` naming the
setting (option, variable and file key) for what only shows when settings are combined.

Pipeline thresholds (:class:`~fanet.server.pipeline.PipelineSettings`) are one table:
``[server.pipeline]`` in the file (``appear_score = 1``), or ``FANET_SERVER_PIPELINE='{"appear_score": 1}'``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import redis
from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from fanet.gateway.module import ModuleSettings
from fanet.gateway.mqtt import MqttSettings, parse_broker_url
from fanet.hardware import Capture, CaptureError, bundled_captures, read_capture
from fanet.proto import AircraftType
from fanet.server.live.settings import LiveSettings
from fanet.server.pipeline import PipelineSettings
from fanet.server.rest.settings import RestSettings
from fanet.server.web.settings import OSM_ATTRIBUTION, OSM_TILES_URL, WebSettings
from fanet.settings import FanetSettings, SettingsError

ENV_PREFIX = "FANET_SERVER_"
TABLE = "server"


class ServerSettings(FanetSettings):
    """Every setting of ``fanet server``; the option is ``--<name with dashes>``."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)
    toml_table = TABLE

    # --- ingest ----------------------------------------------------------------------------------
    mqtt: str | None = None
    """``mqtt[s]://[user[:password]@]host[:port]``: ingest the stations' frames from this broker."""
    topic_prefix: str = "fb/b"
    """Stations publish on ``<prefix>/<id>/f`` (frames, also ``…/f/<sub>``) and ``<prefix>/<id>/hw`` (health)."""
    client_id: str = Field(default="fanet-server", min_length=1)
    """Fixed, so the broker keeps our session across restarts; every replica needs its own."""
    share_group: str | None = None
    """Subscribe to frames as ``$share/<group>/…``: replicas with the same group split the frames."""
    session_expiry_s: int = Field(default=86_400, ge=1, le=0xFFFF_FFFF)
    receive_maximum: int = Field(default=1000, ge=1, le=65_535)
    """Unacknowledged messages the broker may send us at once (acks follow the store write)."""
    keepalive_s: int = Field(default=30, ge=5, le=65_535)
    ca_file: Path | None = None
    serial: str | None = None
    """A FANET module on this serial port, read directly (the gateway's link embedded; no broker needed)."""
    replay: str | None = None
    """Replay a capture file (or a bundled capture's file name) as if its module were attached."""
    replay_loop: bool = False
    replay_speed: float = Field(default=1.0, gt=0, le=1000)
    station_id: str = Field(default="local", min_length=1, max_length=64)
    """The station id of frames from --serial and --replay."""
    # --- store and HTTP ---------------------------------------------------------------------------
    redis: str | None = None
    """``redis://host:6379/0`` (or ``rediss://``, ``unix://``); without it the live world stays in memory."""
    redis_namespace: str = Field(default="fanet", min_length=1)
    listen: str = "127.0.0.1:8080"
    """HTTP: the map, the REST API, ``/health``, ``/ready``, ``/metrics``; port 0 picks a free port (logged)."""
    ws_listen: str = "127.0.0.1:8081"
    """The WebSocket listener (``/ws/v1/updates``), its own port; ``/api/v1/info`` names its URL."""
    ws_batch_interval_s: float = Field(default=1.0, ge=0, le=60)
    """How often a WebSocket client gets a batch of updates; 0 sends each change at once."""
    ws_ping_interval_s: float = Field(default=30.0, ge=1, le=3600)
    """Server ping every this often; a client silent for twice as long is closed."""
    # --- the map page ----------------------------------------------------------------------------------
    tiles_url: str = OSM_TILES_URL
    """Map tiles (a Leaflet URL template); empty: a plain background (a club network without internet)."""
    tiles_attribution: str = OSM_ATTRIBUTION
    map_center_lat: float | None = None
    map_center_lon: float | None = None
    """Where the map opens (with ``map_zoom``); unset: it fits the base stations."""
    map_zoom: int = 10
    # --- batching, upkeep, shutdown -----------------------------------------------------------------
    batch_max_frames: int = Field(default=500, ge=1)
    batch_max_wait_ms: float = Field(default=20.0, ge=0, le=1000)
    """How long a batch waits for more frames (a full batch goes at once); 0 = take what is there.
    Batches also grow while the store writes the previous one, but at moderate rates they stay tiny
    and per-batch costs dominate: measured at 2,000 frames/s from 10,000 pilots (memory store), the
    server spent 150 µs of CPU a frame with 0 ms, 94 with 5, 84 with 10 and 63 with 20 — for at most
    20 ms more delay, well inside the live updates' budget."""
    expire_interval_s: float = Field(default=2.0, ge=0.1, le=60)
    trim_interval_s: float = Field(default=300.0, ge=1)
    track_retention_s: float = Field(default=12 * 3600.0, gt=0)
    shutdown_timeout_s: float = Field(default=5.0, ge=1, le=300)
    pipeline: dict[str, Any] = Field(default_factory=dict)
    """Overrides of the pipeline's thresholds, by name (see ``PipelineSettings``)."""
    # --- operation -------------------------------------------------------------------------------
    verbose: bool = False
    log_format: Literal["console", "json"] = "console"

    @field_validator("topic_prefix")
    @classmethod
    def _topic_prefix(cls, value: str) -> str:
        if (
            not value
            or value.startswith(("/", "$"))
            or value.endswith("/")
            or any(c in value for c in "+#\0")
        ):
            raise ValueError("topic levels without wildcards, and no leading '/' or '$' or trailing '/'")
        return value

    @field_validator("station_id")
    @classmethod
    def _station_id(cls, value: str) -> str:
        if value.startswith("@") or any(c in value for c in "/+#\0"):
            raise ValueError(
                "a station id neither starting with '@' (the server's own sources) nor holding '/', '+' or '#'"
            )
        return value

    @field_validator("share_group")
    @classmethod
    def _share_group(cls, value: str | None) -> str | None:
        if value is not None and (not value or any(c in value for c in "/+#\0")):
            raise ValueError("a non-empty name without '/', '+' or '#'")
        return value

    @field_validator("listen", "ws_listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        parse_listen(value)
        return value

    @field_validator("pipeline")
    @classmethod
    def _pipeline(cls, value: dict[str, Any]) -> dict[str, Any]:
        pipeline_settings(value)
        return value

    def resolve(self, config_file: Path | None = None, rest: RestSettings | None = None) -> ServerConfig:
        """The configuration the server runs with (``rest``: the API's own settings, ``[rest]`` and
        ``FANET_REST_*``); raises ``SettingsError`` naming the setting."""

        def invalid(field: str, message: str) -> SettingsError:
            return self.invalid(field, message, config_file)

        if self.serial is not None and self.replay is not None:
            raise invalid("replay", "give --serial or --replay, not both")
        mqtt = None
        if self.mqtt is not None:
            try:
                broker = parse_broker_url(self.mqtt)
            except ValueError as error:  # the message shows the URL with the password starred out
                raise invalid("mqtt", str(error)) from None
            if self.ca_file is not None and not broker.tls:
                raise invalid("ca_file", "only used with an mqtts:// broker")
            mqtt = MqttSettings(
                broker,
                self.client_id,
                keepalive_s=self.keepalive_s,
                clean_start=False,
                session_expiry_s=self.session_expiry_s,
                receive_maximum=self.receive_maximum,
                message_buffer=min(self.receive_maximum, self.batch_max_frames),
                manual_ack=True,
                ca_file=str(self.ca_file) if self.ca_file is not None else None,
            )
        elif self.share_group is not None:
            raise invalid("share_group", "a shared subscription needs a broker (--mqtt)")
        if mqtt is not None and self.batch_max_frames > self.receive_maximum:
            # The broker stops sending at receive_maximum unacknowledged messages, and acks follow the
            # store write: a batch waiting for more than that would only ever end by its time limit.
            raise invalid(
                "batch_max_frames",
                f"{self.batch_max_frames} is above receive_maximum ({self.receive_maximum}), "
                "the most unacknowledged messages the broker sends",
            )
        if self.redis is not None:
            try:
                redis.ConnectionPool.from_url(self.redis)  # parses only; nothing connects
            except ValueError as error:
                raise invalid("redis", str(error)) from None
        serial = None
        if self.serial is not None:
            try:
                serial = ModuleSettings(port=self.serial, station_id=self.station_id)
            except ValueError as error:
                raise invalid("serial", str(error)) from None
        replay = None
        if self.replay is not None:
            path = capture_path(self.replay)
            try:
                replay = Replay(read_capture(path), self.station_id, self.replay_speed, self.replay_loop)
            except (CaptureError, OSError) as error:
                raise invalid("replay", f"cannot read the capture {path}: {error}") from None
        if parse_listen(self.ws_listen) == parse_listen(self.listen) and parse_listen(self.listen)[1] != 0:
            raise invalid(
                "ws_listen", f"{self.ws_listen} is the HTTP listener's address too; give another port"
            )
        ws_host, ws_port = parse_listen(self.ws_listen)
        live = LiveSettings(
            host=ws_host,
            port=ws_port,
            batch_interval_s=self.ws_batch_interval_s,
            ping_interval_s=self.ws_ping_interval_s,
            pong_timeout_s=2 * self.ws_ping_interval_s,
        )
        pipeline = pipeline_settings(self.pipeline)
        try:
            web = WebSettings(
                tiles_url=self.tiles_url,
                tiles_attribution=self.tiles_attribution,
                center_lat=self.map_center_lat,
                center_lon=self.map_center_lon,
                zoom=self.map_zoom,
                stale_after_s=pipeline.pilot_stale_after_s,
            )
        except ValueError as error:
            named = str(error).split(" ", 1)[0]
            field = {"center_lat": "map_center_lat", "center_lon": "map_center_lon", "zoom": "map_zoom"}.get(
                named, "tiles_url"
            )
            raise invalid(field, str(error)) from None
        return ServerConfig(
            listen=parse_listen(self.listen),
            live=live,
            web=web,
            rest=rest if rest is not None else RestSettings(),
            mqtt=mqtt,
            topics=Topics(self.topic_prefix, self.share_group),
            redis_url=self.redis,
            redis_namespace=self.redis_namespace,
            serial=serial,
            replay=replay,
            pipeline=pipeline,
            batch_max_frames=self.batch_max_frames,
            batch_max_wait_s=self.batch_max_wait_ms / 1000,
            expire_interval_s=self.expire_interval_s,
            trim_interval_s=self.trim_interval_s,
            track_retention_s=self.track_retention_s,
            shutdown_timeout_s=self.shutdown_timeout_s,
        )


@dataclass(frozen=True, slots=True)
class Topics:
    """The MQTT topics the server reads: frames (optionally shared between replicas) and station health."""

    prefix: str = "fb/b"
    share_group: str | None = None

    def subscriptions(self) -> list[tuple[str, int]]:
        """``(filter, qos)`` pairs.

        ``<prefix>/+/f/#`` covers ``<prefix>/<id>/f`` too (``#`` matches zero levels); subscribing to both
        filters would make mosquitto deliver every frame twice. Health is never shared: brokers send no
        retained messages to shared subscriptions, and each replica keeps its own figures per station.
        """
        share = f"$share/{self.share_group}/" if self.share_group is not None else ""
        return [(f"{share}{self.prefix}/+/f/#", 1), (f"{self.prefix}/+/hw", 1)]

    def parse(self, topic: str) -> tuple[str, bool] | None:
        """``(station id, is health)`` for one of our topics, ``None`` for any other."""
        if not topic.startswith(self.prefix) or topic[len(self.prefix) : len(self.prefix) + 1] != "/":
            return None
        levels = topic[len(self.prefix) + 1 :].split("/")
        if len(levels) < 2 or not levels[0] or levels[0].startswith("@"):
            return None  # "@…" names are the server's own sources (posted positions are "@api")
        if levels[1] == "f":
            return levels[0], False
        if levels[1] == "hw" and len(levels) == 2:
            return levels[0], True
        return None


@dataclass(frozen=True, slots=True)
class Replay:
    capture: Capture
    station_id: str
    speed: float = 1.0
    loop: bool = False


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """The resolved configuration a running server uses (tests build one directly)."""

    listen: tuple[str, int] = ("127.0.0.1", 0)
    live: LiveSettings | None = None
    """The WebSocket listener's settings; ``None``: no WebSocket listener (tests of other parts)."""
    rest: RestSettings = field(default_factory=RestSettings)
    web: WebSettings | None = None
    """The map page at ``/``; ``None``: no page (tests of other parts)."""
    mqtt: MqttSettings | None = None
    topics: Topics = Topics()
    redis_url: str | None = None
    redis_namespace: str = "fanet"
    serial: ModuleSettings | None = None
    replay: Replay | None = None
    pipeline: PipelineSettings = field(default_factory=PipelineSettings)
    batch_max_frames: int = 500
    batch_max_wait_s: float = 0.0
    expire_interval_s: float = 2.0
    trim_interval_s: float = 300.0
    track_retention_s: float = 12 * 3600.0
    shutdown_timeout_s: float = 5.0

    @property
    def close_reserve_s(self) -> float:
        """Of the shutdown time, what closing takes after the drain (MQTT DISCONNECT, HTTP, store)."""
        return min(1.5, self.shutdown_timeout_s / 2)


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8080`` for IPv6; port 0: any free port) → ``(host, port)``; ``ValueError``."""
    host, separator, port = value.rpartition(":")
    if not separator or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"{value!r} is not HOST:PORT")
    return host.removeprefix("[").removesuffix("]"), int(port)


def pipeline_settings(overrides: Mapping[str, Any]) -> PipelineSettings:
    """``PipelineSettings`` with ``overrides``; ``ValueError`` naming the threshold that is wrong."""
    known = set(PipelineSettings.__dataclass_fields__)
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"unknown pipeline threshold(s) {', '.join(unknown)}")
    values = dict(overrides)
    speeds = values.get("max_speed_kmh")
    if isinstance(speeds, Mapping):  # by aircraft type name ("paraglider") on top of the defaults
        merged = dict(PipelineSettings().max_speed_kmh)
        for name, speed in speeds.items():
            try:
                merged[AircraftType[str(name).upper()]] = float(speed)
            except (KeyError, ValueError, TypeError):
                raise ValueError(
                    f"max_speed_kmh: {name!r} = {speed!r} is not an aircraft type and speed"
                ) from None
        values["max_speed_kmh"] = merged
    fields = PipelineSettings.__dataclass_fields__
    for name, value in values.items():
        default = fields[name].default
        number = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        if isinstance(default, int) and not (number and isinstance(value, int)):
            raise ValueError(f"pipeline threshold {name} must be a whole number, got {value!r}")
        if isinstance(default, float) and not number:
            raise ValueError(f"pipeline threshold {name} must be a number, got {value!r}")
    try:
        return PipelineSettings(**values)
    except (ValueError, TypeError) as error:
        raise ValueError(str(error)) from None


def capture_path(name: str) -> Path:
    """A path as given, or a bundled capture's file name when no such file is here."""
    path = Path(name)
    if path.exists() or path.parent != Path():
        return path
    return next((bundled for bundled in bundled_captures() if bundled.name == name), path)
