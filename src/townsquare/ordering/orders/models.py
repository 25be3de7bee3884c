"""Carts, orders and what happens to them: a resident's cart per mini-app, the order checkout
makes (its lines priced at that moment, the address as a snapshot), its timeline of status
changes, its review, and the counter that numbers a store's pickups per local day.

An order's status is only ever changed by one conditional UPDATE from the status it leaves
(`service.py`), so two racing transitions (a merchant's accept and the job's auto-cancel) cannot
both happen."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
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
from townsquare.ordering.slots.models import Kind


class OrderStatus(enum.StrEnum):
    CREATED = "created"  # awaiting payment
    PAID = "paid"
    ACCEPTED = "accepted"
    PREPARING = "preparing"
    READY = "ready"
    PICKED_UP = "picked_up"  # pickup, dine-in, community: handed over at the counter
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    REJECTED = "rejected"  # the merchant refused a paid order


ENDED = frozenset((OrderStatus.COMPLETED, OrderStatus.CANCELLED, OrderStatus.REJECTED))


class Cart(Timestamped, Base):
    __tablename__ = "ordering_carts"
    __table_args__ = (UniqueConstraint("user_id", "miniapp_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("crt"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    miniapp_id: Mapped[int] = mapped_column(ForeignKey("miniapps.id", ondelete="CASCADE"))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("ordering_stores.id",
                                                            ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    lines: Mapped[list[CartLine]] = relationship(
        order_by="CartLine.id", lazy="selectin", cascade="all, delete-orphan")


class CartLine(Base):
    __tablename__ = "ordering_cart_lines"
    __table_args__ = (UniqueConstraint("cart_id", "sku_id", "options_key"),
                      CheckConstraint("quantity > 0", name="quantity_positive"))

    id: Mapped[int] = mapped_column(primary_key=True)
    cart_id: Mapped[int] = mapped_column(ForeignKey("ordering_carts.id", ondelete="CASCADE"))
    sku_id: Mapped[int] = mapped_column(ForeignKey("ordering_skus.id", ondelete="CASCADE"))
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"辣度": "微辣"}
    options_key: Mapped[str] = mapped_column(String(200), default="")  # the options, canonical
    quantity: Mapped[int] = mapped_column(Integer)


class Order(Timestamped, Base):
    __tablename__ = "ordering_orders"
    __table_args__ = (
        UniqueConstraint("user_id", "idempotency_key"),
        Index("ix_ordering_orders_merchant_updated", "merchant_id", "updated_at"),
        Index("ix_ordering_orders_user_created", "user_id", "created_at"),
        Index("ix_ordering_orders_status_accept_by", "status", "accept_by"),
        CheckConstraint("items_fen >= 0 AND packaging_fen >= 0 AND delivery_fen >= 0 "
                        "AND discount_fen >= 0 AND total_fen > 0", name="amounts"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("ord"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    user_sub: Mapped[str] = mapped_column(String(40), default="")  # the mini-app's id for them
    miniapp_id: Mapped[int] = mapped_column(ForeignKey("miniapps.id"), index=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    store_id: Mapped[int] = mapped_column(ForeignKey("ordering_stores.id"))
    kind: Mapped[Kind] = mapped_column(str_enum(Kind, 16))
    point_id: Mapped[int | None] = mapped_column(ForeignKey("ordering_pickup_points.id"))
    slot_start: Mapped[datetime]
    hold_id: Mapped[int] = mapped_column(ForeignKey("ordering_holds.id"))
    trade_no: Mapped[str] = mapped_column(String(32), unique=True)
    status: Mapped[OrderStatus] = mapped_column(str_enum(OrderStatus, 20),
                                                default=OrderStatus.CREATED)
    items_fen: Mapped[int] = mapped_column(BigInteger)
    packaging_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    delivery_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    discount_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    # where the discount came from (a traffic campaign: its public id and names, as they were)
    discount_source: Mapped[str] = mapped_column(String(24), default="")
    discount_name_zh: Mapped[str] = mapped_column(String(48), default="")
    discount_name_en: Mapped[str] = mapped_column(String(64), default="")
    total_fen: Mapped[int] = mapped_column(BigInteger)
    pickup_number: Mapped[str] = mapped_column(String(8), default="")  # "A023", at payment
    address: Mapped[dict[str, Any]] = mapped_column(default=dict)  # a snapshot, not the book's id
    note: Mapped[str] = mapped_column(String(200), default="")
    idempotency_key: Mapped[str] = mapped_column(String(160))
    cancelled_by: Mapped[str] = mapped_column(String(16), default="")  # user|merchant|system
    cancel_reason: Mapped[str] = mapped_column(String(200), default="")
    accept_by: Mapped[datetime | None]  # a paid order not accepted by then is cancelled
    paid_at: Mapped[datetime | None]
    accepted_at: Mapped[datetime | None]
    ready_at: Mapped[datetime | None]
    handed_at: Mapped[datetime | None]  # picked up or delivered
    completed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    lines: Mapped[list[OrderLine]] = relationship(order_by="OrderLine.id", lazy="selectin")
    events: Mapped[list[OrderEvent]] = relationship(order_by="OrderEvent.id", lazy="selectin")

    def discount_name(self, locale: str) -> str:
        """The campaign that gave the discount, by the name it had when the order was placed."""
        return self.discount_name_en if locale == "en" and self.discount_name_en else (
            self.discount_name_zh)


class OrderLine(Base):
    __tablename__ = "ordering_order_lines"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("ordering_orders.id", ondelete="CASCADE"),
                                          index=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("ordering_skus.id"))
    product_name: Mapped[str] = mapped_column(String(64))
    spec: Mapped[str] = mapped_column(String(32), default="")
    unit: Mapped[str] = mapped_column(String(8), default="")
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    quantity: Mapped[int] = mapped_column(Integer)
    price_fen: Mapped[int] = mapped_column(BigInteger)
    line_fen: Mapped[int] = mapped_column(BigInteger)


class OrderEvent(Base):
    """One step of an order's timeline: the status it reached, when, and who moved it."""

    __tablename__ = "ordering_order_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("ordering_orders.id", ondelete="CASCADE"),
                                          index=True)
    status: Mapped[OrderStatus] = mapped_column(str_enum(OrderStatus, 20))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_kind: Mapped[str] = mapped_column(String(16))  # user | merchant | system
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str] = mapped_column(String(200), default="")


class OrderReview(Timestamped, Base):
    __tablename__ = "ordering_order_reviews"
    __table_args__ = (CheckConstraint("stars BETWEEN 1 AND 5", name="stars"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("rvw"))
    order_id: Mapped[int] = mapped_column(ForeignKey("ordering_orders.id", ondelete="CASCADE"),
                                          unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    miniapp_id: Mapped[int] = mapped_column(ForeignKey("miniapps.id"), index=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    stars: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text, default="")


class PickupCounter(Base):
    """The last pickup number a store gave on one local day (one upsert per paid order)."""

    __tablename__ = "ordering_pickup_counters"
    __table_args__ = (UniqueConstraint("store_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("ordering_stores.id", ondelete="CASCADE"))
    day: Mapped[str] = mapped_column(String(10))  # ISO date, the store's local day
    last: Mapped[int] = mapped_column(Integer, default=0)


class OrderComplaint(Timestamped, Base):
    """A resident's complaint about an order (one per category); scoring gets the event."""

    __tablename__ = "ordering_order_complaints"
    __table_args__ = (UniqueConstraint("order_id", "category"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("ordering_orders.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    miniapp_id: Mapped[int] = mapped_column(ForeignKey("miniapps.id"), index=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    category: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text, default="")
