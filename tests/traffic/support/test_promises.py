"""Tier incentives and cold-start budgets are promised once; ended promises are closed."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
from sqlalchemy import select

from tests.traffic.plan_world import score_cycle
from tests.traffic.world import build_world
from townsquare.core.clock import clock
from townsquare.traffic import config, profiles
from townsquare.traffic.models import Promise, PromiseKind, PromiseState
from townsquare.traffic.support import promises

NOW = datetime(2026, 3, 10, 4, 0, tzinfo=UTC)  # a Tuesday, 12:00 in Shanghai
CFG = config.DEFAULT_CONFIG
ZONE = "Asia/Shanghai"


def sync(db, now=NOW):
    profiles.refresh(db, config=CFG, now=now)
    return promises.sync(db, config=CFG, now=now, rng=np.random.default_rng(1), timezone=ZONE)


def by_kind(db, kind):
    return list(db.scalars(select(Promise).where(Promise.kind == kind).order_by(Promise.id)))


def test_periods_tile_the_calendar():
    start = promises.period_start(NOW, plan_days=7, timezone=ZONE)
    assert start.date() == date(2026, 3, 9) and start.weekday() == 0 and start.hour == 0
    later = promises.period_start(NOW + timedelta(days=6), plan_days=7, timezone=ZONE)
    assert later.date() == date(2026, 3, 16)
    assert promises.period_start(NOW, plan_days=1, timezone=ZONE).date() == date(2026, 3, 10)


def test_tier_incentives_once_per_cycle_and_superseded_by_the_next(database):
    clock.freeze(NOW)
    world = build_world(database)
    with database.unit_of_work() as db:
        cycle = score_cycle(db, world, as_of=NOW.date(), at=NOW)
        sync(db)
        sync(db)  # a second run adds nothing
        tier = by_kind(db, PromiseKind.TIER_INCENTIVE)
        got = {p.miniapp_id: p.requested for p in tier}
        assert got == {
            world.app("brand").id: 3000, world.app("grocer").id: 1500,
            world.app("clinic").id: 600, world.app("faraway").id: 1500,
        }  # tiers C and D earn nothing by default, the unscored newcomer neither
        first = tier[0]
        assert first.source == f"cycle:{cycle.as_of.isoformat()}"
        assert first.surfaces == CFG.tier_surfaces
        assert first.ends_at - first.starts_at == timedelta(days=7)
        first.delivered = 3000  # all delivered before the next cycle arrives
    later = NOW + timedelta(days=7)
    with database.unit_of_work() as db:
        score_cycle(db, world, as_of=later.date(), at=later, tiers={"brand": "B"})
        active = sync(db, now=later - timedelta(hours=1))
        tier = by_kind(db, PromiseKind.TIER_INCENTIVE)
        assert len(tier) == 8
        old = [p for p in tier if p.source.endswith(NOW.date().isoformat())]
        assert old[0].state == PromiseState.FULFILLED  # delivered in full
        assert {p.state for p in old[1:]} == {PromiseState.EXPIRED}
        new = [p for p in tier if p not in old]
        assert {p.state for p in new} == {PromiseState.ACTIVE}
        assert {p.requested for p in new if p.miniapp_id == world.app("brand").id} == {600}
        assert {p.id for p in active if p.kind == PromiseKind.TIER_INCENTIVE} == {
            p.id for p in new}


def test_cold_start_budget_once_per_period_for_new_apps(database):
    clock.freeze(NOW)
    world = build_world(database)
    with database.unit_of_work() as db:
        sync(db)
        sync(db)
        cold = by_kind(db, PromiseKind.COLD_START)
        assert [p.miniapp_id for p in cold] == [world.app("newcomer").id]  # the only new one
        assert 0 < cold[0].requested <= CFG.cold_start_max_per_miniapp
        assert cold[0].source == "cold:2026-03-09"
        assert cold[0].surfaces == ["feed"]
        assert cold[0].ends_at.astimezone(UTC) == datetime(2026, 3, 15, 16, 0, tzinfo=UTC)
    with database.unit_of_work() as db:  # the next period: a fresh budget, the old one ends
        active = sync(db, now=NOW + timedelta(days=6))
        cold = by_kind(db, PromiseKind.COLD_START)
        assert [p.source for p in cold] == ["cold:2026-03-09", "cold:2026-03-16"]
        assert [p.state for p in cold] == [PromiseState.EXPIRED, PromiseState.ACTIVE]
        assert cold[1].id in {p.id for p in active} and cold[0].id not in {p.id for p in active}


def test_ended_promises_are_fulfilled_or_expired(database):
    clock.freeze(NOW)
    world = build_world(database)
    app = world.app("grocer")

    def promise(source, delivered, ends):
        return Promise(kind=PromiseKind.CAMPAIGN, source=source, miniapp_id=app.id,
                       merchant_id=app.merchant_id, requested=100, delivered=delivered,
                       starts_at=NOW - timedelta(days=3), ends_at=ends)

    with database.unit_of_work() as db:
        full = promise("campaign:a", 100, NOW)
        short = promise("campaign:b", 99, NOW - timedelta(hours=1))
        running = promise("campaign:c", 0, NOW + timedelta(days=1))
        future = promise("campaign:d", 0, NOW + timedelta(days=30))
        future.starts_at = NOW + timedelta(days=20)  # starts after the plan period
        db.add_all([full, short, running, future])
        db.flush()
        active = sync(db)
        assert (full.state, short.state, running.state) == (
            PromiseState.FULFILLED, PromiseState.EXPIRED, PromiseState.ACTIVE)
        campaign = [p for p in active if p.kind == PromiseKind.CAMPAIGN]
        assert campaign == [running]
