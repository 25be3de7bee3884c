"""Dashboard figures for the property manager and the committee, per community and summed
over the communities a committee member oversees."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.community import access
from townsquare.community.gate.models import Direction, Passage
from townsquare.community.health import local_today
from townsquare.community.models import (
    Community,
    FlagKind,
    HealthDeclaration,
    HealthFlag,
    Person,
)
from townsquare.core.settings import Settings


@dataclass
class Figures:
    residents: int = 0
    verified: int = 0
    households: int = 0
    quarantined: int = 0
    fever: int = 0  # active fever flags plus today's declarations at or above the threshold
    declared_today: int = 0
    exits_by_hour: list[int] = field(default_factory=lambda: [0] * 24)
    entries_by_hour: list[int] = field(default_factory=lambda: [0] * 24)

    @property
    def completion(self) -> int:
        """Today's declaration completion among verified residents, in percent."""
        return round(100 * self.declared_today / self.verified) if self.verified else 0

    def add(self, other: Figures) -> None:
        for name in ("residents", "verified", "households", "quarantined", "fever",
                     "declared_today"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.exits_by_hour = [a + b for a, b in zip(self.exits_by_hour, other.exits_by_hour,
                                                    strict=True)]
        self.entries_by_hour = [a + b for a, b in zip(self.entries_by_hour,
                                                      other.entries_by_hour, strict=True)]


def _count(db: Session, stmt) -> int:
    return db.scalar(stmt) or 0


def figures(
    db: Session, *, settings: Settings, actor: User | None, community: Community,
    day: date | None = None,
) -> Figures:
    """One community's figures for `day` (today by default)."""
    access.require(db, actor=actor, community=community, roles=access.HEALTH_ROLES)
    day = day or local_today(settings)
    f = Figures()
    in_com = Person.community_id == community.id
    f.residents = _count(db, select(func.count()).select_from(Person).where(in_com))
    f.verified = _count(db, select(func.count()).select_from(Person).where(
        in_com, Person.user_id.is_not(None)))
    f.households = _count(db, select(func.count(func.distinct(Person.household_id))).where(
        in_com))
    active = (
        (HealthFlag.community_id == community.id) & HealthFlag.lifted_at.is_(None)
        & (HealthFlag.start <= day) & (HealthFlag.end.is_(None) | (HealthFlag.end >= day))
    )
    f.quarantined = _count(db, select(func.count(func.distinct(HealthFlag.person_id))).where(
        active, HealthFlag.kind == FlagKind.QUARANTINE))
    threshold = float((community.status_rules or {}).get("fever_threshold", 37.3))
    flagged = set(db.scalars(select(HealthFlag.person_id).where(
        active, HealthFlag.kind == FlagKind.FEVER)))
    declared = set(db.scalars(select(HealthDeclaration.person_id).where(
        HealthDeclaration.community_id == community.id, HealthDeclaration.day == day,
        HealthDeclaration.temperature_c >= threshold)))
    f.fever = len(flagged | declared)
    f.declared_today = _count(db, select(func.count()).select_from(HealthDeclaration).join(
        Person, Person.id == HealthDeclaration.person_id).where(
        HealthDeclaration.community_id == community.id, HealthDeclaration.day == day,
        Person.user_id.is_not(None)))
    _passages(db, settings, community, day, f)
    return f


def _passages(db: Session, settings: Settings, community: Community, day: date, f: Figures
              ) -> None:
    """Entries and exits per local hour, from the gate's passages."""
    zone = ZoneInfo(settings.timezone)
    start = datetime.combine(day, time(0), tzinfo=zone)
    stmt = select(Passage.at, Passage.direction).where(
        Passage.community_id == community.id, Passage.allowed.is_(True),
        Passage.at >= start, Passage.at < start + timedelta(days=1))
    for at, direction in db.execute(stmt):
        hour = at.astimezone(zone).hour
        target = f.exits_by_hour if direction == Direction.EXIT else f.entries_by_hour
        target[hour] += 1


def committee_overview(
    db: Session, *, settings: Settings, actor: User, day: date | None = None
) -> tuple[list[tuple[Community, Figures]], Figures]:
    """Each community the actor oversees (committee or property manager) and the sum."""
    communities = access.communities_for(db, actor=actor, roles=access.HEALTH_ROLES)
    rows = [(c, figures(db, settings=settings, actor=actor, community=c, day=day))
            for c in communities]
    total = Figures()
    for _community, f in rows:
        total.add(f)
    return rows, total
