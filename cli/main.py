"""The ``fanet`` command: one entry point, a subcommand per job.

Exit codes: 0 success, 1 failure (for example an input that did not decode), 2 usage error.

Subcommands are imported only when used, so ``fanet gateway`` starts on a Raspberry Pi that installed
``fanet[gateway]`` without the server's web stack, and a command whose extra is missing says which one
to install instead of failing with an import error.
"""

import importlib

import click

from fanet import __version__

# name → (module, attribute, the extra that provides its dependencies)
_COMMANDS: dict[str, tuple[str, str, str]] = {
    "decode": ("fanet.decode", "decode", ""),
    "demo": ("fanet.demo", "demo", "server"),
    "gateway": ("fanet.gateway.commands", "gateway", "gateway"),
    "record": ("fanet.hardware.commands", "record", "gateway"),
    "replay": ("fanet.hardware.commands", "replay", "gateway"),
    "server": ("fanet.server.commands", "server", "server"),
    "simulate": ("fanet.hardware.commands", "simulate", "gateway"),
    "watch": ("fanet.server.live.watch", "watch", "server"),
}


def _missing_extra(name: str, extra: str, error: ImportError) -> click.Command:
    def explain() -> None:
        raise click.ClickException(f"`fanet {name}` needs `pip install 'fanet[{extra}]'` ({error})")

    return click.Command(name, callback=explain, help=f"(needs fanet[{extra}])", add_help_option=False)


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in _COMMANDS:
            return None
        module_name, attribute, extra = _COMMANDS[cmd_name]
        try:
            module = importlib.import_module(module_name)
        except ImportError as error:
            if not extra or error.name is None or error.name.split(".")[0] == "fanet":
                raise
            return _missing_extra(cmd_name, extra, error)
        command = getattr(module, attribute)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fanet")
def cli() -> None:
    """Receive FANET radio traffic (paragliders, hang gliders, wind stations) and show it live."""


def main() -> None:
    cli()
