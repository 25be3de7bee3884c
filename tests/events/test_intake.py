"""Event intake as a service: validation, attribution, at-most-once storage (also under races)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.miniapps.shell_data import issue_sub, make_miniapp
from townsquare.core.clock import clock
from townsquare.core.errors import ValidationFailed
from townsquare.events import intake
from townsquare.events.models import BehaviourEvent, EventType
from townsquare.miniapps.models import MiniApp

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)
SUB = "ou_" + "ab" * 16


def _app(db, public_id: str) -> MiniApp:
    return db.scalar(select(MiniApp).where(MiniApp.public_id == public_id))


def _count(db) -> int:
    return db.scalar(select(func.count(BehaviourEvent.id)))


def order(event_id: str, **extra) -> dict:
    return {"event_id": event_id, "type": "order_placed",
            "occurred_at": "2026-03-10T19:30:00+08:00", "sub": SUB,
            "order_id": "o-" + event_id, "amount_fen": 2590, **extra}


@pytest.fixture
def app_id(database):
    clock.freeze(NOW)
    app_id = make_miniapp(database).id
    issue_sub(database, app_id, SUB)
    return app_id


def test_a_retried_batch_is_counted_once(database, app_id):
    batch = [order("e1"), order("e2"), {"event_id": "e3", "type": "visit", "sub": SUB,
                                        "occurred_at": NOW.isoformat()}]
    with database.unit_of_work() as db:
        first = intake.ingest(db, client=_app(db, app_id), events=batch)
    with database.unit_of_work() as db:
        again = intake.ingest(db, client=_app(db, app_id), events=batch + [order("e4")])
        assert _count(db) == 4
    assert [o.status for o in first] == ["accepted"] * 3
    assert [o.status for o in again] == ["duplicate"] * 3 + ["accepted"]


def test_the_same_id_twice_in_one_batch_is_one_event(database, app_id):
    with database.unit_of_work() as db:
        outcomes = intake.ingest(db, client=_app(db, app_id), events=[order("x"), order("x")])
        assert [o.status for o in outcomes] == ["accepted", "duplicate"]
        assert _count(db) == 1


def test_event_ids_are_scoped_to_their_mini_app(database, app_id):
    other = make_miniapp(database).id
    issue_sub(database, other, SUB)
    with database.unit_of_work() as db:
        intake.ingest(db, client=_app(db, app_id), events=[order("same")])
        outcomes = intake.ingest(db, client=_app(db, other), events=[order("same")])
        assert outcomes[0].status == "accepted"  # another app's id never blocks this one
        assert _count(db) == 2


def test_bad_events_get_their_own_error_and_the_rest_is_stored(database, app_id):
    future = (NOW + timedelta(minutes=6)).isoformat()
    batch = [
        order("ok1"),
        order("bad-rating", type="rating", order_id=None, amount_fen=None, rating=6),
        order("neg", amount_fen=-1),
        {"event_id": "naive", "type": "visit", "sub": SUB, "occurred_at": "2026-03-10T10:00:00"},
        {"event_id": "late", "type": "visit", "sub": SUB, "occurred_at": future},
        {"event_id": "old", "type": "visit", "sub": SUB,
         "occurred_at": (NOW - timedelta(days=91)).isoformat()},
        {"event_id": "who", "type": "teleport", "sub": SUB, "occurred_at": NOW.isoformat()},
        {"event_id": "nosub", "type": "visit", "occurred_at": NOW.isoformat()},
        order("cancel", type="order_cancelled", amount_fen=None, cancelled_by="nobody"),
        order("extra", rating=5),
        "not an object",
        {"type": "visit", "sub": SUB, "occurred_at": NOW.isoformat()},
        order("nul\x00"),
        order("bool", amount_fen=True),
        order("mine", miniapp="ma_someoneelse0000"),
        order("ok2"),
    ]
    with database.unit_of_work() as db:
        outcomes = intake.ingest(db, client=_app(db, app_id), events=batch)
        assert _count(db) == 2
    assert [o.status for o in outcomes].count("accepted") == 2
    assert outcomes[0].status == outcomes[-1].status == "accepted"
    errors = {o.index: o for o in outcomes if o.status == "rejected"}
    assert len(errors) == len(batch) - 2
    assert errors[1].field == "rating" and errors[1].code == "invalid"
    assert errors[2].field == "amount_fen"
    assert errors[3].field == errors[4].field == errors[5].field == "occurred_at"
    assert errors[6].field == "type"
    assert errors[7].field == "sub"
    assert errors[8].field == "cancelled_by"
    assert errors[9].field == "rating"  # a measure that does not belong to the type
    assert errors[11].field == "event_id" and errors[11].event_id == ""
    assert errors[13].field == "amount_fen"
    assert errors[14].code == "forbidden" and errors[14].field == "miniapp"
    assert errors[1].event_id == "bad-rating" and errors[1].message


def test_attribution_comes_from_the_mini_app_not_the_sender(database, app_id):
    with database.unit_of_work() as db:
        miniapp = _app(db, app_id)
        miniapp.cities = ["武汉"]
        intake.ingest(db, client=miniapp, events=[
            order("a1", merchant_id=999, category_code="fake", community="幸福里"),
        ])
        event = db.scalar(select(BehaviourEvent))
        assert event.merchant_id == miniapp.merchant_id and event.merchant_id != 999
        assert event.category_code == "grocery" and event.miniapp_id == miniapp.id
        assert event.city == "武汉" and event.community == "幸福里"
        assert event.occurred_at == datetime(2026, 3, 10, 11, 30, tzinfo=UTC)
        assert event.type == EventType.ORDER_PLACED and event.amount_fen == 2590
        assert event.event_id == intake.storage_key(app_id, "a1")


def test_batch_size_is_bounded(database, app_id):
    with database.unit_of_work() as db, pytest.raises(ValidationFailed):
        intake.ingest(db, client=_app(db, app_id), events=[order(f"e{i}") for i in range(501)])
    with database.unit_of_work() as db, pytest.raises(ValidationFailed):
        intake.ingest(db, client=_app(db, app_id), events=[])


def test_record_for_first_party_code(database, app_id):
    with database.unit_of_work() as db:
        miniapp = _app(db, app_id)
        assert intake.record(db, miniapp=miniapp, type=EventType.EXPOSURE, event_id="x1",
                             surface="feed", slot_reason="guaranteed")
        assert not intake.record(db, miniapp=miniapp, type="exposure", event_id="x1",
                                 surface="feed")
        with pytest.raises(ValidationFailed):
            intake.record(db, miniapp=miniapp, type="click", event_id="x2", sub=SUB)  # no surface
        event = db.scalar(select(BehaviourEvent))
        assert (event.surface, event.slot_reason, event.occurred_at) == ("feed", "guaranteed", NOW)


@pytest.mark.postgres_only
def test_concurrent_copies_of_a_batch_count_once(database, app_id):
    batch = [order(f"c{i}") for i in range(200)]
    barrier = threading.Barrier(4)
    results: list[list[str]] = []

    def send() -> None:
        with database.unit_of_work() as db:
            miniapp = _app(db, app_id)
            barrier.wait()
            results.append([o.status for o in intake.ingest(db, client=miniapp, events=batch)])

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with database.unit_of_work() as db:
        assert _count(db) == 200
    assert len(results) == 4
    assert sum(statuses.count("accepted") for statuses in results) == 200
