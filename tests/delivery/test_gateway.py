"""`townsquare.logistics.delivery.*` through the open gateway: an external app quotes, creates
(idempotent by its out_delivery_no), follows and cancels a delivery of the merchant it acts for;
malformed places are refused with the gateway's codes; another merchant's delivery is not found."""

from __future__ import annotations

import json

import pytest

from tests.delivery.conftest import DROPOFF, PICKUP, book
from tests.gateway import gateway_world
from tests.gateway.test_gateway_http import answer, signed

PLACE = {"name": PICKUP.name, "phone": PICKUP.phone, "address": PICKUP.address,
         "lat": PICKUP.lat, "lng": PICKUP.lng}
DROP = {"name": DROPOFF.name, "phone": DROPOFF.phone, "address": DROPOFF.address,
        "lat": DROPOFF.lat, "lng": DROPOFF.lng}


@pytest.fixture
def world(database, settings, make_user):
    return gateway_world.build(database, settings, make_user, packages=("delivery",))


def call(client, world, method, **biz):
    key = method.replace(".", "_") + "_response"
    body = json.dumps(biz, ensure_ascii=False)
    return answer(client.post("/gateway.do", data=signed(world, method, biz_content=body)), key)


def test_quote_create_query_cancel(client, database, settings, world, fleet):
    quoted = call(client, world, "townsquare.logistics.delivery.quote", pickup=PLACE,
                  dropoff=DROP, value="32.00", items=["热干面 x2"])
    assert quoted["code"] == "10000", quoted
    assert [q["provider"] for q in quoted["quotes"]] == ["beta", "alpha", "gamma"]
    assert quoted["quotes"][0]["fee"] == "6.00"
    assert {"provider": "self", "code": "provider_rejected"} in quoted["unavailable"]

    created = call(client, world, "townsquare.logistics.delivery.create",
                   out_delivery_no="D-1", pickup=PLACE, dropoff=DROP, value="32.00",
                   items=["热干面 x2"])
    assert created["code"] == "10000" and created["status"] == "quoted", created
    again = call(client, world, "townsquare.logistics.delivery.create",
                 out_delivery_no="D-1", pickup=PLACE, dropoff=DROP)
    assert again["delivery_id"] == created["delivery_id"]
    book(database, fleet, created["delivery_id"], settings)
    found = call(client, world, "townsquare.logistics.delivery.query", out_delivery_no="D-1")
    assert (found["status"], found["provider"], found["fee"]) == ("created", "beta", "6.00")
    cancelled = call(client, world, "townsquare.logistics.delivery.cancel",
                     delivery_id=created["delivery_id"], reason="顾客取消")
    assert cancelled["status"] == "cancelled"
    assert fleet.couriers["beta"].deliveries[created["delivery_id"]]["status"] == "cancelled"


def test_refusals(client, world, fleet):
    bad = call(client, world, "townsquare.logistics.delivery.create", out_delivery_no="D-2",
               pickup={"address": "x"}, dropoff=DROP)
    assert (bad["code"], bad["sub_code"]) == ("40004", "DELIVERY.INVALID_PARAMETER")
    missing = call(client, world, "townsquare.logistics.delivery.create", pickup=PLACE,
                   dropoff=DROP)
    assert missing["code"] == "40001"
    unknown = call(client, world, "townsquare.logistics.delivery.query",
                   delivery_id="dlv_nosuchdelivery00")
    assert unknown["sub_code"] == "DELIVERY.NOT_EXIST"
