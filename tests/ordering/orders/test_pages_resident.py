"""The resident's shop pages through HTTP: the menu (prices in yuan, sold-out greyed, options),
the cart's steppers, the checkout (slots offered, full ones not, the total before paying, then
the cashier), my orders, an order's page (pickup number and QR, live part, stream), cancel,
reorder, rate, complain; each bad input is shown on the page and changes nothing."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import PASSWORD
from tests.ordering.conftest import NOON
from tests.ordering.orders import world as w
from townsquare.accounts import addresses
from townsquare.accounts.models import User
from townsquare.ordering import orders
from townsquare.ordering.catalog import service as catalog
from townsquare.ordering.orders.models import Order, OrderStatus
from townsquare.ordering.slots import rules
from townsquare.payments.trades import service as trades


@pytest.fixture
def world(database, settings, shop, make_user):
    with database.unit_of_work() as db:
        spicy = catalog.create_product(db, actor=None, merchant_id=shop.merchant, name="宫保鸡丁",
                                       category="热菜", unit="份", options="辣度: 不辣/微辣/特辣")
        catalog.add_sku(db, actor=None, product_id=spicy.public_id, code="HOT-1", spec="大份",
                        price_fen=2_800)
        gone = catalog.create_product(db, actor=None, merchant_id=shop.merchant, name="武昌鱼",
                                      category="水产", unit="条")
        catalog.add_sku(db, actor=None, product_id=gone.public_id, code="FISH-1", spec="约1斤",
                        price_fen=3_900)
        catalog.set_product_sold_out(db, actor=None, product_id=gone.public_id, sold_out=True)
    return w.build(database, settings, shop, make_user)


def login(client, user) -> None:
    client.cookies.clear()
    response = client.post("/login", data={"username": user.username, "password": PASSWORD},
                           follow_redirects=False)
    assert response.status_code == 303, response.text


def csrf(text: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', text).group(1)


def _orders(database) -> int:
    with database.unit_of_work() as db:
        return db.scalar(select(func.count()).select_from(Order)) or 0


def _sku(database, code: str) -> str:
    from townsquare.ordering.catalog.models import Sku

    with database.unit_of_work() as db:
        return db.scalar(select(Sku.public_id).where(Sku.code == code))


def test_the_menu_shows_prices_in_yuan_sold_out_greyed_and_options(client, database, world):
    login(client, world.resident)
    page = client.get(f"/shop/{world.miniapp}")
    assert page.status_code == 200
    text = page.text
    assert "本地小白菜" in text and "¥3.50" in text and "约1斤" in text
    fish = _sku(database, "FISH-1")
    assert re.search(rf'id="item-{fish}"[^>]*data-unavailable="sold_out"', text)
    assert "售罄" in text
    assert 'value="辣度=微辣"' in text  # the option is chosen on the menu
    assert 'id="cart-empty"' in text
    assert "订单" in text  # the tab bar is dropped here, but my orders is linked


def test_steppers_and_options_fill_the_cart(client, database, world):
    login(client, world.resident)
    token = csrf(client.get(f"/shop/{world.miniapp}").text)
    veg, hot = world.shop.sku, _sku(database, "HOT-1")
    added = client.post(f"/shop/{world.miniapp}/cart",
                        data={"csrf_token": token, "sku": veg, "quantity": "2"},
                        follow_redirects=False)
    assert added.status_code == 303 and added.headers["location"].endswith(f"#item-{veg}")
    for choice in ("特辣", "特辣", "不辣"):
        client.post(f"/shop/{world.miniapp}/cart", data={
            "csrf_token": token, "sku": hot, "quantity": "add", "opt": f"辣度={choice}"})
    with database.unit_of_work() as db:
        cart = orders.view_cart(db, actor=db.get(User, world.resident.id),
                                miniapp_id=world.miniapp)
        lines = sorted((line.sku_id, line.options.get("辣度", ""), line.quantity)
                       for line in cart.lines)
        assert lines == sorted([(veg, "", 2), (hot, "特辣", 2), (hot, "不辣", 1)])
        assert cart.items_fen == 700 + 3 * 2_800
    page = client.get(f"/shop/{world.miniapp}").text
    assert 'id="cart-items-fen" data-fen="9100"' in page and "¥91.00" in page
    # bad input: a quantity that is not a number, too many, an unknown or sold-out SKU
    for data, status in (({"sku": veg, "quantity": "很多"}, 422),
                         ({"sku": veg, "quantity": "1000"}, 422),
                         ({"sku": "sku_nothere", "quantity": "1"}, None),
                         ({"sku": _sku(database, "FISH-1"), "quantity": "1"}, None)):
        refused = client.post(f"/shop/{world.miniapp}/cart", data={"csrf_token": token, **data})
        assert refused.status_code >= 400 and (status is None or refused.status_code == status)
        assert 'id="shop-error"' in refused.text
    with database.unit_of_work() as db:
        again = orders.view_cart(db, actor=db.get(User, world.resident.id),
                                 miniapp_id=world.miniapp)
        assert again.items_fen == 9_100  # nothing changed
    client.post(f"/shop/{world.miniapp}/cart",
                data={"csrf_token": token, "sku": veg, "quantity": "0"})
    assert 'id="cart-items-fen" data-fen="8400"' in client.get(f"/shop/{world.miniapp}").text
    missing = client.post(f"/shop/{world.miniapp}/cart", data={"sku": veg, "quantity": "1"})
    assert missing.status_code == 403  # no CSRF token


def test_checkout_offers_free_slots_shows_the_total_and_goes_to_the_cashier(
        client, database, settings, world):
    login(client, world.resident)
    token = csrf(client.get(f"/shop/{world.miniapp}").text)
    client.post(f"/shop/{world.miniapp}/cart",
                data={"csrf_token": token, "sku": world.shop.sku, "quantity": "2"})
    page = client.get(f"/shop/{world.miniapp}/checkout?kind=pickup")
    assert page.status_code == 200
    noon = NOON.isoformat()
    assert f'value="{noon}"' in page.text
    assert 'data-fen="800"' in page.text and "¥8.00" in page.text  # ¥7 + ¥1 packaging
    key = re.search(r'name="key" value="([^"]+)"', page.text).group(1)
    form = {"csrf_token": token, "kind": "pickup", "slot": noon, "total": "800", "key": key}
    # a full slot is not offered, and taking it anyway is refused
    with database.unit_of_work() as db:
        rules.set_rule(db, actor=None, store_id=world.shop.store, kind="pickup",
                       capacity_orders=1, lead_minutes=30)
        w.place(db, world, world.other, key="other", quantity=1, settings=settings)
    full = client.get(f"/shop/{world.miniapp}/checkout?kind=pickup&slot={noon}")
    assert f'value="{noon}"' not in full.text and 'name="slot"' in full.text
    taken = client.post(f"/shop/{world.miniapp}/checkout", data=form)
    assert taken.status_code == 409 and 'id="checkout-error"' in taken.text
    assert _orders(database) == 1
    with database.unit_of_work() as db:
        rules.set_rule(db, actor=None, store_id=world.shop.store, kind="pickup",
                       capacity_orders=10, lead_minutes=30)
    # a tampered total is refused and changes nothing
    tampered = client.post(f"/shop/{world.miniapp}/checkout", data={**form, "total": "1"})
    assert tampered.status_code == 409 and 'id="checkout-error"' in tampered.text
    past = client.post(f"/shop/{world.miniapp}/checkout",
                       data={**form, "slot": (NOON - timedelta(hours=5)).isoformat()})
    assert past.status_code == 422 and 'id="checkout-error"' in past.text
    junk = client.post(f"/shop/{world.miniapp}/checkout", data={**form, "slot": "明天中午"})
    assert junk.status_code == 422
    assert _orders(database) == 1
    placed = client.post(f"/shop/{world.miniapp}/checkout", data=form, follow_redirects=False)
    assert placed.status_code == 303 and placed.headers["location"].startswith("/cashier/")
    trade_no = placed.headers["location"].rsplit("/", 1)[1]
    twice = client.post(f"/shop/{world.miniapp}/checkout", data=form, follow_redirects=False)
    assert twice.headers["location"] == placed.headers["location"]  # one order per form
    assert _orders(database) == 2
    with database.unit_of_work() as db:
        assert trades.get(db, trade_no).total_fen == 800
    # the emptied cart sends the checkout back to the shop
    back = client.get(f"/shop/{world.miniapp}/checkout", follow_redirects=False)
    assert back.status_code == 303


def test_delivery_needs_an_address_inside_a_zone(client, database, world):
    login(client, world.resident)
    token = csrf(client.get(f"/shop/{world.miniapp}").text)
    client.post(f"/shop/{world.miniapp}/cart",
                data={"csrf_token": token, "sku": world.shop.sku, "quantity": "6"})
    page = client.get(f"/shop/{world.miniapp}/checkout?kind=delivery")
    assert "请先添加收货地址" in page.text and 'id="pay"' not in page.text
    with database.unit_of_work() as db:
        user = db.get(User, world.resident.id)
        far = addresses.save(db, actor=user, name="王芳", phone="13800138000", text="远处",
                             lat=str(w.FAR[0]), lng=str(w.FAR[1]))
        near = addresses.save(db, actor=user, name="王芳", phone="13800138000",
                              text="光谷大道 2 号", lat=str(w.HOME[0]), lng=str(w.HOME[1]))
        far_id, near_id = far.public_id, near.public_id
    outside = client.get(f"/shop/{world.miniapp}/checkout?kind=delivery&address={far_id}")
    assert 'id="checkout-problems"' in outside.text and 'id="pay"' not in outside.text
    inside = client.get(f"/shop/{world.miniapp}/checkout?kind=delivery&address={near_id}")
    assert 'id="pay"' in inside.text
    # ¥21 items + ¥1 packaging + ¥5 delivery
    assert 'id="checkout-total" data-fen="2700"' in inside.text
    key = re.search(r'name="key" value="([^"]+)"', inside.text).group(1)
    refused = client.post(f"/shop/{world.miniapp}/checkout", data={
        "csrf_token": token, "kind": "delivery", "slot": "asap", "address": far_id,
        "total": "2700", "key": key})
    assert refused.status_code == 422 and _orders(database) == 0
    someone_elses = client.post(f"/shop/{world.miniapp}/checkout", data={
        "csrf_token": token, "kind": "delivery", "slot": "asap", "address": "adr_nothere",
        "total": "2700", "key": key})
    assert someone_elses.status_code == 404 and _orders(database) == 0
    placed = client.post(f"/shop/{world.miniapp}/checkout", data={
        "csrf_token": token, "kind": "delivery", "slot": "asap", "address": near_id,
        "total": "2700", "key": key}, follow_redirects=False)
    assert placed.status_code == 303, placed.text
    with database.unit_of_work() as db:
        order = db.scalar(select(Order))
        assert order.address["text"] == "光谷大道 2 号" and order.delivery_fen == 500


def _paid_order(database, settings, world) -> str:
    with database.unit_of_work() as db:
        order = w.place(db, world, world.resident, settings=settings)
        ord_id, trade_no = order.public_id, order.trade_no
    w.pay(database, settings, world.resident, trade_no)
    return ord_id


def test_the_order_page_follows_the_order_and_its_actions(client, database, settings, world):
    ord_id = _paid_order(database, settings, world)
    login(client, world.resident)
    mine = client.get("/me/orders")
    assert mine.status_code == 200 and ord_id in mine.text and "待商家接单" in mine.text
    page = client.get(f"/me/orders/{ord_id}")
    assert page.status_code == 200
    assert 'id="pickup-number">A001<' in page.text
    with database.unit_of_work() as db:
        code = orders.pickup_code(db.scalar(select(Order)), settings=settings)
    assert f'data-code="{code}"' in page.text and "<svg" in page.text
    assert f'data-order-stream="/me/orders/{ord_id}/stream"' in page.text
    live = client.get(f"/me/orders/{ord_id}?part=live")
    assert live.text.lstrip().startswith("<div id=\"order-live\"") or 'id="order-live"' in live.text
    assert "<html" not in live.text
    with database.unit_of_work() as db:
        orders.accept(db, actor=world.shop.owner, order_id=ord_id)
        orders.ready(db, actor=world.shop.owner, order_id=ord_id)
    ready = client.get(f"/me/orders/{ord_id}?part=live").text
    assert 'data-status="ready"' in ready and "待取货" in ready
    token = csrf(page.text)
    late = client.post(f"/me/orders/{ord_id}/cancel", data={"csrf_token": token})
    assert late.status_code == 409 and 'id="order-error"' in late.text
    early = client.post(f"/me/orders/{ord_id}/rate", data={"csrf_token": token, "stars": "5"})
    assert early.status_code == 409
    with database.unit_of_work() as db:
        order = db.scalar(select(Order))
        orders.hand_over(db, actor=world.shop.owner, merchant_id=world.shop.merchant,
                         code=orders.pickup_code(order, settings=settings), settings=settings)
    for data in ({"stars": ""}, {"stars": "6"}, {"stars": "五"}):
        bad = client.post(f"/me/orders/{ord_id}/rate", data={"csrf_token": token, **data})
        assert bad.status_code == 422 and 'class="field-error"' in bad.text
    rated = client.post(f"/me/orders/{ord_id}/rate",
                        data={"csrf_token": token, "stars": "4", "text": "菜很新鲜"},
                        follow_redirects=False)
    assert rated.status_code == 303
    shown = client.get(f"/me/orders/{ord_id}").text
    assert "★★★★☆" in shown and "菜很新鲜" in shown
    bad = client.post(f"/me/orders/{ord_id}/complain",
                      data={"csrf_token": token, "category": "", "text": "少了一把菜"})
    assert bad.status_code == 422 and "少了一把菜" in bad.text
    sent = client.post(f"/me/orders/{ord_id}/complain",
                       data={"csrf_token": token, "category": "quality", "text": "少了一把菜"},
                       follow_redirects=False)
    assert sent.status_code == 303
    again = client.post(f"/me/orders/{ord_id}/reorder", data={"csrf_token": token},
                        follow_redirects=False)
    assert again.headers["location"] == f"/shop/{world.miniapp}#cart"
    assert 'data-fen="700"' in client.get(f"/shop/{world.miniapp}").text


def test_cancel_an_unpaid_order_and_nobody_else_sees_it(client, database, settings, world):
    with database.unit_of_work() as db:
        ord_id = w.place(db, world, world.resident, settings=settings).public_id
    login(client, world.other)
    assert client.get(f"/me/orders/{ord_id}").status_code == 404
    assert client.get(f"/me/orders/{ord_id}/stream").status_code == 404
    assert ord_id not in client.get("/me/orders").text
    login(client, world.resident)
    page = client.get(f"/me/orders/{ord_id}")
    assert 'id="order-pay"' in page.text  # not paid yet: pay from here
    done = client.post(f"/me/orders/{ord_id}/cancel",
                       data={"csrf_token": csrf(page.text), "reason": "买错了"},
                       follow_redirects=False)
    assert done.status_code == 303
    with database.unit_of_work() as db:
        assert db.scalar(select(Order)).status is OrderStatus.CANCELLED
    assert "您已取消" in client.get(f"/me/orders/{ord_id}").text


def test_the_stream_sends_the_order_and_ends_when_it_cannot_change(client, database, settings,
                                                                    world):
    with database.unit_of_work() as db:
        ord_id = w.place(db, world, world.resident, settings=settings).public_id
        orders.cancel_by_resident(db, actor=world.resident, order_id=ord_id)
    login(client, world.resident)
    with client.stream("GET", f"/me/orders/{ord_id}/stream") as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/event-stream")
        body = "".join(answer.iter_text())
    assert "event: order\ndata: cancelled:" in body and "event: end" in body


def test_the_framed_runtime_page_previews_the_menu_and_links_out(client, database, world):
    preview = client.get(f"/shop/{world.miniapp}/preview")
    assert preview.status_code == 200 and "本地小白菜" in preview.text
    assert 'target="_top"' in preview.text
    assert client.get("/shop/ma_nothere/preview").status_code == 404


@pytest.fixture
def community_world(database, settings, shop, make_user):
    from townsquare.ordering.stores import service as stores

    with database.unit_of_work() as db:
        point = stores.add_point(db, actor=None, store_id=shop.store, name="光谷小区东门自提点",
                                 address="光谷小区东门便利店", lat=30.5060, lng=114.4090)
        rules.set_rule(db, actor=None, store_id=shop.store, kind="community",
                       point_id=point.public_id, slot_minutes=120, capacity_orders=60,
                       lead_minutes=0, cutoff_time=23 * 60, cutoff_days=1, days_ahead=1,
                       window_start=16 * 60, window_end=20 * 60)
        point_id = point.public_id
    return w.build(database, settings, shop, make_user, config={"community": True}), point_id


def test_community_pickup_offers_the_point_and_its_next_day_slots(client, database,
                                                                  community_world):
    world, point_id = community_world
    login(client, world.resident)
    token = csrf(client.get(f"/shop/{world.miniapp}?lang=en").text)
    client.post(f"/shop/{world.miniapp}/cart",
                data={"csrf_token": token, "sku": world.shop.sku, "quantity": "2"})
    page = client.get(f"/shop/{world.miniapp}/checkout?kind=community")
    assert page.status_code == 200 and "Community pickup point" in page.text  # English asked
    assert f'value="{point_id}" checked' in page.text and "光谷小区东门自提点" in page.text
    slot = re.search(r'name="slot" value="([^"]+)" checked', page.text).group(1)
    assert slot.startswith("2026-12-08T08:00")  # tomorrow 16:00 in Shanghai: next-day pickup
    key = re.search(r'name="key" value="([^"]+)"', page.text).group(1)
    total = re.search(r'id="checkout-total" data-fen="(\d+)"', page.text).group(1)
    placed = client.post(f"/shop/{world.miniapp}/checkout", data={
        "csrf_token": token, "kind": "community", "point": point_id, "slot": slot,
        "total": total, "key": key}, follow_redirects=False)
    assert placed.status_code == 303, placed.text
    with database.unit_of_work() as db:
        order = db.scalar(select(Order))
        assert order.kind.value == "community" and order.point_id is not None
    shown = client.get(f"/me/orders/{order.public_id}").text
    assert "光谷小区东门自提点" in shown


def test_the_framed_runtime_page_opens_the_shop_out_of_the_frame(client, world):
    login(client, world.resident)
    container = client.get(f"/apps/{world.miniapp}")
    src = re.search(r'id="miniapp-frame"[^>]*src="([^"]+)"', container.text) or re.search(
        r'src="([^"]+)"[^>]*id="miniapp-frame"', container.text)
    framed = client.get(src.group(1).replace("&amp;", "&"))
    assert framed.status_code == 200
    assert f'href="/shop/{world.miniapp}" target="_top" id="shop-open"' in framed.text
    assert 'href="/me/orders" target="_top"' in framed.text
    assert f'hx-get="/shop/{world.miniapp}/preview' in framed.text


def test_a_guest_is_asked_to_log_in_and_a_non_shop_is_not_found(client, database, world):
    guest = client.get(f"/shop/{world.miniapp}", follow_redirects=False)
    assert guest.status_code in (303, 401)
    if guest.status_code == 303:
        assert guest.headers["location"].startswith("/login")
    login(client, world.resident)
    assert client.get("/shop/ma_nothere").status_code == 404
    assert client.get("/shop/not-an-id/checkout").status_code == 404
    assert client.get("/me/orders/ord_nothere").status_code == 404
