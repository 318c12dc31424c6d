"""Typed settings for every ``fanet`` command, from options, environment and a TOML file.

Each component declares one pydantic-settings model (``GatewaySettings``, ``ServerSettings`` …) with an
environment prefix (``FANET_GATEWAY_``) and a TOML table (``[gateway]``). :func:`load_settings` builds
it once at start-up with this precedence: command-line options, then environment variables, then the
TOML file, then the defaults. A bad value stops start-up with a :class:`SettingsError` whose message
names the setting the way the user wrote it (option, variable and file key).
"""

import tomllib
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, TypeVar

from pydantic import ValidationError
from pydantic_settings import BaseSettings, InitSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict


class SettingsError(Exception):
    """A setting is missing or invalid; the message is meant for the person starting the program."""


class FanetSettings(BaseSettings):
    """Base for component settings: set ``env_prefix`` in ``model_config`` and ``toml_table``."""

    model_config = SettingsConfigDict(extra="forbid", frozen=True)
    toml_table: ClassVar[str] = ""

    @classmethod
    def invalid(cls, field: str, message: str, config_file: Path | None = None) -> SettingsError:
        """The error for a bad ``field``, naming it as option, variable and file key."""
        return SettingsError(
            f"invalid setting {field} ({', '.join(_names(cls, field, config_file))}): {message}"
        )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Options (passed as init kwargs) beat the environment, which beats the TOML table that
        # load_settings read (handed over in a context variable: it is not a field of the model).
        return (
            init_settings,
            env_settings,
            InitSettingsSource(settings_cls, init_kwargs=dict(_TOML_VALUES.get())),
        )


_TOML_VALUES: ContextVar[Mapping[str, Any]] = ContextVar("fanet_toml_values", default=MappingProxyType({}))

SettingsT = TypeVar("SettingsT", bound=FanetSettings)


def read_toml_table(path: Path, table: str) -> dict[str, Any]:
    """The ``[table]`` of a TOML file (a missing table is empty; a missing file is an error)."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError(f"configuration file {path} does not exist") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"configuration file {path} cannot be read: {exc}") from None
    section = document.get(table, {})
    if not isinstance(section, dict):
        raise SettingsError(f"configuration file {path}: [{table}] must be a table")
    return {key.replace("-", "_"): value for key, value in section.items()}


def load_settings(model: type[SettingsT], *, config_file: Path | None = None, **options: Any) -> SettingsT:
    """Build ``model`` once; ``options`` are command-line values (``None`` = not given)."""
    toml_values = read_toml_table(config_file, model.toml_table) if config_file is not None else {}
    given = {key: value for key, value in options.items() if value is not None}
    token = _TOML_VALUES.set(toml_values)
    try:
        return model(**given)
    except ValidationError as exc:
        raise SettingsError(_describe(model, exc, config_file)) from None
    finally:
        _TOML_VALUES.reset(token)


def _describe(model: type[FanetSettings], exc: ValidationError, config_file: Path | None) -> str:
    lines = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"]) or "settings"
        value = "" if error["type"] == "missing" else f" (got {error.get('input')!r})"
        lines.append(
            f"invalid setting {field} ({', '.join(_names(model, field, config_file))}): {error['msg']}{value}"
        )
    return "\n".join(lines)


def _names(model: type[FanetSettings], field: str, config_file: Path | None) -> list[str]:
    """How a user sets ``field``: the option, the environment variable and (if one was read) the file key."""
    prefix = str(model.model_config.get("env_prefix", ""))
    names = [f"--{field.replace('_', '-')}", f"{prefix}{field.upper()}"]
    if config_file is not None:
        names.append(f"{field} in [{model.toml_table}] of {config_file}")
    return names
