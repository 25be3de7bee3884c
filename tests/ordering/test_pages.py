"""The merchant console's store and catalog pages, driven as a browser would post them: yuan in,
fen stored; a refused form shows the message and changes nothing; outsiders see nothing."""

from __future__ import annotations

import io

from PIL import Image
from sqlalchemy import select

from tests.merchants.conftest import csrf, login
from townsquare import ordering
from townsquare.ordering.catalog.models import Product, Sku, Stock
from townsquare.ordering.slots.models import SlotRule
from townsquare.ordering.stores.models import DeliveryZone, PickupPoint, Store


def _post(client, path, data=None, files=None):
    token = csrf(client, "/me")
    return client.post(path, data={"csrf_token": token, **(data or {})}, files=files,
                       follow_redirects=False)


def test_a_store_with_hours_zones_and_slots(client, database, shop):
    login(client, shop.owner)
    stores = f"/console/merchant/{shop.merchant}/stores"
    assert "光谷店" in client.get(stores).text
    created = _post(client, stores, {"name": "汉街店", "address": "武汉市武昌区汉街 8 号",
                                     "lat": "30.5590", "lng": "114.3430"})
    assert created.status_code == 303
    page = created.headers["location"].split("?")[0]
    assert "汉街店" in client.get(created.headers["location"]).text
    hours = {f"hours_{d}": "09:00-21:00" for d in range(7)} | {"closed_days": "2027-02-06"}
    assert _post(client, page + "/hours", hours).status_code == 303
    refused = _post(client, page + "/hours", {"hours_0": "21:00-09:00"})
    assert refused.status_code == 422 and "关门时间" in refused.text
    zone = {"name": "三公里", "kind": "radius", "radius_m": "3000", "fee": "3.50",
            "min_order": "20"}
    assert _post(client, page + "/zones", zone).status_code == 303
    assert _post(client, page + "/zones", zone | {"fee": "1.234"}).status_code == 422
    rule = {"kind": "pickup", "slot_minutes": "15", "capacity_orders": "8",
            "lead_minutes": "20", "days_ahead": "2", "enabled": "1"}
    assert _post(client, page + "/slots", rule).status_code == 303
    assert _post(client, page + "/slots", rule | {"slot_minutes": "1"}).status_code == 422
    assert _post(client, page + "/points", {"name": "幸福小区东门", "address": "幸福路 9 号",
                                            "lat": "30.56", "lng": "114.34"}).status_code == 303
    with database.unit_of_work() as db:
        point = db.scalar(select(PickupPoint)).public_id
    community = {"kind": "community", "point": point, "slot_minutes": "120",
                 "cutoff_time": "22:00", "cutoff_days": "1", "window": "16:00-20:00",
                 "enabled": "1"}
    assert _post(client, page + "/slots", community).status_code == 303
    assert "社区自提点 · 幸福小区东门" in client.get(page).text
    assert _post(client, f"{page}/points/{point}/pause").status_code == 303
    with database.unit_of_work() as db:
        paused = db.scalar(select(PickupPoint))
        assert not paused.active
        assert ordering.offered(db, store=paused.store, kind="community", point=paused) == []
    with database.unit_of_work() as db:
        store = db.scalar(select(Store).where(Store.name == "汉街店"))
        assert store.hours["0"] == [[540, 1260]] and store.closed_days == ["2027-02-06"]
        zone_row = db.scalar(select(DeliveryZone).where(DeliveryZone.store_id == store.id))
        assert (zone_row.fee_fen, zone_row.min_order_fen) == (350, 2000)
        rule_row = db.scalar(select(SlotRule).where(SlotRule.store_id == store.id))
        assert (rule_row.capacity_orders, rule_row.lead_minutes) == (8, 20)
    text = client.get(page).text
    assert "¥3.50" in text and "09:00-21:00" in text


def test_products_skus_pictures_and_export(client, database, shop):
    login(client, shop.owner)
    base = f"/console/merchant/{shop.merchant}/catalog"
    created = _post(client, base + "/products", {"name": "宫保鸡丁", "category": "热菜",
                                                 "unit": "份"})
    page = created.headers["location"].split("?")[0]
    assert _post(client, page + "/skus", {"code": "KB-L", "spec": "大份",
                                          "price": "32.80"}).status_code == 303
    assert _post(client, page + "/skus", {"code": "KB-X", "spec": "x",
                                          "price": "abc"}).status_code == 422
    with database.unit_of_work() as db:
        sku = db.scalar(select(Sku).where(Sku.code == "KB-L")).public_id
    edited = _post(client, f"{page}/skus/{sku}", {"spec": "大份", "price": "33",
                                                  "sold_out": "1", f"stock_{shop.store}": "12"})
    assert edited.status_code == 303
    assert _post(client, f"{page}/skus/{sku}", {"spec": "大份", "price": "33",
                                                f"stock_{shop.store}": "-3"}).status_code == 422
    with database.unit_of_work() as db:
        row = db.scalar(select(Sku).where(Sku.code == "KB-L"))
        assert (row.price_fen, row.sold_out) == (3300, True)
        assert db.scalar(select(Stock.quantity).where(Stock.sku_id == row.id)) == 12
    image = io.BytesIO()
    Image.new("RGB", (400, 300), "orange").save(image, "PNG")
    uploaded = _post(client, page + "/pictures",
                     files={"picture": ("dish.png", image.getvalue(), "image/png")})
    assert uploaded.status_code == 303
    refused = _post(client, page + "/pictures",
                    files={"picture": ("dish.png", b"<html>", "image/png")})
    assert refused.status_code == 422
    with database.unit_of_work() as db:
        product = db.scalar(select(Product).where(Product.name == "宫保鸡丁"))
        assert db.scalar(select(Sku.price_fen).where(Sku.code == "KB-L")) == 3300
        picture = product.pictures[0].public_id
    assert client.get(f"/ordering/pictures/{picture}.thumb.jpg").headers[
        "content-type"] == "image/jpeg"
    assert client.get("/ordering/pictures/pic_nothere.thumb.jpg").status_code == 404
    exported = client.get(base + "/export.csv")
    assert exported.status_code == 200 and "KB-L" in exported.text
    assert client.get(base + "/export.xlsx").content.startswith(b"PK")


def test_import_shows_every_problem_and_changes_nothing(client, database, shop):
    login(client, shop.owner)
    base = f"/console/merchant/{shop.merchant}/catalog"
    bad = "商品,编码,价格(元)\n西红柿,VEG-2,5.8\n黄瓜,VEG-3,九块\n".encode()
    refused = _post(client, base + "/import", files={"file": ("c.csv", bad, "text/csv")})
    assert refused.status_code == 422 and "import-problems" in refused.text
    with database.unit_of_work() as db:
        assert db.scalar(select(Sku.id).where(Sku.code == "VEG-2")) is None
    good = "商品,编码,价格(元)\n西红柿,VEG-2,5.8\n".encode()
    done = _post(client, base + "/import", files={"file": ("c.csv", good, "text/csv")})
    assert done.status_code == 200 and "import-done" in done.text


def test_outsiders_see_nothing(client, shop):
    login(client, shop.outsider)
    for path in (f"/console/merchant/{shop.merchant}/stores",
                 f"/console/merchant/{shop.merchant}/stores/{shop.store}",
                 f"/console/merchant/{shop.merchant}/catalog",
                 f"/console/merchant/{shop.merchant}/catalog/{shop.product}",
                 f"/console/merchant/{shop.merchant}/catalog/export.csv"):
        assert client.get(path).status_code == 403, path
