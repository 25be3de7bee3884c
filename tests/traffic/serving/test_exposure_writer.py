"""Write-behind of what serving records: a flush writes exactly the buffered exposures and the
summed counters, once; a failed flush keeps its batch for the next one; the buffer is bounded;
application shutdown flushes; pacing counts deliveries that are still buffered."""

from __future__ import annotations

import pytest
import structlog
from fastapi.testclient import TestClient
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError

from tests.traffic.serving_data import (
    NOW,
    add_plan,
    delivered,
    exposures,
    freeze,
    legacy_ranking,
    reasons_for,
    serve,
)
from tests.traffic.world import CITY, build_world
from townsquare.app import create_app
from townsquare.events.models import EventType
from townsquare.traffic.market import bids
from townsquare.traffic.models import BidSpend, PromiseKind, SlotReason
from townsquare.traffic.serving import cache, exposure_writer
from townsquare.traffic.serving import service as serving

HOUR_MS = 3_600_000  # a flush interval no test waits for: only flush_now / shutdown write


@pytest.fixture
def world(database):
    freeze()
    found = build_world(database)
    legacy_ranking(database, found)
    yield found
    exposure_writer.close(database.engine)


@pytest.fixture
def buffered(settings):
    return settings.model_copy(update={"exposure_flush_ms": HOUR_MS})


def _writer(database) -> exposure_writer.ExposureWriter:
    found = exposure_writer.current(database.engine)
    assert found is not None
    return found


def _spend(database, bid_id):
    with database.unit_of_work() as db:
        row = db.scalar(select(BidSpend).where(BidSpend.bid_id == bid_id))
        return None if row is None else (row.budget_fen, row.impressions, row.spent_fen)


def _place_ad(database, world) -> int:
    with database.unit_of_work() as db:
        return bids.place(db, actor=db.merge(world.other_owner),
                          miniapp_public_id=world.app("clinic").public_id, target_kind="surface",
                          target="feed", max_cpc_fen=200, daily_budget_fen=10_000).id


def test_a_flush_writes_exactly_the_buffered_rows_and_summed_counters_once(
    database, buffered, world
):
    plan = add_plan(database, world, [("declining", PromiseKind.TIER_INCENTIVE, 1400, 0)])
    bid_id = _place_ad(database, world)
    served = [serve(database, buffered) for _ in range(3)]
    for one in served:
        assert one.items[0].promise_id == plan["declining"].promise_public_id
        assert any(item.bid_id == bid_id for item in one.items)
    # nothing is in the database yet: the responses went out before their records
    assert exposures(database) == []
    assert delivered(database, plan["declining"]) == (0, 0)
    assert _spend(database, bid_id) is None
    assert _writer(database).pending_events() == sum(len(s.items) for s in served)

    assert exposure_writer.flush_now(database.engine)
    events = exposures(database)
    shown = [(i.card.id, i.reason.value) for s in served for i in s.items]
    assert sorted((e.miniapp_id, e.slot_reason) for e in events) == sorted(shown)
    assert len({e.event_id for e in events}) == len(events)
    assert {(e.type, e.occurred_at, e.surface, e.city, e.audience) for e in events} == {
        (EventType.EXPOSURE, NOW, "feed", CITY, "guest")
    }
    assert delivered(database, plan["declining"]) == (3, 3)  # summed: +3 in one UPDATE each
    assert _spend(database, bid_id) == (10_000, 3, 0)  # the day row, created by the upsert
    assert _writer(database).pending_events() == 0

    assert exposure_writer.flush_now(database.engine)  # nothing left: nothing written twice
    assert len(exposures(database)) == len(events)
    assert delivered(database, plan["declining"]) == (3, 3)
    assert _spend(database, bid_id) == (10_000, 3, 0)


def test_a_flush_is_one_transaction_with_one_statement_per_kind(database, buffered, world):
    add_plan(database, world, [("declining", PromiseKind.TIER_INCENTIVE, 1400, 0),
                               ("clinic", PromiseKind.CAMPAIGN, 1400, 0)])
    served = [serve(database, buffered) for _ in range(4)]
    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement.split()[0].upper())

    event.listen(database.engine, "before_cursor_execute", seen)
    try:
        assert exposure_writer.flush_now(database.engine)
    finally:
        event.remove(database.engine, "before_cursor_execute", seen)
    # one INSERT of 4 × the items, one upsert of their day rollups, one UPDATE per counter
    # table (all rows in one executemany)
    assert [s for s in statements if s in ("INSERT", "UPDATE")] == [
        "INSERT", "INSERT", "UPDATE", "UPDATE"]
    assert len(exposures(database)) == sum(len(s.items) for s in served)


