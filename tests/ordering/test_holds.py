"""Holds: a slot place and stock taken together or not at all, confirmed once, given back on
release and on expiry, refused for closed, past, full and sold-out choices."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.ordering.conftest import NOON, NOW
from townsquare import ordering
from townsquare.core.database import Database
from townsquare.core.errors import ValidationFailed
from townsquare.ordering.catalog import service as catalog
from townsquare.ordering.catalog.models import Stock
from townsquare.ordering.slots import rules
from townsquare.ordering.slots.models import HoldStatus, SlotLoad

LATER = NOW + timedelta(minutes=15)


def _hold(db, shop, key="k1", quantity=1, start=NOON, kind="pickup"):
    store = ordering.store_by_public_id(db, shop.store)
    return ordering.hold(db, store=store, kind=kind, slot_start=start,
                         sku_quantities={shop.sku_row: quantity}, hold_key=key,
                         expires_at=LATER)


def _stock(db, shop):
    row = db.scalar(select(Stock).where(Stock.sku_id == shop.sku_row))
    return row.quantity, row.held


def _load(db):
    row = db.scalar(select(SlotLoad))
    return (row.orders, row.confirmed) if row else (0, 0)


def test_a_hold_takes_a_place_and_stock_and_confirm_keeps_them(database, shop):
    with database.unit_of_work() as db:
        held = _hold(db, shop, quantity=3)
        assert held.status is HoldStatus.HELD
        assert _stock(db, shop) == (7, 3) and _load(db) == (1, 0)
    with database.unit_of_work() as db:
        held = ordering.confirm(db, held)
        ordering.confirm(db, held)  # twice is once
        assert _stock(db, shop) == (7, 0) and _load(db) == (1, 1)
        assert ordering.expire_due(db, now=LATER + timedelta(hours=1)) == 0  # paid: kept


def test_the_same_key_replays_and_a_different_content_is_refused(database, shop):
    with database.unit_of_work() as db:
        first = _hold(db, shop, quantity=2)
        assert _hold(db, shop, quantity=2).id == first.id
        with pytest.raises(ordering.HoldMismatch):
            _hold(db, shop, quantity=3)
        assert _stock(db, shop) == (8, 2)


def test_release_and_expiry_give_everything_back_once(database, shop):
    with database.unit_of_work() as db:
        a, b = _hold(db, shop, "a", 4), _hold(db, shop, "b", 5)
        assert ordering.release(db, a) is True
        assert ordering.release(db, a) is False
        assert _stock(db, shop) == (5, 5) and _load(db) == (1, 0)
        assert ordering.expire_due(db, now=LATER - timedelta(seconds=1)) == 0
        assert ordering.expire_due(db, now=LATER) == 1
        assert b.status is HoldStatus.EXPIRED
        assert _stock(db, shop) == (10, 0) and _load(db) == (0, 0)
        with pytest.raises(ordering.HoldGone):
            ordering.confirm(db, b)  # paid too late: checkout must refund


def test_cancelling_a_paid_hold_gives_the_stock_back(database, shop):
    with database.unit_of_work() as db:
        held = ordering.confirm(db, _hold(db, shop, quantity=2))
        assert ordering.release(db, held) is True
        assert _stock(db, shop) == (10, 0) and _load(db) == (0, 0)


def test_refusals_change_nothing(database, shop):
    with database.unit_of_work() as db:
        with pytest.raises(ordering.OutOfStock):
            _hold(db, shop, "big", quantity=11)
        with pytest.raises(ordering.SlotNotOffered):  # past
            _hold(db, shop, "past", start=NOW - timedelta(minutes=15))
        with pytest.raises(ordering.SlotNotOffered):  # inside the 30-minute lead time
            _hold(db, shop, "soon", start=NOW + timedelta(minutes=15))
        with pytest.raises(ordering.SlotNotOffered):  # not on the 15-minute grid
            _hold(db, shop, "odd", start=NOON + timedelta(minutes=7))
        with pytest.raises(ordering.SlotNotOffered):  # the store opens at 08:00
            _hold(db, shop, "night", start=NOON + timedelta(hours=12))
        with pytest.raises(ordering.SlotNotOffered):  # no delivery rule
            _hold(db, shop, "delivery", kind="delivery")
        with pytest.raises(ValidationFailed):
            ordering.hold(db, store=ordering.store_by_public_id(db, shop.store), kind="pickup",
                          slot_start=NOON, sku_quantities={}, hold_key="empty",
                          expires_at=LATER)
        store = ordering.store_by_public_id(db, shop.store)
        store.pickup = False  # the store's pickup switch turns its pickup slots off
        with pytest.raises(ordering.SlotNotOffered):
            _hold(db, shop, "no-pickup")
        assert ordering.offered(db, store=store, kind="pickup") == []
        store.pickup = True
        catalog.set_product_sold_out(db, actor=None, product_id=shop.product, sold_out=True)
        with pytest.raises(ordering.SoldOut):
            _hold(db, shop, "sold-out")
        assert _stock(db, shop) == (10, 0) and _load(db) == (0, 0)
        assert db.scalar(select(ordering.Hold)) is None


def test_a_full_slot_is_refused_and_not_offered(database, shop):
    with database.unit_of_work() as db:
        store = ordering.store_by_public_id(db, shop.store)
        rules.set_rule(db, actor=None, store_id=shop.store, kind="pickup", capacity_orders=2)
        _hold(db, shop, "a"), _hold(db, shop, "b")
        with pytest.raises(ordering.SlotFull):
            _hold(db, shop, "c")
        starts = [slot.start for slot in ordering.offered(db, store=store, kind="pickup")]
        assert NOON not in starts and NOON + timedelta(minutes=15) in starts
        assert starts[0] == NOW + timedelta(minutes=30)  # the lead time
        assert _stock(db, shop) == (8, 2)


def test_preparation_minutes_limit_a_slot(database, shop):
    with database.unit_of_work() as db:
        store = ordering.store_by_public_id(db, shop.store)
        product = catalog.get_product(db, actor=None, product_id=shop.product)
        product.prep_minutes = 4
        rules.set_rule(db, actor=None, store_id=shop.store, kind="pickup", capacity_prep=10)
        _hold(db, shop, "a", quantity=2)  # 8 of 10 minutes
        with pytest.raises(ordering.SlotFull):
            _hold(db, shop, "b", quantity=1)
        slots = ordering.offered(db, store=store, kind="pickup", prep=4)
        assert NOON not in [s.start for s in slots]
        assert NOON in [s.start for s in ordering.offered(db, store=store, kind="pickup",
                                                          prep=2)]


def test_the_expiry_job_releases_in_batches_until_none_are_due(database, shop):
    from townsquare.core.clock import clock
    from townsquare.ordering.slots import jobs

    with database.unit_of_work() as db:
        for i in range(5):
            _hold(db, shop, f"k{i}")
    clock.freeze(LATER)
    assert jobs.expire_holds(database, batch=2) == 5
    assert jobs.expire_holds(database, batch=2) == 0
    with database.unit_of_work() as db:
        assert _stock(db, shop) == (10, 0) and _load(db) == (0, 0)


def test_community_pickup_slots_belong_to_a_point(database, shop):
    from townsquare.ordering.stores import service as stores

    with database.unit_of_work() as db:
        point = stores.add_point(db, actor=shop.owner, store_id=shop.store, name="幸福小区东门",
                                 address="幸福路 9 号", lat=30.51, lng=114.41)
        with pytest.raises(ValidationFailed):
            rules.set_rule(db, actor=shop.owner, store_id=shop.store, kind="community")
        rules.set_rule(db, actor=shop.owner, store_id=shop.store, kind="community",
                       point_id=point.public_id, slot_minutes=120, cutoff_time=22 * 60,
                       cutoff_days=1, days_ahead=1, window_start=16 * 60, window_end=20 * 60)
        store = ordering.store_by_public_id(db, shop.store)
        slots = ordering.offered(db, store=store, kind="community", point=point)
        tomorrow_4pm = NOW + timedelta(days=1, hours=6)  # Tuesday 16:00 in Shanghai
        assert [s.start for s in slots] == [tomorrow_4pm, tomorrow_4pm + timedelta(hours=2)]
        assert ordering.offered(db, store=store, kind="community") == []  # no point: none
        held = ordering.hold(db, store=store, kind="community", point=point,
                             slot_start=tomorrow_4pm, sku_quantities={shop.sku_row: 1},
                             hold_key="group-buy", expires_at=LATER)
        assert held.slot_start == tomorrow_4pm


def test_racing_holds_on_either_database_take_exactly_the_places(database, shop):
    """Threads on SQLite (writers one at a time) and PostgreSQL alike: 30 buyers, 5 places."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    with database.unit_of_work() as db:
        rules.set_rule(db, actor=None, store_id=shop.store, kind="pickup", capacity_orders=5)
    if database.is_sqlite:  # 30 writers in a row: on a loaded machine the last wait past 5 s
        database = Database(database.url, lock_timeout_ms=30_000)
    barrier = threading.Barrier(6)

    def one(i: int) -> bool:
        if i < 6:
            barrier.wait()
        try:
            with database.unit_of_work() as db:
                _hold(db, shop, f"buyer-{i}")
            return True
        except ordering.SlotFull:
            return False

    with ThreadPoolExecutor(6) as pool:
        assert list(pool.map(one, range(30))).count(True) == 5
    with database.unit_of_work() as db:
        assert _stock(db, shop) == (5, 5) and _load(db) == (5, 0)
