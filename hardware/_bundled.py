"""The data files shipped with ``fanet.hardware``: the flights the simulator uses, the bundled captures.

They are found next to this module's real file (``Path(__file__).resolve()``): the editable install
in setuptools' strict mode links each module into a separate tree, where only declared package data
appears, while the resolved path is the source folder itself; in a wheel both are the same folder.
"""

from pathlib import Path

from fanet.hardware._igc import Flight, parse_igc

HERE = Path(__file__).resolve().parent
IGC_DIR = HERE / "igc"
CAPTURES_DIR = HERE / "captures"


def bundled_flights() -> list[Flight]:
    """The five flights of 2024-06-16, in file-name order."""
    paths = sorted(IGC_DIR.glob("*.igc"))
    if not paths:
        raise FileNotFoundError(f"no IGC files in {IGC_DIR}")
    return [parse_igc(path.read_text(encoding="ascii"), path.stem) for path in paths]


def bundled_captures() -> list[Path]:
    return sorted(CAPTURES_DIR.glob("*.jsonl"))
