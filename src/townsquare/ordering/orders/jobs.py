"""Periodic work of orders, each order in its own unit of work (as `slots/jobs.py`): paid orders
the merchant did not accept in time are cancelled and refunded; orders picked up or delivered
two hours ago are completed. Several processes may run them at once: every transition is
conditional, so none happens twice. The serving process runs them from a thread every
`TOWNSQUARE_ORDERING_ORDER_JOBS_INTERVAL_MS`; `townsquare ordering order-jobs` runs them once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta

import structlog
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session

from townsquare.core.clock import clock
from townsquare.core.database import Database
from townsquare.core.errors import TownsquareError
from townsquare.ordering.orders import service as orders
from townsquare.ordering.orders.errors import OrderStateError
from townsquare.ordering.orders.models import Order, OrderStatus

log = structlog.get_logger(__name__)
BATCH = 200
COMPLETE_AFTER = timedelta(hours=2)
S = OrderStatus


def not_accepted(db: Session, *, now: datetime, limit: int = BATCH) -> list[int]:
    return list(db.scalars(select(Order.id).where(Order.status == S.PAID,
                                                  Order.accept_by <= now)
                           .order_by(Order.accept_by, Order.id).limit(limit)))


def handed_long_ago(db: Session, *, now: datetime, limit: int = BATCH) -> list[int]:
    return list(db.scalars(select(Order.id).where(
        Order.status.in_([S.PICKED_UP, S.DELIVERED]), Order.handed_at <= now - COMPLETE_AFTER)
        .order_by(Order.handed_at, Order.id).limit(limit)))


def cancel_one(db: Session, order_id: int) -> bool:
    order = db.get_one(Order, order_id)
    try:
        orders.cancel_paid(db, order, from_=[S.PAID], by="system", reason="not_accepted",
                           actor=None)
    except OrderStateError:  # accepted (or cancelled) meanwhile
        return False
    return True


def complete_one(db: Session, order_id: int) -> bool:
    return orders.complete(db, db.get_one(Order, order_id))


def _each(database: Database, find: Callable[..., list[int]],
          act: Callable[[Session, int], bool]) -> int:
    """Act on what `find` finds, one unit of work each, until a batch is short. An order
    refused now (its refund: a frozen trade, the merchant's balance) is logged, left for the
    next run and passed over, so it does not hold up the others."""
    done = 0
    passed: set[int] = set()
    while True:
        with database.unit_of_work(read_only=True) as db:
            found = [i for i in find(db, now=clock.now(), limit=BATCH + len(passed))
                     if i not in passed][:BATCH]
        for order_id in found:
            try:
                with database.unit_of_work() as db:
                    done += act(db, order_id)
            except TownsquareError:
                log.warning("ordering.order_job.refused", order_id=order_id, exc_info=True)
                passed.add(order_id)
        if len(found) < BATCH:
            return done


def cancel_not_accepted(database: Database) -> int:
    """Cancel and refund every paid order whose time to be accepted is over."""
    return _each(database, not_accepted, cancel_one)


def complete_handed(database: Database) -> int:
    """Complete the orders handed over more than two hours ago."""
    return _each(database, handed_long_ago, complete_one)


def run(database: Database) -> dict[str, int]:
    return {"cancelled": cancel_not_accepted(database), "completed": complete_handed(database)}


class Runner:
    def __init__(self, app: FastAPI) -> None:
        self.database: Database = app.state.database
        self.interval = app.state.settings.ordering_order_jobs_interval_ms / 1000
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="ordering-order-jobs",
                                       daemon=True)

    def _run(self) -> None:
        while not self.stopping.wait(self.interval):
            try:
                run(self.database)
            except Exception:  # noqa: BLE001 — a database outage must not end the thread
                log.warning("ordering.order_jobs.failed", exc_info=True)


def start(app: FastAPI) -> None:
    if app.state.settings.ordering_order_jobs_interval_ms <= 0:
        return
    runner = app.state.ordering_order_jobs = Runner(app)
    runner.thread.start()


def stop(app: FastAPI) -> None:
    runner = getattr(app.state, "ordering_order_jobs", None)
    if runner is not None:
        runner.stopping.set()
        runner.thread.join(timeout=10)
