"""``bench/ws_load.py`` at a tiny size: the real server, broker, client processes and baseline, end to end.

The figures of so small a run mean nothing; what is checked is that every phase ran and that each figure
it reports is of a sane kind (clients connected, frames received, delays matched to publishes, sizes).
"""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "ws_load.py"

pytestmark = pytest.mark.integration


def test_ws_load_bench_runs_and_reports_sane_figures(tmp_path: Path) -> None:
    out = tmp_path / "ws.json"
    command = [
        sys.executable, str(BENCH), "--clients", "50", "--per-process", "25", "--duration", "3",
        "--rate", "200", "--pilots", "100", "--sites", "4", "--radius-km", "3-10", "--intervals", "0",
        "--warmup", "2.5", "--idle-s", "1", "--settle", "0.5", "--probe-every", "2", "--bare-rate", "10",
        "--json", str(out),
    ]  # fmt: skip
    run = subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "CPU per client batch" in run.stdout

    report = json.loads(out.read_text())
    fanet, bare = report["phases"]
    for phase in (fanet, bare):
        assert phase["clients_connected"] == 50, phase["first_error"]
        assert phase["clients_failed"] == 0
        assert phase["frames"] > 0
        assert phase["rss_connected_mb"] > phase["rss_idle_mb"] > 10
        assert phase["gross_cpu_per_frame_us"] > 0
        assert 0 <= phase["delay_ms"]["p50"] <= phase["delay_ms"]["p95"] <= phase["delay_ms"]["p99"]
    assert fanet["delay_samples"] > 20
    assert fanet["unmatched_receipts"] <= fanet["delay_samples"] * 0.01
    assert fanet["delay_ms"]["p50"] < 5000  # matched to the right publish, not one 0.5 s (a report) off
    assert fanet["publish_rate"] == pytest.approx(200, rel=0.2)
    # The clients ask for compact updates: a pilot's move is a PilotMotion of whole small units in its
    # Update envelope, the issue's ≤ 40 bytes; and a batch frame holds at least one.
    assert 20 < fanet["pilot_update_bytes_median"] <= 40
    assert fanet["updates_per_frame"] >= 1
    assert bare["delay_samples"] > 0
    assert not math.isnan(
        report["ratios"]["fanet, interval 0 s, compact"]["cpu_per_client_batch_to_bare_send"]
    )
