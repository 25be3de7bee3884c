"""Under real concurrency on PostgreSQL: many dispatchers, requests and webhooks racing for one
delivery never book two couriers, and the delivery ends delivered exactly once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from tests.delivery.conftest import DROPOFF, PICKUP, book, request
from townsquare.core.clock import clock
from townsquare.delivery import service, webhooks
from townsquare.delivery.models import AttemptState, Delivery, DeliveryEvent
from townsquare.delivery.status import DeliveryStatus as S

pytestmark = pytest.mark.postgres_only
THREADS = 12


def test_racing_dispatchers_book_one_courier(database, settings, shop, fleet):
    for courier in fleet.couriers.values():
        courier.slow = 0.05  # widen the window between quote and create
    dlv = request(database, shop)
    barrier = threading.Barrier(THREADS)

    def one(_: int) -> str:
        barrier.wait()
        return book(database, fleet, dlv, settings).status

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(one, range(THREADS)))
    assert results.count("created") >= 1
    assert set(results) <= {"created", "busy"}
    assert fleet.total_creates() == 1
    with database.unit_of_work() as db:
        found = service.by_public_id(db, dlv)
        assert [a.state for a in found.attempts] == [AttemptState.ACTIVE]


def test_racing_requests_with_one_key_make_one_delivery(database, settings, shop, fleet):
    barrier = threading.Barrier(THREADS)

    def one(_: int) -> str:
        barrier.wait()
        with database.unit_of_work() as db:
            return service.request(
                db, actor=None, merchant=shop.merchant, source_kind="direct",
                source_ref="ord_same", pickup=PICKUP, dropoff=DROPOFF, value_fen=100,
                items=[], pickup_ready_at=clock.now(), idempotency_key="same",
                settings=settings).public_id

    with ThreadPoolExecutor(THREADS) as pool:
        ids = set(pool.map(one, range(THREADS)))
    assert len(ids) == 1
    with database.unit_of_work() as db:
        assert db.scalar(select(func.count()).select_from(Delivery)) == 1


def test_failover_racing_webhooks_and_dispatchers(database, settings, shop, fleet):
    """Beta cancels after assignment (its webhooks sent many times at once) while dispatchers
    race to re-book: exactly one more courier (alpha), and one delivered."""
    dlv = request(database, shop)
    book(database, fleet, dlv, settings)
    beta, alpha = fleet.couriers["beta"], fleet.couriers["alpha"]
    hooks = [beta.webhook(dlv, "assigned", event_id="b1"),
             beta.webhook(dlv, "cancelled", event_id="b2")]

    def deliver(payload, provider):
        body, headers = payload
        with database.unit_of_work() as db:
            webhooks.receive(db, provider=provider, headers=headers, body=body,
                             adapters=fleet.adapters)

    barrier = threading.Barrier(THREADS)

    def racer(i: int) -> None:
        barrier.wait()
        if i % 3 == 0:
            deliver(hooks[0], "beta")
        deliver(hooks[1], "beta")
        book(database, fleet, dlv, settings)

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(racer, range(THREADS)))
    book(database, fleet, dlv, settings)
    assert beta.creates == 1 and alpha.creates == 1 and fleet.total_creates() == 2
    delivered = [alpha.webhook(dlv, s, event_id=f"a{s}") for s in
                 ("assigned", "picked_up", "delivered")]
    barrier2 = threading.Barrier(THREADS)

    def finisher(i: int) -> None:
        barrier2.wait()
        for payload in delivered[: 1 + i % 3]:
            deliver(payload, "alpha")

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(finisher, range(THREADS)))
    with database.unit_of_work() as db:
        found = service.by_public_id(db, dlv)
        assert found.status is S.DELIVERED and found.provider == "alpha"
        assert db.scalar(select(func.count()).select_from(DeliveryEvent).where(
            DeliveryEvent.status == S.DELIVERED, DeliveryEvent.kind == "status")) == 1
