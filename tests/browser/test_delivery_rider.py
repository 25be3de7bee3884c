"""Delivery as people meet it, in a real Chromium at phone size: a resident's delivery order is
accepted, the shop's own rider (self-delivery) is booked for it by the server's worker, the
rider accepts it on the rider page, picks it up and hands it over with the delivery code the
resident reads off their tracking page, and the resident's page follows along by itself (its
status, then delivered) while the order moves out for delivery and delivered."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from tests.ordering.conftest import shop  # noqa: F401  (the shop of tests/ordering)
from tests.ordering.orders import world as w
from townsquare import delivery
from townsquare.accounts.models import User
from townsquare.delivery import riders
from townsquare.ordering import orders
from townsquare.ordering.orders import delivery_link
from townsquare.ordering.orders.checkout import DeliveryAddress

from ..conftest import PASSWORD
from .conftest import VIEWPORTS, login, screenshot

pytestmark = pytest.mark.browser


def _wait(database, ord_id, wanted, seconds=20.0):
    deadline = time.monotonic() + seconds
    while True:
        with database.unit_of_work() as db:
            found = delivery_link.delivery_of(db, w.order(db, ord_id))
            if found is not None and found.status.value in wanted:
                return found
        if time.monotonic() > deadline:
            raise AssertionError(f"delivery still {found.status if found else None}")
        time.sleep(0.1)


def test_rider_delivers_and_the_resident_follows(database, settings, shop, make_user,  # noqa: F811
                                                 small_server, browser):
    world = w.build(database, settings, shop, make_user)
    with database.unit_of_work() as db:
        riders.add_rider(db, actor=None, merchant=shop.merchant, username="mei",
                         phone="13700000000")
        riders.set_duty(db, actor=db.get_one(User, shop.owner.id), on_duty=True)
    home = DeliveryAddress("王芳", "13800000000", "光谷大道 2 号 3 栋", *w.HOME)
    ord_id = w.paid_order(database, settings, world, quantity=6, kind="delivery", address=home,
                          slot=None)
    with database.unit_of_work() as db:
        orders.accept(db, actor=shop.owner, order_id=ord_id)
    found = _wait(database, ord_id, {"created"})  # booked by the served app's worker
    assert found.provider == "self"
    dlv = found.public_id

    resident_ctx = browser.new_context(locale="zh-CN", viewport=VIEWPORTS["phone"])
    rider_ctx = browser.new_context(locale="zh-CN", viewport=VIEWPORTS["phone"])
    try:
        resident, rider = resident_ctx.new_page(), rider_ctx.new_page()
        for p in (resident, rider):
            p.set_default_timeout(15_000)
        login(resident, small_server, world.resident.username, PASSWORD)
        resident.goto(f"{small_server}/delivery/{dlv}")
        assert resident.locator("#track-status").inner_text() == "已下单，等待骑手接单"
        code = re.search(r"\d{6}", resident.locator("#dropoff-code strong").inner_text()).group(0)
        assert resident.locator("svg.delivery-map .pickup").count() == 1

        login(rider, small_server, shop.owner.username, PASSWORD)
        rider.goto(f"{small_server}/rider")
        job = rider.locator(f"#offered [data-delivery='{dlv}']")
        job.get_by_role("button", name="接单").click()
        mine = rider.locator(f"#mine [data-delivery='{dlv}']")
        assert mine.get_attribute("data-status") == "assigned"
        # the resident's page follows without a reload (htmx polls every 3 s)
        expect(resident.locator("#track-status")).to_have_text("骑手已接单", timeout=15_000)
        assert resident.locator("svg.delivery-map .courier").count() == 1
        mine.get_by_role("button", name="已取货").click()
        mine = rider.locator(f"#mine [data-delivery='{dlv}']")
        assert mine.get_attribute("data-status") == "picked_up"
        mine.locator("input[name=code]").fill("000000" if code != "000000" else "111111")
        mine.get_by_role("button", name="已送达").click()
        assert "这不是居民的配送码" in rider.locator("p.flash.error").inner_text()
        mine = rider.locator(f"#mine [data-delivery='{dlv}']")
        mine.locator("input[name=code]").fill(code)
        mine.get_by_role("button", name="已送达").click()
        assert "已送达，辛苦了" in rider.locator("p.flash.ok").inner_text()
        screenshot(rider, "delivery-rider-phone")

        expect(resident.locator("#track-live")).to_have_attribute("data-status", "delivered",
                                                                 timeout=15_000)
        assert resident.locator("#track-status").inner_text() == "已送达"
        screenshot(resident, "delivery-tracking-phone")
    finally:
        resident_ctx.close()
        rider_ctx.close()
    with database.unit_of_work() as db:
        order = w.order(db, ord_id)
        assert order.status is orders.OrderStatus.DELIVERED
        assert delivery_link.delivery_of(db, order).status is delivery.DeliveryStatus.DELIVERED
