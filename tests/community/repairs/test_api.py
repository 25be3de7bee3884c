"""The repair ticket JSON API, every endpoint: a report with a photo (multipart, checked as the
page checks it, Idempotency-Key), the household's list and ticket, the property's queue and
assignment, the technician's moves, payment of a charge, confirmation and rating; refused for a
non-resident, a neighbour, another community's staff and a technician not assigned."""

from __future__ import annotations

import pytest

from tests.community.repairs import world as w
from tests.ordering.orders.world import PIN
from townsquare.accounts.models import User
from townsquare.payments.wallet import paying


@pytest.fixture
def world(database, settings, make_user):
    return w.build(database, settings, make_user)


def _report(client, world, headers, key="api-report-01", files=None, **fields):
    data = {"category": "plumbing", "place": "room", "location": "厨房水槽下",
            "description": "水管漏水"} | fields
    return client.post(f"/api/community/{world.com}/repairs", data=data, files=files,
                       headers={**headers, "Idempotency-Key": key})


def test_report_with_a_photo_is_idempotent_and_refused_to_outsiders(client, world, token_for):
    me = token_for(world.head)
    for stranger in (world.base.outsider, world.base.other_manager):
        refused = _report(client, world, token_for(stranger))
        assert refused.status_code == 403, refused.text
        assert set(refused.json()["error"]) == {"code", "message", "details"}
    short_key = _report(client, world, me, key="short")
    assert short_key.status_code == 422
    not_a_picture = _report(client, world, me,
                            files=[("photo", ("x.jpg", b"not a picture", "image/jpeg"))])
    assert not_a_picture.status_code == 422, not_a_picture.text
    assert not_a_picture.json()["error"]["details"]["field"] == "photos"
    five = _report(client, world, me, files=[("photo", (f"{n}.jpg", w.jpeg(), "image/jpeg"))
                                             for n in range(5)])
    assert five.status_code == 422 and five.json()["error"]["details"]["field"] == "photos"
    bad_category = _report(client, world, me, category="weather")
    assert bad_category.status_code == 422
    assert bad_category.json()["error"]["details"]["field"] == "category"
    created = _report(client, world, me, files=[("photo", ("leak.jpg", w.jpeg(), "image/jpeg"))])
    assert created.status_code == 201, created.text
    ticket = created.json()
    assert ticket["status"] == "reported" and ticket["room"] == "1-1-101"
    assert len(ticket["photos"]) == 1 and ticket["events"][0]["to_status"] == "reported"
    photo = client.get(ticket["photos"][0]["thumb_url"], headers=me)
    assert photo.status_code == 200 and photo.headers["content-type"] == "image/jpeg"
    again = _report(client, world, me)
    assert again.status_code == 201 and again.json()["id"] == ticket["id"]
    listed = client.get(f"/api/community/{world.com}/repairs", headers=token_for(world.spouse))
    assert [t["id"] for t in listed.json()] == [ticket["id"]]  # the whole household sees it
    assert client.get(f"/api/community/{world.com}/repairs",
                      headers=token_for(world.neighbour)).json() == []
    url = f"/api/community/{world.com}/repairs/{ticket['id']}"
    for stranger in (world.neighbour, world.base.outsider, world.base.other_manager):
        assert client.get(url, headers=token_for(stranger)).status_code == 404
    assert client.get(f"/api/community/{world.base.other_com}/repairs/{ticket['id']}",
                      headers=me).status_code == 404


