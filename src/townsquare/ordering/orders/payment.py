"""Ordering's listener on payments' trade hook (`payments.trades.hooks.trade_changed`), run
inside the transaction that changed the trade:

- **paid**: the order moves created → paid, its hold is confirmed, it gets its pickup number and
  the deadline to be accepted (or is accepted at once, when the shop says so). If the hold is
  gone (it expired before the payment arrived) the payment is refunded and the order cancelled
  in the same transaction, so a resident never pays for an order that has no place.
- **closed / timed_out / cancelled** (an unpaid trade): the order is cancelled and its hold
  released.
- **refunded**: a refund behaviour event; a trade refunded whole from outside ordering (an
  operator's console) cancels the order it paid for.

A trade that is no order's is left alone."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.core.clock import clock
from townsquare.miniapps.models import MiniApp
from townsquare.ordering.orders import feed, pickup
from townsquare.ordering.orders import service as orders
from townsquare.ordering.orders import shop as shops
from townsquare.ordering.orders.errors import NotAShop, OrderStateError
from townsquare.ordering.orders.models import ENDED, Order, OrderStatus
from townsquare.ordering.slots.holds import HoldGone, confirm
from townsquare.ordering.slots.models import Hold
from townsquare.payments.trades import hooks
from townsquare.payments.trades.models import Trade

S = OrderStatus
LISTENER = "ordering.orders"


def _shop(db: Session, order: Order) -> shops.ShopSettings | None:
    try:
        return shops.shop(db, db.get_one(MiniApp, order.miniapp_id))
    except NotAShop:  # taken down meanwhile: the order still stands, accepted by hand
        return None


def paid(db: Session, order: Order, trade: Trade) -> None:
    now = clock.now()
    settings = _shop(db, order)
    minutes = settings.accept_within_minutes if settings else shops.DEFAULT_ACCEPT_MINUTES
    payer = db.get(User, trade.buyer_user_id) if trade.buyer_user_id else None
    try:
        orders._move(db, order, from_=[S.CREATED], to=S.PAID, actor_kind="user", actor=payer,
                     paid_at=trade.paid_at or now, accept_by=now + timedelta(minutes=minutes))
    except OrderStateError:
        if order.status in ENDED:  # cancelled before the money arrived: give it back
            orders.refund_whole(db, order, order.status.value)
        return
    try:
        confirm(db, db.get_one(Hold, order.hold_id), now=now)
    except HoldGone:
        orders.cancel_paid(db, order, from_=[S.PAID], by="system", reason="hold_expired",
                           actor=None)
        return
    order.pickup_number = pickup.next_number(db, order)
    db.flush()
    feed.placed(db, order)
    if settings is not None and settings.auto_accept:
        orders._move(db, order, from_=[S.PAID], to=S.ACCEPTED, actor_kind="system",
                     actor=None, note="auto_accept", accepted_at=now)


def closed(db: Session, order: Order) -> None:
    hint = db.info.get(orders.CANCEL_HINT)
    if hint is not None and hint[0] == order.id:
        _, by, reason, user_id = hint
        orders.cancel_unpaid(db, order, by=by, reason=reason, actor=db.get(User, user_id))
    else:
        orders.cancel_unpaid(db, order, by="system", reason="unpaid", actor=None)


def refunded(db: Session, order: Order, change: hooks.TradeChanged) -> None:
    trade, refund = change.trade, change.refund
    if refund is not None:
        feed.refunded(db, order, refund_id=refund.id, amount_fen=refund.amount_fen)
    if trade.refunded_fen >= trade.total_fen and order.status not in ENDED and (
            order.status is not S.CREATED):
        now = clock.now()
        try:
            orders._move(db, order, from_=[s for s in S if s not in ENDED and s is not S.CREATED],
                         to=S.CANCELLED, actor_kind="system", actor=None, note="refunded",
                         cancelled_by="system", cancel_reason="refunded", cancelled_at=now)
        except OrderStateError:
            return
        orders._release(db, order)
        feed.cancelled(db, order)


def on_trade_changed(db: Session, change: hooks.TradeChanged) -> None:
    order = db.scalar(select(Order).where(Order.trade_no == change.trade.trade_no))
    if order is None:
        return
    if change.event == "paid":
        paid(db, order, change.trade)
    elif change.event in ("closed", "timed_out", "cancelled"):
        closed(db, order)
    elif change.event == "refunded":
        refunded(db, order, change)


def connect() -> None:
    """Called by the composition roots (townsquare.app.connect_hooks)."""
    hooks.trade_changed.connect(LISTENER, on_trade_changed)
