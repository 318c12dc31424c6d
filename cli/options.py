"""Command-line options generated from a settings model's fields, for every ``fanet`` command.

A command lists its settings as :data:`OptionSpec` tuples and decorates itself with
:func:`settings_options`: each setting becomes ``--<name with dashes>`` (a flag pair
``--<name>/--no-<name>`` for booleans) whose value is ``None`` when not given, so that
``load_settings`` can fall back to the environment, the TOML file and the model's default, in that order.
The model's default is shown in ``--help``. Click only: ``fanet --help`` never imports pydantic.
"""

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

OptionSpec = tuple[str, type | click.ParamType[Any], str | None, str | None, str]
"""(setting, option type — ``bool`` for a flag, metavar, the model's default as shown in --help, help)."""


LOG_FORMAT: OptionSpec = (
    "log_format",
    click.Choice(["console", "json"]),
    None,
    "console",
    "Log lines as key=value for people, or one JSON object a line.",
)
"""The ``log_format`` setting every long-running command has."""


def config_option(table: str, envvar: str, text: str) -> Callable[[F], F]:
    """``--config FILE`` (also ``envvar``): the TOML file whose ``[table]`` sets any option."""
    return click.option(
        "--config",
        "config_file",
        type=click.Path(dir_okay=False, path_type=Path),
        envvar=envvar,
        metavar="FILE",
        help=f"TOML file whose [{table}] table sets any option{text}",
    )


def settings_option(
    setting: str, kind: type | click.ParamType[Any], metavar: str | None, shown: str | None, text: str
) -> Callable[[F], F]:
    """``--<setting>`` (``--<setting>/--no-<setting>`` for a flag; ``-v`` for ``verbose``)."""
    name = setting.replace("_", "-")
    if shown is not None:
        text = f"{text}  [default: {shown}]"  # the model's default; the option's own is None
    if kind is bool:
        short = ("-v",) if setting == "verbose" else ()
        return click.option(f"--{name}/--no-{name}", *short, setting, default=None, help=text)
    return click.option(f"--{name}", setting, type=kind, metavar=metavar, default=None, help=text)


def settings_options(specs: Sequence[OptionSpec]) -> Callable[[F], F]:
    """A decorator adding one option per spec, in the order given (as ``--help`` lists them)."""

    def decorate(command: F) -> F:
        for spec in reversed(specs):
            command = settings_option(*spec)(command)
        return command

    return decorate
