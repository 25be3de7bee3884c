"""The happy path: a resident fills a cart, checks out for a pickup slot, pays in the cashier
(wallet + PIN), the merchant accepts, prepares and marks it ready, the counter scans the pickup
code, the resident confirms; and a delivery order goes out with the shop's rider."""

from __future__ import annotations

import pytest

from tests.ordering.orders import world as w
from townsquare.ordering import orders
from townsquare.ordering.orders.checkout import DeliveryAddress
from townsquare.ordering.slots.models import Hold, HoldStatus
from townsquare.payments.trades import service as trades
from townsquare.payments.trades.models import TradeStatus


@pytest.fixture
def world(database, settings, shop, make_user):
    return w.build(database, settings, shop, make_user)


def test_buy_for_pickup_then_hand_over(database, settings, world):
    with database.unit_of_work() as db:
        quote = (w.fill(db, world, world.resident, 2),
                 orders.quote(db, actor=world.resident, miniapp_id=world.miniapp,
                              kind="pickup", slot_start=w.NOON))[1]
        assert (quote.items_fen, quote.packaging_fen, quote.total_fen) == (700, 100, 800)
        assert quote.problems == []
        order = orders.place(db, actor=world.resident, miniapp_id=world.miniapp, kind="pickup",
                             slot_start=w.NOON, point_id=None, address=None, note="少放葱",
                             expected_total_fen=800, idempotency_key="k1", settings=settings)
        assert order.status is orders.OrderStatus.CREATED and order.total_fen == 800
        trade = trades.get(db, order.trade_no)
        assert trade.out_trade_no == order.public_id and trade.total_fen == 800
        assert trade.return_url == f"/me/orders/{order.public_id}"
        assert orders.view_cart(db, actor=world.resident, miniapp_id=world.miniapp).empty
        ord_id, trade_no = order.public_id, order.trade_no
    w.pay(database, settings, world.resident, trade_no)
    with database.unit_of_work() as db:
        order = w.order(db, ord_id)
        assert order.status is orders.OrderStatus.PAID and order.pickup_number == "A001"
        assert db.get_one(Hold, order.hold_id).status is HoldStatus.CONFIRMED
        assert order.accept_by is not None
        owner = world.shop.owner
        orders.accept(db, actor=owner, order_id=ord_id)
        orders.start(db, actor=owner, order_id=ord_id)
        orders.ready(db, actor=owner, order_id=ord_id)
        code = orders.pickup_code(order, settings=settings)
        done = orders.hand_over(db, actor=owner, merchant_id=world.shop.merchant, code=code,
                                settings=settings)
        assert done.status is orders.OrderStatus.PICKED_UP
        orders.confirm_received(db, actor=world.resident, order_id=ord_id)
        assert [e.status.value for e in orders.timeline(w.order(db, ord_id))] == [
            "created", "paid", "accepted", "preparing", "ready", "picked_up", "completed"]


def test_delivery_goes_out_and_arrives(database, settings, world):
    home = DeliveryAddress("王芳", "13800000000", "光谷大道 2 号 3 栋", *w.HOME)
    with database.unit_of_work() as db:
        order = w.place(db, world, world.resident, quantity=6, kind="delivery", address=home,
                        slot=None, settings=settings)
        assert (order.items_fen, order.delivery_fen, order.total_fen) == (2100, 500, 2700)
        assert order.address["text"] == "光谷大道 2 号 3 栋"
        ord_id, trade_no = order.public_id, order.trade_no
    w.pay(database, settings, world.resident, trade_no)
    with database.unit_of_work() as db:
        owner = world.shop.owner
        for step in (orders.accept, orders.ready, orders.dispatch, orders.delivered):
            step(db, actor=owner, order_id=ord_id)
        assert w.order(db, ord_id).status is orders.OrderStatus.DELIVERED
        assert trades.get(db, trade_no).status is TradeStatus.TRADE_SUCCESS
