"""Health: daily declarations, flags set by staff, risk regions, status colours, the audited
health record and the retention job.

Health data is seen only by the property manager and the committee (every look at a person's
record is written to HealthRecordView); residents see their own household's colours, and the
gate page sees only what its decision needs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.community import access
from townsquare.community.models import (
    Community,
    FlagKind,
    HealthDeclaration,
    HealthFlag,
    HealthRecordView,
    Household,
    Person,
    RiskRegion,
)
from townsquare.community.status import SYMPTOMS, Status, status_colour, worst
from townsquare.core import audit
from townsquare.core.clock import clock
from townsquare.core.database import rows_changed
from townsquare.core.errors import Conflict, NotFound, ValidationFailed
from townsquare.core.settings import Settings
from townsquare.core.text import clean_name, clean_text, well_formed

LOOKBACK_DAYS = 60  # longest status period that declarations are read for


def local_today(settings: Settings, at: datetime | None = None) -> date:
    """Today in the configured zone: a declaration is 'for today' as residents see the day."""
    return (at or clock.now()).astimezone(ZoneInfo(settings.timezone)).date()


def declare(
    db: Session, *, settings: Settings, actor: User, community: Community, person: Person,
    temperature_c: float, symptoms: Iterable[str], risk_travel: bool, case_contact: bool,
) -> HealthDeclaration:
    """Today's declaration for `person` (the actor or, for the head, a member); again updates."""
    if not isinstance(temperature_c, (int, float)) or not 34.0 <= float(temperature_c) <= 43.0:
        raise ValidationFailed("A body temperature is 34.0 to 43.0 °C.", field="temperature_c")
    chosen = list(dict.fromkeys(symptoms))
    if any(s not in SYMPTOMS for s in chosen):
        raise ValidationFailed("Unknown symptom.", field="symptoms")
    if person.community_id != community.id:
        raise NotFound("No such resident in this community.")
    today = local_today(settings)
    found = db.scalar(select(HealthDeclaration).where(
        HealthDeclaration.person_id == person.id, HealthDeclaration.day == today
    ))
    if found is None:
        found = HealthDeclaration(person_id=person.id, community_id=community.id, day=today)
        db.add(found)
    found.temperature_c = round(float(temperature_c), 1)
    found.symptoms = [s for s in SYMPTOMS if s in chosen]
    found.risk_travel = bool(risk_travel)
    found.case_contact = bool(case_contact)
    found.declared_by_id = actor.id
    found.declared_at = clock.now()
    db.flush()
    return found


def declared_today(db: Session, *, settings: Settings, person: Person) -> bool:
    return db.scalar(select(HealthDeclaration.id).where(
        HealthDeclaration.person_id == person.id,
        HealthDeclaration.day == local_today(settings),
    )) is not None


def risk_regions(db: Session, *, community: Community) -> list[RiskRegion]:
    """The global list plus the community's own."""
    stmt = select(RiskRegion).where(
        (RiskRegion.community_id.is_(None)) | (RiskRegion.community_id == community.id)
    ).order_by(RiskRegion.name)
    return list(db.scalars(stmt))


def add_risk_region(
    db: Session, *, actor: User | None, community: Community | None, name: str
) -> RiskRegion:
    """A high-risk region: global (operator, CLI) or for one community (its staff)."""
    if community is None:
        access.require_operator(actor)
    else:
        access.require(db, actor=actor, community=community, roles=access.HEALTH_ROLES)
    name = clean_name(name, field="region")
    community_id = community.id if community else None
    exists = db.scalar(select(RiskRegion).where(
        RiskRegion.community_id.is_(None) if community_id is None
        else RiskRegion.community_id == community_id,
        RiskRegion.name == name,
    ))
    if exists:
        return exists
    region = RiskRegion(community_id=community_id, name=name)
    db.add(region)
    db.flush()
    return region


def set_flag(
    db: Session, *, actor: User | None, community: Community, person_id: str, kind: str,
    start: date, end: date | None = None, region: str = "", note: str = "",
) -> HealthFlag:
    """Flag a resident (property manager or committee)."""
    access.require(db, actor=actor, community=community, roles=access.HEALTH_ROLES)
    try:
        flag_kind = FlagKind(kind)
    except ValueError:
        raise ValidationFailed("Unknown flag.", field="kind") from None
    if end is not None and end < start:
        raise ValidationFailed("The end date is before the start date.", field="end")
    if end is not None and (end - start).days > 366:
        raise ValidationFailed("A flag lasts at most a year.", field="end")
    if flag_kind == FlagKind.QUARANTINE and end is None:
        raise ValidationFailed("A quarantine needs an end date.", field="end")
    region = (region or "").strip()
    if flag_kind == FlagKind.RISK_REGION:
        if region not in {r.name for r in risk_regions(db, community=community)}:
            raise ValidationFailed("Choose a region from the high-risk list.", field="region")
    else:
        region = ""
    note = clean_text(note, field="note", message="A note is at most {n} characters.",
                      max_length=500)
    person = access.person_in(db, community=community, person_id=person_id)
    flag = HealthFlag(
        person_id=person.id, community_id=community.id, kind=flag_kind, start=start, end=end,
        region=region, note=note, set_by_id=actor.id if actor else None,
    )
    db.add(flag)
    db.flush()
    audit.record(
        db, actor_id=actor.id if actor else None, action="community.flag.set",
        subject_type="person", subject_id=person.public_id, flag=flag.public_id,
        kind=flag_kind.value, start=start.isoformat(), end=end.isoformat() if end else None,
    )
    return flag


