"""Orders JSON API (`/api/ordering/…`): a resident's cart, quote and checkout, their orders and
what they may do with them, and the merchant's transitions. Every rule is the service's; the
routes only translate."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query
from sqlalchemy.orm import Session

from townsquare.accounts.deps import CurrentUser
from townsquare.accounts.models import User
from townsquare.core.errors import ValidationFailed
from townsquare.core.settings import Settings
from townsquare.ordering.orders import cart as carts
from townsquare.ordering.orders import checkout, pickup
from townsquare.ordering.orders import service as orders
from townsquare.ordering.orders.errors import OrderNotFound
from townsquare.ordering.orders.models import Order, OrderStatus
from townsquare.ordering.orders.schemas import (
    CartIn,
    CartOut,
    ComplainIn,
    HandOverIn,
    OrderOut,
    PlaceIn,
    QuoteIn,
    QuoteOut,
    RateIn,
    ReasonIn,
    ReviewOut,
)
from townsquare.web.deps import AppSettings, DbSession
from townsquare.web.openapi import MerchantId, PublicId, errors

router = APIRouter(prefix="/api/ordering", tags=["ordering"])

IdempotencyKey = Annotated[str, Header(alias="Idempotency-Key", min_length=1, max_length=100)]
PAID_OR_LATER = frozenset(s for s in OrderStatus if s is not OrderStatus.CREATED)


def _cart(db: Session, user: User, miniapp_id: str) -> CartOut:
    return CartOut.of(carts.view_cart(db, actor=user, miniapp_id=miniapp_id))


@router.get("/carts/{miniapp_id}", response_model=CartOut, responses=errors(401, 404))
def get_cart(miniapp_id: PublicId, user: CurrentUser, db: DbSession) -> CartOut:
    """The resident's cart in this shop, priced now (lines that cannot be had say why)."""
    return _cart(db, user, miniapp_id)


@router.put("/carts/{miniapp_id}", response_model=CartOut, responses=errors(401, 404, 422))
def put_cart(miniapp_id: PublicId, body: CartIn, user: CurrentUser, db: DbSession) -> CartOut:
    """Choose the store, and/or replace the lines (quantity 0 leaves a line out)."""
    if body.store_id is not None:
        carts.choose_store(db, actor=user, miniapp_id=miniapp_id, store_id=body.store_id)
    if body.lines is not None:
        carts.clear_cart(db, actor=user, miniapp_id=miniapp_id)
        for line in body.lines:
            carts.set_line(db, actor=user, miniapp_id=miniapp_id, sku_id=line.sku_id,
                           quantity=line.quantity, options=line.options)
    return _cart(db, user, miniapp_id)


@router.post("/carts/{miniapp_id}/quote", response_model=QuoteOut,
             responses=errors(401, 404, 422))
def quote(miniapp_id: PublicId, body: QuoteIn, user: CurrentUser, db: DbSession) -> QuoteOut:
    """The total for this fulfilment choice and what stands in the way (`problems`)."""
    return QuoteOut.of(checkout.quote(
        db, actor=user, miniapp_id=miniapp_id, kind=body.kind, slot_start=body.slot_start,
        point_id=body.point_id, address=body.address.snapshot() if body.address else None))


def _out(order: Order, user: User, settings: Settings) -> OrderOut:
    mine = order.user_id == user.id and order.status in PAID_OR_LATER
    return OrderOut.of(order, code=pickup.pickup_code(order, settings=settings) if mine else None)


@router.post("/orders", response_model=OrderOut, status_code=201,
             responses=errors(401, 404, 409, 422))
def place(body: PlaceIn, user: CurrentUser, db: DbSession, settings: AppSettings,
          idempotency_key: IdempotencyKey) -> OrderOut:
    """Check out the cart: holds the slot and stock and creates the trade to pay at
    `cashier_url` within 15 minutes. The same Idempotency-Key answers the same order."""
    order = checkout.place(
        db, actor=user, miniapp_id=body.miniapp_id, kind=body.kind, slot_start=body.slot_start,
        point_id=body.point_id, address=body.address.snapshot() if body.address else None,
        note=body.note, expected_total_fen=body.expected_total_fen,
        idempotency_key=idempotency_key, settings=settings)
    return _out(order, user, settings)


@router.get("/orders", response_model=list[OrderOut], responses=errors(401))
def my_orders(user: CurrentUser, db: DbSession, settings: AppSettings,
              limit: Annotated[int, Query(ge=1, le=100)] = 20,
              offset: Annotated[int, Query(ge=0, le=100_000)] = 0) -> list[OrderOut]:
    """The resident's orders, newest first."""
    return [_out(o, user, settings)
            for o in orders.mine(db, actor=user, limit=limit, offset=offset)]


