"""Webhooks: a bad signature is refused and changes nothing; a repeated event is applied once;
an out-of-order status never moves a delivery back; nothing moves a delivery out of an end; a
lost webhook is caught by polling."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from tests.delivery.conftest import book, request
from townsquare.core.clock import clock
from townsquare.delivery import jobs, service
from townsquare.delivery.models import WebhookReceipt
from townsquare.delivery.status import DeliveryStatus as S


def _status(database, dlv):
    with database.unit_of_work() as db:
        return service.by_public_id(db, dlv).status


def _send(client, courier, dlv, status, **kwargs):
    body, headers = courier.webhook(dlv, status, **kwargs)
    return client.post(f"/delivery/webhooks/{courier.name}", content=body, headers=headers)


def test_bad_signature_is_refused(database, settings, shop, fleet, client):
    dlv = request(database, shop)
    book(database, fleet, dlv, settings)
    body, headers = fleet.couriers["beta"].webhook(dlv, "assigned", signature="0" * 64)
    response = client.post("/delivery/webhooks/beta", content=body, headers=headers)
    assert response.status_code == 401 and response.json()["error"]["code"] == "bad_signature"
    # a body changed after signing fails too
    body, headers = fleet.couriers["beta"].webhook(dlv, "assigned")
    tampered = body.replace(b"assigned", b"delivered")
    assert client.post("/delivery/webhooks/beta", content=tampered,
                       headers=headers).status_code == 401
    assert _status(database, dlv) is S.CREATED
    with database.unit_of_work() as db:
        assert db.scalar(select(func.count()).select_from(WebhookReceipt)) == 0
    assert client.post("/delivery/webhooks/nobody", content=body,
                       headers=headers).status_code == 404


def test_duplicates_once_and_no_backward_moves(database, settings, shop, fleet, client):
    dlv = request(database, shop)
    book(database, fleet, dlv, settings)
    beta = fleet.couriers["beta"]
    first = _send(client, beta, dlv, "assigned", event_id="e1", lat=30.51, lng=114.40)
    assert first.json() == {"applied": 1, "duplicates": 0, "ignored": 0}
    again = _send(client, beta, dlv, "assigned", event_id="e1")
    assert again.json() == {"applied": 0, "duplicates": 1, "ignored": 0}
    assert _send(client, beta, dlv, "picked_up", event_id="e3").json()["applied"] == 1
    # arriving late: at_pickup after picked_up changes nothing
    late = _send(client, beta, dlv, "at_pickup", event_id="e2")
    assert late.json() == {"applied": 0, "duplicates": 0, "ignored": 1}
    assert _status(database, dlv) is S.PICKED_UP
    assert _send(client, beta, dlv, "delivered", event_id="e5").json()["applied"] == 1
    for i, status in enumerate(("at_dropoff", "cancelled", "assigned", "returned")):
        assert _send(client, beta, dlv, status, event_id=f"late{i}").json()["ignored"] == 1
    with database.unit_of_work() as db:
        found = service.by_public_id(db, dlv)
        assert found.status is S.DELIVERED and found.delivered_at is not None
        assert found.courier_name == "beta courier"
        assert [(p.lat, p.lng) for p in service.trail(db, found)] == [(30.51, 114.40)]


def test_a_lost_webhook_is_caught_by_polling(database, settings, shop, fleet, client):
    dlv = request(database, shop)
    book(database, fleet, dlv, settings)
    fleet.couriers["beta"].set_status(dlv, "picked_up")  # its webhook never arrives
    polled = jobs.poll(database, settings=settings, adapters=fleet.adapters)
    assert polled.asked == 0  # not quiet long enough yet
    clock.freeze(clock.now() + timedelta(seconds=settings.delivery_poll_after_s + 1))
    polled = jobs.poll(database, settings=settings, adapters=fleet.adapters)
    assert polled.asked == 1 and polled.changed == 1
    assert _status(database, dlv) is S.PICKED_UP
