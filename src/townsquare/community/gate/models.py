"""Gate data: every scan at a gate becomes a Passage (allowed or denied, with its reasons).

Passages recorded offline by a guard device carry the device's own id for them (`client_id`),
unique per community, so a sync that is sent twice records each passage once.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from townsquare.community.models import Gate, Household, Person
from townsquare.core.database import Base, str_enum, utcnow
from townsquare.core.ids import new_id


class Direction(enum.StrEnum):
    EXIT = "exit"
    ENTRY = "entry"


class Passage(Base):
    """One scan at a gate: who (household, person when known), where, which way, when, the
    decision and its reasons. Allowed exits count against the household's exit quota."""

    __tablename__ = "community_passages"
    __table_args__ = (
        UniqueConstraint("community_id", "client_id"),
        Index("ix_community_passages_community_at", "community_id", "at"),
        Index("ix_community_passages_household_at", "household_id", "at"),
        Index("ix_community_passages_gate_at", "gate_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("pas"))
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    gate_id: Mapped[int] = mapped_column(ForeignKey("community_gates.id", ondelete="CASCADE"))
    guard_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    household_id: Mapped[int | None] = mapped_column(
        ForeignKey("households.id", ondelete="SET NULL")
    )
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("community_persons.id", ondelete="SET NULL")
    )
    direction: Mapped[Direction] = mapped_column(str_enum(Direction, 8))
    code_kind: Mapped[str] = mapped_column(String(1), default="")  # "p", "h", or "" if unreadable
    at: Mapped[datetime]  # when the code was scanned (the device's time for offline scans)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    allowed: Mapped[bool]
    counted: Mapped[bool] = mapped_column(default=False)  # an exit that uses up quota
    reasons: Mapped[list[Any]] = mapped_column(default=list)  # gate.Reason values
    client_id: Mapped[str | None] = mapped_column(String(64))
    # SHA-256 of what the client sent with its `client_id` (gate, direction, code, and for
    # offline scans the time and the device's decision): a retry must send the same content
    client_digest: Mapped[str] = mapped_column(String(64), default="", server_default="")
    offline: Mapped[bool] = mapped_column(default=False)
    needs_review: Mapped[bool] = mapped_column(default=False)
    returned_at: Mapped[datetime | None]  # exits: when the household came back in
    overdue: Mapped[bool] = mapped_column(default=False)  # out longer than the policy allows
    # a visitor's passage (code kind "v"): the invitation; `household_id` is then the host's
    invitation_id: Mapped[int | None] = mapped_column(
        ForeignKey("community_visitor_invitations.id", ondelete="SET NULL")
    )

    gate: Mapped[Gate] = relationship(lazy="joined")
    household: Mapped[Household | None] = relationship(lazy="joined")
    person: Mapped[Person | None] = relationship(lazy="joined")
    invitation: Mapped[VisitorInvitation | None] = relationship(lazy="joined")


# -- visitor passes (访客) -------------------------------------------------------------------------


class VisitorRules(Base):
    """A community's visitor rules, set by its property manager (defaults when there is no row):
    how many visitors a household may receive per local day, how far ahead and for how long an
    invitation may be, and a lockdown switch that admits no visitors at all."""

    __tablename__ = "community_visitor_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), unique=True
    )
    per_household_per_day: Mapped[int] = mapped_column(default=3)
    max_days_ahead: Mapped[int] = mapped_column(default=7)
    max_hours: Mapped[int] = mapped_column(default=12)  # the longest window of one invitation
    lockdown: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class VisitorInvitation(Base):
    """A verified resident's invitation of a visitor to their household for a time window. The
    visitor's link carries a random token (only its SHA-256 is stored); the QR on that page is a
    signed visitor code (kind "v") naming this invitation."""

    __tablename__ = "community_visitor_invitations"
    __table_args__ = (
        Index("ix_community_visitor_invitations_household_day", "household_id", "day"),
        UniqueConstraint("household_id", "idempotency_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("vis"))
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"))
    host_id: Mapped[int | None] = mapped_column(
        ForeignKey("community_persons.id", ondelete="SET NULL")
    )
    visitor_name: Mapped[str] = mapped_column(String(32))
    visitor_phone: Mapped[str] = mapped_column(String(20))
    purpose: Mapped[str] = mapped_column(String(100), default="")
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    day: Mapped[date]  # the local day the window starts on (the daily limit counts by it)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]

    household: Mapped[Household] = relationship(lazy="joined")
    host: Mapped[Person | None] = relationship(lazy="joined")
