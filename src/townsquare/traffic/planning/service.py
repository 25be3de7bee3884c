"""The planning run: refresh profiles, settle points, sync promises, forecast supply, solve one
allocation of that supply to every active promise and store it as the serving plan.

Serving reads the newest plan (`active_plan`) and needs no solver. Older plans stay for history.
Each plan's allocations start with nothing delivered; `Promise.delivered` keeps counting across
plans, so a new plan only allocates what a promise still lacks (requested − delivered), and
`Promise.planned` is what was delivered before the plan plus what the plan allocates: comparable
with `requested` and `delivered` directly.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from townsquare.accounts.models import Role, User
from townsquare.accounts.permissions import require_role
from townsquare.core import audit
from townsquare.core.clock import clock
from townsquare.core.errors import Conflict, ValidationFailed
from townsquare.miniapps.models import MiniApp
from townsquare.traffic import config as traffic_config
from townsquare.traffic import profiles, surfaces, topics
from townsquare.traffic.models import (
    Channel,
    PlanAllocation,
    Promise,
    ServingPlan,
    Topic,
    TrafficProfile,
)
from townsquare.traffic.planning import planner, supply
from townsquare.traffic.support import points, promises

METHODS = ("exact", "greedy")
UNSCORED_QUALITY = 0.5  # a mini-app without a score is planned as an average one
Step = Callable[[str, float], None]


def active_plan(db: Session) -> ServingPlan | None:
    """The newest serving plan (the one serving uses)."""
    return db.scalar(
        select(ServingPlan).order_by(ServingPlan.id.desc()).limit(1)
    )


def _members(db: Session, names: Sequence[str]) -> dict[str, set[int]]:
    """Mini-apps shown on each channel and topic surface (feed and search show everyone)."""
    found: dict[str, set[int]] = {}
    for name in names:
        kind, _, slug = name.partition(".")
        if kind == "channel" and (ch := db.scalar(select(Channel).where(Channel.slug == slug))):
            found[name] = set(topics.channel_miniapp_ids(db, channel=ch))
        elif kind == "topic" and (tp := db.scalar(select(Topic).where(Topic.slug == slug))):
            found[name] = set(topics.topic_miniapp_ids(db, topic=tp))
    return found


def build_demands(
    db: Session, *, config: traffic_config.TrafficConfig, active: Sequence[Promise],
    forecast: dict[str, int],
) -> list[planner.Demand]:
    """One planner demand per promise with something left to deliver on some listed segment."""
    keys_by: dict[tuple[str, str], list[str]] = defaultdict(list)
    by_surface: dict[str, list[str]] = defaultdict(list)
    for key in forecast:
        surface, city, _, _ = surfaces.split_key(key)
        keys_by[(surface, city)].append(key)
        by_surface[surface].append(key)
    members = _members(db, list(by_surface))
    ids = {p.miniapp_id for p in active}
    apps: dict[int, list[Any]] = dict(db.execute(select(MiniApp.id, MiniApp.cities).where(
        MiniApp.id.in_(ids), MiniApp.listed)).all()) if ids else {}
    quality = dict(db.execute(select(TrafficProfile.miniapp_id, TrafficProfile.quality)).all())
    demands = []
    for promise in active:
        left = promise.requested - promise.delivered
        if left <= 0 or promise.miniapp_id not in apps:
            continue
        cities = [c for c in apps[promise.miniapp_id] or [] if isinstance(c, str)]
        wanted = list(promise.surfaces) or list(by_surface)
        eligible: list[str] = []
        for surface in wanted:
            if surface in members and promise.miniapp_id not in members[surface]:
                continue  # not on that channel or topic: it cannot be shown there
            if cities:
                for city in cities:
                    eligible.extend(keys_by.get((surface, city), ()))
            else:
                eligible.extend(by_surface.get(surface, ()))
        score = quality.get(promise.miniapp_id)
        demands.append(planner.Demand(
            id=str(promise.id), kind=str(promise.kind), requested=left,
            penalty=config.underdelivery_penalty[str(promise.kind)],
            quality=UNSCORED_QUALITY if score is None else min(1.0, max(0.0, score / 100)),
            eligible=tuple(dict.fromkeys(eligible)),
        ))
    return demands


def solve(
    *, segments: list[planner.Segment], demands: list[planner.Demand],
    priorities: dict[str, float], method: str,
) -> tuple[planner.Plan, float]:
    """The plan and the seconds the solver took; an instance it cannot take is a Conflict."""
    started = time.perf_counter()
    try:
        if not demands:
            plan = planner.Plan(method, (), (), 0.0, 0.0)
        elif method == "greedy":
            plan = planner.plan_greedy(segments=segments, demands=demands, priorities=priorities)
        else:
            plan = planner.plan_exact(segments=segments, demands=demands, priorities=priorities)
    except (ValueError, RuntimeError, OverflowError) as exc:
        raise Conflict("The plan could not be solved: {reason}", reason=str(exc)) from exc
    if not math.isfinite(plan.objective):
        raise Conflict("The plan could not be solved: {reason}", reason="objective not finite")
    return plan, time.perf_counter() - started


def room_left(
    db: Session, *, config: traffic_config.TrafficConfig, active: Sequence[Promise],
    forecast: dict[str, int], segments: list[planner.Segment], method: str,
) -> dict[str, int]:
    """City → cold-start surface impressions left once the promises already made are planned."""
    demands = build_demands(db, config=config, active=active, forecast=forecast)
    plan, _ = solve(segments=segments, demands=demands, priorities=config.priorities,
                    method=method)
    used: dict[str, int] = defaultdict(int)
    for _, segment, impressions in plan.allocations:
        used[segment] += impressions
    room: dict[str, int] = defaultdict(int)
    for key, impressions in forecast.items():
        surface, city, _, _ = surfaces.split_key(key)
        if surface in promises.COLD_START_SURFACES:
            room[city] += max(0, impressions - used[key])
    return dict(room)


def _stats(active: Sequence[Promise], demands: list[planner.Demand], plan: planner.Plan,
           forecast: dict[str, int]) -> dict[str, Any]:
    kind_of = {str(p.id): str(p.kind) for p in active}
    requested: dict[str, int] = defaultdict(int)
    planned: dict[str, int] = defaultdict(int)
    count: dict[str, int] = defaultdict(int)
    for line in plan.deliveries:
        count[kind_of[line.demand_id]] += 1
        requested[kind_of[line.demand_id]] += line.requested
        planned[kind_of[line.demand_id]] += line.delivered
    by_surface: dict[str, int] = defaultdict(int)
    for key, impressions in forecast.items():
        by_surface[surfaces.split_key(key)[0]] += impressions
    return {
        "promises": len(active),
        "demands": len(demands),
        "segments": len(forecast),
        "pairs": sum(len(d.eligible) for d in demands),
        "allocations": len(plan.allocations),
        "supply": sum(forecast.values()),
        "supply_by_surface": dict(by_surface),
        "demands_by_kind": dict(count),
        "requested": dict(requested),
        "planned": dict(planned),
        "shortfall": {k: requested[k] - planned[k] for k in requested},
        "value": plan.value,
        "penalty": plan.penalty,
    }


def run(
    db: Session, *, actor: User | None, now: datetime | None = None, method: str = "exact",
    rng: Any = None, timezone: str | None = None, progress: Step | None = None,
) -> ServingPlan:
    """Plan the next period now (operators or the system); returns the stored plan."""
    require_role(actor, Role.OPERATOR)
    if method not in METHODS:
        raise ValidationFailed("Unknown planning method {method}.", method=method)
    if timezone is None:
        from townsquare.core.settings import get_settings

        timezone = get_settings().timezone
    now = now or clock.now()
    # Thompson draws are random by design; seeded by the time, a re-run of one moment repeats.
    rng = rng if rng is not None else np.random.default_rng(int(now.timestamp() * 1000))
    step = progress or (lambda label, done: None)
    config = traffic_config.active(db)

    step("profiles", 0.0)
    profiles.refresh(db, config=config, now=now)
    step("points", 0.15)
    points.award(db, config=config, now=now)
    points.settle(db, now=now)
    step("promises", 0.3)
    active = promises.sync(db, config=config, now=now, rng=rng, timezone=timezone,
                           with_cold_start=False)
    step("supply", 0.45)
    forecast = supply.forecast(db, config=config, now=now, timezone=timezone)
    segments = [planner.Segment(key, n) for key, n in forecast.items()]
    # Cold start is promised from what the other promises leave of its cities' feed: planned
    # last (lowest priority), a budget promised beyond that would never be planned.
    room = room_left(db, config=config, active=active, forecast=forecast, segments=segments,
                     method=method)
    promises.cold_start(db, config=config, now=now, rng=rng, timezone=timezone, room=room)
    active = promises.active_for_plan(db, config=config, now=now)
    demands = build_demands(db, config=config, active=active, forecast=forecast)
    step("solve", 0.6)
    plan, seconds = solve(segments=segments, demands=demands, priorities=config.priorities,
                          method=method)
    step("store", 0.85)
    stored = _store(db, actor=actor, now=now, config=config, method=method, plan=plan,
                    seconds=seconds, active=active, demands=demands, forecast=forecast)
    step("done", 1.0)
    return stored


def _store(
    db: Session, *, actor: User | None, now: datetime, config: traffic_config.TrafficConfig,
    method: str, plan: planner.Plan, seconds: float, active: Sequence[Promise],
    demands: list[planner.Demand], forecast: dict[str, int],
) -> ServingPlan:
    stats = _stats(active, demands, plan, forecast)
    row = ServingPlan(
        starts_at=now, ends_at=now + timedelta(days=config.plan_days),
        method=method, objective=plan.objective, solve_seconds=round(seconds, 4),
        supply=dict(forecast), stats={**stats, "solve_seconds": round(seconds, 4)},
        created_by_id=actor.id if actor else None,
    )
    db.add(row)
    db.flush()
    rows = []
    for demand_id, key, impressions in plan.allocations:
        surface, city, part, who = surfaces.split_key(key)
        rows.append({
            "plan_id": row.id, "promise_id": int(demand_id), "segment": key, "surface": surface,
            "city": city, "daypart": part, "audience": who, "planned": impressions,
            "delivered": 0,
        })
    if rows:
        db.execute(insert(PlanAllocation), rows)
    given = {int(line.demand_id): line.delivered for line in plan.deliveries}
    for promise in active:
        promise.planned = promise.delivered + given.get(promise.id, 0)
    db.flush()
    audit.record(db, actor_id=actor.id if actor else None, action="traffic.plan.run",
                 subject_type="serving_plan", subject_id=row.public_id)
    return row
