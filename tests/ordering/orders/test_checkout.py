"""Checkout refusals: each bad input gets its own clear error and changes nothing (no order, no
trade, no hold, the cart as it was, stock and places untouched); a retried checkout with the
same idempotency key answers the same order; quotes show problems instead of raising."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.ordering.conftest import NOON, NOW
from tests.ordering.orders import world as w
from townsquare.core.clock import clock
from townsquare.ordering import orders
from townsquare.ordering.catalog import service as catalog
from townsquare.ordering.orders.checkout import DeliveryAddress
from townsquare.ordering.slots.models import Hold
from townsquare.payments.trades.models import Trade


@pytest.fixture
def world(database, settings, shop, make_user):
    return w.build(database, settings, shop, make_user)


def _counts(db, world):
    return (db.scalar(select(func.count()).select_from(orders.Order)),
            db.scalar(select(func.count()).select_from(Trade)),
            db.scalar(select(func.count()).select_from(Hold)),
            w.stock_left(db, world), w.places_left(db, world),
            [(x.sku_id, x.quantity) for x in orders.view_cart(
                db, actor=world.resident, miniapp_id=world.miniapp).lines])


def _refused(database, world, error, code, **kwargs):
    kwargs.setdefault("quantity", 0)
    with database.unit_of_work() as db:
        before = _counts(db, world)
    with database.unit_of_work() as db, pytest.raises(error) as refused:
        w.place(db, world, world.resident, **kwargs)
    assert refused.value.code == code
    with database.unit_of_work() as db:
        assert _counts(db, world) == before
    return refused.value


def test_a_tampered_price_is_refused(database, world):
    with database.unit_of_work() as db:
        w.fill(db, world, world.resident, 2)
    error = _refused(database, world, orders.PriceChanged, "price_changed", expected=1)
    assert error.status == 409 and error.params["amount"] == "¥8.00"


def test_a_price_that_changed_since_the_quote_is_refused(database, world):
    with database.unit_of_work() as db:
        w.fill(db, world, world.resident, 2)
        quoted = orders.quote(db, actor=world.resident, miniapp_id=world.miniapp,
                              kind="pickup", slot_start=NOON).total_fen
        catalog.update_sku(db, actor=None, sku_id=world.shop.sku, spec="约1斤", price_fen=400,
                           sold_out=False)
    _refused(database, world, orders.PriceChanged, "price_changed", expected=quoted)


@pytest.mark.parametrize("slot", [NOW - timedelta(hours=1), NOW + timedelta(minutes=15),
                                  NOON + timedelta(minutes=7), NOW + timedelta(hours=13),
                                  NOW + timedelta(days=5)],
                         ids=["past", "inside-lead-time", "off-grid", "after-closing",
                              "too-far-ahead"])
def test_a_closed_or_past_slot_is_refused(database, world, slot):
    with database.unit_of_work() as db:
        w.fill(db, world, world.resident, 2)
        quote = orders.quote(db, actor=world.resident, miniapp_id=world.miniapp,
                             kind="pickup", slot_start=slot)
        assert quote.codes == ["slot_not_offered"] and quote.problems
    _refused(database, world, orders.SlotNotOffered, "slot_not_offered", slot=slot)


def test_a_sold_out_sku_is_refused(database, world):
    with database.unit_of_work() as db:
        w.fill(db, world, world.resident, 2)
        catalog.update_sku(db, actor=None, sku_id=world.shop.sku, spec="约1斤", price_fen=350,
                           sold_out=True)
    error = _refused(database, world, orders.SoldOut, "sold_out")
    assert "本地小白菜" in error.params["name"]


def test_more_than_the_stock_is_refused(database, world):
    with database.unit_of_work() as db:
        w.fill(db, world, world.resident, 11)
    _refused(database, world, orders.OutOfStock, "out_of_stock")


def test_an_address_outside_every_zone_is_refused(database, world):
    far = DeliveryAddress("王芳", "13800000000", "很远的地方", *w.FAR)
    with database.unit_of_work() as db:
        w.fill(db, world, world.resident, 6)
        quote = orders.quote(db, actor=world.resident, miniapp_id=world.miniapp,
                             kind="delivery", address=far)
        assert quote.codes == ["outside_zones"]
    _refused(database, world, orders.OutsideZones, "outside_zones", kind="delivery",
             address=far, slot=None)


def test_an_empty_cart_is_refused(database, world):
    error = _refused(database, world, orders.EmptyCart, "empty_cart")
    assert error.status == 422


def test_below_the_zones_minimum_is_refused(database, world):
    home = DeliveryAddress("王芳", "13800000000", "光谷大道 2 号", *w.HOME)
    with database.unit_of_work() as db:
        w.fill(db, world, world.resident, 2)  # ¥7 of items, the zone wants ¥20
    _refused(database, world, orders.BelowMinimum, "below_minimum", kind="delivery",
             address=home, slot=None)


def test_a_kind_the_shop_does_not_offer_is_refused(database, world):
    with database.unit_of_work() as db:
        w.fill(db, world, world.resident, 2)
    _refused(database, world, orders.KindNotOffered, "kind_not_offered", kind="dine_in")
    _refused(database, world, orders.KindNotOffered, "kind_not_offered", kind="takeaway")


def test_the_same_key_answers_the_same_order(database, settings, world):
    with database.unit_of_work() as db:
        first = w.place(db, world, world.resident, key="same", settings=settings)
        first_id, trade_no = first.public_id, first.trade_no
    with database.unit_of_work() as db:  # the cart is empty now; a retry still answers it
        again = w.place(db, world, world.resident, key="same", quantity=0, expected=800)
        assert (again.public_id, again.trade_no) == (first_id, trade_no)
        assert db.scalar(select(func.count()).select_from(orders.Order)) == 1
        assert w.stock_left(db, world) == (8, 2)
    with database.unit_of_work() as db:  # another resident's same key is their own
        other = w.place(db, world, world.other, key="same", settings=settings)
        assert other.public_id != first_id


def test_a_full_slot_is_refused_and_not_offered(database, settings, world, make_user):
    from townsquare.ordering.slots import rules

    with database.unit_of_work() as db:
        rules.set_rule(db, actor=None, store_id=world.shop.store, kind="pickup",
                       capacity_orders=1, lead_minutes=30)
    w.paid_order(database, settings, world, world.other)
    with database.unit_of_work() as db:
        w.fill(db, world, world.resident, 1)
        assert orders.quote(db, actor=world.resident, miniapp_id=world.miniapp,
                            kind="pickup", slot_start=NOON).codes == ["slot_full"]
    _refused(database, world, orders.SlotFull, "slot_full")


def test_quote_lists_every_problem_without_raising(database, world):
    with database.unit_of_work() as db:
        quote = orders.quote(db, actor=world.resident, miniapp_id=world.miniapp,
                             kind="dine_in", slot_start=NOW)
        assert "empty_cart" in quote.codes and "kind_not_offered" in quote.codes
        assert quote.total_fen == 0


def test_a_checkout_after_the_slot_passed_is_refused(database, world):
    with database.unit_of_work() as db:
        w.fill(db, world, world.resident, 2)
    clock.freeze(NOON - timedelta(minutes=10))  # inside the 30-minute lead time now
    _refused(database, world, orders.SlotNotOffered, "slot_not_offered")