def test_a_failed_flush_keeps_the_batch_for_the_next_one(
    database, buffered, world, monkeypatch
):
    plan = add_plan(database, world, [("declining", PromiseKind.TIER_INCENTIVE, 1400, 0)])
    first = serve(database, buffered)
    real_write = exposure_writer.write

    def down(db, batch):
        raise OperationalError("INSERT", {}, Exception("the database is down"))

    monkeypatch.setattr(exposure_writer, "write", down)
    with structlog.testing.capture_logs() as logs:
        assert not exposure_writer.flush_now(database.engine)
    assert [entry["event"] for entry in logs] == ["exposure_flush_failed"]
    assert logs[0]["events_waiting"] == len(first.items)
    second = serve(database, buffered)  # served while the database is down: buffered after
    assert exposures(database) == [] and delivered(database, plan["declining"]) == (0, 0)

    monkeypatch.setattr(exposure_writer, "write", real_write)
    assert exposure_writer.flush_now(database.engine)
    assert len(exposures(database)) == len(first.items) + len(second.items)
    assert delivered(database, plan["declining"]) == (2, 2)  # the failed batch, once


def test_the_buffer_drops_the_oldest_rows_when_full_and_keeps_the_counters(
    database, settings, world, monkeypatch
):
    plan = add_plan(database, world, [("declining", PromiseKind.TIER_INCENTIVE, 1400, 0)])
    small = settings.model_copy(update={"exposure_flush_ms": HOUR_MS, "exposure_buffer_max": 8})
    monkeypatch.setattr(exposure_writer, "write", lambda db, batch: 1 / 0)
    with structlog.testing.capture_logs() as logs:
        served = [serve(database, small) for _ in range(3)]
        assert not exposure_writer.flush_now(database.engine)
    total = sum(len(s.items) for s in served)
    writer = _writer(database)
    assert writer.pending_events() == 8 and writer.dropped == total - 8
    assert "exposure_buffer_full" in {entry["event"] for entry in logs}
    monkeypatch.undo()
    assert exposure_writer.flush_now(database.engine)
    kept = [e.miniapp_id for e in exposures(database)]
    assert kept == [i.card.id for s in served for i in s.items][-8:]  # the newest rows
    assert delivered(database, plan["declining"]) == (3, 3)


def test_application_shutdown_flushes_the_buffer(database, buffered, world):
    app = create_app(buffered, database)
    with TestClient(app) as client:
        body = client.get("/api/feed", params={"city": CITY}).json()
        assert body["items"] and exposures(database) == []
    assert len(exposures(database)) == len(body["items"])
    assert exposure_writer.current(database.engine) is None  # stopped and forgotten


def test_pacing_counts_deliveries_still_in_the_buffer(database, buffered, world, monkeypatch):
    # 21 × 4/42 = 2 impressions due by now: the third request must see the first two
    plan = add_plan(database, world, [("clinic", PromiseKind.TIER_INCENTIVE, 21, 0)])
    reasons = reasons_for(database, buffered, world.app("clinic").id, 3)
    assert reasons == [SlotReason.GUARANTEED, SlotReason.GUARANTEED, SlotReason.ORGANIC]
    assert delivered(database, plan["clinic"]) == (0, 0)  # not flushed yet
    # a reload reads 0 from the database and keeps the two unflushed deliveries
    cache.forget_caches()
    with database.unit_of_work() as db:
        state = cache.snapshot(db).plan_state
    assert state.delivered(plan["clinic"].allocation_id) == 2
    clinic = next(i for i in serve(database, buffered).items
                  if i.card.id == world.app("clinic").id)
    assert clinic.reason == SlotReason.ORGANIC  # still caught up after the reload
    assert exposure_writer.flush_now(database.engine)
    cache.forget_caches()  # after the flush the database has them: counted once, not twice
    with database.unit_of_work() as db:
        assert cache.snapshot(db).plan_state.delivered(plan["clinic"].allocation_id) == 2
    assert delivered(database, plan["clinic"]) == (2, 2)


@pytest.mark.parametrize("flush_ms", [0, HOUR_MS])
def test_a_request_that_fails_after_serving_records_nothing(database, settings, world, flush_ms):
    plan = add_plan(database, world, [("declining", PromiseKind.TIER_INCENTIVE, 1400, 0)])
    mode = settings.model_copy(update={"exposure_flush_ms": flush_ms})
    with pytest.raises(RuntimeError), database.unit_of_work() as db:
        served = serving.serve(db, settings=mode, surface="feed", city=CITY, user=None)
        assert served.items[0].promise_id == plan["declining"].promise_public_id
        raise RuntimeError("the page failed to render")
    exposure_writer.flush_now(database.engine)
    assert exposures(database) == [] and delivered(database, plan["declining"]) == (0, 0)
    with database.unit_of_work() as db:  # pacing did not count it either
        state = cache.snapshot(db).plan_state
        assert state.delivered(plan["declining"].allocation_id) == 0
    serve(database, mode)
    exposure_writer.flush_now(database.engine)
    assert delivered(database, plan["declining"]) == (1, 1)
