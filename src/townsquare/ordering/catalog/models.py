"""A merchant's catalog: categories, products, SKUs with their price, stock per store, pictures.

A product is what a resident picks (宫保鸡丁, 本地小白菜); its SKUs are the variants with their
own price and stock (大份 / 小份, 约1斤); its `options` are free choices that do not change the
price (辣度: 不辣 / 微辣 / 特辣). A product sold by weight has the unit 斤 (500 g) or kg.
Stock is per store: no row, or a row with `quantity` NULL, means the store does not count it;
`quantity` is what may still be sold and `held` what checkouts hold until they are paid."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from townsquare.core.database import Base, Timestamped
from townsquare.core.ids import new_id

UNITS = ("份", "个", "斤", "kg", "g", "盒", "袋", "瓶", "杯", "把", "只", "条", "箱")


class CatalogCategory(Timestamped, Base):
    __tablename__ = "ordering_categories"
    __table_args__ = (UniqueConstraint("merchant_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("ctg"))
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(32))
    position: Mapped[int] = mapped_column(default=0)


class Product(Timestamped, Base):
    __tablename__ = "ordering_products"
    __table_args__ = (
        UniqueConstraint("merchant_id", "name"),
        CheckConstraint("prep_minutes >= 0", name="prep_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("prd"))
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"),
                                             index=True)
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("ordering_categories.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")
    unit: Mapped[str] = mapped_column(String(8), default="份")
    # [{"name": "辣度", "choices": ["不辣", "微辣", "特辣"]}]
    options: Mapped[list[Any]] = mapped_column(default=list)
    # minutes of the kitchen's time per unit (slot capacity in preparation minutes)
    prep_minutes: Mapped[int] = mapped_column(Integer, default=0)
    # sold only between these local times of day (minutes since midnight), when set
    available_from: Mapped[int | None] = mapped_column(Integer)
    available_until: Mapped[int | None] = mapped_column(Integer)
    sold_out: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    position: Mapped[int] = mapped_column(default=0)

    category: Mapped[CatalogCategory | None] = relationship(lazy="joined")
    skus: Mapped[list[Sku]] = relationship(back_populates="product", order_by="Sku.id",
                                           lazy="selectin", cascade="all, delete-orphan")
    pictures: Mapped[list[Picture]] = relationship(
        back_populates="product", order_by="Picture.position", lazy="selectin",
        cascade="all, delete-orphan")


class Sku(Timestamped, Base):
    __tablename__ = "ordering_skus"
    __table_args__ = (
        UniqueConstraint("merchant_id", "code"),
        CheckConstraint("price_fen >= 0", name="price_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("sku"))
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(ForeignKey("ordering_products.id",
                                                       ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(32))  # the merchant's own code, the import key
    spec: Mapped[str] = mapped_column(String(32), default="")  # 大份, 约1斤, 500ml
    price_fen: Mapped[int] = mapped_column(BigInteger)
    sold_out: Mapped[bool] = mapped_column(default=False)

    product: Mapped[Product] = relationship(back_populates="skus")


class Stock(Base):
    __tablename__ = "ordering_stock"
    __table_args__ = (
        UniqueConstraint("sku_id", "store_id"),
        CheckConstraint("quantity IS NULL OR quantity >= 0", name="quantity_not_negative"),
        CheckConstraint("held >= 0", name="held_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("ordering_skus.id", ondelete="CASCADE"))
    store_id: Mapped[int] = mapped_column(ForeignKey("ordering_stores.id", ondelete="CASCADE"),
                                          index=True)
    quantity: Mapped[int | None] = mapped_column(Integer)  # may still be sold; NULL: not counted
    held: Mapped[int] = mapped_column(Integer, default=0)  # held by unpaid checkouts


class Picture(Timestamped, Base):
    __tablename__ = "ordering_pictures"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=lambda: new_id("pic"))
    product_id: Mapped[int] = mapped_column(ForeignKey("ordering_products.id",
                                                       ondelete="CASCADE"), index=True)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(default=0)

    product: Mapped[Product] = relationship(back_populates="pictures")
