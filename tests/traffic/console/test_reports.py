"""Console figures: a merchant's exposure by local day and source (its own only), promises'
pace and risk, and the operator's overview (supply against demand, Gini, new merchants' share)."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest

from tests.traffic.world import build_world
from townsquare.accounts.models import User
from townsquare.core.clock import clock
from townsquare.core.errors import PermissionDenied, ValidationFailed
from townsquare.events.models import BehaviourEvent, EventType
from townsquare.traffic.console import reports
from townsquare.traffic.models import (
    Campaign,
    CampaignState,
    PlanAllocation,
    Promise,
    PromiseKind,
    PromiseState,
    ServingPlan,
    Topic,
    TopicMember,
)

# 10:00 on Wednesday 11 March 2026 in Shanghai
NOW = datetime(2026, 3, 11, 2, 0, tzinfo=UTC)
ZONE = "Asia/Shanghai"
_ids = itertools.count(1)


@pytest.fixture
def world(database):
    clock.freeze(NOW)
    return build_world(database)


def events(db, app, type: EventType, n: int, at: datetime, reason: str = "organic") -> None:
    for _ in range(n):
        db.add(BehaviourEvent(
            event_id=f"rep-{next(_ids)}", type=type, occurred_at=at, miniapp_id=app.id,
            merchant_id=app.merchant_id, category_code="grocery", surface="feed",
            slot_reason=reason,
        ))
    db.flush()


def user(db, world, name: str) -> User:
    return db.get(User, getattr(world, name).id)


def test_exposure_is_grouped_by_local_day_and_source(database, world):
    brand, other = world.app("brand"), world.app("lookalike")
    with database.unit_of_work() as db:
        events(db, brand, EventType.EXPOSURE, 3, NOW)
        # 01:00 on the 11th in Shanghai, though still the 10th in UTC: today
        events(db, brand, EventType.EXPOSURE, 2, datetime(2026, 3, 10, 17, 0, tzinfo=UTC))
        # 23:30 on the 10th in Shanghai: yesterday
        events(db, brand, EventType.EXPOSURE, 4, datetime(2026, 3, 10, 15, 30, tzinfo=UTC),
               reason="sponsored")
        events(db, brand, EventType.CLICK, 1, datetime(2026, 3, 10, 15, 40, tzinfo=UTC),
               reason="sponsored")
        events(db, brand, EventType.EXPOSURE, 1, NOW - timedelta(days=2), reason="")
        events(db, brand, EventType.VISIT, 5, NOW)  # not an exposure: not counted
        events(db, brand, EventType.EXPOSURE, 7, NOW - timedelta(days=40))  # outside the window
        events(db, other, EventType.EXPOSURE, 9, NOW)  # another merchant's
    with database.unit_of_work() as db:
        rows = reports.exposure_by_source(
            db, actor=user(db, world, "owner"), merchant_public_id=brand.merchant_public_id,
            zone=ZONE,
        )
        assert [(r.day, r.source, r.impressions, r.clicks) for r in rows] == [
            (date(2026, 3, 9), "other", 1, 0),
            (date(2026, 3, 10), "sponsored", 4, 1),
            (date(2026, 3, 11), "organic", 5, 0),
        ]
        series = reports.daily_series(rows, measure="clicks")
        assert series[date(2026, 3, 10)] == {"sponsored": 1}
        operator = reports.exposure_by_source(
            db, actor=user(db, world, "operator"), merchant_public_id=brand.merchant_public_id,
            days=1, zone=ZONE,
        )
        assert [(r.day, r.impressions) for r in operator] == [(date(2026, 3, 11), 5)]
        with pytest.raises(PermissionDenied):
            reports.exposure_by_source(db, actor=user(db, world, "other_owner"),
                                       merchant_public_id=brand.merchant_public_id)
        with pytest.raises(ValidationFailed):
            reports.exposure_by_source(db, actor=user(db, world, "owner"),
                                       merchant_public_id=brand.merchant_public_id, days=0)


def promise(db, app, *, kind=PromiseKind.TIER_INCENTIVE, requested=1000, planned=1000,
            delivered=0, surfaces=("feed",), days_in=5, days_left=5,
            state=PromiseState.ACTIVE, source=None) -> Promise:
    row = Promise(kind=kind, source=source or f"test:{next(_ids)}", miniapp_id=app.id,
                  merchant_id=app.merchant_id, surfaces=list(surfaces), requested=requested,
                  planned=planned, delivered=delivered, starts_at=NOW - timedelta(days=days_in),
                  ends_at=NOW + timedelta(days=days_left), state=state)
    db.add(row)
    db.flush()
    return row


def test_promises_pace_and_risk(database, world):
    brand = world.app("brand")
    with database.unit_of_work() as db:
        behind = promise(db, brand, delivered=100).public_id  # half-way, 10% delivered
        on_track = promise(db, brand, delivered=500, planned=500).public_id
        short = promise(db, brand, kind=PromiseKind.POINTS, delivered=500, planned=300).public_id
        early = promise(db, brand, delivered=0, days_in=0, days_left=10).public_id
        done = promise(db, brand, delivered=1000, days_in=10, days_left=-1,
                       state=PromiseState.FULFILLED).public_id
        promise(db, brand, days_in=100, days_left=-60, state=PromiseState.EXPIRED)  # long ago
        promise(db, world.app("lookalike"), delivered=0)
    with database.unit_of_work() as db:
        found = {
            s.promise.public_id: s for s in reports.promises_for_merchant(
                db, actor=user(db, world, "owner"),
                merchant_public_id=brand.merchant_public_id,
            )
        }
        assert set(found) == {behind, on_track, short, early, done}
        assert found[behind].expected == 500 and found[behind].pace == pytest.approx(0.2)
        assert found[behind].behind and found[behind].at_risk
        assert found[on_track].pace == pytest.approx(1.0) and not found[on_track].at_risk
        assert found[short].short_planned and not found[short].behind and found[short].at_risk
        assert found[early].pace is None and not found[early].at_risk
        assert not found[done].at_risk and found[done].remaining == 0
        with pytest.raises(PermissionDenied):
            reports.promises_for_merchant(db, actor=user(db, world, "other_owner"),
                                          merchant_public_id=brand.merchant_public_id)


def test_gini_and_lorenz_on_known_values():
    # sorted [0, 0, 0, 0, 2, 2, 6]: 2·(5·2 + 6·2 + 7·6)/(7·10) − 8/7 = 48/70
    assert reports.gini([6, 0, 2, 0, 2, 0, 0]) == pytest.approx(48 / 70)
    assert reports.gini([5, 5, 5]) == pytest.approx(0.0)
    assert reports.gini([]) == 0.0
    curve = reports.lorenz([0, 0, 2, 2])
    assert curve[0] == (0.0, 0.0) and curve[-1] == (1.0, 1.0)
    assert dict(curve)[0.5] == pytest.approx(0.0)


def test_operator_overview(database, world):
    at = NOW - timedelta(hours=2)
    with database.unit_of_work() as db:
        events(db, world.app("brand"), EventType.EXPOSURE, 6, at)
        events(db, world.app("grocer"), EventType.EXPOSURE, 2, at)
        events(db, world.app("newcomer"), EventType.EXPOSURE, 2, at, reason="cold_start")
        events(db, world.app("clinic"), EventType.EXPOSURE, 50, NOW - timedelta(days=8))  # old
        events(db, world.app("clinic"), EventType.CLICK, 3, at)  # clicks are not impressions
        plan = ServingPlan(starts_at=NOW - timedelta(days=1), ends_at=NOW + timedelta(days=6),
                           method="exact", objective=1.0, solve_seconds=0.1,
                           supply={"feed|武汉|morning|resident": 1000,
                                   "feed|杭州|evening|guest": 500,
                                   "search|武汉|morning|resident": 200})
        db.add(plan)
        db.flush()
        tier = promise(db, world.app("grocer"), requested=600, planned=300, delivered=100)
        promise(db, world.app("clinic"), kind=PromiseKind.POINTS, surfaces=(), requested=80,
                planned=80, delivered=40)
        promise(db, world.app("brand"), kind=PromiseKind.CAMPAIGN, surfaces=("feed", "search"),
                requested=101, planned=101, delivered=0, days_in=0)
        promise(db, world.app("brand"), requested=999, state=PromiseState.EXPIRED)  # not active
        db.add(PlanAllocation(plan_id=plan.id, promise_id=tier.id, segment="feed|武汉|morning|"
                              "resident", surface="feed", city="武汉", daypart="morning",
                              audience="resident", planned=300, delivered=40))
        topic = Topic(slug="groceries", title_zh="买菜", title_en="Groceries")
        db.add_all([topic, Campaign(title_zh="春季", title_en="Spring", starts_on=NOW.date(),
                                    ends_on=NOW.date(), state=CampaignState.OPEN)])
        db.flush()
        db.add(TopicMember(topic_id=topic.id, miniapp_id=world.app("clinic").id))
    with database.unit_of_work() as db:
        overview = reports.operator_overview(db, actor=user(db, world, "operator"), now=NOW)
        # seven listed mini-apps, impressions [6, 2, 2, 0, 0, 0, 0] over the last 7 days
        assert overview.gini == pytest.approx(48 / 70)
        assert overview.impressions == 10 and overview.new_share == pytest.approx(0.2)
        rows = {s.surface: s for s in overview.surfaces}
        assert list(rows) == ["feed", "search", "*"]
        assert (rows["feed"].supply, rows["feed"].planned, rows["feed"].delivered) == (
            1500, 300, 40)
        assert rows["feed"].demand == {"tier_incentive": 500, "campaign": 51}
        assert rows["search"].supply == 200 and rows["search"].demand == {"campaign": 50}
        assert rows["*"].demand == {"points": 40} and rows["*"].supply == 0
        # the grocer's promise: planned 300 of the 500 it is still owed, and far behind pace
        assert [s.promise.id for s in overview.at_risk] == [tier.id]
        assert overview.counts["topics"] == 1 and overview.counts["applications"] == 1
        assert overview.counts["campaigns"] == 1 and overview.counts["campaigns_open"] == 1
        with pytest.raises(PermissionDenied):
            reports.operator_overview(db, actor=user(db, world, "owner"), now=NOW)
