"""The merchant's order console in Chromium: the board receives a new paid order without a
reload (and beeps once the sound is switched on), the merchant accepts it and marks it ready
with the board's buttons, and the counter's scanner reads the resident's pickup QR from a (fake)
camera and hands the order over. Screenshots of the board, the ticket and the kitchen display go
to var/screenshots/.

The camera plays a .y4m clip of the segno QR of the order's signed pickup code, made as the gate
test makes its clip (test_gate_camera.write_y4m)."""

from __future__ import annotations

import pytest

from tests.ordering import conftest as ordering_fixtures
from tests.ordering.orders import world as w
from townsquare.accounts.models import User
from townsquare.core.settings import Settings
from townsquare.ordering import orders

from .conftest import CHROMIUM, CHROMIUM_ARGS, login, screenshot
from .test_gate_camera import write_y4m

pytestmark = pytest.mark.browser
shop = ordering_fixtures.shop  # tests/ordering's shop fixture, for the world below
SERVER_SETTINGS = Settings(secret_key="browser-test-secret-key")  # as the test server signs


@pytest.fixture
def world(database, settings, shop, make_user):
    return w.build(database, settings, shop, make_user)


def paid(database, settings, world, user, *, key, note="", quantity=2) -> str:
    with database.unit_of_work() as db:
        order = w.place(db, world, user, key=key, note=note, quantity=quantity,
                        settings=settings)
        ord_id, trade_no = order.public_id, order.trade_no
    w.pay(database, settings, user, trade_no)
    return ord_id


def state(database, ord_id) -> str:
    with database.unit_of_work() as db:
        return w.order(db, ord_id).status.value


def test_the_board_takes_an_order_from_payment_to_the_counter(
        database, settings, world, small_server, browser, page, tmp_path):
    base = f"{small_server}/console/merchant/{world.shop.merchant}"
    earlier = paid(database, settings, world, world.other, key="early", note="多给点葱")
    with database.unit_of_work() as db:
        orders.accept(db, actor=db.get_one(User, world.shop.owner.id), order_id=earlier)
    login(page, small_server, world.shop.owner.username, w.PASSWORD)
    page.goto(f"{base}/orders")
    page.wait_for_selector("#order-board[data-live='1']")
    page.click("#sound-toggle")
    page.wait_for_selector("#order-board[data-sound='on']")
    assert page.locator("[data-column=new] [data-order]").count() == 0
    beeps = int(page.get_attribute("#order-board", "data-beeps") or 0)

    # a resident pays: the card appears in "new" without a reload, with a beep
    ord_id = paid(database, settings, world, world.resident, key="live", note="少放辣")
    card = page.locator(f"[data-column=new] [data-order='{ord_id}']")
    card.wait_for()
    assert "A002" in card.inner_text() and "少放辣" in card.inner_text()
    assert int(page.get_attribute("#order-board", "data-beeps")) == beeps + 1
    screenshot(page, "order-console-board")

    # accept, then ready, with the board's buttons (the page is never reloaded)
    page.evaluate("window.__same_page = true")
    card.locator("form[data-action=accept] button").click()
    moved = page.locator(f"[data-column=preparing] [data-order='{ord_id}']")
    moved.wait_for()
    moved.locator("form[data-action=ready] button").click()
    page.locator(f"[data-column=ready] [data-order='{ord_id}']").wait_for()
    assert state(database, ord_id) == "ready"
    assert page.evaluate("window.__same_page") is True
    # a change made on another device shows up too
    with database.unit_of_work() as db:
        orders.ready(db, actor=db.get_one(User, world.shop.owner.id), order_id=earlier)
    page.locator(f"[data-column=ready] [data-order='{earlier}']").wait_for()

    # the ticket and the kitchen display
    page.goto(f"{base}/orders/{ord_id}/ticket?width=58")
    assert page.inner_text("#ticket-number") == "A002"
    screenshot(page, "order-console-ticket-58mm")
    page.emulate_media(media="print")  # as printed: the paper alone, no buttons
    assert not page.is_visible(".ticket-tools")
    width = page.evaluate("document.getElementById('ticket').getBoundingClientRect().width")
    assert 200 < width < 240  # 58 mm at 96 dpi is 219 px
    screenshot(page, "order-console-ticket-print")
    page.emulate_media(media="screen")
    cooking = paid(database, settings, world, world.other, key="cook", note="打包带走",
                   quantity=3)
    with database.unit_of_work() as db:
        orders.accept(db, actor=db.get_one(User, world.shop.owner.id), order_id=cooking)
    page.goto(f"{base}/kitchen?store={world.shop.store}")
    page.wait_for_selector(f"#kitchen [data-order='{cooking}']")
    page.wait_for_selector("#kitchen[data-live='1']")
    screenshot(page, "order-console-kitchen")

    # sales charts: drawn, axes named
    page.goto(f"{base}/sales?days=7")
    page.wait_for_function("() => document.querySelectorAll('.echart.echart-ready').length == 3")
    axes = page.evaluate("""() => ['sales-by-day', 'orders-by-day', 'sales-by-product'].map(id => {
      const o = echarts.getInstanceByDom(document.querySelector('#' + id + ' .echart')).getOption();
      return [o.xAxis[0].name, o.yAxis[0].name];
    })""")
    assert axes == [["日期", "营业额 (元)"], ["日期", "订单 (单)"], ["营业额 (元)", "商品"]]
    # each chart drawn once (charts.js loads ECharts once even when htmx settles meanwhile)
    assert page.evaluate("document.querySelectorAll('.echart svg').length") == 3
    page.wait_for_timeout(300)  # the folded tables' resize settles
    screenshot(page, "order-console-sales")

    # the counter scans the resident's pickup QR with the camera
    with database.unit_of_work() as db:
        code = orders.pickup_code(w.order(db, ord_id), settings=SERVER_SETTINGS)
    video = write_y4m(code, tmp_path / "pickup.y4m")
    camera = browser.browser_type.launch(
        executable_path=CHROMIUM, headless=True,
        args=CHROMIUM_ARGS + ["--use-fake-device-for-media-stream",
                              "--use-fake-ui-for-media-stream",
                              f"--use-file-for-fake-video-capture={video}"])
    try:
        context = camera.new_context(locale="zh-CN")
        context.grant_permissions(["camera"], origin=small_server)
        counter = context.new_page()
        counter.set_default_timeout(20_000)
        login(counter, small_server, world.shop.owner.username, w.PASSWORD)
        counter.goto(f"{base}/orders/scan")
        counter.wait_for_selector("#scan[data-camera=on]")
        counter.wait_for_selector("#scan-result[data-handed='1']")
        result = counter.locator("#scan-result")
        assert result.get_attribute("data-order") == ord_id
        assert "A002" in result.inner_text() and "本地小白菜" in result.inner_text()
        assert state(database, ord_id) == "picked_up"
        screenshot(counter, "order-console-scanner")
    finally:
        camera.close()
    # a USB scanner gun types the code and Enter (no camera on this machine)
    with database.unit_of_work() as db:
        gun = orders.pickup_code(w.order(db, earlier), settings=SERVER_SETTINGS)
    page.goto(f"{base}/orders/scan")
    page.fill("#scan-input", gun)
    page.press("#scan-input", "Enter")
    page.wait_for_selector(f"#scan-result[data-order='{earlier}']")
    assert state(database, earlier) == "picked_up"
    page.fill("#scan-input", gun)  # the same code again: refused, with the reason
    page.press("#scan-input", "Enter")
    page.wait_for_selector("#scan-result[data-handed='0']")
    assert page.inner_text("#scan-result .reason")
