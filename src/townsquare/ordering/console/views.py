"""What the console's pages read, gathered in one place: the merchant and its stores, the
board's columns, an order checked to be this merchant's, the ordering mini-apps' shop settings
(auto-accept and the accept window), and local times for cards and tickets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.core.clock import clock
from townsquare.core.errors import NotFound, TownsquareError
from townsquare.merchants.models import Merchant
from townsquare.miniapps.models import MiniApp
from townsquare.ordering import access, orders
from townsquare.ordering.console import board
from townsquare.ordering.orders import shop
from townsquare.ordering.stores import service as stores
from townsquare.ordering.stores.models import Store


@dataclass(frozen=True)
class ShopLine:
    """One ordering mini-app of the merchant and how it accepts orders."""

    miniapp: MiniApp
    auto_accept: bool
    accept_within_minutes: int
    published: bool = True


@dataclass
class Scope:
    """The merchant a console page is about, its stores, and the store chosen (if any)."""

    merchant: Merchant
    stores: list[Store]
    store: Store | None

    @property
    def by_id(self) -> dict[int, Store]:
        return {s.id: s for s in self.stores}

    @property
    def zone(self) -> str:
        return (self.store or (self.stores[0] if self.stores else None) or _Default).timezone

    def today(self) -> date:
        return clock.now().astimezone(ZoneInfo(self.zone)).date()


class _Default:
    timezone = "Asia/Shanghai"


def scope(db: Session, user: User, mer_id: str, store_id: str = "") -> Scope:
    """The merchant the user may act for (outsiders get the same refusal as for nothing), its
    stores, and the store a `?store=` filter names (another merchant's store: not found)."""
    merchant = access.merchant(db, actor=user, merchant_id=mer_id)
    own = stores.stores_of(db, actor=user, merchant_id=mer_id)
    chosen = None
    if store_id:
        chosen = next((s for s in own if s.public_id == store_id), None)
        if chosen is None:
            raise NotFound("No such store.")
    return Scope(merchant, own, chosen)


def own_order(db: Session, user: User, where: Scope, ord_id: str) -> Any:
    """The order, if the user may see it and it is this merchant's."""
    order = orders.get_for_merchant(db, actor=user, order_id=ord_id)
    if order.merchant_id != where.merchant.id:
        raise NotFound("No such order.")
    return order


def board_columns(db: Session, user: User, where: Scope) -> list[tuple[board.Column, list[Any]]]:
    """The live orders by column (oldest first: who waits longest is served first), and the
    orders finished or refused today (newest first)."""
    store = where.store.public_id if where.store else None
    mer = where.merchant.public_id
    live = orders.for_merchant(db, actor=user, merchant_id=mer, statuses=list(board.ACTIVE),
                               store_id=store)
    done = orders.for_merchant(db, actor=user, merchant_id=mer, statuses=list(board.DONE),
                               store_id=store, day=where.today())
    columns: list[tuple[board.Column, list[Any]]] = []
    for column in board.COLUMNS:
        if column.key == "done":
            found = sorted(done, key=lambda o: (o.updated_at, o.id), reverse=True)
        else:
            found = sorted((o for o in live if str(o.status) in column.statuses),
                           key=lambda o: (o.slot_start or o.created_at, o.id))
        columns.append((column, found))
    return columns


def kitchen_slots(db: Session, user: User, where: Scope) -> list[tuple[datetime | None, list[Any]]]:
    """What the kitchen cooks, by slot (ASAP orders, without a slot, first), oldest first."""
    store = where.store.public_id if where.store else None
    cooking = orders.for_merchant(db, actor=user, merchant_id=where.merchant.public_id,
                                  statuses=list(board.KITCHEN), store_id=store)
    slots: dict[datetime | None, list[Any]] = {}
    for order in sorted(cooking, key=lambda o: (o.slot_start is not None,
                                                o.slot_start or o.created_at, o.id)):
        slots.setdefault(order.slot_start, []).append(order)
    return list(slots.items())


def shops(db: Session, merchant: Merchant) -> list[ShopLine]:
    """The merchant's grocery and restaurant mini-apps with their accepting settings."""
    found = []
    for miniapp in db.scalars(select(MiniApp).where(MiniApp.merchant_id == merchant.id)
                              .order_by(MiniApp.id)):
        if miniapp.template is None or miniapp.template.runtime not in shop.RUNTIMES:
            continue
        try:
            settings = shop.shop(db, miniapp)
        except TownsquareError:  # not published yet: nothing to accept
            found.append(ShopLine(miniapp, False, shop.DEFAULT_ACCEPT_MINUTES, published=False))
            continue
        found.append(ShopLine(miniapp, settings.auto_accept, settings.accept_within_minutes))
    return found


def local_time(dt: datetime | None, zone: str, fmt: str = "%H:%M") -> str:
    """A stored UTC time as the store's wall clock."""
    if dt is None:
        return ""
    return dt.astimezone(ZoneInfo(zone)).strftime(fmt)


def slot_text(order: Any, zone: str, today: date) -> str:
    """"12:15" today, "12-08 12:15" another day; empty for as soon as possible."""
    if order.slot_start is None:
        return ""
    local = order.slot_start.astimezone(ZoneInfo(zone))
    return local.strftime("%H:%M") if local.date() == today else local.strftime("%m-%d %H:%M")
