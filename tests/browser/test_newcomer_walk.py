"""The README's "Try this first" in the demo city itself, as a newcomer walks it on a phone
(390×844), with the merchant on a desktop: the home page's 生鲜买菜 section leads to
城东鲜果店·买菜, whose menu prices a 约2斤 bag per bag; the cart is paid in the cashier with the
demo PIN (the payment names the goods); the merchant reaches the order board from 我的商家,
accepts and marks it ready while the resident's page follows; the resident asks the shop a
question and reads the answer as chat bubbles; then lunch for pickup at the demo restaurant
(found by searching 午餐), accepted automatically, which the timeline says in words.

The small-world tests (test_shop_order, test_order_console, test_delivery_rider) cover each
step in depth; this one checks that the demo city a newcomer starts from holds together.
Screenshots go to var/screenshots/walk-*.png."""

from __future__ import annotations

import re

import pytest

from townsquare.payments.wallet.demo import DEMO_PIN
from townsquare.simulation import demo_city

from .conftest import VIEWPORTS, login, screenshot

pytestmark = pytest.mark.browser
PASSWORD = demo_city.DEMO_PASSWORD


def _fits(page) -> None:
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"sideways scrolling on {page.url}: {width}"


def _pay(page) -> str:
    """From the cashier, paying with the wallet and the demo PIN, to the order's page."""
    page.check("input[name=method][value=wallet]")
    page.fill("#payment-pin", DEMO_PIN)
    page.click("#cashier-pay")
    page.wait_for_url(re.compile(r"/cashier/.+/done"))
    page.click("#cashier-return")
    page.wait_for_url(re.compile(r"/me/orders/ord_"))
    return page.url.rsplit("/", 1)[1].split("?")[0]


def test_a_newcomer_walks_the_demo_city(live_server, browser):
    base = live_server
    phone = browser.new_context(locale="zh-CN", viewport=VIEWPORTS["phone"])
    desk = browser.new_context(locale="zh-CN", viewport=VIEWPORTS["desktop"])
    errors: list[str] = []
    try:
        page = phone.new_page()
        page.set_default_timeout(20_000)
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        login(page, base, "resident", PASSWORD)

        # home → 生鲜买菜 → the grocery's mini-app → its shop
        page.goto(f"{base}/")
        section = page.locator("section.hub-section", has=page.locator("h2", has_text="生鲜买菜"))
        section.locator("a", has_text="城东鲜果店·买菜").first.click()
        page.wait_for_url(re.compile(r"/apps/ma_"))
        page.frame_locator("#miniapp-frame").locator("#shop-open").click()
        page.wait_for_url(re.compile(r"/shop/ma_[^/]+$"))
        _fits(page)
        potato = page.locator(".menu-item", has_text="土豆").first
        assert "约2斤" in potato.inner_text() and "¥6.00" in potato.inner_text()
        assert "/ 斤" not in potato.inner_text()  # ¥6.00 is the bag of 约2斤, not a 斤
        potato.locator("button.plus").click()
        potato.locator('.qty[data-qty="1"]').wait_for()
        greens = page.locator(".menu-item", has_text="本地小白菜").first
        greens.locator("button.plus").click()
        greens.locator('.qty[data-qty="1"]').wait_for()
        screenshot(page, "walk-phone-01-grocery-menu")
        page.click("#cart-bar-checkout")
        page.wait_for_url(re.compile(r"/checkout"))
        _fits(page)
        page.click("#pay")
        page.wait_for_url(re.compile(r"/cashier/"))
        assert "等2件商品" in page.locator(".cashier-subject").inner_text()
        ord_id = _pay(page)
        assert page.locator("#order-status").inner_text() == "待商家接单"
        _fits(page)
        screenshot(page, "walk-phone-02-grocery-paid")
        page.evaluate("window.__stayed = 'yes'")

        # the merchant finds the board from 我的商家, accepts and marks it ready
        console = desk.new_page()
        console.set_default_timeout(20_000)
        login(console, base, "merchant", PASSWORD)
        console.goto(f"{base}/console/merchant")
        console.locator("a.merchant-orders").first.click()
        console.wait_for_url(re.compile(r"/console/merchant/mer_[^/]+/orders$"))
        card = console.locator(f"[data-column=new] [data-order='{ord_id}']")
        assert "1份" not in card.inner_text()  # the card counts with ×, units on the page
        card.locator("form[data-action=accept] button").click()
        page.locator('#order-live[data-status="accepted"]').wait_for()
        ready = console.locator(f"[data-column=preparing] [data-order='{ord_id}']")
        ready.locator("form[data-action=ready] button").click()
        page.locator('#order-live[data-status="ready"]').wait_for()
        assert page.evaluate("window.__stayed") == "yes"
        screenshot(console, "walk-desktop-01-board")
        console.goto(console.url + f"/{ord_id}")
        assert "1份" in console.locator("table").first.inner_text()  # 土豆 约2斤: one bag

        # a question to the shop, answered from the console's inbox
        page.goto(f"{base}/me/orders/{ord_id}")
        page.click("#message-shop")
        page.wait_for_url(re.compile(r"/messages"))
        assert "取餐" not in page.content()
        page.fill("textarea[name=body]", "土豆能挑小一点的吗？")
        page.get_by_role("button", name="发送").click()
        page.locator(".chat-message.mine").wait_for()
        console.goto(f"{base}/console/merchant")
        console.locator("a.merchant-orders").first.click()
        console.goto(console.url.replace("/orders", "/messages"))
        console.locator("tr", has_text="土豆能挑小一点的吗").locator("a").first.click()
        console.fill("textarea[name=body]", "好的，给您挑小个的。")
        console.locator("form button[type=submit]").last.click()
        console.locator(".chat-message.mine", has_text="给您挑小个的").wait_for()
        page.reload()
        theirs = page.locator(".chat-message.theirs", has_text="给您挑小个的")
        mine = page.locator(".chat-message.mine").last
        assert theirs.bounding_box()["x"] < mine.bounding_box()["x"]  # bubbles, mine right
        assert page.evaluate(
            "getComputedStyle(document.querySelector('ol.chat')).listStyleType") == "none"
        _fits(page)
        screenshot(page, "walk-phone-03-messages")

        # lunch for pickup at the demo restaurant, found by searching 午餐
        page.goto(f"{base}/search?q=午餐")
        page.locator("a", has_text="·点餐").first.click()
        page.wait_for_url(re.compile(r"/apps/ma_"))
        page.frame_locator("#miniapp-frame").locator("#shop-open").click()
        page.wait_for_url(re.compile(r"/shop/ma_[^/]+$"))
        rice = page.locator(".menu-item", has_text="米饭").first
        assert "/ 份" not in rice.inner_text()  # 一碗 says it
        rice.locator("button.plus").click()
        rice.locator('.qty[data-qty="1"]').wait_for()
        page.click("#cart-bar-checkout")
        page.wait_for_url(re.compile(r"/checkout"))
        page.click("#pay")  # the first slot is chosen
        page.wait_for_url(re.compile(r"/cashier/"))
        _pay(page)
        page.locator('#order-live[data-status="accepted"]').wait_for()
        timeline = page.locator("#timeline").inner_text()
        assert "系统自动接单" in timeline and "auto_accept" not in timeline
        _fits(page)
        screenshot(page, "walk-phone-04-lunch")
    finally:
        phone.close()
        desk.close()
    assert errors == []
