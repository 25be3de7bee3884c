"""The merchant's trades console: search and filters, a trade with its refunds, a refund from
the console under the same rules as the gateway (a form sent twice refunds once, too much is
refused beside the form); outsiders see nothing; the operator looks a trade up and freezes it."""

from __future__ import annotations

import re

from tests.miniapps.shell_data import browser_login
from tests.payments.trades import trade_world
from townsquare.merchants.models import Merchant
from townsquare.payments import ledger
from townsquare.payments.ledger import accounts
from townsquare.payments.trades import service
from townsquare.payments.trades.models import TradeStatus


def _setup(database, settings, make_user):
    world = trade_world.build(database, settings, make_user)
    with database.unit_of_work() as db:
        apples = trade_world.create(db, world, "ORD-1", 1_250, subject="苹果 2 斤")
        trade_world.pay(db, apples.trade_no, world.resident.id)
        trade_world.create(db, world, "ORD-2", 800, subject="香蕉")
        app = trade_world.app_of(db, world)
        merchant = db.get(Merchant, app.miniapp.merchant_id).public_id
    return world, merchant, apples.trade_no


def test_trades_list_filters_and_refund(client, database, settings, make_user):
    world, merchant, trade_no = _setup(database, settings, make_user)
    csrf = browser_login(client, world.owner)
    base = f"/console/merchant/{merchant}/trades"
    page = client.get(base).text
    assert "ORD-1" in page and "ORD-2" in page and "共 2 笔交易" in page
    assert "已付款 ¥12.50" in page
    paid_only = client.get(base, params={"status": "TRADE_SUCCESS"}).text
    assert "ORD-1" in paid_only and "ORD-2" not in paid_only
    searched = client.get(base, params={"q": "香蕉"}).text
    assert "ORD-2" in searched and "ORD-1" not in searched
    assert client.get(base, params={"since": "yesterday"}).status_code == 422

    detail = client.get(f"{base}/{trade_no}").text
    key = re.search(r'name="request_key" value="([^"]+)"', detail).group(1)
    assert "还可退款 ¥12.50" in detail
    form = {"csrf_token": csrf, "request_key": key, "amount": "2.50", "reason": "少了一个"}
    done = client.post(f"{base}/{trade_no}/refund", data=form, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].endswith("ok=refunded")
    again = client.post(f"{base}/{trade_no}/refund", data=form, follow_redirects=False)
    assert again.headers["location"].endswith("ok=repeated")  # the same form: refunded once
    too_much = client.post(f"{base}/{trade_no}/refund",
                           data={**form, "request_key": key + "x", "amount": "10.01"})
    assert too_much.status_code == 409 and "退款金额超限" in too_much.text
    shown = client.get(f"{base}/{trade_no}?ok=refunded").text
    assert "已退款。" in shown and "少了一个" in shown and "还可退款 ¥10.00" in shown
    with database.unit_of_work() as db:
        trade = service.get(db, trade_no)
        assert trade.refunded_fen == 250 and trade.status == TradeStatus.TRADE_SUCCESS
        assert ledger.balance(db, accounts.wallet(world.resident.id)) == 100_000 - 1_000
    english = client.get(base + "?lang=en").text
    assert "2 trades; paid ¥12.50, refunded ¥2.50" in english


def test_outsiders_and_the_operators_lookup(client, database, settings, make_user):
    world, merchant, trade_no = _setup(database, settings, make_user)
    stranger = make_user(display_name="路人")
    csrf = browser_login(client, stranger)
    base = f"/console/merchant/{merchant}/trades"
    assert client.get(base).status_code in (403, 404)
    assert client.post(f"{base}/{trade_no}/refund", data={
        "csrf_token": csrf, "request_key": "abcdefgh12", "amount": "1.00"}).status_code in (403,
                                                                                          404)
    assert client.get("/console/operator/trades").status_code == 403
    client.cookies.clear()
    csrf = browser_login(client, world.operator)
    found = client.get("/console/operator/trades", params={"q": "ORD-1"}).text
    assert trade_no in found and "苹果 2 斤" in found
    frozen = client.post(f"/console/operator/trades/{trade_no}/freeze",
                         data={"csrf_token": csrf, "frozen": "1", "note": "争议"},
                         follow_redirects=True).text
    assert "交易已冻结" in frozen
    with database.unit_of_work() as db:
        trade = service.get(db, trade_no)
        assert trade.frozen
    client.cookies.clear()
    owner_csrf = browser_login(client, world.owner)
    detail = client.get(f"{base}/{trade_no}").text
    key = re.search(r'name="request_key" value="([^"]+)"', detail).group(1)
    refused = client.post(f"{base}/{trade_no}/refund", data={
        "csrf_token": owner_csrf, "request_key": key, "amount": "1.00"})
    assert refused.status_code == 409 and "当前交易被冻结" in refused.text
