"""Faster reaction (scoring/interim.py): a spike of complaints the platform observed re-scores
that mini-app between cycles, once per spike; its tier promises pause while its complaint cap
holds. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert, select

from tests.scoring.cycle_world import AS_OF, NOW, Market, build_market
from townsquare.core.audit import AuditEntry
from townsquare.core.clock import clock
from townsquare.events.models import BehaviourEvent
from townsquare.miniapps.models import MiniApp
from townsquare.scoring import capped, cycles, interim, jobs, standings
from townsquare.scoring.model.config import DEFAULT_CONFIG
from townsquare.scoring.models import MiniAppScore
from townsquare.traffic.config import TrafficConfig
from townsquare.traffic.models import Promise, PromiseKind
from townsquare.traffic.support import promises


@pytest.fixture
def market(database, settings) -> Market:
    built = build_market(database)
    with database.unit_of_work() as db:
        cycles.run_cycle(db, settings=settings, as_of=AS_OF, actor=None)
    return built


def _app(db, public_id: str) -> MiniApp:
    return db.scalar(select(MiniApp).where(MiniApp.public_id == public_id))


def _complaints(db, app: MiniApp, n: int, *, platform: bool = True, hours_ago: float = 1):
    at = clock.now() - timedelta(hours=hours_ago)
    prefix = "platform:test:" if platform else "reported-"
    db.execute(insert(BehaviourEvent), [{
        "event_id": f"{prefix}{app.public_id}-{k}-{hours_ago}", "type": "complaint",
        "occurred_at": at, "received_at": at, "miniapp_id": app.id,
        "merchant_id": app.merchant_id, "category_code": "food", "city": "武汉",
        "user_sub": f"u{k}", "complaint_category": "late", "resolution": "unresolved",
    } for k in range(n)])


def _best(market: Market) -> str:
    return max(market.competitors, key=market.competitors.get)


def test_a_platform_observed_spike_is_a_spike_and_a_reported_one_is_not(database, market):
    clock.freeze(NOW + timedelta(hours=3))
    with database.unit_of_work() as db:
        best, other = _app(db, _best(market)), _app(db, market.ours)
        _complaints(db, best, 5)
        _complaints(db, other, 50, platform=False)  # a competitor cannot trigger it
        found = interim.spikes(db, now=clock.now(), config=DEFAULT_CONFIG, window_days=28)
        assert [(s.miniapp_id, s.recent) for s in found] == [(best.id, 5)]
        # five are below a minimum of six however quiet the mini-app was
        fewer = interim.spikes(db, now=clock.now(), config=DEFAULT_CONFIG.__class__(
            spike_min_events=6), window_days=28)
        assert fewer == []


def test_a_spike_re_scores_the_mini_app_between_cycles_once(database, settings, market):
    clock.freeze(NOW + timedelta(hours=3))
    with database.unit_of_work() as db:
        best = _app(db, _best(market))
        before = standings(db, miniapp_ids=[best.id]).by_miniapp[best.id]
        _complaints(db, best, 80)
    assert jobs.run_interim(database, settings=settings) == [best.id]
    with database.unit_of_work() as db:
        after = standings(db, miniapp_ids=[best.id]).by_miniapp[best.id]
        row = db.scalar(select(MiniAppScore).where(MiniAppScore.miniapp_id == best.id))
        assert after.score < before.score and after.tier != before.tier
        assert row.result["interim"]["cycle_overall"] == before.score
        assert row.result["interim"]["complaints_and_refunds"] == 80
        assert row.result["cap"], "the complaint cap is tripped"
        assert capped(db, miniapp_ids=[best.id]) == {best.id}
        assert db.scalar(select(AuditEntry.action).where(
            AuditEntry.action == "scoring.interim_rescore")) is not None
    # answered: the same spike does not re-score again; a new complaint of it does
    clock.freeze(NOW + timedelta(hours=4))
    assert jobs.run_interim(database, settings=settings) == []
    with database.unit_of_work() as db:
        _complaints(db, _app(db, _best(market)), 3, hours_ago=0.1)
    assert jobs.run_interim(database, settings=settings) == [best.id]


def test_no_spike_no_re_score(database, settings, market):
    clock.freeze(NOW + timedelta(hours=3))
    with database.unit_of_work() as db:
        _complaints(db, _app(db, _best(market)), 30, hours_ago=60)  # days ago: no spike now
    assert jobs.run_interim(database, settings=settings) == []


def test_tier_promises_pause_while_the_complaint_cap_holds(database, settings, market):
    clock.freeze(NOW + timedelta(hours=3))
    config = TrafficConfig()
    with database.unit_of_work() as db:
        best, ours = _app(db, _best(market)), _app(db, market.ours)
        for app in (best, ours):
            for kind in (PromiseKind.TIER_INCENTIVE, PromiseKind.COLD_START):
                db.add(Promise(kind=kind, source="cycle:test", miniapp_id=app.id,
                               merchant_id=app.merchant_id, surfaces=[], requested=100,
                               starts_at=clock.now(), ends_at=clock.now() + timedelta(days=7)))
        db.flush()
        planned = promises.active_for_plan(db, config=config, now=clock.now())
        assert len(planned) == 4
        _complaints(db, best, 80)
    jobs.run_interim(database, settings=settings)
    with database.unit_of_work() as db:
        planned = promises.active_for_plan(db, config=config, now=clock.now())
        kept = {(p.miniapp_id, p.kind) for p in planned}
        best_id = _app(db, _best(market)).id
        assert (best_id, PromiseKind.TIER_INCENTIVE) not in kept  # paused, still active
        assert (best_id, PromiseKind.COLD_START) in kept and len(kept) == 3
        paused = db.scalar(select(Promise).where(Promise.miniapp_id == best_id,
                                                 Promise.kind == PromiseKind.TIER_INCENTIVE))
        assert paused.state.value == "active"
