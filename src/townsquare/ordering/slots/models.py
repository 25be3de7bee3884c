"""Slot rules, the places taken in each slot, and the holds checkouts take.

A rule says when a store offers slots of one fulfilment kind (at one pickup point, for the
community kind). A `SlotLoad` row counts what is taken in one slot; it is created on first use
and only ever changed by conditional UPDATEs (see `holds.py`), so two checkouts can never both
take the last place. A `Hold` is one checkout's claim on one slot place and its stock, released
when it expires unpaid."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from townsquare.core.database import Base, Timestamped, str_enum
from townsquare.core.ids import new_id


class Kind(enum.StrEnum):
    PICKUP = "pickup"
    DELIVERY = "delivery"
    DINE_IN = "dine_in"  # restaurant pre-order: the table is ready at the arrival time
    COMMUNITY = "community"  # community pickup point, next-day (社区团购)


class SlotRule(Timestamped, Base):
    __tablename__ = "ordering_slot_rules"
    __table_args__ = (
        UniqueConstraint("store_id", "kind", "point_id"),
        CheckConstraint("slot_minutes BETWEEN 5 AND 1440", name="slot_length"),
        CheckConstraint("capacity_orders IS NULL OR capacity_orders >= 0", name="orders"),
        CheckConstraint("capacity_prep IS NULL OR capacity_prep >= 0", name="prep"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("slr"))
    store_id: Mapped[int] = mapped_column(ForeignKey("ordering_stores.id", ondelete="CASCADE"),
                                          index=True)
    kind: Mapped[Kind] = mapped_column(str_enum(Kind, 16))
    point_id: Mapped[int | None] = mapped_column(
        ForeignKey("ordering_pickup_points.id", ondelete="CASCADE"))
    enabled: Mapped[bool] = mapped_column(default=True)
    slot_minutes: Mapped[int] = mapped_column(Integer, default=15)
    capacity_orders: Mapped[int | None] = mapped_column(Integer)  # NULL: not limited by count
    capacity_prep: Mapped[int | None] = mapped_column(Integer)  # kitchen minutes per slot
    lead_minutes: Mapped[int] = mapped_column(Integer, default=30)
    # a slot on day D is bookable until D − cutoff_days at cutoff_time (local), when set
    cutoff_time: Mapped[int | None] = mapped_column(Integer)
    cutoff_days: Mapped[int] = mapped_column(Integer, default=0)
    days_ahead: Mapped[int] = mapped_column(Integer, default=2)
    # the rule's own daily window (e.g. community pickup 16:00-19:00) inside the store's hours
    window_start: Mapped[int | None] = mapped_column(Integer)
    window_end: Mapped[int | None] = mapped_column(Integer)
    closed_days: Mapped[list[Any]] = mapped_column(default=list)


class SlotLoad(Base):
    __tablename__ = "ordering_slot_loads"
    __table_args__ = (
        UniqueConstraint("rule_id", "slot_start"),
        CheckConstraint("orders >= 0 AND prep >= 0 AND confirmed >= 0", name="not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("ordering_slot_rules.id",
                                                    ondelete="CASCADE"))
    slot_start: Mapped[datetime]
    orders: Mapped[int] = mapped_column(Integer, default=0)  # places taken (held + confirmed)
    prep: Mapped[int] = mapped_column(Integer, default=0)  # preparation minutes taken
    confirmed: Mapped[int] = mapped_column(Integer, default=0)  # of which paid


class HoldStatus(enum.StrEnum):
    HELD = "held"
    CONFIRMED = "confirmed"
    RELEASED = "released"
    EXPIRED = "expired"


class Hold(Timestamped, Base):
    __tablename__ = "ordering_holds"
    __table_args__ = (Index("ix_ordering_holds_status_expires", "status", "expires_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("hld"))
    hold_key: Mapped[str] = mapped_column(String(160), unique=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("ordering_slot_rules.id"))
    store_id: Mapped[int] = mapped_column(ForeignKey("ordering_stores.id"))
    slot_start: Mapped[datetime]
    prep: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[HoldStatus] = mapped_column(str_enum(HoldStatus, 16),
                                               default=HoldStatus.HELD)
    expires_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]
    released_at: Mapped[datetime | None]

    lines: Mapped[list[HoldLine]] = relationship(order_by="HoldLine.sku_id", lazy="selectin")


class HoldLine(Base):
    __tablename__ = "ordering_hold_lines"
    __table_args__ = (UniqueConstraint("hold_id", "sku_id"),
                      CheckConstraint("quantity > 0", name="quantity_positive"))

    id: Mapped[int] = mapped_column(primary_key=True)
    hold_id: Mapped[int] = mapped_column(ForeignKey("ordering_holds.id", ondelete="CASCADE"))
    sku_id: Mapped[int] = mapped_column(ForeignKey("ordering_skus.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    counted: Mapped[bool] = mapped_column(default=False)  # the store counts this SKU's stock
