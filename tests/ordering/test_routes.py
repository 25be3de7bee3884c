"""The public ordering API: a store, its slots (full ones left out), its menu for a time and the
delivery zone of an address; unknown ids answer 404, a naive time 422."""

from __future__ import annotations

from tests.ordering.conftest import NOON, NOW
from townsquare import ordering
from townsquare.ordering.slots import rules
from townsquare.ordering.stores import service as stores


def test_store_slots_menu_and_zone(client, database, shop):
    with database.unit_of_work() as db:
        stores.add_zone(db, actor=None, store_id=shop.store, name="3 公里内", kind="radius",
                        radius_m=3_000, fee_fen=300, min_order_fen=2_000)
        rules.set_rule(db, actor=None, store_id=shop.store, kind="pickup", capacity_orders=1)
        ordering.hold(db, store=ordering.store_by_public_id(db, shop.store), kind="pickup",
                      slot_start=NOON, sku_quantities={shop.sku_row: 1}, hold_key="k",
                      expires_at=NOW + (NOON - NOW))
    base = f"/api/ordering/stores/{shop.store}"
    store = client.get(base).json()
    assert store["hours"]["0"] == "08:00-22:00" and store["zones"][0]["fee_fen"] == 300
    slots = client.get(base + "/slots", params={"kind": "pickup"}).json()
    starts = [slot["start"] for slot in slots]
    assert "2026-12-07T04:00:00Z" not in starts and "2026-12-07T04:15:00Z" in starts
    assert slots[0]["places_left"] == 1
    assert client.get(base + "/slots", params={"kind": "delivery"}).json() == []
    assert client.get(base + "/slots", params={"kind": "teleport"}).status_code == 422
    items = client.get(base + "/menu", params={"at": "2026-12-07T12:00:00+08:00"}).json()
    assert items[0]["name"] == "本地小白菜" and items[0]["price_fen"] == 350
    assert items[0]["left"] == 9
    assert client.get(base + "/menu", params={"at": "2026-12-07T12:00:00"}).status_code == 422
    zone = client.get(base + "/zone", params={"lat": 30.51, "lng": 114.41})
    assert zone.json()["min_order_fen"] == 2_000
    far = client.get(base + "/zone", params={"lat": 31.5, "lng": 114.41})
    assert far.status_code == 422 and far.json()["error"]["code"] == "outside_zones"
    assert client.get("/api/ordering/stores/sto_nothere").status_code == 404
