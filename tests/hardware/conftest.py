"""Fixtures for the hardware tests: the ``fanet`` command as users start it, and a short capture."""

import subprocess
import sys
from pathlib import Path

import pytest

FANET = Path(sys.executable).parent / "fanet"


@pytest.fixture(scope="session")
def fanet_exe() -> Path:
    """The ``fanet`` command installed beside this Python, the way users start it."""
    return FANET


@pytest.fixture(scope="session")
def short_capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three simulated minutes (one reboot, one corrupt line), made by ``fanet simulate``."""
    path = tmp_path_factory.mktemp("captures") / "short.jsonl"
    subprocess.run(
        [str(FANET), "simulate", "--minutes", "3", "--seed", "7", "--out", str(path)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return path
