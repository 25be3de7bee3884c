"""Open Delivery adapter against the running Logistic Service simulator, over HTTP: 202, then
ACCEPTED or REJECTED by webhook."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from townsquare.delivery.adapters import open_delivery
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
from townsquare.delivery.simulators import open_delivery as sim_module
from townsquare.delivery.simulators.open_delivery import OpenDeliverySimulator
from townsquare.delivery.status import RANK, DeliveryStatus

from .conftest import PACE, Receiver, make_parcel


@pytest.fixture
def sim(receiver: Receiver) -> Iterator[OpenDeliverySimulator]:
    _url, simulator = sim_module.start(pace=PACE, webhook_url=receiver.url, seed=3)
    simulator.location_every_s = 10_000
    try:
        yield simulator
    finally:
        simulator.stop()


def adapter_for(sim: OpenDeliverySimulator, timeout_s: float = 5.0, **override: str
                ) -> open_delivery.OpenDeliveryAdapter:
    kw = {"client_id": sim_module.DEMO_CLIENT_ID, "client_secret": sim_module.DEMO_CLIENT_SECRET,
          "app_id": sim_module.DEMO_APP_ID} | override
    return open_delivery.OpenDeliveryAdapter(sim.url, timeout_s=timeout_s, **kw)


def events_of(receiver: Receiver, adapter):
    return [e for r in receiver.items() for e in adapter.parse_webhook(r.headers, r.body)]


def test_happy_path_202_then_accepted_to_delivered(sim, receiver):
    adapter = adapter_for(sim)
    parcel = make_parcel()
    quote = adapter.quote(parcel)
    assert quote.fee_fen >= 600 and quote.dropoff_eta > quote.pickup_eta
    created = adapter.create(parcel, quote)
    assert created.status == DeliveryStatus.CREATED  # 202 PENDING: not yet accepted
    assert receiver.wait_for(lambda got: any(b"ORDER_DELIVERED" in r.body for r in got))
    events = events_of(receiver, adapter)
    assert [e.status for e in events] == [
        DeliveryStatus.ASSIGNED, DeliveryStatus.ASSIGNED, DeliveryStatus.AT_PICKUP,
        DeliveryStatus.PICKED_UP, DeliveryStatus.PICKED_UP, DeliveryStatus.AT_DROPOFF,
        DeliveryStatus.DELIVERED, DeliveryStatus.DELIVERED]
    accepted = events[0].delivery
    assert accepted and accepted.courier_name and accepted.fee_fen == quote.fee_fen
    assert all(e.delivery_id == parcel.delivery_id for e in events)
    final = adapter.get(parcel.delivery_id)
    assert final.status == DeliveryStatus.DELIVERED and final.courier_name


def test_rejected_by_webhook(sim, receiver):
    adapter = adapter_for(sim)
    sim.reject_next(1)
    parcel = make_parcel()
    assert adapter.create(parcel, None).status == DeliveryStatus.CREATED  # 202 all the same
    assert receiver.wait_for(lambda got: any(b"REJECTED" in r.body for r in got))
    (event,) = events_of(receiver, adapter)
    assert event.status == DeliveryStatus.REJECTED
    body = json.loads(receiver.items()[0].body)
    assert body["event"]["rejectionInfo"]["reason"] == "NO_DELIVERYPERSON_AVAILABLE"
    assert adapter.get(parcel.delivery_id).status == DeliveryStatus.REJECTED
    # after a REJECTED the same orderId may be requested again
    assert adapter.create(parcel, None).status == DeliveryStatus.CREATED


def test_duplicate_order_id(sim):
    adapter = adapter_for(sim)
    parcel = make_parcel()
    adapter.create(parcel, None)
    with pytest.raises(DuplicateDelivery):
        adapter.create(parcel, None)
    assert len(sim.orders) == 1


def test_expired_quote_is_quoted_again(sim):
    adapter = adapter_for(sim)
    parcel = make_parcel()
    quote = adapter.quote(parcel)
    old = replace(quote, expires_at=datetime.now(UTC) - timedelta(seconds=1))
    with pytest.raises(QuoteExpired):
        adapter.create(parcel, old)
    assert not sim.orders


def test_out_of_area_quote_and_failures(sim):
    adapter = adapter_for(sim)
    with pytest.raises(ProviderRejected):
        adapter.quote(make_parcel(far=True))
    sim.fail_next(1)
    with pytest.raises(ProviderError):
        adapter.quote(make_parcel())


def test_out_of_order_and_duplicated_webhooks(sim, receiver):
    adapter = adapter_for(sim)
    sim.shuffle_webhooks(True)
    sim.duplicate_webhooks(True)
    adapter.create(make_parcel(), None)
    assert receiver.wait_for(lambda got: len(got) >= 16)
    events = events_of(receiver, adapter)
    assert len(events) == 16
    ids: dict[str, set[str]] = {}
    for event in events:
        ids.setdefault(event.event_id, set()).add(event.status)
    assert len(ids) == 8 and all(len(s) == 1 for s in ids.values())
    ranks = [RANK[e.status] for e in events]
    assert ranks != sorted(ranks)


def test_bad_signature_is_refused(sim, receiver):
    adapter = adapter_for(sim)
    adapter.create(make_parcel(), None)
    assert receiver.wait_for(lambda got: len(got) >= 1)
    got = receiver.items()[0]
    with pytest.raises(BadSignature):
        adapter.parse_webhook({**got.headers, "x-app-signature": "ab" * 32}, got.body)
    with pytest.raises(BadSignature):
        adapter.parse_webhook(got.headers, got.body.replace(b"ACCEPTED", b"DELIVERED"))
    with pytest.raises(BadSignature):  # signed right, but by another Logistic Service
        adapter.parse_webhook({**got.headers, "x-app-id": "someone-else"}, got.body)
    assert adapter.parse_webhook(got.headers, got.body)


def test_timeout_on_create_then_get_by_our_id_finds_it(sim):
    adapter = adapter_for(sim, timeout_s=0.3)
    adapter.quote(make_parcel())
    parcel = make_parcel()
    sim.slow(1.0)
    with pytest.raises(ProviderTimeout):
        adapter.create(parcel, None)
    sim.slow(0)
    assert adapter.get(parcel.delivery_id).external_id.startswith("odd-")
    with pytest.raises(DuplicateDelivery):
        adapter.create(parcel, None)
    assert len(sim.orders) == 1


def test_cancel_rules_and_unknown(sim, receiver):
    adapter = adapter_for(sim)
    early = make_parcel()
    adapter.create(early, None)
    assert adapter.cancel(early.delivery_id, "customer left").status == DeliveryStatus.CANCELLED
    late = make_parcel()
    adapter.create(late, None)
    assert sim.wait_for(lambda: RANK[adapter.get(late.delivery_id).status]
                        >= RANK[DeliveryStatus.PICKED_UP])
    with pytest.raises(NotCancellable):
        adapter.cancel(late.delivery_id, "too late")
    with pytest.raises(DeliveryUnknown):
        adapter.get("dlv_nope")
