"""Real frames received by base stations decode to the values recorded with them."""

import json
from pathlib import Path
from typing import Any

import pytest

from fanet.proto import decode_frame, encode_header, unwrap
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


MODULE_LINES = [json.loads(line) for line in (DATA / "module-lines.jsonl").read_text().splitlines()]


def frame_from_fnf_line(line: str) -> bytes:
    """Rebuild the raw frame from a module's ``#FNF`` line (the module bridge does this for real)."""
    manufacturer, device, broadcast, signature, frame_type, length, payload = line.removeprefix(
        "#FNF "
    ).split(",")[:7]
    body = bytes.fromhex(payload)
    assert len(body) == int(length, 16)
    signature_value = int(signature, 16) or None
    dest = None if broadcast == "1" else 0x0B0001  # "to us": any module address will do for the codec
    source = int(manufacturer, 16) << 16 | int(device, 16)
    return encode_header(int(frame_type, 16), source, dest=dest, signature=signature_value) + body


@pytest.mark.parametrize("record", [r for r in MODULE_LINES if "expected" in r], ids=lambda r: r["line"][:40])
def test_module_line_payload(record: dict[str, Any]) -> None:
    got = frame_to_dict(decode_frame(frame_from_fnf_line(record["line"])))
    assert_matches(got, record["expected"])
    assert "trailing_bytes" not in got


def test_truncated_real_landmark_decodes_what_is_there() -> None:
    (record,) = [r for r in MODULE_LINES if r.get("source", "").endswith("(landmarks)")]
    frame = decode_frame(frame_from_fnf_line(record["line"]))
    got = frame_to_dict(frame)
    assert got["type"] == 5
    landmark = got["landmark"]
    assert landmark["truncated"] is True
    assert frame.trailing == bytes.fromhex("22DC")
    assert json.dumps(got)  # printable as the decode command prints it
