"""IGC flight logs → fixes: the B records of a logger's file as numbers, for the simulator.

Only what the simulator needs is read: the date (``HFDTE``), the extension layout (``I`` record, for
the extra position digits ``LAD``/``LOD``) and the fixes (``B`` records). Fixes flagged ``V`` (no 3D
GNSS fix) and fixes whose time does not advance (some loggers repeat a second) are left out; a time
that jumps back by more than twelve hours is taken to be the next day.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime

_DATE = re.compile(r"HFDTE(?:DATE:)?(\d{2})(\d{2})(\d{2})")
_GLIDER = re.compile(r"HFGTYGLIDERTYPE:(.*)")
_B_RECORD = re.compile(r"B(\d{2})(\d{2})(\d{2})(\d{2})(\d{5})([NS])(\d{3})(\d{5})([EW])([AV])(\d{5})(\d{5})")
_HALF_DAY_S = 12 * 3600


class IgcError(ValueError):
    """A file that is not an IGC log the simulator can use; says which line and why."""

    def __init__(self, source: str, line: int, reason: str) -> None:
        super().__init__(f"{source}:{line}: {reason}")
        self.source = source
        self.line = line
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Fix:
    time: float
    """Unix time, seconds (UTC)."""
    lat: float
    lon: float
    altitude_m: float
    """GNSS altitude; the pressure altitude where the logger recorded none."""


@dataclass(frozen=True, slots=True)
class Flight:
    name: str
    """Where it came from (the file's stem)."""
    glider: str | None
    fixes: tuple[Fix, ...]


def parse_igc(text: str, name: str = "igc") -> Flight:
    """The fixes of one IGC file, in time order. Raises :class:`IgcError` without a date or fixes."""
    day: datetime | None = None
    glider: str | None = None
    extra_digits: dict[str, tuple[int, int]] = {}
    fixes: list[Fix] = []
    offset_s = 0
    last_second = -1
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("B"):
            if day is None:
                raise IgcError(name, number, "a fix (B record) before the date (HFDTE)")
            match = _B_RECORD.match(line)
            if match is None:
                raise IgcError(name, number, f"not a B record: {line[:40]!r}")
            second = int(match[1]) * 3600 + int(match[2]) * 60 + int(match[3])
            if second + offset_s < last_second - _HALF_DAY_S:
                offset_s += 24 * 3600
            second += offset_s
            if match[10] != "A" or second <= last_second:
                continue
            last_second = second
            fixes.append(_fix(match, line, day.timestamp() + second, extra_digits))
        elif line.startswith("I"):
            extra_digits = _extensions(line)
        elif day is None and (date := _DATE.match(line)):
            dd, mm, yy = (int(part) for part in date.groups())
            day = datetime(2000 + yy, mm, dd, tzinfo=UTC)
        elif glider is None and (glider_match := _GLIDER.match(line)):
            glider = " ".join(glider_match[1].split()) or None
    if not fixes:
        raise IgcError(name, 0, "no valid fixes (B records)")
    return Flight(name, glider, tuple(fixes))


def _extensions(line: str) -> dict[str, tuple[int, int]]:
    """``I`` record: ``NN`` then ``SSFFCCC`` (start and finish byte, 1-based, and a three-letter code)."""
    count = int(line[1:3]) if line[1:3].isdigit() else 0
    found = {}
    for index in range(count):
        group = line[3 + 7 * index : 10 + 7 * index]
        if len(group) == 7 and group[:4].isdigit():
            found[group[4:]] = (int(group[:2]) - 1, int(group[2:4]))
    return found


def _fix(match: re.Match[str], line: str, time: float, extra: dict[str, tuple[int, int]]) -> Fix:
    lat = int(match[4]) + (int(match[5]) + _digit(line, extra.get("LAD"))) / 60000
    lon = int(match[7]) + (int(match[8]) + _digit(line, extra.get("LOD"))) / 60000
    pressure_m, gnss_m = int(match[11]), int(match[12])
    return Fix(
        time=time,
        lat=-lat if match[6] == "S" else lat,
        lon=-lon if match[9] == "W" else lon,
        altitude_m=float(gnss_m or pressure_m),
    )


def _digit(line: str, span: tuple[int, int] | None) -> float:
    """An extension's extra decimal digit of the minutes (thousandths → ten-thousandths), as thousandths."""
    if span is None:
        return 0.0
    text = line[span[0] : span[1]]
    return int(text) / 10 ** len(text) if text.isdigit() else 0.0
