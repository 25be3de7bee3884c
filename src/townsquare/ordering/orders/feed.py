"""Behaviour events for scoring, observed by the platform as orders move (`events.intake.record`).

Each event's id is derived from the order (and, for a refund, the refund), so a retried
transition or a re-delivered trade notice never counts twice. Events carry the resident's id as
the mini-app knows them (`Order.user_sub`), so scoring's repeat-buyer and rating metrics line up
with what the mini-app itself reports."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from townsquare.core.clock import clock
from townsquare.events import intake
from townsquare.events.models import EventType
from townsquare.miniapps.models import MiniApp
from townsquare.ordering.orders.models import Order


def _record(db: Session, order: Order, kind: EventType, suffix: str,
            at: datetime | None = None, **measures: object) -> bool:
    if not order.user_sub:
        return False
    miniapp = db.get_one(MiniApp, order.miniapp_id)
    return intake.record(db, miniapp=miniapp, type=kind,
                         event_id=f"{order.public_id}:{suffix}", occurred_at=at or clock.now(),
                         sub=order.user_sub, order_id=order.public_id, **measures)


def placed(db: Session, order: Order) -> bool:
    """An order paid: scoring's volume (orders, GMV)."""
    return _record(db, order, EventType.ORDER_PLACED, "placed", order.paid_at,
                   amount_fen=order.total_fen)


def fulfilled(db: Session, order: Order) -> bool:
    """Picked up or delivered: how long from payment to hand-over."""
    start, end = order.paid_at or order.created_at, order.handed_at or clock.now()
    return _record(db, order, EventType.ORDER_FULFILLED, "fulfilled", end,
                   duration_seconds=max(0, int((end - start).total_seconds())))


def cancelled(db: Session, order: Order) -> bool:
    """Cancelled (or rejected) by the user, the merchant or the system."""
    return _record(db, order, EventType.ORDER_CANCELLED, "cancelled", order.cancelled_at,
                   cancelled_by=order.cancelled_by or "system")


def refunded(db: Session, order: Order, *, refund_id: int, amount_fen: int) -> bool:
    return _record(db, order, EventType.REFUND, f"refund:{refund_id}", amount_fen=amount_fen)


def rated(db: Session, order: Order, *, stars: int) -> bool:
    return _record(db, order, EventType.RATING, "rating", rating=stars)


def complained(db: Session, order: Order, *, category: str) -> bool:
    return _record(db, order, EventType.COMPLAINT, f"complaint:{category}",
                   complaint_category=category)
