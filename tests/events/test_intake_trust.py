"""Whom the intake believes: a mini-app's events must name users the platform issued to it,
exposures and clicks come only from the platform, and a rating or complaint counts only from a
user who really opened the mini-app (and one rating per user per order or day)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.miniapps.shell_data import SECRET, issue_sub, make_miniapp
from townsquare.accounts.models import User
from townsquare.core.clock import clock
from townsquare.core.errors import PermissionDenied
from townsquare.events import intake
from townsquare.events.models import BehaviourEvent, EventType
from townsquare.miniapps.models import IssuedSub, MiniApp
from townsquare.miniapps.shell import service as shell

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)
REAL = "ou_" + "ab" * 16


def _app(db, public_id: str) -> MiniApp:
    return db.scalar(select(MiniApp).where(MiniApp.public_id == public_id))


def _count(db, type_: EventType | None = None) -> int:
    stmt = select(func.count(BehaviourEvent.id))
    if type_ is not None:
        stmt = stmt.where(BehaviourEvent.type == type_)
    return db.scalar(stmt)


def _rating(i: int, sub: str, **extra) -> dict:
    return {"event_id": f"r{i}", "type": "rating", "sub": sub, "rating": 5,
            "occurred_at": NOW.isoformat(), **extra}


@pytest.fixture
def app_id(database):
    clock.freeze(NOW)
    app_id = make_miniapp(database).id
    issue_sub(database, app_id, REAL, first_at=NOW - timedelta(days=1))
    return app_id


def test_two_hundred_five_star_ratings_from_invented_users_are_refused(database, app_id):
    forged = [_rating(i, f"ou_{i:032x}") for i in range(200)]
    with database.unit_of_work() as db:
        outcomes = intake.ingest(db, client=_app(db, app_id), events=forged)
        assert {o.code for o in outcomes} == {"unknown_user"}
        assert _count(db) == 0


def test_another_apps_user_is_not_this_apps_user(database, app_id):
    other = make_miniapp(database).id
    other_sub = "ou_" + "cd" * 16
    issue_sub(database, other, other_sub)
    with database.unit_of_work() as db:
        (outcome,) = intake.ingest(db, client=_app(db, app_id), events=[
            {"event_id": "v", "type": "visit", "sub": other_sub, "occurred_at": NOW.isoformat()}])
        assert outcome.code == "unknown_user"


@pytest.mark.parametrize("kind", ["exposure", "click"])
def test_only_the_platform_records_exposures_and_clicks(database, app_id, kind):
    with database.unit_of_work() as db:
        (outcome,) = intake.ingest(db, client=_app(db, app_id), events=[
            {"event_id": "x", "type": kind, "sub": REAL, "surface": "feed",
             "occurred_at": NOW.isoformat()}])
        assert outcome.status == "rejected" and outcome.field == "type"
        # the platform itself still may
        assert intake.record(db, miniapp=_app(db, app_id), type=kind, event_id="p", sub=REAL,
                             surface="feed")


def test_a_rating_before_the_user_ever_opened_the_app_does_not_count(database, app_id):
    with database.unit_of_work() as db:
        early = (NOW - timedelta(days=2)).isoformat()
        outcomes = intake.ingest(db, client=_app(db, app_id), events=[
            _rating(1, REAL, occurred_at=early),
            {"event_id": "c", "type": "complaint", "sub": REAL, "complaint_category": "rude",
             "occurred_at": early}])
        assert [o.code for o in outcomes] == ["no_interaction", "no_interaction"]


def test_one_real_user_rates_once_per_order_or_day(database, app_id):
    with database.unit_of_work() as db:
        client = _app(db, app_id)
        outcomes = intake.ingest(db, client=client, events=[_rating(i, REAL) for i in range(50)]
                                 + [_rating(100, REAL, order_id="o-1"),
                                    _rating(101, REAL, order_id="o-1")])
        assert [o.status for o in outcomes].count("accepted") == 2
        assert _count(db, EventType.RATING) == 2


def test_opening_the_app_through_the_shell_issues_the_sub(database, settings, make_user):
    clock.freeze(NOW)
    app_id = make_miniapp(database, runtime="storefront").id
    user = make_user()
    with database.unit_of_work() as db:
        opened = shell.open_miniapp(db, settings=settings, actor=db.get(User, user.id),
                                    miniapp_id=app_id, locale="zh")
        shell.open_miniapp(db, settings=settings, actor=db.get(User, user.id),
                           miniapp_id=app_id, locale="zh")
    with database.unit_of_work() as db:
        assert db.scalar(select(IssuedSub.sub)) == opened.sub
        assert db.scalar(select(func.count(IssuedSub.id))) == 1
        (outcome,) = intake.ingest(db, client=_app(db, app_id), events=[
            {"event_id": "v", "type": "visit", "sub": opened.sub,
             "occurred_at": NOW.isoformat()}])
        assert outcome.status == "accepted"


def test_api_answers_403_for_an_unknown_user(client, database, app_id):
    response = client.post("/api/events", json=_rating(1, "ou_" + "ee" * 16),
                           headers={"X-Client-Id": app_id, "X-Client-Secret": SECRET})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "unknown_user"


def test_a_mini_app_cannot_pass_its_orders_off_as_the_platforms(database, app_id):
    """Scoring trusts orders whose stored id begins with "platform:" (the platform's own trade
    records): a mini-app sending such an id gets it stored as its own digest like any other."""
    with database.unit_of_work() as db:
        (outcome,) = intake.ingest(db, client=_app(db, app_id), events=[
            {"event_id": "platform:trade:2026:paid", "type": "order_placed", "sub": REAL,
             "order_id": "o1", "amount_fen": 99_900, "occurred_at": NOW.isoformat()}])
        assert outcome.status == "accepted"
        stored = db.scalar(select(BehaviourEvent.event_id))
        assert not stored.startswith("platform:") and len(stored) == 64


PUNCTUAL = {
    "order_accepted": {"order_id": "o1", "response_seconds": 30, "resolution": "on_time"},
    "order_ready": {"order_id": "o1", "duration_seconds": 0, "resolution": "on_time"},
    "delivery_done": {"order_id": "o1", "resolution": "on_time"},
    "delivery_incident": {"order_id": "o1", "complaint_category": "cancelled"},
}


@pytest.mark.parametrize("kind", sorted(PUNCTUAL))
def test_a_mini_app_cannot_report_its_own_punctuality(client, database, app_id, kind):
    """Accepted / ready on time, delivered on time and courier incidents are what the platform
    observed: a mini-app claiming them is refused with a clear error, and nothing is stored."""
    event = {"event_id": "p1", "type": kind, "sub": REAL, "occurred_at": NOW.isoformat(),
             **PUNCTUAL[kind]}
    with database.unit_of_work() as db:
        (outcome,) = intake.ingest(db, client=_app(db, app_id), events=[event])
        assert (outcome.status, outcome.code, outcome.field) == ("rejected", "forbidden", "type")
        assert "平台" in outcome.message  # in Chinese, the platform's default
        with pytest.raises(PermissionDenied):  # first-party code goes through record_platform
            intake.record(db, miniapp=_app(db, app_id), type=kind, event_id="p2", sub=REAL,
                          **PUNCTUAL[kind])
    # (the JSON API's schema knows only a complaint's resolutions: the claim is sent without)
    claim = {k: v for k, v in event.items() if k != "resolution"}
    response = client.post("/api/events", json=claim,
                           headers={"X-Client-Id": app_id, "X-Client-Secret": SECRET})
    assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"
    with database.unit_of_work() as db:
        assert _count(db) == 0


def test_the_platform_records_punctuality_once_per_key(database, app_id):
    with database.unit_of_work() as db:
        app = _app(db, app_id)
        for _ in range(2):
            intake.record_platform(db, miniapp=app, type=EventType.ORDER_ACCEPTED,
                                   key="order:o1:accepted", occurred_at=NOW, order_id="o1",
                                   response_seconds=420, resolution="late")
        long_key = "order:o1:incident:" + "x" * 80
        assert intake.record_platform(db, miniapp=app, type=EventType.DELIVERY_INCIDENT,
                                      key=long_key + "a", occurred_at=NOW, order_id="o1",
                                      complaint_category="cancelled")
        assert intake.record_platform(db, miniapp=app, type=EventType.DELIVERY_INCIDENT,
                                      key=long_key + "b", occurred_at=NOW, order_id="o1",
                                      complaint_category="cancelled")  # no truncation clash
        with pytest.raises(ValueError):
            intake.record_platform(db, miniapp=app, type=EventType.ORDER_READY, key="k",
                                   occurred_at=NOW, resolution="resolved")
        accepted = db.scalars(select(BehaviourEvent).where(
            BehaviourEvent.type == EventType.ORDER_ACCEPTED)).all()
        assert [(e.event_id, e.response_seconds, e.resolution) for e in accepted] == [
            ("platform:order:o1:accepted", 420, "late")]
        assert all(len(e.event_id) <= 64 and e.event_id.startswith("platform:")
                   for e in db.scalars(select(BehaviourEvent)))
        assert _count(db, EventType.DELIVERY_INCIDENT) == 2
