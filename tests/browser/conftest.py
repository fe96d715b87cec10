"""A real browser against the gateway in simulate mode.

Playwright for Python drives Debian's ``chromium`` (``scripts/chromium.sh``, run by ``make
test``, installs it; Playwright's own browser download is never used). The gateway runs in
simulate mode on SQLite in a thread, as ``imagegate serve --simulate`` would. Every request the
page makes to another origin is refused and recorded, and every console error is collected: a
test fails on either. Screenshots of each page are written to ``tests/artifacts/screenshots/``
and the run names that folder in its summary.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, Route, sync_playwright

from app.main import create_app
from tests.conftest import MASTER_KEY, make_settings
from tests.servers import ServerThread

CHROMIUM = os.environ.get("IMAGEGATE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"
_written: list[Path] = []


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _written:
        terminalreporter.write_line(
            f"browser screenshots: {SCREENSHOTS} ({len(_written)} pages)", bold=True
        )


@dataclass
class Gateway:
    url: str
    sim: str  # base URL of the in-process simulators

    def admin(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"authorization": f"Bearer {MASTER_KEY}"}, timeout=20
        )

    def knobs(self, provider: str, **changes: object) -> None:
        resp = httpx.post(f"{self.sim}/{provider}/_sim/knobs", json=changes, timeout=5)
        assert resp.status_code == 200, resp.text


@dataclass
class Ui:
    """The shared page, and what it did that it should not have."""

    page: Page
    url: str
    console_errors: list[str] = field(default_factory=list)
    outside_requests: list[str] = field(default_factory=list)

    def shot(self, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        _written.append(path)
        return path

    def goto(self, route: str) -> None:
        self.page.goto(f"{self.url}/{route}")


@pytest.fixture(scope="module")
def ui_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    db = tmp_path_factory.mktemp("ui") / "imagegate.db"
    settings = make_settings(f"sqlite+aiosqlite:///{db}", None, rate_limit_rpm=100_000)
    app = create_app(settings, simulate=True)
    with ServerThread(app) as server:
        yield Gateway(server.url, app.state.ig.adapters.sim_base)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(
            f"the browser tests need Chromium at {CHROMIUM}: run scripts/chromium.sh "
            "(make test does), or point IMAGEGATE_CHROMIUM at a Chromium binary"
        )
    pw: Playwright
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def ui(browser: Browser, ui_gateway: Gateway) -> Iterator[Ui]:
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
    context = browser.new_context(viewport={"width": 1366, "height": 900}, accept_downloads=True)
    context.set_default_timeout(20_000)
    page = context.new_page()
    state = Ui(page, ui_gateway.url)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            state.console_errors.append(f"{message.text} ({page.url})")

    def guard(route: Route) -> None:
        if route.request.url.startswith(ui_gateway.url):
            route.continue_()
        else:
            state.outside_requests.append(route.request.url)
            route.abort()

    page.on("console", on_console)
    page.on("pageerror", lambda exc: state.console_errors.append(f"uncaught: {exc}"))
    context.route("**/*", guard)
    yield state
    context.close()


@pytest.fixture(autouse=True)
def _clean_page(ui: Ui) -> Iterator[None]:
    yield
    assert ui.console_errors == [], ui.console_errors
    assert ui.outside_requests == [], ui.outside_requests
