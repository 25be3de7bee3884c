"""Deliveries, the provider bookings made for each (attempts), the log of every decision and
status change (shown to the merchant), courier positions, webhook receipts (dedup), the
merchant's dispatch settings and its own riders.

A `Delivery` is ours (`dlv_…`, the idempotency key every provider receives). Its status follows
the current attempt's; when an attempt fails or the provider cancels before pickup, the delivery
goes back to `quoted` and is booked again elsewhere (`attempts` keeps the history). Booking is
guarded by a lease on the delivery row (`lease_token`, `lease_until`), taken by one conditional
UPDATE, so two dispatchers can never book two couriers (see dispatch.py)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from townsquare.core.database import Base, Timestamped, str_enum, utcnow
from townsquare.core.ids import new_id
from townsquare.delivery.status import DeliveryStatus


class SourceKind(enum.StrEnum):
    ORDER = "order"  # an ordering order (ord_…)
    GATEWAY = "gateway"  # an ISV app's out id, through townsquare.logistics.delivery.create
    DIRECT = "direct"  # the console or a test


class Policy(enum.StrEnum):
    CHEAPEST = "cheapest"
    FASTEST = "fastest"
    CHEAPEST_IN_TIME = "cheapest_in_time"  # cheapest of those that drop off by the promise


class AttemptState(enum.StrEnum):
    BOOKING = "booking"  # create sent (or about to be): outcome not known yet
    ACTIVE = "active"  # the provider has it
    FAILED = "failed"  # the provider never had it (refused, errored, unknown after a timeout)
    ENDED = "ended"  # it had it, and it ended (delivered, cancelled, returned)


class Delivery(Timestamped, Base):
    __tablename__ = "delivery_deliveries"
    __table_args__ = (
        UniqueConstraint("merchant_id", "idempotency_key"),
        Index("ix_delivery_deliveries_status_news", "status", "last_news_at"),
        Index("ix_delivery_deliveries_source", "source_kind", "source_ref"),
        CheckConstraint("value_fen >= 0", name="value"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True,
                                           default=lambda: new_id("dlv"))
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    source_kind: Mapped[SourceKind] = mapped_column(str_enum(SourceKind, 16))
    source_ref: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str] = mapped_column(String(128))
    resident_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    pickup: Mapped[dict[str, Any]]  # Place as a dict: what the provider was told
    dropoff: Mapped[dict[str, Any]]
    value_fen: Mapped[int] = mapped_column(Integer)
    items: Mapped[list[Any]] = mapped_column(default=list)
    pickup_ready_at: Mapped[datetime]
    promised_by: Mapped[datetime | None]  # drop-off promised to the resident
    dropoff_code_digest: Mapped[str] = mapped_column(String(64))

    status: Mapped[DeliveryStatus] = mapped_column(str_enum(DeliveryStatus, 16),
                                                   default=DeliveryStatus.QUOTED)
    provider: Mapped[str | None] = mapped_column(String(24))
    external_id: Mapped[str | None] = mapped_column(String(96))
    fee_fen: Mapped[int | None] = mapped_column(Integer)
    rider_id: Mapped[int | None] = mapped_column(ForeignKey("delivery_riders.id"))
    courier_name: Mapped[str] = mapped_column(String(64), default="")
    courier_phone: Mapped[str] = mapped_column(String(32), default="")
    courier_lat: Mapped[float | None]
    courier_lng: Mapped[float | None]
    tracking_url: Mapped[str] = mapped_column(String(255), default="")
    pickup_eta: Mapped[datetime | None]
    dropoff_eta: Mapped[datetime | None]
    assigned_at: Mapped[datetime | None]
    picked_up_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    cancel_reason: Mapped[str] = mapped_column(String(200), default="")

    current_attempt_id: Mapped[int | None] = mapped_column(Integer)
    excluded: Mapped[list[Any]] = mapped_column(default=list)  # providers not to try again
    lease_token: Mapped[str | None] = mapped_column(String(32))
    lease_until: Mapped[datetime | None]
    last_news_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    attempts: Mapped[list[DeliveryAttempt]] = relationship(
        back_populates="delivery", order_by="DeliveryAttempt.id", lazy="selectin")


class DeliveryAttempt(Timestamped, Base):
    """One booking with one provider."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("delivery_deliveries.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(24))
    state: Mapped[AttemptState] = mapped_column(str_enum(AttemptState, 16),
                                                default=AttemptState.BOOKING)
    provider_status: Mapped[DeliveryStatus | None] = mapped_column(str_enum(DeliveryStatus, 16))
    quote_id: Mapped[str] = mapped_column(String(96), default="")
    fee_fen: Mapped[int | None] = mapped_column(Integer)
    external_id: Mapped[str | None] = mapped_column(String(96))
    error_code: Mapped[str] = mapped_column(String(40), default="")
    error_message: Mapped[str] = mapped_column(Text, default="")
    finished_at: Mapped[datetime | None]

    delivery: Mapped[Delivery] = relationship(back_populates="attempts")


class DeliveryEvent(Base):
    """One line of a delivery's log: a decision (quotes, choice, failover) or a status change.

    `message` is an English msgid with {placeholders} filled from `params` when shown."""

    __tablename__ = "delivery_events"
    __table_args__ = (Index("ix_delivery_events_delivery_at", "delivery_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("delivery_deliveries.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(24))  # requested, quotes, decision, booked, …
    provider: Mapped[str | None] = mapped_column(String(24))
    status: Mapped[DeliveryStatus | None] = mapped_column(str_enum(DeliveryStatus, 16))
    message: Mapped[str] = mapped_column(String(200))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)


class CourierPosition(Base):
    """Where the courier was (the resident's map draws the trail)."""

    __tablename__ = "delivery_positions"
    __table_args__ = (Index("ix_delivery_positions_delivery_at", "delivery_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("delivery_deliveries.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    lat: Mapped[float]
    lng: Mapped[float]


class WebhookReceipt(Base):
    """A provider's webhook event seen once: a second copy finds the unique key taken."""

    __tablename__ = "delivery_webhook_receipts"
    __table_args__ = (UniqueConstraint("provider", "event_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(24))
    event_id: Mapped[str] = mapped_column(String(128))
    delivery_public_id: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[str] = mapped_column(String(16), default="")
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class DispatchSettings(Base):
    """A merchant's dispatch policy (defaults apply while it has no row)."""

    __tablename__ = "delivery_settings"
    __table_args__ = (
        CheckConstraint("promise_minutes BETWEEN 10 AND 240", name="promise"),
        CheckConstraint("self_fee_fen >= 0", name="self_fee"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"),
                                             unique=True)
    policy: Mapped[Policy] = mapped_column(str_enum(Policy, 24), default=Policy.CHEAPEST)
    promise_minutes: Mapped[int] = mapped_column(Integer, default=45)
    self_first: Mapped[bool] = mapped_column(default=True)
    # the providers this merchant uses, in order of preference on a tie (empty: all available)
    providers: Mapped[list[Any]] = mapped_column(default=list)
    self_fee_fen: Mapped[int] = mapped_column(Integer, default=0)  # what its own riders cost
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Rider(Timestamped, Base):
    """A merchant's staff member marked as its rider (self-delivery)."""

    __tablename__ = "delivery_riders"
    __table_args__ = (UniqueConstraint("merchant_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True,
                                           default=lambda: new_id("rdr"))
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"),
                                             index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(32), default="")
    active: Mapped[bool] = mapped_column(default=True)  # still the merchant's rider
    on_duty: Mapped[bool] = mapped_column(default=False)  # taking deliveries now
    lat: Mapped[float | None]
    lng: Mapped[float | None]
