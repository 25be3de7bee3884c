"""A small shop for the ordering tests, built through the real services: a merchant with its
owner, one store open 08:00-22:00 every day, a product with one SKU of 10 in stock, and pickup
slots of 15 minutes with 10 places each. The clock stands at Monday 10:00 in Shanghai."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from townsquare.accounts.models import User
from townsquare.core.clock import clock
from townsquare.core.database import Database
from townsquare.merchants import categories
from townsquare.merchants import service as merchants
from townsquare.ordering.catalog import service as catalog
from townsquare.ordering.slots import rules
from townsquare.ordering.stores import service as stores

NOW = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
NOON = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)  # Monday 12:00 in Shanghai: an offered slot


@dataclass
class Shop:
    owner: User
    outsider: User
    merchant: str
    store: str
    product: str
    sku: str
    sku_row: int


@pytest.fixture
def shop(database: Database, make_user) -> Shop:
    clock.freeze(NOW)
    owner, outsider = make_user(username="mei"), make_user(username="otto")
    with database.unit_of_work() as db:
        categories.create_category(db, actor=None, code="grocery", name_zh="买菜",
                                   name_en="Groceries")
        merchant = merchants.create_merchant(db, actor=None, owner_username="mei",
                                             name="美菜生鲜", category_code="grocery",
                                             cities=["武汉"])
        store = stores.create_store(db, actor=None, merchant_id=merchant.public_id,
                                    name="光谷店", address="武汉市洪山区光谷大道 1 号",
                                    lat=30.5052, lng=114.4085, delivery=True)
        stores.set_hours(db, actor=None, store_id=store.public_id,
                         week={d: "08:00-22:00" for d in range(7)}, closed_days="")
        product = catalog.create_product(db, actor=None, merchant_id=merchant.public_id,
                                         name="本地小白菜", category="蔬菜", unit="斤")
        sku = catalog.add_sku(db, actor=None, product_id=product.public_id, code="VEG-001",
                              spec="约1斤", price_fen=350)
        catalog.set_stock(db, actor=None, sku_id=sku.public_id, store_id=store.public_id,
                          quantity=10)
        rules.set_rule(db, actor=None, store_id=store.public_id, kind="pickup",
                       capacity_orders=10, lead_minutes=30)
        ids = (merchant.public_id, store.public_id, product.public_id, sku.public_id, sku.id)
    with database.unit_of_work() as db:  # the owner as it is now: merchant staff
        owner = db.get_one(User, owner.id)
    return Shop(owner, outsider, *ids)
