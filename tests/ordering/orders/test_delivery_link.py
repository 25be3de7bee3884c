"""The delivery link (ordering/orders/delivery_link.py): an accepted delivery order asks for a
delivery; the shop's rider (or a courier) moves the order out for delivery and delivered; a
cancelled order cancels its delivery; a provider giving up re-books without touching the order."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.delivery.conftest import fleet  # noqa: F401  (three couriers on loopback)
from tests.ordering.orders import world as w
from townsquare import delivery
from townsquare.accounts.models import User
from townsquare.core.errors import TownsquareError
from townsquare.delivery import dispatch, riders
from townsquare.events.models import BehaviourEvent, EventType
from townsquare.ordering import orders
from townsquare.ordering.orders import delivery_link
from townsquare.ordering.orders.checkout import DeliveryAddress

S = orders.OrderStatus


@pytest.fixture
def world(database, settings, shop, make_user):
    return w.build(database, settings, shop, make_user)


def _accepted(database, settings, world) -> str:
    home = DeliveryAddress("王芳", "13800000000", "光谷大道 2 号 3 栋", *w.HOME)
    ord_id = w.paid_order(database, settings, world, quantity=6, kind="delivery", address=home,
                          slot=None)
    with database.unit_of_work() as db:
        orders.accept(db, actor=world.shop.owner, order_id=ord_id)
    return ord_id


def _delivery(database, ord_id):
    with database.unit_of_work() as db:
        order = w.order(db, ord_id)
        found = delivery_link.delivery_of(db, order)
        return order.status, found


def _scored(db, kind: EventType, ord_id: str) -> list[BehaviourEvent]:
    return list(db.scalars(select(BehaviourEvent).where(BehaviourEvent.type == kind,
                                                        BehaviourEvent.order_id == ord_id)))


def test_own_rider_delivers_and_the_order_follows(database, settings, world):
    with database.unit_of_work() as db:
        riders.add_rider(db, actor=None, merchant=world.shop.merchant, username="mei")
        riders.set_duty(db, actor=db.get_one(User, world.shop.owner.id), on_duty=True)
    ord_id = _accepted(database, settings, world)
    status, found = _delivery(database, ord_id)
    assert status is S.ACCEPTED and found.status is delivery.DeliveryStatus.QUOTED
    assert found.dropoff["address"] == "光谷大道 2 号 3 栋" and found.value_fen == 2700
    with database.unit_of_work() as db:
        assert delivery_link.tracking_path(db, w.order(db, ord_id)) == \
            f"/delivery/{found.public_id}"
    assert dispatch.book(database, found.public_id, settings=settings,
                         adapters=dispatch.available(database, settings=settings)).provider \
        == "self"
    with database.unit_of_work() as db:
        rider = db.get_one(User, world.shop.owner.id)
        riders.accept(db, actor=rider, delivery_id=found.public_id)
        riders.picked_up(db, actor=rider, delivery_id=found.public_id)
    assert _delivery(database, ord_id)[0] is S.OUT_FOR_DELIVERY
    with database.unit_of_work() as db:
        # the hook asked with the process's settings (as in production), so check with them
        code = delivery.dropoff_code(found)
        riders.delivered(db, actor=db.get_one(User, world.shop.owner.id),
                         delivery_id=found.public_id, code=code)
    status, found = _delivery(database, ord_id)
    assert status is S.DELIVERED and found.status is delivery.DeliveryStatus.DELIVERED
    with database.unit_of_work() as db:
        assert [e.status.value for e in orders.timeline(w.order(db, ord_id))][-3:] == [
            "ready", "out_for_delivery", "delivered"]
        # scoring heard of it once: delivered by the promised time, no incident
        (done,) = _scored(db, EventType.DELIVERY_DONE, ord_id)
        assert done.resolution == "on_time" and done.duration_seconds < 0
        assert done.event_id == f"platform:order:{ord_id}:delivered"
        assert _scored(db, EventType.DELIVERY_INCIDENT, ord_id) == []
    # a repeated "delivered" (the rider's page re-sent) records nothing more
    with database.unit_of_work() as db, pytest.raises(TownsquareError):
        riders.delivered(db, actor=db.get_one(User, world.shop.owner.id),
                         delivery_id=found.public_id, code=code)
    with database.unit_of_work() as db:
        assert len(_scored(db, EventType.DELIVERY_DONE, ord_id)) == 1


def test_courier_failover_and_order_cancel(database, settings, world, fleet, client):  # noqa: F811
    ord_id = _accepted(database, settings, world)
    _, found = _delivery(database, ord_id)
    adapters = dispatch.available(database, settings=settings)
    assert dispatch.book(database, found.public_id, settings=settings,
                         adapters=adapters).provider == "beta"
    body, headers = fleet.couriers["beta"].webhook(found.public_id, "cancelled")
    assert client.post("/delivery/webhooks/beta", content=body,
                       headers=headers).status_code == 200
    assert _delivery(database, ord_id)[0] is S.ACCEPTED  # the order did not notice
    # ... but scoring did, once, even when the courier repeats itself
    assert client.post("/delivery/webhooks/beta", content=body,
                       headers=headers).status_code == 200
    with database.unit_of_work() as db:
        (incident,) = _scored(db, EventType.DELIVERY_INCIDENT, ord_id)
        assert incident.complaint_category == "cancelled"
    assert dispatch.book(database, found.public_id, settings=settings,
                         adapters=adapters).provider == "alpha"
    with database.unit_of_work() as db:
        orders.cancel_by_merchant(db, actor=world.shop.owner, order_id=ord_id, reason="缺货")
    status, found = _delivery(database, ord_id)
    assert status is S.CANCELLED and found.status is delivery.DeliveryStatus.CANCELLED
    assert fleet.couriers["alpha"].deliveries[found.public_id]["status"] == "cancelled"
