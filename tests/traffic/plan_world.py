"""Helpers for the planning tests: a finished scoring cycle from the world's tiers, and exposure
events written straight into the behaviour log."""

from __future__ import annotations

import itertools
from datetime import date, datetime

from sqlalchemy.orm import Session

from tests.traffic.world import World
from townsquare.events import intake
from townsquare.events.models import EventType
from townsquare.scoring import config_versions
from townsquare.scoring.models import CycleState, MiniAppScore, ScoreCycle

_ids = itertools.count(1)


def score_cycle(db: Session, world: World, *, as_of: date, at: datetime,
                tiers: dict[str, str | None] | None = None) -> ScoreCycle:
    """A DONE cycle scoring every world app with its tier and quality (or `tiers` overrides)."""
    version = config_versions.active_version(db)
    cycle = ScoreCycle(as_of=as_of, config_version_id=version.id, state=CycleState.DONE,
                       started_at=at, finished_at=at)
    db.add(cycle)
    db.flush()
    for key, app in world.apps.items():
        tier = (tiers or {}).get(key, app.tier)
        db.add(MiniAppScore(
            cycle_id=cycle.id, miniapp_id=app.id, category_code="grocery",
            state="scored" if tier else "insufficient_data",
            overall=app.quality if tier else None, tier=tier,
        ))
    db.flush()
    return cycle


def exposures(db: Session, world: World, key: str, *, count: int, at: datetime,
              surface: str = "feed", city: str = "武汉", audience: str = "resident",
              type: EventType = EventType.EXPOSURE) -> None:
    """`count` events of one app at one moment."""
    app = world.app(key)
    intake.insert_rows(db, [
        {
            "event_id": f"test-{next(_ids)}", "type": type, "occurred_at": at,
            "miniapp_id": app.id, "merchant_id": app.merchant_id, "category_code": "grocery",
            "city": city, "surface": surface, "audience": audience,
        }
        for _ in range(count)
    ])
    db.flush()
