"""Real ``redis-server`` and ``mosquitto`` processes for the integration tier.

Each server runs on a free 127.0.0.1 port inside its own directory, writes everything it says to a log file in
that directory, and is only handed out once it really answers: a PING through redis-py, an MQTT CONNECT/CONNACK
through paho. ``stop()`` and ``start()`` restart it on the same port with the same data directory, so a test can
bring a broker down and back; ``kill()`` is the crash (SIGKILL) variant. A process that fails to start is
killed before the error propagates, and ``stop()`` escalates from SIGTERM to SIGKILL, so no server outlives its
handle.

The pytest fixtures in ``conftest.py`` are thin wrappers around ``start_redis``, ``start_mosquitto`` and the two
factories defined here.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import Generic, Self, TypeVar

import paho.mqtt.client as mqtt
import pytest
import redis
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from redis.backoff import NoBackoff
from redis.retry import Retry

HOST = "127.0.0.1"
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0
# How many ports to try when the one the OS just handed out is taken before the server binds it.
PORT_ATTEMPTS = 5
_POLL_INTERVAL_S = 0.02
_PROBE_TIMEOUT_S = 1.0
# Debian installs mosquitto in /usr/sbin, which is not on an unprivileged user's PATH.
_EXTRA_BIN_DIRS = ("/usr/local/sbin", "/usr/sbin", "/sbin")
_INSTALL_HINT = "install it with `apt-get install redis-server mosquitto` (or run `make test`, which does)"


class ServiceStartError(RuntimeError):
    """A server exited or stayed silent during start-up; the message ends with the tail of its log."""

    def __init__(self, message: str, *, port_in_use: bool) -> None:
        super().__init__(message)
        self.port_in_use = port_in_use


def free_port(host: str = HOST) -> int:
    """A port the OS reports free right now; another process may take it before the server binds it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_open(host: str, port: int, timeout_s: float = 0.5) -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def find_binary(name: str, package: str) -> str:
    """The path of executable ``name``; fails the test (not skips it) when the Debian package is missing."""
    search_path = os.pathsep.join([os.environ.get("PATH", ""), *_EXTRA_BIN_DIRS])
    path = shutil.which(name, path=search_path)
    if path is None:
        pytest.fail(
            f"`{name}` not found (Debian package `{package}`); the integration tests need it: {_INSTALL_HINT}",
            pytrace=False,
        )
    return path


