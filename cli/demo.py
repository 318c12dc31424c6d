"""``fanet demo``: what ``make run`` starts. For now it decodes the bundled real frames."""

import json
from importlib.resources import files

import click

from fanet.decode import decode_hex


@click.command()
def demo() -> None:
    """Decode the real frames bundled with the package (received by base stations in the Julian Alps)."""
    sample = files("fanet") / "data" / "real-frames.jsonl"
    for line in sample.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        click.echo(f"{record['topic']}  {record['payload_hex']}")
        click.echo("  " + json.dumps(decode_hex(record["payload_hex"], bare=False), ensure_ascii=False))
