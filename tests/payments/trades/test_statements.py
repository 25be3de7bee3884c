"""Merchant statements: a closed day's payments and refunds with what went to fees and what the
merchant keeps (agreeing with the ledger), as a console page and CSV, and through
`alipay.data.dataservice.bill.downloadurl.query` (each real SDK) as a 30-second link; an open day
has no statement yet."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.gateway.sdk import run_sdk, sdk_dir, serve_on_port_80
from tests.miniapps.shell_data import browser_login
from tests.payments.trades import trade_world
from townsquare.core.clock import clock
from townsquare.merchants.models import Merchant
from townsquare.payments import ledger
from townsquare.payments.ledger import accounts
from townsquare.payments.trades import service, statements

ZONE = ZoneInfo("Asia/Shanghai")


def _yesterday_trades(database, settings, make_user):
    """Two payments and a partial refund, yesterday (Beijing time)."""
    world = trade_world.build(database, settings, make_user)
    now = clock.now()
    clock.freeze(now - timedelta(days=1))
    with database.unit_of_work() as db:
        one = trade_world.pay(db, trade_world.create(db, world, "S-1", 1_250).trade_no,
                              world.resident.id)
        trade_world.pay(db, trade_world.create(db, world, "S-2", 3_000).trade_no,
                        world.resident.id)
        service.refund(db, trade=one, refund_fen=250, out_request_no="R1")
        merchant = db.get(Merchant, one.merchant_id)
        held = ledger.balance(db, accounts.merchant_pending(merchant.id))
        ids = (merchant.id, merchant.public_id)
    day = clock.now().astimezone(ZONE).date()
    clock.unfreeze()
    return world, ids, day, held


def test_a_days_statement_agrees_with_the_ledger(database, settings, make_user):
    _world, (merchant_id, _), day, held = _yesterday_trades(database, settings, make_user)
    with database.unit_of_work() as db:
        found = statements.build(db, merchant_id=merchant_id, first=day, last=day,
                                 timezone=settings.timezone)
        today = statements.build(db, merchant_id=merchant_id, first=day + timedelta(days=1),
                                 last=day + timedelta(days=1), timezone=settings.timezone)
    assert [(line.kind, line.out_trade_no, line.amount_fen) for line in found.lines] == [
        ("payment", "S-1", 1_250), ("payment", "S-2", 3_000), ("refund", "S-1", -250)]
    totals = found.totals
    assert (totals["payments"], totals["paid_fen"], totals["refunds"],
            totals["refunded_fen"]) == (2, 4_250, 1, 250)
    assert totals["merchant_fen"] == held  # what the merchant keeps is what its funds hold
    assert totals["fees_fen"] + totals["merchant_fen"] == 4_000
    with database.unit_of_work() as db:  # 0.6 % of each payment, part given back with the refund
        assert totals["fees_fen"] == ledger.balance(db, accounts.PLATFORM_FEES) == 8 + 18 - 1
    assert today.lines == []
    text = statements.as_csv(found, merchant_name="鲜果", timezone=settings.timezone)
    assert text.startswith("\ufeff#") and text.count("\n") == 9
    assert ",S-1,退款," in text and "#交易合计 payments: 2笔，42.50元" in text
    assert statements.is_closed(day, settings.timezone)
    assert not statements.is_closed(day + timedelta(days=1), settings.timezone)


def test_console_statement_page_and_csv(client, database, settings, make_user):
    world, (_, public_id), day, _held = _yesterday_trades(database, settings, make_user)
    browser_login(client, world.owner)
    page = client.get(f"/console/merchant/{public_id}/statements").text  # yesterday
    assert "S-2" in page and "¥42.50" in page and "¥2.50" in page
    csv_file = client.get(f"/console/merchant/{public_id}/statements/{day.isoformat()}.csv")
    assert csv_file.headers["content-type"].startswith("text/csv")
    assert "S-1" in csv_file.text
    month = client.get(f"/console/merchant/{public_id}/statements/{day.isoformat()[:7]}.csv")
    assert "S-2" in month.text
    client.cookies.clear()
    browser_login(client, make_user(display_name="路人"))
    assert client.get(f"/console/merchant/{public_id}/statements").status_code in (403, 404)


@pytest.mark.parametrize("sdk", ["official", "community"])
def test_bill_download_url_through_the_sdk(sdk, database, settings, make_user):
    sdk_dir(sdk)
    world, _ids, day, _held = _yesterday_trades(database, settings, make_user)
    served = serve_on_port_80(database, settings)
    gateway = next(served)
    try:
        def ask(bill_date):
            [answer] = run_sdk(sdk, {
                "server_url": gateway, "app_id": world.app_id, "private_key": world.private_key,
                "platform_public_key": world.platform_public_key,
                "calls": [{"method": "alipay.data.dataservice.bill.downloadurl.query",
                           "biz": {"bill_type": "trade", "bill_date": bill_date}}]})
            assert answer["ok"], answer
            return answer["response"]

        found = ask(day.isoformat())
        assert found["code"] == "10000", found
        url = found["bill_download_url"]
        base = gateway.removesuffix("/gateway.do")
        assert url.startswith(settings.base_url + "/payments/bills/")
        fetched = httpx.get(base + url.removeprefix(settings.base_url))
        assert fetched.status_code == 200 and ",S-2,交易," in fetched.text
        today = ask((day + timedelta(days=1)).isoformat())
        assert (today["code"], today["sub_code"]) == ("40004", "isp.bill_not_exist")
        bad = ask("2026/12/01")
        assert (bad["code"], bad["sub_code"]) == ("40002", "isv.invalid-parameter")
        clock.freeze(clock.now() + timedelta(seconds=statements.LINK_SECONDS + 1))
        expired = httpx.get(base + url.removeprefix(settings.base_url))
        assert expired.status_code == 404
        forged = re.sub(r"\.[^.]+\.csv$", ".AAAA.csv", url)
        clock.unfreeze()
        assert httpx.get(base + forged.removeprefix(settings.base_url)).status_code == 404
    finally:
        served.close()
