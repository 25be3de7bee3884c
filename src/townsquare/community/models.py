"""Community pass data: communities and their gates, rooms, households and people; the roles
people hold in a community; health declarations, flags and risk regions; notices; and the
audit of who looked at whose health record.

National ID numbers are never stored: a person carries a keyed digest (to match a resident who
verifies, and to make re-imports update instead of duplicate) and a masked form for display.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from townsquare.community.status import DEFAULT_STATUS_RULES
from townsquare.core.database import Base, Timestamped, str_enum, utcnow
from townsquare.core.ids import new_id


class ExitRule(enum.StrEnum):
    """Who of a household may go out."""

    ANY_ADULT = "any_adult"  # any member aged 18 or more
    HEAD_ONLY = "head_only"  # only the household head
    ANYONE = "anyone"


class Community(Timestamped, Base):
    """A residential community (小区) with its exit policy and status-colour rules."""

    __tablename__ = "communities"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("com"))
    name: Mapped[str] = mapped_column(String(64))
    city: Mapped[str] = mapped_column(String(32), default="")
    address: Mapped[str] = mapped_column(String(200), default="")
    # exit policy: `exits_per_household` exits per `per_days` days, back within `max_hours_outside`
    exits_per_household: Mapped[int] = mapped_column(default=1)
    per_days: Mapped[int] = mapped_column(default=1)
    max_hours_outside: Mapped[int] = mapped_column(default=4)
    who_may_exit: Mapped[ExitRule] = mapped_column(
        str_enum(ExitRule, 16), default=ExitRule.ANY_ADULT
    )
    status_rules: Mapped[dict[str, Any]] = mapped_column(
        default=lambda: dict(DEFAULT_STATUS_RULES)
    )
    # The community's one official pass mini-app, chosen by its property manager or an operator:
    # only it receives the reminder subscriptions and sends the platform's reminders.
    pass_miniapp_id: Mapped[int | None] = mapped_column(
        ForeignKey("miniapps.id", ondelete="SET NULL"), unique=True
    )

    gates: Mapped[list[Gate]] = relationship(
        back_populates="community", order_by="Gate.id", lazy="selectin"
    )


class Gate(Base):
    """A gate of a community, where guards scan codes."""

    __tablename__ = "community_gates"
    __table_args__ = (UniqueConstraint("community_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("gat"))
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))

    community: Mapped[Community] = relationship(back_populates="gates")


class Room(Base):
    """A dwelling: building, unit and room number, as written on the door (e.g. 3栋 2单元 301)."""

    __tablename__ = "community_rooms"
    __table_args__ = (UniqueConstraint("community_id", "building", "unit", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("rm"))
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    building: Mapped[str] = mapped_column(String(16))
    unit: Mapped[str] = mapped_column(String(16), default="")
    number: Mapped[str] = mapped_column(String(16))
    # floor area in dm² (0.01 m²: 8937 = 89.37 m²), for fee bills charged per m²; null = unknown
    area_dm2: Mapped[int | None] = mapped_column(default=None)

    @property
    def label(self) -> str:
        """The room as residents write it: building-unit-number (unit omitted when empty)."""
        return "-".join(part for part in (self.building, self.unit, self.number) if part)


class Household(Timestamped, Base):
    """The people living in one room; they share one pass code and one exit quota.

    The head is the member whose relation is "head" (see `Person.relation`)."""

    __tablename__ = "households"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("hh"))
    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), index=True
    )
    room_id: Mapped[int] = mapped_column(ForeignKey("community_rooms.id"), unique=True)

    room: Mapped[Room] = relationship(lazy="joined")
    members: Mapped[list[Person]] = relationship(
        back_populates="household", order_by="Person.id", lazy="selectin"
    )

    @property
    def head(self) -> Person | None:
        return next((p for p in self.members if p.relation == Relation.HEAD), None)


class Relation(enum.StrEnum):
    """A person's relation to the household head."""

    HEAD = "head"
    SPOUSE = "spouse"
    CHILD = "child"
    PARENT = "parent"
    RELATIVE = "relative"
    TENANT = "tenant"
    OTHER = "other"


