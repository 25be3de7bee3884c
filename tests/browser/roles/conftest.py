"""One demo city served once for all the role walks (building it takes ~20 s; every walk uses
its own names, so the walks do not trip over each other), and the `walk` fixture: a browser
context at one viewport that fails the test on console errors, CSP violations or sideways
scrolling, and saves a screenshot of every step."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from townsquare.core.database import Database

from ..conftest import VIEWPORTS, _serve
from .walk import Walk


@pytest.fixture(scope="session")
def demo_server(sqlite_template, tmp_path_factory) -> Iterator[tuple[str, Database]]:
    """The demo city (SQLite) over real HTTP: the base URL and its database (for setup a role
    would not do itself, and for reading what the pages must show)."""
    folder = tmp_path_factory.mktemp("roles")
    shutil.copy(sqlite_template, folder / "townsquare.db")
    # The walks check pages, not lock contention (tests/reliability does): on a loaded CI
    # machine a write right after start-up has been seen to wait past the default 5 s.
    database = Database(f"sqlite:///{folder / 'townsquare.db'}", lock_timeout_ms=20_000)
    serving = _serve(database, folder, demo=True)
    base = next(serving)
    yield base, database
    next(serving, None)
    database.dispose()


@pytest.fixture(params=list(VIEWPORTS))
def viewport(request) -> str:
    return request.param


@pytest.fixture
def walk(request, browser, demo_server, viewport) -> Iterator[Walk]:
    """A fresh signed-out browser at the viewport; the role is the test module's ROLE."""
    base, _database = demo_server
    role = request.module.ROLE
    context = browser.new_context(locale="zh-CN", viewport=VIEWPORTS[viewport])
    try:
        yield Walk(context, base, role, viewport)
    finally:
        context.close()
