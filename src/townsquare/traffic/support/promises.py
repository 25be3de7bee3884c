"""Promises of exposure the platform makes by itself (tier incentives, cold-start budgets) and the
end of every promise's life (fulfilled or expired).

Point redemptions and campaign enrolments create their promises in `points` and `campaigns`;
this module adds the two kinds nobody asks for, once each (`kind`, `source`, `miniapp_id` is
unique, and `sync` looks before it writes), and closes the ones whose period is over.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.miniapps.models import MiniApp
from townsquare.scoring import capped, standings
from townsquare.traffic import surfaces
from townsquare.traffic.config import TrafficConfig
from townsquare.traffic.models import Promise, PromiseKind, PromiseState, Stage, TrafficProfile

MAX_REQUEST = 2**31 - 1  # the promise's int columns
COLD_START_SURFACES = [surfaces.FEED]  # exploration happens in the feed, never in search results


def period_start(now: datetime, *, plan_days: int, timezone: str) -> datetime:
    """Local midnight starting the plan period `now` falls in (periods tile the calendar)."""
    local = now.astimezone(ZoneInfo(timezone)).date()
    # Ordinal 1 is a Monday, so with 7-day periods every period starts on a Monday.
    start = date.fromordinal(local.toordinal() - (local.toordinal() - 1) % plan_days)
    return datetime.combine(start, time(), ZoneInfo(timezone))


def close(promise: Promise) -> None:
    """End a promise: fulfilled when it got what it asked for, expired otherwise."""
    full = promise.delivered >= promise.requested
    promise.state = PromiseState.FULFILLED if full else PromiseState.EXPIRED


def expire(db: Session, *, now: datetime) -> int:
    """Close every active promise whose period is over; returns how many."""
    ended = list(db.scalars(
        select(Promise).where(Promise.state == PromiseState.ACTIVE, Promise.ends_at <= now)
    ))
    for promise in ended:
        close(promise)
    return len(ended)


def _existing(db: Session, *, kind: PromiseKind, source: str) -> dict[int, Promise]:
    return {
        p.miniapp_id: p
        for p in db.scalars(select(Promise).where(Promise.kind == kind, Promise.source == source))
    }


def _listed(db: Session) -> dict[int, tuple[int, str, int]]:
    """Listed mini-apps: id → (merchant id, category code, category id)."""
    from townsquare.merchants.models import Category

    rows = db.execute(
        select(MiniApp.id, MiniApp.merchant_id, Category.code, Category.id)
        .join(Category, Category.id == MiniApp.category_id)
        .where(MiniApp.listed)
    )
    return {m: (merchant, code, cid) for m, merchant, code, cid in rows}


def tier_incentives(db: Session, *, config: TrafficConfig, now: datetime) -> int:
    """Promise each tier's impressions for the newest finished cycle, once; returns how many new."""
    cycle = standings(db)
    if cycle is None:
        return 0
    source = f"cycle:{cycle.as_of.isoformat()}"
    done = _existing(db, kind=PromiseKind.TIER_INCENTIVE, source=source)
    days = cycle.cycle_days
    listed = _listed(db)
    tiers = [(m, s.tier) for m, s in cycle.by_miniapp.items() if s.tier is not None]
    created = 0
    for miniapp_id, tier in tiers:
        impressions = config.tier_impressions.get(tier, 0)
        if impressions <= 0 or miniapp_id in done or miniapp_id not in listed:
            continue
        db.add(Promise(
            kind=PromiseKind.TIER_INCENTIVE, source=source, miniapp_id=miniapp_id,
            merchant_id=listed[miniapp_id][0], surfaces=list(config.tier_surfaces),
            requested=min(impressions, MAX_REQUEST), starts_at=now,
            ends_at=now + timedelta(days=days), detail={"tier": tier, "cycle": cycle.cycle},
        ))
        created += 1
    _supersede(db, current=source)
    db.flush()
    return created


def _supersede(db: Session, *, current: str) -> None:
    """A new cycle's tier replaces the last one: close older cycles' incentives still running."""
    for promise in db.scalars(select(Promise).where(
        Promise.kind == PromiseKind.TIER_INCENTIVE, Promise.state == PromiseState.ACTIVE,
        Promise.source != current,
    )):
        close(promise)
        promise.detail = {**promise.detail, "superseded_by": current}