def test_from_the_queue_to_the_technician_to_payment_and_confirmation(
        client, database, settings, world, token_for):
    me, pm = token_for(world.head), token_for(world.manager)
    tech, other_tech = token_for(world.technician), token_for(world.other_technician)
    ticket = _report(client, world, me).json()
    url = f"/api/community/{world.com}/repairs/{ticket['id']}"
    queue = client.get(f"/api/community/{world.com}/repair-queue?status=reported", headers=pm)
    assert [t["id"] for t in queue.json()] == [ticket["id"]]
    committee = client.get(f"/api/community/{world.com}/repair-queue",
                           headers=token_for(world.committee))
    assert committee.status_code == 200
    for refused in (me, token_for(world.base.other_manager), tech):
        assert client.get(f"/api/community/{world.com}/repair-queue",
                          headers=refused).status_code == 403
    assert client.get(f"/api/community/{world.com}/repair-queue?status=lost",
                      headers=pm).status_code == 422
    assert client.post(f"{url}/assign", headers=me,
                       json={"technician": "tech"}).status_code == 403
    assert client.post(f"{url}/assign", headers=token_for(world.base.other_manager),
                       json={"technician": "tech"}).status_code == 404
    not_tech = client.post(f"{url}/assign", headers=pm, json={"technician": "zhangsan"})
    assert not_tech.status_code == 422
    assert not_tech.json()["error"]["code"] == "not_a_technician"
    assigned = client.post(f"{url}/assign", headers=pm, json={"technician": "tech"})
    assert assigned.status_code == 200 and assigned.json()["status"] == "assigned"
    mine = client.get("/api/community/repairs/assigned", headers=tech)
    assert [t["id"] for t in mine.json()] == [ticket["id"]]
    assert client.get("/api/community/repairs/assigned", headers=other_tech).json() == []
    assert client.post(f"{url}/accept", headers=other_tech).status_code == 404
    assert client.post(f"{url}/start", headers=tech).status_code == 409  # not on the way yet
    for move, status in (("accept", "accepted"), ("on-the-way", "on_the_way"),
                         ("start", "in_progress")):
        moved = client.post(f"{url}/{move}", headers=tech)
        assert moved.status_code == 200 and moved.json()["status"] == status, moved.text
    assert client.post(f"{url}/cancel", headers=me, json={}).status_code == 409
    assert client.post(f"{url}/finish", headers=tech,
                       json={"price_fen": -1}).status_code == 422
    finished = client.post(f"{url}/finish", headers=tech,
                           json={"price_fen": 3500, "note": "换了阀门"})
    assert finished.json()["status"] == "awaiting_payment", finished.text
    assert client.post(f"{url}/confirm", headers=me).status_code == 409  # not paid yet
    assert client.post(f"{url}/payment", headers=token_for(world.neighbour)).status_code == 404
    pay = client.post(f"{url}/payment", headers=token_for(world.spouse))
    assert pay.status_code == 200 and pay.json()["total_fen"] == 3500
    assert client.post(f"{url}/payment", headers=token_for(world.spouse)).json() == pay.json()
    with database.unit_of_work() as db:
        paying.pay_trade(db, settings=settings, actor=db.get_one(User, world.spouse.id),
                         trade_no=pay.json()["trade_no"], method=paying.WALLET,
                         payment_pin=PIN)
    assert client.get(url, headers=me).json()["status"] == "done"
    confirmed = client.post(f"{url}/confirm", headers=me)
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "confirmed"
    assert client.post(f"{url}/rating", headers=me, json={"stars": 0}).status_code == 422
    rated = client.post(f"{url}/rating", headers=me, json={"stars": 5, "comment": "很快"})
    assert rated.status_code == 200 and rated.json()["rating"] == 5
    assert client.post(f"{url}/rating", headers=token_for(world.spouse),
                       json={"stars": 1}).status_code == 409


def test_cancel_by_the_household_and_by_the_property(client, world, token_for):
    me, pm = token_for(world.head), token_for(world.manager)
    first = _report(client, world, me, key="api-report-11").json()
    url = f"/api/community/{world.com}/repairs/{first['id']}/cancel"
    assert client.post(url, headers=token_for(world.neighbour), json={}).status_code == 404
    cancelled = client.post(url, headers=token_for(world.spouse), json={"reason": "自己修好了"})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    second = _report(client, world, me, key="api-report-12").json()
    url = f"/api/community/{world.com}/repairs/{second['id']}/cancel"
    no_reason = client.post(url, headers=pm, json={})
    assert no_reason.status_code == 422
    by_property = client.post(url, headers=pm, json={"reason": "重复报修"})
    assert by_property.json()["cancel_reason"] == "重复报修"
