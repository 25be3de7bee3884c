"""Holds under real concurrency on PostgreSQL: 100 checkouts racing for a slot with 10 places,
or for an SKU with 10 in stock, end with exactly 10 holds and no negative stock; one request id
holds once; expired holds give their places and stock back to the next buyers."""

from __future__ import annotations

import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.ordering.conftest import NOON, NOW
from townsquare import ordering
from townsquare.core.clock import clock
from townsquare.ordering.catalog import service as catalog
from townsquare.ordering.catalog.models import Stock
from townsquare.ordering.slots import jobs, rules
from townsquare.ordering.slots.models import Hold, HoldStatus, SlotLoad

pytestmark = pytest.mark.postgres_only
BUYERS = 100
THREADS = 12  # below the pool's 15 connections: every thread holds one at once
EXPIRES = NOW + timedelta(minutes=15)


def _race(database, shop, *, key=lambda i: f"buyer-{i}", quantity=lambda i: 1):
    barrier = threading.Barrier(THREADS)

    def one(i: int) -> bool:
        if i < THREADS:
            barrier.wait()
        try:
            with database.unit_of_work() as db:
                ordering.hold(db, store=ordering.store_by_public_id(db, shop.store),
                              kind="pickup", slot_start=NOON,
                              sku_quantities={shop.sku_row: quantity(i)}, hold_key=key(i),
                              expires_at=EXPIRES)
            return True
        except (ordering.SlotFull, ordering.OutOfStock):
            return False

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(one, range(BUYERS)))


def _totals(database, shop):
    with database.unit_of_work() as db:
        stock = db.scalar(select(Stock).where(Stock.sku_id == shop.sku_row))
        load = db.scalar(select(SlotLoad))
        held = db.scalar(select(func.count()).select_from(Hold)
                         .where(Hold.status == HoldStatus.HELD))
        return stock.quantity, stock.held, load.orders, held


def _set(database, shop, *, places, stock):
    with database.unit_of_work() as db:
        rules.set_rule(db, actor=None, store_id=shop.store, kind="pickup",
                       capacity_orders=places)
        catalog.set_stock(db, actor=None, sku_id=shop.sku, store_id=shop.store, quantity=stock)


def test_a_slot_with_ten_places_takes_exactly_ten_of_a_hundred(database, shop):
    _set(database, shop, places=10, stock=1_000)
    assert _race(database, shop).count(True) == 10
    assert _totals(database, shop) == (990, 10, 10, 10)


def test_an_sku_with_ten_in_stock_is_never_oversold(database, shop):
    _set(database, shop, places=None, stock=10)
    assert _race(database, shop).count(True) == 10
    assert _totals(database, shop) == (0, 10, 10, 10)


def test_mixed_quantities_never_take_stock_below_zero(database, shop):
    _set(database, shop, places=None, stock=10)
    results = _race(database, shop, quantity=lambda i: 1 + i % 3)
    taken = sum(1 + i % 3 for i, won in enumerate(results) if won)
    quantity, held, _, _ = _totals(database, shop)
    assert taken <= 10 and quantity == 10 - taken >= 0 and held == taken


def test_one_request_id_holds_once(database, shop):
    assert all(_race(database, shop, key=lambda i: "the-same-checkout"))
    assert _totals(database, shop) == (9, 1, 1, 1)


def test_expired_holds_come_back_to_the_next_buyers(database, shop):
    _set(database, shop, places=10, stock=10)
    assert _race(database, shop).count(True) == 10
    with database.unit_of_work() as db:
        assert ordering.expire_due(db, now=EXPIRES) == 10
    assert _totals(database, shop) == (10, 0, 0, 0)
    assert _race(database, shop, key=lambda i: f"again-{i}").count(True) == 10


def test_confirm_racing_expiry_settles_each_hold_once(database, shop):
    """Payments arriving while expiry jobs run (each hold its own transaction): each hold ends
    confirmed or expired, never both, no deadlock, and the counters agree with the outcome."""
    _set(database, shop, places=10, stock=10)
    assert _race(database, shop).count(True) == 10
    with database.unit_of_work() as db:
        keys = list(db.scalars(select(Hold.hold_key)))
    clock.freeze(EXPIRES)
    barrier = threading.Barrier(THREADS)

    def pay(key: str) -> None:
        with database.unit_of_work() as db:
            found = db.scalar(select(Hold).where(Hold.hold_key == key))
            with contextlib.suppress(ordering.HoldGone):
                ordering.confirm(db, found)

    def one(i: int) -> None:
        barrier.wait()
        if i % 2:  # several expiry jobs at once
            jobs.expire_holds(database, batch=3)
        else:
            for key in keys[i // 2::THREADS // 2]:
                pay(key)

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(one, range(THREADS)))
    with database.unit_of_work() as db:
        statuses = list(db.scalars(select(Hold.status)))
        confirmed = statuses.count(HoldStatus.CONFIRMED)
        assert confirmed + statuses.count(HoldStatus.EXPIRED) == 10
        load = db.scalar(select(SlotLoad))
        stock = db.scalar(select(Stock).where(Stock.sku_id == shop.sku_row))
        assert (load.orders, load.confirmed) == (confirmed, confirmed)
        assert (stock.quantity, stock.held) == (10 - confirmed, 0)
