"""A resident's cart in one shop (mini-app): SKUs with their options and quantities, and the
store chosen to buy from. Prices are not kept here: the cart is priced when viewed or quoted,
so what the resident sees is always today's price."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.core.clock import clock
from townsquare.core.errors import AuthenticationRequired, ValidationFailed
from townsquare.core.text import well_formed
from townsquare.miniapps.models import MiniApp
from townsquare.ordering.catalog.menu import NOT_NOW, SOLD_OUT, menu
from townsquare.ordering.catalog.models import Sku
from townsquare.ordering.orders import pricing
from townsquare.ordering.orders import shop as shops
from townsquare.ordering.orders.errors import NotAShop
from townsquare.ordering.orders.models import Cart, CartLine
from townsquare.ordering.slots.holds import MAX_QUANTITY
from townsquare.ordering.stores.models import Store

MAX_LINES = 50
GONE = "gone"  # the SKU is no longer on sale at all (deleted product, switched off)


@dataclass(frozen=True)
class CartLineView:
    sku_id: str
    sku: int  # row id
    product_id: str
    name: str
    spec: str
    unit: str
    options: dict[str, str]
    quantity: int
    price_fen: int
    line_fen: int
    unavailable: str | None  # None, "sold_out", "not_now" or "gone"
    left: int | None


@dataclass(frozen=True)
class CartView:
    miniapp_id: str
    store_id: str | None
    lines: list[CartLineView]
    items_fen: int  # of the available lines

    @property
    def empty(self) -> bool:
        return not self.lines


def _resident(actor: User | None) -> User:
    if actor is None:
        raise AuthenticationRequired("Please log in first.")
    return actor


def _find(db: Session, user: User, miniapp: MiniApp) -> Cart | None:
    return db.scalar(select(Cart).where(Cart.user_id == user.id,
                                        Cart.miniapp_id == miniapp.id))


def cart_of(db: Session, *, actor: User | None, miniapp: MiniApp) -> Cart:
    user = _resident(actor)
    found = _find(db, user, miniapp)
    if found is not None:
        return found
    try:
        with db.begin_nested():
            found = Cart(user_id=user.id, miniapp_id=miniapp.id)
            db.add(found)
            db.flush()
    except IntegrityError:  # the same resident's other tab made it first
        found = _find(db, user, miniapp)
        assert found is not None
    return found


def cart_for(db: Session, *, actor: User | None, miniapp_id: str) -> Cart:
    """The resident's cart in this shop, created on first use."""
    return cart_of(db, actor=actor, miniapp=shops.miniapp_by_public_id(db, miniapp_id))


def _touch(cart: Cart) -> None:
    cart.updated_at = clock.now()


def clean_options(product_options: list[Any], chosen: dict[str, str]) -> dict[str, str]:
    """The chosen options, each a choice the product offers; a missing one gets its first."""
    if not isinstance(chosen, dict):
        raise ValidationFailed("Choose the options from those offered.", field="options")
    offered = {o["name"]: list(o["choices"]) for o in product_options
               if isinstance(o, dict) and o.get("choices")}
    if any(name not in offered or chosen[name] not in offered[name] for name in chosen):
        raise ValidationFailed("Choose the options from those offered.", field="options")
    return {name: chosen.get(name) or choices[0] for name, choices in offered.items()}


def options_key(options: dict[str, str]) -> str:
    return json.dumps(options, ensure_ascii=False, sort_keys=True, separators=(",", ":"))[:200]


def _sku(db: Session, miniapp: MiniApp, sku_id: str) -> Sku:
    sku = (db.scalar(select(Sku).where(Sku.public_id == sku_id))
           if well_formed(sku_id, "sku") else None)
    if sku is None or sku.merchant_id != miniapp.merchant_id or not sku.product.active:
        raise ValidationFailed("This item is not sold here.", field="sku_id")
    return sku


def set_line(db: Session, *, actor: User | None, miniapp_id: str, sku_id: str, quantity: int,
             options: dict[str, str] | None = None) -> Cart:
    """Put `quantity` of a SKU (with these options) in the cart; 0 takes the line out."""
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not (
            0 <= quantity <= MAX_QUANTITY):
        raise ValidationFailed("A quantity is 0 to {n}.", n=MAX_QUANTITY, field="quantity")
    miniapp = shops.miniapp_by_public_id(db, miniapp_id)
    cart = cart_of(db, actor=actor, miniapp=miniapp)
    sku = _sku(db, miniapp, sku_id)
    chosen = clean_options(sku.product.options, options or {})
    key = options_key(chosen)
    line = next((x for x in cart.lines if x.sku_id == sku.id and x.options_key == key), None)
    if quantity == 0:
        if line is not None:
            cart.lines.remove(line)
    elif line is not None:
        line.quantity = quantity
    else:
        if len(cart.lines) >= MAX_LINES:
            raise ValidationFailed("A cart holds at most {n} different items.", n=MAX_LINES,
                                   field="sku_id")
        cart.lines.append(CartLine(sku_id=sku.id, options=chosen, options_key=key,
                                   quantity=quantity))
    _touch(cart)
    db.flush()
    return cart


