"""Real frames received by base stations decode to the values recorded with them."""

import json
from pathlib import Path
from typing import Any

import pytest

from fanet.proto import decode_frame, unwrap
from fanet.proto._dict import frame_to_dict

DATA = Path(__file__).parent.parent / "data"
REAL_FRAMES = [json.loads(line) for line in (DATA / "real-frames.jsonl").read_text().splitlines()]


def assert_matches(got: dict[str, Any], expected: dict[str, Any]) -> None:
    for key, value in expected.items():
        assert key in got, f"{key} missing from {got}"
        if key in ("lat", "lon"):
            assert got[key] == pytest.approx(value, abs=1e-5), key
        elif isinstance(value, float):
            assert got[key] == pytest.approx(value, abs=1e-9), key
        else:
            assert got[key] == value, key


@pytest.mark.parametrize("record", REAL_FRAMES, ids=[r["topic"] for r in REAL_FRAMES])
def test_real_base_station_frame(record: dict[str, Any]) -> None:
    wrapped = unwrap(bytes.fromhex(record["payload_hex"]))
    got = frame_to_dict(decode_frame(wrapped.raw), wrapped)
    assert_matches(got, record["expected"])
    assert "trailing_bytes" not in got
    assert record["topic"].endswith(f"/{got['type']}")
