"""``fanet demo`` as a process, started the way a user starts it (the venv's console script).

The demo listens on two ports chosen here (HTTP and WebSocket), so a test can stop it and start it again
on the same ones, as a browser that reconnects expects; a lost port race (another process bound the port
between our check and the demo's bind) is retried on fresh ports. Everything it prints goes to a log file
whose tail ends every failure message. The API is synchronous, for plain test functions; async tests call
it through ``trio.to_thread``.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from services import HOST, PORT_ATTEMPTS, free_port

FANET = str(Path(sys.executable).parent / "fanet")
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
_POLL_S = 0.05


class DemoStartError(RuntimeError):
    def __init__(self, message: str, *, port_in_use: bool) -> None:
        super().__init__(message)
        self.port_in_use = port_in_use


class DemoProcess:
    """One ``fanet demo --listen HOST:<http_port> --ws-listen HOST:<ws_port> …`` at a time."""

    def __init__(
        self, directory: Path, args: tuple[str, ...] = (), *, http_port: int = 0, ws_port: int = 0
    ) -> None:
        self.directory = directory
        self.args = args
        self.http_port = http_port or free_port()
        self.ws_port = ws_port or free_port()
        self.log_path = directory / "fanet-demo.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._log_offset = 0
        directory.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.http_port}/"

    @property
    def command(self) -> list[str]:
        return [FANET, "demo", "--listen", f"{HOST}:{self.http_port}", "--ws-listen", f"{HOST}:{self.ws_port}",
                *self.args]  # fmt: skip

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout_s: float = START_TIMEOUT_S) -> None:
        """Start it and return once ``/ready`` says so; kills it and raises ``DemoStartError`` otherwise."""
        if self.running:
            raise RuntimeError("the demo is already running")
        with self.log_path.open("ab") as log:
            log.write(f"--- {' '.join(self.command)}\n".encode())
            log.flush()
            self._log_offset = log.tell()
            self.process = subprocess.Popen(self.command, cwd=self.directory, stdin=subprocess.DEVNULL,
                                            stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        try:
            self._wait_ready(timeout_s)
        except BaseException:
            self.kill()
            raise

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> int:
        """SIGINT (Ctrl-C), as a user stops it; SIGKILL after ``timeout_s``. The exit code (idempotent)."""
        process = self.process
        if process is None:
            raise RuntimeError("the demo was never started")
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.kill()
        return process.returncode

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def get(self, path: str) -> tuple[int, bytes]:
        """``GET`` on the HTTP listener: (status, body); status 0 when nothing answers."""
        request = urllib.request.Request(f"http://{HOST}:{self.http_port}{path}",
                                         headers={"Accept": "application/json"})  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()
        except OSError:
            return 0, b""

    def get_json(self, path: str) -> Any:
        status, body = self.get(path)
        assert status == 200, f"GET {path}: {status} {body[:300]!r}\n{self.log_tail()}"
        return json.loads(body)

    def log_text(self) -> str:
        """What this run printed so far."""
        with self.log_path.open("rb") as log:
            log.seek(self._log_offset)
            return log.read().decode(errors="replace")

    def log_tail(self, lines: int = 40) -> str:
        return f"log {self.log_path}:\n" + "\n".join(self.log_text().splitlines()[-lines:])

    def _wait_ready(self, timeout_s: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout_s
        while True:
            ready = self.get("/ready")[0] == 200
            if self.process.poll() is not None:
                text = self.log_text()
                raise DemoStartError(
                    f"fanet demo exited with {self.process.returncode} while starting; {self.log_tail()}",
                    port_in_use="address already in use" in text.lower(),
                )
            if ready:
                return
            if time.monotonic() > deadline:
                raise DemoStartError(f"fanet demo not ready within {timeout_s} s; {self.log_tail()}",
                                     port_in_use=False)  # fmt: skip
            time.sleep(_POLL_S)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_demo(directory: Path, args: tuple[str, ...] = ()) -> DemoProcess:
    """A ready ``DemoProcess`` on free ports (fresh ones after a lost port race)."""
    error: DemoStartError | None = None
    for _ in range(PORT_ATTEMPTS):
        demo = DemoProcess(directory, args)
        try:
            demo.start()
        except DemoStartError as failure:
            if not failure.port_in_use:
                raise
            error = failure
            continue
        return demo
    raise AssertionError(f"every port attempt was taken: {error}")
