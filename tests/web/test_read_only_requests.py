"""Read-only requests never write (issue 20; the faults issue, item 2): on SQLite a GET's unit of
work begins DEFERRED, and a write in it after another connection committed fails with
SQLITE_BUSY_SNAPSHOT. Every page and JSON read endpoint each demo role reaches is requested
with the hook of `tests/read_only.py` listening; a route that records something must take a
writing unit of work (`WritingDbSession`) instead.

SQLite only: the demo city is built in the test (about a minute), and the hazard is SQLite's."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.read_only import read_only_writes
from townsquare.accounts.models import User
from townsquare.app import ROUTERS, create_app
from townsquare.simulation import demo_city

SKIP = re.compile(r"^/(go/|logout|static/|docs|redoc|openapi\.json|metrics|gateway\.do)"
                  r"|/(stream|live)$")  # (event streams do not end)
ID = re.compile(r"\b([a-z]{1,8}_[0-9a-z]{6,32})\b")
PAGES_PER_ROLE = 120
# id prefixes by path parameter (the kinds `core/ids.py` hands out)
PREFIXES = {"miniapp": "ma", "merchant": "mer", "section": "hub", "topic": "top",
            "community": "com", "provider": "isv", "version": "ver", "promise": "prm",
            "order": "ord", "conversation": "cnv", "thread": "thr", "store": "sto",
            "cycle": "cyc", "template": "tpl", "delivery": "dlv", "dispute": "dsp",
            "passage": "pas", "ticket": "rep", "person": "per"}


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value and name in ("href", "hx-get"):
                self.links.append(value)


def _get_routes(app) -> list[tuple[str, re.Pattern[str]]]:
    """(path pattern, regex) of every GET route: the app's own and its routers' (FastAPI wraps
    an included router in one route of its own)."""
    routes = [route for router in ROUTERS for route in router.routes]
    return [(route.path, route.path_regex) for route in [*app.routes, *routes]
            if "GET" in (getattr(route, "methods", None) or set())]


def _route_of(path: str, table) -> str | None:
    return next((pattern for pattern, regex in table if regex.match(path)), None)


def _crawl(client: TestClient, start: str, table, visit) -> tuple[set[str], dict[str, str]]:
    """Every same-site link reachable from `start`, GET only, one URL per route; `visit` is
    called with each URL and its response. Returns the ids seen on the pages and the URL
    fetched for each route."""
    chosen: dict[str, str] = {}
    ids: set[str] = set()
    queue, seen = [start, "/"], set()
    while queue and len(seen) < PAGES_PER_ROLE:
        url = queue.pop(0)
        path = urlsplit(url).path
        route = _route_of(path, table)
        if url in seen or route is None or route in chosen:
            continue
        seen.add(url)
        response = client.get(url, follow_redirects=False)
        visit(url, response)
        if response.status_code != 200:
            continue
        chosen[route] = url
        ids.update(ID.findall(response.text))
        if "html" not in response.headers.get("content-type", ""):
            continue
        parser = _Links()
        parser.feed(response.text)
        for link in parser.links:
            target = urljoin("http://testserver" + path, link)
            if target.startswith("http://testserver/"):
                rel = target.removeprefix("http://testserver").split("#")[0]
                if rel and not SKIP.search(rel) and rel not in seen:
                    queue.append(rel)
    return ids, chosen


def _unlinked_urls(table, ids: set[str], pages: dict[str, str]) -> list[str]:
    """The GET routes the crawl found no link to (JSON endpoints, pages reached by forms or
    scripts), their parameters filled from ids the crawl saw (a `{slug}` from the page of the
    same path: `/api/topics/{slug}` from the `/topics/{slug}` crawled)."""
    first: dict[str, str] = {}
    for found in sorted(ids):
        first.setdefault(found.split("_", 1)[0], found)
    urls = []
    for pattern, _regex in table:
        if pattern in pages or SKIP.search(pattern):
            continue
        url = pattern
        for name in re.findall(r"\{([^}:]+)[^}]*\}", pattern):
            key = name.removesuffix("_id")
            if name == "id":
                key = pattern.split("/{id}")[0].rsplit("/", 1)[-1].rstrip("s")
            value = first.get(PREFIXES.get(key, key))
            if name == "slug":
                page = pages.get(pattern.removeprefix("/api").split("{slug}")[0] + "{slug}")
                value = urlsplit(page).path.rsplit("/", 1)[-1] if page else None
            if value is None:
                break
            url = re.sub(r"\{" + re.escape(name) + r"[^}]*\}", value, url)
        else:
            urls.append(url)
    return urls


def test_no_get_writes_in_a_read_only_unit_of_work(database, settings):
    if not database.is_sqlite:
        pytest.skip("the hazard is SQLite's (one demo city build is enough)")
    # as served: exposures written behind, so the home page's unit of work is a read-only one
    settings = settings.model_copy(update={"exposure_flush_ms": 200,
                                           "serving_refresh_ms": 1_000})
    with database.unit_of_work() as db:
        demo_city.ensure(db, settings=settings, seed=3)
        assert db.scalar(select(User.id).where(User.username == "resident"))
    app = create_app(settings, database)
    table = _get_routes(app)
    offenders: dict[str, list[str]] = {}
    reached: set[str] = set()
    with read_only_writes(database.engine) as writes, TestClient(app) as anonymous:

        def visit(url: str, response) -> None:
            assert response.status_code < 500, (url, response.text[:300])
            if response.status_code == 200:
                reached.add(_route_of(urlsplit(url).path, table) or url)
            if writes:
                offenders.setdefault(url, []).extend(writes)
                writes.clear()

        roles = [("guest", "/")] + [(username, start)
                                    for _label, username, start in demo_city.DEMO_LOGINS]
        for username, start in roles:
            with TestClient(app) as client:
                if username != "guest":
                    signed = client.post("/login", data={"username": username, "next": "/",
                                                         "password": demo_city.DEMO_PASSWORD},
                                         follow_redirects=False)
                    assert signed.status_code == 303, (username, signed.text[:300])
                    writes.clear()  # the login itself is a POST: it may write
                ids, pages = _crawl(client, start, table, visit)
                for url in [*_unlinked_urls(table, ids, pages), "/search?q=买菜"]:
                    visit(url, client.get(url, follow_redirects=False))
        visit("/api/health", anonymous.get("/api/health"))
    assert offenders == {}
    assert len(reached) >= 60, sorted(reached)  # the crawl did reach the app
