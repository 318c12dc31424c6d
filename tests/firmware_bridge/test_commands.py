"""Commands: the bytes are exactly what the firmware's parser expects; what it would refuse raises."""

from collections.abc import Callable

import pytest

from fanet.firmware_bridge import MAX_COMMAND_LENGTH, BridgeError, ModuleConnection


def sent(command: Callable[[ModuleConnection], None]) -> bytes:
    conn = ModuleConnection()
    command(conn)
    return conn.data_to_send()


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (lambda c: c.request_version(), b"#DGV\n"),
        (lambda c: c.request_address(), b"#FNA\n"),
        (lambda c: c.request_radio_power(), b"#DGP\n"),
        (lambda c: c.request_zone(), b"#FNZ\n"),
        (lambda c: c.set_region(14), b"#DGL 868,14\n"),
        (lambda c: c.set_region(2, frequency_mhz=915), b"#DGL 915,2\n"),
        (lambda c: c.set_config(1, online=True), b"#FNC 1,1\n"),
        (lambda c: c.set_config(7, online=False, ground=12), b"#FNC 7,0,C\n"),
        (lambda c: c.set_ground_mode(True), b"#FNM 1\n"),
        (lambda c: c.set_ground_mode(False), b"#FNM 0\n"),
        (lambda c: c.set_radio_power(True), b"#DGP 1\n"),
        (lambda c: c.set_radio_power(False), b"#DGP 0\n"),
        (lambda c: c.set_promiscuous(), b"#FNP 1\n"),
        (lambda c: c.set_promiscuous(False), b"#FNP 0\n"),
        (
            lambda c: c.set_position(46.308126, 13.645671, 1024.4, 12.5, -1.3, 370.0),
            b"#FNS 46.308126,13.645671,1024.4,12.5,-1.3,10.0\n",
        ),
        (lambda c: c.set_position(-33.5, -70.25, 0), b"#FNS -33.500000,-70.250000,0.0,0.0,0.0,0.0\n"),
        (lambda c: c.transmit(2, b"Base"), b"#FNT 2,0,0,0,0,4,42617365\n"),
        (
            lambda c: c.transmit(3, b"\x00Hi", dest=0x2012F2, forward=True, ack=True),
            b"#FNT 3,20,12F2,1,1,3,004869\n",
        ),
        (lambda c: c.transmit(0x3F, b"", signature=0xDEADBEEF), b"#FNT 3F,0,0,0,0,0,,DEADBEEF\n"),
        (lambda c: c.transmit(1, bytes(range(16))), b"#FNT 1,0,0,0,0,10,000102030405060708090A0B0C0D0E0F\n"),
    ],
)
def test_command_bytes(command: Callable[[ModuleConnection], None], expected: bytes) -> None:
    assert sent(command) == expected


def test_commands_queue_in_order_and_drain_once() -> None:
    conn = ModuleConnection()
    conn.request_version()
    conn.set_radio_power(True)
    assert conn.data_to_send() == b"#DGV\n#DGP 1\n"
    assert conn.data_to_send() == b""


def test_longest_transmit_fits_the_module_line_buffer() -> None:
    line = sent(lambda c: c.transmit(0x3F, b"\xff" * 115, dest=0xFFFFFE, forward=True, ack=True))
    assert len(line) - 1 <= MAX_COMMAND_LENGTH


@pytest.mark.parametrize(
    ("command", "field"),
    [
        (lambda c: c.set_region(21), "power_dbm"),
        (lambda c: c.set_region(1), "power_dbm"),
        (lambda c: c.set_region(14, frequency_mhz=433), "frequency_mhz"),
        (lambda c: c.set_config(8, online=True), "aircraft"),
        (lambda c: c.set_config(1, online=True, ground=16), "ground"),
        (lambda c: c.set_position(91, 0, 0), "lat"),
        (lambda c: c.set_position(0, -180.5, 0), "lon"),
        (lambda c: c.set_position(0, 0, float("nan")), "altitude_m"),
        (lambda c: c.set_position(0, 0, 0, heading_deg=float("inf")), "heading_deg"),
        (lambda c: c.transmit(64, b""), "frame_type"),
        (lambda c: c.transmit(1, b"\x00" * 128), "payload"),
        (lambda c: c.transmit(1, b"", dest=0), "dest"),
        (lambda c: c.transmit(1, b"", dest=1 << 24), "dest"),
        (lambda c: c.transmit(1, b"", signature=1 << 32), "signature"),
        (lambda c: c.transmit(1, b"\x00" * 127, signature=0xFFFFFFFF), "command"),
    ],
)
def test_what_the_firmware_would_refuse_raises_bridge_error(
    command: Callable[[ModuleConnection], None], field: str
) -> None:
    conn = ModuleConnection()
    with pytest.raises(BridgeError) as raised:
        command(conn)
    assert raised.value.field == field
    assert conn.data_to_send() == b""
