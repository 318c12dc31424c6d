"""``fanet gateway``: the click command, thin. Settings are ``GatewaySettings``; the work is ``app``.

Every setting has an option named after it; an option not given falls back to ``FANET_GATEWAY_*``,
then to the ``[gateway]`` table of ``--config``, then to the default (shown in ``--help``, checked
against the model by the tests). The gateway extra (trio, paho, pydantic …) is imported when the
command runs, so ``fanet`` starts without it.
"""

from __future__ import annotations

from pathlib import Path

import click

from fanet.options import LOG_FORMAT, OptionSpec, config_option, settings_options

_OPTIONS: tuple[OptionSpec, ...] = (
    ("serial", str, "PORT", None, "The module's serial device, e.g. /dev/fanet or /dev/ttyUSB0."),
    ("mqtt", str, "URL", None, "Broker: mqtt[s]://[user[:password]@]host[:port]."),
    (
        "station_id",
        str,
        "ID",
        None,
        "Station id in the topics (default: the Pi's serial number, else /etc/machine-id).",
    ),
    ("baud", int, "N", "115200", "Serial line speed (8N1)."),
    ("reset", bool, None, "reset", "Reset the module (RTS pulse) before initialising it."),
    ("power_dbm", int, "DBM", "14", "Transmit power for #DGL (2..20; 14 is the EU limit)."),
    ("boot_timeout_s", float, "S", "10.0", "Wait this long for 'initialized' before asking the module."),
    ("silence_limit_s", float, "S", "120.0", "Re-initialise a module silent this long."),
    (
        "read_pause_s",
        float,
        "S",
        "0.1",
        "While frames flow, pause this long between reads to batch them (≤ 0.2).",
    ),
    ("topic_prefix", str, "PREFIX", "fb/b", "Topics are PREFIX/<id>/f (frames) and PREFIX/<id>/hw (health)."),
    ("client_id", str, "ID", None, "MQTT client id (default: fanet-gw-<station id>)."),
    ("keepalive_s", int, "S", "30", "MQTT keepalive."),
    ("max_in_flight", int, "N", "20", "Publishes awaiting their PUBACK at once."),
    ("ca_file", click.Path(dir_okay=False, path_type=Path), "FILE", None, "CA certificates for mqtts://."),
    ("health_interval_s", float, "S", "60.0", "Publish the retained health report this often."),
    ("reconnect_max_s", float, "S", "30.0", "Longest wait between attempts to reach the broker."),
    (
        "spool_dir",
        click.Path(file_okay=False, path_type=Path),
        "DIR",
        None,
        "Store-and-forward spool (default: $STATE_DIRECTORY/spool, else ~/.local/state/fanet/spool).",
    ),
    ("spool_max_mb", float, "MB", "64.0", "Spool size bound; when full the oldest frames are dropped."),
    ("spool_sync_s", float, "S", "1.0", "fsync the spool this often (what a power cut can cost)."),
    ("beacon_interval_s", float, "S", "0.0", "Transmit a gateway service frame every S seconds (0: never)."),
    ("beacon_lat", float, "DEG", None, "The station's latitude, for the beacon."),
    ("beacon_lon", float, "DEG", None, "The station's longitude, for the beacon."),
    ("beacon_altitude_m", float, "M", "0.0", "The station's altitude, for the beacon."),
    ("metrics_listen", str, "HOST:PORT", None, "Serve Prometheus metrics at http://HOST:PORT/metrics."),
    ("verbose", bool, None, "no-verbose", "Log debug lines too (one line a frame)."),
    LOG_FORMAT,
)


@click.command()
@config_option("gateway", "FANET_GATEWAY_CONFIG", ' (station-id = "…", serial = "/dev/fanet").')
@settings_options(_OPTIONS)
def gateway(config_file: Path | None, **options: object) -> None:
    """Run a base station: FANET module on a serial port in, wrapped frames on MQTT out.

    Every frame the module receives is stored in an on-disk spool, then published (QoS 1) on
    PREFIX/<id>/f as the base-station wrapper (time, RSSI, SNR, raw frame), in order, also after
    the broker was away; a retained health report goes to PREFIX/<id>/hw. Each option can also be
    set as FANET_GATEWAY_<NAME> or in the [gateway] table of --config (options win, then the
    environment, then the file). SIGINT or SIGTERM stop it cleanly (exit 0); a bad setting exits 2.
    """
    # The gateway extra, imported only now (see the module docstring).
    import trio  # noqa: PLC0415

    from fanet.gateway.app import run_gateway  # noqa: PLC0415
    from fanet.gateway.settings import GatewaySettings  # noqa: PLC0415
    from fanet.gateway.spool import SpoolError  # noqa: PLC0415
    from fanet.logs import configure_logging  # noqa: PLC0415
    from fanet.settings import SettingsError, load_settings  # noqa: PLC0415

    try:
        settings = load_settings(GatewaySettings, config_file=config_file, **options)
        config = settings.resolve(config_file)
    except SettingsError as error:
        click.echo(f"fanet gateway: {error}", err=True)
        raise SystemExit(2) from None
    configure_logging(verbose=settings.verbose, log_format=settings.log_format)
    try:
        trio.run(run_gateway, config)
    except SpoolError as error:
        raise click.ClickException(str(error)) from None
    except KeyboardInterrupt:  # Ctrl-C before the signal handler was installed: nothing to clean up yet
        pass
