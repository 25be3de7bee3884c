"""Orders after checkout: every transition of the state machine, who may make it, and what it
sets off (refunds, the hold's release, behaviour events); and the reads the pages need.

Every transition is one conditional UPDATE from the statuses it may leave (`WHERE status IN
(…)`), so of two racing transitions exactly one happens (a merchant's accept and the job's
auto-cancel; a double-clicked button). The winner writes the timeline row and the behaviour
event. A cancellation of a paid order releases the hold and refunds the whole payment through
`payments.trades.refund` with out_request_no `order:<ord>:<status>`, in the same transaction:
if the refund is refused, nothing changes. Locks: a payment (`payment.py`) takes the trade, the
ledger's rows, the order, then the hold's rows (hold, slot, stock); a paid order's cancellation
takes the order, the trade and the ledger's rows (the refund), then the hold's rows. Rows they
share (the merchant's ledger accounts, a slot, a stock row) come in the same order, and an
unpaid order is cancelled by closing its trade first (see `cancel_by_resident`), so none of
them waits for another in a circle."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.core.clock import clock
from townsquare.core.database import rows_changed
from townsquare.core.errors import AuthenticationRequired, ValidationFailed
from townsquare.core.settings import Settings, get_settings
from townsquare.core.text import LINE_CONTROL, well_formed
from townsquare.merchants import access
from townsquare.merchants.models import Merchant
from townsquare.ordering.catalog.menu import menu
from townsquare.ordering.orders import cart as carts
from townsquare.ordering.orders import feed, pickup
from townsquare.ordering.orders.errors import (
    AlreadyRated,
    OrderNotFound,
    OrderStateError,
    PickupCodeInvalid,
)
from townsquare.ordering.orders.models import (
    Cart,
    Order,
    OrderComplaint,
    OrderEvent,
    OrderReview,
    OrderStatus,
)
from townsquare.ordering.orders.moves import OrderMoved, order_moved
from townsquare.ordering.slots.holds import release
from townsquare.ordering.slots.models import Hold, Kind
from townsquare.ordering.stores.models import Store
from townsquare.payments.trades import service as trades
from townsquare.payments.trades.errors import TradeStatusError

S = OrderStatus
CANCEL_HINT = "ordering.cancel_hint"  # session info: who closes an unpaid order's trade
COMPLAINT_CATEGORIES = ("quality", "delivery", "service", "price", "hygiene")
HANDED = (S.PICKED_UP, S.DELIVERED)
COUNTER_KINDS = (Kind.PICKUP, Kind.DINE_IN, Kind.COMMUNITY)  # handed over at the counter
SETTLE = timedelta(seconds=2)  # changes_since re-sends this much, for commits that land late
MAX_TEXT = 500


# --- reading ----------------------------------------------------------------------------------

def _by_public_id(db: Session, order_id: str) -> Order | None:
    if not well_formed(order_id, "ord"):
        return None
    return db.scalar(select(Order).where(Order.public_id == order_id))


def _resident(actor: User | None) -> User:
    if actor is None:
        raise AuthenticationRequired("Please log in first.")
    return actor


def get_for_resident(db: Session, *, actor: User | None, order_id: str) -> Order:
    """The resident's own order (anyone else's answers OrderNotFound)."""
    order = _by_public_id(db, order_id)
    if order is None or order.user_id != _resident(actor).id:
        raise OrderNotFound("No such order.")
    return order


def get_for_merchant(db: Session, *, actor: User | None, order_id: str) -> Order:
    """An order of a merchant the actor may act for (`None`: the system)."""
    order = _by_public_id(db, order_id)
    if order is None or not access.can_act_for(db, actor, db.get_one(Merchant,
                                                                      order.merchant_id)):
        raise OrderNotFound("No such order.")
    return order


def mine(db: Session, *, actor: User | None, limit: int = 20, offset: int = 0) -> list[Order]:
    """The resident's orders, newest first."""
    user = _resident(actor)
    return list(db.scalars(select(Order).where(Order.user_id == user.id)
                           .order_by(Order.created_at.desc(), Order.id.desc())
                           .limit(max(1, min(limit, 100))).offset(max(0, offset))))


