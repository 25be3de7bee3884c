"""Traffic profiles: one row per listed mini-app with what serving and planning read in one look
(growth stage, service score and tier of the newest finished cycle, recent exposure outcomes).

`refresh` rebuilds them at the start of every planning run; they are a cache, never the source of
truth (stages come from `traffic.stages`, scores from `scoring`, outcomes from behaviour events).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case, delete, func, select
from sqlalchemy.orm import Session

from townsquare.events.models import PLATFORM_PREFIX, BehaviourEvent, EventType
from townsquare.miniapps.models import MiniApp
from townsquare.scoring import Standing, standings
from townsquare.traffic.config import TrafficConfig
from townsquare.traffic.models import Stage, TrafficProfile

_OUTCOMES = {
    EventType.EXPOSURE: "impressions",
    EventType.CLICK: "clicks",
    EventType.ORDER_PLACED: "orders",
}


def _outcomes(db: Session, *, since: datetime, until: datetime) -> dict[int, dict[str, int]]:
    """Exposures, clicks and orders per mini-app in the window, in one grouped query."""
    platform = BehaviourEvent.event_id.startswith(PLATFORM_PREFIX)
    rows = db.execute(
        select(BehaviourEvent.miniapp_id, BehaviourEvent.type,
               func.count(), func.sum(case((platform, 1), else_=0)))
        .where(
            BehaviourEvent.type.in_(list(_OUTCOMES)),
            BehaviourEvent.occurred_at >= since,
            BehaviourEvent.occurred_at < until,
        )
        .group_by(BehaviourEvent.miniapp_id, BehaviourEvent.type)
    )
    found: dict[int, dict[str, int]] = {}
    for miniapp_id, kind, count, by_platform in rows:
        # orders: the platform's own trade records win where it saw any (docs/scoring.md)
        counted = int(by_platform or 0) or int(count)
        found.setdefault(miniapp_id, {})[_OUTCOMES[EventType(kind)]] = counted
    return found


def refresh(db: Session, *, config: TrafficConfig, now: datetime) -> int:
    """Upsert the profile of every listed mini-app, drop unlisted ones; returns the count kept."""
    from townsquare.traffic.support import stages

    listed = dict(db.execute(select(MiniApp.id, MiniApp.merchant_id).where(MiniApp.listed)).all())
    staged = stages.compute(db, config=config, now=now)
    scores = standings(db)  # the newest finished cycle's
    since = now - timedelta(days=config.stages.window_days)
    outcomes = _outcomes(db, since=since, until=now)
    existing = {p.miniapp_id: p for p in db.scalars(select(TrafficProfile))}
    stale = [miniapp_id for miniapp_id in existing if miniapp_id not in listed]
    if stale:
        db.execute(delete(TrafficProfile).where(TrafficProfile.miniapp_id.in_(stale)))
    for miniapp_id, merchant_id in listed.items():
        profile = existing.get(miniapp_id)
        if profile is None:
            profile = TrafficProfile(miniapp_id=miniapp_id, merchant_id=merchant_id)
            db.add(profile)
        stage, detail = staged.get(miniapp_id, (Stage.NEW, {}))
        profile.merchant_id = merchant_id
        profile.stage = Stage(stage)
        profile.stage_detail = dict(detail)
        # Before the first finished cycle nothing is known: keep what the profile holds.
        if scores is not None:
            standing = scores.by_miniapp.get(miniapp_id, Standing(None, None))
            profile.quality, profile.tier = standing.score, standing.tier
        counts = outcomes.get(miniapp_id, {})
        profile.impressions = counts.get("impressions", 0)
        profile.clicks = counts.get("clicks", 0)
        profile.orders = counts.get("orders", 0)
        profile.refreshed_at = now
    db.flush()
    return len(listed)
