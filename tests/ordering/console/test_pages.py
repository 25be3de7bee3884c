"""The order console's pages, driven as a browser would: the board's columns and store filter,
the actions (and their refusal of an illegal step, with the service's message), the detail,
ticket, kitchen, scanner and sales pages, and the event stream. Another merchant's staff and a
plain resident see nothing of this merchant's orders and change nothing."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import pytest

from tests.merchants.conftest import csrf, login
from tests.ordering.orders import world as w
from townsquare.core.clock import clock
from townsquare.merchants import service as merchants
from townsquare.ordering import orders
from townsquare.ordering.console import stream
from townsquare.ordering.stores import service as stores
from townsquare.payments.trades import service as trades
from townsquare.payments.trades.models import TradeStatus

FETCH = {"x-requested-with": "fetch"}


@pytest.fixture
def world(database, settings, shop, make_user):
    return w.build(database, settings, shop, make_user)


@pytest.fixture
def rival(database, make_user):
    """Staff of another merchant (with its own store)."""
    user = make_user(username="rita")
    with database.unit_of_work() as db:
        merchant = merchants.create_merchant(db, actor=None, owner_username="rita",
                                             name="对面超市", category_code="grocery",
                                             cities=["武汉"])
        store = stores.create_store(db, actor=None, merchant_id=merchant.public_id,
                                    name="对面店", address="光谷大道 9 号", lat=30.5,
                                    lng=114.4)
        return user, merchant.public_id, store.public_id


def paid(database, settings, world, *, key="k1", note="", user=None, **kwargs) -> str:
    """A paid pickup order (at noon) of the world's resident; its public id."""
    buyer = user or world.resident
    with database.unit_of_work() as db:
        order = w.place(db, world, buyer, key=key, note=note, settings=settings, **kwargs)
        ord_id, trade_no = order.public_id, order.trade_no
    w.pay(database, settings, buyer, trade_no)
    return ord_id


def post(client, path, data=None, headers=None):
    token = csrf(client, "/me")
    return client.post(path, data={"csrf_token": token, **(data or {})}, headers=headers,
                       follow_redirects=False)


def status(database, ord_id) -> str:
    with database.unit_of_work() as db:
        return w.order(db, ord_id).status.value


def column(page: str, key: str) -> str:
    found = re.search(rf'data-column="{key}"(.*?)</section>', page, re.S)
    assert found, key
    return found.group(1)


def test_the_board_shows_paid_orders_by_column_and_store(client, database, settings, world):
    first = paid(database, settings, world, note="少放葱")
    second = paid(database, settings, world, key="k2", user=world.other)
    login(client, world.shop.owner)
    base = f"/console/merchant/{world.shop.merchant}"
    page = client.get(f"{base}/orders")
    assert page.status_code == 200
    new = column(page.text, "new")
    assert first in new and second in new and "A001" in new and "少放葱" in new
    assert 'data-column="new" data-count="2"' in page.text
    # the shop's accepting settings, and where they are changed
    assert f'href="/console/miniapps/{world.miniapp}"' in page.text
    assert "自动接单：关" in page.text and "10 分钟内未接单" in page.text
    assert 'id="sound-toggle"' in page.text and "data-cursor=" in page.text
    # the store filter, and the columns alone (what the script fetches on an event)
    assert first in client.get(f"{base}/orders", params={"store": world.shop.store}).text
    assert client.get(f"{base}/orders", params={"store": "sto_nothere"}).status_code == 404
    columns = client.get(f"{base}/orders/columns").text
    assert columns.lstrip().startswith('<div class="order-columns"') and first in columns
    # the merchant's page links the console
    assert f'href="{base}/orders"' in client.get(base).text


def test_actions_move_the_order_and_refuse_an_illegal_step(client, database, settings, world):
    ord_id = paid(database, settings, world)
    login(client, world.shop.owner)
    base = f"/console/merchant/{world.shop.merchant}/orders"
    done = post(client, f"{base}/{ord_id}/accept", {"next": base})
    assert done.status_code == 303 and done.headers["location"] == f"{base}?ok=accept"
    assert status(database, ord_id) == "accepted"
    # the same button again (a stale page): refused with the service's message, nothing moves
    again = post(client, f"{base}/{ord_id}/accept")
    assert again.status_code == 409 and 'id="action-error"' in again.text
    assert status(database, ord_id) == "accepted"
    refused = post(client, f"{base}/{ord_id}/accept", headers=FETCH)
    assert refused.status_code == 409 and refused.json()["code"] == "order_state"
    assert refused.json()["message"]
    # a pickup order does not go out with a rider
    assert post(client, f"{base}/{ord_id}/dispatch", headers=FETCH).status_code == 409
    assert post(client, f"{base}/{ord_id}/start", headers=FETCH).status_code == 204
    assert post(client, f"{base}/{ord_id}/ready", headers=FETCH).status_code == 204
    assert status(database, ord_id) == "ready"
    assert post(client, f"{base}/{ord_id}/teleport").status_code == 404
    page = client.get(f"{base}/{ord_id}").text
    assert [s for s in re.findall(r'<li data-status="(\w+)"', page)] == [
        "created", "paid", "accepted", "preparing", "ready"]
    assert f'href="{base}/scan"' in page  # a ready pickup waits for the counter's scan