def merchant_by_public_id(db: Session, *, actor: User | None, merchant_id: str) -> Merchant:
    merchant = (db.scalar(select(Merchant).where(Merchant.public_id == merchant_id))
                if well_formed(merchant_id, "mer") else None)
    if merchant is None or not access.can_act_for(db, actor, merchant):
        raise OrderNotFound("No such merchant.")
    return merchant


def for_merchant(db: Session, *, actor: User | None, merchant_id: str,
                 statuses: Iterable[OrderStatus | str] | None = None,
                 store_id: str | None = None, day: date | None = None,
                 limit: int = 500) -> list[Order]:
    """A merchant's orders (paid and later unless `statuses` says otherwise), by slot; `day`
    is the stores' local day of the slot."""
    merchant = merchant_by_public_id(db, actor=actor, merchant_id=merchant_id)
    stmt = select(Order).where(Order.merchant_id == merchant.id)
    wanted = [S(s) for s in statuses] if statuses is not None else [
        s for s in S if s is not S.CREATED]
    stmt = stmt.where(Order.status.in_(wanted))
    if store_id:
        store = db.scalar(select(Store).where(Store.public_id == store_id,
                                              Store.merchant_id == merchant.id))
        if store is None:
            return []
        stmt = stmt.where(Order.store_id == store.id)
    if day is not None:
        zone = ZoneInfo(get_settings().timezone)
        start = datetime(day.year, day.month, day.day, tzinfo=zone)
        stmt = stmt.where(Order.slot_start >= start,
                          Order.slot_start < start + timedelta(days=1))
    return list(db.scalars(stmt.order_by(Order.slot_start, Order.id).limit(limit)))


def timeline(order: Order) -> list[OrderEvent]:
    return list(order.events)


def _cursor(at: datetime, order_id: int) -> str:
    return f"{at.isoformat()}|{order_id}"


def changes_since(db: Session, *, merchant_id: int | None = None, order_id: int | None = None,
                  cursor: str = "") -> tuple[str, list[Order]]:
    """Orders changed after `cursor` (one merchant's, or one order), oldest change first, and
    the cursor to ask with next. Changes of the last two seconds are sent again on the next
    call (a transaction that stamped its change a moment ago may commit after a later one), so
    a consumer treats the list as "these may have changed" and redraws them. An empty cursor
    starts from now."""
    now = clock.now()
    try:
        text, _, ident = cursor.partition("|")
        after, after_id = datetime.fromisoformat(text), int(ident)
        if after.tzinfo is None:
            raise ValueError
    except ValueError:
        after, after_id = now - SETTLE, 0
    stmt = select(Order).where(or_(Order.updated_at > after,
                                   and_(Order.updated_at == after, Order.id > after_id)))
    if merchant_id is not None:
        stmt = stmt.where(Order.merchant_id == merchant_id, Order.status != S.CREATED)
    if order_id is not None:
        stmt = stmt.where(Order.id == order_id)
    found = list(db.scalars(stmt.order_by(Order.updated_at, Order.id).limit(200)))
    last_at, last_id = (found[-1].updated_at, found[-1].id) if found else (after, after_id)
    if last_at > now - SETTLE:  # not settled yet: ask again from a moment ago
        last_at, last_id = max(after, now - SETTLE), 0
    return _cursor(last_at, last_id), found


# --- moving -----------------------------------------------------------------------------------

