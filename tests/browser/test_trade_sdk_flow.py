"""The whole trade as the issue asks to see it, with each real Alipay SDK and a real browser:
the merchant's backend precreates through the gateway (SDK), the resident opens the QR code's
address on a phone-sized Chromium and pays in the cashier with the PIN, the merchant's
notification verifies with the SDK, the SDK's query says TRADE_SUCCESS, a partial refund, the
same refund again (fund_change=N), the rest, and the trade is TRADE_CLOSED."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.gateway.sdk import run_sdk, sdk_dir, serve_on_port_80
from tests.gateway.test_notifications import Receiver
from tests.payments.wallet import pay_world
from townsquare.gateway import notify
from townsquare.payments import ledger
from townsquare.payments.ledger import accounts

from .conftest import VIEWPORTS, login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("sdk", ["official", "community"])]


@pytest.fixture(scope="module", autouse=True)
def sdks_installed() -> None:
    for name in ("official", "community"):
        sdk_dir(name)


def _job(world, url, calls):
    return {"server_url": url, "app_id": world.app_id, "private_key": world.private_key,
            "platform_public_key": world.platform_public_key, "calls": calls}


def _calls(sdk, world, url, *calls):
    answers = run_sdk(sdk, _job(world, url, list(calls)))
    assert all(a["ok"] for a in answers), answers  # each answer's signature checked by the SDK
    return [a["response"] for a in answers]


@pytest.fixture
def receiver():
    """The merchant's notify_url: a local server that answers success and keeps each form."""
    made = Receiver([])
    yield made
    made.close()


def _notifications(database, settings, sdk, world, receiver):
    """The outbox sent as the merchant's server receives it, each checked with the SDK."""
    notify.deliver_due(database, settings)
    forms, receiver.received[:] = list(receiver.received), []
    for form in forms:
        [checked] = run_sdk(sdk, {"notification": form, "app_id": world.app_id,
                                  "private_key": world.private_key,
                                  "platform_public_key": world.platform_public_key})
        assert checked["verified"], form
    return forms


def test_precreate_pay_in_the_browser_notify_query_refund(sdk, database, settings, make_user,
                                                          browser, receiver):
    world, _card = pay_world.build(database, settings, make_user)
    served = serve_on_port_80(database, settings)
    gateway = next(served)
    base = gateway.removesuffix("/gateway.do")
    try:
        [created] = _calls(sdk, world, gateway, {
            "method": "alipay.trade.precreate",
            "params": {"notify_url": receiver.url},
            "biz": {"out_trade_no": "E2E-1", "total_amount": "36.50",
                    "subject": "有机蔬菜礼盒", "timeout_express": "15m"}})
        assert created["code"] == "10000", created
        path = urlsplit(created["qr_code"]).path  # what the resident's phone opens
        trade_no = path.rsplit("/", 1)[1]

        context = browser.new_context(locale="zh-CN", viewport=VIEWPORTS["phone"])
        problems: list[str] = []
        try:
            page = context.new_page()
            page.set_default_timeout(15_000)
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            login(page, base, world.resident.username, pay_world.PASSWORD)
            page.goto(base + path)
            assert page.locator("#cashier-title").inner_text() == "¥36.50"
            page.check("input[name=method][value=wallet]")
            page.fill("#payment-pin", pay_world.PIN)
            page.click("#cashier-pay")
            page.wait_for_url(f"**/cashier/{trade_no}/done")
            screenshot(page, f"trade-{sdk}-paid")
        finally:
            context.close()
        assert problems == []

        [paid] = _notifications(database, settings, sdk, world, receiver)
        assert (paid["trade_status"], paid["out_trade_no"], paid["total_amount"]) == (
            "TRADE_SUCCESS", "E2E-1", "36.50")
        ref = {"out_trade_no": "E2E-1"}
        query, part, again, rest, closed = _calls(
            sdk, world, gateway,
            {"method": "alipay.trade.query", "biz": ref},
            {"method": "alipay.trade.refund",
             "biz": {**ref, "refund_amount": "6.50", "out_request_no": "R1"}},
            {"method": "alipay.trade.refund",
             "biz": {**ref, "refund_amount": "6.50", "out_request_no": "R1"}},
            {"method": "alipay.trade.refund",
             "biz": {**ref, "refund_amount": "30.00", "out_request_no": "R2"}},
            {"method": "alipay.trade.query", "biz": ref},
        )
    finally:
        served.close()
    assert query["trade_status"] == "TRADE_SUCCESS" and query["buyer_pay_amount"] == "36.50"
    assert (part["fund_change"], again["fund_change"], rest["fund_change"]) == ("Y", "N", "Y")
    assert (part["refund_fee"], again["refund_fee"], rest["refund_fee"]) == ("6.50", "6.50",
                                                                             "36.50")
    assert closed["trade_status"] == "TRADE_CLOSED"
    refunds = _notifications(database, settings, sdk, world, receiver)
    assert [(n["trade_status"], n["refund_fee"]) for n in refunds] == [
        ("TRADE_SUCCESS", "6.50"), ("TRADE_CLOSED", "36.50")]
    with database.unit_of_work() as db:
        assert ledger.balance(db, accounts.wallet(world.resident.id)) == 100_000
        assert ledger.reconcile(db).sound
