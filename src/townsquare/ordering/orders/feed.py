"""Behaviour events for scoring, observed by the platform as orders move (`events.intake.record`).

Each event's id is derived from the order (and, for a refund, the refund), so a retried
transition or a re-delivered trade notice never counts twice. Events carry the resident's id as
the mini-app knows them (`Order.user_sub`), so scoring's repeat-buyer and rating metrics line up
with what the mini-app itself reports. A paid order and each refund are recorded by payments for
every trade (`payments/trades/behaviour.py`, order_id = the order's id): ordering adds what only
it sees (fulfilment, cancellation, ratings, complaints).

How punctual the shop and its couriers are is recorded as platform-observed events
(`intake.record_platform`, ids `platform:order:{order}:…`; a mini-app cannot send these types):
accepted (late after the shop's accept window, whether by hand or automatically), ready (late
after the slot's start), delivered (late after the time promised to the resident) and each
courier incident of its delivery. The state machine records the first two as the order moves
(`service._move`), the delivery link the others from delivery's hook."""

from __future__ import annotations

from datetime import datetime
from typing import Any

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


def fulfilled(db: Session, order: Order) -> bool:
    """Picked up or delivered: how long from payment to hand-over."""
    start, end = order.paid_at or order.created_at, order.handed_at or clock.now()
    return _record(db, order, EventType.ORDER_FULFILLED, "fulfilled", end,
                   duration_seconds=max(0, int((end - start).total_seconds())))


def cancelled(db: Session, order: Order) -> bool:
    """Cancelled (or rejected) by the user, the merchant or the system."""
    return _record(db, order, EventType.ORDER_CANCELLED, "cancelled", order.cancelled_at,
                   cancelled_by=order.cancelled_by or "system")


def rated(db: Session, order: Order, *, stars: int) -> bool:
    return _record(db, order, EventType.RATING, "rating", rating=stars)


def complained(db: Session, order: Order, *, category: str) -> bool:
    return _record(db, order, EventType.COMPLAINT, f"complaint:{category}",
                   complaint_category=category)


def _platform(db: Session, order: Order, kind: EventType, key: str, at: datetime,
              **measures: Any) -> bool:
    miniapp = db.get_one(MiniApp, order.miniapp_id)
    return intake.record_platform(db, miniapp=miniapp, type=kind, key=key, occurred_at=at,
                                  user_sub=order.user_sub, order_id=order.public_id,
                                  **measures)


def _seconds(later: datetime, earlier: datetime) -> int:
    return int((later - earlier).total_seconds())


def accepted(db: Session, order: Order) -> bool:
    """Accepted (by the merchant, or at once by the shop's auto-accept): how long after payment,
    and whether within the shop's accept window (`Order.accept_by`)."""
    at = order.accepted_at or clock.now()
    start = order.paid_at or order.created_at
    late = order.accept_by is not None and at > order.accept_by
    return _platform(db, order, EventType.ORDER_ACCEPTED, f"order:{order.public_id}:accepted",
                     at, response_seconds=max(0, _seconds(at, start)),
                     resolution="late" if late else "on_time")


def ready(db: Session, order: Order) -> bool:
    """Ready: by the start of its slot or late, and by how many seconds (negative: early)."""
    at = order.ready_at or clock.now()
    off = _seconds(at, order.slot_start)
    return _platform(db, order, EventType.ORDER_READY, f"order:{order.public_id}:ready", at,
                     duration_seconds=off, resolution="late" if off > 0 else "on_time")


def delivered(db: Session, order: Order, *, on_time: bool | None, at: datetime,
              promised: datetime | None = None) -> bool:
    """Its delivery was delivered at `at`: on time by the time `promised` to the resident, or
    late (`on_time` None: nothing was promised)."""
    done = at
    return _platform(db, order, EventType.DELIVERY_DONE, f"order:{order.public_id}:delivered",
                     done, resolution="" if on_time is None else
                     ("on_time" if on_time else "late"),
                     duration_seconds=_seconds(done, promised) if promised else None)


def delivery_incident(db: Session, order: Order, *, delivery_id: str, incident: str,
                      at: datetime) -> bool:
    """A courier gave its delivery up (`provider.status`): one event per delivery and
    incident, whatever the provider repeats."""
    kind = incident.rsplit(".", 1)[-1][:32]
    return _platform(db, order, EventType.DELIVERY_INCIDENT,
                     f"order:{order.public_id}:incident:{delivery_id}:{incident}", at,
                     complaint_category=kind)