def _move(db: Session, order: Order, *, from_: Iterable[OrderStatus], to: OrderStatus,
          actor_kind: str, actor: User | None, note: str = "", **values: Any) -> Order:
    """One conditional UPDATE from `from_` to `to` and its timeline row; OrderStateError when
    the order is in another status (whoever moved it first)."""
    now = clock.now()
    leaving = list(from_)
    moved = db.execute(update(Order).where(Order.id == order.id, Order.status.in_(leaving))
                       .values(status=to, updated_at=now, **values)
                       .execution_options(synchronize_session=False))
    db.refresh(order)
    if not rows_changed(moved):
        raise OrderStateError("This order cannot be changed that way now.",
                              details={"status": order.status.value})
    db.add(OrderEvent(order_id=order.id, status=to, at=now, actor_kind=actor_kind,
                      actor_id=actor.id if actor else None, note=note[:200]))
    db.flush()
    db.refresh(order, ["events"])
    if to is S.ACCEPTED:  # by the merchant, the system or the shop's auto-accept
        feed.accepted(db, order)
    elif to is S.READY:
        feed.ready(db, order)
    order_moved.fire(db, OrderMoved(order, to))  # e.g. the delivery link (delivery_link.py)
    return order


def _release(db: Session, order: Order) -> None:
    release(db, db.get_one(Hold, order.hold_id))


def refund_whole(db: Session, order: Order, status: str) -> None:
    """Give the resident the whole payment back (idempotent per order and status)."""
    trade = trades.get(db, order.trade_no)
    left = trade.total_fen - trade.refunded_fen
    if trade.paid_at is None or left <= 0:
        return
    trades.refund(db, trade=trade, refund_fen=left, out_request_no=f"order:{order.public_id}:"
                  f"{status}", reason=order.cancel_reason or status)


def cancel_paid(db: Session, order: Order, *, from_: Iterable[OrderStatus], by: str,
                reason: str, actor: User | None, to: OrderStatus = S.CANCELLED) -> Order:
    """Cancel (or reject) an order that was paid: refund it whole and release its hold. The
    refund comes first: it locks the ledger's rows before the hold's slot and stock rows, the
    order a payment takes them in, so a cancellation and a payment in the same slot cannot
    wait for each other."""
    now = clock.now()
    _move(db, order, from_=from_, to=to, actor_kind=by, actor=actor, note=reason,
          cancelled_by=by, cancel_reason=reason[:200], cancelled_at=now)
    refund_whole(db, order, to.value)
    _release(db, order)
    feed.cancelled(db, order)
    return order


def cancel_unpaid(db: Session, order: Order, *, by: str, reason: str,
                  actor: User | None, release_hold: bool = True) -> bool:
    """The trade of an unpaid order was closed: cancel the order and (unless the hold's own
    expiry gives its place back) release its hold."""
    try:
        _move(db, order, from_=[S.CREATED], to=S.CANCELLED, actor_kind=by, actor=actor,
              note=reason, cancelled_by=by, cancel_reason=reason[:200],
              cancelled_at=clock.now())
    except OrderStateError:
        return False
    if release_hold:
        _release(db, order)
    feed.cancelled(db, order)
    return True


def _reason(reason: str) -> str:
    if not isinstance(reason, str) or len(reason) > 200 or LINE_CONTROL.search(reason):
        raise ValidationFailed("A reason is at most 200 characters on one line.",
                               field="reason")
    return reason.strip()


def cancel_by_resident(db: Session, *, actor: User | None, order_id: str,
                       reason: str = "") -> Order:
    """The resident cancels: an unpaid order (its trade is closed, the hold released) or a paid
    one the merchant has not accepted yet (refunded)."""
    order = get_for_resident(db, actor=actor, order_id=order_id)
    reason = _reason(reason)
    if order.status is S.CREATED:
        # close the trade first: a payment racing this cancel locks the trade first too
        db.info[CANCEL_HINT] = (order.id, "user", reason, order.user_id)
        try:
            trades.close(db, trade=trades.get(db, order.trade_no), reason="cancelled")
        except TradeStatusError:
            db.refresh(order)  # paid meanwhile: cancel it as a paid order below
        finally:
            db.info.pop(CANCEL_HINT, None)
        db.refresh(order)
        if order.status is S.CANCELLED:
            return order
    return cancel_paid(db, order, from_=[S.PAID], by="user", reason=reason, actor=actor)


