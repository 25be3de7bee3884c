"""The orders JSON API end to end: cart, quote, checkout with an Idempotency-Key, the cashier's
payment, the merchant's steps, the counter's scan, the resident's confirmation, rating,
complaint and reorder; refusals in the error envelope."""

from __future__ import annotations

import pytest

from tests.ordering.conftest import NOON
from tests.ordering.orders import world as w


@pytest.fixture
def world(database, settings, shop, make_user):
    return w.build(database, settings, shop, make_user)


def test_buy_through_the_api(client, token_for, database, settings, world):
    me, owner = token_for(world.resident), token_for(world.shop.owner)
    ma = world.miniapp
    cart = client.put(f"/api/ordering/carts/{ma}", headers=me, json={
        "store_id": world.shop.store, "lines": [{"sku_id": world.shop.sku, "quantity": 2}]})
    assert cart.status_code == 200, cart.text
    assert cart.json()["items_fen"] == 700 and cart.json()["store_id"] == world.shop.store
    quote = client.post(f"/api/ordering/carts/{ma}/quote", headers=me,
                        json={"kind": "pickup", "slot_start": NOON.isoformat()}).json()
    assert (quote["total_fen"], quote["problems"]) == (800, [])
    body = {"miniapp_id": ma, "kind": "pickup", "slot_start": NOON.isoformat(),
            "expected_total_fen": 801}
    tampered = client.post("/api/ordering/orders", headers=me | {"Idempotency-Key": "a"},
                           json=body)
    assert tampered.status_code == 409
    assert tampered.json()["error"]["code"] == "price_changed"
    assert client.post("/api/ordering/orders", headers=me, json=body).status_code == 422
    body["expected_total_fen"] = 800
    placed = client.post("/api/ordering/orders", headers=me | {"Idempotency-Key": "a"},
                         json=body)
    assert placed.status_code == 201, placed.text
    order = placed.json()
    assert order["status"] == "created" and order["pickup_code"] is None
    assert order["cashier_url"] == f"/cashier/{order['trade_no']}"
    again = client.post("/api/ordering/orders", headers=me | {"Idempotency-Key": "a"}, json=body)
    assert again.json()["id"] == order["id"]
    w.pay(database, settings, world.resident, order["trade_no"])
    ord_id = order["id"]
    mine = client.get(f"/api/ordering/orders/{ord_id}", headers=me).json()
    assert mine["status"] == "paid" and mine["pickup_number"] == "A001"
    code = mine["pickup_code"]
    assert code.startswith(ord_id + ".")
    assert client.get(f"/api/ordering/orders/{ord_id}", headers=token_for(world.other)
                      ).status_code == 404
    for action in ("accept", "start", "ready"):
        moved = client.post(f"/api/ordering/orders/{ord_id}/{action}", headers=owner)
        assert moved.status_code == 200, moved.text
        assert moved.json()["pickup_code"] is None  # the merchant does not get the code
    assert client.post(f"/api/ordering/orders/{ord_id}/accept", headers=owner
                       ).json()["error"]["code"] == "order_state"
    assert client.post(f"/api/ordering/orders/{ord_id}/explode", headers=owner
                       ).status_code == 422
    assert client.post(f"/api/ordering/orders/{ord_id}/accept", headers=me).status_code == 404
    scanned = client.post(f"/api/ordering/merchants/{world.shop.merchant}/handover",
                          headers=owner, json={"code": code})
    assert scanned.status_code == 200 and scanned.json()["status"] == "picked_up"
    done = client.post(f"/api/ordering/orders/{ord_id}/received", headers=me).json()
    assert done["status"] == "completed"
    assert [e["status"] for e in done["timeline"]] == [
        "created", "paid", "accepted", "preparing", "ready", "picked_up", "completed"]
    rated = client.post(f"/api/ordering/orders/{ord_id}/rate", headers=me,
                        json={"stars": 5, "text": "很新鲜"})
    assert rated.status_code == 201 and rated.json()["stars"] == 5
    assert client.post(f"/api/ordering/orders/{ord_id}/rate", headers=me,
                       json={"stars": 5}).json()["error"]["code"] == "already_rated"
    assert client.post(f"/api/ordering/orders/{ord_id}/complain", headers=me,
                       json={"category": "service", "text": "态度差"}).status_code == 204
    cart = client.post(f"/api/ordering/orders/{ord_id}/reorder", headers=me).json()
    assert [(x["sku_id"], x["quantity"]) for x in cart["lines"]] == [(world.shop.sku, 2)]
    listed = client.get("/api/ordering/orders", headers=me).json()
    assert [o["id"] for o in listed] == [ord_id]


def test_refusals_answer_the_error_envelope(client, token_for, world):
    me = token_for(world.resident)
    ma = world.miniapp
    empty = client.post("/api/ordering/orders", headers=me | {"Idempotency-Key": "x"},
                        json={"miniapp_id": ma, "kind": "pickup", "expected_total_fen": 0})
    assert empty.status_code == 422 and empty.json()["error"]["code"] == "empty_cart"
    assert client.get("/api/ordering/carts/ma_nope", headers=me).status_code == 404
    assert client.get(f"/api/ordering/carts/{ma}").status_code == 401
    bad = client.put(f"/api/ordering/carts/{ma}", headers=me,
                     json={"lines": [{"sku_id": "sku_nope", "quantity": 1}]})
    assert bad.status_code == 422
    cancel = client.post("/api/ordering/orders/ord_nope/cancel", headers=me, json={})
    assert cancel.status_code == 404