def cold_start(
    db: Session, *, config: TrafficConfig, now: datetime, rng: Any, timezone: str,
    room: Mapping[str, int] | None = None,
) -> int:
    """Share the period's exploration pool among new mini-apps (Thompson sampling), once each.

    `room` (city → feed impressions the plan has not given to other promises; the planning run
    passes it) bounds what is promised: a new mini-app is promised only what its cities' feed
    can still deliver, and the pool a full city cannot take goes to new mini-apps elsewhere.
    Without it, the pool is shared as if supply had no end."""
    from townsquare.traffic.support import coldstart

    start = period_start(now, plan_days=config.plan_days, timezone=timezone)
    ends = start + timedelta(days=config.plan_days)
    source = f"cold:{start.date().isoformat()}"
    done = _existing(db, kind=PromiseKind.COLD_START, source=source)
    pool = config.cold_start_pool - sum(p.requested for p in done.values())
    listed = _listed(db)
    profiles = [p for p in db.scalars(select(TrafficProfile)) if p.miniapp_id in listed]
    arms = [
        coldstart.Arm(p.miniapp_id, listed[p.miniapp_id][1], p.impressions, p.clicks, p.orders)
        for p in profiles
    ]
    # Category priors learn from every mini-app; only new ones without a budget draw from the pool.
    priors = coldstart.category_priors(arms, strength=config.cold_start_prior_strength)
    new = {p.miniapp_id for p in profiles if p.stage == Stage.NEW and p.miniapp_id not in done}
    candidates = [arm for arm in arms if arm.miniapp_id in new]
    if pool <= 0 or not candidates:
        return 0
    if not isinstance(rng, np.random.Generator):  # a seeded random.Random (the demo) will do
        rng = np.random.default_rng((rng or random.Random()).getrandbits(64))
    if room is None:
        shares = coldstart.allocate_pool(
            candidates, priors=priors, pool=pool, cap=config.cold_start_max_per_miniapp,
            strength=config.cold_start_prior_strength, rng=rng,
        )
    else:
        shares = _within_room(db, candidates, priors=priors, pool=pool, room=room,
                              config=config, rng=rng)
    created = 0
    for miniapp_id, impressions in sorted(shares.items()):
        if impressions <= 0 or miniapp_id not in new:
            continue
        db.add(Promise(
            kind=PromiseKind.COLD_START, source=source, miniapp_id=miniapp_id,
            merchant_id=listed[miniapp_id][0], surfaces=list(COLD_START_SURFACES),
            requested=min(int(impressions), MAX_REQUEST), starts_at=now, ends_at=ends,
            detail={"period": start.date().isoformat()},
        ))
        created += 1
    db.flush()
    return created


ROOM_ROUNDS = 6  # re-matching rounds of the pool a full city could not take


def _within_room(
    db: Session, candidates: list[Any], *, priors: Any, pool: int, room: Mapping[str, int],
    config: TrafficConfig, rng: np.random.Generator,
) -> dict[int, int]:
    """Thompson shares of `pool` where each mini-app gets at most what its cities have room for
    (several new mini-apps of one city share that city's room): match the pool, grant each arm
    what still fits, and match what did not fit again among the arms with room left."""
    from townsquare.traffic.support import coldstart

    ids = [arm.miniapp_id for arm in candidates]
    cities_of: dict[int, list[str]] = {
        ma_id: [c for c in cities or [] if isinstance(c, str)]
        for ma_id, cities in db.execute(select(MiniApp.id, MiniApp.cities).where(
            MiniApp.id.in_(ids)))
    }
    left_in = {city: max(0, int(n)) for city, n in room.items()}

    def where(ma_id: int) -> list[str]:
        return cities_of.get(ma_id) or sorted(left_in)  # no cities: shown in every city

    granted = dict.fromkeys(ids, 0)
    left = pool
    for _ in range(ROOM_ROUNDS):
        fits = {
            arm.miniapp_id: min(config.cold_start_max_per_miniapp - granted[arm.miniapp_id],
                                sum(left_in.get(c, 0) for c in where(arm.miniapp_id)))
            for arm in candidates
        }
        open_arms = [arm for arm in candidates if fits[arm.miniapp_id] > 0]
        if left <= 0 or not open_arms:
            break
        shares = coldstart.allocate_pool(
            open_arms, priors=priors, pool=left, cap=max(fits[a.miniapp_id] for a in open_arms),
            strength=config.cold_start_prior_strength, rng=rng,
        )
        given_now = 0
        for ma_id, share in sorted(shares.items(), key=lambda kv: (-kv[1], kv[0])):
            want = min(int(share), fits[ma_id])
            for city in sorted(where(ma_id), key=lambda c: -left_in.get(c, 0)):
                take = min(want, left_in.get(city, 0))
                if take > 0:
                    left_in[city] -= take
                    granted[ma_id] += take
                    given_now += take
                    want -= take
        left -= given_now
        if given_now == 0:
            break
    return granted


def active_for_plan(db: Session, *, config: TrafficConfig, now: datetime) -> list[Promise]:
    """The active promises overlapping the plan period (now … now + plan_days); a tier
    promise pauses (is left out, still active) while its mini-app's complaint cap is tripped."""
    plan_end = now + timedelta(days=config.plan_days)
    found = list(db.scalars(
        select(Promise)
        .where(Promise.state == PromiseState.ACTIVE, Promise.starts_at < plan_end,
               Promise.ends_at > now)
        .order_by(Promise.id)
    ))
    paused = capped(db, miniapp_ids={p.miniapp_id for p in found
                                     if p.kind == PromiseKind.TIER_INCENTIVE})
    return [p for p in found
            if not (p.kind == PromiseKind.TIER_INCENTIVE and p.miniapp_id in paused)]


def sync(
    db: Session, *, config: TrafficConfig, now: datetime, rng: Any, timezone: str | None = None,
    with_cold_start: bool = True,
) -> list[Promise]:
    """Expire ended promises, add tier incentives and (unless told not to: the planning run adds
    them once it knows the room left) cold-start budgets; the active promises overlapping the
    plan period (now … now + plan_days)."""
    if timezone is None:
        from townsquare.core.settings import get_settings

        timezone = get_settings().timezone
    expire(db, now=now)
    tier_incentives(db, config=config, now=now)
    if with_cold_start:
        cold_start(db, config=config, now=now, rng=rng, timezone=timezone)
    db.flush()
    return active_for_plan(db, config=config, now=now)
