"""A real browser for the map's tests: Debian's chromium driven by Playwright, and a page that records its console.

The browser is ``/usr/bin/chromium`` (``make test`` installs Debian's package; Playwright's own browser
download is never used, the tests need no network). A missing browser fails the tests instead of skipping
them: CI must run them. :class:`MapPage` records every console error or warning and every uncaught
exception of the page, and every object it ever listed as a distress call. Screenshots go to the test's
temporary directory and are copied to ``build/test-artifacts/`` (git-ignored) for people and CI to look at.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from demo_process import DemoProcess
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, ViewportSize

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--headless=new",
    "--no-sandbox",  # root in CI containers; the page under test is ours
    "--disable-gpu",
    "--disable-dev-shm-usage",  # containers give /dev/shm 64 MB
    "--disable-background-networking",  # no component updates, safe browsing or metrics: no network
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-sync",
    "--no-first-run",
    "--mute-audio",
)
ARTIFACTS = Path(__file__).parents[1] / "build" / "test-artifacts"
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}
DEFAULT_TIMEOUT_MS = 15_000

# The capture's distress call starts a few minutes in and is gone again when the replay loops: a
# MutationObserver notes every address ever listed, so no test depends on when it looks.
_DISTRESS_RECORDER = """
window.__fanetDistressSeen = {alerts: [], markers: []};
new MutationObserver(() => {
    const note = (list, selector) => {
        for (const el of document.querySelectorAll(selector)) {
            const addr = el.getAttribute('data-addr');
            if (!list.includes(addr)) list.push(addr);
        }
    };
    note(window.__fanetDistressSeen.alerts, '#alerts li[data-addr]');
    note(window.__fanetDistressSeen.markers, '.fanet-object.fanet-distress[data-addr]');
}).observe(document, {subtree: true, childList: true, attributes: true});
"""


def launch_chromium(playwright: Playwright) -> Browser:
    """Debian's chromium, headless; fails the test with the install line when it is missing."""
    if not Path(CHROMIUM).is_file():
        pytest.fail(
            f"{CHROMIUM} not found: the browser tests drive Debian's chromium; install it with "
            "`apt-get install chromium fonts-dejavu-core` (or run `make test`, which does)",
            pytrace=False,
        )
    return playwright.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS), timeout=60_000)


class MapPage:
    """A browser page on a demo's map, with what its console said."""

    def __init__(self, page: Page, demo: DemoProcess, screenshots: Path) -> None:
        self.page = page
        self.demo = demo
        self.screenshots = screenshots
        self.console: list[str] = []
        """``type: text (url)`` of every console error or warning, and ``pageerror: …`` for uncaught errors."""
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.console.append(f"pageerror: {error}"))
        page.add_init_script(_DISTRESS_RECORDER)

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning", "assert"):
            self.console.append(f"{message.type}: {message.text} ({message.location.get('url', '')})")

    def errors(self, allowed: re.Pattern[str] | None = None) -> list[str]:
        """Console errors, warnings and uncaught exceptions, but for lines that match ``allowed``."""
        return [line for line in self.console if allowed is None or not allowed.search(line)]

    def distress_seen(self) -> dict[str, list[str]]:
        """Addresses the page showed in a distress state since it loaded, in order: listed in
        ``#alerts`` (``alerts``) and drawn as distress markers (``markers``)."""
        seen: dict[str, list[str]] = self.page.evaluate("() => window.__fanetDistressSeen")
        return seen

    def screenshot(self, name: str) -> Path:
        """The page as ``<name>.png`` in the test's directory, copied to ``build/test-artifacts``."""
        path = self.screenshots / f"{name}.png"
        self.page.screenshot(path=path)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        return Path(shutil.copy(path, ARTIFACTS / path.name))


@contextmanager
def open_map(browser: Browser, demo: DemoProcess, screenshots: Path, name: str) -> Iterator[MapPage]:
    """A fresh browser context with the demo's map loaded; a screenshot ``<name>.png`` when it closes."""
    context = browser.new_context(viewport=VIEWPORT, service_workers="block")
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    try:
        map_page = MapPage(context.new_page(), demo, screenshots)
        map_page.page.goto(demo.url, wait_until="load")
        try:
            yield map_page
        finally:
            if not map_page.page.is_closed():
                map_page.screenshot(name)
    finally:
        context.close()


def artifact_name(node_name: str) -> str:
    """A file name from a test's name (parameters included)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", node_name)