def test_reject_with_a_reason_refunds(client, database, settings, world):
    ord_id = paid(database, settings, world)
    login(client, world.shop.owner)
    base = f"/console/merchant/{world.shop.merchant}/orders"
    done = post(client, f"{base}/{ord_id}/reject", {"reason": "已售罄",
                                                     "custom_reason": "小白菜卖完了"})
    assert done.status_code == 303
    with database.unit_of_work() as db:
        order = w.order(db, ord_id)
        assert order.status.value == "rejected" and order.cancel_reason == "小白菜卖完了"
        assert trades.get(db, order.trade_no).status is TradeStatus.TRADE_CLOSED
    board = client.get(base).text
    assert ord_id in column(board, "done") and "小白菜卖完了" in column(board, "done")


def test_another_merchants_staff_and_residents_see_nothing(client, database, settings, world,
                                                            rival):
    ord_id = paid(database, settings, world)
    rival_user, rival_mer, _rival_store = rival
    mine = f"/console/merchant/{world.shop.merchant}"
    theirs = f"/console/merchant/{rival_mer}"
    login(client, rival_user)
    for path in ("/orders", "/orders/stream?seconds=1", f"/orders/{ord_id}",
                 f"/orders/{ord_id}/ticket", "/kitchen", "/orders/scan", "/sales"):
        assert client.get(mine + path).status_code in (403, 404), path
    assert client.get(f"{theirs}/orders").status_code == 200  # their own board is empty
    # this merchant's order through the rival's own console: not found
    assert client.get(f"{theirs}/orders/{ord_id}").status_code == 404
    assert client.get(f"{theirs}/orders/{ord_id}/ticket").status_code == 404
    assert client.get(f"{theirs}/orders", params={"store": world.shop.store}).status_code == 404
    for path in (f"{mine}/orders/{ord_id}/accept", f"{theirs}/orders/{ord_id}/accept",
                 f"{mine}/orders/{ord_id}/reject"):
        assert post(client, path).status_code in (403, 404), path
    with database.unit_of_work() as db:
        code = orders.pickup_code(w.order(db, ord_id), settings=settings)
    handed = post(client, f"{theirs}/orders/scan", {"code": code}, headers=FETCH)
    assert handed.status_code == 422 and not handed.json()["ok"]
    assert status(database, ord_id) == "paid"
    login(client, world.resident)
    assert client.get(f"{mine}/orders").status_code in (403, 404)
    assert post(client, f"{mine}/orders/{ord_id}/accept").status_code in (403, 404)
    assert status(database, ord_id) == "paid"


def test_detail_ticket_and_kitchen(client, database, settings, world):
    ord_id = paid(database, settings, world, note="不要袋子")
    login(client, world.shop.owner)
    base = f"/console/merchant/{world.shop.merchant}"
    detail = client.get(f"{base}/orders/{ord_id}").text
    assert "本地小白菜" in detail and "不要袋子" in detail and "¥8.00" in detail
    assert "接单" in detail and "拒单" in detail
    ticket = client.get(f"{base}/orders/{ord_id}/ticket", params={"width": 58})
    assert ticket.status_code == 200
    assert 'class="ticket-page paper-58"' in ticket.text and "size: 58mm auto" in ticket.text
    assert re.search(r'id="ticket-number">A001<', ticket.text)
    assert "本地小白菜" in ticket.text and "不要袋子" in ticket.text and "12:00" in ticket.text
    assert 'paper-80' in client.get(f"{base}/orders/{ord_id}/ticket?width=99").text
    # the kitchen cooks what is accepted, by slot
    assert "暂时没有待制作的订单" in client.get(f"{base}/kitchen").text
    post(client, f"{base}/orders/{ord_id}/accept")
    kitchen = client.get(f"{base}/kitchen", params={"store": world.shop.store}).text
    assert 'data-slot="2026-12-07T12:00"' in kitchen and "A001" in kitchen
    assert "开始制作" in kitchen and "出餐完成" in kitchen
    assert ord_id in client.get(f"{base}/kitchen/slots").text


