"""Both real Alipay SDKs, unmodified, through the gateway over HTTP: precreate → the resident
pays (through the service, as the cashier does) → the merchant's notification verifies with the
SDK → query TRADE_SUCCESS → partial refund → the same refund again (fund_change=N) → the rest →
TRADE_CLOSED; close of an unpaid trade; page/wap pay links built by the SDK open at the gateway
and redirect to the cashier; each business error with Alipay's sub_code."""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import select

from tests.gateway.sdk import run_sdk, sdk_dir, serve_on_port_80
from tests.gateway.test_notifications import Receiver
from tests.payments.trades import trade_world
from townsquare.accounts.models import User
from townsquare.gateway import notify
from townsquare.payments import ledger
from townsquare.payments.ledger import accounts
from townsquare.payments.trades import service
from townsquare.payments.trades.models import Trade, TradeStatus

pytestmark = pytest.mark.parametrize("sdk", ["official", "community"])


@pytest.fixture(scope="module", autouse=True)
def sdks_installed() -> None:
    for name in ("official", "community"):
        sdk_dir(name)


@pytest.fixture
def world(database, settings, make_user):
    return trade_world.build(database, settings, make_user)


@pytest.fixture
def gateway_url(database, settings, world):
    yield from serve_on_port_80(database, settings)


@pytest.fixture
def receiver():
    """The merchant's notify_url: a local server that answers success and keeps each form."""
    made = Receiver([])
    yield made
    made.close()


def _job(world, url, calls):
    return {"server_url": url, "app_id": world.app_id, "private_key": world.private_key,
            "platform_public_key": world.platform_public_key, "calls": calls}


def _calls(sdk, world, url, *calls):
    answers = run_sdk(sdk, _job(world, url, list(calls)))
    for answer in answers:
        assert answer["ok"], answer  # every answer's signature verified in the SDK
    return [a["response"] for a in answers]


def _delivered(database, settings, receiver) -> list[dict[str, str]]:
    """Send the outbox; the forms the merchant's server received since the last time."""
    notify.deliver_due(database, settings)
    forms, receiver.received[:] = list(receiver.received), []
    return forms


def _verified(sdk, world, form) -> bool:
    job = {"notification": form, "app_id": world.app_id, "private_key": world.private_key,
           "platform_public_key": world.platform_public_key}
    [result] = run_sdk(sdk, job)
    return result["verified"]


def test_precreate_pay_notify_query_refunds(sdk, database, settings, world, gateway_url,
                                            receiver):
    [created] = _calls(sdk, world, gateway_url, {
        "method": "alipay.trade.precreate", "params": {"notify_url": receiver.url},
        "biz": {"out_trade_no": "SDK-1", "total_amount": "12.50", "subject": "苹果 {2斤}"}})
    assert created["code"] == "10000", created
    assert created["out_trade_no"] == "SDK-1"
    trade_no = urlsplit(created["qr_code"]).path.rsplit("/", 1)[1]
    assert created["qr_code"] == settings.base_url + "/cashier/" + trade_no
    with database.unit_of_work() as db:  # the resident pays at the cashier
        trade_world.pay(db, trade_no, world.resident.id)
    [paid_notice] = _delivered(database, settings, receiver)
    assert _verified(sdk, world, paid_notice)
    assert paid_notice["notify_type"] == "trade_status_sync"
    assert paid_notice["trade_status"] == "TRADE_SUCCESS" and paid_notice["trade_no"] == trade_no
    assert paid_notice["total_amount"] == "12.50" == paid_notice["buyer_pay_amount"]
    assert paid_notice["app_id"] == world.app_id and paid_notice["notify_id"]
    assert '"fundChannel":"ALIPAYACCOUNT"' in paid_notice["fund_bill_list"]
    assert not _verified(sdk, world, {**paid_notice, "total_amount": "1250.00"})

    ref = {"out_trade_no": "SDK-1"}
    query, part, again, rest, after, refund_query = _calls(
        sdk, world, gateway_url,
        {"method": "alipay.trade.query", "biz": ref},
        {"method": "alipay.trade.refund",
         "biz": {**ref, "refund_amount": "2.50", "out_request_no": "R1"}},
        {"method": "alipay.trade.refund",
         "biz": {**ref, "refund_amount": 2.5, "out_request_no": "R1"}},  # a JSON number
        {"method": "alipay.trade.refund",
         "biz": {"trade_no": trade_no, "refund_amount": "10.00", "out_request_no": "R2"}},
        {"method": "alipay.trade.query", "biz": {"trade_no": trade_no}},
        {"method": "alipay.trade.fastpay.refund.query", "biz": {**ref, "out_request_no": "R1"}},
    )
    assert query["trade_status"] == "TRADE_SUCCESS" and query["total_amount"] == "12.50"
    assert query["buyer_logon_id"] == "138****5678" and query["send_pay_date"]
    assert query["fund_bill_list"] == [{"fund_channel": "ALIPAYACCOUNT", "amount": "12.50",
                                        "real_amount": "12.50"}]
    assert (part["fund_change"], part["refund_fee"], part["send_back_fee"]) == ("Y", "2.50",
                                                                                 "2.50")
    assert (again["code"], again["fund_change"], again["refund_fee"]) == ("10000", "N", "2.50")
    assert (rest["fund_change"], rest["refund_fee"]) == ("Y", "12.50")
    assert after["trade_status"] == "TRADE_CLOSED"
    assert refund_query["refund_amount"] == "2.50"
    assert refund_query["refund_status"] == "REFUND_SUCCESS"
    refund_notices = _delivered(database, settings, receiver)
    assert [(n["trade_status"], n["refund_fee"], n["out_biz_no"]) for n in refund_notices] == [
        ("TRADE_SUCCESS", "2.50", "R1"), ("TRADE_CLOSED", "12.50", "R2")]
    assert all(_verified(sdk, world, n) for n in refund_notices)
    with database.unit_of_work() as db:
        assert ledger.balance(db, accounts.wallet(world.resident.id)) == 100_000
        assert ledger.reconcile(db).sound


