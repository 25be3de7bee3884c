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


def test_community_pickup_point_next_day(database, settings, shop, make_user):
    from townsquare.ordering.slots import rules
    from townsquare.ordering.stores import service as stores

    world = w.build(database, settings, shop, make_user,
                    config={"pickup": False, "delivery": False, "community": True})
    with database.unit_of_work() as db:
        point = stores.add_point(db, actor=None, store_id=shop.store, name="光谷花园自提点",
                                 address="光谷花园 5 栋", lat=30.507, lng=114.41).public_id
        rules.set_rule(db, actor=None, store_id=shop.store, kind="community", point_id=point,
                       capacity_orders=50, lead_minutes=0, cutoff_time=23 * 60,
                       cutoff_days=1, days_ahead=2, window_start=16 * 60,
                       window_end=20 * 60)
    with database.unit_of_work() as db:
        w.fill(db, world, world.resident, 3)
        with pytest.raises(orders.KindNotOffered):
            orders.place(db, actor=world.resident, miniapp_id=world.miniapp, kind="pickup",
                         slot_start=w.NOON, point_id=None, address=None, note="",
                         expected_total_fen=1150, idempotency_key="p")
    with database.unit_of_work() as db:
        quote = orders.quote(db, actor=world.resident, miniapp_id=world.miniapp,
                             kind="community", point_id=point)
        assert quote.problems == [] and quote.total_fen == 1150
        assert quote.slot_start.hour == 8  # 16:00 in Shanghai, the next day
        assert quote.slot_start.date() > w.NOON.date()
        order = orders.place(db, actor=world.resident, miniapp_id=world.miniapp,
                             kind="community", slot_start=None, point_id=point, address=None,
                             note="", expected_total_fen=1150, idempotency_key="c",
                             settings=settings)
        assert order.point_id is not None and order.slot_start == quote.slot_start
        ord_id, trade_no = order.public_id, order.trade_no
    w.pay(database, settings, world.resident, trade_no)
    with database.unit_of_work() as db:
        assert w.order(db, ord_id).pickup_number == "D001"
        orders.accept(db, actor=world.shop.owner, order_id=ord_id)
        orders.ready(db, actor=world.shop.owner, order_id=ord_id)
        orders.hand_over(db, actor=world.shop.owner, merchant_id=world.shop.merchant,
                         code=orders.pickup_code(w.order(db, ord_id), settings=settings),
                         settings=settings)
        assert w.order(db, ord_id).status is orders.OrderStatus.PICKED_UP


def test_restaurant_dine_in_with_options_and_kitchen_minutes(database, settings, shop,
                                                              make_user):
    from townsquare.ordering.catalog import service as catalog
    from townsquare.ordering.slots import rules

    with database.unit_of_work() as db:
        dish = catalog.create_product(db, actor=None, merchant_id=shop.merchant, name="宫保鸡丁",
                                      category="热菜", options="辣度: 不辣/微辣/特辣",
                                      prep_minutes=10)
        sku = catalog.add_sku(db, actor=None, product_id=dish.public_id, code="GB-L",
                              spec="大份", price_fen=3800).public_id
        rules.set_rule(db, actor=None, store_id=shop.store, kind="dine_in",
                       capacity_orders=None, capacity_prep=30, lead_minutes=30)
    miniapp = w.make_miniapp(database, settings, shop, make_user, runtime="restaurant",
                             name="川味小馆", config={"pickup": False, "dine_in": True,
                                                    "packaging_fen": 0})
    buyer = make_user(username="diner")
    w.fund(database, buyer)
    with database.unit_of_work() as db:
        orders.set_line(db, actor=buyer, miniapp_id=miniapp, sku_id=sku, quantity=2,
                        options={"辣度": "微辣"})
        orders.set_line(db, actor=buyer, miniapp_id=miniapp, sku_id=sku, quantity=1)
        view = orders.view_cart(db, actor=buyer, miniapp_id=miniapp)
        assert [(x.options, x.quantity) for x in view.lines] == [
            ({"辣度": "微辣"}, 2), ({"辣度": "不辣"}, 1)]
        with pytest.raises(orders.SlotFull):  # 4 dishes need 40 kitchen minutes; 30 offered
            orders.set_line(db, actor=buyer, miniapp_id=miniapp, sku_id=sku, quantity=2)
            orders.place(db, actor=buyer, miniapp_id=miniapp, kind="dine_in",
                         slot_start=w.NOON, point_id=None, address=None, note="",
                         expected_total_fen=3800 * 4, idempotency_key="too-much")
    with database.unit_of_work() as db:  # 3 dishes, 30 minutes: they fit
        orders.set_line(db, actor=buyer, miniapp_id=miniapp, sku_id=sku, quantity=0)
        orders.set_line(db, actor=buyer, miniapp_id=miniapp, sku_id=sku, quantity=1)
        order = orders.place(db, actor=buyer, miniapp_id=miniapp, kind="dine_in",
                             slot_start=w.NOON, point_id=None, address=None, note="靠窗",
                             expected_total_fen=3800 * 3, idempotency_key="ok",
                             settings=settings)
        assert sorted((x.quantity, x.options["辣度"]) for x in order.lines) == [
            (1, "不辣"), (2, "微辣")]
        ord_id, trade_no = order.public_id, order.trade_no
    w.pay(database, settings, buyer, trade_no)
    with database.unit_of_work() as db:
        assert w.order(db, ord_id).pickup_number == "B001"
