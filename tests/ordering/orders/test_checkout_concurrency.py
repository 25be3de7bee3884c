"""Checkouts under real concurrency on PostgreSQL, paid through the real pay path (the cashier's
`pay_trade`: wallet and PIN): 100 buyers racing for a slot with 10 places, or for an SKU with 10
in stock, end with exactly 10 paid orders, the slot's and the stock's counters equal to them and
never negative; checkouts left unpaid give their places back when their holds expire, and the
next buyers get them."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import PASSWORD
from tests.ordering.conftest import NOON
from tests.ordering.orders import world as w
from townsquare.accounts import service as accounts
from townsquare.accounts.models import User
from townsquare.core.clock import clock
from townsquare.ordering import orders
from townsquare.ordering.catalog import service as catalog
from townsquare.ordering.catalog.models import Stock
from townsquare.ordering.slots import jobs as hold_jobs
from townsquare.ordering.slots import rules
from townsquare.ordering.slots.models import SlotLoad
from townsquare.payments.trades import jobs as trade_jobs

pytestmark = pytest.mark.postgres_only
BUYERS = 100
THREADS = 12  # below the pool's 15 connections
S = orders.OrderStatus


@pytest.fixture
def world(database, settings, shop, make_user):
    return w.build(database, settings, shop, make_user)


def _buyers(database, n, prefix):
    made = []
    with database.unit_of_work() as db:
        for i in range(n):
            made.append(accounts.create_user(db, actor=None, username=f"{prefix}{i:03d}",
                                             password=PASSWORD, display_name="买家"))
    for user in made:
        w.fund(database, user, 10_000)
    return made


def _set(database, world, *, places, stock):
    with database.unit_of_work() as db:
        rules.set_rule(db, actor=None, store_id=world.shop.store, kind="pickup",
                       capacity_orders=places, lead_minutes=30)
        catalog.set_stock(db, actor=None, sku_id=world.shop.sku, store_id=world.shop.store,
                          quantity=stock)


def _race(database, settings, world, buyers, *, pay: bool):
    """Each buyer fills the cart, checks out for NOON and (if `pay`) pays at once."""
    barrier = threading.Barrier(THREADS)
    refused: list[str] = []

    def one(i: int) -> str | None:
        user = buyers[i]
        if i < THREADS:
            barrier.wait()
        try:
            with database.unit_of_work() as db:
                order = w.place(db, world, db.get_one(User, user.id), key="race",
                                quantity=1, expected=450, settings=settings)
                trade_no, public_id = order.trade_no, order.public_id
        except (orders.SlotFull, orders.OutOfStock, orders.SoldOut) as error:
            refused.append(error.code)
            return None
        if pay:
            w.pay(database, settings, user, trade_no)
        return public_id

    with ThreadPoolExecutor(THREADS) as pool:
        placed = [p for p in pool.map(one, range(len(buyers))) if p]
    return placed, refused


def _outcome(database, world):
    with database.unit_of_work() as db:
        stock = db.scalars(select(Stock).where(Stock.sku_id == world.shop.sku_row)
                           .execution_options(populate_existing=True)).one()
        load = db.scalars(select(SlotLoad).where(SlotLoad.slot_start == NOON)
                          .execution_options(populate_existing=True)).one()
        paid = db.scalar(select(func.count()).select_from(orders.Order)
                         .where(orders.Order.status == S.PAID))
        numbers = set(db.scalars(select(orders.Order.pickup_number)
                                 .where(orders.Order.status == S.PAID)))
        return stock.quantity, stock.held, load.orders, load.confirmed, paid, len(numbers)


def test_a_slot_with_ten_places_sells_exactly_ten_paid_orders(database, settings, world):
    _set(database, world, places=10, stock=1_000)
    buyers = _buyers(database, BUYERS, "slot")
    placed, refused = _race(database, settings, world, buyers, pay=True)
    assert len(placed) == 10 and refused == ["slot_full"] * 90
    assert _outcome(database, world) == (990, 0, 10, 10, 10, 10)


def test_an_sku_with_ten_in_stock_sells_exactly_ten_paid_orders(database, settings, world):
    _set(database, world, places=None, stock=10)
    buyers = _buyers(database, BUYERS, "sku")
    placed, refused = _race(database, settings, world, buyers, pay=True)
    # seen at the hold (out of stock) or, once the last one went, already on the menu
    assert len(placed) == 10 and len(refused) == 90
    assert set(refused) <= {"out_of_stock", "sold_out"}
    assert _outcome(database, world) == (0, 0, 10, 10, 10, 10)


def test_unpaid_places_come_back_when_their_holds_expire(database, settings, world):
    _set(database, world, places=10, stock=1_000)
    first = _buyers(database, 30, "first")
    placed, _ = _race(database, settings, world, first, pay=False)
    assert len(placed) == 10
    assert _outcome(database, world) == (990, 10, 10, 0, 0, 0)
    clock.freeze(clock.now() + timedelta(minutes=15))
    assert hold_jobs.expire_holds(database) == 10
    assert _outcome(database, world) == (1_000, 0, 0, 0, 0, 0)
    assert trade_jobs.run_due(database, settings).closed == 10  # the orders are cancelled
    clock.freeze(clock.now() - timedelta(minutes=14))  # back before NOON's lead time
    second = _buyers(database, 30, "second")
    placed, _ = _race(database, settings, world, second, pay=True)
    assert len(placed) == 10
    assert _outcome(database, world) == (990, 0, 10, 10, 10, 10)
    with database.unit_of_work() as db:
        cancelled = db.scalar(select(func.count()).select_from(orders.Order)
                              .where(orders.Order.status == S.CANCELLED))
        assert cancelled == 10


def test_one_idempotency_key_racing_makes_one_order(database, settings, world):
    with database.unit_of_work() as db:
        w.fill(db, world, world.resident, 2)
    barrier = threading.Barrier(THREADS)

    def one(_: int) -> str:
        barrier.wait()
        with database.unit_of_work() as db:
            return orders.place(db, actor=db.get_one(User, world.resident.id),
                                miniapp_id=world.miniapp, kind="pickup", slot_start=NOON,
                                point_id=None, address=None, note="", expected_total_fen=800,
                                idempotency_key="double-click", settings=settings).public_id

    with ThreadPoolExecutor(THREADS) as pool:
        answers = set(pool.map(one, range(THREADS)))
    assert len(answers) == 1
    with database.unit_of_work() as db:
        assert db.scalar(select(func.count()).select_from(orders.Order)) == 1
        assert w.stock_left(db, world) == (8, 2)
