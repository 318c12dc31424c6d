"""The station id a gateway publishes under when none is configured: the board's serial number.

Tried in order: the ``Serial`` line of ``/proc/cpuinfo`` (Raspberry Pi OS on every Pi), the device
tree's ``serial-number`` (newer kernels and other ARM boards), then ``/etc/machine-id`` (any systemd
machine; random per installation). All-zero serial numbers (boards that have none) are skipped.
"""

from __future__ import annotations

import re
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")
DEVICE_TREE_SERIAL = Path("/sys/firmware/devicetree/base/serial-number")
MACHINE_ID = Path("/etc/machine-id")
STATION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
"""What a station id may be: one MQTT topic level, no wildcards, printable, at most 64 characters."""

_CPUINFO_SERIAL = re.compile(r"^Serial\s*:\s*([0-9A-Fa-f]+)\s*$", re.MULTILINE)


def detect_station_id(
    cpuinfo: Path = CPUINFO, device_tree: Path = DEVICE_TREE_SERIAL, machine_id: Path = MACHINE_ID
) -> tuple[str, str] | None:
    """``(station id, where it came from)``, or ``None`` when no source has one."""
    text = _read(cpuinfo)
    match = _CPUINFO_SERIAL.search(text or "")
    if match and _usable(match.group(1)):
        return match.group(1).lower(), str(cpuinfo)
    serial = (_read(device_tree) or "").strip("\0 \n")
    if _usable(serial):
        return serial.lower(), str(device_tree)
    machine = (_read(machine_id) or "").strip()
    if _usable(machine):
        return machine.lower(), str(machine_id)
    return None


def _usable(value: str) -> bool:
    return bool(value) and value.strip("0") != "" and STATION_ID.fullmatch(value) is not None


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
