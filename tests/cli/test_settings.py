"""Settings precedence and the error messages a person sees."""

from pathlib import Path

import pytest
from pydantic_settings import SettingsConfigDict

from fanet.settings import FanetSettings, SettingsError, load_settings


class ExampleSettings(FanetSettings):
    model_config = SettingsConfigDict(env_prefix="FANET_EXAMPLE_", extra="forbid", frozen=True)
    toml_table = "example"

    station_id: str
    port: int = 1883
    verbose: bool = False


def test_options_beat_environment_beat_file_beat_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "fanet.toml"
    config.write_text('[example]\nstation-id = "from-file"\nport = 1000\nverbose = true\n')
    monkeypatch.setenv("FANET_EXAMPLE_PORT", "2000")
    settings = load_settings(ExampleSettings, config_file=config, station_id="from-option", port=None)
    assert settings.station_id == "from-option"
    assert settings.port == 2000
    assert settings.verbose is True
    monkeypatch.delenv("FANET_EXAMPLE_PORT")
    assert load_settings(ExampleSettings, station_id="x").port == 1883


def test_bad_value_names_option_variable_and_file_key(tmp_path: Path) -> None:
    config = tmp_path / "fanet.toml"
    config.write_text('[example]\nstation_id = "a"\nport = "many"\n')
    with pytest.raises(SettingsError) as info:
        load_settings(ExampleSettings, config_file=config)
    message = str(info.value)
    assert "invalid setting port" in message
    assert "--port" in message
    assert "FANET_EXAMPLE_PORT" in message
    assert "[example]" in message
    assert "'many'" in message


def test_missing_setting_and_unknown_key() -> None:
    with pytest.raises(SettingsError, match=r"invalid setting station_id .*Field required"):
        load_settings(ExampleSettings)


def test_unknown_key_in_file_is_an_error(tmp_path: Path) -> None:
    config = tmp_path / "fanet.toml"
    config.write_text('[example]\nstation_id = "a"\nprot = 1\n')
    with pytest.raises(SettingsError, match="prot"):
        load_settings(ExampleSettings, config_file=config)


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(ExampleSettings, config_file=tmp_path / "nope.toml", station_id="a")
    broken = tmp_path / "broken.toml"
    broken.write_text("[example\n")
    with pytest.raises(SettingsError, match="cannot be read"):
        load_settings(ExampleSettings, config_file=broken, station_id="a")
