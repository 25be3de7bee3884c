"""The fee bill pages: a member pays the chosen bills through the cashier and the other member
sees them paid; outsiders see nothing; the property's console page, import report, rules and
CSV export; reminders subscription."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from tests.community import world as w
from tests.community.bills import bill_world as bw
from tests.miniapps.shell_data import browser_login
from townsquare.accounts.models import User
from townsquare.community.bills import service as bills
from townsquare.community.bills.models import Bill
from townsquare.core.clock import clock
from townsquare.messaging.models import Subscription


@pytest.fixture
def world(database, settings, make_user):
    clock.freeze(datetime(2026, 12, 7, 2, 0, tzinfo=UTC))
    return bw.build(database, settings, make_user)


def csrf(text: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', text)
    assert found
    return found.group(1)


def test_a_member_pays_in_the_cashier_and_the_other_sees_it_paid(client, database, world):
    fee = bw.issue(database, world)
    water = bw.issue(database, world, item="水费", fen=3850)
    browser_login(client, world.head)
    home = client.get(f"/community/{world.com}")
    assert f"/community/{world.com}/bills" in home.text
    page = client.get(f"/community/{world.com}/bills")
    assert page.status_code == 200
    assert "¥261.93" in page.text and "逾期" in page.text
    request_id = re.search(r'name="request_id" value="([^"]+)"', page.text).group(1)
    form = {"csrf_token": csrf(page.text), "request_id": request_id, "bill": [fee, water]}
    sent = client.post(f"/community/{world.com}/bills/pay", data=form, follow_redirects=False)
    assert sent.status_code == 303 and sent.headers["location"].startswith("/cashier/")
    trade_no = sent.headers["location"].rsplit("/", 1)[1]
    again = client.post(f"/community/{world.com}/bills/pay", data=form, follow_redirects=False)
    assert again.headers["location"] == sent.headers["location"]  # sent twice: one trade
    cashier = client.get(f"/cashier/{trade_no}")
    assert "¥261.93" in cashier.text or "261.93" in cashier.text
    paid = client.post(f"/cashier/{trade_no}", data={
        "csrf_token": csrf(cashier.text), "method": "wallet", "payment_pin": bw.PIN},
        follow_redirects=False)
    assert paid.status_code == 303 and paid.headers["location"].endswith("/done")
    client.cookies.clear()
    browser_login(client, world.spouse)
    other = client.get(f"/community/{world.com}/bills")
    assert 'id="no-unpaid"' in other.text
    paid_rows = other.text.split('id="paid-bills"')[1]
    assert "张三" in paid_rows and "物业费" in paid_rows and "水费" in paid_rows


def test_the_cashier_refuses_a_bill_another_member_paid_meanwhile(client, database, settings,
                                                                  world):
    fee = bw.issue(database, world)
    browser_login(client, world.spouse)
    page = client.get(f"/community/{world.com}/bills")
    sent = client.post(f"/community/{world.com}/bills/pay", data={
        "csrf_token": csrf(page.text), "request_id": "r1", "bill": [fee]},
        follow_redirects=False)
    trade_no = sent.headers["location"].rsplit("/", 1)[1]
    with database.unit_of_work() as db:
        first = bills.pay(db, actor=db.get_one(User, world.head.id),
                          community=w.community(db, world.com), bill_ids=[fee],
                          idempotency_key="x").trade_no
    bw.pay_in_cashier(database, settings, world.head, first)
    cashier = client.get(f"/cashier/{trade_no}")
    refused = client.post(f"/cashier/{trade_no}", data={
        "csrf_token": csrf(cashier.text), "method": "wallet", "payment_pin": bw.PIN})
    assert refused.status_code == 409
    assert "其他家庭成员" in refused.text


def test_outsiders_see_no_bills(client, database, world, make_user):
    fee = bw.issue(database, world)
    browser_login(client, world.neighbour)
    page = client.get(f"/community/{world.com}/bills")
    assert page.status_code == 200 and fee not in page.text
    refused = client.post(f"/community/{world.com}/bills/pay", data={
        "csrf_token": csrf(page.text), "request_id": "r", "bill": [fee]})
    assert refused.status_code == 404
    client.cookies.clear()
    browser_login(client, make_user(username="nobody"))
    assert client.get(f"/community/{world.com}/bills").status_code == 403


def test_the_property_console_imports_reports_and_exports(client, database, world):
    browser_login(client, world.base.committee)
    assert client.get(f"/community/{world.com}/manage/bills").status_code == 403
    assert client.get(f"/community/{world.com}/manage/bills.csv").status_code == 403
    client.cookies.clear()
    browser_login(client, world.base.manager)
    page = client.get(f"/community/{world.com}/manage/bills")
    assert page.status_code == 200 and 'id="bill-figures"' in page.text
    dashboard = client.get(f"/community/{world.com}/manage?page=dashboard")
    assert f"/community/{world.com}/manage/bills" in dashboard.text
    token = csrf(page.text)
    bad = "房号,项目,账期,金额(元),缴费截止日\n9-9-9,物业费,2026-11,1,2026-11-15\n"
    refused = client.post(f"/community/{world.com}/manage/bills/import",
                          data={"csrf_token": token},
                          files={"file": ("bills.csv", bad.encode(), "text/csv")})
    assert refused.status_code == 422
    assert 'id="bills-import-problems"' in refused.text and "9-9-9" in refused.text
    good = "房号,项目,账期,金额(元),缴费截止日\n1-1-101,物业费,2026-11,223.43,2026-11-15\n"
    done = client.post(f"/community/{world.com}/manage/bills/import",
                       data={"csrf_token": token},
                       files={"file": ("bills.csv", good.encode(), "text/csv")})
    assert done.status_code == 200 and 'id="bills-import-report"' in done.text
    saved = client.post(f"/community/{world.com}/manage/bills/rules", data={
        "csrf_token": token, "item": "物业费", "kind": "per_m2", "rate": "2.50",
        "building": "", "due_days": "15"}, follow_redirects=False)
    assert saved.status_code == 303
    rules = client.get(f"/community/{world.com}/manage/bills")
    rule_id = re.search(r"/rules/(brl_[^/]+)/issue", rules.text).group(1)
    run = client.post(f"/community/{world.com}/manage/bills/rules/{rule_id}/issue",
                      data={"csrf_token": token, "period": "2026-12"})
    assert run.status_code == 200 and "2-1-101" in run.text  # no area: named, not billed
    with database.unit_of_work() as db:
        assert len(list(db.scalars(select(Bill)))) == 3
    csv = client.get(f"/community/{world.com}/manage/bills.csv")
    assert csv.status_code == 200 and csv.content.startswith("\ufeff".encode())
    lines = csv.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("账期,项目,账单数,已缴数,已收(元),未收(元)")
    assert "2026-12,物业费,2,0,0.00,523.43,0,0.00" in lines
    assert "2026-11,物业费,1,0,0.00,223.43,1,223.43" in lines


def test_a_member_subscribes_to_overdue_reminders(client, database, world):
    browser_login(client, world.head)
    page = client.get(f"/community/{world.com}/bills")
    done = client.post(f"/community/{world.com}/bills/reminders",
                       data={"csrf_token": csrf(page.text)}, follow_redirects=False)
    assert done.status_code == 303
    with database.unit_of_work() as db:
        assert db.scalar(select(Subscription.user_id)) == world.head.id


def test_the_property_writes_a_bill_off_on_its_console(client, database, world):
    fee = bw.issue(database, world)
    browser_login(client, world.base.manager)
    page = client.get(f"/community/{world.com}/manage/bills")
    assert f"/manage/bills/{fee}/write-off" in page.text
    empty = client.post(f"/community/{world.com}/manage/bills/{fee}/write-off",
                        data={"csrf_token": csrf(page.text), "reason": ""},
                        follow_redirects=False)
    assert empty.status_code == 422 and "核销原因" in empty.text
    done = client.post(f"/community/{world.com}/manage/bills/{fee}/write-off",
                       data={"csrf_token": csrf(page.text), "reason": "重复开具"},
                       follow_redirects=False)
    assert done.status_code == 303
    after = client.get(done.headers["location"])
    assert "账单已核销" in after.text and "重复开具" in after.text
    assert f"/manage/bills/{fee}/write-off" not in after.text  # not offered twice
    # the household sees it written off and nothing to pay
    client.cookies.clear()
    browser_login(client, world.spouse)
    mine = client.get(f"/community/{world.com}/bills")
    assert 'id="written-off-bills"' in mine.text and "重复开具" in mine.text
    assert 'id="no-unpaid"' in mine.text
    # a household member cannot write off
    assert client.post(f"/community/{world.com}/manage/bills/{fee}/write-off",
                       data={"csrf_token": csrf(mine.text), "reason": "x"},
                       follow_redirects=False).status_code in (403, 404)
