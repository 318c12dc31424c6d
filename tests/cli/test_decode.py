"""``fanet decode`` and ``fanet --help``, run as a user runs them: the installed console script."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

FANET = str(Path(sys.executable).parent / "fanet")
DATA = Path(__file__).parent.parent / "data"
REAL = [json.loads(line) for line in (DATA / "real-frames.jsonl").read_text().splitlines()]


def fanet(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FANET, *args], input=stdin, capture_output=True, text=True, timeout=60, check=False
    )


def test_decode_arguments_print_one_json_object_each() -> None:
    result = fanet("decode", *(r["payload_hex"] for r in REAL))
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["type"] for line in lines] == [r["expected"]["type"] for r in REAL]
    assert lines[0]["address"] == "110B90"
    assert lines[0]["rssi"] == -120


def test_decode_reads_stdin_and_goes_on_after_a_bad_line() -> None:
    stdin = f"{REAL[1]['payload_hex']}\nnot-hex\n\n0011\n{REAL[3]['payload_hex']}\n"
    result = fanet("decode", stdin=stdin)
    assert result.returncode == 1
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 4
    assert lines[0]["name"] == "SkyNet: Matajur"
    assert "not hex" in lines[1]["error"]
    assert "wrapper at byte 0" in lines[2]["error"]
    assert lines[3]["ground_type"] == 9


def test_bare_frames_have_no_wrapper_keys() -> None:
    result = fanet("decode", "--bare", "0711900b49af411dc20991")
    assert result.returncode == 0
    decoded = json.loads(result.stdout)
    assert "timestamp" not in decoded
    assert decoded["lat"] == pytest.approx(46.184934, abs=1e-5)


def test_unknown_signal_prints_null() -> None:
    result = fanet("decode", "01000000" + "0080" + "0080" + "0211900b41")
    assert json.loads(result.stdout)["rssi"] is None
    assert json.loads(result.stdout)["snr"] is None


def test_usage_error_exits_2() -> None:
    result = fanet("decode", "--no-such-option")
    assert result.returncode == 2
    assert "No such option" in result.stderr


@pytest.mark.parametrize("command", [[], ["decode"], ["demo"]])
def test_help_on_every_command(command: list[str]) -> None:
    result = fanet(*command, "--help")
    assert result.returncode == 0
    assert "Usage:" in result.stdout


def test_a_command_whose_extra_is_missing_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from fanet import main

    monkeypatch.setitem(main._COMMANDS, "ghost", ("fanet_no_such_dependency_xyz", "ghost", "server"))
    result = CliRunner().invoke(main.cli, ["ghost"])
    assert result.exit_code == 1
    assert "pip install 'fanet[server]'" in result.output
