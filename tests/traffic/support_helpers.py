"""Helpers for the stage, points and campaign tests: a frozen moment, behaviour events written
straight to the table, and the figures a test compares before and after a rejected call."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from townsquare.core.clock import clock
from townsquare.events.models import BehaviourEvent, EventType
from townsquare.traffic.models import (
    CampaignEnrolment,
    PointsAccount,
    PointsEntry,
    Promise,
    Redemption,
)

# A Wednesday, 10:00 in Shanghai: the past local week is Monday 2 March to Sunday 8 March 2026.
NOW = datetime(2026, 3, 11, 2, 0, tzinfo=UTC)
LAST_WEEK = datetime(2026, 3, 4, 4, 0, tzinfo=UTC)  # Wednesday of the past week
_ids = itertools.count(1)


def freeze() -> datetime:
    clock.freeze(NOW)
    return NOW


def add_events(db, app, type: EventType, n: int, at: datetime, **fields: Any) -> None:
    """`n` events of one type for a world App at `at` (spread one minute apart)."""
    for i in range(n):
        found = dict(fields)
        db.add(BehaviourEvent(
            event_id=found.pop("event_id", f"t-{next(_ids)}"), type=type,
            occurred_at=at + timedelta(minutes=i), miniapp_id=app.id,
            merchant_id=app.merchant_id, category_code="grocery", **found,
        ))
    db.flush()


def snapshot(db) -> dict[str, Any]:
    """Everything a points or campaign call may write, to prove a rejected one wrote nothing."""
    def count(model) -> int:
        return db.scalar(select(func.count()).select_from(model))

    return {
        "balances": sorted(db.execute(select(PointsAccount.merchant_id, PointsAccount.balance))
                           .tuples()),
        "entries": count(PointsEntry),
        "redemptions": count(Redemption),
        "promises": sorted(db.execute(select(Promise.id, Promise.state)).tuples()),
        "enrolments": sorted(db.execute(
            select(CampaignEnrolment.id, CampaignEnrolment.withdrawn_at)).tuples()),
    }


def ledger_sum(db, merchant_id: int) -> int:
    return int(db.scalar(select(func.coalesce(func.sum(PointsEntry.delta), 0))
                         .where(PointsEntry.merchant_id == merchant_id)))