class ServerProcess(ABC):
    """One server process bound to a fixed port and directory, which can be stopped and started again.

    ``process`` is the current (or last) ``Popen``; it stays set after ``stop()`` so a test can inspect the
    exit status. Usable as a context manager that stops the server on exit.
    """

    binary: str
    package: str

    def __init__(self, directory: Path, port: int, host: str = HOST) -> None:
        self.host = host
        self.port = port
        self.directory = directory
        self.log_path = directory / f"{self.binary}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._log_offset = 0  # where the current run's output starts in the log
        directory.mkdir(parents=True, exist_ok=True)

    @property
    @abstractmethod
    def url(self) -> str:
        """The address clients are configured with."""

    @abstractmethod
    def _command(self, executable: str) -> list[str]:
        """The command line that runs the server in the foreground."""

    @abstractmethod
    def _answers(self) -> bool:
        """One protocol-level readiness probe; False while the server cannot serve yet."""

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout_s: float = START_TIMEOUT_S) -> None:
        """Start the server on ``self.port`` and return once it answers.

        Raises ``ServiceStartError`` (``port_in_use`` tells a lost port race apart) after killing the process
        if it exits or stays silent for ``timeout_s``; any other exception, interrupts included, also kills it.
        """
        if self.running:
            raise RuntimeError(f"{self.binary} on port {self.port} is already running")
        executable = find_binary(self.binary, self.package)
        with self.log_path.open("ab") as log:
            log.write(f"--- starting {self.binary} on {self.host}:{self.port}\n".encode())
            log.flush()
            self._log_offset = log.tell()
            # The child gets its own copy of the descriptor, so ours can close right away.
            self.process = subprocess.Popen(
                self._command(executable),
                cwd=self.directory,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            self._wait_until_answering(timeout_s)
        except BaseException:
            self._terminate(timeout_s=0.0)
            raise

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """SIGTERM, wait up to ``timeout_s``, then SIGKILL; returns once the process is reaped. Idempotent."""
        self._terminate(timeout_s)

    def kill(self) -> None:
        """SIGKILL, as in a crash (no shutdown save); returns once the process is reaped."""
        self._terminate(timeout_s=0.0)

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def _terminate(self, timeout_s: float) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        if timeout_s > 0:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout_s)
                return
            except subprocess.TimeoutExpired:
                pass
        process.kill()
        process.wait()

    def _wait_until_answering(self, timeout_s: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout_s
        while True:
            answered = self._answers()
            # Checked after the probe: if we lost the port race, whoever holds the port may have answered it.
            if self.process.poll() is not None:
                with self.log_path.open("rb") as log:
                    log.seek(self._log_offset)
                    this_run = log.read().decode(errors="replace")
                raise ServiceStartError(
                    f"{self.binary} exited with status {self.process.returncode} while starting on "
                    f"{self.host}:{self.port}; log {self.log_path}:\n{this_run[-4000:]}",
                    port_in_use="Address already in use" in this_run,
                )
            if answered:
                return
            if time.monotonic() > deadline:
                raise ServiceStartError(
                    f"{self.binary} on {self.host}:{self.port} did not answer within {timeout_s} s; "
                    f"log {self.log_path}:\n{self.log_tail()}",
                    port_in_use=False,
                )
            time.sleep(_POLL_INTERVAL_S)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<{type(self).__name__} {self.url} {state} in {self.directory}>"


class RedisServer(ServerProcess):
    """A ``redis-server`` without persistence unless ``extra_args`` asks for it (e.g. ``--appendonly yes``)."""

    binary = "redis-server"
    package = "redis-server"

    def __init__(self, directory: Path, port: int, host: str = HOST, extra_args: Sequence[str] = ()) -> None:
        super().__init__(directory, port, host)
        self.extra_args = tuple(extra_args)

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def _command(self, executable: str) -> list[str]:
        return [
            executable,
            "--port", str(self.port),
            "--bind", self.host,
            "--dir", str(self.directory),
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            *self.extra_args,
        ]  # fmt: skip

    def _answers(self) -> bool:
        assert self.process is not None
        client = redis.Redis(
            host=self.host,
            port=self.port,
            socket_connect_timeout=_PROBE_TIMEOUT_S,
            socket_timeout=_PROBE_TIMEOUT_S,
            retry=Retry(NoBackoff(), retries=0),  # the caller polls; a retrying probe overshoots its deadline
        )
        try:
            # The pid proves the answer came from our process, not from whoever won a port race.
            return bool(client.ping()) and client.info("server").get("process_id") == self.process.pid
        except (redis.ConnectionError, redis.TimeoutError):
            return False
        finally:
            client.close()


class MosquittoBroker(ServerProcess):
    """A ``mosquitto`` with anonymous access and persistence in its directory (sessions survive ``stop()``).

    Mosquitto saves its database on a clean shutdown; after ``kill()`` only what the last autosave wrote
    survives (``extra_config=["autosave_interval 1"]`` narrows that window).
    """

    binary = "mosquitto"
    package = "mosquitto"

    def __init__(
        self, directory: Path, port: int, host: str = HOST, extra_config: Sequence[str] = ()
    ) -> None:
        super().__init__(directory, port, host)
        self.extra_config = tuple(extra_config)
        self.config_path = directory / "mosquitto.conf"
        self.persistence_dir = directory / "persistence"

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def _config(self) -> str:
        lines = [
            f"listener {self.port} {self.host}",
            "allow_anonymous true",
            "persistence true",
            f"persistence_location {self.persistence_dir}",
            f"log_dest file {self.log_path}",
            "log_type all",
        ]
        if os.geteuid() == 0:
            # Mosquitto 2 drops to user "mosquitto" when started as root and then cannot write our directory.
            lines.append("user root")
        lines.extend(self.extra_config)
        return "\n".join(lines) + "\n"

    def _command(self, executable: str) -> list[str]:
        self.persistence_dir.mkdir(exist_ok=True)
        self.config_path.write_text(self._config())
        return [executable, "-c", str(self.config_path)]

    def _answers(self) -> bool:
        connack = threading.Event()
        accepted: list[bool] = []

        def on_connect(
            client: mqtt.Client,
            userdata: object,
            flags: mqtt.ConnectFlags,
            reason_code: ReasonCode,
            properties: Properties | None,
        ) -> None:
            accepted.append(not reason_code.is_failure)
            connack.set()

        client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311, reconnect_on_failure=False)
        client.on_connect = on_connect
        try:
            client.connect(self.host, self.port, keepalive=10)
        except OSError:
            return False
        try:
            deadline = time.monotonic() + _PROBE_TIMEOUT_S
            while not connack.is_set() and time.monotonic() < deadline:
                if client.loop(timeout=_POLL_INTERVAL_S) != mqtt.MQTT_ERR_SUCCESS:
                    return False
            return bool(accepted and accepted[0])
        finally:
            client.disconnect()
            client.loop(timeout=_POLL_INTERVAL_S)


