"""The home page's cached hub, channels and topics (core/generations.py, miniapps/shell/hub_view,
traffic/topic_views): an operator's change shows on the next request in the process that made it
and, through the generation row, in another app instance on the same database once it re-checks;
the cached content is what the database holds; and reading pages never writes.

Time is moved with `generations.monotonic`, never waited for."""

from __future__ import annotations

import re
import threading

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select

from tests.traffic.serving_data import freeze
from tests.traffic.world import CITY, OTHER_CITY, build_world
from townsquare.app import create_app
from townsquare.core import generations
from townsquare.core.database import Database
from townsquare.miniapps.models import MiniApp
from townsquare.miniapps.shell import hub, hub_view
from townsquare.miniapps.shell.schemas import HubMiniAppOut
from townsquare.traffic import topic_views, topics

SLOW_REFRESH = {"serving_refresh_ms": 60_000}  # other processes' changes: only after a minute
FLUSH_THREAD = "townsquare-exposures"  # the write-behind thread (serving/exposure_writer.py)


@pytest.fixture
def world(database):
    freeze()
    return build_world(database)


@pytest.fixture
def clock_at(monkeypatch):
    """Set what `generations.monotonic` answers (seconds)."""
    now = [1_000.0]
    monkeypatch.setattr(generations, "monotonic", lambda: now[0])

    def move(seconds: float) -> None:
        now[0] += seconds

    return move


def _operator(db, world):
    return db.merge(world.operator)


def _section(database, world, title: str, *keys: str) -> str:
    with database.unit_of_work() as db:
        section = hub.create_section(db, actor=_operator(db, world), title_zh=title,
                                     title_en=title + " en", icon="🏠")
        for key in keys:
            hub.add_entry(db, actor=_operator(db, world), section_id=section.public_id,
                          miniapp_id=world.app(key).public_id)
        return section.public_id


def _without_tokens(html: str) -> str:
    """A page without what differs on every request: click tokens, the CSP nonce."""
    html = re.sub(r"/go/[A-Za-z0-9_-]+", "/go/…", html)
    return re.sub(r'nonce="[^"]*"', 'nonce=""', html)


def test_operator_edits_show_on_the_next_request_of_the_same_process(
        database, settings, world, clock_at):
    app = create_app(settings.model_copy(update=SLOW_REFRESH), database)
    section = _section(database, world, "买菜", "grocer")
    with TestClient(app) as client:
        page = client.get("/").text
        assert "买菜" in page and world.app("grocer").public_id in page
        assert "/channels/clinics" not in page and "/topics/veg" not in page

        with database.unit_of_work() as db:  # hub editor: rename, add a mini-app
            hub.rename_section(db, actor=_operator(db, world), section_id=section,
                               title_zh="生鲜到家", title_en="Fresh", icon="🥬")
            hub.add_entry(db, actor=_operator(db, world), section_id=section,
                          miniapp_id=world.app("brand").public_id)
        page = client.get("/").text
        assert "生鲜到家" in page and "买菜" not in page
        assert world.app("brand").public_id in page and "✔ 鲜丰水果" in page

        with database.unit_of_work() as db:  # channel and topic edits
            topics.save_channel(db, actor=_operator(db, world), slug="clinics",
                                title_zh="看病就医", title_en="Clinics", category_codes=["clinic"])
            topics.create_topic(db, actor=_operator(db, world), slug="veg", title_zh="买菜",
                                title_en="Vegetables", tags=["蔬菜"])
        page = client.get("/").text
        assert "/channels/clinics" in page and "看病就医" in page and "/topics/veg" in page
        assert client.get("/topics/veg").status_code == 200

        with database.unit_of_work() as db:
            topics.update_topic(db, actor=_operator(db, world), slug="veg", active=False)
            topics.save_channel(db, actor=_operator(db, world), slug="clinics",
                                title_zh="在线问诊", title_en="Online clinics",
                                category_codes=["clinic"])
        page = client.get("/").text
        assert "/topics/veg" not in page and "在线问诊" in page
        assert client.get("/topics/veg").status_code == 404

        with database.unit_of_work() as db:  # a listing change: taken down
            db.scalar(select(MiniApp).where(MiniApp.id == world.app("grocer").id)).listed = False
        assert world.app("grocer").public_id not in hub_sections(client.get("/").text)


def hub_sections(page: str) -> str:
    """The part of the home page after the feed: the hub's sections."""
    return page.split('class="card hub-section"', 1)[-1]


