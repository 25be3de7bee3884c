"""Orders follow their trades through payments' hook: paid (confirm, pickup number, deadline,
auto-accept), paid after the hold expired (refunded and cancelled in the same transaction),
timed out or closed unpaid (cancelled, places back), refunded whole from the console
(cancelled); a trade that is no order's is left alone."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.ordering.orders import world as w
from townsquare import ordering
from townsquare.core.clock import clock
from townsquare.events.models import BehaviourEvent, EventType
from townsquare.ordering import orders
from townsquare.ordering.slots.models import Hold, HoldStatus
from townsquare.payments.trades import hooks
from townsquare.payments.trades import jobs as trade_jobs
from townsquare.payments.trades import service as trades
from townsquare.payments.trades.models import TradeStatus

S = orders.OrderStatus


@pytest.fixture
def world(database, settings, shop, make_user):
    return w.build(database, settings, shop, make_user)


def test_the_listener_is_connected():
    assert "ordering.orders" in hooks.trade_changed.connected


def test_payment_confirms_the_hold_and_numbers_the_order(database, settings, world):
    ord_id = w.paid_order(database, settings, world)
    with database.unit_of_work() as db:
        order = w.order(db, ord_id)
        assert order.status is S.PAID and order.pickup_number == "A001"
        assert order.paid_at is not None
        assert order.accept_by == order.paid_at + timedelta(minutes=10)
        assert db.get_one(Hold, order.hold_id).status is HoldStatus.CONFIRMED
        assert w.stock_left(db, world) == (8, 0)  # sold: no longer held
        placed = db.scalars(select(BehaviourEvent).where(
            BehaviourEvent.type == EventType.ORDER_PLACED)).one()
        assert (placed.amount_fen, placed.order_id) == (800, ord_id)
        assert placed.user_sub == order.user_sub and placed.user_sub.startswith("ou_")


def test_a_payment_after_the_hold_expired_is_refunded(database, settings, world):
    with database.unit_of_work() as db:
        placed = w.place(db, world, world.resident, settings=settings)
        ord_id, trade_no = placed.public_id, placed.trade_no
        hold_id = placed.hold_id
    with database.unit_of_work() as db:  # the expiry job ran a little early
        assert ordering.expire(db, hold_id, now=clock.now() + timedelta(minutes=16))
    w.pay(database, settings, world.resident, trade_no)
    with database.unit_of_work() as db:
        order = w.order(db, ord_id)
        assert (order.status, order.cancelled_by, order.cancel_reason) == (
            S.CANCELLED, "system", "hold_expired")
        trade = trades.get(db, trade_no)
        assert trade.refunded_fen == 800 and trade.status is TradeStatus.TRADE_CLOSED
        assert w.balance(db, world.resident) == 100_000
        assert w.stock_left(db, world) == (10, 0) and w.places_left(db, world) == 10
        assert [e.status for e in order.events] == [S.CREATED, S.PAID, S.CANCELLED]
        kinds = {e.type for e in db.scalars(select(BehaviourEvent))}
        assert kinds == {EventType.ORDER_CANCELLED, EventType.REFUND}


def test_an_unpaid_trade_timing_out_cancels_the_order(database, settings, world):
    with database.unit_of_work() as db:
        ord_id = w.place(db, world, world.resident, settings=settings).public_id
    clock.freeze(clock.now() + timedelta(minutes=16))
    assert trade_jobs.run_due(database, settings).closed == 1
    with database.unit_of_work() as db:
        order = w.order(db, ord_id)
        assert (order.status, order.cancelled_by, order.cancel_reason) == (
            S.CANCELLED, "system", "unpaid")
        assert w.stock_left(db, world) == (10, 0)
        assert db.get_one(Hold, order.hold_id).status is HoldStatus.RELEASED


def test_places_come_back_when_the_hold_expires_first(database, settings, world):
    with database.unit_of_work() as db:
        ord_id = w.place(db, world, world.resident, settings=settings).public_id
    clock.freeze(clock.now() + timedelta(minutes=15))
    with database.unit_of_work() as db:
        assert ordering.expire_due(db) == 1
        assert w.stock_left(db, world) == (10, 0)
    assert trade_jobs.run_due(database, settings).closed == 1
    with database.unit_of_work() as db:
        assert w.order(db, ord_id).status is S.CANCELLED


def test_a_whole_refund_from_the_console_cancels_the_order(database, settings, world):
    ord_id = w.paid_order(database, settings, world)
    with database.unit_of_work() as db:
        orders.accept(db, actor=world.shop.owner, order_id=ord_id)
        trade = trades.get(db, w.order(db, ord_id).trade_no)
        trades.refund(db, trade=trade, refund_fen=300, out_request_no="part")
        assert w.order(db, ord_id).status is S.ACCEPTED  # a part refund leaves it standing
        trades.refund(db, trade=trade, refund_fen=500, out_request_no="rest")
    with database.unit_of_work() as db:
        order = w.order(db, ord_id)
        assert (order.status, order.cancel_reason) == (S.CANCELLED, "refunded")
        assert w.stock_left(db, world) == (10, 0)
        refunds = db.scalars(select(BehaviourEvent.amount_fen).where(
            BehaviourEvent.type == EventType.REFUND)).all()
        assert sorted(refunds) == [300, 500]


def test_auto_accept(database, settings, shop, make_user):
    world = w.build(database, settings, shop, make_user, config={"auto_accept": True})
    ord_id = w.paid_order(database, settings, world)
    with database.unit_of_work() as db:
        order = w.order(db, ord_id)
        assert order.status is S.ACCEPTED and order.accepted_at is not None
        assert order.events[-1].actor_kind == "system"


def test_a_trade_of_no_order_is_left_alone(database, settings, world):
    from townsquare.gateway import apps
    from townsquare.miniapps.models import MiniApp

    with database.unit_of_work() as db:
        miniapp = db.scalars(select(MiniApp).where(MiniApp.public_id == world.miniapp)).one()
        app = apps.app_for_miniapp(db, actor=None, miniapp=miniapp)
        trade = trades.create(
            db, app=app, merchant_id=miniapp.merchant_id, miniapp_id=miniapp.id,
            out_trade_no="till-1", total_fen=500, subject="当面付", product_code="X",
            timeout_minutes=10, notify_url="", return_url="", buyer_user_id=world.resident.id,
            content_digest=trades.digest(total_fen=500, subject="当面付"))
        trade_no = trade.trade_no
    w.pay(database, settings, world.resident, trade_no)
    with database.unit_of_work() as db:
        assert trades.get(db, trade_no).status is TradeStatus.TRADE_SUCCESS
        assert db.scalars(select(orders.Order)).all() == []
