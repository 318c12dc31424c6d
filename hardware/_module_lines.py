"""What a FANET module prints, byte for byte as its firmware formats it (``serial_interface.cpp``).

The inverse of ``fanet.firmware_bridge.parse_line``: the emulator answers with these lines and the
simulator writes received frames with :func:`frame_line`. Numbers in replies are ``%d``; addresses
and frame fields ``%X`` without padding, except ``#FNA``, which the firmware prints ``%02X,%04X``.
"""

from fanet.firmware_bridge import ReplyFamily

BOOTED = b"#FNR MSG,1,initialized\n"
POWER_DOWN = (ReplyFamily.FANET, 13, "power down")
"""``#FNR MSG,13,power down``: a transmit or state command while the radio is off."""


def frame_line(
    source: int, frame_type: int, payload: bytes, *, broadcast: bool = True, signature: int = 0
) -> bytes:
    """``#FNF src_m,src_id,broadcast,signature,type,length,PAYLOAD``: a frame the module received."""
    return (
        f"#FNF {source >> 16:X},{source & 0xFFFF:X},{int(broadcast)},{signature:X},{frame_type:X},"
        f"{len(payload):X},{payload.hex().upper()}\n"
    ).encode("ascii")


def ok(family: ReplyFamily) -> bytes:
    return f"#{family.value}R OK\n".encode("ascii")


def error(family: ReplyFamily, code: int, text: str) -> bytes:
    return f"#{family.value}R ERR,{code},{text}\n".encode("ascii")


def message(family: ReplyFamily, code: int, text: str) -> bytes:
    return f"#{family.value}R MSG,{code},{text}\n".encode("ascii")


def transmit_ack(dest: int, acked: bool) -> bytes:
    return f"#FNR {'ACK' if acked else 'NACK'},{dest >> 16:X},{dest & 0xFFFF:X}\n".encode("ascii")


def version(build: str) -> bytes:
    return f"#DGV {build}\n".encode("ascii")


def address(value: int) -> bytes:
    return f"#FNA {value >> 16:02X},{value & 0xFFFF:04X}\n".encode("ascii")


def value(tag: str, *fields: int | str, hex_numbers: bool = True) -> bytes:
    """A value report such as ``#DGP 1``, ``#FNM 1``, ``#FNC 1,1,9`` or ``#FNZ -1,UNSET``."""
    texts = [f"{field:X}" if hex_numbers and isinstance(field, int) else str(field) for field in fields]
    return f"#{tag} {','.join(texts)}\n".encode("ascii")
