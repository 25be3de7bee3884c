"""Growth stages (new, growing, mature, declining) from age and activity, with the reason shown.

`stage_for` is the pure rule (config `StageRules`), checked in this order:
1. new: listed fewer than `new_max_days` days;
2. declining: orders in the recent window fell below `declining_ratio` × the previous window's,
   once the previous window had at least `declining_min_previous_orders` orders;
3. mature: listed at least `mature_min_days` days and at least `mature_min_orders` orders in the
   window;
4. otherwise growing.
Age counts from the first publication (the approval time of the mini-app's first version that went
live), or from the mini-app's creation when it has no reviewed version (e.g. imported apps).
Orders are ORDER_PLACED behaviour events. `compute` evaluates every listed mini-app with one
grouped query; `traffic.profiles.refresh` stores the result in `traffic_profiles`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session, lazyload

from townsquare.accounts.models import User
from townsquare.core.i18n import N_, gettext
from townsquare.events.models import PLATFORM_PREFIX, BehaviourEvent, EventType
from townsquare.merchants import service as merchants
from townsquare.merchants.models import Merchant
from townsquare.miniapps.models import MiniApp, MiniAppVersion, VersionState
from townsquare.traffic.config import StageRules, TrafficConfig
from townsquare.traffic.models import Stage, TrafficProfile

# A merchant's stage is the most advanced of its listed mini-apps' stages, in life-cycle order:
# new → growing → mature → declining (declining comes after maturity: activity has fallen).
ORDER = (Stage.NEW, Stage.GROWING, Stage.MATURE, Stage.DECLINING)

LABELS = {
    Stage.NEW: N_("Newly listed"),
    Stage.GROWING: N_("Growing"),
    Stage.MATURE: N_("Mature"),
    Stage.DECLINING: N_("Declining"),
}
_EXPLANATIONS = {
    Stage.NEW: N_("Listed {listed_days} days, fewer than {new_max_days}: new."),
    Stage.DECLINING: N_(
        "{orders_window} orders in the last {window_days} days, below {declining_ratio_pct}% of "
        "the {orders_previous} in the {window_days} days before: declining."
    ),
    Stage.MATURE: N_(
        "Listed {listed_days} days (at least {mature_min_days}) with {orders_window} orders in the "
        "last {window_days} days (at least {mature_min_orders}): mature."
    ),
    Stage.GROWING: N_(
        "Listed {listed_days} days with {orders_window} orders in the last {window_days} days; "
        "mature from {mature_min_days} days and {mature_min_orders} orders: growing."
    ),
}
_PUBLISHED = (VersionState.PUBLISHED, VersionState.SUPERSEDED)


def stage_for(
    *, listed_days: int, orders_window: int, orders_previous: int, rules: StageRules
) -> tuple[Stage, dict[str, Any]]:
    """The stage and a detail dict naming the rule that fired and the figures it compared."""
    detail: dict[str, Any] = {
        "listed_days": listed_days,
        "orders_window": orders_window,
        "orders_previous": orders_previous,
        "window_days": rules.window_days,
        "new_max_days": rules.new_max_days,
        "mature_min_days": rules.mature_min_days,
        "mature_min_orders": rules.mature_min_orders,
        "declining_ratio": rules.declining_ratio,
        "declining_min_previous_orders": rules.declining_min_previous_orders,
    }
    if listed_days < rules.new_max_days:
        stage = Stage.NEW
    elif (
        orders_previous >= rules.declining_min_previous_orders
        and orders_window < rules.declining_ratio * orders_previous
    ):
        stage = Stage.DECLINING
    elif listed_days >= rules.mature_min_days and orders_window >= rules.mature_min_orders:
        stage = Stage.MATURE
    else:
        stage = Stage.GROWING
    detail["rule"] = stage.value
    return stage, detail


def explain(stage: Stage | str, detail: dict[str, Any]) -> str:
    """The rule that decided the stage, as one translated sentence for the merchant."""
    try:
        stage = Stage(stage)
        values = dict(detail)
        values["declining_ratio_pct"] = round(float(detail.get("declining_ratio", 0)) * 100)
        return gettext(_EXPLANATIONS[stage]).format(**values)
    except (KeyError, ValueError, TypeError):  # an old or hand-made detail
        if isinstance(stage, Stage):
            return gettext(LABELS.get(stage, N_("Unknown")))
        return gettext(N_("Unknown"))  # not a stage at all


def label(stage: Stage | str) -> str:
    return gettext(LABELS.get(Stage(stage), N_("Unknown")))


def listed_since(db: Session, *, merchant_id: int | None = None) -> dict[int, datetime]:
    """Per listed mini-app: its first publication time, or its creation time without versions."""
    first = (
        select(MiniAppVersion.miniapp_id, func.min(MiniAppVersion.decided_at).label("at"))
        .where(MiniAppVersion.state.in_(_PUBLISHED))
        .group_by(MiniAppVersion.miniapp_id)
        .subquery()
    )
    stmt = (
        select(MiniApp.id, MiniApp.created_at, first.c.at)
        .outerjoin(first, first.c.miniapp_id == MiniApp.id)
        .where(MiniApp.listed.is_(True))
    )
    if merchant_id is not None:
        stmt = stmt.where(MiniApp.merchant_id == merchant_id)
    return {ma_id: at or created for ma_id, created, at in db.execute(stmt)}


def order_counts(
    db: Session, *, ids: list[int], now: datetime, window_days: int
) -> dict[int, tuple[int, int]]:
    """Per mini-app: ORDER_PLACED events in the recent window and in the window before it."""
    if not ids:
        return {}
    window = timedelta(days=window_days)
    start, middle = now - 2 * window, now - window
    recent = case((BehaviourEvent.occurred_at >= middle, 1), else_=0)
    earlier = case((BehaviourEvent.occurred_at < middle, 1), else_=0)
    platform = BehaviourEvent.event_id.startswith(PLATFORM_PREFIX)
    stmt = (
        select(BehaviourEvent.miniapp_id, func.sum(recent), func.sum(earlier),
               func.sum(case((platform & (BehaviourEvent.occurred_at >= middle), 1), else_=0)),
               func.sum(case((platform & (BehaviourEvent.occurred_at < middle), 1), else_=0)))
        .where(
            and_(
                BehaviourEvent.type == EventType.ORDER_PLACED,
                BehaviourEvent.occurred_at >= start,
                BehaviourEvent.occurred_at < now,
            )
        )
        .group_by(BehaviourEvent.miniapp_id)
    )
    if len(ids) <= 500:  # one merchant's apps: let the (miniapp_id, occurred_at) index work
        stmt = stmt.where(BehaviourEvent.miniapp_id.in_(ids))
    wanted = set(ids)
    # a mini-app whose trades the platform saw is counted from those records alone
    # (its own order events left out, as scoring does: docs/scoring.md)
    return {
        ma_id: (int(pw or 0), int(pp or 0)) if (pw or pp) else (int(w or 0), int(p or 0))
        for ma_id, w, p, pw, pp in db.execute(stmt)
        if ma_id in wanted
    }


def compute(
    db: Session, *, config: TrafficConfig, now: datetime, merchant_id: int | None = None
) -> dict[int, tuple[Stage, dict[str, Any]]]:
    """Stage and detail per listed mini-app id (optionally only one merchant's)."""
    since = listed_since(db, merchant_id=merchant_id)
    counts = order_counts(db, ids=list(since), now=now, window_days=config.stages.window_days)
    result = {}
    for ma_id, listed_at in since.items():
        days = max(0, int((now - listed_at).total_seconds() // 86400))
        window, previous = counts.get(ma_id, (0, 0))
        result[ma_id] = stage_for(listed_days=days, orders_window=window,
                                  orders_previous=previous, rules=config.stages)
    return result


def most_advanced(stages: list[Stage]) -> Stage | None:
    return max(stages, key=ORDER.index) if stages else None


def merchant_stage(db: Session, *, merchant_id: int) -> Stage | None:
    """The most advanced stage (see ORDER) among the merchant's listed mini-apps' profiles."""
    stmt = (
        select(TrafficProfile.stage)
        .join(MiniApp, MiniApp.id == TrafficProfile.miniapp_id)
        .where(TrafficProfile.merchant_id == merchant_id, MiniApp.listed.is_(True))
    )
    return most_advanced([Stage(s) for s in db.scalars(stmt)])


def for_merchant(
    db: Session, *, actor: User | None, merchant_public_id: str, config: TrafficConfig,
    now: datetime,
) -> tuple[Merchant, list[tuple[MiniApp, Stage, dict[str, Any]]]]:
    """The merchant's listed mini-apps with stage and detail (stored profile, else live)."""
    merchant = merchants.get_merchant(db, actor=actor, public_id=merchant_public_id)
    apps = list(db.scalars(
        select(MiniApp).where(MiniApp.merchant_id == merchant.id, MiniApp.listed.is_(True))
        .order_by(MiniApp.name, MiniApp.id)
    ))
    stored = {
        p.miniapp_id: p for p in db.scalars(
            select(TrafficProfile).where(TrafficProfile.merchant_id == merchant.id)
            .options(lazyload(TrafficProfile.miniapp))  # its mini-app is in `apps` already
        )
    }
    live = None
    rows = []
    for app in apps:
        profile = stored.get(app.id)
        if profile is not None:
            rows.append((app, Stage(profile.stage), dict(profile.stage_detail or {})))
            continue
        if live is None:  # not profiled yet (before the first planning run): compute now
            live = compute(db, config=config, now=now, merchant_id=merchant.id)
        stage, detail = live[app.id]
        rows.append((app, stage, detail))
    return merchant, rows
