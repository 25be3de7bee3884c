"""Orders delivered by the delivery capacity (docs/delivery.md, "Ordering"): ordering is above
delivery, so this module calls delivery's door and listens to its hook.

- A delivery order that is accepted asks for a delivery (`delivery.request`, idempotent by the
  order): from the store to the order's address snapshot, for its resident, worth its total,
  ready for pickup 20 minutes before its slot and promised by the slot's start + 30 minutes
  (or from now, if that is later). Booking follows when the transaction commits.
- An order cancelled or rejected after that cancels its delivery (while it still can be).
- The delivery's news moves the order: picked up → out for delivery (through ready, if the
  kitchen had not said so), delivered → delivered. Each move is the order's own conditional
  transition, so a repeat changes nothing.
- Scoring hears of it too: a delivered delivery (on time by its promise, or late) and each
  courier incident are behaviour events (`feed.delivered`, `feed.delivery_incident`).

Connected by the composition roots (`townsquare.app.connect_hooks`)."""

from __future__ import annotations

from datetime import timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare import delivery
from townsquare.core.clock import clock
from townsquare.core.errors import TownsquareError
from townsquare.ordering.orders import feed, service
from townsquare.ordering.orders.errors import OrderStateError
from townsquare.ordering.orders.models import Order, OrderStatus
from townsquare.ordering.orders.moves import OrderMoved, order_moved
from townsquare.ordering.slots.models import Kind
from townsquare.ordering.stores.models import Store

log = structlog.get_logger(__name__)
S = OrderStatus
KEY = "ordering.delivery_link"
READY_BEFORE = timedelta(minutes=20)
PROMISE_AFTER = timedelta(minutes=30)


def delivery_of(db: Session, order: Order) -> delivery.Delivery | None:
    """The order's (latest) delivery, if one was asked for."""
    return delivery.by_source(db, source_kind="order", source_ref=order.public_id,
                              merchant_id=order.merchant_id)


def tracking_path(db: Session, order: Order) -> str | None:
    """Where the resident follows the order's delivery (for the order pages), if it has one."""
    found = delivery_of(db, order)
    return f"/delivery/{found.public_id}" if found is not None else None


def request_for(db: Session, order: Order) -> delivery.Delivery:
    """Ask for the order's delivery (once: the order is the idempotency key)."""
    store = db.get_one(Store, order.store_id)
    address = order.address or {}
    now = clock.now()
    ready = max(now, order.slot_start - READY_BEFORE)
    items = [f"{line.product_name} {line.spec} x{line.quantity}".replace("  ", " ")
             for line in order.lines]
    return delivery.request(
        db, actor=None, merchant=order.merchant_id, source_kind="order",
        source_ref=order.public_id,
        pickup=delivery.Place(name=store.name, phone=store.phone, address=store.address,
                              lat=store.lat, lng=store.lng),
        dropoff=delivery.Place(name=str(address.get("name", "")),
                               phone=str(address.get("phone", "")),
                               address=str(address.get("text", "")),
                               lat=float(address.get("lat", 0.0)),
                               lng=float(address.get("lng", 0.0))),
        value_fen=order.total_fen, items=items, pickup_ready_at=ready,
        promised_by=max(order.slot_start + PROMISE_AFTER, ready + PROMISE_AFTER),
        resident_user_id=order.user_id, idempotency_key=f"order:{order.public_id}")


def on_order_moved(db: Session, moved: OrderMoved) -> None:
    order = moved.order
    if order.kind is not Kind.DELIVERY:
        return
    if moved.status is S.ACCEPTED:
        try:
            request_for(db, order)
        except TownsquareError:  # a bad address snapshot: the merchant delivers by hand
            log.warning("ordering.delivery_request_refused", order=order.public_id,
                        exc_info=True)
    elif moved.status in (S.CANCELLED, S.REJECTED):
        found = delivery_of(db, order)
        if found is None or delivery.is_terminal(found.status):
            return
        try:
            delivery.cancel(delivery_id=found.public_id, actor=None,
                            reason=f"order {moved.status.value}", db=db)
        except TownsquareError:  # picked up already, or the provider refused
            log.warning("ordering.delivery_cancel_refused", order=order.public_id,
                        exc_info=True)


def _order(db: Session, public_id: str) -> Order | None:
    return db.scalar(select(Order).where(Order.public_id == public_id))


def on_delivery_changed(db: Session, change: delivery.DeliveryChanged) -> None:
    if change.source_kind != "order":
        return
    order = _order(db, change.source_ref)
    if order is None or order.merchant_id != change.merchant_id:
        return
    new = change.new
    _record(db, order, change)
    try:
        if new in (delivery.DeliveryStatus.PICKED_UP, delivery.DeliveryStatus.AT_DROPOFF,
                   delivery.DeliveryStatus.DELIVERED):
            if order.status in (S.ACCEPTED, S.PREPARING):
                service.ready(db, actor=None, order_id=order.public_id)
            if order.status is S.READY:
                service.dispatch(db, actor=None, order_id=order.public_id)
        if new is delivery.DeliveryStatus.DELIVERED and order.status is S.OUT_FOR_DELIVERY:
            service.delivered(db, actor=None, order_id=order.public_id)
    except OrderStateError:  # moved meanwhile (by the merchant, or a repeat): nothing to do
        log.info("ordering.delivery_link.skipped", order=order.public_id, delivery=new.value)


def _record(db: Session, order: Order, change: delivery.DeliveryChanged) -> None:
    """Scoring's delivery events (`feed`): delivered on time or late, and courier incidents,
    each recorded once whatever the provider repeats."""
    if change.incident:
        feed.delivery_incident(db, order, delivery_id=change.delivery_id,
                               incident=change.incident, at=change.at)
    if change.new is delivery.DeliveryStatus.DELIVERED:
        found = delivery_of(db, order)
        at = (found.delivered_at if found else None) or change.at
        feed.delivered(db, order, on_time=change.on_time, at=at,
                       promised=found.promised_by if found else None)


def connect() -> None:
    """Called by the composition roots (townsquare.app.connect_hooks)."""
    order_moved.connect(KEY, on_order_moved)
    delivery.delivery_changed.connect(KEY, on_delivery_changed)
