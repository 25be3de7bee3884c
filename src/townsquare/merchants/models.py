"""Merchants, their staff and brands; service providers (ISVs) and the merchants' authorizations."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from townsquare.core import generations
from townsquare.core.database import Base, Timestamped, str_enum
from townsquare.core.ids import new_id


class Category(Base):
    """A category of local service. Urgent categories use the expedited review lane."""

    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name_zh: Mapped[str] = mapped_column(String(32))
    name_en: Mapped[str] = mapped_column(String(48))
    urgent: Mapped[bool] = mapped_column(default=False)

    def name(self, locale: str) -> str:
        return self.name_en if locale == "en" else self.name_zh


class Merchant(Timestamped, Base):
    __tablename__ = "merchants"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("mer"))
    name: Mapped[str] = mapped_column(String(64), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"))
    cities: Mapped[list[Any]] = mapped_column(default=list)

    category: Mapped[Category] = relationship(lazy="joined")
    brands: Mapped[list[Brand]] = relationship(back_populates="merchant", lazy="selectin")

    @property
    def certified_brand(self) -> Brand | None:
        return next((b for b in self.brands if b.status == BrandStatus.CERTIFIED), None)


class MerchantStaff(Base):
    __tablename__ = "merchant_staff"
    __table_args__ = (UniqueConstraint("merchant_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    is_owner: Mapped[bool] = mapped_column(default=False)


class BrandStatus(enum.StrEnum):
    PENDING = "pending"
    CERTIFIED = "certified"
    REJECTED = "rejected"
    REVOKED = "revoked"


class Brand(Timestamped, Base):
    __tablename__ = "brands"
    # At most one certified holder per brand name is enforced by the service under a lock.
    __table_args__ = (Index("ix_brands_name_status", "name", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("brd"))
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    evidence: Mapped[str] = mapped_column(Text, default="")  # trademark registration etc.
    status: Mapped[BrandStatus] = mapped_column(
        str_enum(BrandStatus, 16), default=BrandStatus.PENDING
    )
    reason: Mapped[str] = mapped_column(Text, default="")
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    merchant: Mapped[Merchant] = relationship(back_populates="brands")


class ServiceProvider(Timestamped, Base):
    """An ISV: builds and runs mini-apps for the merchants who authorize it."""

    __tablename__ = "service_providers"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("isv"))
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")


class ProviderStaff(Base):
    __tablename__ = "provider_staff"
    __table_args__ = (UniqueConstraint("provider_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("service_providers.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)


class Authorization(Base):
    """A merchant lets a provider act for it, until revoked. Revoked rows are kept as history."""

    __tablename__ = "authorizations"
    __table_args__ = (Index("ix_authorizations_pair", "merchant_id", "provider_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("auz"))
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    provider_id: Mapped[int] = mapped_column(ForeignKey("service_providers.id", ondelete="CASCADE"))
    granted_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    granted_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    merchant: Mapped[Merchant] = relationship(lazy="joined")
    provider: Mapped[ServiceProvider] = relationship(lazy="joined")


# Cached pages show categories and certified brands (core/generations.py).
generations.watch(Category, "hub", "topics")
generations.watch(Brand, "hub")
# Serving cards and the search index show merchants, categories and certified brands.
generations.watch(Merchant, "catalog")
generations.watch(Category, "catalog")
generations.watch(Brand, "catalog")
