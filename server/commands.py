"""``fanet server``: the click command, thin. Settings are ``ServerSettings``; the work is ``app.serve``.

Every setting but the pipeline's thresholds has an option named after it; an option not given falls
back to ``FANET_SERVER_*``, then to the ``[server]`` table of ``--config``, then to the default. The
server extra (trio, hypercorn, redis …) is imported when the command runs, so ``fanet`` starts without it.
"""

from __future__ import annotations

import errno
from pathlib import Path
from typing import TYPE_CHECKING

import click

from fanet.options import LOG_FORMAT, OptionSpec, config_option, settings_options

if TYPE_CHECKING:
    from fanet.server.settings import ServerConfig

_OPTIONS: tuple[OptionSpec, ...] = (
    ("mqtt", str, "URL", None, "Ingest from this broker: mqtt[s]://[user[:password]@]host[:port]."),
    ("redis", str, "URL", None, "Keep the live world in Redis (redis://host:6379/0); default: in memory."),
    (
        "listen",
        str,
        "HOST:PORT",
        "127.0.0.1:8080",
        "HTTP: the map, the REST API, /health, /ready, /metrics (port 0: any free one).",
    ),
    ("ws_listen", str, "HOST:PORT", "127.0.0.1:8081", "WebSocket live updates (/ws/v1/updates), own port."),
    ("ws_batch_interval_s", float, "S", "1.0", "Send each WebSocket client a batch this often (0: at once)."),
    ("ws_ping_interval_s", float, "S", "30.0", "Ping WebSocket clients this often; close after twice that."),
    ("serial", str, "PORT", None, "Read a FANET module on this serial port (no broker needed)."),
    ("replay", str, "CAPTURE", None, "Replay a capture file (or a bundled capture's name) as a module."),
    ("replay_loop", bool, None, "no-replay-loop", "Start the capture over at its end."),
    ("replay_speed", float, "X", "1.0", "Replay time scale."),
    ("station_id", str, "ID", "local", "Station id of the frames from --serial and --replay."),
    ("tiles_url", str, "URL", "OpenStreetMap", "Map tiles, {z}/{x}/{y} template; '' for a plain background."),
    ("map_center_lat", float, "DEG", None, "Where the map opens (default: around the base stations)."),
    ("map_center_lon", float, "DEG", None, "Where the map opens."),
    ("map_zoom", int, "Z", "10", "The map's zoom with --map-center-lat/--map-center-lon."),
    ("topic_prefix", str, "PREFIX", "fb/b", "Frames on PREFIX/<id>/f (and /f/#), health on PREFIX/<id>/hw."),
    (
        "client_id",
        str,
        "ID",
        "fanet-server",
        "MQTT client id: fixed, so the broker keeps the session; one per replica.",
    ),
    ("share_group", str, "GROUP", None, "Share the frames with the replicas of GROUP ($share/GROUP/…)."),
    ("session_expiry_s", int, "S", "86400", "How long the broker keeps our session while we are away."),
    ("receive_maximum", int, "N", "1000", "Unacknowledged messages the broker may send at once."),
    ("keepalive_s", int, "S", "30", "MQTT keepalive."),
    ("ca_file", click.Path(dir_okay=False, path_type=Path), "FILE", None, "CA certificates for mqtts://."),
    ("redis_namespace", str, "NAME", "fanet", "Prefix of every Redis key."),
    ("batch_max_frames", int, "N", "500", "Most frames per store write."),
    ("batch_max_wait_ms", float, "MS", "20.0", "Wait this long for more frames before writing (0: never)."),
    ("expire_interval_s", float, "S", "2.0", "Sweep expired objects this often."),
    ("trim_interval_s", float, "S", "300.0", "Trim tracks this often."),
    ("track_retention_s", float, "S", "43200.0", "Keep track points this long."),
    ("shutdown_timeout_s", float, "S", "5.0", "SIGINT/SIGTERM: drain, flush and exit within this."),
    ("verbose", bool, None, "no-verbose", "Log debug lines too."),
    LOG_FORMAT,
)


@click.command()
@config_option("server", "FANET_SERVER_CONFIG", " (and [server.pipeline] the thresholds).")
@settings_options(_OPTIONS)
def server(config_file: Path | None, **options: object) -> None:
    """Run the central server: ingest, pipeline, store, the map and REST API, WebSocket live updates.

    Frames come from the broker (--mqtt: QoS 1, persistent session, acknowledged once stored), from a
    module on a serial port (--serial) or from a capture (--replay); with none of them the server
    only serves what the store holds. The live world is kept in Redis (--redis) or in memory. Each
    option can also be set as FANET_SERVER_<NAME> or in the [server] table of --config (options win,
    then the environment, then the file); the REST API's settings (rate limits, CORS, AUTH_URL, TLS)
    are FANET_REST_<NAME> or the [rest] table. SIGINT or SIGTERM drain and stop it (exit 0 within
    --shutdown-timeout-s; a second signal exits at once); a bad setting exits 2; a crash exits 1.
    """
    from fanet.logs import configure_logging  # noqa: PLC0415
    from fanet.server.rest import RestSettings  # noqa: PLC0415
    from fanet.server.settings import ServerSettings  # noqa: PLC0415
    from fanet.settings import SettingsError, load_settings  # noqa: PLC0415

    try:
        settings = load_settings(ServerSettings, config_file=config_file, **options)
        rest = load_settings(RestSettings, config_file=config_file)
        config = settings.resolve(config_file, rest)
    except SettingsError as error:
        click.echo(f"fanet server: {error}", err=True)
        raise SystemExit(2) from None
    configure_logging(verbose=settings.verbose, log_format=settings.log_format)
    run_served(config, "fanet server")


def run_served(config: ServerConfig, command: str) -> None:
    """Run the server until it stops: exit 0 after a signal, 1 (with one line naming why) after a crash."""
    import trio  # noqa: PLC0415  (server extra, see the module docstring)

    from fanet.server.app import serve  # noqa: PLC0415

    try:
        trio.run(serve, config)
    except KeyboardInterrupt:  # Ctrl-C before the signal handler was installed: nothing to clean up yet
        pass
    except BaseException as error:  # the crashed task was logged with its traceback
        if isinstance(error, SystemExit):
            raise
        click.echo(f"{command}: {_explain(error)}", err=True)
        raise SystemExit(1) from None


def _explain(error: BaseException) -> str:
    """One line for the crash that stopped the server; a taken port (the usual one) says what to do."""
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    if isinstance(error, OSError) and error.errno == errno.EADDRINUSE:
        return "a port is already in use (another server?); choose others with --listen and --ws-listen"
    return f"stopped after a crash ({type(error).__name__}: {error})"
