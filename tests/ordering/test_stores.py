"""Stores: hours and closed days as typed, delivery zones (radius and polygon) with their fee
and minimum order, pickup points; only the merchant's own people may change them."""

from __future__ import annotations

import pytest

from townsquare import ordering
from townsquare.core.errors import PermissionDenied, ValidationFailed
from townsquare.ordering.stores import hours
from townsquare.ordering.stores import service as stores


def test_hours_and_closed_days_as_typed():
    assert hours.parse_day("08:00-12:00，13:30-21:00", field="h") == [[480, 720], [810, 1260]]
    assert hours.parse_day("", field="h") == []
    assert hours.parse_day("00:00-24:00", field="h") == [[0, 1440]]
    assert hours.day_text([[480, 720], [810, 1260]]) == "08:00-12:00, 13:30-21:00"
    for bad in ("8-12", "12:00-08:00", "08:00-12:00, 11:00-13:00", "08:61-09:00"):
        with pytest.raises(ValidationFailed):
            hours.parse_day(bad, field="h")
    assert hours.parse_closed_days("2026-12-25\n2026-01-01, 2026-12-25") == [
        "2026-01-01", "2026-12-25"]
    with pytest.raises(ValidationFailed):
        hours.parse_closed_days("Christmas")


def test_delivery_zones_price_an_address(database, shop):
    with database.unit_of_work() as db:
        stores.add_zone(db, actor=shop.owner, store_id=shop.store, name="3 公里内",
                        kind="radius", radius_m=3_000, fee_fen=300, min_order_fen=2_000)
        stores.add_zone(db, actor=shop.owner, store_id=shop.store, name="光谷广场",
                        kind="polygon", fee_fen=0, min_order_fen=3_000,
                        polygon=stores.parse_polygon(
                            "30.50,114.40; 30.50,114.42; 30.52,114.42; 30.52,114.40"))
        store = ordering.store_by_public_id(db, shop.store)
        # inside both: the cheaper fee wins
        assert ordering.zone_for(store, lat=30.51, lng=114.41).fee_fen == 0
        # 2 km east of the store, outside the polygon: the radius zone
        assert ordering.zone_for(store, lat=30.5052, lng=114.4290).fee_fen == 300
        with pytest.raises(ordering.OutsideZones):
            ordering.zone_for(store, lat=30.60, lng=114.41)
        store.delivery = False
        with pytest.raises(ordering.OutsideZones):
            ordering.zone_for(store, lat=30.51, lng=114.41)


def test_bad_zones_and_outsiders_are_refused(database, shop):
    with database.unit_of_work() as db:
        with pytest.raises(ValidationFailed):
            stores.parse_polygon("30.5,114.4; 30.6,114.5")
        with pytest.raises(ValidationFailed):
            stores.add_zone(db, actor=shop.owner, store_id=shop.store, name="太远",
                            kind="radius", radius_m=500_000, fee_fen=0, min_order_fen=0)
        with pytest.raises(PermissionDenied):
            stores.add_zone(db, actor=shop.outsider, store_id=shop.store, name="x",
                            kind="radius", radius_m=1_000, fee_fen=0, min_order_fen=0)
        with pytest.raises(PermissionDenied):
            stores.create_store(db, actor=shop.outsider, merchant_id=shop.merchant, name="x",
                                address="y", lat=30.5, lng=114.4)
        with pytest.raises(ValidationFailed):
            stores.create_store(db, actor=shop.owner, merchant_id=shop.merchant, name="x",
                                address="y", lat=91, lng=114.4)
