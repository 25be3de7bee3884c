"""Repair tickets, their timeline, photos, the per-community targets and the reminders sent."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from townsquare.core.database import Base, str_enum, utcnow
from townsquare.core.ids import new_id


class Category(enum.StrEnum):
    PLUMBING = "plumbing"  # 水管、下水
    ELECTRICAL = "electrical"
    DOORS_WINDOWS = "doors_windows"
    APPLIANCE = "appliance"
    LIFT = "lift"
    COMMON_AREA = "common_area"
    OTHER = "other"


class Place(enum.StrEnum):
    ROOM = "room"  # inside the household's own room
    COMMON = "common"  # a common area: stairwell, lift, garden


class Status(enum.StrEnum):
    REPORTED = "reported"
    ASSIGNED = "assigned"  # a technician is named, not yet accepted
    ACCEPTED = "accepted"  # the technician took it: the response
    ON_THE_WAY = "on_the_way"
    IN_PROGRESS = "in_progress"
    AWAITING_PAYMENT = "awaiting_payment"  # done, with a charge the resident pays
    DONE = "done"  # the work is finished (and paid, when chargeable)
    CONFIRMED = "confirmed"  # by the resident, or automatically after the community's days
    CANCELLED = "cancelled"


OPEN = (Status.REPORTED, Status.ASSIGNED, Status.ACCEPTED, Status.ON_THE_WAY,
        Status.IN_PROGRESS)
ENDED = (Status.CONFIRMED, Status.CANCELLED)


class RepairTargets(Base):
    """A community's service targets for repairs (defaults when it has no row)."""

    __tablename__ = "repair_targets"

    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), primary_key=True)
    respond_minutes: Mapped[int] = mapped_column(default=30)  # reported → accepted
    complete_hours: Mapped[int] = mapped_column(default=24)  # reported → done
    auto_confirm_days: Mapped[int] = mapped_column(default=3)  # done → confirmed unasked
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class RepairTicket(Base):
    """One reported problem of one household. Every status change is one conditional UPDATE
    (`service._move`) with a `RepairEvent` row."""

    __tablename__ = "repair_tickets"
    __table_args__ = (
        UniqueConstraint("reporter_id", "idempotency_key"),
        Index("ix_repair_tickets_community_status", "community_id", "status"),
        Index("ix_repair_tickets_technician", "technician_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("rep"))
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    household_id: Mapped[int] = mapped_column(
        ForeignKey("households.id", ondelete="CASCADE"), index=True)
    reporter_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    idempotency_key: Mapped[str] = mapped_column(String(64))
    category: Mapped[Category] = mapped_column(str_enum(Category, 16))
    place: Mapped[Place] = mapped_column(str_enum(Place, 8))
    location: Mapped[str] = mapped_column(String(100))  # e.g. 厨房水槽下 / 3栋电梯
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[Status] = mapped_column(str_enum(Status, 20), default=Status.REPORTED)
    technician_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # handed to an admitted outside merchant (its staff work it; it is paid to that merchant
    # with the community's commission at the rate of the admission when it was handed over)
    admission_id: Mapped[int | None] = mapped_column(
        ForeignKey("community_service_admissions.id"), index=True)
    commission_bp: Mapped[int] = mapped_column(default=0)
    price_fen: Mapped[int] = mapped_column(default=0)
    trade_no: Mapped[str | None] = mapped_column(String(40), index=True)
    trade_attempt: Mapped[int] = mapped_column(default=0)
    work_note: Mapped[str] = mapped_column(Text, default="")
    # the targets as they were when reported (a later change of targets does not move them)
    respond_by: Mapped[datetime]
    complete_by: Mapped[datetime]
    reported_at: Mapped[datetime] = mapped_column(default=utcnow)
    assigned_at: Mapped[datetime | None]
    accepted_at: Mapped[datetime | None]
    on_the_way_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None]  # the work finished (measured against complete_by)
    paid_at: Mapped[datetime | None]
    confirmed_at: Mapped[datetime | None]
    auto_confirmed: Mapped[bool] = mapped_column(default=False)
    cancelled_at: Mapped[datetime | None]
    cancelled_by: Mapped[str] = mapped_column(String(16), default="")  # resident / property
    cancel_reason: Mapped[str] = mapped_column(String(200), default="")
    user_sub: Mapped[str] = mapped_column(String(64), default="")  # as the property app knows them
    rating: Mapped[int | None]
    rating_comment: Mapped[str] = mapped_column(String(200), default="")
    rated_at: Mapped[datetime | None]

    photos: Mapped[list[RepairPhoto]] = relationship(
        order_by="RepairPhoto.position", lazy="selectin", cascade="all, delete-orphan")
    events: Mapped[list[RepairEvent]] = relationship(
        order_by="RepairEvent.id", lazy="selectin", cascade="all, delete-orphan",
        viewonly=True)


class RepairPhoto(Base):
    __tablename__ = "repair_photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("rph"))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("repair_tickets.id", ondelete="CASCADE"),
                                           index=True)
    position: Mapped[int] = mapped_column(default=0)
    width: Mapped[int]
    height: Mapped[int]
    size_bytes: Mapped[int]


class RepairEvent(Base):
    """The timeline: one row per move."""

    __tablename__ = "repair_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("repair_tickets.id", ondelete="CASCADE"),
                                           index=True)
    from_status: Mapped[str] = mapped_column(String(20), default="")
    to_status: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_kind: Mapped[str] = mapped_column(String(16))  # resident, property, technician, system
    note: Mapped[str] = mapped_column(String(200), default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)


class RepairReminder(Base):
    """A lateness reminder sent for a ticket: at most one per kind (respond, complete)."""

    __tablename__ = "repair_reminders"
    __table_args__ = (UniqueConstraint("ticket_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("repair_tickets.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
