"""Traffic figures for the consoles: a merchant's exposure by source and its promises (planned
against delivered), and the operator's overview (supply against demand, promises at risk,
exposure concentration and the new merchants' share).

Read-only queries. A merchant's figures are for its own staff, an ISV it authorized, and
operators (`merchants.service.get_merchant` decides); the overview is for operators only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import Select, case, func, or_, select
from sqlalchemy.orm import Session, lazyload

from townsquare.accounts.models import Role, User
from townsquare.accounts.permissions import require_role
from townsquare.core.clock import clock
from townsquare.core.errors import ValidationFailed
from townsquare.core.settings import get_settings
from townsquare.events import rollups
from townsquare.events.models import BehaviourEvent, EventType, ExposureDay
from townsquare.merchants.models import Merchant
from townsquare.merchants.service import get_merchant
from townsquare.miniapps.models import MiniApp
from townsquare.traffic import surfaces as surface_names
from townsquare.traffic.console.concentration import concentration
from townsquare.traffic.models import (
    Campaign,
    CampaignEnrolment,
    MembershipState,
    PlanAllocation,
    Promise,
    PromiseState,
    ServingPlan,
    Topic,
    TopicMember,
    TrafficProfile,
)
from townsquare.traffic.planning import service as planning
from townsquare.traffic.serving.ranking import gini  # noqa: F401  (the consoles' Gini, as tested)

MAX_DAYS = 90
ANY_SURFACE = "*"  # demand of promises that may run on any surface
OTHER_SOURCE = "other"  # exposure events recorded without a slot reason (e.g. the service hub)
AT_RISK_PACE = 0.8  # delivered below 80% of what should be delivered by now: behind
PACE_GRACE = 0.1  # the first tenth of a period is too early to call a promise behind
CONCENTRATION_DAYS = 7  # local days, today included


# --- a merchant's exposure ------------------------------------------------------------------


@dataclass(frozen=True)
class DayExposure:
    day: date  # local day
    source: str  # slot_reason, or "other"
    impressions: int
    clicks: int


def _zone(zone: str | None) -> ZoneInfo:
    return ZoneInfo(zone or get_settings().timezone)


def day_bounds(now: datetime, days: int, zone: str | None = None) -> list[datetime]:
    """The local midnights (as UTC) that bound the last `days` local days, today included."""
    tz = _zone(zone)
    first = now.astimezone(tz).date() - timedelta(days=days - 1)
    return [
        datetime.combine(first + timedelta(days=i), time(0), tzinfo=tz).astimezone(UTC)
        for i in range(days + 1)
    ]


def local_days(now: datetime, days: int, zone: str | None = None) -> list[date]:
    """The last `days` local days, oldest first, today included."""
    today = now.astimezone(_zone(zone)).date()
    return [today - timedelta(days=days - 1 - i) for i in range(days)]


def exposure_by_source(
    db: Session,
    *,
    actor: User | None,
    merchant_public_id: str,
    days: int = 28,
    now: datetime | None = None,
    zone: str | None = None,
) -> list[DayExposure]:
    """Impressions and clicks of the merchant's mini-apps per local day and slot reason.

    Read from the daily rollups (`events.rollups`): a few rows per mini-app and day, whatever
    the traffic. A zone other than the rollups' groups the events themselves."""
    if not 1 <= days <= MAX_DAYS:
        raise ValidationFailed("Choose 1 to {n} days.", n=MAX_DAYS, field="days")
    merchant = get_merchant(db, actor=actor, public_id=merchant_public_id)
    now = now or clock.now()
    zone = zone or get_settings().timezone
    miniapp_ids = select(MiniApp.id).where(MiniApp.merchant_id == merchant.id)
    if zone != rollups.zone_name():
        found = _grouped_events(db, miniapp_ids, now=now, days=days, zone=zone)
    else:
        found = _rolled_up(db, miniapp_ids, now=now, days=days, zone=zone)
    merged: dict[tuple[date, str], list[int]] = defaultdict(lambda: [0, 0])
    for day, reason, impressions, clicks in found:
        counts = merged[(day, reason or OTHER_SOURCE)]
        counts[0] += int(impressions or 0)
        counts[1] += int(clicks or 0)
    return [
        DayExposure(day, source, impressions, clicks)
        for (day, source), (impressions, clicks) in sorted(merged.items())
    ]


