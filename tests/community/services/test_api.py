"""The services marketplace JSON API, every endpoint: the catalog and its times, booking with an
Idempotency-Key, following, cancelling (unpaid: the trade closes; paid: refunded whole),
rating and complaining; refused for a non-resident and for another community's staff, with the
error envelope."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.community.services import world as w
from tests.ordering.orders import world as ow
from townsquare.accounts.models import User
from townsquare.community.services import bookings
from townsquare.payments import trades


@pytest.fixture
def world(database, settings, make_user):
    return w.build(database, settings, make_user)


def _base(world) -> str:
    return f"/api/community/{world.com}"


def _book(client, world, headers, service: str, key: str = "k-1"):
    return client.post(f"{_base(world)}/bookings", headers={**headers, "Idempotency-Key": key},
                       json={"service": service, "slot_start": w.NOON.isoformat()})


def test_residents_see_the_offered_services_and_their_times(client, database, world,
                                                            token_for):
    _, water = w.admit(database, world)
    cleaning = w.property_service(database, world)
    me = token_for(world.resident)
    listed = client.get(f"{_base(world)}/services", headers=me)
    assert listed.status_code == 200, listed.text
    by_id = {s["id"]: s for s in listed.json()}
    assert by_id[cleaning]["run_by"] == "property" and by_id[cleaning]["price_fen"] == 5000
    assert by_id[water]["provider"] == "清泉水站"
    assert by_id[water]["run_by"] == "merchant" and by_id[water]["kind"] == "bookable"
    slots = client.get(f"{_base(world)}/services/{water}/slots", headers=me)
    assert slots.status_code == 200
    assert w.NOON in [datetime.fromisoformat(s["start"]) for s in slots.json()]
    assert client.get(f"{_base(world)}/services").status_code == 401
    missing = client.get(f"{_base(world)}/services/svc_nope/slots", headers=me)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert client.get("/api/community/com_nope/services", headers=me).status_code == 404


def test_booking_is_idempotent_and_refused_to_outsiders(client, database, world, token_for):
    _, water = w.admit(database, world)
    me = token_for(world.resident)
    for stranger in (world.base.outsider, world.base.other_manager):
        refused = _book(client, world, token_for(stranger), water)
        assert refused.status_code == 403, refused.text
        assert set(refused.json()["error"]) == {"code", "message", "details"}
    no_key = client.post(f"{_base(world)}/bookings", headers=me,
                         json={"service": water, "slot_start": w.NOON.isoformat()})
    assert no_key.status_code == 422 and no_key.json()["error"]["code"] == "invalid"
    naive = client.post(f"{_base(world)}/bookings", headers={**me, "Idempotency-Key": "n"},
                        json={"service": water, "slot_start": "2026-12-07T12:00:00"})
    assert naive.status_code == 422
    first = _book(client, world, me, water)
    assert first.status_code == 201, first.text
    booking = first.json()
    assert booking["status"] == "created" and booking["price_fen"] == 1888
    assert booking["cashier_url"] == f"/cashier/{booking['trade_no']}"
    assert booking["address"] == "1-1-101" and booking["may_cancel"]
    again = _book(client, world, me, water)
    assert again.status_code == 201 and again.json()["id"] == booking["id"]
    full = _book(client, world, me, water, key="k-2")  # the water slot has one place
    assert full.status_code == 409, full.text
    mine = client.get(f"{_base(world)}/bookings", headers=me)
    assert [b["id"] for b in mine.json()] == [booking["id"]]
    assert client.get(f"{_base(world)}/bookings",
                      headers=token_for(world.base.outsider)).status_code == 403
    one = f"{_base(world)}/bookings/{booking['id']}"
    assert client.get(one, headers=me).json()["status"] == "created"
    for stranger in (world.base.outsider, world.base.other_manager, world.base.manager):
        assert client.get(one, headers=token_for(stranger)).status_code == 404


def test_an_unpaid_booking_cancelled_closes_its_trade_and_frees_the_place(
        client, database, world, token_for):
    _, water = w.admit(database, world)
    me = token_for(world.resident)
    booking = _book(client, world, me, water).json()
    url = f"{_base(world)}/bookings/{booking['id']}/cancel"
    assert client.post(url, headers=token_for(world.base.outsider)).status_code == 404
    cancelled = client.post(url, headers=me)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled" and not cancelled.json()["may_cancel"]
    assert client.post(url, headers=me).json()["status"] == "cancelled"  # again: the same
    with database.unit_of_work() as db:
        assert trades.get(db, booking["trade_no"]).status.value == "TRADE_CLOSED"
    assert _book(client, world, me, water, key="k-3").status_code == 201  # the place is free


def test_a_paid_booking_cancelled_is_refunded_whole(client, database, settings, world,
                                                    token_for):
    _, water = w.admit(database, world)
    me = token_for(world.resident)
    booking = _book(client, world, me, water).json()
    ow.pay(database, settings, world.resident, booking["trade_no"])
    url = f"{_base(world)}/bookings/{booking['id']}"
    paid = client.get(url, headers=me).json()
    assert paid["status"] == "paid" and paid["cashier_url"] is None
    cancelled = client.post(f"{url}/cancel", headers=me)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    with database.unit_of_work() as db:
        assert trades.get(db, booking["trade_no"]).refunded_fen == 1888


def test_rate_and_complain_once_after_the_work(client, database, settings, world, token_for):
    _, water = w.admit(database, world)
    me = token_for(world.resident)
    booking = _book(client, world, me, water).json()
    url = f"{_base(world)}/bookings/{booking['id']}"
    early = client.post(f"{url}/rating", headers=me, json={"stars": 5})
    assert early.status_code == 409 and early.json()["error"]["code"] == "booking_state"
    ow.pay(database, settings, world.resident, booking["trade_no"])
    with database.unit_of_work() as db:
        bookings.advance(db, actor=db.get_one(User, world.water_staff.id),
                         community=w.cw.community(db, world.com), booking_id=booking["id"],
                         to="on_the_way")
    late = client.post(f"{url}/cancel", headers=me)
    assert late.status_code == 409, late.text
    with database.unit_of_work() as db:
        bookings.advance(db, actor=None, community=w.cw.community(db, world.com),
                         booking_id=booking["id"], to="done")
    assert client.post(f"{url}/rating", headers=me, json={"stars": 6}).status_code == 422
    assert client.post(f"{url}/rating", headers=token_for(world.base.outsider),
                       json={"stars": 5}).status_code == 404
    rated = client.post(f"{url}/rating", headers=me, json={"stars": 4})
    assert rated.status_code == 200 and rated.json()["rating"] == 4
    assert client.post(f"{url}/rating", headers=me, json={"stars": 5}).status_code == 409
    bad = client.post(f"{url}/complaint", headers=me, json={"category": "weather", "text": "x"})
    assert bad.status_code == 422
    nul = client.post(f"{url}/complaint", headers=me, json={"category": "late", "text": "a\x00"})
    assert nul.status_code == 422, nul.text
    complained = client.post(f"{url}/complaint", headers=me,
                             json={"category": "late", "text": "晚到一小时"})
    assert complained.status_code == 200 and complained.json()["complained"]
    assert client.post(f"{url}/complaint", headers=me,
                       json={"category": "late", "text": "again"}).status_code == 409
