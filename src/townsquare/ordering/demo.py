"""Demo stores and catalogs for the demo city's grocery and restaurant shops, made through the
ordering services as a merchant's staff would (the system acting): stores with hours, zones,
pickup points and slots; products with SKUs, stock and locally drawn pictures."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageDraw
from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.core.money import yuan_to_fen
from townsquare.merchants.models import Merchant
from townsquare.ordering.catalog import pictures
from townsquare.ordering.catalog import service as catalog
from townsquare.ordering.demo_menu import GROCERY, RESTAURANT
from townsquare.ordering.slots import rules
from townsquare.ordering.stores import service as stores
from townsquare.ordering.stores.models import Store

EVERY_DAY = dict.fromkeys(range(7), "07:00-21:00")
KITCHEN = dict.fromkeys(range(7), "06:30-14:00, 16:30-21:30")


def _picture(colour: str) -> bytes:
    """A plain, recognisable tile: the product's colour as a round shape on a light plate."""
    image = Image.new("RGB", (480, 480), "#f4f1ea")
    draw = ImageDraw.Draw(image)
    draw.ellipse((70, 70, 410, 410), fill=colour, outline="#555555", width=4)
    draw.ellipse((150, 130, 230, 190), fill="#ffffff")
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _store(db: Session, merchant: Merchant, *, name: str, address: str, lat: float,
           lng: float, week: dict[int, str], delivery: bool) -> Store:
    store = stores.create_store(db, actor=None, merchant_id=merchant.public_id, name=name,
                                address=address, lat=lat, lng=lng, phone="027-8765 4321",
                                delivery=delivery)
    stores.set_hours(db, actor=None, store_id=store.public_id, week=week, closed_days="")
    rules.set_rule(db, actor=None, store_id=store.public_id, kind="pickup",
                   capacity_orders=8, lead_minutes=30)
    if delivery:
        stores.add_zone(db, actor=None, store_id=store.public_id, name="3 公里内",
                        kind="radius", radius_m=3_000, fee_fen=300, min_order_fen=2_000)
        stores.add_zone(db, actor=None, store_id=store.public_id, name="5 公里内",
                        kind="radius", radius_m=5_000, fee_fen=600, min_order_fen=3_900)
        rules.set_rule(db, actor=None, store_id=store.public_id, kind="delivery",
                       slot_minutes=30, capacity_orders=6, lead_minutes=45)
    return store


def grocery(db: Session, merchant: Merchant, *, data_dir: Path) -> None:
    main = _store(db, merchant, name="城东鲜果店·徐东店", address="武汉市武昌区徐东大街 18 号",
                  lat=30.5890, lng=114.3420, week=EVERY_DAY, delivery=True)
    second = _store(db, merchant, name="城东鲜果店·积玉桥店", address="武汉市武昌区和平大道 96 号",
                    lat=30.5620, lng=114.3110, week=EVERY_DAY, delivery=False)
    point = stores.add_point(db, actor=None, store_id=main.public_id, name="徐东小区东门自提点",
                             address="武汉市武昌区徐东小区东门便利店", lat=30.5905, lng=114.3450)
    rules.set_rule(db, actor=None, store_id=main.public_id, kind="community",
                   point_id=point.public_id, slot_minutes=120, capacity_orders=60,
                   lead_minutes=0, cutoff_time=23 * 60, cutoff_days=1, days_ahead=1,
                   window_start=16 * 60, window_end=20 * 60)
    for number, (category, name, unit, spec, price, stock, colour) in enumerate(GROCERY, 1):
        product = catalog.create_product(db, actor=None, merchant_id=merchant.public_id,
                                         name=name, category=category, unit=unit)
        sku = catalog.add_sku(db, actor=None, product_id=product.public_id,
                              code=f"G{number:03d}", spec=spec,
                              price_fen=yuan_to_fen(price, field="price"))
        for store, quantity in ((main, stock), (second, None if stock is None else stock // 2)):
            catalog.put_stock(db, sku=sku, store=store, quantity=quantity)
        pictures.add_picture(db, actor=None, product_id=product.public_id,
                             data=_picture(colour), data_dir=data_dir)


def restaurant(db: Session, merchant: Merchant, *, data_dir: Path) -> None:
    store = _store(db, merchant, name=f"{merchant.name}·总店", address="武汉市江汉区江汉路 66 号",
                   lat=30.5800, lng=114.2880, week=KITCHEN, delivery=True)
    rules.set_rule(db, actor=None, store_id=store.public_id, kind="pickup", slot_minutes=15,
                   capacity_orders=6, capacity_prep=60, lead_minutes=20)
    rules.set_rule(db, actor=None, store_id=store.public_id, kind="dine_in", slot_minutes=30,
                   capacity_orders=10, lead_minutes=60, days_ahead=3)
    for number, (category, name, options, prep, hours, skus, colour) in enumerate(RESTAURANT, 1):
        product = catalog.create_product(db, actor=None, merchant_id=merchant.public_id,
                                         name=name, category=category, options=options,
                                         prep_minutes=prep, available=hours)
        for index, (spec, price) in enumerate(skus):
            catalog.add_sku(db, actor=None, product_id=product.public_id,
                            code=f"R{number:02d}-{index + 1}", spec=spec,
                            price_fen=yuan_to_fen(price, field="price"))
        pictures.add_picture(db, actor=None, product_id=product.public_id,
                             data=_picture(colour), data_dir=data_dir)


def seed(db: Session, *, merchants: list[Merchant], data_dir: Path) -> None:
    """Stores and catalogs for the first grocery and the first Wuhan restaurant among
    `merchants` (the demo city's order); does nothing for a merchant that has stores."""
    has_stores = set(db.scalars(select(Store.merchant_id)))
    shop = next((m for m in merchants if m.category.code == "grocery"), None)
    kitchen = next((m for m in merchants
                    if m.category.code == "restaurant" and "武汉" in m.cities), None)
    if shop is not None and shop.id not in has_stores:
        grocery(db, shop, data_dir=data_dir)
    if kitchen is not None and kitchen.id not in has_stores:
        restaurant(db, kitchen, data_dir=data_dir)
