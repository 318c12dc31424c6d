"""``fanet record``, ``fanet replay`` and ``fanet simulate``: hardware in the loop from the command line.

Thin: options are checked here and the work is done by ``record``, ``replay`` and ``_simulation``.
``record`` and ``replay`` need the ``gateway`` extra (trio, pyserial, structlog), so they are
imported when their command runs, not when ``fanet`` starts: ``fanet decode`` keeps working in a
core-only install.
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from fanet.hardware._bundled import CAPTURES_DIR, bundled_flights
from fanet.hardware._capture import CaptureError, CaptureWriter, read_capture
from fanet.hardware._emulator import EmulatorSettings
from fanet.hardware._simulation import simulate as simulate_capture
from fanet.proto import parse_address

F = TypeVar("F", bound=Callable[..., Any])


def _logging_options(command: F) -> F:
    command = click.option("-v", "--verbose", is_flag=True, help="Log debug lines too.")(command)
    return click.option(
        "--log-format",
        type=click.Choice(["console", "json"]),
        default="console",
        show_default=True,
        help="Log lines as key=value for people, or one JSON object a line.",
    )(command)


def _configure_logging(verbose: bool, log_format: str) -> None:
    from fanet.logs import configure_logging  # noqa: PLC0415  (structlog: gateway extra)

    configure_logging(verbose=verbose, log_format="json" if log_format == "json" else "console")


@click.command()
@click.option(
    "--serial", "port", required=True, metavar="PORT", help="The module's serial port (/dev/ttyUSB0)."
)
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="The capture file to write (JSON Lines; replaced if it exists).",
)
@click.option(
    "--duration", type=click.FloatRange(min=0, min_open=True), metavar="S", help="Stop after S seconds."
)
@click.option(
    "--link",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="PATH",
    help="Tee: present a pty at PATH for the gateway, forward both ways and record both directions.",
)
@click.option(
    "--baud", type=click.IntRange(min=1), default=115200, show_default=True, help="Line speed (8N1)."
)
@_logging_options
def record(
    port: str, out: Path, duration: float | None, link: Path | None, baud: int, verbose: bool, log_format: str
) -> None:
    """Record a FANET module's serial traffic into a capture file.

    Alone, everything the module sends is recorded. With --link the gateway opens PATH instead of
    PORT and both directions are recorded while it runs (the gateway's reset pulse cannot pass a
    pty: it falls back to asking the running module). Stops after --duration, on Ctrl-C or SIGTERM
    (exit 0), or when the port goes away (exit 1).
    """
    from fanet.hardware.record import RecordError, record_to_file  # noqa: PLC0415  (gateway extra)

    _configure_logging(verbose, log_format)
    try:
        summary = record_to_file(port, out, baud=baud, duration_s=duration, link=link)
    except RecordError as error:
        raise click.ClickException(str(error)) from None
    if summary.port_lost:
        raise SystemExit(1)


@click.command()
@click.argument("capture", metavar="CAPTURE")
@click.option(
    "--link",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="PATH",
    help="Where the serial device appears (a symbolic link to a pty), e.g. /tmp/fanet-module.",
)
@click.option(
    "--speed", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True, help="Time scale."
)
@click.option("--loop", is_flag=True, help="Start over at the end, times counting on.")
@click.option(
    "--unplug-after",
    type=click.FloatRange(min=0),
    metavar="S",
    help="Unplug the device S seconds after the start (SIGUSR1 unplugs it at any time).",
)
@click.option(
    "--unplug-for",
    type=click.FloatRange(min=0),
    default=2.0,
    show_default=True,
    metavar="S",
    help="How long an unplugged device stays away.",
)
@click.option(
    "--address",
    default="11003F",
    show_default=True,
    metavar="MMIIII",
    help="The emulated module's own FANET address (000000: none set).",
)
@_logging_options
def replay(
    capture: str,
    link: Path,
    speed: float,
    loop: bool,
    unplug_after: float | None,
    unplug_for: float,
    address: str,
    verbose: bool,
    log_format: str,
) -> None:
    """Present a capture as a FANET module on a serial device, for the gateway to open.

    The module → host bytes of CAPTURE are played with their timing (times --speed), from the
    first received frame on; host commands are answered like a module (#DGV, #FNA, #DGL, #FNC,
    #FNM, #DGP, #FNS, #FNT …). The module boots when the device is opened (it prints
    "#FNR MSG,1,initialized"), and the capture waits whenever the module waits for the host to
    switch the radio on (#DGP 1). CAPTURE is a capture file, or the file name of a capture bundled
    with fanet. Ctrl-C or SIGTERM stops it (exit 0) and removes PATH.
    """
    from fanet.hardware.replay import DeviceError, ReplayOptions, replay_capture  # noqa: PLC0415

    try:
        own_address = parse_address(address)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--address") from None
    try:
        loaded = read_capture(_capture_path(capture))
    except (CaptureError, OSError) as error:
        raise click.ClickException(str(error)) from None
    _configure_logging(verbose, log_format)
    options = ReplayOptions(
        link=link,
        speed=speed,
        loop=loop,
        unplug_after_s=unplug_after,
        unplug_for_s=unplug_for,
        emulator=EmulatorSettings(address=own_address),
    )
    try:
        replay_capture(loaded, options)
    except DeviceError as error:
        raise click.ClickException(str(error)) from None


@click.command()
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="The capture file to write.",
)
@click.option(
    "--minutes", type=click.IntRange(1, 30), default=10, show_default=True, help="Length of the capture."
)
@click.option("--seed", type=int, default=1, show_default=True, help="The same seed gives the same file.")
def simulate(out: Path, minutes: int, seed: int) -> None:
    """Write a realistic capture from five real flights flown together (2024-06-16, 1-s fixes).

    The window with the most pilots in the air is chosen. Pilots' devices send air tracking, names,
    thermals and "landed well"; a weather station sends wind and temperature; one pilot sends a
    distress call. The module prints them as #FNF lines; a gateway brings it up, it reboots once
    mid-capture, and the line shows noise, split reads and one corrupt line. The expected counts
    are in the capture's header.
    """
    capture = simulate_capture(bundled_flights(), minutes=minutes, seed=seed)
    with CaptureWriter.create(out, capture.header) as writer:
        for chunk in capture.chunks:
            writer.write(chunk)
    expected = capture.header.extra["expected"]
    click.echo(
        f"{out}: {len(capture.chunks)} chunks, {expected['frames']} frames from {capture.header.created}"
    )


def _capture_path(name: str) -> Path:
    """A path as given, or a bundled capture's file name when no such file is here."""
    path = Path(name)
    if path.exists() or path.parent != Path():
        return path
    bundled = CAPTURES_DIR / name
    return bundled if bundled.exists() else path
