"""A grocery shop to buy from, built through the real services on top of tests/ordering's
`shop`: an ISV's published "grocery" template, the merchant's mini-app made from it and
approved (pickup and delivery, a packaging fee), a delivery zone of 3 km, and residents with a
payment PIN and money in their wallets (a top-up entry)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from tests.conftest import PASSWORD
from tests.ordering.conftest import NOON, Shop
from townsquare import ordering
from townsquare.accounts.models import User
from townsquare.core.database import Database
from townsquare.core.settings import Settings
from townsquare.merchants import providers
from townsquare.miniapps import review, templates_service
from townsquare.ordering import orders
from townsquare.ordering.catalog.models import Sku, Stock
from townsquare.ordering.orders.models import Order
from townsquare.ordering.slots import rules
from townsquare.ordering.stores import service as stores
from townsquare.payments import ledger
from townsquare.payments.ledger import accounts
from townsquare.payments.wallet import paying, pin
from townsquare.payments.wallet import service as wallet

PIN = "274159"
PACKAGING = 100  # ¥1.00 per order
PRICE = 350  # the SKU of tests/ordering's shop
HOME = (30.5100, 114.4085)  # about 500 m north of the store: inside the 3 km zone
FAR = (30.6500, 114.4085)  # about 16 km: outside every zone


@dataclass
class World:
    shop: Shop
    miniapp: str
    resident: User
    other: User


def make_miniapp(database: Database, settings: Settings, shop: Shop, make_user, *,
                 config: dict | None = None, name: str = "美菜到家", n: int = 1,
                 runtime: str = "grocery") -> str:
    isv = make_user(username=f"isv_{n}")
    with database.unit_of_work() as db:
        provider = providers.create_provider(db, actor=None, name=f"开发商{n}",
                                             staff_username=isv.username)
        template = templates_service.create_template(
            db, actor=None, provider_id=provider.public_id, runtime=runtime,
            name=f"买菜模板{n}", category="grocery",
            defaults={"welcome": "新鲜直达", "stores": shop.store, "pickup": True})
        templates_service.publish_template(db, actor=None, template_id=template.public_id)
        created = templates_service.create_from_template(
            db, actor=None, settings=settings, template_id=template.public_id,
            merchant_id=shop.merchant, name=name, cities=["武汉"],
            config={"welcome": "新鲜直达", "stores": shop.store, "pickup": True,
                    "delivery": True, "packaging_fen": PACKAGING, **(config or {})},
            submit=True)
        review.approve(db, actor=None, version_id=created.version.public_id)
        return created.miniapp.public_id


def fund(database: Database, user: User, fen: int = 100_000) -> None:
    with database.unit_of_work() as db:
        pin.set_pin(db, actor=db.get_one(User, user.id), password=PASSWORD, pin=PIN)
        ledger.post(db, kind="top_up", reference=f"test-top-up-{user.id}",
                    legs={accounts.BANK_CLEARING: -fen, accounts.wallet(user.id): fen})


def build(database: Database, settings: Settings, shop: Shop, make_user, **kwargs) -> World:
    with database.unit_of_work() as db:
        stores.add_zone(db, actor=None, store_id=shop.store, name="3公里", kind="radius",
                        radius_m=3000, fee_fen=500, min_order_fen=2000)
        rules.set_rule(db, actor=None, store_id=shop.store, kind="delivery",
                       capacity_orders=10, lead_minutes=30)
    miniapp = make_miniapp(database, settings, shop, make_user, **kwargs)
    resident, other = make_user(username="buyer"), make_user(username="buyer2")
    fund(database, resident)
    fund(database, other)
    return World(shop, miniapp, resident, other)


def fill(db, world: World, user: User, quantity: int = 2) -> None:
    orders.set_line(db, actor=user, miniapp_id=world.miniapp, sku_id=world.shop.sku,
                    quantity=quantity)


def place(db, world: World, user: User, *, key: str = "k1", quantity: int = 2,
          slot=NOON, kind: str = "pickup", **kwargs) -> Order:
    """Fill the cart and check out at the quoted total."""
    if quantity:
        fill(db, world, user, quantity)
    quote = orders.quote(db, actor=user, miniapp_id=world.miniapp, kind=kind, slot_start=slot,
                         address=kwargs.get("address"), point_id=kwargs.get("point_id"))
    return orders.place(db, actor=user, miniapp_id=world.miniapp, kind=kind, slot_start=slot,
                        point_id=kwargs.get("point_id"), address=kwargs.get("address"),
                        note=kwargs.get("note", ""),
                        expected_total_fen=kwargs.get("expected", quote.total_fen),
                        idempotency_key=key, settings=kwargs.get("settings"))


def pay(database: Database, settings: Settings, user: User, trade_no: str) -> None:
    """As the cashier does: the wallet, after the PIN."""
    with database.unit_of_work() as db:
        paying.pay_trade(db, settings=settings, actor=db.get_one(User, user.id),
                         trade_no=trade_no, method=paying.WALLET, payment_pin=PIN)


def order(db, public_id: str) -> Order:
    return db.scalars(select(Order).where(Order.public_id == public_id)
                      .execution_options(populate_existing=True)).one()


LATER = NOON + timedelta(minutes=15)


def paid_order(database: Database, settings: Settings, world: World, user: User | None = None,
               *, key: str = "k1", quantity: int = 2, **kwargs) -> str:
    """A placed and paid order's public id."""
    user = user or world.resident
    with database.unit_of_work() as db:
        placed = place(db, world, user, key=key, quantity=quantity, settings=settings, **kwargs)
        public_id, trade_no = placed.public_id, placed.trade_no
    pay(database, settings, user, trade_no)
    return public_id


def stock_left(db, world: World) -> tuple[int, int]:
    """(quantity, held) of the shop's SKU at its store."""
    row = db.scalars(select(Stock).join(Sku, Sku.id == Stock.sku_id)
                     .where(Sku.public_id == world.shop.sku)
                     .execution_options(populate_existing=True)).one()
    return row.quantity, row.held


def places_left(db, world: World, slot=NOON) -> int | None:
    store = stores.store_by_public_id(db, world.shop.store)
    found = [s for s in ordering.offered(db, store=store, kind="pickup") if s.start == slot]
    return found[0].places_left if found else 0


def balance(db, user: User) -> int:
    return wallet.balance(db, user=db.get_one(User, user.id))
