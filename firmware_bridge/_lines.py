"""Bytes from the port → line texts and noise, whatever way the bytes were split.

A line ends at ``\\n`` (one ``\\r`` before it is dropped). Within a line, every module line starts
with ``#`` or ``$`` followed by an upper-case letter, and no module line contains that pair
elsewhere, so each such pair starts a new line: bytes before the first are noise (the bootloader's
``C`` characters), and a line cut short by a reset is followed by the module's next line instead of
swallowing it. Decisions depend only on the bytes, never on how they were split, so any split of a
stream gives the same items.
"""

import re
from itertools import pairwise

from fanet.firmware_bridge._events import LineTooLong, Noise

MAX_LINE_LENGTH = 600
"""Default limit for one line, in bytes before the newline. The module's own input buffer is 256 bytes,
but what it prints is not bounded by that: ``#FNF`` with a 251-byte payload (the longest a LoRa frame
allows) is 532 characters, 542 with the fanet-base destination fields, and a ``$PSRFI`` sentence
for such a frame about as long."""

_HEAD = 32
_LINE_START = re.compile(rb"[#$][A-Z]")


class LineSplitter:
    """Collects bytes; :meth:`feed` returns the complete items they finish, in order.

    An item is a ``str`` (one line from its ``#``/``$``, trailing whitespace removed),
    :class:`Noise` or :class:`LineTooLong`.
    """

    def __init__(self, max_line_length: int = MAX_LINE_LENGTH) -> None:
        self._limit = max_line_length
        self._pending = bytearray()
        self._dropping = False

    def feed(self, data: bytes) -> list[str | Noise | LineTooLong]:
        items: list[str | Noise | LineTooLong] = []
        start = 0
        while True:
            newline = data.find(b"\n", start)
            end = len(data) if newline < 0 else newline
            if not self._dropping:
                self._collect(data[start:end], items)
            if newline < 0:
                return items
            if not self._dropping:
                _split_line(bytes(self._pending), items)
            self._pending.clear()
            self._dropping = False
            start = newline + 1

    def _collect(self, chunk: bytes, items: list[str | Noise | LineTooLong]) -> None:
        pending = self._pending
        size = len(pending) + len(chunk)
        # One byte over the limit is allowed while it is a "\r" that may precede the newline.
        over = size > self._limit + 1 or (size == self._limit + 1 and (chunk[-1:] or pending[-1:]) != b"\r")
        if over:
            head = bytes(pending[:_HEAD]) + chunk[: max(0, _HEAD - len(pending))]
            items.append(LineTooLong(self._limit, head))
            pending.clear()
            self._dropping = True
        else:
            pending += chunk


def _split_line(line: bytes, items: list[str | Noise | LineTooLong]) -> None:
    if line.endswith(b"\r"):
        line = line[:-1]
    starts = [match.start() for match in _LINE_START.finditer(line)]
    first = starts[0] if starts else len(line)
    if first:
        items.append(Noise(line[:first]))
    for begin, end in pairwise([*starts, len(line)]):
        items.append(line[begin:end].decode("ascii", errors="replace").rstrip())
