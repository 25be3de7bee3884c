"""A repair from report to confirmation in a real Chromium (issue 18's must-show, without the
commission part, which belongs to the marketplace): the resident reports with a photo, the
property manager assigns a technician, the technician moves it along on the phone page and
charges ¥80, the resident pays in the cashier from the wallet with the PIN, comes back to the
ticket and confirms."""

from __future__ import annotations

import pytest

from tests.community.repairs import world as repair_world
from tests.conftest import PASSWORD
from tests.ordering.orders.world import PIN
from townsquare.community.repairs.models import Status
from townsquare.core.settings import Settings
from townsquare.payments.trades import service as trades
from townsquare.payments.trades.models import TradeStatus

from .conftest import login, pay_with_wallet, screenshot, work_repair, zh_page

pytestmark = pytest.mark.browser
SECRET = "browser-test-secret-key"  # the served app's (conftest._serve)


def test_a_repair_from_report_to_payment_to_confirmation(
        small_server, database, make_user, browser, tmp_path):
    settings = Settings(data_dir=tmp_path, database_url=database.url, secret_key=SECRET)
    world = repair_world.build(database, settings, make_user)
    base, com = small_server, world.com
    problems: list[str] = []

    # the resident reports, with a photo, on the phone
    context, page = zh_page(browser, "phone", problems)
    try:
        login(page, base, world.head.username, PASSWORD)
        page.goto(f"{base}/community/{com}")
        page.click("#repairs-link")
        page.select_option("select[name=category]", "plumbing")
        page.fill("input[name=location]", "厨房水槽下")
        page.fill("textarea[name=description]", "水管接口漏水，地面有积水。")
        page.set_input_files("input[name=photo]", files=[
            {"name": "leak.jpg", "mimeType": "image/jpeg", "buffer": repair_world.jpeg()}])
        page.click("#repair-report button[type=submit]")
        page.wait_for_selector("#repair[data-status=reported]")
        assert "报修已提交" in page.content()
        ticket_url = page.url.split("?")[0]
        ticket_id = ticket_url.rsplit("/", 1)[1]
        assert page.evaluate("document.querySelector('.photos img').naturalWidth") > 0
        screenshot(page, "repair-1-reported")
    finally:
        context.close()

    # the property manager assigns the technician
    context, page = zh_page(browser, "desktop", problems)
    try:
        login(page, base, world.manager.username, PASSWORD)
        page.goto(f"{base}/community/{com}/manage")
        page.click(f"a[href='/community/{com}/manage/repairs']")
        row = page.locator(f"tr[data-ticket={ticket_id}]")
        row.locator("select[name=technician]").select_option("tech")
        row.locator("button", has_text="派单").click()
        page.wait_for_selector("text=已分派维修师傅")
        screenshot(page, "repair-2-assigned")
    finally:
        context.close()

    # the technician, on the phone page: accept, on the way, start, done with a charge
    context, page = zh_page(browser, "phone", problems)
    try:
        login(page, base, world.technician.username, PASSWORD)
        page.goto(f"{base}/community/staff")
        page.click("a[href='/community/repairs/work']")
        page.click(f"a[data-ticket={ticket_id}]")
        work_repair(page, price="80", note="更换了角阀")
        screenshot(page, "repair-3-technician")
    finally:
        context.close()

    # the resident pays in the cashier and confirms
    context, page = zh_page(browser, "phone", problems)
    try:
        login(page, base, world.head.username, PASSWORD)
        page.goto(ticket_url)
        assert page.locator("#repair-price").inner_text() == "¥80.00"
        page.click("#repair-pay")
        trade_no = pay_with_wallet(page, amount="¥80.00", pin=PIN)
        screenshot(page, "repair-4-paid")
        page.click("#cashier-return")
        page.wait_for_selector("#repair[data-status=done]")
        page.click("#repair-confirm")
        page.wait_for_selector("#repair[data-status=confirmed]")
        screenshot(page, "repair-5-confirmed")
    finally:
        context.close()
    assert problems == []
    with database.unit_of_work() as db:
        assert trades.get(db, trade_no).status is TradeStatus.TRADE_SUCCESS
        assert repair_world.ticket(db, ticket_id).status is Status.CONFIRMED