S = TypeVar("S", bound=ServerProcess)


def _start_on_free_port(
    make: Callable[[int], S], ports: Iterable[int] | None, timeout_s: float = START_TIMEOUT_S
) -> S:
    """Start ``make(port)`` on the first candidate port it can bind; other start-up failures propagate."""
    candidates = iter(ports) if ports is not None else (free_port() for _ in range(PORT_ATTEMPTS))
    last_error: ServiceStartError | None = None
    for port in candidates:
        server = make(port)
        try:
            server.start(timeout_s)
        except ServiceStartError as error:
            if not error.port_in_use:
                raise
            last_error = error
            continue
        return server
    raise ServiceStartError(f"every candidate port was taken; last attempt: {last_error}", port_in_use=True)


def start_redis(
    directory: Path, *, extra_args: Sequence[str] = (), ports: Iterable[int] | None = None
) -> RedisServer:
    """A running ``RedisServer`` in ``directory`` on a free port (or the first of ``ports`` it can bind)."""
    return _start_on_free_port(lambda port: RedisServer(directory, port, extra_args=extra_args), ports)


def start_mosquitto(
    directory: Path, *, extra_config: Sequence[str] = (), ports: Iterable[int] | None = None
) -> MosquittoBroker:
    """A running ``MosquittoBroker`` in ``directory`` on a free port (or the first of ``ports`` it can bind)."""
    return _start_on_free_port(
        lambda port: MosquittoBroker(directory, port, extra_config=extra_config), ports
    )


class _Factory(Generic[S]):
    """Starts fresh servers, each in its own subdirectory of ``root``, and stops them all on exit."""

    _prefix: str

    def __init__(self, root: Path) -> None:
        self.root = root
        self.started: list[S] = []

    def _next_directory(self) -> Path:
        return self.root / f"{self._prefix}-{len(self.started)}"

    def _keep(self, server: S) -> S:
        self.started.append(server)
        return server

    def stop_all(self) -> None:
        """Stop every server started here, newest first; one failing stop does not spare the others."""
        with ExitStack() as stack:
            for server in self.started:
                stack.callback(server.stop)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop_all()


class RedisFactory(_Factory[RedisServer]):
    """``factory(extra_args=...)`` starts another ``RedisServer``."""

    _prefix = "redis"

    def __call__(self, *, extra_args: Sequence[str] = ()) -> RedisServer:
        return self._keep(start_redis(self._next_directory(), extra_args=extra_args))


class MosquittoFactory(_Factory[MosquittoBroker]):
    """``factory(extra_config=...)`` starts another ``MosquittoBroker``."""

    _prefix = "mosquitto"

    def __call__(self, *, extra_config: Sequence[str] = ()) -> MosquittoBroker:
        return self._keep(start_mosquitto(self._next_directory(), extra_config=extra_config))
