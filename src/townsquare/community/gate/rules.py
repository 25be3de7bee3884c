"""Rules the gate decision applies, kept apart from it: the quota period and the exits used in
it, and a person's health status (audited, because even a colour is a look at the record)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.community import status
from townsquare.community.gate.models import Passage
from townsquare.community.models import (
    Community,
    HealthDeclaration,
    HealthFlag,
    HealthRecordView,
    Household,
    Person,
)


def local_day(at: datetime, zone: str) -> date:
    return at.astimezone(ZoneInfo(zone)).date()


def quota_window(at: datetime, *, per_days: int, zone: str) -> tuple[datetime, datetime]:
    """The quota period holding `at`: `per_days` local calendar days, counted from day 0 of
    the Unix epoch, so "1 exit per 3 days" means fixed 3-day periods, the same for everyone."""
    tz = ZoneInfo(zone)
    day = local_day(at, zone)
    per_days = max(per_days, 1)
    first = day - timedelta(days=(day - date(1970, 1, 1)).days % per_days)
    start = datetime.combine(first, time(), tz)
    return start, datetime.combine(first + timedelta(days=per_days), time(), tz)


def exits_used(
    db: Session, *, community: Community, household: Household, at: datetime, zone: str
) -> int:
    start, end = quota_window(at, per_days=community.per_days, zone=zone)
    return (
        db.scalar(
            select(func.count(Passage.id)).where(
                Passage.household_id == household.id,
                Passage.counted.is_(True),
                Passage.at >= start,
                Passage.at < end,
            )
        )
        or 0
    )


def person_status(
    db: Session,
    *,
    viewer: User | None,
    community: Community,
    person: Person,
    today: date,
    purpose: str,
) -> status.Status:
    """The person's colour and reasons today; the look is audited as a HealthRecordView."""
    rules = status.rules_with_defaults(community.status_rules)
    since = today - timedelta(days=max(int(rules["red_days"]), int(rules["yellow_days"])))
    flags = db.scalars(select(HealthFlag).where(HealthFlag.person_id == person.id))
    declarations = db.scalars(
        select(HealthDeclaration).where(
            HealthDeclaration.person_id == person.id, HealthDeclaration.day >= since
        )
    )
    # a guard learns only the colour and the reasons, but that is still a look at the health
    # record: audit it like every other view
    db.add(
        HealthRecordView(
            viewer_id=viewer.id if viewer else None,
            person_id=person.id,
            community_id=community.id,
            purpose=purpose,
        )
    )
    return status.status_colour(list(flags), list(declarations), today, rules)


def people_status(
    db: Session,
    *,
    viewer: User | None,
    community: Community,
    people: list[Person],
    today: date,
    purpose: str,
) -> list[status.Status]:
    """`person_status` of each of `people`, in three statements whatever their number (a
    household scanned at the gate); every look is audited, one row per person, as there."""
    if len(people) <= 1:
        return [person_status(db, viewer=viewer, community=community, person=p, today=today,
                              purpose=purpose) for p in people]
    rules = status.rules_with_defaults(community.status_rules)
    since = today - timedelta(days=max(int(rules["red_days"]), int(rules["yellow_days"])))
    ids = [p.id for p in people]
    flags: dict[int, list[HealthFlag]] = {i: [] for i in ids}
    for flag in db.scalars(select(HealthFlag).where(HealthFlag.person_id.in_(ids))
                           .order_by(HealthFlag.id)):
        flags[flag.person_id].append(flag)
    declared: dict[int, list[HealthDeclaration]] = {i: [] for i in ids}
    for declaration in db.scalars(
        select(HealthDeclaration)
        .where(HealthDeclaration.person_id.in_(ids), HealthDeclaration.day >= since)
        .order_by(HealthDeclaration.id)
    ):
        declared[declaration.person_id].append(declaration)
    db.add_all(
        HealthRecordView(viewer_id=viewer.id if viewer else None, person_id=i,
                         community_id=community.id, purpose=purpose)
        for i in ids
    )
    return [status.status_colour(flags[i], declared[i], today, rules) for i in ids]
