"""Issue 18's must-show in a real Chromium, with the commission part: a verified resident reports
a repair on the phone, the property manager hands it to the admitted water station (8 %), the
station's staff take it from their merchant console to the phone work page, accept it, go, work
and charge ¥120, the resident pays in the cashier with the wallet and PIN, comes back and
confirms; the property's statement page then lists the repair with the community's ¥9.60
commission, and the merchant's page lists the same line. Screenshots go to
var/screenshots/outside-repair-*.png."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.community import world as cw
from tests.community.services import world as w
from tests.conftest import PASSWORD
from tests.ordering.orders import world as ow
from townsquare.community.repairs.models import RepairTicket, Status
from townsquare.merchants.models import Merchant
from townsquare.payments import ledger
from townsquare.payments.ledger import accounts
from townsquare.payments.ledger.reconciliation import reconcile

from .conftest import login, pay_with_wallet, screenshot, work_repair, zh_page

pytestmark = pytest.mark.browser


def test_an_outside_providers_repair_from_report_to_confirmation_with_commission(
        small_server, database, browser, settings, make_user):
    world = w.build(database, settings, make_user)
    adm, _ = w.admit(database, world, commission_bp=800)
    with database.unit_of_work() as db:
        merchant_id = db.get_one(Merchant, world.water_merchant_id).public_id
    base, com = small_server, world.com
    problems: list[str] = []

    # the resident reports on the phone
    context, page = zh_page(browser, "phone", problems)
    try:
        login(page, base, world.resident.username, PASSWORD)
        page.goto(f"{base}/community/{com}")
        page.click("#repairs-link")
        page.select_option("select[name=category]", "appliance")
        page.fill("input[name=location]", "厨房净水器")
        page.fill("textarea[name=description]", "净水器漏水，滤芯接口滴水。")
        page.click("#repair-report button[type=submit]")
        page.wait_for_selector("#repair[data-status=reported]")
        ticket_url = page.url.split("?")[0]
        ticket_id = ticket_url.rsplit("/", 1)[1]
        screenshot(page, "outside-repair-1-reported")
    finally:
        context.close()

    # the property manager hands it to the admitted water station
    context, page = zh_page(browser, "desktop", problems)
    try:
        login(page, base, world.base.manager.username, PASSWORD)
        page.goto(f"{base}/community/{com}/manage/repairs")
        row = page.locator(f"tr[data-ticket={ticket_id}]")
        row.locator("select[name=provider]").select_option(adm)
        row.locator("button", has_text="转派外部服务商").click()
        page.wait_for_selector("text=已转派给外部服务商。")
        assert "清泉桶装水" in page.locator(f"tr[data-ticket={ticket_id}]").inner_text()
        screenshot(page, "outside-repair-2-handed")
    finally:
        context.close()

    # the station's staff: from the merchant console to the phone work page
    context, page = zh_page(browser, "phone", problems)
    try:
        login(page, base, world.water_staff.username, PASSWORD)
        page.goto(f"{base}/console/merchant/{merchant_id}/communities")
        page.click("a[href='/community/repairs/work']")
        page.click(f"a[data-ticket={ticket_id}]")
        assert "清泉桶装水" in page.locator("#repair-provider").inner_text()
        work_repair(page, price="120", note="更换滤芯接口")
        screenshot(page, "outside-repair-3-provider")
    finally:
        context.close()

    # the resident pays in the cashier and confirms
    context, page = zh_page(browser, "phone", problems)
    try:
        login(page, base, world.resident.username, PASSWORD)
        page.goto(ticket_url)
        assert page.locator("#repair-price").inner_text() == "¥120.00"
        assert "清泉桶装水" in page.locator("#repair-provider").inner_text()
        page.click("#repair-pay")
        pay_with_wallet(page, amount="¥120.00", pin=ow.PIN)
        page.click("#cashier-return")
        page.wait_for_selector("#repair[data-status=done]")
        page.click("#repair-confirm")
        page.wait_for_selector("#repair[data-status=confirmed]")
        screenshot(page, "outside-repair-4-confirmed")
    finally:
        context.close()

    # the property's statement page lists the repair with its commission
    context, page = zh_page(browser, "desktop", problems)
    try:
        login(page, base, world.base.manager.username, PASSWORD)
        page.goto(f"{base}/community/{com}/manage/services")
        line = page.locator(f"tr.commission-line[data-reference={ticket_id}]")
        assert line.get_attribute("data-kind") == "repair"
        text = line.inner_text()
        assert "报修单" in text and "¥120.00" in text and "8%" in text
        assert line.locator("td.commission").inner_text() == "¥9.60"
        assert "¥9.60" in page.locator("#commission-balance").inner_text()
        assert "¥9.60" in page.locator("#commission-totals").inner_text()
        screenshot(page, "outside-repair-5-statement")
    finally:
        context.close()

    # and the merchant's page lists the same line
    context, page = zh_page(browser, "desktop", problems)
    try:
        login(page, base, world.water_staff.username, PASSWORD)
        page.goto(f"{base}/console/merchant/{merchant_id}/communities")
        line = page.locator(f"#merchant-commission tr.commission-line[data-reference={ticket_id}]")
        assert line.locator("td.commission").inner_text() == "¥9.60"
    finally:
        context.close()
    assert problems == []
    with database.unit_of_work() as db:
        ticket = db.scalars(select(RepairTicket).where(
            RepairTicket.public_id == ticket_id)).one()
        assert ticket.status is Status.CONFIRMED and ticket.commission_bp == 800
        community = cw.community(db, com)
        assert ledger.balance(db, accounts.community_commission(community.id)) == 960
        assert reconcile(db).sound
