"""A community with a services marketplace, built through the real services: the community of
tests/community/world.py with its official pass (the property merchant) and a store of the
property with a home-cleaning SKU and delivery slots of 2 places; an outside water merchant with
its own mini-app, staff, store and delivery slots of 1 place; 张三 verified and funded. The clock
stands at Monday 10:00 in Shanghai (NOON is an offered slot)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from tests.community import world as cw
from tests.miniapps.shell_data import make_miniapp
from tests.ordering.conftest import NOON, NOW
from tests.ordering.orders import world as ow
from townsquare.accounts.models import Role, User
from townsquare.community import communities, residents
from townsquare.community.services import admissions, bookings, catalog
from townsquare.community.services.models import Booking
from townsquare.core.clock import clock
from townsquare.core.database import Database
from townsquare.core.settings import Settings
from townsquare.merchants import service as merchants
from townsquare.merchants.models import Merchant
from townsquare.ordering.catalog import service as ordering_catalog
from townsquare.ordering.slots import rules
from townsquare.ordering.stores import service as stores

__all__ = ["NOON", "NOW", "World", "build"]


@dataclass
class World:
    base: cw.World
    com: str
    pass_app: str
    property_merchant_id: int
    property_store: str
    property_sku: str
    water_app: str
    water_merchant_id: int
    water_store: str
    water_sku: str
    water_staff: User
    resident: User


def _shop(db, merchant_public_id: str, name: str, product: str, code: str, places: int):
    store = stores.create_store(db, actor=None, merchant_id=merchant_public_id, name=name,
                                address="武汉市洪山区光谷大道 1 号", lat=30.5052, lng=114.4085,
                                delivery=True)
    stores.set_hours(db, actor=None, store_id=store.public_id,
                     week={d: "08:00-22:00" for d in range(7)}, closed_days="")
    prd = ordering_catalog.create_product(db, actor=None, merchant_id=merchant_public_id,
                                          name=product, category="服务", unit="份")
    sku = ordering_catalog.add_sku(db, actor=None, product_id=prd.public_id, code=code,
                                   spec="", price_fen=1)
    rules.set_rule(db, actor=None, store_id=store.public_id, kind="delivery",
                   capacity_orders=places, lead_minutes=30, slot_minutes=60)
    return store.public_id, sku.public_id


def build(database: Database, settings: Settings, make_user, *, water_places: int = 1) -> World:
    clock.freeze(NOW)
    base = cw.build(database, settings, make_user)
    pass_app = make_miniapp(database, name="幸福小区通行证", runtime="community_pass",
                            merchant_name="幸福物业", config={"community": base.com,
                                                              "welcome": "欢迎"})
    water = make_miniapp(database, name="清泉桶装水", merchant_name="清泉水站")
    water_staff = make_user(Role.MERCHANT_STAFF, username="waterman")
    with database.unit_of_work() as db:
        community = cw.community(db, base.com)
        communities.choose_pass_miniapp(db, actor=db.get(User, base.manager.id),
                                        community=community, miniapp_id=pass_app.id)
        merchants.add_staff(db, actor=None, public_id=water.merchant_id, username="waterman")
        p_store, p_sku = _shop(db, pass_app.merchant_id, "物业服务中心", "上门保洁", "SVC-1", 2)
        w_store, w_sku = _shop(db, water.merchant_id, "清泉水站", "桶装水配送", "WTR-1",
                               water_places)
        residents.verify(db, settings=settings, actor=db.get_one(User, base.resident.id),
                         community=community, real_name="张三", id_number=cw.HEAD_ID)
        ids = {m.public_id: m.id for m in db.scalars(select(Merchant))}
    ow.fund(database, base.resident)
    with database.unit_of_work() as db:
        resident = db.get_one(User, base.resident.id)
        water_staff = db.get_one(User, water_staff.id)
    return World(base, base.com, pass_app.id, ids[pass_app.merchant_id], p_store, p_sku,
                 water.id, ids[water.merchant_id], w_store, w_sku, water_staff, resident)


def admit(database: Database, world: World, commission_bp: int = 800) -> tuple[str, str]:
    """The water merchant applied and approved; its service in the catalog at ¥18.88."""
    with database.unit_of_work() as db:
        community = cw.community(db, world.com)
        adm = admissions.apply(db, actor=db.get_one(User, world.water_staff.id),
                               community=community, miniapp_id=world.water_app,
                               offer="桶装水送货上门")
        admissions.approve(db, actor=db.get_one(User, world.base.manager.id),
                           community=community, admission_id=adm.public_id,
                           commission_bp=commission_bp)
        svc = catalog.add(db, actor=db.get_one(User, world.base.manager.id), community=community,
                          name="桶装水", price_fen=1888, store_id=world.water_store,
                          sku_id=world.water_sku, admission_id=adm.public_id)
        return adm.public_id, svc.public_id


def property_service(database: Database, world: World, price_fen: int = 5000) -> str:
    with database.unit_of_work() as db:
        community = cw.community(db, world.com)
        return catalog.add(db, actor=db.get_one(User, world.base.manager.id),
                           community=community, name="上门保洁", price_fen=price_fen,
                           store_id=world.property_store, sku_id=world.property_sku).public_id


def book(database: Database, settings: Settings, world: World, service_id: str,
         key: str = "b1", slot=NOON, user: User | None = None) -> tuple[str, str]:
    with database.unit_of_work() as db:
        booking = bookings.book(db, actor=db.get_one(User, (user or world.resident).id),
                                community=cw.community(db, world.com), service_id=service_id,
                                slot_start=slot, idempotency_key=key, settings=settings)
        return booking.public_id, booking.trade_no


def booking(db, public_id: str) -> Booking:
    return db.scalars(select(Booking).where(Booking.public_id == public_id)
                      .execution_options(populate_existing=True)).one()
