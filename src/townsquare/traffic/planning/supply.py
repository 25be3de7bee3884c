"""The supply forecast: how many impressions each segment (surface × city × part of the day ×
audience) will offer the guaranteed promises over the next plan period.

The forecast is deliberately simple, a seasonal-naive mean: the mean daily count of exposure
events of the segment over the last `forecast_days` (or over the days of history there are, if
fewer), times `plan_days`, times `guaranteed_share` (the part of every segment the plan may
promise; the rest stays organic and sponsored). It assumes next week looks like the last weeks:
it has no trend, no weekday effect and no holidays, and it only sees the traffic the platform
served (a surface that grows shows its growth one forecast window late). A surface and city
without any exposure history yet gets the configured defaults, spread over the day by a fixed
daily curve and over audiences 70/30 residents/guests.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from townsquare.events.models import BehaviourEvent, EventType
from townsquare.miniapps.models import MiniApp
from townsquare.traffic import surfaces
from townsquare.traffic.config import AUDIENCES, DAYPARTS, TrafficConfig
from townsquare.traffic.market.pacing import TrafficCurve
from townsquare.traffic.models import Channel, Topic

# A local-life day (hour 0..23, local time): quiet nights, a morning rise, lunch and evening peaks.
DAILY_CURVE = TrafficCurve(weights=(
    1, 0.6, 0.4, 0.3, 0.3, 0.5, 1.5, 3, 4, 4.5, 5, 6,
    6.5, 5, 4.5, 4.5, 5, 6, 7, 7.5, 7, 5.5, 3.5, 2,
))
AUDIENCE_SHARE = {AUDIENCES[0]: 0.7, AUDIENCES[1]: 0.3}  # residents signed in, guests
MAX_SEGMENT = 2**31 - 1  # a segment's forecast fits the int columns it is stored next to


def daypart_shares(curve: TrafficCurve = DAILY_CURVE) -> dict[str, float]:
    """The share of a day's traffic in each part of the day (6-hour parts) under `curve`."""
    hours = 24 // len(DAYPARTS)
    return {
        part: curve.share_until((i + 1) * hours * 3600) - curve.share_until(i * hours * 3600)
        for i, part in enumerate(DAYPARTS)
    }


def known_surfaces(db: Session) -> list[str]:
    """feed, search, every channel and every active topic."""
    names = [surfaces.FEED, surfaces.SEARCH]
    names += [surfaces.channel(slug) for slug in db.scalars(select(Channel.slug).order_by(
        Channel.position, Channel.slug))]
    names += [surfaces.topic(slug) for slug in db.scalars(
        select(Topic.slug).where(Topic.active).order_by(Topic.slug))]
    return names


def listed_cities(db: Session) -> list[str]:
    """Cities with at least one listed mini-app."""
    found: set[str] = set()
    for cities in db.scalars(select(MiniApp.cities).where(MiniApp.listed)):
        found.update(c for c in cities or [] if isinstance(c, str) and c)
    return sorted(found)


def _hour_bucket(db: Session):
    """The event's UTC hour as text 'YYYY-MM-DD HH' (SQLite stores UTC without a zone)."""
    column = BehaviourEvent.occurred_at
    if db.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD HH24")
    return func.strftime("%Y-%m-%d %H", column)


def history(
    db: Session, *, since: datetime, until: datetime, timezone: str
) -> tuple[dict[tuple[str, str, str, str], float], datetime | None]:
    """Exposure counts per (surface, city, daypart, audience) and the first hour seen.

    One query grouped by UTC hour; the local part of the day is worked out here, so any
    time zone (with whole-hour offsets) is right without database time-zone support.
    """
    bucket = _hour_bucket(db).label("hour")
    rows = db.execute(
        select(BehaviourEvent.surface, BehaviourEvent.city, BehaviourEvent.audience, bucket,
               func.count())
        .where(
            BehaviourEvent.type == EventType.EXPOSURE,
            BehaviourEvent.occurred_at >= since,
            BehaviourEvent.occurred_at < until,
        )
        .group_by(BehaviourEvent.surface, BehaviourEvent.city, BehaviourEvent.audience, bucket)
    )
    counts: dict[tuple[str, str, str, str], float] = defaultdict(float)
    first: datetime | None = None
    for surface, city, audience, hour, count in rows:
        moment = datetime.strptime(hour, "%Y-%m-%d %H").replace(tzinfo=UTC)
        first = moment if first is None else min(first, moment)
        part = surfaces.daypart(moment, timezone)
        # Events without an audience (older or imported ones) are split like the defaults.
        shares = {audience: 1.0} if audience in AUDIENCE_SHARE else AUDIENCE_SHARE
        for who, share in shares.items():
            counts[(surface, city, part, who)] += int(count) * share
    return dict(counts), first


def forecast(
    db: Session, *, config: TrafficConfig, now: datetime, timezone: str | None = None
) -> dict[str, int]:
    """Segment key → impressions the plan may promise over the next `plan_days`."""
    if timezone is None:
        from townsquare.core.settings import get_settings

        timezone = get_settings().timezone
    since = now - timedelta(days=config.forecast_days)
    counts, first = history(db, since=since, until=now, timezone=timezone)
    # Mean over the days there is history for: a platform two days old is not averaged over 14.
    observed = max(timedelta(days=1), now - first) if first is not None else timedelta(days=1)
    days = min(config.forecast_days, observed.total_seconds() / 86_400)
    scale = config.plan_days * config.guaranteed_share / days
    names, cities = known_surfaces(db), listed_cities(db)
    seen = {(surface, city) for surface, city, _, _ in counts}
    parts = daypart_shares()
    supply: dict[str, int] = {}
    for surface in names:
        for city in cities:
            if (surface, city) in seen:
                for part in DAYPARTS:
                    for who in AUDIENCES:
                        total = counts.get((surface, city, part, who), 0) * scale
                        supply[surfaces.segment_key(surface, city, part, who)] = min(
                            MAX_SEGMENT, round(total))
                continue
            daily = config.default_daily_impressions.get(
                surface, config.default_other_surface_impressions)
            per_city = daily / len(cities) * config.plan_days * config.guaranteed_share
            for part in DAYPARTS:
                for who in AUDIENCES:
                    supply[surfaces.segment_key(surface, city, part, who)] = min(
                        MAX_SEGMENT, round(per_city * parts[part] * AUDIENCE_SHARE[who]))
    return supply
