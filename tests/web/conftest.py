"""Browser fixtures: one chromium per session, one ``fanet demo`` per test module, a fresh page per test.

The helpers live in ``tests/browser.py`` (the browser, the page) and ``tests/demo_process.py`` (the demo
as a process); a test that restarts the server starts its own ``DemoProcess``.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from browser import MapPage, artifact_name, launch_chromium, open_map
from demo_process import DemoProcess, start_demo
from playwright.sync_api import Browser, sync_playwright

DEMO_SPEED = 20
"""The capture's ten minutes in 30 s: pilots report every quarter second, the distress call comes ~12 s
after the start."""


def demo_args() -> tuple[str, ...]:
    # No tiles: the tests have no network, and the plain background is the page's offline mode.
    return ("--speed", str(DEMO_SPEED), "--tiles-url", "")


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoProcess]:
    """``fanet demo`` for one test module, on free ports, at ``DEMO_SPEED``, without map tiles."""
    with start_demo(tmp_path_factory.mktemp("demo"), demo_args()) as process:
        yield process


@pytest.fixture
def map_page(
    browser: Browser, demo: DemoProcess, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[MapPage]:
    """A fresh browser context on the module's demo with the map loaded; screenshot when the test ends."""
    with open_map(browser, demo, tmp_path, artifact_name(request.node.name)) as page:
        yield page


@pytest.fixture
def own_demo(tmp_path: Path) -> Iterator[DemoProcess]:
    """A demo of the test's own (to stop and start again), on free ports that stay its own."""
    with start_demo(tmp_path / "demo", demo_args()) as process:
        yield process
