"""The resident's shop pages: `/shop/{ma}` (store choice, the menu by category, the cart) and
`/shop/{ma}/checkout` (how to get it, when, where; the total; then the cashier).

Every form works as a plain post and redirect; htmx swaps the shop's main part in place so the
menu keeps its scroll position. Only the services of `townsquare.ordering.orders` change
anything; the pages read the shop's settings and the store's menu and slots to show choices."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from townsquare import ordering
from townsquare.accounts import addresses
from townsquare.accounts.deps import CurrentUser, FormUser
from townsquare.accounts.models import User
from townsquare.core import i18n
from townsquare.core.clock import clock
from townsquare.core.errors import TownsquareError, ValidationFailed
from townsquare.core.i18n import N_
from townsquare.core.security import new_token
from townsquare.miniapps.models import MiniApp
from townsquare.ordering import orders
from townsquare.ordering.catalog.menu import SOLD_OUT as MENU_SOLD_OUT
from townsquare.ordering.catalog.models import Sku
from townsquare.ordering.orders import resident_views as views
from townsquare.ordering.orders import shop as shops
from townsquare.ordering.orders.checkout import DeliveryAddress
from townsquare.ordering.slots.labels import KIND_LABELS
from townsquare.ordering.slots.models import Kind
from townsquare.ordering.stores.models import PickupPoint, Store
from townsquare.web.deps import AppSettings, DbSession
from townsquare.web.forms import see_other, whole_number
from townsquare.web.templating import render

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form(max_length=200)]
ASAP = "asap"
KIND_ORDER = (Kind.PICKUP, Kind.DELIVERY, Kind.DINE_IN, Kind.COMMUNITY)
MAX_QUANTITY = 99
PREVIEW = 6
SOLD_OUT = N_("Sorry, that is sold out.")
NOT_NOW = N_("That is not served at this time of day.")
_ANCHOR = re.compile(r"[^0-9a-z_]")


# -- the shop: menu and cart ---------------------------------------------------------------
def _shop(db: Session, miniapp_id: str) -> tuple[MiniApp, shops.ShopSettings, list[Store]]:
    miniapp = shops.miniapp_by_public_id(db, miniapp_id)
    settings = shops.shop(db, miniapp)
    return miniapp, settings, shops.stores_of(db, miniapp, settings)


def _cart_store(cart: Any, stores: list[Store]) -> Store | None:
    return next((s for s in stores if s.public_id == cart.store_id), None)


def _shop_context(db: Session, user: User, miniapp_id: str) -> dict[str, Any]:
    miniapp, settings, stores = _shop(db, miniapp_id)
    cart = orders.view_cart(db, actor=user, miniapp_id=miniapp.public_id)
    chosen = _cart_store(cart, stores)
    shown = chosen or (stores[0] if stores else None)
    items = ordering.menu(db, store=shown) if shown is not None else []
    in_cart: dict[str, int] = {}
    for line in cart.lines:
        in_cart[line.sku_id] = in_cart.get(line.sku_id, 0) + line.quantity
    plain_lines = {line.sku_id: line for line in cart.lines if not line.options}
    count = sum(line.quantity for line in cart.lines if line.unavailable is None)
    return {
        "miniapp": miniapp, "shop": settings, "stores": stores, "chosen": chosen,
        "store": shown, "sections": views.sections(items), "cart": cart, "in_cart": in_cart,
        "plain_lines": plain_lines, "count": count, "options_text": views.options_text,
        "needs_store": len(stores) > 1 and chosen is None, "max_quantity": MAX_QUANTITY,
        "kinds": [KIND_LABELS[k] for k in KIND_ORDER if k in settings.kinds],
    }


def _shop_page(request: Request, db: Session, user: User, miniapp_id: str, *,
               error: str = "", status_code: int = 200) -> HTMLResponse:
    return render(request, "ordering/shop_menu.html", status_code=status_code, error=error,
                  **_shop_context(db, user, miniapp_id))


def _refused(request: Request, db: Session, user: User, miniapp_id: str,
             exc: TownsquareError) -> HTMLResponse:
    db.rollback()
    return _shop_page(request, db, user, miniapp_id, error=exc.render(i18n.gettext),
                      status_code=exc.status)


@router.get("/shop/{miniapp_id}", response_class=HTMLResponse)
def shop_page(request: Request, miniapp_id: str, db: DbSession,
              user: CurrentUser) -> HTMLResponse:
    return _shop_page(request, db, user, miniapp_id)


@router.get("/shop/{miniapp_id}/preview", response_class=HTMLResponse)
def shop_preview(request: Request, miniapp_id: str, db: DbSession) -> HTMLResponse:
    """A few of the menu's dishes or goods with pictures, for the shop's framed runtime page
    (public, like the menu's JSON: no cart, no login)."""
    miniapp, _settings, stores = _shop(db, miniapp_id)
    items = ordering.menu(db, store=stores[0]) if stores else []
    items = sorted(items, key=lambda i: (i.unavailable is not None, i.picture_id is None))
    shown: list[ordering.MenuItem] = []
    for item in items:  # one SKU per product
        if len(shown) < PREVIEW and all(s.product_id != item.product_id for s in shown):
            shown.append(item)
    return render(request, "ordering/shop_preview.html", miniapp=miniapp, items=shown)


def _options(chosen: list[str]) -> dict[str, str]:
    """The options a resident chose, each posted as an `opt` field "辣度=微辣"."""
    found: dict[str, str] = {}
    for pair in chosen[:10]:
        name, sep, value = pair.partition("=")
        if sep and name.strip():
            found[name.strip()] = value.strip()
    return found


@router.post("/shop/{miniapp_id}/cart")
def change_cart(request: Request, miniapp_id: str, db: DbSession, user: FormUser,
                sku: Text = "", quantity: Text = "",
                opt: Annotated[list[str], Form(max_length=80)] = []) -> Response:  # noqa: B006
    try:
        options = _options(opt)
        if quantity == "add":  # one more of this choice of options
            line = next((x for x in orders.view_cart(db, actor=user, miniapp_id=miniapp_id).lines
                         if x.sku_id == sku and (x.options or {}) == options), None)
            quantity = str((line.quantity if line else 0) + 1)
        count = whole_number(quantity[:6], field="quantity")
        if not 0 <= count <= MAX_QUANTITY:
            raise ValidationFailed("Choose between 0 and {n}.", n=MAX_QUANTITY,
                                   field="quantity")
        if count > 0:
            _orderable(db, user, miniapp_id, sku, count)
        orders.set_line(db, actor=user, miniapp_id=miniapp_id, sku_id=sku[:40],
                        quantity=count, options=options)
    except TownsquareError as exc:
        return _refused(request, db, user, miniapp_id, exc)
    return see_other(f"/shop/{miniapp_id}#item-{_ANCHOR.sub('', sku[:40])}")


def _orderable(db: Session, user: User, miniapp_id: str, sku_id: str, count: int) -> None:
    """More of an item is refused at once where the menu greys it out (sold out, not served
    now); fewer is always fine. (Checkout's hold checks again, under concurrency.)"""
    _miniapp, _settings, stores = _shop(db, miniapp_id)
    cart = orders.view_cart(db, actor=user, miniapp_id=miniapp_id)
    store = _cart_store(cart, stores) or (stores[0] if stores else None)
    if store is None:
        return
    item = next((i for i in ordering.menu(db, store=store) if i.sku_id == sku_id), None)
    had = sum(line.quantity for line in cart.lines if line.sku_id == sku_id)
    if item is None or not item.unavailable or count <= had:
        return
    if item.unavailable == MENU_SOLD_OUT:
        raise ValidationFailed(SOLD_OUT, code=item.unavailable, status=409, field="quantity")
    raise ValidationFailed(NOT_NOW, code=item.unavailable, status=409, field="quantity")


@router.post("/shop/{miniapp_id}/store")
def choose_store(request: Request, miniapp_id: str, db: DbSession, user: FormUser,
                 store: Text = "") -> Response:
    try:
        orders.choose_store(db, actor=user, miniapp_id=miniapp_id, store_id=store)
    except TownsquareError as exc:
        return _refused(request, db, user, miniapp_id, exc)
    return see_other(f"/shop/{miniapp_id}")


@router.post("/shop/{miniapp_id}/clear")
def clear_cart(request: Request, miniapp_id: str, db: DbSession,
               user: FormUser) -> Response:
    try:
        orders.clear_cart(db, actor=user, miniapp_id=miniapp_id)
    except TownsquareError as exc:
        return _refused(request, db, user, miniapp_id, exc)
    return see_other(f"/shop/{miniapp_id}")


# -- checkout -------------------------------------------------------------------------------
def _prep(db: Session, cart: Any) -> int:
    """The kitchen minutes the cart needs (slots without that much room are not offered)."""
    total = 0
    for line in cart.lines:
        sku = db.get(Sku, line.sku)
        if sku is not None and line.unavailable is None:
            total += (sku.product.prep_minutes or 0) * line.quantity
    return total


def _kinds(settings: shops.ShopSettings, store: Store | None) -> list[Kind]:
    """The kinds of order the shop takes that its store can serve."""
    if store is None:
        return []
    found = []
    for kind in KIND_ORDER:
        if kind not in settings.kinds:
            continue
        if kind is Kind.PICKUP and not store.pickup:
            continue
        if kind is Kind.DELIVERY and not store.delivery:
            continue
        if kind is Kind.COMMUNITY and not any(p.active for p in store.points):
            continue
        found.append(kind)
    return found


def _slot(value: str) -> datetime | None:
    if not value or value == ASAP:
        return None
    try:
        start = datetime.fromisoformat(value)
    except ValueError as problem:
        raise ValidationFailed("Choose a time from the list.", field="slot") from problem
    if start.tzinfo is None:
        raise ValidationFailed("Choose a time from the list.", field="slot")
    return start


def _checkout(db: Session, user: User, miniapp_id: str, query: dict[str, str]) -> dict[str, Any]:
    """Everything the checkout page shows for the choices in `query` (kind, slot, point,
    address), with the choices the page may offer and the quote for them."""
    context = _shop_context(db, user, miniapp_id)
    settings, store, cart = context["shop"], context["chosen"], context["cart"]
    if store is None and len(context["stores"]) == 1:
        store = context["stores"][0]
    kinds = _kinds(settings, store)
    kind = next((k for k in kinds if k.value == query.get("kind")), kinds[0] if kinds else None)
    points = ([p for p in store.points if p.active] if store is not None
              and kind is Kind.COMMUNITY else [])
    point: PickupPoint | None = next(
        (p for p in points if p.public_id == query.get("point")), points[0] if points else None)
    book = addresses.mine(db, actor=user)
    address = next((a for a in book if a.public_id == query.get("address")),
                   book[0] if book else None)
    days: list[views.SlotDay] = []
    if store is not None and kind is not None and (kind is not Kind.COMMUNITY or point):
        slots = ordering.offered(db, store=store, kind=kind, point=point, prep=_prep(db, cart))
        days = views.slot_days(((s.start, s.places_left) for s in slots), store.timezone,
                               clock.now())
    asap_ok = kind is Kind.DELIVERY
    slot_value, day = _choose_slot(days, query.get("day", ""), query.get("slot", ""), asap_ok)
    quote = None
    problems: list[str] = []
    if kind is not None and cart.lines:
        try:
            quote = orders.quote(
                db, actor=user, miniapp_id=miniapp_id, kind=kind, slot_start=_slot(slot_value),
                point_id=point.public_id if point else None,
                address=_delivery_address(address) if kind is Kind.DELIVERY else None)
            problems = list(quote.problems)
        except TownsquareError as exc:
            db.rollback()
            problems = [exc.render(i18n.gettext)]
    if kind is Kind.DELIVERY and address is None:
        problems.append(i18n.gettext("Add a delivery address first."))
    return {**context, "store": store, "kinds": kinds, "kind": kind, "points": points,
            "point": point, "book": book, "address": address, "days": days, "day": day,
            "slot_value": slot_value, "asap_ok": asap_ok, "quote": quote, "problems": problems,
            "kind_words": views.KIND_WORDS, "kind_hints": views.KIND_HINTS,
            "note": query.get("note", "")[:200], "key": query.get("key") or new_token(16),
            "checkout_url": _checkout_url(miniapp_id, kind, slot_value, point, address),
            "ASAP": ASAP, "Kind": Kind}


def _choose_slot(days: list[views.SlotDay], asked: str, slot: str,
                 asap_ok: bool) -> tuple[str, views.SlotDay | None]:
    """The slot to show chosen and the day whose slots to show: the slot asked for if it is
    offered (and on the day asked for, when a day chip was tapped); as soon as possible where
    delivery allows it; else the first slot of the day asked for, or of the first day."""
    asked_day = next((d for d in days if d.day == asked), None)
    for one in days:
        if (asked_day is None or asked_day is one) and any(
                value == slot for value, _label, _left in one.starts):
            return slot, one
    if asap_ok and asked_day is None:
        return ASAP, days[0] if days else None
    shown = asked_day or (days[0] if days else None)
    return (shown.starts[0][0] if shown is not None else ""), shown


def _checkout_url(miniapp_id: str, kind: Kind | None, slot: str, point: PickupPoint | None,
                  address: Any) -> str:
    query = {"kind": kind.value if kind else "", "slot": slot,
             "point": point.public_id if point else "",
             "address": address.public_id if address is not None else ""}
    return f"/shop/{miniapp_id}/checkout?" + urlencode({k: v for k, v in query.items() if v})


def _extra(point: str, address: str) -> str:
    kept = {k: v for k, v in (("point", point), ("address", address)) if v}
    return ("&" + urlencode(kept)) if kept else ""


def _delivery_address(address: Any) -> DeliveryAddress | None:
    return DeliveryAddress(**addresses.snapshot(address)) if address is not None else None


@router.get("/shop/{miniapp_id}/checkout", response_class=HTMLResponse)
def checkout_page(request: Request, miniapp_id: str, db: DbSession,
                  user: CurrentUser) -> Response:
    query = {k: v[:80] for k, v in request.query_params.items()}
    context = _checkout(db, user, miniapp_id, query)
    if not context["cart"].lines:
        return see_other(f"/shop/{miniapp_id}")
    return render(request, "ordering/shop_checkout.html", **context)


@router.post("/shop/{miniapp_id}/checkout")
def place_order(request: Request, miniapp_id: str, db: DbSession, user: FormUser,
                settings: AppSettings,
                kind: Text = "", slot: Text = "", point: Text = "", address: Text = "",
                note: Text = "", total: Text = "", key: Text = "", update: Text = "") -> Response:
    query = {"kind": kind, "slot": slot, "point": point, "address": address, "note": note,
             "key": key}
    if update:  # the page without JavaScript: show the choices' price, pay later
        return see_other(_checkout_url(miniapp_id, Kind(kind) if kind in set(Kind) else None,
                                       slot, None, None) + _extra(point, address))
    try:
        if not key:
            raise ValidationFailed("The form has expired; reload the page and try again.")
        expected = whole_number(total, field="total")
        chosen = Kind(kind) if kind in {k.value for k in Kind} else None
        if chosen is None:
            raise ValidationFailed("Choose how you get your order.", field="kind")
        delivery = None
        if chosen is Kind.DELIVERY:
            if not address:
                raise ValidationFailed("Add a delivery address first.", field="address")
            delivery = _delivery_address(addresses.get(db, actor=user, address_id=address))
        order = orders.place(
            db, actor=user, miniapp_id=miniapp_id, kind=chosen, slot_start=_slot(slot),
            point_id=point or None, address=delivery, note=note.strip()[:200],
            expected_total_fen=expected, idempotency_key=f"shop:{key}",
            settings=settings)
    except TownsquareError as exc:
        db.rollback()
        context = _checkout(db, user, miniapp_id, query)
        return render(request, "ordering/shop_checkout.html", status_code=exc.status,
                      error=exc.render(i18n.gettext), **context)
    return see_other(f"/cashier/{order.trade_no}")