def _merchant_order(db: Session, actor: User | None, order_id: str) -> Order:
    return get_for_merchant(db, actor=actor, order_id=order_id)


def accept(db: Session, *, actor: User | None, order_id: str) -> Order:
    order = _merchant_order(db, actor, order_id)
    return _move(db, order, from_=[S.PAID], to=S.ACCEPTED, actor_kind=_kind_of(actor),
                 actor=actor, accepted_at=clock.now())


def _kind_of(actor: User | None) -> str:
    return "merchant" if actor is not None else "system"


def reject(db: Session, *, actor: User | None, order_id: str, reason: str = "") -> Order:
    """The merchant refuses a paid order: refunded, its place and stock given back."""
    order = _merchant_order(db, actor, order_id)
    return cancel_paid(db, order, from_=[S.PAID], by="merchant", reason=_reason(reason),
                       actor=actor, to=S.REJECTED)


def cancel_by_merchant(db: Session, *, actor: User | None, order_id: str,
                       reason: str = "") -> Order:
    """The merchant cancels an accepted order it cannot make after all: refunded."""
    order = _merchant_order(db, actor, order_id)
    return cancel_paid(db, order, from_=[S.ACCEPTED, S.PREPARING], by="merchant",
                       reason=_reason(reason), actor=actor)


def start(db: Session, *, actor: User | None, order_id: str) -> Order:
    order = _merchant_order(db, actor, order_id)
    return _move(db, order, from_=[S.ACCEPTED], to=S.PREPARING, actor_kind=_kind_of(actor),
                 actor=actor)


def ready(db: Session, *, actor: User | None, order_id: str) -> Order:
    order = _merchant_order(db, actor, order_id)
    return _move(db, order, from_=[S.ACCEPTED, S.PREPARING], to=S.READY,
                 actor_kind=_kind_of(actor), actor=actor, ready_at=clock.now())


def _handed(db: Session, order: Order, *, from_: OrderStatus, to: OrderStatus,
            actor: User | None) -> Order:
    _move(db, order, from_=[from_], to=to, actor_kind=_kind_of(actor), actor=actor,
          handed_at=clock.now())
    feed.fulfilled(db, order)
    return order


def hand_over(db: Session, *, actor: User | None, merchant_id: str, code: str,
              settings: Settings | None = None) -> Order:
    """The counter scanned a pickup code: the ready order is picked up. A code that is not
    genuine, or names another merchant's order, is refused alike."""
    merchant = merchant_by_public_id(db, actor=actor, merchant_id=merchant_id)
    public_id = pickup.order_id_of(code, settings=settings)
    order = _by_public_id(db, public_id) if public_id else None
    if order is None or order.merchant_id != merchant.id:
        raise PickupCodeInvalid("This is not a pickup code of this shop.")
    if order.kind not in COUNTER_KINDS:
        raise OrderStateError("This order is delivered, not picked up.")
    return _handed(db, order, from_=S.READY, to=S.PICKED_UP, actor=actor)


def dispatch(db: Session, *, actor: User | None, order_id: str) -> Order:
    """The shop's own rider leaves with a ready delivery order."""
    order = _merchant_order(db, actor, order_id)
    if order.kind is not Kind.DELIVERY:
        raise OrderStateError("Only a delivery order goes out for delivery.")
    return _move(db, order, from_=[S.READY], to=S.OUT_FOR_DELIVERY,
                 actor_kind=_kind_of(actor), actor=actor)


def delivered(db: Session, *, actor: User | None, order_id: str) -> Order:
    order = _merchant_order(db, actor, order_id)
    return _handed(db, order, from_=S.OUT_FOR_DELIVERY, to=S.DELIVERED, actor=actor)


