"""The ``fanet`` command: one entry point, a subcommand per job.

Exit codes: 0 success, 1 failure (for example an input that did not decode), 2 usage error.
"""

import click

from fanet import __version__
from fanet.decode import decode
from fanet.demo import demo
from fanet.hardware.commands import record, replay, simulate


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fanet")
def cli() -> None:
    """Receive FANET radio traffic (paragliders, hang gliders, wind stations) and show it live."""


cli.add_command(decode)
cli.add_command(demo)
cli.add_command(record)
cli.add_command(replay)
cli.add_command(simulate)


def main() -> None:
    cli()
