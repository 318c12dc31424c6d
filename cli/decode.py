"""``fanet decode``: hex frames in, one JSON object per frame out."""

import json
import sys
from collections.abc import Iterable, Iterator
from typing import Any

import click

from fanet.proto import FrameError, decode_frame, unwrap
from fanet.proto._dict import frame_to_dict


def decode_hex(text: str, *, bare: bool) -> dict[str, Any]:
    """One input line → the JSON object to print (``{"error": …}`` when it does not decode)."""
    compact = "".join(text.split())
    if compact[:2].lower() == "0x":
        compact = compact[2:]
    try:
        data = bytes.fromhex(compact)
    except ValueError:
        return {"error": f"not hex: {text.strip()[:80]!r}"}
    try:
        if bare:
            return frame_to_dict(decode_frame(data))
        wrapped = unwrap(data)
        return frame_to_dict(decode_frame(wrapped.raw), wrapped)
    except FrameError as exc:
        return {"error": str(exc)}


def _inputs(hex_frames: tuple[str, ...], stdin: Iterable[str]) -> Iterator[str]:
    if hex_frames:
        yield from hex_frames
        return
    for line in stdin:
        if line.strip():
            yield line


@click.command()
@click.argument("hex_frames", nargs=-1, metavar="[HEX]...")
@click.option(
    "--bare", is_flag=True, help="The input is a raw FANET frame, without the base-station wrapper."
)
def decode(hex_frames: tuple[str, ...], bare: bool) -> None:
    """Decode FANET frames given as hex and print one JSON object per frame.

    By default each input is a wrapped frame as base stations publish it on MQTT (u32 unix time,
    i16 RSSI, i16 SNR, raw frame; all little endian). With no HEX argument, frames are read from
    standard input, one per line. A frame that does not decode prints {"error": "..."}; the command
    goes on and exits with status 1.
    """
    failed = False
    for text in _inputs(hex_frames, sys.stdin):
        result = decode_hex(text, bare=bare)
        failed = failed or "error" in result
        click.echo(json.dumps(result, ensure_ascii=False))
    sys.exit(1 if failed else 0)
