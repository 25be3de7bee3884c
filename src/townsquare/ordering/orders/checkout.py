"""Checkout: `quote` prices the cart for a fulfilment choice and lists what stands in the way;
`place` turns it into an order awaiting payment, in one transaction: it holds the slot place and
the stock (`ordering.hold`), creates the trade the resident pays in the cashier (under the
mini-app's own gateway app, `out_trade_no` = the order's public id, timing out when the hold
does), writes the order and empties the cart. Either all of it happens or none.

A retried `place` with the same idempotency key answers the first order (also when two copies
race: the hold's unique key decides, the loser reads the winner's order)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.core.clock import clock
from townsquare.core.errors import TownsquareError, ValidationFailed
from townsquare.core.i18n import gettext
from townsquare.core.ids import new_id
from townsquare.core.settings import Settings, get_settings
from townsquare.core.text import LINE_CONTROL
from townsquare.gateway import apps as gateway_apps
from townsquare.miniapps.models import MiniApp
from townsquare.miniapps.shell import launch
from townsquare.miniapps.shell import service as shell_service
from townsquare.ordering.catalog.models import Product, Sku
from townsquare.ordering.orders import cart as carts
from townsquare.ordering.orders import pricing
from townsquare.ordering.orders import shop as shops
from townsquare.ordering.orders.errors import (
    BelowMinimum,
    EmptyCart,
    KindNotOffered,
    PriceChanged,
    StoreNotChosen,
)
from townsquare.ordering.orders.models import Cart, Order, OrderEvent, OrderLine, OrderStatus
from townsquare.ordering.slots import calendar
from townsquare.ordering.slots.holds import OutOfStock, SlotFull, SlotNotOffered, SoldOut, hold
from townsquare.ordering.slots.models import Kind
from townsquare.ordering.slots.rules import as_calendar_rule, offered, usable_rule
from townsquare.ordering.stores.models import PickupPoint, Store
from townsquare.ordering.stores.service import OutsideZones, zone_for
from townsquare.payments.trades import service as trades

PAY_MINUTES = 15  # the trade's timeout, and the hold's expiry
PRODUCT_CODE = "QUICK_WAP_WAY"  # Alipay's phone-web payment: the resident pays in the cashier
MAX_KEY = 100
MAX_NOTE = 200

# (db, mini-app, items_fen, now) -> the best discount for these items, or None. Traffic (above
# ordering) answers from its campaigns: townsquare.app.connect_hooks connects
# traffic.support.discounts.checkout_discount. Nothing connected: no discount.
DiscountProvider = Callable[[Session, MiniApp, int, datetime], "pricing.Discount | None"]
_discount: list[DiscountProvider] = []


def set_discount_provider(provider: DiscountProvider | None) -> None:
    """Connect (or, with None, disconnect) the one discount provider."""
    _discount[:] = [provider] if provider is not None else []


def _discount_for(db: Session, miniapp: MiniApp, items_fen: int,
                  now: datetime) -> pricing.Discount | None:
    found = _discount[0](db, miniapp, items_fen, now) if _discount and items_fen > 0 else None
    if found is None or isinstance(found.fen, bool) or not isinstance(found.fen, int) or (
            found.fen <= 0):
        return None
    return found


# (db, mini-app, buyer) -> (community id, commission rate in bp) of the community whose
# commission an order owes (a shop admitted to the buyer's community), or None. Community
# (above ordering) answers from its admissions: townsquare.app.connect_hooks connects
# community.services.admissions.order_commission. Nothing connected: no commission.
CommissionProvider = Callable[[Session, MiniApp, User], "tuple[int, int] | None"]
_commission: list[CommissionProvider] = []


def set_commission_provider(provider: CommissionProvider | None) -> None:
    """Connect (or, with None, disconnect) the one community commission provider."""
    _commission[:] = [provider] if provider is not None else []


def _commission_for(db: Session, miniapp: MiniApp, user: User) -> tuple[int | None, int]:
    found = _commission[0](db, miniapp, user) if _commission else None
    return found if found is not None else (None, 0)


@dataclass(frozen=True)
class DeliveryAddress:
    """A snapshot of the resident's address (the address book's entry may change later)."""

    name: str
    phone: str
    text: str
    lat: float
    lng: float
    label: str = ""

    def cleaned(self) -> DeliveryAddress:
        for value, limit in ((self.name, 32), (self.phone, 24), (self.text, 200), (self.label, 16)):
            if not isinstance(value, str) or len(value) > limit or LINE_CONTROL.search(value):
                raise ValidationFailed("Check the delivery address.", field="address")
        if not (self.name.strip() and self.phone.strip() and self.text.strip()):
            raise ValidationFailed("A delivery address needs a name, a phone and the address.",
                                   field="address")
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in (self.lat, self.lng)):
            raise ValidationFailed("Check the delivery address.", field="address.location")
        return DeliveryAddress(self.name.strip(), self.phone.strip(), self.text.strip(),
                               float(self.lat), float(self.lng), self.label.strip())


@dataclass(frozen=True)
class Quote:
    items_fen: int
    packaging_fen: int
    delivery_fen: int
    discount_fen: int
    total_fen: int
    min_order_fen: int
    slot_start: datetime | None  # the chosen slot, or the first offered one (as soon as possible)
    problems: list[str] = field(default_factory=list)  # translated, for the page
    codes: list[str] = field(default_factory=list)  # the problems' stable codes
    discount: pricing.Discount | None = None  # where the discount comes from (a campaign)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class _Plan:
    miniapp: MiniApp
    settings: shops.ShopSettings
    cart: Cart
    view: carts.CartView
    store: Store | None
    point: PickupPoint | None
    kind: Kind
    slot_start: datetime | None
    address: DeliveryAddress | None
    price: pricing.Price
    discount: pricing.Discount | None
    problems: list[TownsquareError]


def _kind(value: Kind | str) -> Kind:
    try:
        return Kind(value)
    except ValueError:
        raise KindNotOffered("This shop does not take this kind of order.") from None


def _slot_problem(db: Session, store: Store, kind: Kind, point: PickupPoint | None,
                  start: datetime | None, prep: int, now: datetime
                  ) -> tuple[datetime | None, TownsquareError | None]:
    """The slot to book (the first offered if none was chosen) or why it cannot be booked."""
    rule = usable_rule(db, store=store, kind=kind, point=point)
    if rule is None:
        return start, SlotNotOffered("This store does not offer this kind of order.")
    slots = offered(db, store=store, kind=kind, point=point, prep=prep, now=now)
    if start is None:
        if not slots:
            return None, SlotFull("No time slot is free now. Please try later.")
        return slots[0].start, None
    if any(slot.start == start for slot in slots):
        return start, None
    if calendar.is_offered(
            start, hours=store.hours, store_closed=store.closed_days,
            rule=as_calendar_rule(rule), zone=ZoneInfo(store.timezone), now=now):
        return start, SlotFull("This time slot is full. Please choose another.")
    return start, SlotNotOffered("This time slot is closed or past. Please choose another.")


def _plan(db: Session, *, actor: User | None, miniapp_id: str, kind: Kind | str,
          slot_start: datetime | None, point_id: str | None,
          address: DeliveryAddress | None, now: datetime) -> _Plan:
    if slot_start is not None and slot_start.tzinfo is None:
        raise ValidationFailed("Give the time with its offset, such as "
                               "2026-12-07T12:00:00+08:00.", field="slot_start")
    miniapp = shops.miniapp_by_public_id(db, miniapp_id)
    settings = shops.shop(db, miniapp)
    cart = carts.cart_of(db, actor=actor, miniapp=miniapp)
    store = carts.store_of(db, cart, miniapp, settings)
    chosen = _kind(kind)
    problems: list[TownsquareError] = []
    if not cart.lines:
        problems.append(EmptyCart("The cart is empty."))
    if chosen not in settings.kinds:
        problems.append(KindNotOffered("This shop does not take this kind of order."))
    if store is None:
        problems.append(StoreNotChosen("Choose a store first."))
    point = None
    if store is not None and chosen is Kind.COMMUNITY:
        point = next((p for p in store.points if p.public_id == point_id and p.active), None)
        if point is None:
            problems.append(ValidationFailed("Choose a pickup point.", field="point_id"))
    fee = minimum = 0
    if chosen is Kind.DELIVERY:
        if address is None:
            problems.append(ValidationFailed("Choose a delivery address.", field="address"))
        else:
            address = address.cleaned()
            if store is not None:
                try:
                    zone = zone_for(store, lat=address.lat, lng=address.lng)
                    fee, minimum = zone.fee_fen, zone.min_order_fen
                except OutsideZones as outside:
                    problems.append(outside)
    elif address is not None:
        address = None  # only a delivery keeps an address
    start = slot_start
    if store is not None and not problems:
        prep = _prep(db, cart)
        start, slot_problem = _slot_problem(db, store, chosen, point, slot_start, prep, now)
        if slot_problem is not None:
            problems.append(slot_problem)
    view = carts.view(db, cart, miniapp, store=store, at=start if start else None)
    for line in view.lines:
        label = f"{line.name} {line.spec}".strip()
        if line.unavailable == "too_few":
            problems.append(OutOfStock("Only a few of {name} are left; fewer than you asked "
                                       "for.", name=label))
        elif line.unavailable == carts.NOT_NOW:
            problems.append(SoldOut("{name} is not available at this time.", name=label))
        elif line.unavailable is not None:
            problems.append(SoldOut("{name} is sold out.", name=label))
    items = [pricing.Line(line.price_fen, line.quantity) for line in view.lines]
    items_fen = sum(pricing.line_fen(i.price_fen, i.quantity) for i in items)
    discount = _discount_for(db, miniapp, items_fen, now)
    price = pricing.price(items, packaging_fen=settings.packaging_fen, delivery_fen=fee,
                          discount_fen=discount.fen if discount else 0, min_order_fen=minimum)
    if cart.lines and price.below_minimum:
        problems.append(BelowMinimum("The minimum order here is {amount}.",
                                     amount=_yuan(minimum)))
    return _Plan(miniapp=miniapp, settings=settings, cart=cart, view=view, store=store,
                 point=point, kind=chosen, slot_start=start, address=address, price=price,
                 discount=discount, problems=problems)


def _prep(db: Session, cart: Cart) -> int:
    """The kitchen minutes the cart needs (what slot capacity in minutes counts)."""
    minutes = dict(db.execute(select(Sku.id, Product.prep_minutes).join(
        Product, Product.id == Sku.product_id).where(
        Sku.id.in_([line.sku_id for line in cart.lines]))).tuples().all())
    return sum(line.quantity * minutes.get(line.sku_id, 0) for line in cart.lines)


def _yuan(fen: int) -> str:
    return f"¥{fen // 100}.{fen % 100:02d}"


def quote(db: Session, *, actor: User | None, miniapp_id: str, kind: Kind | str,
          slot_start: datetime | None = None, point_id: str | None = None,
          address: DeliveryAddress | None = None) -> Quote:
    """The price of the cart for this choice, and what stands in the way (never raises for a
    closed or full slot, a sold-out item or an address outside the zones: the page shows it)."""
    plan = _plan(db, actor=actor, miniapp_id=miniapp_id, kind=kind, slot_start=slot_start,
                 point_id=point_id, address=address, now=clock.now())
    p = plan.price
    return Quote(items_fen=p.items_fen, packaging_fen=p.packaging_fen,
                 delivery_fen=p.delivery_fen, discount_fen=p.discount_fen,
                 total_fen=p.total_fen, min_order_fen=p.min_order_fen,
                 slot_start=plan.slot_start,
                 problems=[problem.render(gettext) for problem in plan.problems],
                 codes=[problem.code for problem in plan.problems], discount=plan.discount)


def _by_key(db: Session, user: User, key: str) -> Order | None:
    return db.scalar(select(Order).where(Order.user_id == user.id,
                                         Order.idempotency_key == key))


def user_sub(settings: Settings | None, user: User, miniapp: MiniApp) -> str:
    """The resident's id as the mini-app knows them (what its behaviour events carry)."""
    secret = (settings or get_settings()).effective_secret_key
    return launch.pseudonymous_id(secret, user.public_id, miniapp.public_id)


