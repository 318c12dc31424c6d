"""The live map in a real browser (Debian's chromium), on ``fanet demo`` started as a user starts it.

The demo replays the bundled capture at 20× (``DEMO_SPEED`` in ``conftest.py``): five paraglider pilots over Alp
Scheidegg, one distress call (Sara Huber, 07CD62, four minutes into the capture), one pilot landing.
The page's test hooks are its status line (``#status`` with ``data-state``, ``data-objects`` and
``data-updated``), its markers (``.fanet-object`` with ``data-addr``, pilots with ``data-lat``/``data-lon``),
the distress list ``#alerts``, the details panel ``#details`` and the track (``path.fanet-track``).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from browser import MapPage, artifact_name, open_map
from demo_process import DemoProcess
from playwright.sync_api import Browser, Error, Page, expect

PILOTS = {"112266", "1191B8", "07D8F2", "07CD62", "07C387"}
DISTRESS = "07CD62"
PILOT = ".fanet-object.fanet-pilot"
TIMEOUT_MS = 20_000
LOOP_S = 600 / 20
"""One pass of the capture at the demo's speed; waiting this long sees every event of the capture."""


def pilot_positions(page: MapPage) -> dict[str, tuple[str, str]]:
    """``data-addr`` → (``data-lat``, ``data-lon``) of every pilot marker now."""
    result: dict[str, tuple[str, str]] = page.page.eval_on_selector_all(
        PILOT, "els => Object.fromEntries(els.map(e => [e.dataset.addr, [e.dataset.lat, e.dataset.lon]]))"
    )
    return {addr: (lat, lon) for addr, (lat, lon) in result.items()}


def wait_for_pilots(page: Page, at_least: int) -> None:
    page.wait_for_function(
        f"n => document.querySelectorAll('{PILOT}').length >= n", arg=at_least, timeout=TIMEOUT_MS
    )


def test_the_page_goes_live_and_shows_the_demo_pilots(map_page: MapPage) -> None:
    status = map_page.page.locator("#status")
    expect(status).to_have_attribute("data-state", "live", timeout=TIMEOUT_MS)
    expect(map_page.page.locator(PILOT).first).to_be_attached(timeout=TIMEOUT_MS)
    wait_for_pilots(map_page.page, 4)  # five pilots; one may have landed (a ground object then)
    markers = map_page.page.locator(".fanet-object")
    addrs: set[str] = set(markers.evaluate_all("els => els.map(e => e.dataset.addr)"))
    assert all(re.fullmatch(r"[0-9A-F]{6}", addr) for addr in addrs), addrs
    assert set(pilot_positions(map_page)) <= PILOTS
    assert addrs & PILOTS
    objects = int(status.get_attribute("data-objects") or "0")
    assert objects >= 4, objects
    assert map_page.page.locator(f"{PILOT}[data-aircraft]").count() >= 1
    assert map_page.errors() == []


def test_pilot_markers_move_as_the_replay_advances(map_page: MapPage) -> None:
    wait_for_pilots(map_page.page, 3)
    before = pilot_positions(map_page)
    updated_before = int(map_page.page.get_attribute("#status", "data-updated") or "0")
    deadline = time.monotonic() + 10
    moved: set[str] = set()
    while len(moved) < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
        now = pilot_positions(map_page)
        moved |= {addr for addr in before.keys() & now.keys() if now[addr] != before[addr]}
    assert len(moved) >= 2, f"pilots that moved in 10 s: {moved}"
    for lat, lon in pilot_positions(map_page).values():
        assert 46.5 < float(lat) < 48.0 and 8.5 < float(lon) < 9.5  # over Alp Scheidegg
    # The page asks for compact updates: moves arrive as PilotMotions (sint32 fields) and land right.
    assert map_page.page.evaluate("() => window.fanetMap.client.compactUpdates") > 0
    updated_after = int(map_page.page.get_attribute("#status", "data-updated") or "0")
    assert updated_after > updated_before > 0
    assert abs(updated_after / 1000 - time.time()) < 30  # unix ms
    assert map_page.errors() == []