def _rolled_up(db: Session, miniapp_ids: Select[Any], *, now: datetime, days: int, zone: str
               ) -> list[tuple[date, str, int, int]]:
    window = local_days(now, days, zone)
    stmt = (
        select(ExposureDay.day, ExposureDay.slot_reason, func.sum(ExposureDay.impressions),
               func.sum(ExposureDay.clicks))
        .where(ExposureDay.miniapp_id.in_(miniapp_ids), ExposureDay.day >= window[0],
               ExposureDay.day <= window[-1])
        .group_by(ExposureDay.day, ExposureDay.slot_reason)
    )
    return [(day, reason, n, c) for day, reason, n, c in db.execute(stmt)]


def _grouped_events(db: Session, miniapp_ids: Select[Any], *, now: datetime, days: int,
                    zone: str) -> list[tuple[date, str, int, int]]:
    """The same figures grouped from the events (a zone the rollups are not kept in)."""
    bounds = day_bounds(now, days, zone)
    # The local day as a CASE over the day boundaries: the same SQL on SQLite and PostgreSQL,
    # and right across a daylight-saving change (SQLite has no time-zone database).
    day_index = case(
        *((BehaviourEvent.occurred_at < bounds[i + 1], i) for i in range(days)), else_=days - 1
    )
    events = (
        select(day_index.label("day_index"), BehaviourEvent.slot_reason, BehaviourEvent.type)
        .where(
            BehaviourEvent.miniapp_id.in_(miniapp_ids),
            BehaviourEvent.type.in_((EventType.EXPOSURE, EventType.CLICK)),
            BehaviourEvent.occurred_at >= bounds[0],
            BehaviourEvent.occurred_at < bounds[-1],
        )
        .subquery()
    )
    shown = func.sum(case((events.c.type == EventType.EXPOSURE, 1), else_=0))
    clicked = func.sum(case((events.c.type == EventType.CLICK, 1), else_=0))
    stmt = select(events.c.day_index, events.c.slot_reason, shown, clicked).group_by(
        events.c.day_index, events.c.slot_reason
    )
    first = bounds[0].astimezone(_zone(zone)).date()
    return [(first + timedelta(days=int(index)), reason, n, c)
            for index, reason, n, c in db.execute(stmt)]


def daily_series(
    rows: Sequence[DayExposure], *, measure: str = "impressions"
) -> dict[date, dict[str, int]]:
    """{day: {source: count}} of one measure ("impressions" or "clicks"), for the charts."""
    series: dict[date, dict[str, int]] = defaultdict(dict)
    for row in rows:
        series[row.day][row.source] = getattr(row, measure)
    return dict(series)


# --- promises: planned against delivered ---------------------------------------------------


@dataclass(frozen=True)
class PromiseStatus:
    promise: Promise
    elapsed: float  # share of the period gone, 0..1
    expected: int  # impressions that should be delivered by now (of the requested)
    pace: float | None  # delivered / expected; None before anything is expected
    behind: bool
    short_planned: bool  # the plan gives it less than was requested

    @property
    def at_risk(self) -> bool:
        return self.promise.state == PromiseState.ACTIVE and (self.behind or self.short_planned)

    @property
    def remaining(self) -> int:
        return max(self.promise.requested - self.promise.delivered, 0)


def promise_status(promise: Promise, now: datetime) -> PromiseStatus:
    """How a promise stands at `now`: elapsed share, expected delivery, pace, risk."""
    span = (promise.ends_at - promise.starts_at).total_seconds()
    gone = (now - promise.starts_at).total_seconds()
    elapsed = 1.0 if span <= 0 else min(max(gone / span, 0.0), 1.0)
    expected = int(promise.requested * elapsed)
    pace = promise.delivered / expected if expected > 0 else None
    active = promise.state == PromiseState.ACTIVE
    behind = (
        active and elapsed >= PACE_GRACE and pace is not None and pace < AT_RISK_PACE
    )
    short = active and promise.planned < promise.requested - promise.delivered
    return PromiseStatus(promise, elapsed, expected, pace, behind, short)