def test_another_app_instance_on_the_same_database_sees_it_after_its_next_check(
        database, settings, world, clock_at):
    """Two app instances with their own engines stand for two worker processes: the second
    hears of the first one's change only through the generation row in the database."""
    section = _section(database, world, "买菜", "grocer")
    other_database = Database(database.url)
    other = create_app(settings.model_copy(update=SLOW_REFRESH), other_database)
    try:
        with TestClient(other) as client:
            assert "买菜" in client.get("/").text
            loads = hub_view._hub.loads
            clock_at(61)  # the refresh interval passes with nothing changed: checked, not loaded
            assert "买菜" in client.get("/").text and hub_view._hub.loads == loads

            with database.unit_of_work() as db:  # the first instance's engine writes
                hub.rename_section(db, actor=_operator(db, world), section_id=section,
                                   title_zh="生鲜到家", title_en="Fresh", icon="")
                topics.save_channel(db, actor=_operator(db, world), slug="clinics",
                                    title_zh="看病就医", title_en="Clinics",
                                    category_codes=["clinic"])
            assert "买菜" in client.get("/").text  # within its interval: as it was
            clock_at(61)
            page = client.get("/").text
            assert "生鲜到家" in page and "买菜" not in page and "看病就医" in page
            assert hub_view._hub.loads == loads + 1
    finally:
        other_database.dispose()


def test_the_cached_hub_and_topics_hold_what_the_database_holds(client, database, world):
    _section(database, world, "水果", "brand", "lookalike")
    _section(database, world, "空的")
    _section(database, world, "看病", "clinic", "faraway")
    with database.unit_of_work() as db:
        topics.save_channel(db, actor=_operator(db, world), slug="food", title_zh="吃喝",
                            title_en="Food", category_codes=["grocery"])
        topic = topics.create_topic(db, actor=_operator(db, world), slug="fruit",
                                    title_zh="水果", title_en="Fruit", tags=["水果"])
        db.scalar(select(MiniApp).where(MiniApp.id == world.app("lookalike").id)).listed = False
    with database.unit_of_work() as db:
        uncached = [
            (item.section.public_id, item.section.title_zh, item.section.title_en,
             item.section.icon, [HubMiniAppOut.of(m, "zh_CN").model_dump() for m in item.miniapps])
            for item in hub.public_hub(db)
        ]
        cached = [
            (s.public_id, s.title_zh, s.title_en, s.icon,
             [HubMiniAppOut.of_tile(t, "zh_CN").model_dump() for t in s.tiles])
            for s in hub_view.public_hub(db, refresh_seconds=60)
        ]
        assert cached == uncached
        assert [e["certified_brand"] for e in cached[0][4]] == ["鲜丰水果"]

        found = topic_views.directory(db, refresh_seconds=60)
        channel = topics.get_channel(db, slug="food")
        assert [c.slug for c in found.channels] == [c.slug for c in topics.channels(db)]
        assert [t.slug for t in found.topics] == [t.slug for t in topics.list_topics(db)]
        for city in (CITY, OTHER_CITY, None, "别处"):
            assert list(found.channel_ids(found.channel("food"), city)) == \
                topics.channel_miniapp_ids(db, channel=channel, city=city)
            assert list(found.topic_ids(found.topic("fruit"), city)) == \
                topics.topic_miniapp_ids(db, topic=topic, city=city)

    first = client.get("/")  # the test settings re-check on every request: compare two pages,
    second = client.get("/")  # the first with the caches just loaded, the second from them
    assert _without_tokens(first.text) == _without_tokens(second.text)
    hub_view.forget()
    topic_views.forget()
    third = client.get("/")  # loaded afresh
    assert _without_tokens(third.text) == _without_tokens(first.text)
    assert client.get("/api/hub").json()["sections"][0]["entries"] == cached[0][4]


def test_reading_pages_takes_no_write_lock_and_writes_nothing(database, settings, world):
    """With exposures written behind (the default), GET /, /api/hub, a channel and a topic page
    send no INSERT, UPDATE or DELETE and begin no writing transaction (on SQLite: no BEGIN
    IMMEDIATE) in the request; the flush thread writes the exposures later."""
    _section(database, world, "买菜", "grocer")
    with database.unit_of_work() as db:
        topics.save_channel(db, actor=_operator(db, world), slug="clinics", title_zh="看病",
                            title_en="Clinics", category_codes=["clinic"])
        topics.create_topic(db, actor=_operator(db, world), slug="veg", title_zh="买菜",
                            title_en="Vegetables", tags=["蔬菜"])
    app = create_app(settings.model_copy(update={"exposure_flush_ms": 200}), database)
    seen: list[tuple[str, str]] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        seen.append((threading.current_thread().name, statement.strip().upper()))

    event.listen(database.engine, "before_cursor_execute", record)
    try:
        with TestClient(app) as client:
            for path in ("/", "/api/hub", "/channels/clinics", "/topics/veg", "/api/feed"):
                assert client.get(path).status_code == 200
            writes = [(thread, sql[:60]) for thread, sql in seen
                      if sql.startswith(("INSERT", "UPDATE", "DELETE", "BEGIN IMMEDIATE"))]
            assert [w for w in writes if w[0] != FLUSH_THREAD] == []
            assert any(sql.startswith("SELECT") for _thread, sql in seen)  # it did listen
    finally:
        event.remove(database.engine, "before_cursor_execute", record)
