"""Real orders in the demo city, made through the ordering and payments services as the demo
resident and the shops' staff would make them: carts filled, checked out, paid from the demo
resident's wallet in the cashier's way (payment PIN), accepted, prepared, handed over at the
counter by the pickup code, confirmed and rated; one cancelled after payment and refunded, one
refused by the shop; and a question to the shop with its answer (a message response time).

Orders of the past days are made with the clock set back to each moment (a slot is only offered
ahead of its time, and the timeline should read as it happened); the clock is put back as it
was. Two orders are made now and left open, so the merchant's console has work on `make demo`:
the grocery's accepted order to prepare, the restaurant's ready order waiting at the counter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.core.clock import clock
from townsquare.core.errors import TownsquareError
from townsquare.core.settings import Settings
from townsquare.merchants.models import MerchantStaff
from townsquare.miniapps.models import MiniApp, Template
from townsquare.ordering import offered, orders
from townsquare.ordering.catalog.models import Sku
from townsquare.ordering.chat import service as chat
from townsquare.ordering.orders.shop import shop as shop_settings
from townsquare.ordering.orders.shop import stores_of
from townsquare.ordering.stores.models import Store
from townsquare.payments.wallet import paying
from townsquare.payments.wallet import service as wallet
from townsquare.payments.wallet.demo import DEMO_CARD, DEMO_PIN

TOP_UP_FEN = 500_00  # what the demo orders spend, topped up so the resident keeps the rest


@dataclass(frozen=True)
class Story:
    """One order: which shop (runtime), when (days ago and local hour; 0 days: now), what
    (SKU codes and quantities), how it is fulfilled, and how it ends."""

    runtime: str
    days_ago: int
    hour: int
    lines: tuple[tuple[str, int], ...]
    kind: str
    end: str  # completed | rated | cancelled | rejected | accepted | ready
    stars: int = 0
    review: str = ""
    question: str = ""
    answer: str = ""
    answer_minutes: int = 0


STORIES: tuple[Story, ...] = (
    Story("grocery", 6, 9, (("G002", 2), ("G003", 1), ("G012", 1)), "pickup", "rated", 5,
          "菜薹很嫩，鸡蛋个头大，到店报号就拿到了。"),
    Story("restaurant", 5, 11, (("R01-2", 1), ("R10-1", 2), ("R13-1", 2)), "pickup", "rated",
          4, "宫保鸡丁分量足，就是微辣也有点辣。",
          question="宫保鸡丁可以不放花生吗？", answer="可以的，已备注不放花生。",
          answer_minutes=4),
    Story("grocery", 4, 18, (("G008", 1), ("G010", 1)), "pickup", "cancelled"),
    Story("restaurant", 3, 10, (("R05-1", 1), ("R06-1", 1), ("R10-1", 2)), "pickup",
          "completed"),
    Story("grocery", 2, 10, (("G016", 1), ("G018", 1)), "pickup", "rejected"),
    Story("restaurant", 1, 17, (("R03-1", 1), ("R04-1", 1), ("R10-1", 3)), "dine_in", "rated",
          5, "提前点好菜，到店就上菜，藕汤很香。"),
    Story("grocery", 1, 9, (("G001", 2), ("G009", 1), ("G020", 1)), "pickup", "completed",
          question="苹果是今天到的吗？", answer="今早刚到的，放心买。", answer_minutes=12),
    Story("grocery", 0, 0, (("G002", 1), ("G011", 1), ("G013", 1)), "pickup", "accepted",
          question="菜薹能帮我挑嫩一点的吗？"),
    Story("restaurant", 0, 0, (("R02-1", 1), ("R10-1", 1)), "pickup", "ready"),
)


@dataclass(frozen=True)
class Shop:
    miniapp: MiniApp
    store: Store
    staff: User | None


def _shops(db: Session) -> dict[str, Shop]:
    """The first listed shop mini-app of each ordering runtime, its first store, and a staff
    member (the merchant's owner) who accepts and hands over."""
    found: dict[str, Shop] = {}
    apps = db.scalars(select(MiniApp).join(Template).where(
        MiniApp.listed, Template.runtime.in_(("grocery", "restaurant"))).order_by(MiniApp.id))
    for app in apps:
        runtime = app.template.runtime if app.template else ""
        if runtime in found:
            continue
        stores = stores_of(db, app, shop_settings(db, app))
        if not stores:
            continue
        staff = db.scalar(select(User).join(MerchantStaff, MerchantStaff.user_id == User.id)
                          .where(MerchantStaff.merchant_id == app.merchant_id)
                          .order_by(MerchantStaff.is_owner.desc(), User.id))
        found[runtime] = Shop(app, stores[0], staff)
    return found


def _at(story: Story, now: datetime, timezone: str) -> datetime:
    if story.days_ago == 0:  # today's open orders: begun a little before now, so their last
        return now - timedelta(minutes=25)  # step (at most 17 minutes on) is still in the past
    local = now.astimezone(ZoneInfo(timezone)) - timedelta(days=story.days_ago)
    return local.replace(hour=story.hour, minute=7, second=0, microsecond=0)


def _place(db: Session, *, settings: Settings, resident: User, shop: Shop, story: Story,
           key: str) -> orders.Order | None:
    """Fill the cart, take the first slot offered, check out and pay; None when the shop offers
    no slot at this moment (a demo built late at night has no pickup slot today)."""
    app_id = shop.miniapp.public_id
    orders.clear_cart(db, actor=resident, miniapp_id=app_id)
    orders.choose_store(db, actor=resident, miniapp_id=app_id, store_id=shop.store.public_id)
    codes = dict(story.lines)
    skus = db.scalars(select(Sku).where(Sku.code.in_(codes), Sku.merchant_id
                                        == shop.miniapp.merchant_id))
    for sku in skus:
        orders.set_line(db, actor=resident, miniapp_id=app_id, sku_id=sku.public_id,
                        quantity=codes[sku.code])
    slots = offered(db, store=shop.store, kind=story.kind)
    if not slots:
        orders.clear_cart(db, actor=resident, miniapp_id=app_id)
        return None
    start = slots[0].start
    quote = orders.quote(db, actor=resident, miniapp_id=app_id, kind=story.kind,
                         slot_start=start, point_id=None, address=None)
    order = orders.place(db, actor=resident, miniapp_id=app_id, kind=story.kind,
                         slot_start=start, point_id=None, address=None, note="",
                         expected_total_fen=quote.total_fen, idempotency_key=key,
                         settings=settings)
    paying.pay_trade(db, settings=settings, actor=resident, trade_no=order.trade_no,
                     method=paying.WALLET, payment_pin=DEMO_PIN)
    db.refresh(order)
    return order


def _ask(db: Session, *, settings: Settings, resident: User, shop: Shop, order: orders.Order,
         story: Story) -> None:
    if not story.question:
        return
    subject = chat.order_subject(db, actor=resident, order_id=order.public_id)
    chat.write(db, actor=resident, subject=subject, body=story.question,
               idempotency_key=f"demo-ask-{order.public_id}")
    if story.answer and shop.staff is not None:
        clock.advance(timedelta(minutes=story.answer_minutes))
        conversation = chat.find(db, actor=resident, subject=subject)
        assert conversation is not None
        chat.answer(db, actor=shop.staff, settings=settings,
                    merchant_id=shop.miniapp.merchant.public_id,
                    conversation_id=conversation.public_id, body=story.answer,
                    idempotency_key=f"demo-answer-{order.public_id}")


def _play(db: Session, *, settings: Settings, resident: User, shop: Shop, order: orders.Order,
          story: Story) -> None:
    """Walk the paid order to the story's end, a few minutes apart."""
    staff = shop.staff
    ord_id = order.public_id
    _ask(db, settings=settings, resident=resident, shop=shop, order=order, story=story)
    if story.end == "cancelled":
        clock.advance(timedelta(minutes=3))
        orders.cancel_by_resident(db, actor=resident, order_id=ord_id, reason="临时有事，改天再买")
        return
    if story.end == "rejected":
        clock.advance(timedelta(minutes=4))
        orders.reject(db, actor=staff, order_id=ord_id, reason="武昌鱼今天已售完，抱歉")
        return
    db.refresh(order)
    if order.status == orders.OrderStatus.PAID:
        clock.advance(timedelta(minutes=2))
        orders.accept(db, actor=staff, order_id=ord_id)
    if story.end == "accepted":
        return
    clock.advance(timedelta(minutes=6))
    orders.start(db, actor=staff, order_id=ord_id)
    clock.advance(timedelta(minutes=9))
    orders.ready(db, actor=staff, order_id=ord_id)
    if story.end == "ready":
        return
    db.refresh(order)
    if order.slot_start and clock.now() < order.slot_start:
        clock.freeze(order.slot_start + timedelta(minutes=3))
    orders.hand_over(db, actor=staff, merchant_id=shop.miniapp.merchant.public_id,
                     code=orders.pickup_code(order, settings=settings), settings=settings)
    clock.advance(timedelta(minutes=20))
    orders.confirm_received(db, actor=resident, order_id=ord_id)
    if story.end == "rated":
        clock.advance(timedelta(minutes=30))
        orders.rate(db, actor=resident, order_id=ord_id, stars=story.stars, text=story.review)


def seed(db: Session, *, settings: Settings) -> list[str]:
    """The demo resident's orders at the demo's shops; returns their public ids (an order the
    moment could not take, such as no slot left tonight, is skipped)."""
    resident = db.scalar(select(User).where(User.username == "resident"))
    shops = _shops(db)
    if resident is None or not shops:
        return []
    was, now = clock.frozen, clock.now()
    made: list[str] = []
    try:
        card = next((c for c in wallet.cards(db, user=resident)
                     if c.number_masked.endswith(DEMO_CARD[-4:])), None)
        if card is not None:
            wallet.top_up(db, settings=settings, actor=resident, card_id=card.public_id,
                          amount_fen=TOP_UP_FEN, idempotency_key="demo-city-orders")
        past = sorted((s for s in STORIES if s.days_ago), key=lambda s: -s.days_ago)
        for number, story in enumerate([*past, *(s for s in STORIES if not s.days_ago)]):
            shop = shops.get(story.runtime)
            if shop is None:
                continue
            clock.freeze(_at(story, now, settings.timezone))
            try:
                with db.begin_nested():
                    order = _place(db, settings=settings, resident=resident, shop=shop,
                                   story=story, key=f"demo-order-{number}")
                    if order is not None:
                        _play(db, settings=settings, resident=resident, shop=shop,
                              order=order, story=story)
                        made.append(order.public_id)
            except TownsquareError:
                continue  # this moment could not take it (a slot just filled): skip the story
    finally:
        if was is None:
            clock.unfreeze()
        else:
            clock.freeze(was)
    return made
