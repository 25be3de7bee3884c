"""The merchant's trades console in Chromium at phone and desktop sizes: the list filters to a
trade, the trade page refunds part of it through the form, and nothing scrolls sideways or
logs a console error."""

from __future__ import annotations

import pytest

from tests.payments.trades import trade_world
from townsquare.merchants.models import Merchant
from townsquare.payments.trades import service

from .conftest import VIEWPORTS, login, screenshot

pytestmark = pytest.mark.browser
PASSWORD = "correct-horse-9"  # tests/conftest.py's make_user


@pytest.mark.parametrize("viewport", sorted(VIEWPORTS))
def test_filter_and_refund_in_the_console(small_server, database, settings, make_user, browser,
                                          viewport):
    world = trade_world.build(database, settings, make_user)
    with database.unit_of_work() as db:
        paid = trade_world.create(db, world, "CON-1", 4_200, subject="生日蛋糕 6 寸")
        trade_world.pay(db, paid.trade_no, world.resident.id)
        trade_world.create(db, world, "CON-2", 900, subject="面包")
        merchant = db.get(Merchant, trade_world.app_of(db, world).miniapp.merchant_id).public_id
    size = VIEWPORTS[viewport]
    context = browser.new_context(locale="zh-CN", viewport=size)
    problems: list[str] = []
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        login(page, small_server, world.owner.username, PASSWORD)
        page.goto(f"{small_server}/console/merchant/{merchant}")
        page.click("#trades-link")
        page.select_option("select[name=status]", "TRADE_SUCCESS")
        page.click("#filters button[type=submit]")
        page.wait_for_url("**status=TRADE_SUCCESS**")
        rows = page.locator("#trades tbody tr[data-trade]")
        assert rows.count() == 1 and "生日蛋糕" in rows.first.inner_text()
        assert page.evaluate("document.documentElement.scrollWidth") <= size["width"]
        screenshot(page, f"trades-console-{viewport}-1-list")
        rows.first.locator("a").click()
        page.fill("#refund-amount", "12.00")
        page.fill("input[name=reason]", "少了蜡烛")
        page.click("#refund-submit")
        page.wait_for_url("**ok=refunded")
        assert "¥12.00" in page.locator("#refunded").inner_text()
        assert page.evaluate("document.documentElement.scrollWidth") <= size["width"]
        screenshot(page, f"trades-console-{viewport}-2-refunded")
    finally:
        context.close()
    assert problems == []
    with database.unit_of_work() as db:
        assert service.get(db, paid.trade_no).refunded_fen == 1_200
