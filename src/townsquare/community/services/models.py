"""The marketplace's tables: admissions of outside merchants, the catalog, bookings."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from townsquare.core.database import Base, Timestamped, str_enum
from townsquare.core.ids import new_id


class AdmissionStatus(enum.StrEnum):
    APPLIED = "applied"
    APPROVED = "approved"
    REFUSED = "refused"
    ENDED = "ended"


class Admission(Timestamped, Base):
    """An outside merchant's leave to serve one community through one of its mini-apps, at the
    commission the property set when it approved."""

    __tablename__ = "community_service_admissions"
    __table_args__ = (
        CheckConstraint("commission_bp BETWEEN 0 AND 3000", name="commission_range"),
        Index("ix_community_service_admissions_community", "community_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("adm"))
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    miniapp_id: Mapped[int] = mapped_column(ForeignKey("miniapps.id"))
    offer: Mapped[str] = mapped_column(String(400), default="")  # what it offers to serve
    status: Mapped[AdmissionStatus] = mapped_column(str_enum(AdmissionStatus, 16),
                                                    default=AdmissionStatus.APPLIED)
    commission_bp: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str] = mapped_column(String(200), default="")  # of a refusal or an end
    applied_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    ended_by: Mapped[str] = mapped_column(String(16), default="")  # "property" or "merchant"
    ended_at: Mapped[datetime | None]


class Service(Timestamped, Base):
    """One entry of a community's catalog: run by the property (admission NULL) or by an
    admitted merchant. A bookable service holds its time on a store's delivery slots (the
    provider comes to the home) with one SKU of that store; a linked one (grocery group buying)
    only points to a shop mini-app."""

    __tablename__ = "community_services"
    __table_args__ = (
        CheckConstraint("price_fen >= 0", name="price_not_negative"),
        UniqueConstraint("community_id", "name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("svc"))
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"),
                                              index=True)
    admission_id: Mapped[int | None] = mapped_column(
        ForeignKey("community_service_admissions.id"))
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(String(400), default="")
    price_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("ordering_stores.id"))
    sku_id: Mapped[int | None] = mapped_column(ForeignKey("ordering_skus.id"))
    link_miniapp_id: Mapped[int | None] = mapped_column(ForeignKey("miniapps.id"))
    active: Mapped[bool] = mapped_column(default=True)

    admission: Mapped[Admission | None] = relationship(lazy="joined")


class BookingStatus(enum.StrEnum):
    CREATED = "created"  # waiting for payment
    PAID = "paid"
    ON_THE_WAY = "on_the_way"
    DONE = "done"
    CANCELLED = "cancelled"


class Booking(Timestamped, Base):
    """A resident's booking of a service at a slot, paid through one trade (`out_trade_no` is
    the booking's public id, `svb_…`)."""

    __tablename__ = "community_service_bookings"
    __table_args__ = (
        UniqueConstraint("user_id", "idempotency_key"),
        CheckConstraint("rating IS NULL OR rating BETWEEN 1 AND 5", name="rating_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("svb"))
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"),
                                              index=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("community_services.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    user_sub: Mapped[str] = mapped_column(String(64), default="")
    idempotency_key: Mapped[str] = mapped_column(String(64))
    miniapp_id: Mapped[int] = mapped_column(ForeignKey("miniapps.id"))
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    slot_start: Mapped[datetime]
    hold_id: Mapped[int] = mapped_column(ForeignKey("ordering_holds.id"))
    trade_no: Mapped[str] = mapped_column(String(32), unique=True)
    price_fen: Mapped[int] = mapped_column(BigInteger)
    commission_bp: Mapped[int] = mapped_column(Integer, default=0)
    address: Mapped[str] = mapped_column(String(120), default="")  # the room, shown to staff
    status: Mapped[BookingStatus] = mapped_column(str_enum(BookingStatus, 16),
                                                  default=BookingStatus.CREATED)
    paid_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    rating: Mapped[int | None]
    complaint: Mapped[str] = mapped_column(String(400), default="")

    service: Mapped[Service] = relationship(lazy="joined")
