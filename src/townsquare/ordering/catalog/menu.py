"""A store's menu as a resident (and checkout) sees it: what is on sale, at what price, whether
it can be ordered for a given time, and how many are left. Read-only; no actor (public)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.core.clock import clock
from townsquare.ordering.catalog.models import Product, Stock
from townsquare.ordering.stores.models import Store

SOLD_OUT, NOT_NOW = "sold_out", "not_now"


@dataclass(frozen=True)
class MenuItem:
    category: str
    product_id: str
    name: str
    unit: str
    options: list[dict[str, Any]]
    picture_id: str | None
    sku: int  # the SKU's row id: what `ordering.hold` takes
    sku_id: str
    spec: str
    price_fen: int
    left: int | None  # what the store may still sell (None: not counted)
    unavailable: str | None  # None, SOLD_OUT or NOT_NOW (outside its time of day)


def menu(db: Session, *, store: Store, at: datetime | None = None) -> list[MenuItem]:
    """Every SKU of the merchant's products on sale, in the catalog's order, judged for
    `at` (the chosen slot's start; now by default) in the store's local time."""
    local = (at or clock.now()).astimezone(ZoneInfo(store.timezone))
    minute = local.hour * 60 + local.minute
    products = db.scalars(select(Product).where(Product.merchant_id == store.merchant_id,
                                                Product.active)
                          .order_by(Product.category_id, Product.position, Product.id))
    stock = {row.sku_id: row.quantity for row in db.scalars(
        select(Stock).where(Stock.store_id == store.id))}
    items = []
    for product in products:
        start, end = product.available_from, product.available_until
        now_ok = start is None or end is None or start <= minute < end
        for sku in product.skus:
            left = stock.get(sku.id)
            gone = product.sold_out or sku.sold_out or left == 0
            items.append(MenuItem(
                category=product.category.name if product.category else "",
                product_id=product.public_id, name=product.name, unit=product.unit,
                options=product.options,
                picture_id=product.pictures[0].public_id if product.pictures else None,
                sku=sku.id, sku_id=sku.public_id, spec=sku.spec, price_fen=sku.price_fen,
                left=left, unavailable=SOLD_OUT if gone else None if now_ok else NOT_NOW))
    return items
