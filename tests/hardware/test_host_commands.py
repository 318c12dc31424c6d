"""Host command lines → typed commands, with the firmware's error codes for what it would refuse."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fanet.firmware_bridge import ReplyFamily
from fanet.hardware import parse_command
from fanet.hardware._host_commands import (
    Pps,
    Refused,
    Report,
    SetAddress,
    SetConfig,
    SetMode,
    SetRadioPower,
    SetRegion,
    SetState,
    SetZone,
    Transmit,
)


@pytest.mark.parametrize(
    ("line", "command"),
    [
        ("#DGV", Report("DGV")),
        ("#FNA", Report("FNA")),
        ("#DGP", Report("DGP")),
        ("#FNZ\r", Report("FNZ")),
        ("#FNA 11,3F", SetAddress(0x11003F)),
        ("#FNC 1,1", SetConfig(1, True, None)),
        ("#FNC 2,0,9", SetConfig(2, False, 9)),
        ("#FNM 1", SetMode(True)),
        ("#FNM 0", SetMode(False)),
        ("#FNZ 1", SetZone(1)),
        ("#DGP 1", SetRadioPower(True)),
        ("#DGP 0", SetRadioPower(False)),
        ("#DGL 868,14", SetRegion(868, 14)),
        ("#DGS", Pps()),
        (
            "#FNS 47.304000,8.943100,1200.0,0.0,0.0,90.0",
            SetState(47.304, 8.9431, 1200.0, 0.0, 0.0, 90.0),
        ),
        ("#FNS 47.3,8.9,1200,0,0,90,124,5,16,13,53,0,48.0", SetState(47.3, 8.9, 1200.0, 0.0, 0.0, 90.0)),
        ("#FNT 2,0,0,0,0,3,616263", Transmit(2, None, False, False, b"abc", None)),
        ("#FNT 3,20,12F2,1,1,2,00ab,DEADBEEF", Transmit(3, 0x2012F2, True, True, b"\x00\xab", 0xDEADBEEF)),
    ],
)
def test_commands_as_the_bridge_writes_them(line: str, command: object) -> None:
    assert parse_command(line) == command


@pytest.mark.parametrize(
    ("line", "family", "code"),
    [
        ("", "FN", 5),  # an empty line: the firmware answers every line
        ("hello", "FN", 5),
        ("#XYZ 1", "FN", 5),
        ("#BTN name", "FN", 5),  # no bluetooth in a base-station module
        ("#FNP 1", "FN", 6),  # fanet-base's promiscuous mode: unknown to stock firmware
        ("#DGX", "DG", 60),
        ("#DGJ BLstm", "DG", 61),
        ("#FNA 0,3F", "FN", 11),
        ("#FNA FE,1", "FN", 11),
        ("#FNA 11", "FN", 11),
        ("#FNC 8,1", "FN", 12),
        ("#FNC 1", "FN", 30),
        ("#FNM 2", "FN", 12),
        ("#FNZ 9", "FN", 12),
        ("#DGL 433,14", "DG", 81),
        ("#DGL 868,30", "DG", 81),
        ("#DGL 868", "DG", 80),
        ("#DGP x", "DG", 81),
        ("#FNS 47.3,8.9,1200", "FN", 30),
        ("#FNS 47.3,8.9,1200,0,0,north", "FN", 30),
        ("#FNT 2,0,0,0,0,3,61626", "FN", 30),  # payload shorter than announced
        ("#FNT 2,0,0,0,0,3", "FN", 30),
        ("#FNT 2,0,0,0,0,80," + "00" * 128, "FN", 33),
        ("#FNT 2,0,0,0,0,3,61626Z", "FN", 34),  # the firmware's integrity check: hex and commas only
        ("#FNT 40,0,0,0,0,1,00", "FN", 12),
    ],
)
def test_refused_commands_carry_the_firmware_error(line: str, family: str, code: int) -> None:
    command = parse_command(line)
    assert isinstance(command, Refused)
    assert (command.family, command.code) == (ReplyFamily(family), code)


def test_extra_payload_digits_are_ignored_like_the_firmware_does() -> None:
    assert parse_command("#FNT 2,0,0,0,0,1,4142") == Transmit(2, None, False, False, b"A", None)


@given(st.text(max_size=300))
def test_any_line_parses_to_a_command(line: str) -> None:
    parse_command(line)
    parse_command("#FNT " + line)
    parse_command("#FNS " + line)
    parse_command("#DGL " + line)
