"""Headless Chromium for the page's tests: Debian's /usr/bin/chromium driven by Playwright.

Playwright's own browser download is never used: `executable_path` points at the system
Chromium, which `scripts/ensure_chromium.sh` (run by `make test`) installs when it is missing.
The page's server runs in a thread of the test process on 127.0.0.1 with a fresh token.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from perphedge.cli.wiring import Adapters
from perphedge.web.server import Server

CHROMIUM = Path(os.environ.get("PERPHEDGE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WIDTHS = (1280, 390)
SCREENSHOTS_ENV = "PERPHEDGE_SCREENSHOTS"  # a folder: keep the screenshots there


@dataclass
class Tab:
    """A page with every console error and uncaught exception it produced."""

    page: Page
    origin: str
    errors: list[str] = field(default_factory=list)

    def go(self, path: str) -> None:
        answer = self.page.goto(self.origin + path)
        assert answer is not None and answer.status == 200, (path, answer and answer.status)
        self.page.wait_for_load_state("networkidle")


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    running = Server.open(0, Adapters())  # the real adapters: the bundled store, the clock
    running.start_in_thread()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure_chromium.sh (make test does)")
    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def open_tab(browser: Browser, server: Server, width: int = 1280) -> Tab:
    """A fresh browser context that entered through the printed address (token -> cookie)."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.set_default_timeout(8000)
    tab = Tab(page, server.launch.origin)

    def console(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            tab.errors.append(f"{message.type}: {message.text}")

    page.on("console", console)
    page.on("pageerror", lambda error: tab.errors.append(f"uncaught: {error}"))
    answer = page.goto(server.launch.url)
    assert answer is not None and answer.status == 200
    assert "token" not in page.url  # the redirect dropped it from the address bar
    return tab


def screenshot_folder(tmp_path: Path) -> Path:
    folder = Path(os.environ.get(SCREENSHOTS_ENV, "") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder
