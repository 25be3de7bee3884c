"""The resident's pages: the cashier (wallet and card, a wrong PIN shown and counted, the return
to the merchant with signed Alipay return parameters), the wallet page (bind, top-up once per
form, PIN), the payment code, the bill and receipts; nobody sees another resident's."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest
from sqlalchemy import func, select

from tests.conftest import PASSWORD
from tests.payments.wallet import pay_world
from townsquare.accounts.models import User
from townsquare.core.clock import clock
from townsquare.gateway.protocol import signing
from townsquare.payments.trades.models import TradeStatus
from townsquare.payments.wallet import payment_codes
from townsquare.payments.wallet import service as wallet
from townsquare.payments.wallet.models import PinFailure


@pytest.fixture
def world(database, settings, make_user):
    return pay_world.build(database, settings, make_user)


def login(client, user) -> None:
    client.cookies.clear()
    response = client.post("/login", data={"username": user.username, "password": PASSWORD},
                           follow_redirects=False)
    assert response.status_code == 303, response.text


def csrf(page_text: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page_text).group(1)


def _trade(database, world, **kw):
    with database.unit_of_work() as db:
        return pay_world.create(db, world[0], **kw).trade_no


def test_the_cashier_pays_from_the_wallet_and_returns_to_the_mini_app(client, database, world):
    trade_no = _trade(database, world)
    login(client, world[0].resident)
    page = client.get(f"/cashier/{trade_no}")
    assert page.status_code == 200
    assert "鲜果时光" in page.text and "¥12.50" in page.text and "苹果 2 斤" in page.text
    assert "模拟银行" in page.text and 'value="wallet" checked' in page.text
    wrong = client.post(f"/cashier/{trade_no}", data={
        "csrf_token": csrf(page.text), "method": "wallet", "payment_pin": "000000"})
    assert wrong.status_code == 403 and "支付密码错误" in wrong.text
    with database.unit_of_work() as db:  # counted once although the request was refused
        assert db.scalar(select(func.count(PinFailure.id))) == 1
    paid = client.post(f"/cashier/{trade_no}", data={
        "csrf_token": csrf(page.text), "method": "wallet", "payment_pin": pay_world.PIN},
        follow_redirects=False)
    assert paid.status_code == 303 and paid.headers["location"] == f"/cashier/{trade_no}/done"
    done = client.get(paid.headers["location"])
    assert "支付成功" in done.text and f'href="/apps/{world[0].miniapp_id}"' in done.text
    assert client.get(f"/cashier/{trade_no}", follow_redirects=False).status_code == 303
    bill = client.get("/me/bill")
    assert "苹果 2 斤" in bill.text and "−¥12.50" in bill.text and "充值" in bill.text
    receipt = client.get(f"/me/bill/pay/{trade_no}")
    assert trade_no in receipt.text and "钱包余额" in receipt.text and "已支付" in receipt.text
    english = client.get(f"/cashier/{_trade(database, world, out_trade_no='T-2')}?lang=en")
    assert "Pay with" in english.text and "Wallet balance" in english.text


def test_page_pay_returns_with_signed_alipay_parameters(client, database, settings, world):
    trade_no = _trade(database, world, product_code="FAST_INSTANT_TRADE_PAY",
                      return_url="https://shop.example/return?from=pay")
    login(client, world[0].resident)
    page = client.get(f"/cashier/{trade_no}")
    client.post(f"/cashier/{trade_no}", data={
        "csrf_token": csrf(page.text), "method": world[1], "payment_pin": pay_world.PIN})
    done = client.get(f"/cashier/{trade_no}/done")
    target = re.search(r'id="cashier-return" href="([^"]+)"', done.text).group(1)
    url = urlsplit(target.replace("&amp;", "&"))
    assert (url.scheme, url.netloc, url.path) == ("https", "shop.example", "/return")
    params = dict(parse_qsl(url.query))
    assert params.pop("from") == "pay"
    assert params["method"] == "alipay.trade.page.pay.return"
    assert (params["trade_no"], params["out_trade_no"], params["total_amount"]) == (
        trade_no, "T-1", "12.50")
    assert params["app_id"] == params["auth_app_id"] == world[0].app_id
    key = signing.load_public_key(world[0].platform_public_key)
    text = signing.string_to_sign(params, exclude=("sign", "sign_type"))
    assert signing.verify(key, text, params["sign"], params["sign_type"])
    with database.unit_of_work() as db:
        trade = pay_world.trades.get(db, trade_no)
        assert trade.status is TradeStatus.TRADE_SUCCESS and trade.fund_channel == "BANKCARD"


def test_a_trade_past_its_timeout_is_not_offered(client, database, world):
    trade_no = _trade(database, world, timeout_minutes=1)
    clock.freeze(clock.now() + timedelta(minutes=2))
    login(client, world[0].resident)
    page = client.get(f"/cashier/{trade_no}")
    assert page.status_code == 409 and 'id="cashier-form"' not in page.text


def test_another_resident_cannot_see_the_payment(client, database, world, make_user):
    trade_no = _trade(database, world)
    stranger = make_user()
    login(client, world[0].resident)
    page = client.get(f"/cashier/{trade_no}")
    client.post(f"/cashier/{trade_no}", data={
        "csrf_token": csrf(page.text), "method": "wallet", "payment_pin": pay_world.PIN})
    login(client, stranger)
    assert client.get(f"/cashier/{trade_no}/done").status_code == 403
    assert client.get(f"/me/bill/pay/{trade_no}").status_code == 404
    assert client.get(f"/cashier/{trade_no}").status_code == 409  # already paid


def test_the_wallet_page_binds_tops_up_once_and_sets_the_pin(client, database, settings,
                                                               make_user):
    user = make_user()
    login(client, user)
    page = client.get("/me/wallet")
    assert page.status_code == 200 and "模拟银行" in page.text and "¥0.00" in page.text
    token = csrf(page.text)
    bad = client.post("/me/wallet/cards", data={"csrf_token": token, "card_number": "1234"})
    assert bad.status_code == 422 and "银行卡号" in bad.text
    client.post("/me/wallet/cards", data={"csrf_token": token,
                                          "card_number": "6217 0000 0000 0000 004"})
    page = client.get("/me/wallet")
    assert "6217 **** **** 0004" in page.text
    card = re.search(r'<option value="(wcd_[^"]+)"', page.text).group(1)
    key = re.search(r'name="key" value="([^"]+)"', page.text).group(1)
    form = {"csrf_token": token, "card": card, "amount": "88.80", "key": key}
    assert client.post("/me/wallet/top-up", data=form, follow_redirects=False).status_code == 303
    client.post("/me/wallet/top-up", data=form)  # the same form sent twice: one top-up
    assert 'data-fen="8880"' in client.get("/me/wallet").text
    refused = client.post("/me/wallet/top-up", data={**form, "key": "k2", "amount": "1.234"})
    assert refused.status_code == 422
    pin = client.post("/me/wallet/pin", data={"csrf_token": token, "password": "nope",
                                              "new_pin": "274159", "again": "274159"})
    assert pin.status_code == 403
    saved = client.post("/me/wallet/pin", data={"csrf_token": token, "password": PASSWORD,
                                                "new_pin": "274159", "again": "274159"},
                        follow_redirects=False)
    assert saved.headers["location"] == "/me/wallet?ok=pin"
    assert "我的钱包" in client.get("/me").text


def test_the_payment_code_page_shows_a_fresh_code_that_resolves_once(
        client, database, settings, world):
    login(client, world[0].resident)
    page = client.get("/me/wallet/code")
    assert page.status_code == 200 and "<svg" in page.text and 'hx-trigger="every 60s"' in page.text
    code = re.search(r'data-code="(\d{18})"', page.text).group(1)
    fresh = re.search(r'data-code="(\d{18})"', client.get("/me/wallet/code/qr").text).group(1)
    assert fresh != code
    with database.unit_of_work() as db:
        payer = payment_codes.resolve(db, settings=settings, auth_code=code)
        assert payer.user.id == world[0].resident.id
        assert isinstance(db.get(User, payer.user.id), User)


def test_the_code_page_chooses_the_card_behind_the_code(client, database, world):
    login(client, world[0].resident)
    page = client.get("/me/wallet/code")
    assert "余额不足时的付款方式" in page.text and "模拟银行 ····0004" in page.text
    done = client.post("/me/wallet/code/card", data={"csrf_token": csrf(page.text),
                                                     "card": world[1]}, follow_redirects=True)
    assert "余额不足时，从模拟银行尾号 0004 的银行卡付款" in done.text
    assert "已保存余额不足时的付款方式" in done.text
    with database.unit_of_work() as db:
        user = db.get(User, world[0].resident.id)
        assert wallet.code_card(db, user=user).public_id == world[1]
    client.post("/me/wallet/code/card", data={"csrf_token": csrf(done.text), "card": ""})
    with database.unit_of_work() as db:
        assert wallet.code_card(db, user=db.get(User, world[0].resident.id)) is None
