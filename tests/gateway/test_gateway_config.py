"""``fanet gateway``'s configuration and its pure parts: settings, station id, the beacon's exchange."""

import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest

from fanet.firmware_bridge import InitSettings, ModuleConnection, ModuleState
from fanet.gateway.beacon import Beacon, BeaconFailed, BeaconOutcome, BeaconSent, BeaconSettings
from fanet.gateway.commands import gateway
from fanet.gateway.settings import GatewaySettings, default_spool_dir, parse_listen
from fanet.gateway.station_id import detect_station_id
from fanet.hardware import EmulatorSettings, ModuleEmulator, parse_command
from fanet.hardware._host_commands import Transmit
from fanet.proto import Service, decode_frame, encode_header
from fanet.settings import SettingsError, load_settings

FANET = Path(sys.executable).parent / "fanet"
REQUIRED: dict[str, Any] = {"serial": "/dev/fanet", "mqtt": "mqtt://broker.example"}


def run_fanet(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(FANET), *args], check=False, capture_output=True, text=True, timeout=30, env=env
    )


# --- the command line, as users start it ------------------------------------------------------------


def test_help_lists_the_settings() -> None:
    result = run_fanet("gateway", "--help")
    assert result.returncode == 0
    assert "Usage: fanet gateway" in result.stdout
    for option in ("--serial PORT", "--mqtt URL", "--station-id ID", "--config FILE", "--spool-dir"):
        assert option in result.stdout


def test_bad_settings_exit_2_naming_the_setting_and_never_the_password(tmp_path: Path) -> None:
    missing = run_fanet("gateway", "--serial", "/dev/fanet")
    assert missing.returncode == 2
    assert "invalid setting mqtt (--mqtt, FANET_GATEWAY_MQTT)" in missing.stderr

    config = tmp_path / "gateway.toml"
    config.write_text('[gateway]\nserial = "/dev/fanet"\npower-dbm = 99\n')
    env = {"PATH": "/usr/bin:/bin", "FANET_GATEWAY_MQTT": "mqtt://gw:s3cret@broker.example:port"}
    bad_url = run_fanet("gateway", "--config", str(config), env=env)
    assert bad_url.returncode == 2
    assert "power_dbm" in bad_url.stderr and f"[gateway] of {config}" in bad_url.stderr
    assert "99" in bad_url.stderr

    config.write_text('[gateway]\nserial = "/dev/fanet"\n')
    bad_url = run_fanet("gateway", "--config", str(config), env=env)
    assert bad_url.returncode == 2
    assert "invalid setting mqtt" in bad_url.stderr and "FANET_GATEWAY_MQTT" in bad_url.stderr
    assert "s3cret" not in bad_url.stderr


# --- settings -------------------------------------------------------------------------------------------


def test_every_setting_has_an_option_and_help_shows_the_models_default() -> None:
    options = {param.name: param for param in gateway.params if isinstance(param, click.Option)}
    assert set(options) - {"config_file"} == set(GatewaySettings.model_fields)
    for name, field in GatewaySettings.model_fields.items():
        assert options[name].default is None  # unset options leave the environment and file their say
        shown = (options[name].help or "").partition("[default: ")[2].rstrip("]")
        if field.default is None or field.is_required():
            assert not shown, name
        elif isinstance(field.default, bool):
            assert shown == (name if field.default else f"no-{name}"), name
        else:
            assert shown == str(field.default), name


def test_options_beat_environment_beat_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text(
        '[gateway]\nserial = "/dev/ttyUSB0"\nmqtt = "mqtt://file"\nstation-id = "from-file"\nbaud = 9600\n'
    )
    monkeypatch.setenv("FANET_GATEWAY_STATION_ID", "from-env")
    monkeypatch.setenv("FANET_GATEWAY_BAUD", "57600")
    settings = load_settings(GatewaySettings, config_file=config, baud=38400, serial=None)
    resolved = settings.resolve(config)
    assert (resolved.station_id, resolved.module.baud, resolved.module.port) == (
        "from-env",
        38400,
        "/dev/ttyUSB0",
    )
    assert resolved.topics.frames == "fb/b/from-env/f"
    assert resolved.mqtt.client_id == "fanet-gw-from-env"
    assert resolved.mqtt.will is not None and resolved.mqtt.will.topic == "fb/b/from-env/hw"
    assert resolved.mqtt.will.retain and resolved.mqtt.will.payload == b"offline"


@pytest.mark.parametrize(
    ("options", "setting"),
    [
        ({"station_id": "has/slash"}, "station_id"),
        ({"topic_prefix": "fb/#"}, "topic_prefix"),
        ({"spool_max_mb": 0}, "spool_max_mb"),
        ({"metrics_listen": "9100"}, "metrics_listen"),
        ({"beacon_interval_s": 60}, "beacon_lat"),
        ({"beacon_interval_s": 60, "beacon_lat": 46.0}, "beacon_lon"),
        ({"ca_file": "/etc/ca.pem"}, "ca_file"),
        ({"mqtt": "http://broker"}, "mqtt"),
    ],
)
def test_invalid_settings_name_the_setting(options: dict[str, Any], setting: str) -> None:
    with pytest.raises(SettingsError, match=f"invalid setting {setting} .*--{setting.replace('_', '-')}"):
        load_settings(GatewaySettings, **(REQUIRED | {"station_id": "x"} | options)).resolve()


