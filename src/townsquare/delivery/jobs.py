"""Periodic work of delivery: book what waits for a provider (a request just committed, a
failover, a booking whose outcome was unknown) and ask providers about open deliveries that
have had no news for a while (a webhook lost on the way). One thread per serving process; the
CLI (`townsquare delivery poll`) does the same once. Several processes may run it: booking is
guarded by the lease on the delivery row, and applying a provider's status is idempotent."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import event, or_, select
from sqlalchemy.orm import Session

from townsquare.core.clock import clock
from townsquare.core.database import Database
from townsquare.core.settings import Settings, get_settings
from townsquare.delivery import dispatch, service
from townsquare.delivery.adapters.base import Adapter, ProviderError
from townsquare.delivery.models import Delivery
from townsquare.delivery.status import TERMINAL, DeliveryStatus

log = structlog.get_logger(__name__)
S = DeliveryStatus
BATCH = 200


@dataclass
class Polled:
    booked: int = 0
    asked: int = 0
    changed: int = 0
    failed: int = 0


def waiting(db: Session, *, limit: int = BATCH) -> list[str]:
    """Deliveries waiting for a provider whose lease (if any) has run out."""
    now = clock.now()
    stmt = (select(Delivery.public_id)
            .where(Delivery.status == S.QUOTED,
                   or_(Delivery.lease_until.is_(None), Delivery.lease_until <= now))
            .order_by(Delivery.id).limit(limit))
    return list(db.scalars(stmt))


def quiet(db: Session, *, after: timedelta, limit: int = BATCH) -> list[tuple[str, str]]:
    """Open deliveries with a third-party provider and no news for `after`: (id, provider)."""
    stmt = (select(Delivery.public_id, Delivery.provider)
            .where(Delivery.status.not_in([*TERMINAL, S.QUOTED]),
                   Delivery.provider.is_not(None), Delivery.provider != "self",
                   Delivery.last_news_at <= clock.now() - after)
            .order_by(Delivery.last_news_at).limit(limit))
    return [(p, str(v)) for p, v in db.execute(stmt)]


def poll(database: Database, *, settings: Settings | None = None,
         adapters: Mapping[str, Adapter] | None = None) -> Polled:
    """Book what waits, then ask providers about quiet deliveries (one unit of work each)."""
    settings = settings or get_settings()
    found = dict(adapters) if adapters is not None else dispatch.available(
        database, settings=settings)
    result = Polled()
    with database.unit_of_work(read_only=True) as db:
        ids = waiting(db)
        stale = quiet(db, after=timedelta(seconds=settings.delivery_poll_after_s))
    for delivery_id in ids:
        outcome = dispatch.book(database, delivery_id, settings=settings, adapters=found)
        result.booked += outcome.status not in ("busy", "unresolved", S.QUOTED.value)
    for delivery_id, provider in stale:
        adapter = found.get(provider)
        if adapter is None:
            continue
        result.asked += 1
        try:
            answer = adapter.get(delivery_id)
        except ProviderError:
            result.failed += 1
            continue
        with database.unit_of_work() as db:
            delivery = service.by_public_id(db, delivery_id, lock=True)
            delivery.last_news_at = clock.now()
            result.changed += service.apply_update(
                db, delivery=delivery, provider=provider, status=answer.status, info=answer,
                via="poll")
    return result


class Worker:
    """The serving process's thread: books kicked deliveries at once, polls every interval."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self.database, self.settings = database, settings
        self.interval = settings.delivery_poll_interval_ms / 1000
        self.stopping = threading.Event()
        self.woken = threading.Event()
        self._lock = threading.Lock()
        self._kicked: list[str] = []
        self.thread = threading.Thread(target=self._run, name="delivery-worker", daemon=True)

    def kick(self, ids: list[str]) -> None:
        with self._lock:
            self._kicked.extend(ids)
        self.woken.set()

    def _run(self) -> None:
        next_poll = 0.0
        while not self.stopping.is_set():
            self.woken.wait(timeout=max(0.05, min(self.interval, 1.0)))
            self.woken.clear()
            if self.stopping.is_set():
                return
            with self._lock:
                ids, self._kicked = list(dict.fromkeys(self._kicked)), []
            try:
                for delivery_id in ids:
                    dispatch.book(self.database, delivery_id, settings=self.settings)
                now = clock.now().timestamp()
                if now >= next_poll:
                    next_poll = now + self.interval
                    poll(self.database, settings=self.settings)
            except Exception:  # noqa: BLE001 — a database or provider outage must not end it
                log.warning("delivery.worker.failed", exc_info=True)


_worker: Worker | None = None


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    ids = session.info.pop(service.KICK, None)
    if ids and service.on_commit_book is not None:
        service.on_commit_book(sorted(ids))


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, previous: Any) -> None:
    if previous.parent is None:
        session.info.pop(service.KICK, None)


def start(app: Any) -> None:
    """Start the worker (a FastAPI app's startup hook)."""
    global _worker
    settings: Settings = app.state.settings
    if settings.delivery_poll_interval_ms <= 0:
        return
    _worker = Worker(app.state.database, settings)
    app.state.delivery_worker = _worker
    service.on_commit_book = _worker.kick
    _worker.thread.start()


def stop(app: Any) -> None:
    global _worker
    worker = getattr(app.state, "delivery_worker", None)
    if worker is not None:
        service.on_commit_book = None
        worker.stopping.set()
        worker.woken.set()
        worker.thread.join(timeout=10)
        _worker = None