def place(db: Session, *, actor: User | None, miniapp_id: str, kind: Kind | str,
          slot_start: datetime | None, point_id: str | None,
          address: DeliveryAddress | None, note: str, expected_total_fen: int,
          idempotency_key: str, settings: Settings | None = None) -> Order:
    """Hold the slot and stock, create the trade and the order (status `created`), empty the
    cart; or refuse and change nothing: EmptyCart, KindNotOffered, StoreNotChosen,
    OutsideZones, SoldOut, OutOfStock, PriceChanged (the total is not `expected_total_fen`:
    a tampered price, or a campaign discount that began or ended since the quote), BelowMinimum,
    SlotNotOffered, SlotFull. Pay at f"/cashier/{order.trade_no}"."""
    user = carts._resident(actor)
    if not isinstance(idempotency_key, str) or not 1 <= len(idempotency_key) <= MAX_KEY or (
            LINE_CONTROL.search(idempotency_key)):
        raise ValidationFailed("A checkout needs a request id of 1 to {n} characters.",
                               n=MAX_KEY, field="idempotency_key")
    if not isinstance(note, str) or len(note) > MAX_NOTE or LINE_CONTROL.search(note):
        raise ValidationFailed("A note is at most {n} characters on one line.", n=MAX_NOTE,
                               field="note")
    if (done := _by_key(db, user, idempotency_key)) is not None:
        return done
    now = clock.now()
    plan = _plan(db, actor=user, miniapp_id=miniapp_id, kind=kind, slot_start=slot_start,
                 point_id=point_id, address=address, now=now)
    for problem in plan.problems:  # the slot's own refusals come from the hold below
        if not isinstance(problem, (SlotFull, SlotNotOffered)):
            raise problem
    if isinstance(expected_total_fen, bool) or expected_total_fen != plan.price.total_fen:
        raise PriceChanged("The price has changed to {amount}. Please check the order again.",
                           amount=_yuan(plan.price.total_fen))
    store, miniapp, start = plan.store, plan.miniapp, plan.slot_start
    assert store is not None
    if start is None:
        raise next(p for p in plan.problems)
    quantities: dict[int, int] = {}
    for line in plan.view.lines:
        quantities[line.sku] = quantities.get(line.sku, 0) + line.quantity
    expires = now + timedelta(minutes=PAY_MINUTES)
    held = hold(db, store=store, kind=plan.kind, slot_start=start, sku_quantities=quantities,
                hold_key=f"order:{user.id}:{idempotency_key}", expires_at=expires,
                point=plan.point, now=now)
    if (done := _by_key(db, user, idempotency_key)) is not None:
        return done  # a concurrent copy of this request won; its hold came back above
    public_id = new_id("ord")
    # what the cashier and the bill show: the goods, as a payment app names them
    count, first = sum(quantities.values()), plan.view.lines[0].name
    subject = (first if count == 1 else gettext("{item} and more, {n} items in all").format(
        item=first, n=count))[:120]
    app = gateway_apps.app_for_miniapp(db, actor=None, miniapp=miniapp)
    community_id, community_rate_bp = _commission_for(db, miniapp, user)
    trade = trades.create(
        db, app=app, merchant_id=miniapp.merchant_id, miniapp_id=miniapp.id,
        out_trade_no=public_id, total_fen=plan.price.total_fen, subject=subject,
        product_code=PRODUCT_CODE, timeout_minutes=PAY_MINUTES, notify_url="",
        return_url=f"/me/orders/{public_id}", buyer_user_id=user.id,
        content_digest=trades.digest(total_fen=plan.price.total_fen, subject=subject),
        community_id=community_id, community_rate_bp=community_rate_bp)
    p = plan.price
    sub = user_sub(settings, user, miniapp)
    # the order tells the mini-app who bought: its id is issued to the mini-app as a launch's is
    # (payments' own events of the trade then name the same buyer)
    shell_service.record_issued(db, miniapp=miniapp, user=user, sub=sub)
    order = Order(
        public_id=public_id, user_id=user.id, user_sub=sub,
        miniapp_id=miniapp.id, merchant_id=miniapp.merchant_id, store_id=store.id,
        kind=plan.kind, point_id=plan.point.id if plan.point else None, slot_start=start,
        hold_id=held.id, trade_no=trade.trade_no, status=OrderStatus.CREATED,
        items_fen=p.items_fen, packaging_fen=p.packaging_fen, delivery_fen=p.delivery_fen,
        discount_fen=p.discount_fen, total_fen=p.total_fen,
        discount_source=plan.discount.source[:24] if plan.discount else "",
        discount_name_zh=plan.discount.name_zh[:48] if plan.discount else "",
        discount_name_en=plan.discount.name_en[:64] if plan.discount else "",
        address=asdict(plan.address) if plan.address else {}, note=note.strip(),
        idempotency_key=idempotency_key, created_at=now, updated_at=now)
    try:
        with db.begin_nested():
            db.add(order)
            db.flush()
    except IntegrityError:
        if (done := _by_key(db, user, idempotency_key)) is not None:
            return done
        raise
    for line in plan.view.lines:
        db.add(OrderLine(order_id=order.id, sku_id=line.sku, product_name=line.name,
                         spec=line.spec, unit=line.unit, options=line.options,
                         quantity=line.quantity, price_fen=line.price_fen,
                         line_fen=line.line_fen))
    db.add(OrderEvent(order_id=order.id, status=OrderStatus.CREATED, at=now,
                      actor_kind="user", actor_id=user.id))
    carts.clear(db, plan.cart)
    db.flush()
    db.refresh(order, ["lines", "events"])
    return order