def test_beacon_and_metrics_settings_resolve() -> None:
    settings = load_settings(
        GatewaySettings,
        **REQUIRED,
        station_id="ridge",
        beacon_interval_s=300,
        beacon_lat=46.2,
        beacon_lon=13.7,
        metrics_listen="[::1]:9100",
    )
    resolved = settings.resolve()
    assert resolved.module.beacon == BeaconSettings(300, 46.2, 13.7)
    assert resolved.metrics_listen == ("::1", 9100)
    assert parse_listen("127.0.0.1:9100") == ("127.0.0.1", 9100)
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_listen("localhost:0")


def test_spool_dir_defaults_to_the_systemd_state_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STATE_DIRECTORY", "/var/lib/fanet:/var/lib/other")
    assert default_spool_dir() == Path("/var/lib/fanet/spool")
    monkeypatch.delenv("STATE_DIRECTORY")
    monkeypatch.setenv("XDG_STATE_HOME", "/home/pi/.state")
    assert default_spool_dir() == Path("/home/pi/.state/fanet/spool")


# --- the station id ---------------------------------------------------------------------------------------


def test_station_id_is_the_pi_serial_then_the_device_tree_then_the_machine_id(tmp_path: Path) -> None:
    cpuinfo, tree, machine = tmp_path / "cpuinfo", tmp_path / "serial-number", tmp_path / "machine-id"
    cpuinfo.write_text("processor\t: 0\nHardware\t: BCM2835\nSerial\t\t: 10000000A1B2C3D4\nModel\t: Pi 4\n")
    tree.write_bytes(b"feedface01\0")
    machine.write_text("0123456789abcdef0123456789abcdef\n")
    assert detect_station_id(cpuinfo, tree, machine) == ("10000000a1b2c3d4", str(cpuinfo))
    cpuinfo.write_text("processor\t: 0\nSerial\t\t: 0000000000000000\n")  # a board without one
    assert detect_station_id(cpuinfo, tree, machine) == ("feedface01", str(tree))
    tree.unlink()
    assert detect_station_id(cpuinfo, tree, machine) == ("0123456789abcdef0123456789abcdef", str(machine))
    machine.unlink()
    assert detect_station_id(cpuinfo, tree, machine) is None


# --- the beacon's exchange with a module (the hardware emulator, sans I/O) ---------------------------


class Bench:
    """A ModuleConnection and an emulated module wired back to back, on a clock the test moves."""

    def __init__(self, beacon: BeaconSettings, module: EmulatorSettings | None = None) -> None:
        self.now = 0.0
        self.module = ModuleEmulator(module)
        self.connection = ModuleConnection(InitSettings(reset=False))
        self.beacon = Beacon(beacon, self.now)
        self.outcomes: list[BeaconOutcome] = []
        self.sent: list[bytes] = []
        self.module.attach(self.now)
        self.connection.start(self.now)

    def run(self, seconds: float, step: float = 0.05) -> None:
        end = self.now + seconds
        while self.now < end:
            self.now += step
            for line in self.connection.data_to_send().splitlines(keepends=True):
                self.sent.append(line)
                self.module.receive_data(line, self.now)
            self.module.handle_timeout(self.now)
            self.connection.receive_data(self.module.data_to_send(), self.now)
            self.connection.handle_timeout(self.now)
            for event in self.connection.events():
                if (outcome := self.beacon.handle_event(event, self.connection, self.now)) is not None:
                    self.outcomes.append(outcome)
            if (outcome := self.beacon.poll(self.connection, self.now)) is not None:
                self.outcomes.append(outcome)


def test_beacon_sends_position_then_the_gateway_service_frame_every_interval() -> None:
    settings = BeaconSettings(interval_s=10.0, lat=46.2, lon=13.7, altitude_m=1000)
    bench = Bench(settings)
    bench.run(1.0)
    assert bench.connection.state is ModuleState.READY
    assert bench.outcomes == [BeaconSent()]
    commands = [line for line in bench.sent if line.startswith((b"#FNS", b"#FNT"))]
    assert [line[:4] for line in commands] == [b"#FNS", b"#FNT"]
    transmit = parse_command(commands[1].decode().strip())
    assert isinstance(transmit, Transmit) and transmit.dest is None and not transmit.ack
    frame = decode_frame(encode_header(transmit.frame_type, 0x11003F) + transmit.payload)
    assert frame.payload == Service(gateway=True, lat=frame.payload.lat, lon=frame.payload.lon)
    assert abs(frame.payload.lat - 46.2) < 1e-4 and abs(frame.payload.lon - 13.7) < 1e-4
    bench.run(9.5)
    assert bench.outcomes == [BeaconSent(), BeaconSent()]


def test_beacon_refused_by_a_module_without_address_is_reported() -> None:
    bench = Bench(BeaconSettings(interval_s=10.0, lat=46.2, lon=13.7), EmulatorSettings(address=0))
    bench.run(1.0)
    assert len(bench.outcomes) == 1
    assert isinstance(bench.outcomes[0], BeaconFailed) and "#FNS refused" in bench.outcomes[0].reason