def promises_for_merchant(
    db: Session,
    *,
    actor: User | None,
    merchant_public_id: str,
    now: datetime | None = None,
    ended_days: int = 30,
) -> list[PromiseStatus]:
    """The merchant's promises (active, or ended in the last `ended_days`), active first."""
    merchant = get_merchant(db, actor=actor, public_id=merchant_public_id)
    now = now or clock.now()
    stmt = (
        select(Promise)
        .where(
            Promise.merchant_id == merchant.id,
            or_(
                Promise.state == PromiseState.ACTIVE,
                Promise.ends_at >= now - timedelta(days=ended_days),
            ),
        )
        .order_by(
            case((Promise.state == PromiseState.ACTIVE, 0), else_=1),
            Promise.starts_at.desc(),
            Promise.id.desc(),
        )
    )
    return [promise_status(p, now) for p in db.scalars(stmt)]


def enrolments_for_merchant(
    db: Session, *, actor: User | None, merchant_public_id: str
) -> list[CampaignEnrolment]:
    """The merchant's campaign enrolments (withdrawn ones too), newest first."""
    merchant = get_merchant(db, actor=actor, public_id=merchant_public_id)
    stmt = (
        select(CampaignEnrolment)
        .where(CampaignEnrolment.merchant_id == merchant.id)
        .order_by(CampaignEnrolment.enrolled_at.desc(), CampaignEnrolment.id.desc())
    )
    return list(db.scalars(stmt))


def profiles_for_merchant(
    db: Session, *, actor: User | None, merchant_public_id: str
) -> dict[int, TrafficProfile]:
    """Stage, tier and quality of the merchant's mini-apps, by mini-app id."""
    merchant = get_merchant(db, actor=actor, public_id=merchant_public_id)
    stmt = (select(TrafficProfile).where(TrafficProfile.merchant_id == merchant.id)
            .options(lazyload(TrafficProfile.miniapp)))  # the profile's own columns only
    return {p.miniapp_id: p for p in db.scalars(stmt)}


# --- the operator's overview -----------------------------------------------------------------


def lorenz(values: Sequence[float], *, points: int = 50) -> list[tuple[float, float]]:
    """The Lorenz curve (share of mini-apps, share of impressions), at most `points` + 1 points."""
    x = np.sort(np.asarray(values, dtype=float))
    if x.size == 0 or x.sum() <= 0:
        return [(0.0, 0.0), (1.0, 1.0)]
    cum = np.concatenate(([0.0], np.cumsum(x) / x.sum()))
    picks = np.unique(np.linspace(0, x.size, min(points, x.size) + 1).round().astype(int))
    return [(float(i / x.size), float(cum[i])) for i in picks]


@dataclass
class SurfaceBalance:
    surface: str  # a surface name, or ANY_SURFACE
    supply: int = 0  # forecast guaranteed supply of the active plan
    planned: int = 0  # allocated by the active plan
    delivered: int = 0  # of the plan's allocations
    demand: dict[str, int] = field(default_factory=dict)  # remaining requested by promise kind

    @property
    def total_demand(self) -> int:
        return sum(self.demand.values())


@dataclass
class Overview:
    plan: ServingPlan | None
    surfaces: list[SurfaceBalance]
    at_risk: list[PromiseStatus]  # the first AT_RISK_SHOWN, by end
    at_risk_count: int
    gini: float
    lorenz: list[tuple[float, float]]
    impressions: int  # over the last CONCENTRATION_DAYS days
    new_impressions: int  # of those, to mini-apps at the NEW stage
    counts: dict[str, int]

    @property
    def new_share(self) -> float | None:
        return self.new_impressions / self.impressions if self.impressions else None


