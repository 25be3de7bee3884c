"""The daily exposure rollups equal the events they count, whichever way the events arrive (the
write-behind flush, the simulator's bulk path, first-party intake, the ORM), stay right when
events arrive for a day already rolled up or a flush is written twice, and the traffic consoles
read them: a page's statements and loaded rows do not grow with the events or the catalogue."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import event, select
from sqlalchemy.engine import Engine

from tests.merchants.conftest import login
from tests.traffic.world import build_world
from townsquare.core.clock import clock
from townsquare.core.database import Base
from townsquare.events import intake, rollups
from townsquare.events.models import BehaviourEvent, EventType, ExposureDay
from townsquare.miniapps.models import MiniApp, MiniAppKind, MiniAppVersion, VersionState
from townsquare.traffic.console import reports
from townsquare.traffic.serving import exposure_writer

NOW = datetime(2026, 3, 11, 2, 0, tzinfo=UTC)  # 10:00 on 11 March in Shanghai
ZONE = "Asia/Shanghai"
_ids = itertools.count(1)


@pytest.fixture
def world(database):
    clock.freeze(NOW)
    return build_world(database)


def flushed(app, n: int, at: datetime, reason: str = "organic",
            kind: EventType = EventType.EXPOSURE) -> list[tuple]:
    """Event rows as serving buffers them (`exposure_writer.EVENT_COLUMNS`)."""
    return [(f"exp-{next(_ids)}", kind, at, at, app.id, app.merchant_id, "grocery", "", "武汉",
             "", "feed", reason, "guest") for _ in range(n)]


def bulk(app, n: int, at: datetime, reason: str = "organic",
         kind: EventType = EventType.EXPOSURE) -> list[dict]:
    """Event rows as the market simulator writes them (`intake.insert_rows`)."""
    return [{"event_id": f"sim-{next(_ids)}", "type": kind, "occurred_at": at, "received_at": at,
             "miniapp_id": app.id, "merchant_id": app.merchant_id, "category_code": "grocery",
             "surface": "feed", "slot_reason": reason} for _ in range(n)]


def from_events(db) -> dict[tuple[int, date, str], list[int]]:
    """The day counts grouped from the events themselves (the reference)."""
    rows = db.execute(select(BehaviourEvent.type, BehaviourEvent.occurred_at,
                             BehaviourEvent.miniapp_id, BehaviourEvent.slot_reason))
    return rollups.count(rows, ZONE)


def rolled_up(db) -> dict[tuple[int, date, str], list[int]]:
    return {(r.miniapp_id, r.day, r.slot_reason): [r.impressions, r.clicks]
            for r in db.scalars(select(ExposureDay)) if r.impressions or r.clicks}


def test_every_insert_path_keeps_the_rollups_equal_to_the_events(database, world):
    brand, grocer = world.app("brand"), world.app("grocer")
    before_midnight = datetime(2026, 3, 10, 15, 30, tzinfo=UTC)  # 23:30 on the 10th locally
    after_midnight = datetime(2026, 3, 10, 16, 30, tzinfo=UTC)  # 00:30 on the 11th
    with database.unit_of_work() as db:
        exposure_writer.write(db, exposure_writer.Batch(events=[
            *flushed(brand, 3, before_midnight), *flushed(brand, 2, after_midnight),
            *flushed(grocer, 4, NOW, reason="sponsored"),
            *flushed(grocer, 1, NOW, reason="sponsored", kind=EventType.CLICK),
        ]))
        intake.insert_rows(db, [*bulk(brand, 5, NOW - timedelta(days=3), reason="guaranteed"),
                                *bulk(brand, 2, NOW - timedelta(days=3), reason="",
                                      kind=EventType.CLICK),
                                *bulk(grocer, 6, NOW, kind=EventType.VISIT)])  # not counted
        miniapp = db.get(MiniApp, grocer.id)
        assert intake.record(db, miniapp=miniapp, type=EventType.EXPOSURE, event_id="hub-1",
                             occurred_at=NOW - timedelta(hours=1), surface="hub")
        assert not intake.record(db, miniapp=miniapp, type=EventType.EXPOSURE, event_id="hub-1",
                                 occurred_at=NOW - timedelta(hours=1), surface="hub")  # again
        db.add(BehaviourEvent(event_id="orm-1", type=EventType.CLICK, occurred_at=NOW,
                              miniapp_id=brand.id, merchant_id=brand.merchant_id,
                              category_code="grocery", slot_reason="organic"))
    with database.unit_of_work() as db:
        expected = from_events(db)
        assert rolled_up(db) == expected
        assert expected[(brand.id, date(2026, 3, 10), "organic")] == [3, 0]
        assert expected[(brand.id, date(2026, 3, 11), "organic")] == [2, 1]
        assert expected[(grocer.id, date(2026, 3, 11), "")] == [1, 0]  # the hub's, recorded once
        assert sum(n for n, _c in expected.values()) == 3 + 2 + 4 + 5 + 1
        # recomputing every day from the events gives the same rows
        rollups.rebuild_all(db, zone=ZONE)
        assert rolled_up(db) == expected


def test_events_for_a_day_already_rolled_up_and_a_flush_written_twice(database, world):
    brand = world.app("brand")
    three_days_ago = NOW - timedelta(days=3)
    with database.unit_of_work() as db:
        exposure_writer.write(db, exposure_writer.Batch(events=flushed(brand, 4, three_days_ago)))
    with database.unit_of_work() as db:  # the day is closed and recomputed (the backfill's way)
        day = rollups.local_day(three_days_ago, ZONE)
        rollups.rebuild(db, first=day, last=day, zone=ZONE)
    late = flushed(brand, 3, three_days_ago, reason="cold_start")
    with database.unit_of_work() as db:  # late: a flush held back by a database outage
        exposure_writer.write(db, exposure_writer.Batch(events=late + flushed(brand, 1, NOW)))
    with database.unit_of_work() as db:  # the same flush again (its commit's answer was lost)
        exposure_writer.write(db, exposure_writer.Batch(events=late + flushed(brand, 2, NOW)))
    with database.unit_of_work() as db:
        assert rolled_up(db) == from_events(db)
        assert rolled_up(db)[(brand.id, day, "cold_start")] == [3, 0]
        owner = db.get(type(world.owner), world.owner.id)
        shown = {(r.day, r.source): r.impressions for r in reports.exposure_by_source(
            db, actor=owner, merchant_public_id=brand.merchant_public_id, zone=ZONE)}
        assert shown == {(day, "organic"): 4, (day, "cold_start"): 3,
                         (NOW.date(), "organic"): 3}
        # another zone than the rollups' groups the events: the same figures, its own days
        assert sum(r.impressions for r in reports.exposure_by_source(
            db, actor=owner, merchant_public_id=brand.merchant_public_id, zone="UTC")) == 10


@contextmanager
def cost() -> Iterator[tuple[list[str], Counter[str]]]:
    """The SQL statements run and the ORM rows loaded (by class) inside the block."""
    statements: list[str] = []
    loaded: Counter[str] = Counter()

    def executed(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    def load(target, context) -> None:
        loaded[type(target).__name__] += 1

    event.listen(Engine, "before_cursor_execute", executed)
    event.listen(Base, "load", load, propagate=True)
    try:
        yield statements, loaded
    finally:
        event.remove(Engine, "before_cursor_execute", executed)
        event.remove(Base, "load", load)


def _more_data(database, world, *, events: int, miniapps: int) -> None:
    """Weeks of exposures and clicks for every mini-app, and more listed mini-apps."""
    with database.unit_of_work() as db:
        rows = []
        for key, app in world.apps.items():
            for day in range(27):
                at = NOW - timedelta(days=day, minutes=len(key))
                rows += bulk(app, events, at, reason="organic")
                rows += bulk(app, events // 10, at, kind=EventType.CLICK)
        intake.insert_rows(db, rows)
        brand = db.get(MiniApp, world.app("lookalike").id)
        db.add_all([MiniApp(
            merchant_id=brand.merchant_id, category_id=brand.category_id,
            kind=MiniAppKind.EXTERNAL, client_secret_digest="0" * 64, name=f"新店{i:03d}",
            icon="🛒", cities=["武汉"], listed=True) for i in range(miniapps)])


def test_console_pages_cost_their_page_not_the_data(client, database, world):
    pages = {
        "merchant": (world.owner, f"/console/merchant/{world.app('brand').merchant_public_id}"
                                  "/traffic"),
        "operator": (world.operator, "/console/operator/traffic"),
    }

    def measure() -> dict[str, tuple[int, Counter[str]]]:
        found = {}
        for name, (user, path) in pages.items():
            login(client, user)
            assert client.get(path).status_code == 200  # warm: the session, caches
            with cost() as (statements, loaded):
                assert client.get(path).status_code == 200
            # the events are never read: their day rollups are
            assert not [s for s in statements if "behaviour_events" in s], name
            found[name] = (len(statements), Counter(loaded))
        return found

    _more_data(database, world, events=2, miniapps=3)
    small = measure()
    _more_data(database, world, events=40, miniapps=120)
    large = measure()
    assert large == small
    assert "BehaviourEvent" not in small["operator"][1] | small["merchant"][1]


def test_operator_miniapp_list_is_paged_in_sql(client, database, world):
    with database.unit_of_work() as db:
        other = db.get(MiniApp, world.app("lookalike").id)
        apps = [MiniApp(
            merchant_id=other.merchant_id, category_id=other.category_id,
            kind=MiniAppKind.EXTERNAL, client_secret_digest="0" * 64, name=f"新店{i:03d}",
            icon="🛒", cities=["武汉"], listed=True) for i in range(70)]
        db.add_all(apps)
        db.flush()
        db.add_all([MiniAppVersion(miniapp_id=app.id, number=1, label="1.0.0", name=app.name,
                                   state=VersionState.PUBLISHED, decided_at=NOW)
                    for app in apps])
    login(client, world.operator)
    with cost() as (_statements, loaded):
        first = client.get("/console/operator/miniapps")
    assert first.status_code == 200
    assert not {"MiniApp", "MiniAppVersion"} & set(loaded)  # shown columns, not objects
    assert first.text.count('data-miniapp="') == 50 and "新店000" in first.text
    assert "第 1 / 2 页" in first.text and "共 70 个已上架" in first.text
    second = client.get("/console/operator/miniapps?page=2&lang=en")
    assert second.text.count('data-miniapp="') == 20 and "新店069" in second.text
    assert "Page 2 of 2" in second.text and "新店000" not in second.text
    found = client.get("/console/operator/miniapps?q=新店06")
    assert found.text.count('data-miniapp="') == 10 and "10 listed" in found.text
    assert client.get("/console/operator/miniapps?page=x").status_code == 200  # page 1


@pytest.mark.parametrize("seed", [1, 2])
def test_concentration_in_sql_equals_the_reference(database, world, seed):
    """Gini, Lorenz points and the new stage's share computed in SQL equal the Python reference
    over the same per-mini-app totals (zeros for listed apps never shown, ties, an unlisted app
    that was shown, days outside the window ignored)."""
    import random

    from townsquare.traffic.console.concentration import concentration
    from townsquare.traffic.models import Stage, TrafficProfile

    rng = random.Random(seed)
    first, last = date(2026, 3, 5), date(2026, 3, 11)
    totals: dict[int, int] = {}
    with database.unit_of_work() as db:
        extra = MiniApp(merchant_id=world.app("brand").merchant_id,
                        category_id=db.get(MiniApp, world.app("brand").id).category_id,
                        kind=MiniAppKind.EXTERNAL, client_secret_digest="0" * 64, name="下架店",
                        listed=False)
        db.add(extra)
        db.flush()
        ids = [app.id for key, app in world.apps.items() if key != "clinic"] + [extra.id]
        for miniapp_id in ids:
            totals[miniapp_id] = 0
            for offset in range(9):  # two days before the window too
                day = last - timedelta(days=offset)
                n = rng.choice([0, 0, 3, 3, rng.randint(1, 50)])
                db.add(ExposureDay(miniapp_id=miniapp_id, day=day, slot_reason="organic",
                                   impressions=n, clicks=rng.randint(0, 2)))
                if day >= first:
                    totals[miniapp_id] += n
        totals[world.app("clinic").id] = 0  # listed, never shown
        new = {p for p in db.scalars(select(TrafficProfile.miniapp_id)
                                     .where(TrafficProfile.stage == Stage.NEW))}
    if totals[extra.id] == 0:
        del totals[extra.id]  # an unlisted app counts only when it was shown
    with database.unit_of_work() as db:
        found = concentration(db, first=first, last=last, points=4)
    values = list(totals.values())
    assert found.impressions == sum(values)
    assert found.new_impressions == sum(n for m, n in totals.items() if m in new)
    assert found.gini == pytest.approx(reports.gini(values))
    reference = reports.lorenz(values, points=4)
    assert [x for x, _y in found.lorenz] == pytest.approx([x for x, _y in reference])
    assert [y for _x, y in found.lorenz] == pytest.approx([y for _x, y in reference])
