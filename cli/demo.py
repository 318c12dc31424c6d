"""``fanet demo``: what ``make run`` starts — the server on a replayed capture, with the live map.

The whole server runs as ``fanet server`` would (memory store, no broker): the bundled capture (ten
minutes over Alp Scheidegg: five paraglider pilots, a weather station, a distress call) is replayed in a
loop through the path a module's frames take, and the map is served at ``http://127.0.0.1:8080/``.
Only click is imported here; the server's modules load when the command runs (they need the
``server`` extra), so ``fanet --help`` stays fast.
"""

from __future__ import annotations

import click

DEFAULT_CAPTURE = "simulated-10min-seed1.jsonl"
"""Bundled with ``fanet.hardware``; named by file name, as ``fanet server --replay`` accepts it."""


@click.command()
@click.option(
    "--listen",
    default="127.0.0.1:8080",
    show_default=True,
    metavar="HOST:PORT",
    help="HTTP: the map, the REST API, /health, /metrics (port 0: any free one).",
)
@click.option(
    "--ws-listen",
    default="127.0.0.1:8081",
    show_default=True,
    metavar="HOST:PORT",
    help="WebSocket live updates (the map connects to it).",
)
@click.option(
    "--speed",
    type=click.FloatRange(min=0, min_open=True, max=1000),
    default=1.0,
    show_default=True,
    metavar="X",
    help="Replay time scale (10: the ten-minute capture plays in one minute).",
)
@click.option(
    "--capture",
    default=DEFAULT_CAPTURE,
    show_default=True,
    metavar="CAPTURE",
    help="A capture file, or the name of a bundled one (see `fanet simulate` to make one).",
)
@click.option(
    "--tiles-url",
    metavar="URL",
    help="Map tiles ({z}/{x}/{y} template; empty: a plain background, no internet needed). "
    "[default: OpenStreetMap]",
)
@click.option("-v", "--verbose", is_flag=True, help="Log debug lines too.")
def demo(
    listen: str, ws_listen: str, speed: float, capture: str, tiles_url: str | None, verbose: bool
) -> None:
    """Run the server on a replayed capture and show it on the live map.

    The bundled capture (five paraglider pilots, a weather station and a distress call, received by one
    module over ten minutes) is replayed in a loop through the same path a module's frames take; the
    live world is kept in memory, no broker or Redis is needed. Open the URL it prints; Ctrl-C stops it.
    A bad option exits 2.
    """
    try:
        from fanet.logs import configure_logging  # noqa: PLC0415
        from fanet.server.commands import run_served  # noqa: PLC0415
        from fanet.server.settings import ServerSettings, capture_path, parse_listen  # noqa: PLC0415
        from fanet.settings import SettingsError, load_settings  # noqa: PLC0415
    except ImportError as error:
        if error.name is None or error.name.split(".")[0] == "fanet":
            raise  # our own bug, not a missing extra
        raise click.ClickException(f"`fanet demo` needs `pip install 'fanet[server]'` ({error})") from None

    path = capture_path(capture)
    if not path.is_file():
        raise click.BadParameter(f"{capture} is neither a file nor a bundled capture", param_hint="--capture")
    try:
        # Settings not given here (the store, a broker) come from FANET_SERVER_* as for `fanet server`;
        # by default there are none: memory store, no broker.
        settings = load_settings(
            ServerSettings,
            replay=str(path),
            replay_loop=True,
            replay_speed=speed,
            listen=listen,
            ws_listen=ws_listen,
            tiles_url=tiles_url,  # None: FANET_SERVER_TILES_URL, else the default
            verbose=verbose,
        )
        config = settings.resolve()
    except SettingsError as error:
        click.echo(f"fanet demo: {error}", err=True)
        raise SystemExit(2) from None
    configure_logging(verbose=verbose)
    host, port = parse_listen(listen)
    if port:
        click.echo(f"fanet demo: the live map is at {map_url(host, port)}  (Ctrl-C stops)", err=True)
    else:
        click.echo(
            "fanet demo: the map's port is in the `http listening` line below  (Ctrl-C stops)", err=True
        )
    run_served(config, "fanet demo")


def map_url(host: str, port: int) -> str:
    """The URL a browser on this machine opens for a listener on ``host:port``."""
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/"
