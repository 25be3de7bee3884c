"""Each worker's index notices catalogue changes through the "catalog" content generation: one
primary-key read per check (never an aggregate over the listed mini-apps), and changes that
leave the number of listed mini-apps as it was (a rename, one delisted and another listed) are
seen at the next check by another engine on the same database (another worker process)."""

from __future__ import annotations

import math

import pytest
from sqlalchemy import event

from tests.traffic.world import CITY, build_world
from townsquare.core.database import Database
from townsquare.miniapps.models import MiniApp
from townsquare.traffic.search import service as search
from townsquare.traffic.serving import cache


@pytest.fixture
def world(database):
    return build_world(database)


@pytest.fixture
def other(database):
    """A second engine on the same database: what another worker process holds."""
    found = Database(database.url)
    yield found
    found.dispose()


def found_ids(database: Database, text: str) -> list[int]:
    """Search as serving does: on the snapshot's cards, the stamp checked on every call."""
    with database.unit_of_work(read_only=True) as db:
        snap = cache.snapshot(db, refresh_seconds=0)
        return [hit.miniapp_id for hit in
                search.query(db, text=text, city=CITY, cards=snap.cards).hits]


def edit(database: Database, miniapp_id: int, **values: object) -> None:
    with database.unit_of_work() as db:
        app = db.get(MiniApp, miniapp_id)
        for name, value in values.items():
            setattr(app, name, value)


def test_another_worker_sees_a_rename_at_its_next_check(database, world, other):
    grocer = world.app("grocer").id
    assert grocer not in found_ids(other, "榴莲")
    edit(database, grocer, name="榴莲专卖")  # as many listed as before
    assert grocer in found_ids(other, "榴莲")


def test_another_worker_sees_one_delisted_and_another_listed(database, world, other):
    grocer, clinic = world.app("grocer").id, world.app("clinic").id
    edit(database, clinic, listed=False)
    edit(database, grocer, name="榴莲专卖")
    assert grocer in found_ids(other, "榴莲")
    assert found_ids(other, "榴莲") == [grocer]
    edit(database, grocer, listed=False)
    edit(database, clinic, listed=True, name="榴莲诊所")  # the count of listed is back
    assert found_ids(other, "榴莲") == [clinic]


def test_a_check_with_nothing_changed_is_one_small_query(database, world, other):
    found_ids(other, "水果")
    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(other.engine, "before_cursor_execute", seen)
    try:
        with other.unit_of_work(read_only=True) as db:
            before = cache.snapshot(db, refresh_seconds=math.inf)
            assert cache.snapshot(db, refresh_seconds=0) is before  # checked, not reloaded
    finally:
        event.remove(other.engine, "before_cursor_execute", seen)
    stamp = [s for s in statements if "content_generations" in s]
    assert len(stamp) == 1
    assert MiniApp.__tablename__ not in stamp[0]  # no count over the listed mini-apps

