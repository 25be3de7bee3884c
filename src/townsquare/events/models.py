"""Behaviour events: what residents did with a mini-app, append-only and accepted at most once.

This table is the contract between intake (events/), scoring (scoring/) and traffic (traffic/):
one row per event, typed columns for everything the metrics read, never updated.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from townsquare.core.database import Base, str_enum, utcnow

# The stored ids of events the platform observed itself in its own records (payments: a trade
# paid, a refund). A mini-app's ids are stored as `storage_key` digests (64 hex digits) and the
# simulator's as digests or "ev…", so nothing a sender sends can carry this prefix: scoring
# tells the platform's word from a mini-app's by it (docs/scoring.md, "Trades").
PLATFORM_PREFIX = "platform:"


class EventType(enum.StrEnum):
    VISIT = "visit"
    EXPOSURE = "exposure"  # the mini-app was shown on a surface (feed, search, hub …)
    CLICK = "click"  # a shown mini-app was opened from that surface
    ORDER_PLACED = "order_placed"  # amount_fen, order_id
    ORDER_FULFILLED = "order_fulfilled"  # order_id, duration_seconds (placed → fulfilled)
    ORDER_CANCELLED = "order_cancelled"  # order_id, cancelled_by: "user" | "merchant" | "system"
    REFUND = "refund"  # order_id, amount_fen
    COMPLAINT = "complaint"  # complaint_category, resolution: "" | "resolved" | "unresolved"
    RATING = "rating"  # rating 1..5, order_id optional
    MESSAGE_RESPONSE = "message_response"  # response_seconds: merchant's reply time
    # Observed by the platform only (PLATFORM_OBSERVED: a mini-app may not send them), recorded
    # by `intake.record_platform` as orders and deliveries move. They reuse the typed columns:
    # `resolution` says "on_time" or "late" (PUNCTUALITY), the seconds columns say by how much.
    ORDER_ACCEPTED = "order_accepted"  # order_id, response_seconds (paid → accepted),
    #   resolution: late when accepted after the shop's accept window (Order.accept_by)
    ORDER_READY = "order_ready"  # order_id, resolution: late when ready after the slot's start,
    #   duration_seconds: ready time − slot start (negative: that many seconds early)
    DELIVERY_DONE = "delivery_done"  # order_id, resolution: "on_time" | "late" by the promised
    #   time ("" when nothing was promised), duration_seconds: delivered − promised (signed)
    DELIVERY_INCIDENT = "delivery_incident"  # order_id, complaint_category: the incident's kind
    #   ("cancelled", "rejected", "returning", "returned" …: the courier gave the delivery up)


# What only the platform observes of an order's service (see EventType's comments).
PLATFORM_OBSERVED = frozenset((EventType.ORDER_ACCEPTED, EventType.ORDER_READY,
                               EventType.DELIVERY_DONE, EventType.DELIVERY_INCIDENT))
PUNCTUALITY = ("on_time", "late")


class BehaviourEvent(Base):
    __tablename__ = "behaviour_events"
    __table_args__ = (
        Index("ix_events_miniapp_time", "miniapp_id", "occurred_at"),
        Index("ix_events_time", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)  # sender's id: idempotency
    type: Mapped[EventType] = mapped_column(str_enum(EventType, 24))
    occurred_at: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)

    # attribution
    miniapp_id: Mapped[int] = mapped_column(ForeignKey("miniapps.id"))
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    category_code: Mapped[str] = mapped_column(String(32))
    user_sub: Mapped[str] = mapped_column(String(64), default="")  # pseudonymous per-app user id
    city: Mapped[str] = mapped_column(String(32), default="")
    community: Mapped[str] = mapped_column(String(64), default="")
    surface: Mapped[str] = mapped_column(String(32), default="")  # exposure/click: where shown
    slot_reason: Mapped[str] = mapped_column(String(32), default="")  # organic, guaranteed …
    audience: Mapped[str] = mapped_column(String(16), default="")  # exposure: resident | guest

    # measures (null where the type has none)
    order_id: Mapped[str | None] = mapped_column(String(64))
    amount_fen: Mapped[int | None]
    duration_seconds: Mapped[int | None]
    cancelled_by: Mapped[str | None] = mapped_column(String(16))
    complaint_category: Mapped[str | None] = mapped_column(String(32))
    resolution: Mapped[str | None] = mapped_column(String(16))
    rating: Mapped[int | None]
    response_seconds: Mapped[int | None]


class ExposureDay(Base):
    """Exposure and click events counted per local day, mini-app and slot reason: what the
    traffic consoles chart, kept by whoever inserts those events (`events.rollups`), so a page
    reads a few rows per day instead of grouping every event of its window."""

    __tablename__ = "exposure_days"
    __table_args__ = (
        Index("ix_exposure_days_day", "day"),
    )

    miniapp_id: Mapped[int] = mapped_column(ForeignKey("miniapps.id"), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)  # local day (settings.timezone)
    slot_reason: Mapped[str] = mapped_column(String(32), primary_key=True)  # "" as recorded
    impressions: Mapped[int] = mapped_column(default=0)
    clicks: Mapped[int] = mapped_column(default=0)
