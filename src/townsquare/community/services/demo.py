"""The demo communities' services marketplace: each community with an official pass gets the
property's catalog (上门保洁, 代收快递送上门, 老人探访, 家电清洗) on a service store of the property
merchant, one admitted outside merchant (a 家政 merchant's mini-app selling 桶装水送货上门 at 8 %
commission) and, when the demo has one, the grocery shop listed as 社区团购 (a link to the shop).
The demo resident books and pays two services in the first community (one done and rated), so
the property's statement shows a commission."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.community import communities, property
from townsquare.community.models import Community
from townsquare.community.services import admissions, bookings, catalog
from townsquare.community.services.models import Admission, AdmissionStatus
from townsquare.core.errors import TownsquareError
from townsquare.core.settings import Settings
from townsquare.merchants.models import Category, Merchant
from townsquare.miniapps.models import MiniApp, Template
from townsquare.ordering.catalog import service as ordering_catalog
from townsquare.ordering.catalog.models import Sku
from townsquare.ordering.slots import rules
from townsquare.ordering.stores import service as stores
from townsquare.payments.wallet import paying
from townsquare.payments.wallet import service as wallet
from townsquare.payments.wallet.demo import DEMO_CARD, DEMO_PIN

PROPERTY_SERVICES = (  # name, price in fen, description, SKU code
    ("上门保洁", 8000, "两小时日常保洁，自带工具。", "PSV-CLEAN"),
    ("代收快递送上门", 200, "物业前台代收，约定时间送到家门口。", "PSV-PARCEL"),
    ("老人探访", 3000, "物业管家上门看望独居老人，量血压、聊聊天。", "PSV-ELDER"),
    ("家电清洗", 12000, "空调或油烟机深度清洗一台。", "PSV-APPLIANCE"),
)
WATER = ("桶装水送货上门", 1800, "18.9L 桶装水一桶，送水上楼并换上。", "WTR-DEMO")
WATER_COMMISSION_BP = 800
GROCERY_COMMISSION_BP = 500
TOP_UP_FEN = 50_000


def _service_store(db: Session, merchant: Merchant, name: str, places: int,
                   items: tuple[tuple[str, int, str, str], ...]) -> tuple[str, dict[str, str]]:
    """A store of `merchant` whose delivery slots (an hour each, 09:00-18:00, three days ahead)
    are the booking times, and one SKU per service."""
    store = stores.create_store(db, actor=None, merchant_id=merchant.public_id, name=name,
                                address="武汉市江岸区幸福里小区物业中心", lat=30.6, lng=114.3,
                                delivery=True)
    stores.set_hours(db, actor=None, store_id=store.public_id,
                     week={d: "08:00-21:00" for d in range(7)}, closed_days="")
    rules.set_rule(db, actor=None, store_id=store.public_id, kind="delivery",
                   capacity_orders=places, lead_minutes=60, slot_minutes=60, days_ahead=3,
                   window_start=9 * 60, window_end=18 * 60)
    skus = {}
    for service_name, price, _, code in items:
        known = db.scalar(select(Sku.public_id).where(Sku.merchant_id == merchant.id,
                                                      Sku.code == code))
        if known is not None:  # one property company serving two communities
            skus[service_name] = known
            continue
        product = ordering_catalog.create_product(db, actor=None, merchant_id=merchant.public_id,
                                                  name=service_name, category="上门服务",
                                                  unit="份")
        skus[service_name] = ordering_catalog.add_sku(
            db, actor=None, product_id=product.public_id, code=code, spec="",
            price_fen=price).public_id
    return store.public_id, skus


def _outside_app(db: Session, property_merchant_id: int) -> MiniApp | None:
    """A listed mini-app of a housekeeping (else errands) merchant: the admitted provider."""
    for code in ("housekeeping", "errands", "community"):
        app = db.scalar(select(MiniApp).join(Category, Category.id == MiniApp.category_id)
                        .where(Category.code == code, MiniApp.listed,
                               MiniApp.merchant_id != property_merchant_id)
                        .order_by(MiniApp.id).limit(1))
        if app is not None:
            return app
    return None


def _grocery_shop(db: Session) -> MiniApp | None:
    return db.scalar(select(MiniApp).join(Template).where(MiniApp.listed,
                                                         Template.runtime == "grocery")
                     .order_by(MiniApp.id).limit(1))


def _community(db: Session, community: Community, water_store: tuple[str, dict[str, str]],
               water_app: MiniApp | None, grocery: MiniApp | None) -> None:
    merchant = property.property_merchant(db, community)
    store, skus = _service_store(db, merchant, f"{community.name}物业服务中心", 2,
                                 PROPERTY_SERVICES)
    for name, price, description, _ in PROPERTY_SERVICES:
        catalog.add(db, actor=None, community=community, name=name, price_fen=price,
                    description=description, store_id=store, sku_id=skus[name])
    if water_app is not None:
        adm = admissions.apply(db, actor=None, community=community,
                               miniapp_id=water_app.public_id, offer="桶装水送货上门，每天 9-18 点")
        admissions.approve(db, actor=None, community=community, admission_id=adm.public_id,
                           commission_bp=WATER_COMMISSION_BP)
        catalog.add(db, actor=None, community=community, name="桶装水", price_fen=WATER[1],
                    description=WATER[2], store_id=water_store[0],
                    sku_id=water_store[1][WATER[0]], admission_id=adm.public_id)
    if grocery is not None and grocery.merchant_id != merchant.id:
        adm = admissions.apply(db, actor=None, community=community,
                               miniapp_id=grocery.public_id, offer="社区团购，小区自提点次日取货")
        admissions.approve(db, actor=None, community=community, admission_id=adm.public_id,
                           commission_bp=GROCERY_COMMISSION_BP)
        catalog.add(db, actor=None, community=community, name="社区团购",
                    description="今天下单，明天在小区自提点取货。", price_fen=0,
                    admission_id=adm.public_id, link_miniapp_id=grocery.public_id)


def _bookings(db: Session, settings: Settings, community: Community) -> list[str]:
    resident = db.scalar(select(User).where(User.username == "resident"))
    if resident is None:
        return []
    card = next((c for c in wallet.cards(db, user=resident)
                 if c.number_masked.endswith(DEMO_CARD[-4:])), None)
    if card is None:
        return []
    wallet.top_up(db, settings=settings, actor=resident, card_id=card.public_id,
                  amount_fen=TOP_UP_FEN, idempotency_key="demo-community-services")
    made = []
    for n, name in enumerate(("桶装水", "上门保洁")):
        service = next((s for s in catalog.offered(db, community=community) if s.name == name),
                       None)
        if service is None:
            continue
        slots = bookings.slots(db, service=service)
        if not slots:
            continue
        try:
            with db.begin_nested():
                booking = bookings.book(db, actor=resident, community=community,
                                        service_id=service.public_id,
                                        slot_start=slots[min(n, len(slots) - 1)].start,
                                        idempotency_key=f"demo-service-{n}", settings=settings)
                paying.pay_trade(db, settings=settings, actor=resident,
                                 trade_no=booking.trade_no, method=paying.WALLET,
                                 payment_pin=DEMO_PIN)
                if n == 0:  # the water came: done and rated
                    bookings.advance(db, actor=None, community=community,
                                     booking_id=booking.public_id, to="done")
                    bookings.rate(db, actor=resident, community=community,
                                  booking_id=booking.public_id, stars=5)
                made.append(booking.public_id)
        except TownsquareError:
            continue  # this moment could not take it: skip
    return made


def seed(db: Session, *, settings: Settings) -> list[str]:
    """Catalogs, admissions and the demo resident's bookings; returns the bookings made."""
    # only communities whose property company can charge (a listed official pass)
    found = [c for c in db.scalars(select(Community).where(Community.pass_miniapp_id.is_not(None))
                                   .order_by(Community.id))
             if communities.official_pass(db, community=c) is not None]
    if not found:
        return []
    first_merchant = property.property_merchant(db, found[0])
    water_app = _outside_app(db, first_merchant.id)
    water_store = (_service_store(db, water_app.merchant, "清泉水站", 3, (WATER,))
                   if water_app is not None else ("", {}))
    grocery = _grocery_shop(db)
    for community in found:
        _community(db, community, water_store, water_app, grocery)
    made = _bookings(db, settings, found[0])
    _outside_repair(db, settings, found[0], water_app)
    return made


def _outside_repair(db: Session, settings: Settings, community: Community,
                    provider: MiniApp | None) -> None:
    """The admitted merchant also repairs: the demo resident's range hood, handed to it by the
    property and paid with the commission (community/repairs/demo.py, which keeps the steps)."""
    # imported here: repairs build on the marketplace (admissions), not the other way round
    from townsquare.community.repairs import demo as repairs_demo

    if provider is None:
        return
    admission = db.scalar(select(Admission).where(
        Admission.community_id == community.id, Admission.miniapp_id == provider.id,
        Admission.status == AdmissionStatus.APPROVED).order_by(Admission.id).limit(1))
    if admission is None:
        return
    try:
        with db.begin_nested():
            repairs_demo.seed_outside(db, settings=settings, community=community,
                                      admission_id=admission.public_id)
    except TownsquareError:
        return  # this moment could not take it: the demo goes on without it


