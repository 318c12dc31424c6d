"""The Raspberry Pi deployment files say what the README promises, in syntax their tools accept."""

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

PI = Path(__file__).parents[2] / "hardware" / "pi"
UDEV_KEY = re.compile(r'(\w+(?:\{[\w.]+\})?)\s*(==|!=|\+=|-=|:=|=)\s*"([^"]*)"')


def unit_settings() -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in (PI / "fanet-gateway.service").read_text().splitlines():
        if line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            settings.setdefault(key, []).append(value)
    return settings


def test_unit_runs_the_gateway_with_its_config_and_restarts_it() -> None:
    settings = unit_settings()
    assert settings["ExecStart"] == ["/usr/local/bin/fanet gateway --config /etc/fanet/gateway.toml"]
    assert settings["EnvironmentFile"] == ["/etc/fanet/gateway.env"]
    assert settings["Restart"] == ["always"]
    assert settings["SupplementaryGroups"] == ["dialout"]


def test_unit_expects_readiness_and_watchdog_pings_from_the_gateway_itself() -> None:
    settings = unit_settings()
    # The gateway sends READY=1 and WATCHDOG=1 (tests/gateway/test_gateway_process.py checks it does);
    # `fanet` is the main process (a console script, no wrapper), so only it needs to be heard.
    assert settings["Type"] == ["notify"]
    assert settings["NotifyAccess"] == ["main"]
    assert settings["WatchdogSec"] == ["30"]


def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    unit = tmp_path / "fanet-gateway.service"
    shutil.copy(PI / "fanet-gateway.service", unit)
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], check=False, capture_output=True, text=True, timeout=60
    )
    complaints = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if line.strip() and "is not executable" not in line  # fanet is not installed in /usr/local/bin here
    ]
    assert complaints == []


def test_udev_rule_names_the_common_usb_serial_chips() -> None:
    rules = [
        line for line in (PI / "99-fanet.rules").read_text().splitlines() if line and not line.startswith("#")
    ]
    found = set()
    for rule in rules:
        pairs = UDEV_KEY.findall(rule)
        # Nothing but key-operator-"value" pairs, comma-separated:
        assert ", ".join(f'{key}{op}"{value}"' for key, op, value in pairs) == rule
        keys = {key: value for key, _, value in pairs}
        assert keys["SUBSYSTEM"] == "tty"
        assert keys["SYMLINK"] == "fanet"
        assert keys["GROUP"] == "dialout"
        found.add((keys["ATTRS{idVendor}"], keys["ATTRS{idProduct}"]))
    assert found == {("10c4", "ea60"), ("1a86", "7523"), ("0403", "6001")}


def test_config_example_is_toml_with_the_gateway_table() -> None:
    assert tomllib.loads((PI / "gateway.toml").read_text()) == {"gateway": {}}


def test_readme_covers_every_file() -> None:
    readme = (PI / "README.md").read_text()
    for path in PI.iterdir():
        if path.name != "README.md":
            assert path.name in readme
    for step in ("apt install", "pipx install 'fanet[gateway]'", "uv venv", "systemctl enable", "journalctl"):
        assert step in readme
