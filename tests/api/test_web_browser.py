"""The provenance pages in a real browser: the system Chromium (Debian's ``chromium``) driven by
Playwright, against the app served by uvicorn on a loopback port inside the test.

No browser is downloaded and nothing leaves the machine: the browser runs headless with
background networking off, and every request it makes is checked to go to the test server.
Without ``/usr/bin/chromium`` these tests are skipped on a developer's machine but fail with
``CI=true`` (CI installs it). They run one at a time (one xdist group): two Chromiums at once
on a 2-core machine only slow each other down.
"""

from __future__ import annotations

import http.client
import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, sync_playwright

from api.app import create_app
from api.routes.deps import ApiSettings
from tests.api.test_web import PRODUCTS, Story, tell_story

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = pytest.mark.xdist_group("browser")


def _require_chromium() -> None:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: install Debian's chromium package"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


@dataclass
class Served:
    base: str
    story: Story


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The story's ledger behind the real app, served by uvicorn on 127.0.0.1."""
    _require_chromium()
    story = tell_story(f"sqlite:///{tmp_path_factory.mktemp('browser') / 'ledger.db'}")
    settings = ApiSettings(home=tmp_path_factory.mktemp("home"), product_names=PRODUCTS)
    app = create_app(settings, ledger=story.tc.ledger)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    # Readiness: the socket already listens, so this request waits in its backlog until the
    # server's loop accepts and answers it (no sleeping on the clock).
    probe = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    probe.request("GET", "/static/style.css")
    assert probe.getresponse().status == 200
    probe.close()
    try:
        yield Served(f"http://127.0.0.1:{port}", story)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
        story.tc.close()


@pytest.fixture(scope="module")
def browser(served: Served) -> Iterator[Browser]:
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _page(browser: Browser, *, javascript: bool = True) -> tuple[Page, list[str]]:
    context = browser.new_context(
        viewport={"width": 1200, "height": 900}, java_script_enabled=javascript
    )
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    return page, requests


def test_lot_page_in_chromium_timeline_badge_qr_and_screenshot(
    browser: Browser, served: Served
) -> None:
    page, requests = _page(browser, javascript=False)  # it must work without JavaScript
    response = page.goto(served.base + served.story.bread_path)
    assert response is not None
    assert response.status == 200
    assert page.title() == "Sourdough loaf · lot SB-0920 · FairLedger"
    assert page.locator("h1").inner_text() == "Sourdough loaf lot SB-0920"

    steps = page.locator("ol.timeline > li")
    s = served.story.seqs
    assert steps.count() == len(s)
    headings = [steps.nth(i).locator("h3 .what").inner_text() for i in range(steps.count())]
    assert headings == [
        "Lot created",
        "Packed",
        "Shipped",
        "Received",
        "Unpacked",
        "Transformed",
        "Shipped",
        "Received",
        "Transformed",
        "Shipped",
        "Received",
        "Sold",
    ]
    first, last = steps.first.inner_text(), steps.last.inner_text()
    assert "By Hillside Farm" in first
    assert "Created 1000 kg of Winter wheat lot HF-2026-07" in first
    assert f"Record seq {s['harvest']}" in first
    assert "Sold 100 units of Sourdough loaf lot SB-0920" in last
    assert f"Record seq {s['sell']}" in last

    badge = page.locator("#verification-badge")
    assert badge.inner_text() == "Verified"
    assert badge.is_visible()

    qr = page.get_by_role("img", name="QR code linking to this page", exact=False)
    assert qr.count() == 1
    natural = qr.evaluate("img => [img.complete, img.naturalWidth, img.naturalHeight]")
    assert natural[0] is True
    # Version 4 and up: at least 33 modules plus an 8-module quiet zone, at 4 px each; a
    # phone camera reads modules of 3 px and more.
    assert natural[1] == natural[2] >= (33 + 8) * 4
    box = qr.bounding_box()
    assert box is not None
    assert box["width"] >= natural[1]

    # Accessibility basics: language, landmarks, captions, alt text.
    facts = page.evaluate(
        """() => ({
            lang: document.documentElement.lang,
            main: document.querySelectorAll('main').length,
            nav: document.querySelectorAll('nav').length,
            h1: document.querySelectorAll('h1').length,
            uncaptioned: [...document.querySelectorAll('table')].filter(t => !t.caption).length,
            noAlt: [...document.querySelectorAll('img')].filter(i => !i.alt).length,
            svgLabel: document.querySelector('svg[role=img]').getAttribute('aria-labelledby'),
        })"""
    )
    assert facts == {
        "lang": "en",
        "main": 1,
        "nav": 1,
        "h1": 1,
        "uncaptioned": 0,
        "noAlt": 0,
        "svgLabel": "graph-svg-title graph-svg-desc",
    }
    assert page.locator("svg .node").count() == 5

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "provenance-page.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert all(url.startswith((served.base + "/", "data:")) for url in requests), requests
    page.context.close()


def test_search_form_finds_a_lot_and_follows_it(browser: Browser, served: Served) -> None:
    page, requests = _page(browser)
    page.goto(served.base + "/")
    form = page.locator("form.search")
    form.get_by_label("Lot code, GTIN, product or party", exact=True).fill("Valley Mill")
    with page.expect_navigation():
        form.get_by_role("button", name="Search").click()
    assert page.url == served.base + "/?q=Valley+Mill"
    results = page.locator("table.results tbody tr")
    assert results.count() == 2
    with page.expect_navigation():
        page.get_by_role("link", name="VM-0917", exact=True).click()
    assert page.url == served.base + served.story.flour.removeprefix("https://id.gs1.org")
    assert page.locator("h1").inner_text() == "Stone-ground flour lot VM-0917"
    assert page.locator("#verification-badge").inner_text() == "Verified"
    # A lot in the graph is a link to that lot's page, too.
    with page.expect_navigation():
        page.locator("svg a").filter(has_text="HF-2026-07").click()
    assert page.locator("h1").inner_text() == "Winter wheat lot HF-2026-07"
    assert all(url.startswith(served.base + "/") for url in requests), requests
    page.context.close()
