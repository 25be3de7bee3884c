"""Browser fixtures: the real app served by uvicorn on 127.0.0.1 and Debian's headless Chromium
driven by Playwright. Without Chromium the tests skip locally, but fail in CI (CI=true)."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator

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


@pytest.fixture
def live_server(database: Database, tmp_path) -> Iterator[str]:
    """The demo city served over real HTTP; yields the base URL."""
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    settings = Settings(
        data_dir=tmp_path, database_url=database.url, base_url=base_url,
        secret_key="browser-test-secret-key",
    )
    with database.unit_of_work() as db:
        demo_city.ensure(db, settings=settings, seed=7)
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, database), host="127.0.0.1", port=port,
                       log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    yield base_url
    server.should_exit = True
    thread.join(timeout=10)


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
