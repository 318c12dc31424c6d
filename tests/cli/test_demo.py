"""``fanet demo`` (what ``make run`` starts) as a user runs it: the installed console script, real ports."""

import subprocess
import time
from pathlib import Path

import pytest
from demo_process import FANET, DemoProcess, start_demo

CAPTURE = Path(__file__).parents[2] / "hardware" / "captures" / "simulated-10min-seed1.jsonl"
PILOTS = {0x112266, 0x1191B8, 0x07D8F2, 0x07CD62, 0x07C387}  # the capture header's five paraglider pilots
STATION = 0x011028
SNAPSHOT = "/api/v1/snapshot?lat=47.27&lon=9.05&radius=50"  # Alp Scheidegg, where the capture flies


def fanet(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([FANET, *args], capture_output=True, text=True, timeout=60, check=False)


def test_help_lists_the_demo_options() -> None:
    result = fanet("demo", "--help")
    assert result.returncode == 0
    for option in ("--listen", "--ws-listen", "--speed", "--capture", "127.0.0.1:8080", "127.0.0.1:8081"):
        assert option in result.stdout


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--listen", "nowhere"], "listen"),
        (["--ws-listen", "127.0.0.1:99999"], "ws_listen"),
        (["--speed", "0"], "--speed"),
        (["--capture", "no-such-capture.jsonl"], "--capture"),
        (["--listen", "127.0.0.1:18080", "--ws-listen", "127.0.0.1:18080"], "ws_listen"),
    ],
)
def test_a_bad_option_exits_2_naming_it(args: list[str], named: str) -> None:
    result = fanet("demo", *args)
    assert result.returncode == 2, result.stderr
    assert named in result.stderr


def test_demo_replays_the_capture_into_the_api_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    demo = start_demo(tmp_path, ("--speed", "20"))
    try:
        assert f"the live map is at http://127.0.0.1:{demo.http_port}/" in demo.log_text()
        info = demo.get_json("/api/v1/info")
        assert info["store"] == "memory"
        assert info["websocket_url"] == f"ws://127.0.0.1:{demo.ws_port}/ws/v1/updates"
        deadline = time.monotonic() + 20
        seen: set[int] = set()
        while not seen >= {*PILOTS, STATION} and time.monotonic() < deadline:
            snapshot = demo.get_json(SNAPSHOT)
            seen |= {obj["addr"] for obj in snapshot.get("pilots", []) + snapshot.get("stations", [])}
            time.sleep(0.2)
        assert seen == {*PILOTS, STATION}, demo.log_tail()
        first = {p["addr"]: p["position"] for p in snapshot["pilots"]}
        time.sleep(1.0)  # 20 s of capture: every pilot in the air has reported again
        later = {p["addr"]: p["position"] for p in demo.get_json(SNAPSHOT)["pilots"]}
        assert any(later[addr] != first[addr] for addr in first.keys() & later.keys()), "no pilot moved"
        started = time.monotonic()
        assert demo.stop() == 0, demo.log_tail()
        assert time.monotonic() - started < 6
        assert "stopped" in demo.log_text()
    finally:
        demo.kill()


def test_demo_keeps_its_pilots_across_the_loop(tmp_path: Path) -> None:
    # At 200× the ten-minute capture loops every 3 s: four loops in this test.
    with start_demo(tmp_path, ("--speed", "200", "--capture", str(CAPTURE))) as demo:
        time.sleep(12)
        assert demo.running, demo.log_tail()
        deadline = time.monotonic() + 5  # a pilot is off the map for a few reports after each jump
        on_map: set[int] = set()
        while not on_map >= PILOTS and time.monotonic() < deadline:
            snapshot = demo.get_json(SNAPSHOT)
            on_map = {obj["addr"] for obj in snapshot.get("pilots", []) + snapshot.get("ground_objects", [])}
        assert on_map >= PILOTS, demo.log_tail()
        assert "replay finished" not in demo.log_text()


def test_a_taken_port_makes_the_demo_exit_with_a_message(tmp_path: Path) -> None:
    with start_demo(tmp_path / "first") as first:
        second = DemoProcess(tmp_path / "second", http_port=first.http_port)
        result = subprocess.run(second.command, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 1
    assert "a port is already in use" in result.stderr
