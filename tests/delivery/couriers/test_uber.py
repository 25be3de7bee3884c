"""Uber Direct adapter against the running Uber Direct simulator, over HTTP."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from townsquare.delivery.adapters import uber
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
from townsquare.delivery.simulators import uber as sim_module
from townsquare.delivery.simulators.uber import UberSimulator
from townsquare.delivery.status import RANK, DeliveryStatus

from .conftest import PACE, Receiver, make_parcel


@pytest.fixture
def sim(receiver: Receiver) -> Iterator[UberSimulator]:
    _url, simulator = sim_module.start(pace=PACE, webhook_url=receiver.url, seed=11)
    simulator.location_every_s = 10_000  # courier updates only where a test asks for them
    try:
        yield simulator
    finally:
        simulator.stop()


def adapter_for(sim: UberSimulator, timeout_s: float = 5.0, **override: str) -> uber.UberAdapter:
    kw = {"customer_id": sim_module.DEMO_CUSTOMER_ID, "client_id": sim_module.DEMO_CLIENT_ID,
          "client_secret": sim_module.DEMO_CLIENT_SECRET,
          "signing_key": sim_module.DEMO_SIGNING_KEY} | override
    return uber.UberAdapter(sim.url, timeout_s=timeout_s, **kw)


def status_events(receiver: Receiver, adapter: uber.UberAdapter):
    return [e for r in receiver.items() for e in adapter.parse_webhook(r.headers, r.body)]


def test_happy_path_to_delivered(sim, receiver):
    adapter = adapter_for(sim)
    parcel = make_parcel()
    quote = adapter.quote(parcel)
    assert quote.quote_id.startswith("dqt_") and quote.fee_fen >= 600
    left = (quote.expires_at - datetime.now(UTC)).total_seconds()
    assert 14 * 60 < left <= 15 * 60  # Uber's quotes are valid 15 minutes
    created = adapter.create(parcel, quote)
    assert created.external_id.startswith("del_") and created.fee_fen == quote.fee_fen
    assert created.status == DeliveryStatus.CREATED
    assert receiver.wait_for(lambda got: any(b'"delivered"' in r.body and
                                             b"event.delivery_status" in r.body for r in got))
    events = status_events(receiver, adapter)
    assert [e.status for e in events] == [
        DeliveryStatus.CREATED, DeliveryStatus.ASSIGNED, DeliveryStatus.AT_PICKUP,
        DeliveryStatus.PICKED_UP, DeliveryStatus.PICKED_UP, DeliveryStatus.AT_DROPOFF,
        DeliveryStatus.DELIVERED]
    assert all(e.delivery_id == parcel.delivery_id for e in events)
    assert len({e.event_id for e in events}) == len(events)
    assert events[1].delivery and events[1].delivery.courier_name
    final = adapter.get(parcel.delivery_id)
    assert final.status == DeliveryStatus.DELIVERED
    assert final.tracking_url.startswith(sim.url)


def test_token_is_fetched_with_client_credentials(sim):
    with pytest.raises(ProviderError) as caught:
        adapter_for(sim, client_secret="wrong").quote(make_parcel())
    assert caught.value.code == "provider_auth"
    adapter = adapter_for(sim)
    adapter.quote(make_parcel())
    sim.tokens.clear()  # Uber forgot the token: the adapter asks again once
    adapter.quote(make_parcel())


def test_duplicate_create_is_refused_by_idempotency_key(sim):
    adapter = adapter_for(sim)
    parcel = make_parcel()
    first = adapter.create(parcel, adapter.quote(parcel))
    with pytest.raises(DuplicateDelivery):
        adapter.create(parcel, None)
    assert adapter.get(parcel.delivery_id).external_id == first.external_id
    assert len(sim.deliveries) == 1


def test_expired_quote(sim):
    adapter = adapter_for(sim)
    parcel = make_parcel()
    quote = adapter.quote(parcel)
    sim.expire_quotes()
    with pytest.raises(QuoteExpired):
        adapter.create(parcel, quote)
    assert not sim.deliveries
    assert adapter.create(parcel, adapter.quote(parcel)).status == DeliveryStatus.CREATED


def test_refusals_and_failures(sim):
    adapter = adapter_for(sim)
    with pytest.raises(ProviderRejected):
        adapter.quote(make_parcel(far=True))
    sim.reject_next(1)
    with pytest.raises(ProviderRejected):
        adapter.create(make_parcel(), None)
    sim.fail_next(1)
    with pytest.raises(ProviderError):
        adapter.create(make_parcel(), None)


def test_out_of_order_and_duplicated_webhooks(sim, receiver):
    adapter = adapter_for(sim)
    sim.shuffle_webhooks(True)
    sim.duplicate_webhooks(True)
    parcel = make_parcel()
    adapter.create(parcel, None)
    assert receiver.wait_for(lambda got: len(got) >= 14)
    events = status_events(receiver, adapter)
    assert len(events) == 14
    ids: dict[str, set[str]] = {}
    for event in events:
        ids.setdefault(event.event_id, set()).add(event.status)
    assert len(ids) == 7 and all(len(s) == 1 for s in ids.values())
    ranks = [RANK[e.status] for e in events]
    assert ranks != sorted(ranks)
    latest = max(events, key=lambda e: e.occurred_at)
    assert latest.status == DeliveryStatus.DELIVERED  # occurred_at still orders them


def test_courier_updates_carry_positions(sim, receiver):
    sim.location_every_s = 30
    adapter = adapter_for(sim)
    parcel = make_parcel()
    adapter.create(parcel, None)
    assert receiver.wait_for(lambda got: sum(b"event.courier_update" in r.body
                                             for r in got) >= 3)
    updates = [r for r in receiver.items() if b"event.courier_update" in r.body]
    positions = []
    for item in updates:
        (event,) = adapter.parse_webhook(item.headers, item.body)
        assert event.delivery and event.delivery.courier_lat is not None
        positions.append((event.delivery.courier_lat, event.delivery.courier_lng))
    assert len(set(positions)) >= 2  # the courier moves
    for lat, lng in positions:
        assert 30.4 < lat < 30.8 and 114.1 < lng < 114.5  # in Wuhan


def test_bad_signature_is_refused(sim, receiver):
    adapter = adapter_for(sim)
    adapter.create(make_parcel(), None)
    assert receiver.wait_for(lambda got: len(got) >= 1)
    got = receiver.items()[0]
    with pytest.raises(BadSignature):
        adapter.parse_webhook({**got.headers, "x-uber-signature": "0" * 64}, got.body)
    with pytest.raises(BadSignature):  # one byte changed in the body
        adapter.parse_webhook(got.headers, got.body.replace(b"pending", b"delivered"))
    signed = hmac.new(sim_module.DEMO_SIGNING_KEY.encode(), got.body, hashlib.sha256).hexdigest()
    assert got.headers["x-uber-signature"] == signed
    assert adapter.parse_webhook({"X-Uber-Signature": signed}, got.body)


def test_timeout_on_create_then_get_by_our_id_finds_it(sim):
    adapter = adapter_for(sim, timeout_s=0.3)
    adapter.quote(make_parcel())  # the token is fetched before the provider turns slow
    parcel = make_parcel()
    sim.slow(1.0)
    with pytest.raises(ProviderTimeout):
        adapter.create(parcel, None)
    sim.slow(0)
    fresh = adapter_for(sim)  # another process: no cache of Uber's id
    found = fresh.get(parcel.delivery_id)
    assert found.external_id in sim.deliveries
    with pytest.raises(DuplicateDelivery):
        fresh.create(parcel, None)
    assert len(sim.deliveries) == 1


def test_cancel_rules(sim, receiver):
    adapter = adapter_for(sim)
    early = make_parcel()
    adapter.create(early, None)
    assert adapter.cancel(early.delivery_id, "changed").status == DeliveryStatus.CANCELLED
    late = make_parcel()
    adapter.create(late, None)
    assert sim.wait_for(lambda: RANK[adapter.get(late.delivery_id).status]
                        >= RANK[DeliveryStatus.PICKED_UP])
    with pytest.raises(NotCancellable):
        adapter.cancel(late.delivery_id, "too late")


def test_courier_cancels_after_assignment(sim, receiver):
    adapter = adapter_for(sim)
    sim.cancel_after_assignment(1)
    parcel = make_parcel()
    adapter.create(parcel, None)
    assert receiver.wait_for(lambda got: any(b'"canceled"' in r.body for r in got))
    assert adapter.get(parcel.delivery_id).status == DeliveryStatus.CANCELLED
    body = json.loads(next(r.body for r in receiver.items() if b'"canceled"' in r.body))
    assert body["kind"] == "event.delivery_status"


def test_unknown_delivery_is_delivery_unknown(sim):
    with pytest.raises(DeliveryUnknown):
        adapter_for(sim).get("dlv_nope")
    with pytest.raises(DeliveryUnknown):
        adapter_for(sim).cancel("dlv_nope", "never booked")
