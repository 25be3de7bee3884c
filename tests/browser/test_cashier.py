"""The cashier and the payment code as a resident meets them, in a real Chromium at phone and
desktop sizes: a page-pay trade is opened in the cashier, paid from the wallet with the PIN,
and the browser lands on the merchant's return page with parameters that verify with the
platform's public key; the payment code's QR, read from a screenshot by zxing-cpp, is the code
the server issued and pays at a till."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import pytest
import zxingcpp
from PIL import Image

from townsquare.core.settings import Settings
from townsquare.gateway.protocol import signing
from townsquare.payments.trades import service as trades
from townsquare.payments.trades.models import TradeStatus
from townsquare.payments.wallet import payment_codes

from ..payments.wallet import pay_world
from .conftest import VIEWPORTS, login, screenshot

pytestmark = pytest.mark.browser
SECRET = "browser-test-secret-key"  # the served app's (conftest._serve)


@pytest.fixture
def merchant_site() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """The merchant's own web site: its return page records what the browser brought."""
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            seen.append(dict(parse_qsl(urlsplit(self.path).query)))
            body = "<!doctype html><meta charset=utf-8><h1>商户：支付结果已收到</h1>".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()


def _world(database, tmp_path, make_user):
    settings = Settings(data_dir=tmp_path, database_url=database.url, secret_key=SECRET)
    return settings, pay_world.build(database, settings, make_user)


@pytest.mark.parametrize("viewport", sorted(VIEWPORTS))
def test_a_resident_pays_in_the_cashier_and_lands_on_the_return_page(
        small_server, database, make_user, browser, tmp_path, merchant_site, viewport):
    settings, (world, _card) = _world(database, tmp_path, make_user)
    site, seen = merchant_site
    with database.unit_of_work() as db:
        trade_no = pay_world.create(db, world, "WEB-1", 3_650, subject="有机蔬菜礼盒",
                                    product_code="QUICK_WAP_WAY",
                                    return_url=f"{site}/pay/return").trade_no
    size = VIEWPORTS[viewport]
    context = browser.new_context(locale="zh-CN", viewport=size)
    problems: list[str] = []
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        login(page, small_server, world.resident.username, pay_world.PASSWORD)
        page.goto(f"{small_server}/cashier/{trade_no}")
        assert page.locator("#cashier-payee").inner_text() == "鲜果时光"
        assert page.locator("#cashier-title").inner_text() == "¥36.50"
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= size["width"], "the cashier scrolls sideways"
        page.check("input[name=method][value=wallet]")
        page.fill("#payment-pin", pay_world.PIN)
        screenshot(page, f"cashier-{viewport}-1-pay")
        page.click("#cashier-pay")
        page.wait_for_url(f"**/cashier/{trade_no}/done")
        assert "支付成功" in page.locator("#done-title").inner_text()
        screenshot(page, f"cashier-{viewport}-2-done")
        page.click("#cashier-return")
        page.wait_for_url(f"{site}/pay/return?**")
        assert "支付结果已收到" in page.content()
        screenshot(page, f"cashier-{viewport}-3-returned")
    finally:
        context.close()
    assert problems == []
    params = next(p for p in seen if "trade_no" in p)  # (the browser also asks for a favicon)
    assert params["method"] == "alipay.trade.wap.pay.return"
    assert (params["trade_no"], params["out_trade_no"], params["total_amount"]) == (
        trade_no, "WEB-1", "36.50")
    key = signing.load_public_key(world.platform_public_key)
    text = signing.string_to_sign(params, exclude=("sign", "sign_type"))
    assert signing.verify(key, text, params["sign"], params["sign_type"])
    with database.unit_of_work() as db:
        assert trades.get(db, trade_no).status is TradeStatus.TRADE_SUCCESS


@pytest.mark.parametrize("viewport", sorted(VIEWPORTS))
def test_the_payment_code_on_the_page_scans_to_the_issued_code(
        small_server, database, make_user, browser, tmp_path, viewport):
    settings, (world, _card) = _world(database, tmp_path, make_user)
    size = VIEWPORTS[viewport]
    context = browser.new_context(locale="zh-CN", viewport=size)
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        login(page, small_server, world.resident.username, pay_world.PASSWORD)
        page.goto(f"{small_server}/me")
        page.click("#me-wallet")
        assert page.locator("#wallet-balance").get_attribute("data-fen") == "100000"
        assert page.evaluate("document.documentElement.scrollWidth") <= size["width"]
        screenshot(page, f"wallet-{viewport}")
        page.click("#pay-code-link")
        qr = page.locator("#pay-qr svg.qr")
        qr.wait_for()
        issued = page.locator("#pay-qr").get_attribute("data-code") or ""
        box = qr.bounding_box()
        assert box and box["width"] >= 200 and abs(box["width"] - box["height"]) < 1
        assert box["x"] >= 0 and box["x"] + box["width"] <= size["width"]
        page.wait_for_load_state("networkidle")
        shot = screenshot(page, f"payment-code-{viewport}")
        assert page.locator("#pay-qr").get_attribute("data-code") == issued
    finally:
        context.close()
    decoded = zxingcpp.read_barcodes(Image.open(shot))
    assert [(d.format, d.text) for d in decoded] == [(zxingcpp.BarcodeFormat.QRCode, issued)]
    with database.unit_of_work() as db:
        payer = payment_codes.resolve(db, settings=settings, auth_code=decoded[0].text)
        assert payer.user.id == world.resident.id


def test_a_mini_app_hands_its_trade_to_the_cashier_and_gets_the_resident_back(
        small_server, database, make_user, browser, tmp_path):
    """alipay.trade.create's trade_no, handed over as my.tradePay does (a postMessage from the
    framed mini-app): the shell opens the cashier, and after paying the resident is back in the
    mini-app."""
    settings, (world, card) = _world(database, tmp_path, make_user)
    with database.unit_of_work() as db:
        trade_no = pay_world.create(db, world, "APP-1", 990, subject="鲜榨橙汁").trade_no
    context = browser.new_context(locale="zh-CN", viewport=VIEWPORTS["phone"])
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        login(page, small_server, world.resident.username, pay_world.PASSWORD)
        page.goto(f"{small_server}/apps/{world.miniapp_id}")
        page.frame_locator("#miniapp-frame").locator("body").wait_for()
        framed = next(f for f in page.frames if f != page.main_frame)
        framed.evaluate("no => window.parent.postMessage("
                        "{type: 'townsquare.tradePay', tradeNO: no}, '*')", trade_no)
        page.wait_for_url(f"**/cashier/{trade_no}")
        page.check(f"input[name=method][value={card}]")  # this time from the card
        page.fill("#payment-pin", pay_world.PIN)
        page.click("#cashier-pay")
        page.wait_for_url(f"**/cashier/{trade_no}/done")
        page.click("#cashier-return")
        page.wait_for_url(f"{small_server}/apps/{world.miniapp_id}")
        screenshot(page, "cashier-phone-4-back-in-the-mini-app")
    finally:
        context.close()
    with database.unit_of_work() as db:
        trade = trades.get(db, trade_no)
        assert trade.status is TradeStatus.TRADE_SUCCESS and trade.fund_channel == "BANKCARD"
