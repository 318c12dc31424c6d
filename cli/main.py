"""The ``fanet`` command: one entry point, a subcommand per job."""

import click
from fanet import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fanet")
def cli() -> None:
    """Receive FANET radio traffic and show it live."""


def main() -> None:
    cli()