def lift_flag(db: Session, *, actor: User | None, community: Community, flag_id: str
              ) -> HealthFlag:
    """End a flag now (property manager or committee)."""
    access.require(db, actor=actor, community=community, roles=access.HEALTH_ROLES)
    flag = None
    if well_formed(flag_id, "flg"):
        flag = db.scalar(select(HealthFlag).where(
            HealthFlag.public_id == flag_id, HealthFlag.community_id == community.id
        ))
    if flag is None:
        raise NotFound("No such flag.")
    if flag.lifted_at is not None:
        raise Conflict("This flag has already been lifted.")
    flag.lifted_at = clock.now()
    flag.lifted_by_id = actor.id if actor else None
    audit.record(
        db, actor_id=actor.id if actor else None, action="community.flag.lift",
        subject_type="person", subject_id=flag.person.public_id, flag=flag.public_id,
    )
    db.flush()
    return flag


def active_flags(db: Session, *, community: Community, today: date) -> list[HealthFlag]:
    """Flags not lifted whose period includes today, for the console's list."""
    stmt = select(HealthFlag).where(
        HealthFlag.community_id == community.id, HealthFlag.lifted_at.is_(None),
        HealthFlag.start <= today,
        (HealthFlag.end.is_(None)) | (HealthFlag.end >= today),
    ).order_by(HealthFlag.kind, HealthFlag.start)
    return list(db.scalars(stmt))


def statuses(
    db: Session, *, community: Community, persons: list[Person], today: date
) -> dict[int, Status]:
    """Each person's status (by person id) from their flags and recent declarations, in two
    queries whatever the number of people."""
    ids = [p.id for p in persons]
    flags: dict[int, list[HealthFlag]] = {i: [] for i in ids}
    declarations: dict[int, list[HealthDeclaration]] = {i: [] for i in ids}
    if ids:
        for flag in db.scalars(select(HealthFlag).where(
            HealthFlag.person_id.in_(ids), HealthFlag.lifted_at.is_(None)
        )):
            flags[flag.person_id].append(flag)
        since = today - timedelta(days=LOOKBACK_DAYS)
        for declaration in db.scalars(select(HealthDeclaration).where(
            HealthDeclaration.person_id.in_(ids), HealthDeclaration.day >= since
        )):
            declarations[declaration.person_id].append(declaration)
    rules = community.status_rules
    return {i: status_colour(flags[i], declarations[i], today, rules) for i in ids}


def person_status(db: Session, *, community: Community, person: Person, today: date) -> Status:
    return statuses(db, community=community, persons=[person], today=today)[person.id]


def household_status(
    db: Session, *, community: Community, household: Household, today: date
) -> Status:
    """The household's colour: its worst member's."""
    found = statuses(db, community=community, persons=list(household.members), today=today)
    return worst(found.values())


@dataclass
class HealthRecord:
    person: Person
    status: Status
    flags: list[HealthFlag]
    declarations: list[HealthDeclaration]


def health_record(
    db: Session, *, settings: Settings, actor: User | None, community: Community,
    person_id: str, purpose: str = "manage",
) -> HealthRecord:
    """A person's flags and declarations (property manager, committee); the view is audited."""
    access.require(db, actor=actor, community=community, roles=access.HEALTH_ROLES)
    person = access.person_in(db, community=community, person_id=person_id)
    today = local_today(settings)
    db.add(HealthRecordView(
        viewer_id=actor.id if actor else None, person_id=person.id, community_id=community.id,
        purpose=purpose[:32],
    ))
    flags = list(db.scalars(
        select(HealthFlag).where(HealthFlag.person_id == person.id)
        .order_by(HealthFlag.start.desc(), HealthFlag.id.desc())
    ))
    declarations = list(db.scalars(
        select(HealthDeclaration).where(HealthDeclaration.person_id == person.id)
        .order_by(HealthDeclaration.day.desc())
    ))
    db.flush()
    return HealthRecord(
        person, person_status(db, community=community, person=person, today=today), flags,
        declarations,
    )


def record_views(
    db: Session, *, actor: User | None, community: Community, person_id: str
) -> list[tuple[HealthRecordView, User | None]]:
    """Who looked at this person's health record, newest first (property manager)."""
    access.require(db, actor=actor, community=community, roles=[access.PM])
    person = access.person_in(db, community=community, person_id=person_id)
    stmt = (
        select(HealthRecordView, User)
        .outerjoin(User, User.id == HealthRecordView.viewer_id)
        .where(HealthRecordView.person_id == person.id)
        .order_by(HealthRecordView.viewed_at.desc(), HealthRecordView.id.desc())
        .limit(200)
    )
    return [(view, user) for view, user in db.execute(stmt)]


def purge_declarations(db: Session, *, settings: Settings, today: date | None = None) -> int:
    """Delete declarations older than the retention period; returns how many (a job)."""
    today = today or local_today(settings)
    cutoff = today - timedelta(days=settings.health_retention_days)
    deleted = rows_changed(
        db.execute(delete(HealthDeclaration).where(HealthDeclaration.day < cutoff))
    )
    audit.record(
        db, actor_id=None, action="community.health.purge", subject_type="community",
        subject_id="*", before=cutoff.isoformat(), deleted=deleted,
    )
    return deleted
