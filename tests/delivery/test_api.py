"""The JSON API: the resident and the merchant read and follow a delivery; others get 404; the
resident cannot cancel an order's delivery by itself, the merchant can before pickup."""

from __future__ import annotations

from tests.delivery.conftest import book, request


def test_read_track_and_cancel(client, database, settings, shop, fleet, make_user, token_for):
    dlv = request(database, shop, settings=settings)
    book(database, fleet, dlv, settings)
    body, headers = fleet.couriers["beta"].webhook(dlv, "assigned", lat=30.51, lng=114.40)
    client.post("/delivery/webhooks/beta", content=body, headers=headers)
    resident = token_for(shop.resident)
    found = client.get(f"/api/delivery/deliveries/{dlv}", headers=resident)
    assert found.status_code == 200
    assert (found.json()["status"], found.json()["provider"], found.json()["fee_fen"]) == (
        "assigned", "beta", 600)
    track = client.get(f"/api/delivery/deliveries/{dlv}/track", headers=resident).json()
    assert track["courier"] == {"lat": 30.51, "lng": 114.40}
    assert track["map"]["svg"].startswith("<svg")
    stranger = token_for(make_user(username="nosy"))
    assert client.get(f"/api/delivery/deliveries/{dlv}", headers=stranger).status_code == 404
    assert client.get(f"/api/delivery/deliveries/{dlv}").status_code == 401
    owner = token_for(shop.owner)
    cancelled = client.post(f"/api/delivery/deliveries/{dlv}/cancel", headers=owner,
                            json={"reason": "顾客改自取"})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = client.post(f"/api/delivery/deliveries/{dlv}/cancel", headers=owner, json={})
    assert again.status_code == 409 and again.json()["error"]["code"] == "delivery_ended"
