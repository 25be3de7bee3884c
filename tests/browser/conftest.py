"""Browser fixtures: the real app served by uvicorn on 127.0.0.1 and Debian's headless Chromium
driven by Playwright. Without Chromium the tests skip locally, but fail in CI (CI=true)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from townsquare.app import create_app
from townsquare.core.database import Database
from townsquare.core.settings import Settings
from townsquare.simulation import demo_city

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(database: Database, tmp_path, *, demo: bool) -> Iterator[str]:
    """The app served over real HTTP (with the demo city when `demo`); yields the base URL."""
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    settings = Settings(
        data_dir=tmp_path, database_url=database.url, base_url=base_url,
        secret_key="browser-test-secret-key",
    )
    if demo:
        with database.unit_of_work() as db:
            demo_city.ensure(db, settings=settings, seed=7)
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, database), host="127.0.0.1", port=port,
                       log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60  # start-up warms jieba, the snapshot and the index
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    yield base_url
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def live_server(database: Database, tmp_path) -> Iterator[str]:
    """The demo city served over real HTTP; yields the base URL."""
    yield from _serve(database, tmp_path, demo=True)


@pytest.fixture
def small_server(database: Database, tmp_path) -> Iterator[str]:
    """The app over real HTTP on whatever small world the test builds (no demo city: fast)."""
    yield from _serve(database, tmp_path, demo=False)


SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}


def login(page, base: str, username: str, password: str) -> None:
    """Sign in through the login form and wait to leave it."""
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("form.stack button[type=submit]")
    page.wait_for_url(re.compile(r"^(?!.*/login)"))


def screenshot(page, name: str) -> Path:
    """A full-page screenshot under var/screenshots/ (not committed), for people to look at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail("Chromium is required in CI (apt-get install chromium)")
        pytest.skip("Debian's chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield instance
        instance.close()


@pytest.fixture
def page(browser, tmp_path) -> Iterator[object]:
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def zh_page(browser, viewport: str, problems: list[str]):
    """A new zh-CN context and page at `viewport` whose console errors go to `problems`."""
    context = browser.new_context(locale="zh-CN", viewport=VIEWPORTS[viewport])
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    return context, page


def pay_with_wallet(page, *, amount: str, pin: str) -> str:
    """After a pay button was clicked: the cashier asks `amount`, the resident pays from the
    wallet with the PIN and reaches the done page; the trade number."""
    page.wait_for_url(re.compile(r"/cashier/"))
    trade_no = page.url.rstrip("/").rsplit("/", 1)[1]
    assert page.locator("#cashier-title").inner_text() == amount
    page.check("input[name=method][value=wallet]")
    page.fill("#payment-pin", pin)
    page.click("#cashier-pay")
    page.wait_for_url(f"**/cashier/{trade_no}/done")
    return trade_no


def work_repair(page, *, price: str, note: str) -> None:
    """On the phone work page of a repair: accept, on the way, start (the page never scrolls
    sideways), then done with a price and a note, leaving it awaiting payment."""
    for status in ("accepted", "on_the_way", "in_progress"):
        page.click("#repair-next")
        page.wait_for_selector(f"#repair[data-status={status}]")
    assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORTS["phone"]["width"]
    page.fill("#repair-finish input[name=price]", price)
    page.fill("#repair-finish input[name=note]", note)
    page.click("#repair-finish button[type=submit]")
    page.wait_for_selector("#repair[data-status=awaiting_payment]")
