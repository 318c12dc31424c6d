"""``fanet watch``: follow a region's live updates and print them as they come.

One line per update (``sequence action type id position …``), ``#`` lines for everything else; with
``--json`` the server's JSON frames exactly as received, one per line. When the server closes the
connection the command says how to resume (``--resume N``) and exits (0 for a normal or going-away close).

Like every command module, this one imports only click when ``fanet`` starts; the server extra (trio,
trio-websocket) is imported when the command runs, so ``fanet`` keeps working on a gateway install.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

import click

from fanet.proto import format_address

if TYPE_CHECKING:
    from fanet.proto import fanet_pb2 as pb


@click.command()
@click.option("--url", required=True, help="ws://host:port of the server (or the full /ws/v1/updates URL).")
@click.option("--lat", type=click.FloatRange(-90, 90), required=True, help="Centre latitude, degrees.")
@click.option("--lon", type=click.FloatRange(-180, 180), required=True, help="Centre longitude, degrees.")
@click.option(
    "--radius",
    type=click.FloatRange(1, 200),
    required=True,
    help="Radius, km (1..200, as the contract says).",
)
@click.option("--json", "as_json", is_flag=True, help="Ask for JSON frames and print them as received.")
@click.option(
    "--compact",
    is_flag=True,
    help="Ask for compact pilot updates (PilotMotion, about half the bytes); printed whole all the same.",
)
@click.option("--resume", type=click.IntRange(min=0), default=0, help="Resume after this sequence.")
@click.option("--token", help="Bearer token, if the server wants one.")
@click.option("--count", type=click.IntRange(min=1), help="Exit after this many updates.")
def watch(
    url: str,
    lat: float,
    lon: float,
    radius: float,
    as_json: bool,
    compact: bool,
    resume: int,
    token: str | None,
    count: int | None,
) -> None:
    """Print the live updates of the region around LAT/LON as they come."""
    if compact and as_json:
        raise click.UsageError("--compact is for protobuf frames: the JSON mirror has no compact form")
    import trio  # noqa: PLC0415  (server extra)

    try:
        code = trio.run(_watch, url, lat, lon, radius, as_json, compact, resume, token, count, sys.stdout)
    except KeyboardInterrupt:
        code = 0
    sys.exit(code)


async def _watch(
    url: str,
    lat: float,
    lon: float,
    radius: float,
    as_json: bool,
    compact: bool,
    resume: int,
    token: str | None,
    count: int | None,
    out: TextIO,
) -> int:
    from trio_websocket import ConnectionClosed, HandshakeError  # noqa: PLC0415  (server extra)

    from fanet.server.live.client import UpdateStream, open_updates, updates_of  # noqa: PLC0415

    stream: UpdateStream | None = None
    try:
        async with open_updates(
            url, lat, lon, radius, as_json=as_json, last_sequence=resume, token=token, compact=compact
        ) as stream:
            seen = 0
            while count is None or seen < count:
                raw, frame = await stream.receive_raw()
                print(raw if isinstance(raw, str) else describe(frame), file=out, flush=True)
                seen += len(updates_of(frame))
        return 0
    except ConnectionClosed as closed:
        reason = closed.reason
        code = reason.code if reason is not None else 1006
        text = reason.reason if reason is not None else ""
        position = stream.position if stream is not None else resume
        print(f"# closed {code} {text or ''}; resume with --resume {position}", file=sys.stderr)
        return 0 if code in (1000, 1001) else 1
    except (HandshakeError, OSError) as error:
        print(f"error: cannot connect to {url}: {error}", file=sys.stderr)
        return 1


def describe(frame: pb.ServerMessage | dict[str, Any]) -> str:
    """A protobuf frame as lines for people."""
    assert not isinstance(frame, dict)
    which = frame.WhichOneof("message")
    if which == "batch":
        return "\n".join(_describe_update(update) for update in frame.batch.updates) or "# empty batch"
    if which == "welcome":
        w = frame.welcome
        return f"# welcome: server {w.server_version}, sequence {w.sequence}, server time {w.server_time}"
    if which == "subscribe_response":
        r = frame.subscribe_response
        if not r.success:
            return f"# subscription refused: {r.error}"
        return f"# subscribed: {len(r.geohashes)} cells {' '.join(r.geohashes)}"
    if which == "error":
        return f"# error {frame.error.code}: {frame.error.message}"
    if which == "pong":
        return f"# pong {frame.pong.timestamp} server time {frame.pong.server_time}"
    return f"# {which}"


def _describe_update(update: pb.Update) -> str:
    from fanet.server.live.client import update_object  # noqa: PLC0415  (server extra)

    obj = update_object(update)
    kind = _TYPE_NAMES[update.type]
    action = _ACTION_NAMES[update.action]
    ident = obj.get("id") if kind == "thermal" else format_address(int(obj.get("addr", 0)))
    position = obj.get("position") or {}
    where = f"{position.get('latitude', 0):.5f} {position.get('longitude', 0):.5f}"
    details = _DETAILS[kind](obj)
    return f"{update.sequence} {action:<6} {kind:<7} {ident} {where} {details}".rstrip()


_TYPE_NAMES = {0: "pilot", 1: "ground", 2: "thermal", 3: "station"}
_ACTION_NAMES = {0: "ADD", 1: "UPDATE", 2: "REMOVE"}

_DETAILS: dict[str, Callable[[dict[str, Any]], str]] = {
    "pilot": lambda o: (
        f"{o['altitude']} m {o['speed']:.0f} km/h {o['climb']:+.1f} m/s {o['type'].removeprefix('PILOT_TYPE_')}"
        f" {o['name']!r}"
    ),
    "ground": lambda o: f"{str(o['type']).removeprefix('GROUND_TYPE_')} {o['name']!r}",
    "thermal": lambda o: f"{o['altitude']} m {o['climb']:+.1f} m/s quality {o['quality']}",
    "station": lambda o: f"wind {o['wind_speed']:.1f} m/s from {o['wind_heading']:.0f}° {o['name']!r}",
}
