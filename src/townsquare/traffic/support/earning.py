"""Which listed mini-apps meet each points-earning rule (the conditions `points.award` pays for).

Each rule reads real signals: the mini-app's listing, its published version's configuration and
its behaviour events over the past local week (Monday 00:00 to Monday 00:00 in the platform's
zone, labelled with its ISO week, e.g. `2026-W47`, which becomes part of the ledger reference).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from townsquare.events.models import BehaviourEvent, EventType
from townsquare.miniapps.models import MiniApp, MiniAppVersion, VersionState

PROFILE_MIN_DESCRIPTION = 20  # characters
STREAK_MIN_FULFILLED = 10
REPLIES_MIN_COUNT = 5
REPLIES_MAX_MEDIAN_SECONDS = 600


@dataclass(frozen=True)
class Week:
    start: datetime  # UTC instants of the local week's bounds
    end: datetime
    label: str  # ISO week, e.g. 2026-W47


def past_week(now: datetime, timezone: str) -> Week:
    """The last complete local week (Monday to Sunday) before `now`."""
    zone = ZoneInfo(timezone)
    today = now.astimezone(zone).date()
    monday = today - timedelta(days=today.weekday() + 7)
    start = datetime.combine(monday, time(), zone)
    end = datetime.combine(monday + timedelta(days=7), time(), zone)
    year, week, _ = monday.isocalendar()
    return Week(start=start, end=end, label=f"{year}-W{week:02d}")


def week_of(now: datetime, timezone: str) -> Week:
    """The local week (Monday to Sunday) that `now` falls in: the period of the earning caps."""
    zone = ZoneInfo(timezone)
    today = now.astimezone(zone).date()
    monday = today - timedelta(days=today.weekday())
    year, week, _ = monday.isocalendar()
    return Week(start=datetime.combine(monday, time(), zone),
                end=datetime.combine(monday + timedelta(days=7), time(), zone),
                label=f"{year}-W{week:02d}")


def complete_profiles(db: Session) -> set[int]:
    """Listed mini-apps with an icon, a description of 20+ characters and at least one tag."""
    stmt = select(MiniApp.id, MiniApp.icon, MiniApp.description, MiniApp.tags).where(
        MiniApp.listed.is_(True)
    )
    return {
        ma_id for ma_id, icon, description, tags in db.execute(stmt)
        if (icon or "").strip() and len((description or "").strip()) >= PROFILE_MIN_DESCRIPTION
        and any(isinstance(t, str) and t.strip() for t in (tags or []))
    }


def store_pickups(db: Session) -> set[int]:
    """Listed mini-apps whose published version offers store pickup (`store_pickup: true`)."""
    stmt = (
        select(MiniAppVersion.miniapp_id, MiniAppVersion.config)
        .join(MiniApp, MiniApp.id == MiniAppVersion.miniapp_id)
        .where(MiniApp.listed.is_(True), MiniAppVersion.state == VersionState.PUBLISHED)
    )
    return {
        ma_id for ma_id, config in db.execute(stmt)
        if isinstance(config, dict) and config.get("store_pickup") is True
    }


def on_time_streaks(db: Session, *, week: Week) -> set[int]:
    """10+ fulfilled orders in the week and no order the merchant cancelled."""
    fulfilled = case((BehaviourEvent.type == EventType.ORDER_FULFILLED, 1), else_=0)
    cancelled = case(
        (
            (BehaviourEvent.type == EventType.ORDER_CANCELLED)
            & (BehaviourEvent.cancelled_by == "merchant"),
            1,
        ),
        else_=0,
    )
    stmt = (
        select(BehaviourEvent.miniapp_id, func.sum(fulfilled), func.sum(cancelled))
        .where(
            BehaviourEvent.type.in_([EventType.ORDER_FULFILLED, EventType.ORDER_CANCELLED]),
            BehaviourEvent.occurred_at >= week.start,
            BehaviourEvent.occurred_at < week.end,
        )
        .group_by(BehaviourEvent.miniapp_id)
    )
    return {
        ma_id for ma_id, done, dropped in db.execute(stmt)
        if int(done or 0) >= STREAK_MIN_FULFILLED and not int(dropped or 0)
    }


def quick_replies(db: Session, *, week: Week) -> set[int]:
    """5+ message responses in the week with a median (p50) response of 10 minutes or less."""
    stmt = select(BehaviourEvent.miniapp_id, BehaviourEvent.response_seconds).where(
        BehaviourEvent.type == EventType.MESSAGE_RESPONSE,
        BehaviourEvent.response_seconds.is_not(None),
        BehaviourEvent.occurred_at >= week.start,
        BehaviourEvent.occurred_at < week.end,
    )
    times: dict[int, list[int]] = defaultdict(list)
    for ma_id, seconds in db.execute(stmt):
        if seconds is not None:  # always, by the query's filter
            times[ma_id].append(seconds)
    return {
        ma_id for ma_id, values in times.items()
        if len(values) >= REPLIES_MIN_COUNT
        and statistics.median(values) <= REPLIES_MAX_MEDIAN_SECONDS
    }


def qualifying(db: Session, *, codes: list[str], week: Week) -> dict[str, set[int]]:
    """Per rule code in `codes` that has an evaluator: the mini-app ids that meet it."""
    evaluators = {
        "complete_profile": lambda: complete_profiles(db),
        "store_pickup": lambda: store_pickups(db),
        "on_time_streak": lambda: on_time_streaks(db, week=week),
        "quick_replies": lambda: quick_replies(db, week=week),
    }
    return {code: evaluators[code]() for code in codes if code in evaluators}