class Person(Timestamped, Base):
    """A registered resident. `user_id` is set once the resident has verified in the mini-app."""

    __tablename__ = "community_persons"
    __table_args__ = (
        UniqueConstraint("community_id", "id_digest"),
        UniqueConstraint("community_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("per"))
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    household_id: Mapped[int] = mapped_column(
        ForeignKey("households.id", ondelete="CASCADE"), index=True
    )
    real_name: Mapped[str] = mapped_column(String(64))
    id_digest: Mapped[str] = mapped_column(String(64))  # keyed digest, purpose "id_number"
    id_masked: Mapped[str] = mapped_column(String(24))
    birth_date: Mapped[date]  # from the ID number: the "adults only" exit rule needs the age
    phone_masked: Mapped[str] = mapped_column(String(16), default="")
    relation: Mapped[Relation] = mapped_column(str_enum(Relation, 16))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    verified_at: Mapped[datetime | None]

    household: Mapped[Household] = relationship(back_populates="members")

    def age_on(self, day: date) -> int:
        years = day.year - self.birth_date.year
        return years - ((day.month, day.day) < (self.birth_date.month, self.birth_date.day))


class RequestStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class MemberRequest(Timestamped, Base):
    """A user not on the register (e.g. a tenant) asks to join a household; the head decides."""

    __tablename__ = "community_member_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("mrq"))
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    real_name: Mapped[str] = mapped_column(String(64))
    id_digest: Mapped[str] = mapped_column(String(64))
    id_masked: Mapped[str] = mapped_column(String(24))
    birth_date: Mapped[date]
    relation: Mapped[Relation] = mapped_column(str_enum(Relation, 16))
    status: Mapped[RequestStatus] = mapped_column(
        str_enum(RequestStatus, 16), default=RequestStatus.PENDING
    )
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]

    household: Mapped[Household] = relationship(lazy="joined")


class CommunityRoleKind(enum.StrEnum):
    GUARD = "guard"
    PROPERTY_MANAGER = "property_manager"
    COMMITTEE = "committee"  # residents' committee: read-mostly, may oversee several communities
    HOUSEHOLD_HEAD = "household_head"  # granted when a registered head verifies
    TECHNICIAN = "technician"  # property staff who do repairs (community/repairs), added by the PM


class CommunityRole(Base):
    """A role a user holds in one community (a committee member has one row per community)."""

    __tablename__ = "community_roles"
    __table_args__ = (UniqueConstraint("user_id", "community_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    role: Mapped[CommunityRoleKind] = mapped_column(str_enum(CommunityRoleKind, 24))
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)

    community: Mapped[Community] = relationship(lazy="joined")


class GuardPost(Base):
    """A guard assigned to a gate."""

    __tablename__ = "community_guard_posts"
    __table_args__ = (UniqueConstraint("user_id", "gate_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    gate_id: Mapped[int] = mapped_column(ForeignKey("community_gates.id", ondelete="CASCADE"))

    gate: Mapped[Gate] = relationship(lazy="joined")


class HealthDeclaration(Base):
    """A resident's daily health declaration (one per person per day; declaring again updates)."""

    __tablename__ = "health_declarations"
    __table_args__ = (
        UniqueConstraint("person_id", "day"),
        Index("ix_health_declarations_community_day", "community_id", "day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("community_persons.id", ondelete="CASCADE"))
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    day: Mapped[date]  # the local (community time zone) day declared for
    temperature_c: Mapped[float]
    symptoms: Mapped[list[Any]] = mapped_column(default=list)  # subset of status.SYMPTOMS
    risk_travel: Mapped[bool] = mapped_column(default=False)  # high-risk region, last 14 days
    case_contact: Mapped[bool] = mapped_column(default=False)
    declared_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    declared_at: Mapped[datetime] = mapped_column(default=utcnow)


class FlagKind(enum.StrEnum):
    QUARANTINE = "quarantine"  # home quarantine from start to end
    RISK_REGION = "risk_region"  # arrived from a high-risk region (region names which)
    FEVER = "fever"


class HealthFlag(Timestamped, Base):
    """A flag set by the property manager or committee. Active from start to end inclusive
    (open-ended while end is null) unless lifted."""

    __tablename__ = "health_flags"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("flg"))
    person_id: Mapped[int] = mapped_column(
        ForeignKey("community_persons.id", ondelete="CASCADE"), index=True
    )
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    kind: Mapped[FlagKind] = mapped_column(str_enum(FlagKind, 16))
    start: Mapped[date]
    end: Mapped[date | None]
    region: Mapped[str] = mapped_column(String(64), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    lifted_at: Mapped[datetime | None]
    lifted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    person: Mapped[Person] = relationship(lazy="joined")

    def active_on(self, day: date) -> bool:
        return (
            self.lifted_at is None and self.start <= day and (self.end is None or day <= self.end)
        )


class RiskRegion(Base):
    """A high-risk region: global when community_id is null, else only for that community."""

    __tablename__ = "risk_regions"
    __table_args__ = (UniqueConstraint("community_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int | None] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(64))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class Notice(Base):
    """A notice the property manager or committee publishes to a community's residents."""

    __tablename__ = "community_notices"
    __table_args__ = (Index("ix_community_notices_community_at", "community_id", "published_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("ntc"))
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    published_at: Mapped[datetime] = mapped_column(default=utcnow)


class HealthRecordView(Base):
    """Audit: someone looked at a person's health record (declarations and flags)."""

    __tablename__ = "health_record_views"
    __table_args__ = (Index("ix_health_record_views_person", "person_id", "viewed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    viewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("community_persons.id", ondelete="CASCADE"))
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(32))  # e.g. "manage", "household", "gate"
    viewed_at: Mapped[datetime] = mapped_column(default=utcnow)


class VerifyFailure(Base):
    """A failed register verification (name and ID number that match no entry): counted per
    account and per name to throttle guessing, and shown to the property manager."""

    __tablename__ = "community_verify_failures"
    __table_args__ = (
        Index("ix_verify_failures_user", "community_id", "user_id", "at"),
        Index("ix_verify_failures_name", "community_id", "name_key", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name_key: Mapped[str] = mapped_column(String(64))  # keyed digest of the name tried
    name_masked: Mapped[str] = mapped_column(String(16))  # 张*民: enough for the manager
    at: Mapped[datetime] = mapped_column(default=utcnow)
