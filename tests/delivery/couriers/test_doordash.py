"""DoorDash Drive v2 adapter against the running Drive simulator, over HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from townsquare.delivery.adapters import doordash
from townsquare.delivery.adapters.base import (
    BadSignature,
    DeliveryUnknown,
    DuplicateDelivery,
    NotCancellable,
    ProviderError,
    ProviderRejected,
    ProviderTimeout,
    QuoteExpired,
)
from townsquare.delivery.simulators import doordash as sim_module
from townsquare.delivery.simulators.doordash import DoorDashSimulator
from townsquare.delivery.status import RANK, DeliveryStatus

from .conftest import PACE, Receiver, make_parcel


@pytest.fixture
def sim(receiver: Receiver) -> Iterator[DoorDashSimulator]:
    url, simulator = sim_module.start(pace=PACE, webhook_url=receiver.url, seed=7)
    try:
        yield simulator
    finally:
        simulator.stop()


def adapter_for(sim: DoorDashSimulator, timeout_s: float = 5.0, **override: str
                ) -> doordash.DoorDashAdapter:
    kw = {"developer_id": sim_module.DEMO_DEVELOPER_ID, "key_id": sim_module.DEMO_KEY_ID,
          "signing_secret": sim_module.DEMO_SIGNING_SECRET,
          "webhook_auth": sim_module.DEMO_WEBHOOK_AUTH} | override
    return doordash.DoorDashAdapter(sim.url, timeout_s=timeout_s, **kw)


def test_happy_path_quote_accept_and_webhooks_to_delivered(sim, receiver):
    adapter = adapter_for(sim)
    parcel = make_parcel()
    quote = adapter.quote(parcel)
    assert quote.provider == "doordash" and quote.quote_id == parcel.delivery_id
    assert quote.fee_fen >= 600 and quote.dropoff_eta > quote.pickup_eta
    left = (quote.expires_at - datetime.now(UTC)).total_seconds()
    assert 290 < left <= 300  # Drive's quotes are accepted within 5 minutes
    created = adapter.create(parcel, quote)
    assert created.status == DeliveryStatus.CREATED and created.external_id == parcel.delivery_id

    assert receiver.wait_for(lambda got: any(b"DASHER_DROPPED_OFF" in r.body for r in got))
    events = [e for r in receiver.items() for e in adapter.parse_webhook(r.headers, r.body)]
    statuses = [e.status for e in events]
    assert statuses == [DeliveryStatus.ASSIGNED, DeliveryStatus.AT_PICKUP,
                        DeliveryStatus.PICKED_UP, DeliveryStatus.AT_DROPOFF,
                        DeliveryStatus.DELIVERED]
    assert all(e.delivery_id == parcel.delivery_id for e in events)
    assert len({e.event_id for e in events}) == 5
    assigned = events[0].delivery
    assert assigned is not None and assigned.courier_name and assigned.courier_lat
    # the courier moved through Wuhan: from somewhere else to the pickup, then to the door
    at_door = events[-1].delivery
    assert at_door is not None
    assert (at_door.courier_lat, at_door.courier_lng) == (parcel.dropoff.lat, parcel.dropoff.lng)

    final = adapter.get(parcel.delivery_id)
    assert final.status == DeliveryStatus.DELIVERED and final.fee_fen == quote.fee_fen


def test_jwt_is_required_and_checked(sim):
    bad = adapter_for(sim, signing_secret="d3Jvbmctc2VjcmV0")
    with pytest.raises(ProviderError) as caught:
        bad.quote(make_parcel())
    assert caught.value.code == "provider_auth"
    token = doordash.make_jwt("dev", "key", "c2VjcmV0", now=1_700_000_000)
    head, claims, _ = token.split(".")
    assert json.loads(doordash._b64url_decode(head))["dd-ver"] == "DD-JWT-V1"
    payload = json.loads(doordash._b64url_decode(claims))
    assert payload["exp"] - payload["iat"] == 300 and payload["aud"] == "doordash"


def test_duplicate_create_is_409_duplicate_delivery_id(sim):
    adapter = adapter_for(sim)
    parcel = make_parcel()
    adapter.create(parcel, None)
    with pytest.raises(DuplicateDelivery):
        adapter.create(parcel, None)
    with pytest.raises(DuplicateDelivery):  # a quote for an id that is already a delivery
        adapter.quote(parcel)
    assert adapter.get(parcel.delivery_id).external_id == parcel.delivery_id
    assert len([t for t in sim.trips if t == parcel.delivery_id]) == 1


def test_expired_quote_is_refused_by_the_provider(sim):
    adapter = adapter_for(sim)
    parcel = make_parcel()
    quote = adapter.quote(parcel)
    sim.expire_quotes()  # five minutes pass at DoorDash
    with pytest.raises(QuoteExpired):
        adapter.create(parcel, quote)
    fresh = adapter.quote(parcel)  # quoting again is allowed
    assert adapter.create(parcel, fresh).status == DeliveryStatus.CREATED


def test_out_of_area_and_reject_switch(sim):
    adapter = adapter_for(sim)
    with pytest.raises(ProviderRejected):
        adapter.quote(make_parcel(far=True))
    sim.reject_next(1)
    with pytest.raises(ProviderRejected):
        adapter.create(make_parcel(), None)
    sim.fail_next(1)
    with pytest.raises(ProviderError):
        adapter.quote(make_parcel())


def test_cancel_before_pickup_and_not_after(sim, receiver):
    adapter = adapter_for(sim)
    parcel = make_parcel()
    adapter.create(parcel, None)
    cancelled = adapter.cancel(parcel.delivery_id, "customer changed their mind")
    assert cancelled.status == DeliveryStatus.CANCELLED
    late = make_parcel()
    adapter.create(late, None)
    assert sim.wait_for(lambda: adapter.get(late.delivery_id).status in (
        DeliveryStatus.PICKED_UP, DeliveryStatus.AT_DROPOFF, DeliveryStatus.DELIVERED))
    with pytest.raises(NotCancellable):
        adapter.cancel(late.delivery_id, "too late")


def test_out_of_order_and_duplicated_webhooks_parse_to_stable_ids(sim, receiver):
    adapter = adapter_for(sim)
    sim.shuffle_webhooks(True)
    sim.duplicate_webhooks(True)
    parcel = make_parcel()
    adapter.create(parcel, None)
    assert receiver.wait_for(lambda got: len(got) >= 10)
    events = [e for r in receiver.items() for e in adapter.parse_webhook(r.headers, r.body)]
    by_id: dict[str, set[DeliveryStatus]] = {}
    for event in events:
        by_id.setdefault(event.event_id, set()).add(event.status)
    assert len(by_id) == 5 and all(len(s) == 1 for s in by_id.values())  # stable ids
    assert len(events) == 10  # each twice
    ranks = [RANK[e.status] for e in events]
    assert ranks != sorted(ranks)  # they did arrive out of order
    assert {e.status for e in events} >= {DeliveryStatus.DELIVERED, DeliveryStatus.ASSIGNED}


def test_bad_signature_is_refused(sim, receiver):
    adapter = adapter_for(sim)
    adapter.create(make_parcel(), None)
    assert receiver.wait_for(lambda got: len(got) >= 1)
    got = receiver.items()[0]
    with pytest.raises(BadSignature):
        adapter.parse_webhook({**got.headers, "authorization": "Bearer forged"}, got.body)
    with pytest.raises(BadSignature):
        adapter.parse_webhook({}, got.body)
    assert adapter.parse_webhook(got.headers, got.body)


def test_lost_webhook_is_not_sent_but_get_knows(sim, receiver):
    adapter = adapter_for(sim)
    sim.lose_webhooks(1)
    parcel = make_parcel()
    adapter.create(parcel, None)
    assert receiver.wait_for(lambda got: any(b"DASHER_DROPPED_OFF" in r.body for r in got))
    names = [json.loads(r.body)["event_name"] for r in receiver.items()]
    assert "DASHER_CONFIRMED" not in names  # the first one was lost
    assert adapter.get(parcel.delivery_id).status == DeliveryStatus.DELIVERED  # polling finds it


def test_timeout_on_create_then_get_by_our_id_finds_it(sim):
    adapter = adapter_for(sim, timeout_s=0.3)
    parcel = make_parcel()
    sim.slow(1.0)
    with pytest.raises(ProviderTimeout):
        adapter.create(parcel, None)
    sim.slow(0)
    found = adapter.get(parcel.delivery_id)
    assert found.external_id == parcel.delivery_id
    with pytest.raises(DuplicateDelivery):  # a blind retry would be refused, not doubled
        adapter.create(parcel, None)
    assert list(sim.trips).count(parcel.delivery_id) == 1


def test_courier_cancels_after_assignment(sim, receiver):
    adapter = adapter_for(sim)
    sim.cancel_after_assignment(1)
    parcel = make_parcel()
    adapter.create(parcel, None)
    assert receiver.wait_for(lambda got: any(b"DELIVERY_CANCELLED" in r.body for r in got))
    assert adapter.get(parcel.delivery_id).status == DeliveryStatus.CANCELLED


def test_unknown_delivery_is_delivery_unknown(sim):
    with pytest.raises(DeliveryUnknown):
        adapter_for(sim).get("dlv_nope")
    with pytest.raises(DeliveryUnknown):
        adapter_for(sim).cancel("dlv_nope", "never booked")


def test_webhook_field_variants_parse_alike(sim, receiver):
    """The flat location fields and `event_type` of some published Drive schemas read the same."""
    adapter = adapter_for(sim)
    adapter.create(make_parcel(), None)
    assert receiver.wait_for(lambda got: any(b"DASHER_CONFIRMED" in r.body for r in got))
    got = next(r for r in receiver.items() if b"DASHER_CONFIRMED" in r.body)
    payload = json.loads(got.body)
    location = payload.pop("dasher_location")
    payload["event_type"] = payload.pop("event_name")
    payload.update(dasher_location_lat=location["lat"], dasher_location_lng=location["lng"])
    (event,) = adapter.parse_webhook(got.headers, json.dumps(payload).encode())
    (same,) = adapter.parse_webhook(got.headers, got.body)
    assert event.event_id == same.event_id and event.status == DeliveryStatus.ASSIGNED
    assert event.delivery and event.delivery.courier_lat == location["lat"]
