"""Issue 18's marketplace in a real Chromium: a verified resident opens 社区服务 from the pass,
books 桶装水 from the admitted water station at a free time, pays in the cashier with the wallet
and PIN, and lands on the booking, now paid; the property manager's services page shows the
community's 8 % commission of ¥18.88 (¥1.51) in its statement. Screenshots go to
var/screenshots/services-*.png."""

from __future__ import annotations

import re

import pytest

from tests.community.services import world as w
from tests.conftest import PASSWORD
from tests.ordering.orders import world as ow

from .conftest import VIEWPORTS, login, screenshot

pytestmark = pytest.mark.browser


def test_a_resident_books_and_pays_an_admitted_provider_and_the_property_sees_commission(
        small_server, database, browser, settings, make_user):
    world = w.build(database, settings, make_user)
    w.admit(database, world, commission_bp=800)
    resident = browser.new_context(locale="zh-CN", viewport=VIEWPORTS["phone"])
    manager = browser.new_context(locale="zh-CN", viewport=VIEWPORTS["desktop"])
    problems: list[str] = []
    try:
        page = resident.new_page()
        page.set_default_timeout(15_000)
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        login(page, small_server, world.resident.username, PASSWORD)
        page.goto(f"{small_server}/community/{world.com}")
        page.click("#services-link")
        page.wait_for_url(re.compile(r"/services$"))
        screenshot(page, "services-phone-01-catalog")
        water = page.locator(".service", has_text="桶装水")
        assert "¥18.88" in water.inner_text() and "清泉水站" in water.inner_text()
        water.locator("button[type=submit]").click()
        page.wait_for_url(re.compile(r"/cashier/"))
        assert page.locator("#cashier-title").inner_text() == "¥18.88"
        page.fill("#payment-pin", ow.PIN)
        page.click("#cashier-pay")
        page.wait_for_url(re.compile(r"/cashier/.+/done"))
        page.click("#cashier-return")
        page.wait_for_url(re.compile(r"/services/bookings/svb_"))
        assert page.locator("#booking-status").inner_text() == "已支付"
        screenshot(page, "services-phone-02-booking")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390

        console = manager.new_page()
        console.set_default_timeout(15_000)
        login(console, small_server, world.base.manager.username, PASSWORD)
        console.goto(f"{small_server}/community/{world.com}/manage/services")
        assert "¥1.51" in console.locator("#commission-balance").inner_text()
        assert "桶装水" in console.locator("#commission-lines").inner_text()
        screenshot(console, "services-desktop-03-statement")
    finally:
        resident.close()
        manager.close()
    assert problems == []