def remove_line(db: Session, *, actor: User | None, miniapp_id: str, sku_id: str,
                options: dict[str, str] | None = None) -> Cart:
    return set_line(db, actor=actor, miniapp_id=miniapp_id, sku_id=sku_id, quantity=0,
                    options=options)


def choose_store(db: Session, *, actor: User | None, miniapp_id: str, store_id: str) -> Cart:
    """Buy from this one of the shop's stores."""
    miniapp = shops.miniapp_by_public_id(db, miniapp_id)
    settings = shops.shop(db, miniapp)
    store = next((s for s in shops.stores_of(db, miniapp, settings)
                  if s.public_id == store_id), None)
    if store is None:
        raise ValidationFailed("This shop does not sell from that store.", field="store_id")
    cart = cart_of(db, actor=actor, miniapp=miniapp)
    cart.store_id = store.id
    _touch(cart)
    db.flush()
    return cart


def clear(db: Session, cart: Cart) -> None:
    cart.lines.clear()
    _touch(cart)
    db.flush()


def clear_cart(db: Session, *, actor: User | None, miniapp_id: str) -> None:
    clear(db, cart_for(db, actor=actor, miniapp_id=miniapp_id))


def store_of(db: Session, cart: Cart, miniapp: MiniApp,
             settings: shops.ShopSettings | None = None) -> Store | None:
    """The cart's store if it is still one of the shop's; the only store if there is one."""
    stores = shops.stores_of(db, miniapp, settings or shops.shop(db, miniapp))
    chosen = next((s for s in stores if s.id == cart.store_id), None)
    if chosen is None and len(stores) == 1:
        chosen = stores[0]
    return chosen


def view(db: Session, cart: Cart, miniapp: MiniApp, *, store: Store | None,
         at: datetime | None = None) -> CartView:
    """The cart priced now, each line judged for `at` at the store (sold out, not now, gone)."""
    items = {i.sku: i for i in menu(db, store=store, at=at)} if store is not None else {}
    skus = {s.id: s for s in db.scalars(select(Sku).where(
        Sku.id.in_([line.sku_id for line in cart.lines])))} if cart.lines else {}
    lines = []
    for line in cart.lines:
        sku = skus[line.sku_id]
        item = items.get(sku.id)
        unavailable: str | None
        if store is None:
            unavailable = (GONE if not sku.product.active else SOLD_OUT
                           if sku.sold_out or sku.product.sold_out else None)
        elif item is None:
            unavailable = GONE
        elif item.unavailable is None and item.left is not None and item.left < line.quantity:
            unavailable = SOLD_OUT if item.left == 0 else "too_few"
        else:
            unavailable = item.unavailable
        lines.append(CartLineView(
            sku_id=sku.public_id, sku=sku.id, product_id=sku.product.public_id,
            name=sku.product.name, spec=sku.spec, unit=sku.product.unit, options=line.options,
            quantity=line.quantity, price_fen=sku.price_fen,
            line_fen=pricing.line_fen(sku.price_fen, line.quantity), unavailable=unavailable,
            left=item.left if item else None))
    return CartView(miniapp_id=miniapp.public_id,
                    store_id=store.public_id if store is not None else None, lines=lines,
                    items_fen=sum(x.line_fen for x in lines if x.unavailable is None))


def view_cart(db: Session, *, actor: User | None, miniapp_id: str,
              at: datetime | None = None) -> CartView:
    """The resident's cart with today's prices and what cannot be had (for `at`, a slot)."""
    miniapp = shops.miniapp_by_public_id(db, miniapp_id)
    cart = _find(db, _resident(actor), miniapp)
    if cart is None:  # a read makes no cart: an empty one, at the only store if there is one
        cart = Cart(miniapp_id=miniapp.id, lines=[])
    return view(db, cart, miniapp, store=store_of(db, cart, miniapp), at=at)


__all__ = ["GONE", "NOT_NOW", "SOLD_OUT", "CartLineView", "CartView", "NotAShop", "cart_for",
           "choose_store", "clear_cart", "remove_line", "set_line", "view_cart"]