def confirm_received(db: Session, *, actor: User | None, order_id: str) -> Order:
    """The resident confirms they have it: completed."""
    order = get_for_resident(db, actor=actor, order_id=order_id)
    return _move(db, order, from_=HANDED, to=S.COMPLETED, actor_kind="user", actor=actor,
                 completed_at=clock.now())


def complete(db: Session, order: Order) -> bool:
    """The job: handed over long enough ago, completed by the system."""
    try:
        _move(db, order, from_=HANDED, to=S.COMPLETED, actor_kind="system", actor=None,
              completed_at=clock.now())
    except OrderStateError:
        return False
    return True


# --- after the order --------------------------------------------------------------------------

def reorder(db: Session, *, actor: User | None, order_id: str) -> Cart:
    """The lines of an earlier order that are still on sale, back in the cart (replacing the
    quantities of the same items); the store of that order chosen."""
    order = get_for_resident(db, actor=actor, order_id=order_id)
    from townsquare.miniapps.models import MiniApp  # noqa: PLC0415

    miniapp = db.get_one(MiniApp, order.miniapp_id)
    store = db.get_one(Store, order.store_id)
    on_sale = {item.sku: item for item in menu(db, store=store) if item.unavailable is None}
    cart = carts.cart_of(db, actor=actor, miniapp=miniapp)
    for line in order.lines:
        item = on_sale.get(line.sku_id)
        if item is None:
            continue
        quantity = line.quantity if item.left is None else min(line.quantity, item.left)
        if quantity > 0:
            try:
                carts.set_line(db, actor=actor, miniapp_id=miniapp.public_id,
                               sku_id=item.sku_id, quantity=quantity, options=line.options)
            except ValidationFailed:  # its options changed since: leave it out
                continue
    cart.store_id = store.id
    db.flush()
    db.refresh(cart, ["lines"])
    return cart


def _text(text: str) -> str:
    if not isinstance(text, str) or len(text) > MAX_TEXT:
        raise ValidationFailed("At most {n} characters.", n=MAX_TEXT, field="text")
    return text.strip()


def rate(db: Session, *, actor: User | None, order_id: str, stars: int,
         text: str = "") -> OrderReview:
    """The resident rates an order once it was handed over (once per order)."""
    order = get_for_resident(db, actor=actor, order_id=order_id)
    if isinstance(stars, bool) or not isinstance(stars, int) or not 1 <= stars <= 5:
        raise ValidationFailed("Give 1 to 5 stars.", field="stars")
    if order.status not in (*HANDED, S.COMPLETED):
        raise OrderStateError("An order can be rated once you have it.")
    if db.scalar(select(OrderReview.id).where(OrderReview.order_id == order.id)) is not None:
        raise AlreadyRated("You have already rated this order.")
    review = OrderReview(order_id=order.id, user_id=order.user_id, miniapp_id=order.miniapp_id,
                         merchant_id=order.merchant_id, stars=stars, text=_text(text))
    db.add(review)
    db.flush()
    feed.rated(db, order, stars=stars)
    return review


def review_of(db: Session, order: Order) -> OrderReview | None:
    return db.scalar(select(OrderReview).where(OrderReview.order_id == order.id))


def complain(db: Session, *, actor: User | None, order_id: str, category: str,
             text: str = "") -> None:
    """The resident complains about a paid order (once per category): scoring's complaints."""
    order = get_for_resident(db, actor=actor, order_id=order_id)
    if category not in COMPLAINT_CATEGORIES:
        raise ValidationFailed("Choose what the complaint is about.", field="category")
    if order.paid_at is None:
        raise OrderStateError("Only an order you paid can be complained about.")
    text = _text(text)
    if db.scalar(select(OrderComplaint.id).where(OrderComplaint.order_id == order.id,
                                                 OrderComplaint.category == category)) is None:
        db.add(OrderComplaint(order_id=order.id, user_id=order.user_id,
                              miniapp_id=order.miniapp_id, merchant_id=order.merchant_id,
                              category=category, text=text))
        db.flush()
    feed.complained(db, order, category=category)