def test_close_an_unpaid_trade(sdk, database, world, gateway_url):
    biz = {"out_trade_no": "SDK-2", "total_amount": "8", "subject": "豆浆",
           "timeout_express": "30m"}
    created, closed, query, again = _calls(
        sdk, world, gateway_url, {"method": "alipay.trade.create", "biz": biz},
        {"method": "alipay.trade.close", "biz": {"out_trade_no": "SDK-2"}},
        {"method": "alipay.trade.query", "biz": {"out_trade_no": "SDK-2"}},
        {"method": "alipay.trade.create", "biz": biz},
    )
    assert created["code"] == "10000" and len(created["trade_no"]) == 28
    assert closed["code"] == "10000" and closed["trade_no"] == created["trade_no"]
    assert query["trade_status"] == "TRADE_CLOSED" and query["total_amount"] == "8.00"
    assert (again["code"], again["sub_code"]) == ("40004", "ACQ.TRADE_HAS_CLOSE")


def test_business_errors_carry_alipays_sub_codes(sdk, database, world, gateway_url):
    biz = {"out_trade_no": "SDK-3", "total_amount": "20.00", "subject": "理发"}
    unpaid = {**biz, "out_trade_no": "SDK-U"}
    created, _ = _calls(sdk, world, gateway_url, {"method": "alipay.trade.create", "biz": biz},
                        {"method": "alipay.trade.create", "biz": unpaid})
    with database.unit_of_work() as db:
        trade_world.pay(db, created["trade_no"], world.resident.id)
    ref = {"out_trade_no": "SDK-3"}
    answers = _calls(
        sdk, world, gateway_url,
        {"method": "alipay.trade.query", "biz": {"out_trade_no": "nope"}},
        {"method": "alipay.trade.create", "biz": {**unpaid, "total_amount": "21.00"}},
        {"method": "alipay.trade.create", "biz": {**biz, "out_trade_no": "SDK-4",
                                                  "total_amount": "12.345"}},
        {"method": "alipay.trade.create", "biz": {**biz, "out_trade_no": "SDK-4",
                                                  "total_amount": "-1"}},
        {"method": "alipay.trade.create", "biz": {**biz, "out_trade_no": "SDK-4",
                                                  "total_amount": "100000000.01"}},
        {"method": "alipay.trade.close", "biz": ref},
        {"method": "alipay.trade.refund", "biz": {**ref, "refund_amount": "20.01",
                                                  "out_request_no": "X"}},
        {"method": "alipay.trade.refund", "biz": {**ref, "refund_amount": "0"}},
        {"method": "alipay.trade.query", "biz": {}},
    )
    assert [(a["code"], a["sub_code"]) for a in answers] == [
        ("40004", "ACQ.TRADE_NOT_EXIST"), ("40004", "ACQ.CONTEXT_INCONSISTENT"),
        # a malformed amount fails the method's declared schema before the method runs, with
        # the trade methods' own answer (Field.when_invalid); a well-formed one out of Alipay's
        # range is the method's own refusal
        ("40004", "ACQ.INVALID_PARAMETER"), ("40004", "ACQ.INVALID_PARAMETER"),
        ("40004", "ACQ.INVALID_PARAMETER"),
        ("40004", "ACQ.TRADE_STATUS_ERROR"), ("40004", "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL"),
        ("40004", "ACQ.INVALID_PARAMETER"), ("40004", "ACQ.INVALID_PARAMETER"),
    ]
    assert answers[2]["sub_msg"].startswith("参数 total_amount 无效")
    assert "100000000.01" in answers[4]["sub_msg"]
    [paid_again] = _calls(sdk, world, gateway_url, {"method": "alipay.trade.create", "biz": biz})
    assert paid_again["sub_code"] == "ACQ.TRADE_HAS_SUCCESS"

    with database.unit_of_work() as db:  # the merchant's money withdrawn, then a dispute
        trade = db.scalar(select(Trade).where(Trade.out_trade_no == "SDK-3"))
        held = ledger.balance(db, accounts.merchant_pending(trade.merchant_id))
        ledger.post(db, kind="withdrawal", reference="w",
                    legs={accounts.merchant_pending(trade.merchant_id): -held,
                          accounts.BANK_CLEARING: held})
    refund = {"method": "alipay.trade.refund",
              "biz": {**ref, "refund_amount": "5.00", "out_request_no": "R"}}
    [poor] = _calls(sdk, world, gateway_url, refund)
    assert poor["sub_code"] == "ACQ.SELLER_BALANCE_NOT_ENOUGH"
    with database.unit_of_work() as db:
        service.freeze(db, actor=db.get(User, world.operator.id), trade=trade_world_trade(db),
                       frozen=True)
    frozen, cancel = _calls(sdk, world, gateway_url, refund,
                            {"method": "alipay.trade.cancel", "biz": ref})
    assert frozen["sub_code"] == "ACQ.REASON_TRADE_BEEN_FREEZEN"
    assert cancel["sub_code"] == "ACQ.REASON_TRADE_BEEN_FREEZEN"


