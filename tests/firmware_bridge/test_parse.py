"""Reply and value lines: every real reply line parses to its event; unknown and broken ones are reported."""

from pathlib import Path

import pytest

from fanet.firmware_bridge import (
    Address,
    Event,
    ExtraLine,
    MalformedLine,
    ModuleBooted,
    ModuleMessage,
    RadioPower,
    Region,
    ReplyError,
    ReplyFamily,
    ReplyOk,
    TransmitAck,
    UnknownLine,
    Version,
    parse_line,
)

DATA = Path(__file__).parent.parent / "data"
FN, DG = ReplyFamily.FANET, ReplyFamily.DONGLE

EXPECTED: dict[str, Event] = {
    "#FNR OK": ReplyOk(FN),
    "#FNR MSG,1,initialized": ModuleBooted(),
    "#FNR ERR,12,incompatible type": ReplyError(FN, 12, "incompatible type"),
    "#FNR MSG,13,power down": ModuleMessage(FN, 13, "power down"),
    "#FNR ERR,14,tx buffer full": ReplyError(FN, 14, "tx buffer full"),
    "#FNR ACK,20,12F2": TransmitAck(0x2012F2, acked=True),
    "#FNR NACK,20,12F2": TransmitAck(0x2012F2, acked=False),
    "#DGR OK": ReplyOk(DG),
    "#DGR ERR,70,power switch failed": ReplyError(DG, 70, "power switch failed"),
    "#DGV build-202201131742": Version("build-202201131742"),
    "#DGV 1.06, 1722e538e": Version("1.06, 1722e538e"),
    "#FNA 11,003F": Address(0x11003F),
    "#DGP 1": RadioPower(on=True),
    "#FNZ 1,EU868": Region(1, "EU868"),
    "#FAX 125,2,1": ExtraLine("FAX", ("125", "2", "1"), "#FAX 125,2,1"),
    "#FAO 0,DF2029,2,8,47.182989,8.521088,429.0,0.0,-0.1,127.0": ExtraLine(
        "FAO",
        ("0", "DF2029", "2", "8", "47.182989", "8.521088", "429.0", "0.0", "-0.1", "127.0"),
        "#FAO 0,DF2029,2,8,47.182989,8.521088,429.0,0.0,-0.1,127.0",
    ),
}
REPLY_LINES = [line for line in (DATA / "module-replies.txt").read_text().splitlines() if line]


def test_every_recorded_reply_line_is_covered() -> None:
    assert sorted(REPLY_LINES) == sorted(EXPECTED)


@pytest.mark.parametrize("line", REPLY_LINES)
def test_recorded_reply_line_parses_to_its_event(line: str) -> None:
    assert parse_line(line) == EXPECTED[line]


def test_initialized_is_a_module_message_too() -> None:
    event = parse_line("#FNR MSG,1,initialized")
    assert isinstance(event, ModuleMessage)
    assert (event.code, event.text) == (1, "initialized")


@pytest.mark.parametrize(
    ("line", "event"),
    [
        ("#FNA 00,0000", Address(0)),
        ("#DGP 0", RadioPower(on=False)),
        ("#FNZ -1,UNSET", Region(-1, "UNSET")),
        ("#FAP 1", ExtraLine("FAP", ("1",), "#FAP 1")),
        ("#DBR", ExtraLine("DBR", (), "#DBR")),
        ("#FAR OK", ReplyOk(ReplyFamily.FLARM)),
        ("#FAR ERR,91,FLARM expired", ReplyError(ReplyFamily.FLARM, 91, "FLARM expired")),
        ("#BTR ERR,53,name too short", ReplyError(ReplyFamily.BLUETOOTH, 53, "name too short")),
        ("#FNR ERR,14", ReplyError(FN, 14, "")),
        ("#DGR MSG,5,hello, world", ModuleMessage(DG, 5, "hello, world")),
    ],
)
def test_other_firmware_lines(line: str, event: Event) -> None:
    assert parse_line(line) == event


@pytest.mark.parametrize(
    "line",
    [
        "#FNM 1",
        "#FNC 1,1,0",
        "#BTR WRN,55,reconfiguring id",
        "#XYZ 1",
        "#FNRX OK",
        "$GPGGA,1,2",
        "#DGR ACK,1,2",
    ],
)
def test_unknown_lines_are_reported_not_fatal(line: str) -> None:
    assert parse_line(line) == UnknownLine(line)


@pytest.mark.parametrize(
    ("line", "hint"),
    [
        ("#FNR OK,1", "OK"),
        ("#FNR ERR,x,bad", "code"),
        ("#FNR ERR", "code"),
        ("#FNR MSG,-1,neg", "code"),
        ("#FNR ACK,20", "fields"),
        ("#FNR ACK,20,12F2G", "id"),
        ("#DGV", "version"),
        ("#FNA 11", "fields"),
        ("#FNA 11,10000", "id"),
        ("#DGP 2", "power"),
        ("#DGP", "power"),
        ("#FNZ x,EU868", "zone"),
    ],
)
def test_broken_known_lines_say_why(line: str, hint: str) -> None:
    event = parse_line(line)
    assert isinstance(event, MalformedLine), event
    assert hint in event.reason
