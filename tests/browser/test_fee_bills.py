"""Issue 18, "must show": a fee bill paid by one household member in the cashier and shown as
paid to another member, at phone size (390×844), with no console errors or sideways scrolling."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.browser.conftest import VIEWPORTS, login, pay_with_wallet, screenshot
from tests.community.bills import bill_world as bw
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def _context(browser, problems: list[str]):
    context = browser.new_context(locale="zh-CN", viewport=VIEWPORTS["phone"])
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    return context, page


def _no_sideways(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORTS["phone"]["width"]


def test_a_bill_paid_by_one_member_shows_paid_to_the_other(small_server, database, settings,
                                                           make_user, browser):
    world = bw.build(database, settings, make_user)
    now = datetime.now(UTC)
    period = f"{now.year:04d}-{now.month:02d}"
    fee = bw.issue(database, world, period=period, fen=22343, due=now.date())
    problems: list[str] = []
    context, page = _context(browser, problems)
    try:
        login(page, small_server, world.head.username, PASSWORD)
        page.goto(f"{small_server}/community/{world.com}")
        page.click("#bills-link")
        page.wait_for_url(f"**/community/{world.com}/bills")
        assert "¥223.43" in page.locator("#unpaid-total").inner_text()
        _no_sideways(page)
        screenshot(page, "bills-phone-1-unpaid")
        page.click("#pay-selected")
        pay_with_wallet(page, amount="¥223.43", pin=bw.PIN)
        page.click("#cashier-return")
        page.wait_for_url(f"**/community/{world.com}/bills?paid=**")
        assert page.locator("#bills-paid").is_visible()
        screenshot(page, "bills-phone-2-paid")
    finally:
        context.close()
    context, page = _context(browser, problems)
    try:
        login(page, small_server, world.spouse.username, PASSWORD)
        page.goto(f"{small_server}/community/{world.com}/bills")
        assert page.locator("#no-unpaid").is_visible()
        row = page.locator(f"#bill-{fee}")
        assert "张三" in row.inner_text() and "物业费" in row.inner_text()
        _no_sideways(page)
        screenshot(page, "bills-phone-3-other-member")
    finally:
        context.close()
    assert problems == []
