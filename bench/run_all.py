"""``make bench``: every benchmark in one run, each printing its figure beside its own baseline.

Starts a throw-away redis-server and mosquitto (the same helpers the tests use) on free loopback
ports, runs the benchmark scripts one after the other as subprocesses, and stops the servers.
Figures are ratios against a baseline measured in the same run: these machines are shared.
"""

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).parent
sys.path.insert(0, str(BENCH.parent / "tests"))

from services import start_mosquitto, start_redis  # noqa: E402 - the tests' service helpers

# A smaller world, the memory store only.
SNAPSHOT_QUICK = ["--requests", "30", "--warmup", "3", "--seconds", "1", "--pilots", "1000", "--thermals", "100",
                  "--stations", "50"]  # fmt: skip


def run(title: str, *args: str) -> int:
    print(f"\n=== {title}", flush=True)
    return subprocess.run([sys.executable, *args], check=False).returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs (a smoke test of the benchmarks)")
    args = parser.parse_args()
    quick = args.quick
    failures = 0
    failures += run(
        "codec", str(BENCH / "codec.py"), *(["--frames", "20000", "--rounds", "2"] if quick else [])
    )
    failures += run(
        "pipeline", str(BENCH / "pipeline.py"), *(["--frames", "20000", "--rounds", "2"] if quick else [])
    )
    with tempfile.TemporaryDirectory(prefix="fanet-bench-") as tmp:
        root = Path(tmp)
        (root / "redis").mkdir()
        (root / "mqtt").mkdir()
        # Mosquitto drops QoS-1 messages for a client once max_queued_messages (default 1000) wait for it;
        # the ingest benchmark's publisher runs ahead of the server, so the broker keeps everything.
        with (
            start_redis(root / "redis") as redis_server,
            start_mosquitto(root / "mqtt", extra_config=["max_queued_messages 0"]) as broker,
        ):
            failures += run(
                "store",
                str(BENCH / "store.py"),
                "--redis",
                redis_server.url,
                *(["--batches", "40", "--rounds", "5"] if quick else []),
            )
            failures += run(
                "gateway",
                str(BENCH / "gateway.py"),
                broker.url,
                *(["--seconds", "3", "--warmup", "1"] if quick else []),
            )
            failures += run(
                "mqtt client",
                str(BENCH / "mqtt_throughput.py"),
                broker.url,
                *(["--count", "2000", "--rounds", "1"] if quick else []),
            )
            failures += run(
                "ingest (broker → server → Redis)",
                str(BENCH / "ingest.py"),
                "--mqtt",
                broker.url,
                "--redis",
                redis_server.url,
                *(["--frames", "10000", "--latency-seconds", "2"] if quick else ["--rounds", "3"]),
            )
            failures += run(
                "snapshot (REST)",
                str(BENCH / "snapshot.py"),
                *(SNAPSHOT_QUICK if quick else ["--redis", redis_server.url]),
            )
    # Its own mosquitto (max_queued_messages 0) and server processes, so it runs after the shared ones stop.
    failures += run("websocket load", str(BENCH / "ws_load.py"), *(["--quick"] if quick else []))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