def _balances(db: Session, plan: ServingPlan | None, active: list[Promise]) -> list[SurfaceBalance]:
    rows: dict[str, SurfaceBalance] = {}

    def row(surface: str) -> SurfaceBalance:
        return rows.setdefault(surface, SurfaceBalance(surface))

    if plan is not None:
        for key, impressions in (plan.supply or {}).items():
            row(surface_names.split_key(key)[0] if key.count("|") == 3 else key).supply += int(
                impressions
            )
        stmt = (
            select(PlanAllocation.surface, func.sum(PlanAllocation.planned),
                   func.sum(PlanAllocation.delivered))
            .where(PlanAllocation.plan_id == plan.id)
            .group_by(PlanAllocation.surface)
        )
        for surface, planned, delivered in db.execute(stmt):
            row(surface).planned += int(planned or 0)
            row(surface).delivered += int(delivered or 0)
    for promise in active:
        remaining = max(promise.requested - promise.delivered, 0)
        names = [str(s) for s in promise.surfaces] or [ANY_SURFACE]
        # a promise that may run on several surfaces counts evenly on each of them
        share, extra = divmod(remaining, len(names))
        for i, name in enumerate(names):
            demand = row(name).demand
            demand[promise.kind.value] = demand.get(promise.kind.value, 0) + share + (i < extra)
    return sorted(rows.values(), key=lambda r: (r.surface == ANY_SURFACE, r.surface))


def _counts(db: Session) -> dict[str, int]:
    by_state = select(Campaign.state, func.count()).group_by(Campaign.state)
    campaigns = {state: int(n) for state, n in db.execute(by_state)}
    return {
        "topics": db.scalar(select(func.count()).select_from(Topic).where(Topic.active)) or 0,
        "applications": db.scalar(
            select(func.count()).select_from(TopicMember)
            .where(TopicMember.state == MembershipState.APPLIED)
        ) or 0,
        "campaigns": sum(campaigns.values()),
        **{f"campaigns_{state.value}": n for state, n in campaigns.items()},
    }


AT_RISK_SHOWN = 50  # the overview lists the first promises at risk (by end), counts them all
_FIGURES = (Promise.id, Promise.kind, Promise.state, Promise.surfaces, Promise.requested,
            Promise.planned, Promise.delivered, Promise.starts_at, Promise.ends_at)


def operator_overview(db: Session, *, actor: User | None, now: datetime | None = None) -> Overview:
    """Supply against demand per surface, promises at risk, concentration, new merchants' share.

    Active promises are read as bare figures (no mini-app or merchant rows); only the promises
    at risk that the page lists are loaded whole."""
    require_role(actor, Role.OPERATOR)
    now = now or clock.now()
    plan = planning.active_plan(db)
    active = [cast(Promise, row) for row in db.execute(
        select(*_FIGURES).where(Promise.state == PromiseState.ACTIVE)
        .order_by(Promise.ends_at, Promise.id)
    )]
    risky = [p.id for p in active if promise_status(p, now).at_risk]
    listed = {p.id: p for p in db.scalars(
        select(Promise).where(Promise.id.in_(risky[:AT_RISK_SHOWN])))} if risky else {}
    window = local_days(now, CONCENTRATION_DAYS, rollups.zone_name())
    shown = concentration(db, first=window[0], last=window[-1])
    return Overview(
        plan=plan,
        surfaces=_balances(db, plan, active),
        at_risk=[promise_status(listed[i], now) for i in risky[:AT_RISK_SHOWN]],
        at_risk_count=len(risky),
        gini=shown.gini,
        lorenz=shown.lorenz,
        impressions=shown.impressions,
        new_impressions=shown.new_impressions,
        counts=_counts(db),
    )


def merchant_of(db: Session, *, actor: User | None, merchant_public_id: str) -> Merchant:
    """The merchant whose traffic the actor may see (staff, authorized ISV, operators)."""
    return get_merchant(db, actor=actor, public_id=merchant_public_id)
