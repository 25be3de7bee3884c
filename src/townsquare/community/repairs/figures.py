"""The committee's repair figures per community: counts, median response and completion times
and the share on target, over the tickets reported in a period.

Response is reported → accepted by the technician; completion is reported → the work done
(`done_at`, before any payment). A ticket counts towards a target's share once that target is
settled: met or missed by the move, or missed by still being open past it. Cancelled tickets
count only in the counts."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.community import access
from townsquare.community.models import Community
from townsquare.community.repairs.models import OPEN, RepairTicket, Status
from townsquare.core.clock import clock


@dataclass
class RepairFigures:
    community: str  # public id
    name: str
    reported: int = 0
    open: int = 0
    done: int = 0  # done, awaiting payment or confirmed
    cancelled: int = 0
    median_response_minutes: float | None = None
    median_completion_hours: float | None = None
    response_on_target: float | None = None  # share 0..1
    completion_on_target: float | None = None
    rating_average: float | None = None

    @property
    def response_pct(self) -> float | None:
        return None if self.response_on_target is None else round(100 * self.response_on_target, 1)

    @property
    def completion_pct(self) -> float | None:
        return None if self.completion_on_target is None else round(
            100 * self.completion_on_target, 1)


def _share(met: int, due: int) -> float | None:
    return met / due if due else None


def of_tickets(community: Community, tickets: list[RepairTicket],
               now: datetime) -> RepairFigures:
    """The figures of these tickets (pure: no database)."""
    out = RepairFigures(community=community.public_id, name=community.name,
                        reported=len(tickets))
    responses, completions, ratings = [], [], []
    response_met = response_due = completion_met = completion_due = 0
    for t in tickets:
        if t.status is Status.CANCELLED:
            out.cancelled += 1
            continue
        if t.status in OPEN:
            out.open += 1
        else:
            out.done += 1
        if t.accepted_at is not None:
            responses.append((t.accepted_at - t.reported_at).total_seconds() / 60)
            response_due += 1
            response_met += t.accepted_at <= t.respond_by
        elif t.respond_by < now:
            response_due += 1
        if t.done_at is not None:
            completions.append((t.done_at - t.reported_at).total_seconds() / 3600)
            completion_due += 1
            completion_met += t.done_at <= t.complete_by
        elif t.complete_by < now:
            completion_due += 1
        if t.rating is not None:
            ratings.append(t.rating)
    out.median_response_minutes = statistics.median(responses) if responses else None
    out.median_completion_hours = statistics.median(completions) if completions else None
    out.response_on_target = _share(response_met, response_due)
    out.completion_on_target = _share(completion_met, completion_due)
    out.rating_average = statistics.fmean(ratings) if ratings else None
    return out


def for_community(db: Session, *, actor: User | None, community: Community,
                  since: datetime, until: datetime | None = None) -> RepairFigures:
    access.require(db, actor=actor, community=community, roles=access.HEALTH_ROLES)
    now = clock.now()
    stmt = select(RepairTicket).where(RepairTicket.community_id == community.id,
                                      RepairTicket.reported_at >= since)
    if until is not None:
        stmt = stmt.where(RepairTicket.reported_at < until)
    return of_tickets(community, list(db.scalars(stmt)), now)


def committee(db: Session, *, actor: User, since: datetime,
              until: datetime | None = None) -> list[RepairFigures]:
    """Each community the actor oversees (committee or property manager), by name."""
    return [for_community(db, actor=actor, community=c, since=since, until=until)
            for c in access.communities_for(db, actor=actor, roles=access.HEALTH_ROLES)]
