"""What a newcomer met walking the demo city's shops, pinned page by page: the timeline says
"accepted automatically" in words (not the system's `auto_accept`), a SKU sold by the portion
shows its price per portion (¥6.00 for 约2斤, not "¥6.00 / 斤"), the payment's subject names the
goods rather than repeating the shop, and a grocery's pages speak of groceries, not meals."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.conftest import PASSWORD
from tests.ordering.orders import world as w
from townsquare.ordering.catalog import service as catalog
from townsquare.ordering.orders.models import Order


@pytest.fixture
def world(database, settings, shop, make_user):
    with database.unit_of_work() as db:
        potato = catalog.create_product(db, actor=None, merchant_id=shop.merchant, name="土豆",
                                        category="蔬菜", unit="份")
        sku = catalog.add_sku(db, actor=None, product_id=potato.public_id, code="VEG-002",
                              spec="约2斤", price_fen=600)
        catalog.set_stock(db, actor=None, sku_id=sku.public_id, store_id=shop.store,
                          quantity=10)
    return w.build(database, settings, shop, make_user, config={"auto_accept": True})


def login(client, user) -> None:
    client.cookies.clear()
    response = client.post("/login", data={"username": user.username, "password": PASSWORD},
                           follow_redirects=False)
    assert response.status_code == 303, response.text


def test_an_automatic_acceptance_reads_as_words_on_the_timeline(client, database, settings,
                                                                world):
    ord_id = w.paid_order(database, settings, world)
    login(client, world.resident)
    page = client.get(f"/me/orders/{ord_id}")
    assert page.status_code == 200
    timeline = re.search(r'<ol class="timeline".*?</ol>', page.text, re.S).group(0)
    assert "系统自动接单" in timeline
    assert "auto_accept" not in timeline
    live = client.get(f"/me/orders/{ord_id}?part=live").text
    assert "系统自动接单" in live and "auto_accept" not in live


def test_a_portion_is_priced_per_portion_on_the_menu(client, database, world):
    """A SKU with a spec is sold by that spec: ¥6.00 buys 约2斤 of potatoes, so the menu must
    not say "¥6.00 / 斤" (it said so for every grocery item, whatever its spec)."""
    login(client, world.resident)
    for path in (f"/shop/{world.miniapp}", f"/shop/{world.miniapp}/preview"):
        text = client.get(path).text
        assert "¥6.00" in text and "约2斤" in text, path
        assert not re.search(r"¥6\.00\s*<span[^>]*>\s*/", text), path
        assert not re.search(r"¥3\.50\s*<span[^>]*>\s*/", text), path  # 约1斤 too: the spec says it


def test_the_demo_grocery_counts_weighed_goods_in_portions():
    """The demo's grocery: a product counted in 斤 is sold one 斤 at a time (约1斤); a bigger or
    smaller portion is counted in 份, so the counter's "1斤" never stands for 约2斤."""
    from townsquare.ordering.demo_menu import GROCERY

    for _category, name, unit, spec, _price, _stock, _colour in GROCERY:
        if unit == "斤":
            assert spec == "约1斤", name


def test_the_order_page_speaks_to_a_grocery_shopper_too(client, database, settings, world):
    """The same words serve groceries and lunches: no 用餐 (meal) or 备货 (stocking) on an
    order's page, whatever the shop sells."""
    from townsquare.ordering import orders

    ord_id = w.paid_order(database, settings, world)  # accepted automatically
    login(client, world.resident)
    accepted = client.get(f"/me/orders/{ord_id}").text
    assert "商家已接单，即将开始准备" in accepted and "备货" not in accepted
    with database.unit_of_work() as db:
        orders.ready(db, actor=world.shop.owner, order_id=ord_id)
        order = db.scalar(select(Order).where(Order.public_id == ord_id))
        orders.hand_over(db, actor=world.shop.owner, merchant_id=world.shop.merchant,
                         code=orders.pickup_code(order, settings=settings), settings=settings)
    done = client.get(f"/me/orders/{ord_id}").text
    assert "已取货。满意的话，欢迎评价本单。" in done
    assert "用餐" not in done and "备货" not in done


def test_the_payment_names_the_goods(database, settings, world):
    """The cashier showed "美菜到家 订单 · 美菜到家": the subject now says what is bought."""
    from townsquare.payments.trades.models import Trade

    with database.unit_of_work() as db:
        two = w.place(db, world, world.resident, key="two", quantity=2, settings=settings)
        one = w.place(db, world, world.other, key="one", quantity=1, settings=settings)
        subjects = {o.public_id: db.scalar(select(Trade.subject).where(
            Trade.trade_no == o.trade_no)) for o in (two, one)}
    assert subjects[two.public_id] == "本地小白菜等2件商品"
    assert subjects[one.public_id] == "本地小白菜"


def test_the_pickup_number_has_one_name(client, database, settings, world):
    """The order's page calls A001 the 取货号; its messages page called it 取餐号 (a meal's)."""
    ord_id = w.paid_order(database, settings, world)
    login(client, world.resident)
    for path in (f"/me/orders/{ord_id}", f"/me/orders/{ord_id}/messages", "/me/orders"):
        text = client.get(path).text
        assert "取餐" not in text, path
    assert "取货号 A001" in client.get(f"/me/orders/{ord_id}/messages").text


def test_the_tracking_page_leads_back_to_its_order(client, database, settings, world):
    """The delivery's tracking page had no way back to the order (only the browser's back)."""
    from townsquare.ordering.orders import delivery_link
    from townsquare.ordering.orders.checkout import DeliveryAddress

    home = DeliveryAddress("王芳", "13800000000", "光谷大道 2 号 3 栋", *w.HOME)
    ord_id = w.paid_order(database, settings, world, quantity=6, kind="delivery", address=home,
                          slot=None)  # accepted automatically: the delivery is asked for
    with database.unit_of_work() as db:
        found = delivery_link.delivery_of(db, w.order(db, ord_id))
        assert found is not None
        dlv = found.public_id
    login(client, world.resident)
    page = client.get(f"/delivery/{dlv}").text
    assert f'<a href="/me/orders/{ord_id}" id="track-back">← 返回订单</a>' in page


def test_the_merchant_console_lists_each_shop_with_its_orders(client, world):
    """「我的商家」 linked a merchant's settings and mini-apps, not the orders a shop works on."""
    login(client, world.shop.owner)
    page = client.get("/console/merchant").text
    board = f"/console/merchant/{world.shop.merchant}/orders"
    assert f'<a href="{board}" class="merchant-orders">订单</a>' in page
    assert client.get(board).status_code == 200