def test_the_scanner_hands_a_ready_order_over(client, database, settings, world):
    ord_id = paid(database, settings, world)
    login(client, world.shop.owner)
    base = f"/console/merchant/{world.shop.merchant}/orders"
    with database.unit_of_work() as db:
        code = orders.pickup_code(w.order(db, ord_id), settings=settings)
    page = client.get(f"{base}/scan").text
    assert 'id="scan-video"' in page and 'id="scan-input"' in page
    # not ready yet: refused with the reason, nothing changes
    early = post(client, f"{base}/scan", {"code": code}, headers=FETCH)
    assert early.status_code == 409 and early.json()["code"] == "order_state"
    assert status(database, ord_id) == "paid"
    forged = post(client, f"{base}/scan", {"code": code[:-3] + "AAA"}, headers=FETCH)
    assert forged.status_code == 422 and forged.json()["message"]
    for step in ("accept", "ready"):
        post(client, f"{base}/{ord_id}/{step}")
    handed = post(client, f"{base}/scan", {"code": f"  {code}\n"}, headers=FETCH)
    assert handed.status_code == 200 and handed.json()["ok"]
    assert handed.json()["order"]["number"] == "A001"
    assert handed.json()["order"]["lines"][0]["name"] == "本地小白菜"
    assert status(database, ord_id) == "picked_up"
    # the scanner gun without JavaScript: the form posts and the page shows the verdict
    twice = post(client, f"{base}/scan", {"code": code})
    assert twice.status_code == 409 and "未能核销" in twice.text


def test_sales_by_day_and_product(client, database, settings, world):
    ord_id = paid(database, settings, world)
    rejected = paid(database, settings, world, key="k2", user=world.other)
    login(client, world.shop.owner)
    base = f"/console/merchant/{world.shop.merchant}"
    post(client, f"{base}/orders/{rejected}/reject", {"reason": "已售罄"})
    page = client.get(f"{base}/sales", params={"days": 7})
    assert page.status_code == 200
    assert re.search(r'id="sales-orders">1<', page.text)
    assert re.search(r'id="sales-takings">¥8.00<', page.text)
    for chart in ("sales-by-day", "orders-by-day", "sales-by-product"):
        assert f'id="{chart}"' in page.text
    assert "本地小白菜" in page.text and "2026-12-07" in page.text
    assert '"name":"营业额 (元)"' in page.text  # the value axis is named, with its unit
    assert ord_id  # the sale counted is the paid one; the rejected one is not


def test_the_stream_sends_an_event_when_an_order_changes(client, database, settings, world):
    ord_id = paid(database, settings, world)
    login(client, world.shop.owner)
    base = f"/console/merchant/{world.shop.merchant}/orders"
    cursor = re.search(r'data-cursor="([^"]+)"', client.get(base).text).group(1)
    clock.advance(timedelta(seconds=5))  # the paid order has settled before the page's cursor
    quiet = client.get(f"{base}/stream", params={"cursor": cursor, "seconds": 1})
    assert quiet.headers["content-type"].startswith("text/event-stream")
    assert "event: ready" in quiet.text
    post(client, f"{base}/{ord_id}/accept")
    answer = client.get(f"{base}/stream", params={"cursor": cursor, "seconds": 1})
    events = [block for block in answer.text.split("\n\n") if "event: orders" in block]
    assert events, answer.text
    assert f'"id": "{ord_id}"' in events[0] and '"status": "accepted"' in events[0]
    assert "event: bye" in answer.text  # the bound ends it cleanly
    # a reconnecting browser continues from its last event id: a change of the last seconds
    # is sent once more (it may have committed late), then the stream is quiet
    clock.advance(timedelta(seconds=5))
    last = re.findall(r"^id: (.+)$", answer.text, re.M)[-1]
    resumed = client.get(f"{base}/stream", params={"seconds": 1},
                         headers={"last-event-id": last})
    last = re.findall(r"^id: (.+)$", resumed.text, re.M)[-1]
    settled = client.get(f"{base}/stream", params={"seconds": 1},
                         headers={"last-event-id": last})
    assert "event: ready" in settled.text and "event: orders" not in settled.text


def test_the_stream_ends_when_the_client_leaves(database):
    async def run() -> list[str]:
        calls = iter([False, True])

        async def gone() -> bool:
            return next(calls)

        return [m async for m in stream.events(database, stream.Watch(merchant_id=1), "",
                                               gone=gone, seconds=60, interval=0.01)]

    sent = asyncio.run(run())
    assert sent[0].startswith("retry: 2000") and len(sent) == 1  # it stops once the client has gone
