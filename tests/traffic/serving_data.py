"""Helpers for the serving tests: a frozen morning, a serving plan written straight as rows, a few
extra new mini-apps, serving a surface, and readers for exposure events and delivered counters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from tests.traffic.world import CITY, World
from townsquare.core.clock import clock
from townsquare.core.database import Database
from townsquare.events.models import BehaviourEvent, EventType
from townsquare.merchants.models import Category, Merchant
from townsquare.miniapps.models import MiniApp, MiniAppKind
from townsquare.traffic import config as traffic_config
from townsquare.traffic.models import (
    PlanAllocation,
    Promise,
    PromiseKind,
    ServingPlan,
    Stage,
    TrafficProfile,
)
from townsquare.traffic.serving import service as serving

# Monday 2 March 2026, 10:00 in Shanghai: the morning part of the day
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
PLAN_START = datetime(2026, 3, 1, 16, 0, tzinfo=UTC)  # Monday 00:00 local
PLAN_END = PLAN_START + timedelta(days=7)


def freeze() -> None:
    clock.freeze(NOW)
    serving.forget_caches()


@dataclass(frozen=True)
class Planned:
    promise_id: int
    promise_public_id: str
    allocation_id: int


def add_plan(
    database: Database, world: World, promises: list[tuple[str, PromiseKind, int, int]], *,
    surface: str = "feed", city: str = CITY, audience: str = "guest", daypart: str = "morning",
) -> dict[str, Planned]:
    """A plan over this week with one allocation per (app key, kind, planned, delivered)."""
    found: dict[str, Planned] = {}
    with database.unit_of_work() as db:
        plan = ServingPlan(starts_at=PLAN_START, ends_at=PLAN_END, method="exact", objective=0.0,
                           solve_seconds=0.0)
        db.add(plan)
        db.flush()
        for key, kind, planned, delivered in promises:
            app = world.app(key)
            promise = Promise(kind=kind, source=f"test:{key}", miniapp_id=app.id,
                              merchant_id=app.merchant_id, surfaces=[surface],
                              requested=planned, planned=planned, delivered=delivered,
                              starts_at=PLAN_START, ends_at=PLAN_END)
            db.add(promise)
            db.flush()
            segment = f"{surface}|{city}|{daypart}|{audience}"
            allocation = PlanAllocation(plan_id=plan.id, promise_id=promise.id, segment=segment,
                                        surface=surface, city=city, daypart=daypart,
                                        audience=audience, planned=planned, delivered=delivered)
            db.add(allocation)
            db.flush()
            found[key] = Planned(promise.id, promise.public_id, allocation.id)
    return found


def add_new_apps(database: Database, n: int, *, profile: bool = True) -> list[int]:
    """`n` listed new mini-apps in CITY (stage new, unscored); without a profile if asked."""
    ids = []
    with database.unit_of_work() as db:
        category = db.scalar(select(Category).where(Category.code == "grocery"))
        for i in range(n):
            merchant = Merchant(name=f"新开小店{i}", category_id=category.id, cities=[CITY])
            db.add(merchant)
            db.flush()
            app = MiniApp(merchant_id=merchant.id, category_id=category.id,
                          kind=MiniAppKind.EXTERNAL, client_secret_digest="0" * 64,
                          name=f"新开小店{i}号", icon="🏪", description="刚开业", tags=[],
                          cities=[CITY], listed=True)
            db.add(app)
            db.flush()
            if profile:
                db.add(TrafficProfile(miniapp_id=app.id, merchant_id=merchant.id,
                                      stage=Stage.NEW, quality=None, tier=None))
            ids.append(app.id)
    return ids


def configure(database: Database, world: World, **values) -> None:
    with database.unit_of_work() as db:
        traffic_config.save(db, actor=db.merge(world.operator), data=values, note="test")


# The paid-traffic rules before issue 19: tier ≥ C, no score floor, bid × quality, no share cap
# (the world's look-alike, tier C with 55 points, bids in the tests of the auction's mechanics).
LEGACY_ADS = {"ads_min_tier": "C", "ads_min_score": 0.0, "ads_quality_exponent": 1.0,
              "ads_max_merchant_share": 1.0}


def legacy_ranking(database: Database, world: World, *, ads: bool = False) -> None:
    """Serve the as-built way: guaranteed items first, most behind first; organic by score ×
    relevance (tests of pacing and recording that name positions; the "value" ranking, the
    default, has its own tests in test_value.py and test_value_serving.py); `ads`: with the
    old paid-traffic rules too."""
    configure(database, world, ranking="quality", **(LEGACY_ADS if ads else {}))


def exposures(database: Database, **where) -> list[BehaviourEvent]:
    with database.unit_of_work() as db:
        stmt = select(BehaviourEvent).where(BehaviourEvent.type == EventType.EXPOSURE)
        for name, value in where.items():
            stmt = stmt.where(getattr(BehaviourEvent, name) == value)
        return list(db.scalars(stmt.order_by(BehaviourEvent.id)))


def count_events(database: Database, kind: EventType) -> int:
    with database.unit_of_work() as db:
        return db.scalar(
            select(func.count()).select_from(BehaviourEvent).where(BehaviourEvent.type == kind)
        )


def delivered(database: Database, planned: Planned) -> tuple[int, int]:
    """(allocation delivered, promise delivered)."""
    with database.unit_of_work() as db:
        return (db.get(PlanAllocation, planned.allocation_id).delivered,
                db.get(Promise, planned.promise_id).delivered)


def serve(database: Database, settings, surface="feed", city=CITY, user=None, **kwargs):
    """One serving of `surface` in its own transaction."""
    with database.unit_of_work() as db:
        return serving.serve(db, settings=settings, surface=surface, city=city,
                             user=db.merge(user) if user else None, **kwargs)


def reasons_for(database: Database, settings, app_id: int, times: int) -> list:
    """The slot reason `app_id` was served for, in each of `times` feed servings."""
    return [next(i.reason for i in serve(database, settings).items if i.card.id == app_id)
            for _ in range(times)]
