"""Reading the fields of one module line; :class:`Malformed` says which field is wrong and why.

The firmware prints numbers with ``%X`` (hex, no padding) or ``%d``; the readers accept exactly
that (no sign, prefix or spaces, which Python's ``int()`` would let through) plus zero padding.
"""

import re

_HEX = re.compile(r"[0-9A-Fa-f]{1,8}")
_DECIMAL = re.compile(r"-?[0-9]{1,10}")
_HEX_DIGITS = re.compile(r"(?:[0-9A-Fa-f]{2})*")
_HEX_ALPHABET = frozenset("0123456789ABCDEFabcdef")


class Malformed(Exception):
    """A line of a known kind that does not parse. Caught by ``parse_line``, never leaves the package."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def hex_field(name: str, text: str, maximum: int) -> int:
    if not _HEX.fullmatch(text):
        raise Malformed(f"{name}: not a hex number: {text!r}")
    value = int(text, 16)
    if value > maximum:
        raise Malformed(f"{name}: {text} is above the largest value {maximum:X}")
    return value


def decimal_field(name: str, text: str, minimum: int, maximum: int) -> int:
    if not _DECIMAL.fullmatch(text):
        raise Malformed(f"{name}: not a decimal number: {text!r}")
    value = int(text)
    if not minimum <= value <= maximum:
        raise Malformed(f"{name}: {value} is outside {minimum}..{maximum}")
    return value


def hex_bytes(name: str, text: str) -> bytes:
    """Two hex digits a byte, nothing else (``bytes.fromhex`` would also skip whitespace)."""
    if not _HEX_DIGITS.fullmatch(text):
        bad = next((c for c in text if c not in _HEX_ALPHABET), None)
        if bad is not None:
            raise Malformed(f"{name}: non-hex character {bad!r}")
        raise Malformed(f"{name}: odd number of hex digits ({len(text)})")
    return bytes.fromhex(text)


def split_fields(text: str, counts: tuple[int, ...], what: str) -> list[str]:
    """``text`` split at commas, which must give one of ``counts`` fields."""
    fields = text.split(",")
    if len(fields) not in counts:
        expected = " or ".join(str(count) for count in counts)
        raise Malformed(f"{what}: {expected} comma-separated fields expected, {len(fields)} given")
    return fields
