"""A merchant's stores: where it sells from, when it is open, where it delivers.

Opening hours are kept per weekday as minutes since local midnight (`{"0": [[480, 1200]]}`,
Monday = "0"), closed days as ISO dates in the store's local calendar; a delivery zone is a
radius around the store or a polygon of (lat, lng) corners, each with its fee and minimum order
in integer fen."""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from townsquare.core.database import Base, Timestamped, str_enum
from townsquare.core.ids import new_id


class Store(Timestamped, Base):
    __tablename__ = "ordering_stores"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("sto"))
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"),
                                             index=True)
    name: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(200))
    lat: Mapped[float] = mapped_column(Float)
    lng: Mapped[float] = mapped_column(Float)
    phone: Mapped[str] = mapped_column(String(32), default="")
    timezone: Mapped[str] = mapped_column(String(40), default="Asia/Shanghai")  # its local time
    hours: Mapped[dict[str, Any]] = mapped_column(default=dict)
    closed_days: Mapped[list[Any]] = mapped_column(default=list)
    pickup: Mapped[bool] = mapped_column(default=True)
    delivery: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)

    zones: Mapped[list[DeliveryZone]] = relationship(
        back_populates="store", order_by="DeliveryZone.position", lazy="selectin",
        cascade="all, delete-orphan",
    )
    points: Mapped[list[PickupPoint]] = relationship(
        back_populates="store", order_by="PickupPoint.id", lazy="selectin",
        cascade="all, delete-orphan",
    )


class ZoneKind(enum.StrEnum):
    RADIUS = "radius"
    POLYGON = "polygon"


class DeliveryZone(Timestamped, Base):
    __tablename__ = "ordering_delivery_zones"
    __table_args__ = (
        CheckConstraint("fee_fen >= 0 AND min_order_fen >= 0", name="money_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("dz"))
    store_id: Mapped[int] = mapped_column(ForeignKey("ordering_stores.id", ondelete="CASCADE"),
                                          index=True)
    name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[ZoneKind] = mapped_column(str_enum(ZoneKind, 16))
    radius_m: Mapped[int | None] = mapped_column(Integer)
    polygon: Mapped[list[Any]] = mapped_column(default=list)  # [[lat, lng], …]
    fee_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    min_order_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    position: Mapped[int] = mapped_column(default=0)

    store: Mapped[Store] = relationship(back_populates="zones")


class PickupPoint(Timestamped, Base):
    """A community pickup point (团购自提点): a place in or near a community where a store's
    next-day orders are collected."""

    __tablename__ = "ordering_pickup_points"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("pkp"))
    store_id: Mapped[int] = mapped_column(ForeignKey("ordering_stores.id", ondelete="CASCADE"),
                                          index=True)
    name: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(200))
    lat: Mapped[float] = mapped_column(Float)
    lng: Mapped[float] = mapped_column(Float)
    active: Mapped[bool] = mapped_column(default=True)

    store: Mapped[Store] = relationship(back_populates="points")