def test_the_distress_call_is_listed(map_page: MapPage) -> None:
    map_page.page.wait_for_function(
        f"() => window.__fanetDistressSeen.alerts.includes('{DISTRESS}')", timeout=(LOOP_S + 15) * 1000
    )
    assert map_page.distress_seen() == {"alerts": [DISTRESS], "markers": [DISTRESS]}
    assert map_page.errors() == []


def test_clicking_a_pilot_draws_its_track_and_shows_its_details(
    map_page: MapPage, request: pytest.FixtureRequest
) -> None:
    page = map_page.page
    wait_for_pilots(page, 3)
    time.sleep(2)  # a few seconds of track for every pilot
    clicked = None
    for attempt in range(5):  # a marker can vanish between finding and clicking it (the loop restarts)
        addr = sorted(pilot_positions(map_page))[attempt % 3]
        try:
            page.locator(f'{PILOT}[data-addr="{addr}"]').click(timeout=5_000)
        except Error:  # a timeout, or the marker went away: try another
            continue
        clicked = addr
        break
    assert clicked is not None, "no pilot marker could be clicked"
    expect(page.locator("#details")).to_have_attribute("data-addr", clicked, timeout=TIMEOUT_MS)
    track = page.locator("path.fanet-track")
    expect(track.first).to_be_attached(timeout=TIMEOUT_MS)
    page.wait_for_function(
        "() => (document.querySelector('path.fanet-track').getAttribute('d') || '').match(/[LMlm]/g)?.length >= 3",
        timeout=TIMEOUT_MS,
    )  # a polyline of a few points, not an empty path
    screenshot = map_page.screenshot(f"{artifact_name(request.node.name)}-track")
    assert screenshot.stat().st_size > 10_000  # a rendered map, not a blank image
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert map_page.errors() == []


def test_the_pilot_filter_hides_and_shows_pilots(map_page: MapPage) -> None:
    page = map_page.page
    wait_for_pilots(page, 3)
    pilots = page.locator('input[type=checkbox][name=kind][value="pilots"]')
    expect(pilots).to_be_checked()
    pilots.uncheck()
    page.wait_for_function(
        f"() => [...document.querySelectorAll('{PILOT}')].every(e => e.offsetParent === null)",
        timeout=TIMEOUT_MS,
    )  # removed, or hidden
    pilots.check()
    page.wait_for_function(
        f"() => [...document.querySelectorAll('{PILOT}')].filter(e => e.offsetParent !== null).length >= 3",
        timeout=TIMEOUT_MS,
    )
    assert map_page.errors() == []


# --- the server goes away and comes back ---------------------------------------------------------


def test_the_page_reconnects_after_the_server_restarts(
    browser: Browser, own_demo: DemoProcess, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    with open_map(browser, own_demo, tmp_path, artifact_name(request.node.name)) as map_page:
        page = map_page.page
        status = page.locator("#status")
        expect(status).to_have_attribute("data-state", "live", timeout=TIMEOUT_MS)
        wait_for_pilots(page, 3)
        assert own_demo.stop() == 0, own_demo.log_tail()
        expect(status).to_have_attribute("data-state", re.compile("reconnecting|offline"), timeout=TIMEOUT_MS)
        own_demo.start()  # the same ports: what the page reconnects to
        expect(status).to_have_attribute("data-state", "live", timeout=30_000)
        # A fresh server (memory store): the pilots come back from the replay, and keep moving.
        wait_for_pilots(page, 3)
        updated = int(status.get_attribute("data-updated") or "0")
        page.wait_for_function(
            f"() => Number(document.querySelector('#status').dataset.updated) > {updated}", timeout=TIMEOUT_MS
        )
        # While the server was down the browser itself logs the refused connections; nothing else.
        down = re.compile(
            rf"WebSocket connection to 'ws://127\.0\.0\.1:{own_demo.ws_port}/"
            rf"|Failed to load resource: net::ERR_CONNECTION_REFUSED \(http://127\.0\.0\.1:{own_demo.http_port}/"
        )
        assert map_page.errors(allowed=down) == []