def trade_world_trade(db) -> Trade:
    return db.scalar(select(Trade).where(Trade.out_trade_no == "SDK-3"))


def _open_in_browser(built: str) -> httpx.Response:
    """What the resident's browser does with the SDK's output: follow the URL, or submit the
    auto-submitting form."""
    if built.startswith("<form"):
        action = html.unescape(re.search(r'action="([^"]+)"', built)[1])
        fields = {html.unescape(k): html.unescape(v) for k, v in
                  re.findall(r'name="([^"]+)" value="([^"]*)"', built)}
        return httpx.post(action, data=fields, follow_redirects=False)
    return httpx.get(built, follow_redirects=False)


@pytest.mark.parametrize("method", ["alipay.trade.page.pay", "alipay.trade.wap.pay"])
def test_page_and_wap_pay_links_redirect_to_the_cashier(sdk, method, database, world,
                                                        gateway_url):
    calls = [{"method": method, "biz": {"out_trade_no": f"WEB-{i}", "total_amount": "9.90",
                                        "subject": "洗车"},
              "return_url": "https://merchant.example/back", "http_method": verb}
             for i, verb in enumerate(["GET", "POST"] if sdk == "official" else ["GET"])]
    built = run_sdk(sdk, _job(world, gateway_url, calls), script="pages")
    for i, item in enumerate(built):
        opened = _open_in_browser(item["built"])
        assert opened.status_code == 302, opened.text
        trade_no = opened.headers["location"].rsplit("/", 1)[1]
        assert opened.headers["location"] == f"/cashier/{trade_no}"
        with database.unit_of_work() as db:
            trade = service.get(db, trade_no)
            assert trade.out_trade_no == f"WEB-{i}" and trade.total_fen == 990
            assert trade.return_url == "https://merchant.example/back"
            assert trade.status == TradeStatus.WAIT_BUYER_PAY
    tampered = built[0]["built"].replace("9.90", "0.01")
    refused = _open_in_browser(tampered)
    assert refused.status_code == 400 and "isv.invalid-signature" in refused.text
