"""Traffic profiles follow the newest finished cycle, the growth stage and recent outcomes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from tests.traffic.plan_world import exposures, score_cycle
from tests.traffic.world import build_world
from townsquare.core.clock import clock
from townsquare.events.models import EventType
from townsquare.miniapps.models import MiniApp
from townsquare.scoring.models import CycleState
from townsquare.traffic import config, profiles
from townsquare.traffic.models import Stage, TrafficProfile

NOW = datetime(2026, 3, 10, 4, 0, tzinfo=UTC)


def test_refresh_takes_scores_stage_and_window_counts(database):
    clock.freeze(NOW)
    world = build_world(database)
    cfg = config.DEFAULT_CONFIG
    with database.unit_of_work() as db:
        score_cycle(db, world, as_of=NOW.date() - timedelta(days=14), at=NOW,
                    tiers={"grocer": "D"})
        score_cycle(db, world, as_of=NOW.date() - timedelta(days=7), at=NOW)
        failed = score_cycle(db, world, as_of=NOW.date(), at=NOW, tiers={"grocer": "S"})
        failed.state = CycleState.FAILED  # not done: must be ignored
        exposures(db, world, "newcomer", count=5, at=NOW - timedelta(days=1))
        exposures(db, world, "newcomer", count=2, at=NOW - timedelta(hours=3),
                  type=EventType.CLICK)
        exposures(db, world, "newcomer", count=1, at=NOW - timedelta(hours=2),
                  type=EventType.ORDER_PLACED)
        # outside the window: not counted
        exposures(db, world, "newcomer", count=9,
                  at=NOW - timedelta(days=cfg.stages.window_days + 1))
        assert profiles.refresh(db, config=cfg, now=NOW) == 7
    with database.unit_of_work() as db:
        rows = {p.miniapp_id: p for p in db.scalars(select(TrafficProfile))}
        grocer = rows[world.app("grocer").id]
        assert (grocer.tier, grocer.quality) == ("A", 80.0)  # the newest DONE cycle
        newcomer = rows[world.app("newcomer").id]
        assert (newcomer.impressions, newcomer.clicks, newcomer.orders) == (5, 2, 1)
        assert newcomer.stage == Stage.NEW and newcomer.tier is None and newcomer.quality is None
        assert rows[world.app("brand").id].stage != Stage.NEW  # 400 days listed
        assert newcomer.refreshed_at == NOW


def test_refresh_drops_unlisted_and_keeps_scores_without_any_cycle(database):
    clock.freeze(NOW)
    world = build_world(database)
    with database.unit_of_work() as db:
        db.get(MiniApp, world.app("declining").id).listed = False
        assert profiles.refresh(db, config=config.DEFAULT_CONFIG, now=NOW) == 6
        assert profiles.refresh(db, config=config.DEFAULT_CONFIG, now=NOW) == 6  # idempotent
    with database.unit_of_work() as db:
        rows = {p.miniapp_id: p for p in db.scalars(select(TrafficProfile))}
        assert world.app("declining").id not in rows
        assert len(rows) == 6
        # no finished cycle yet: the tier and quality already known are kept
        assert rows[world.app("brand").id].tier == "S"
