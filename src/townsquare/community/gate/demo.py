"""A week of passages for the demo communities: daily exits and returns at every gate, some
late returns and some still out, quota and health denials, expired screenshots, and a couple
of offline passages awaiting review, so the log, tracing and dashboard pages show real traffic.
The community demo (`community/demo.py`) adds it last, once the communities are built."""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.community.gate.decision import Reason
from townsquare.community.gate.models import Direction, Passage
from townsquare.community.models import (
    Community,
    FlagKind,
    GuardPost,
    HealthFlag,
    Household,
)
from townsquare.core.clock import clock
from townsquare.core.settings import Settings

DAYS = 7
OUT_SHARE = 0.55  # households that go out on a given day


def add_week(
    db: Session, settings: Settings, rng: random.Random, communities: list[Community]
) -> None:
    """Seed passages for the last DAYS days up to now (rows written directly, like all seed)."""
    now = clock.now()
    zone = ZoneInfo(settings.timezone)
    today = now.astimezone(zone).date()
    resident_id = db.scalar(select(User.id).where(User.username == "resident"))
    for community in communities:
        posts = list(
            db.scalars(
                select(GuardPost)
                .join(GuardPost.gate)
                .where(GuardPost.gate.has(community_id=community.id))
            )
        )
        if not posts:
            continue
        households = list(
            db.scalars(
                select(Household)
                .where(Household.community_id == community.id)
                .order_by(Household.id)
            )
        )
        households = [h for h in households if h.members]
        red = _red_households(db, community, today)
        for back in range(DAYS, -1, -1):
            day = today - timedelta(days=back)
            for household in households:
                if back == 0 and any(p.user_id == resident_id for p in household.members):
                    continue  # the demo resident's exit today is theirs to make (and the tour's)
                if rng.random() > OUT_SHARE:
                    continue
                post = rng.choice(posts)
                start = datetime.combine(day, time(7), zone) + timedelta(minutes=rng.randrange(780))
                if start > now:
                    continue
                _day_of(db, rng, community, household, post, start, now, household.id in red)
        db.flush()


def _red_households(db: Session, community: Community, today) -> set[int]:
    flags = db.scalars(
        select(HealthFlag).where(
            HealthFlag.community_id == community.id,
            HealthFlag.kind.in_([FlagKind.QUARANTINE, FlagKind.FEVER]),
        )
    )
    return {f.person.household_id for f in flags if f.active_on(today)}


def _day_of(
    db: Session,
    rng: random.Random,
    community: Community,
    household: Household,
    post: GuardPost,
    start: datetime,
    now: datetime,
    red: bool,
) -> None:
    """One household's day at the gate: an exit and its return, or a denial."""
    members = [p for p in household.members if p.user_id] or household.members
    person = rng.choice(members) if rng.random() < 0.4 else None
    kind = "p" if person else "h"

    def passage(at: datetime, direction: Direction, allowed: bool, reasons=(), **extra) -> Passage:
        row = Passage(
            community_id=community.id,
            gate_id=post.gate_id,
            guard_id=post.user_id,
            household_id=household.id,
            person_id=person.id if person else None,
            direction=direction,
            code_kind=kind,
            at=at,
            recorded_at=at,
            allowed=allowed,
            counted=allowed and direction is Direction.EXIT,
            reasons=[r.value for r in reasons],
            **{"offline": False, "needs_review": False, "overdue": False, **extra},
        )
        db.add(row)
        return row

    if red:
        passage(start, Direction.EXIT, False, [Reason.QUARANTINE])
        return
    roll = rng.random()
    if roll < 0.04:
        passage(start, Direction.EXIT, False, [Reason.EXPIRED])  # an old screenshot
        start += timedelta(minutes=rng.randrange(2, 10))
    offline = roll > 0.965
    out = passage(start, Direction.EXIT, True, offline=offline)
    if rng.random() < 0.12:  # tries again later the same day
        again = start + timedelta(minutes=rng.randrange(30, 200))
        if again < now:
            passage(
                again,
                Direction.EXIT,
                offline,
                [Reason.QUOTA] + ([Reason.OFFLINE_OVER_QUOTA] if offline else []),
                offline=offline,
                needs_review=offline,
            )
    hours = rng.choice((0.5, 1, 1.5, 2, 2.5, 3, 3.5)) if rng.random() < 0.9 else rng.uniform(4.2, 7)
    back = start + timedelta(hours=hours, minutes=rng.randrange(0, 20))
    if back > now:
        return  # still out
    late = back - start > timedelta(hours=community.max_hours_outside)
    out.returned_at, out.overdue = back, late
    passage(back, Direction.ENTRY, True, [Reason.OVERDUE] if late else [], overdue=late)