def _either(db: Session, user: User, order_id: str) -> Order:
    """The buyer's order, or one of a merchant the user acts for."""
    try:
        return orders.get_for_resident(db, actor=user, order_id=order_id)
    except OrderNotFound:
        return orders.get_for_merchant(db, actor=user, order_id=order_id)


@router.get("/orders/{order_id}", response_model=OrderOut, responses=errors(401, 404))
def get_order(order_id: PublicId, user: CurrentUser, db: DbSession,
              settings: AppSettings) -> OrderOut:
    return _out(_either(db, user, order_id), user, settings)


@router.post("/orders/{order_id}/cancel", response_model=OrderOut,
             responses=errors(401, 404, 409, 422))
def cancel(order_id: PublicId, body: ReasonIn, user: CurrentUser, db: DbSession,
           settings: AppSettings) -> OrderOut:
    """The buyer cancels (unpaid, or paid and not yet accepted: refunded); the merchant
    cancels an accepted order (refunded)."""
    order = _either(db, user, order_id)
    if order.user_id == user.id:
        order = orders.cancel_by_resident(db, actor=user, order_id=order_id, reason=body.reason)
    else:
        order = orders.cancel_by_merchant(db, actor=user, order_id=order_id, reason=body.reason)
    return _out(order, user, settings)


@router.post("/orders/{order_id}/reject", response_model=OrderOut,
             responses=errors(401, 404, 409, 422))
def reject(order_id: PublicId, body: ReasonIn, user: CurrentUser, db: DbSession,
           settings: AppSettings) -> OrderOut:
    """The merchant refuses a paid order: refunded."""
    return _out(orders.reject(db, actor=user, order_id=order_id, reason=body.reason), user,
                settings)


@router.post("/orders/{order_id}/rate", response_model=ReviewOut, status_code=201,
             responses=errors(401, 404, 409, 422))
def rate(order_id: PublicId, body: RateIn, user: CurrentUser, db: DbSession) -> ReviewOut:
    return ReviewOut.of(orders.rate(db, actor=user, order_id=order_id, stars=body.stars,
                                    text=body.text))


@router.post("/orders/{order_id}/complain", status_code=204,
             responses=errors(401, 404, 409, 422))
def complain(order_id: PublicId, body: ComplainIn, user: CurrentUser, db: DbSession) -> None:
    orders.complain(db, actor=user, order_id=order_id, category=body.category, text=body.text)


@router.post("/orders/{order_id}/reorder", response_model=CartOut,
             responses=errors(401, 404))
def reorder(order_id: PublicId, user: CurrentUser, db: DbSession) -> CartOut:
    """The order's lines still on sale, back in the cart."""
    order = orders.get_for_resident(db, actor=user, order_id=order_id)
    orders.reorder(db, actor=user, order_id=order_id)
    from townsquare.miniapps.models import MiniApp  # noqa: PLC0415

    return _cart(db, user, db.get_one(MiniApp, order.miniapp_id).public_id)


@router.post("/merchants/{merchant_id}/handover", response_model=OrderOut,
             responses=errors(401, 404, 409, 422))
def hand_over(merchant_id: MerchantId, body: HandOverIn, user: CurrentUser, db: DbSession,
              settings: AppSettings) -> OrderOut:
    """The counter scanned a pickup code: the ready order is picked up."""
    if not body.code.strip():
        raise ValidationFailed("Scan a pickup code.", field="code")
    return _out(orders.hand_over(db, actor=user, merchant_id=merchant_id, code=body.code,
                                 settings=settings), user, settings)


# Last: its {action} would otherwise take /rate, /complain and /reorder.
_MERCHANT = {"accept": orders.accept, "start": orders.start, "ready": orders.ready,
             "dispatch": orders.dispatch, "delivered": orders.delivered}
Action = Literal["accept", "start", "ready", "dispatch", "delivered", "received"]


@router.post("/orders/{order_id}/{action}", response_model=OrderOut,
             responses=errors(401, 404, 409, 422))
def merchant_action(order_id: PublicId, action: Action, user: CurrentUser, db: DbSession,
                    settings: AppSettings) -> OrderOut:
    """`accept`, `start`, `ready`, `dispatch`, `delivered` (the merchant); `received` (the
    buyer confirms)."""
    if action == "received":
        order = orders.confirm_received(db, actor=user, order_id=order_id)
    else:
        order = _MERCHANT[action](db, actor=user, order_id=order_id)
    return _out(order, user, settings)
