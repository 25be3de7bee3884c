"""达达 (Dada) adapter against the running Dada open-platform simulator, over HTTP."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from townsquare.delivery.adapters import dada
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
from townsquare.delivery.simulators import dada as sim_module
from townsquare.delivery.simulators.dada import DadaSimulator
from townsquare.delivery.status import RANK, DeliveryStatus

from .conftest import PACE, Receiver, make_parcel


@pytest.fixture
def sim() -> Iterator[DadaSimulator]:
    _url, simulator = sim_module.start(pace=PACE, seed=5)
    try:
        yield simulator
    finally:
        simulator.stop()


def adapter_for(sim: DadaSimulator, receiver: Receiver, timeout_s: float = 5.0,
                **override: str) -> dada.DadaAdapter:
    kw = {"source_id": sim_module.DEMO_SOURCE_ID, "app_key": sim_module.DEMO_APP_KEY,
          "app_secret": sim_module.DEMO_APP_SECRET, "callback_url": receiver.url} | override
    return dada.DadaAdapter(sim.url, timeout_s=timeout_s, **kw)


def events_of(receiver: Receiver, adapter: dada.DadaAdapter):
    return [e for r in receiver.items() for e in adapter.parse_webhook(r.headers, r.body)]


def test_signature_rule_matches_the_published_sdks():
    # MD5(secret + sorted k+v + secret), upper case: checked by hand against the rule
    env = {"app_key": "k", "body": "{}", "format": "json", "source_id": "73753",
           "timestamp": "1700000000", "v": "1.0"}
    text = "s" + "app_keykbody{}formatjsonsource_id73753timestamp1700000000v1.0" + "s"
    assert dada.sign(env, "s") == hashlib.md5(text.encode()).hexdigest().upper()
    assert dada.callback_signature(3, "dlv_1", 1700000000) == hashlib.md5(
        b"1700000000" b"3" b"dlv_1").hexdigest()


def test_happy_path_fee_query_then_add_after_query_to_delivered(sim, receiver):
    adapter = adapter_for(sim, receiver)
    parcel = make_parcel()
    quote = adapter.quote(parcel)
    assert quote.quote_id.startswith("Dada") and quote.fee_fen >= 600
    left = (quote.expires_at - datetime.now(UTC)).total_seconds()
    assert 170 < left <= 180  # a deliveryNo is valid 3 minutes
    created = adapter.create(parcel, quote)
    assert created.external_id == parcel.delivery_id
    assert created.status in (DeliveryStatus.CREATED, DeliveryStatus.ASSIGNED)
    assert created.fee_fen == quote.fee_fen
    assert receiver.wait_for(lambda got: any(b'"order_status": 4' in r.body for r in got))
    events = events_of(receiver, adapter)
    assert [e.status for e in events] == [
        DeliveryStatus.CREATED, DeliveryStatus.ASSIGNED, DeliveryStatus.AT_PICKUP,
        DeliveryStatus.PICKED_UP, DeliveryStatus.DELIVERED]
    assert all(e.delivery_id == parcel.delivery_id for e in events)
    assert len({e.event_id for e in events}) == 5
    assert events[1].delivery and events[1].delivery.courier_name
    final = adapter.get(parcel.delivery_id)
    assert final.status == DeliveryStatus.DELIVERED and final.courier_lat == parcel.dropoff.lat
    # the pickup was registered once as a Dada shop
    assert list(sim.shops) == [dada.shop_no(parcel.pickup)]


def test_requests_are_signed_and_checked(sim, receiver):
    adapter = adapter_for(sim, receiver, app_secret="wrong-secret")
    with pytest.raises(ProviderError) as caught:
        adapter.quote(make_parcel())
    assert caught.value.code == "provider_auth"
    good = adapter_for(sim, receiver)
    envelope = good.envelope({"order_id": "x"})
    envelope["body"] = json.dumps({"order_id": "y"})  # tampered after signing
    answer = httpx.post(sim.url + "/api/order/status/query", json=envelope).json()
    assert answer["status"] == "fail" and answer["code"] == sim_module.ERR_SIGNATURE


def test_duplicate_create(sim, receiver):
    adapter = adapter_for(sim, receiver)
    parcel = make_parcel()
    adapter.create(parcel, adapter.quote(parcel))
    with pytest.raises(DuplicateDelivery):
        adapter.create(parcel, None)
    with pytest.raises(DuplicateDelivery):
        adapter.quote(parcel)
    assert len(sim.orders) == 1


def test_expired_delivery_no(sim, receiver):
    adapter = adapter_for(sim, receiver)
    parcel = make_parcel()
    quote = adapter.quote(parcel)
    sim.expire_quotes()
    with pytest.raises(QuoteExpired):
        adapter.create(parcel, quote)
    assert not sim.orders
    assert adapter.create(parcel, adapter.quote(parcel)).external_id == parcel.delivery_id


def test_refusals_and_failures(sim, receiver):
    adapter = adapter_for(sim, receiver)
    with pytest.raises(ProviderRejected):
        adapter.quote(make_parcel(far=True))
    sim.reject_next(1)
    with pytest.raises(ProviderRejected):
        adapter.create(make_parcel(), None)
    adapter.quote(make_parcel())  # registers the shop before the failure switch
    sim.fail_next(1)
    with pytest.raises(ProviderError):
        adapter.quote(make_parcel())


def test_out_of_order_and_duplicated_callbacks(sim, receiver):
    adapter = adapter_for(sim, receiver)
    sim.shuffle_webhooks(True)
    sim.duplicate_webhooks(True)
    parcel = make_parcel()
    adapter.create(parcel, None)
    assert receiver.wait_for(lambda got: len(got) >= 10)
    events = events_of(receiver, adapter)
    assert len(events) == 10
    ids: dict[str, set[str]] = {}
    for event in events:
        ids.setdefault(event.event_id, set()).add(event.status)
    assert len(ids) == 5 and all(len(s) == 1 for s in ids.values())
    ranks = [RANK[e.status] for e in events]
    assert ranks != sorted(ranks)


def test_bad_signature_is_refused(sim, receiver):
    adapter = adapter_for(sim, receiver)
    adapter.create(make_parcel(), None)
    assert receiver.wait_for(lambda got: len(got) >= 1)
    got = receiver.items()[0]
    payload = json.loads(got.body)
    forged = dict(payload, order_id="dlv_someone_else")
    with pytest.raises(BadSignature):
        adapter.parse_webhook(got.headers, json.dumps(forged).encode())
    with pytest.raises(BadSignature):
        adapter.parse_webhook(got.headers, json.dumps(dict(payload, signature="0" * 32)).encode())
    with pytest.raises(BadSignature):
        adapter.parse_webhook(got.headers, b"not json")
    assert adapter.parse_webhook(got.headers, got.body)


def test_timeout_on_create_then_get_by_our_id_finds_it(sim, receiver):
    adapter = adapter_for(sim, receiver, timeout_s=0.3)
    adapter.quote(make_parcel())  # the shop is registered before the provider turns slow
    parcel = make_parcel()
    sim.slow(1.0)
    with pytest.raises(ProviderTimeout):
        adapter.create(parcel, None)
    sim.slow(0)
    found = adapter.get(parcel.delivery_id)
    assert found.external_id == parcel.delivery_id
    with pytest.raises(DuplicateDelivery):
        adapter.create(parcel, None)
    assert len(sim.orders) == 1


def test_cancel_rules(sim, receiver):
    adapter = adapter_for(sim, receiver)
    early = make_parcel()
    adapter.create(early, None)
    assert adapter.cancel(early.delivery_id, "顾客不要了").status == DeliveryStatus.CANCELLED
    late = make_parcel()
    adapter.create(late, None)
    assert sim.wait_for(lambda: RANK[adapter.get(late.delivery_id).status]
                        >= RANK[DeliveryStatus.PICKED_UP])
    with pytest.raises(NotCancellable):
        adapter.cancel(late.delivery_id, "太晚了")


def test_courier_cancels_after_assignment(sim, receiver):
    adapter = adapter_for(sim, receiver)
    sim.cancel_after_assignment(1)
    parcel = make_parcel()
    adapter.create(parcel, None)
    assert receiver.wait_for(lambda got: any(b'"order_status": 5' in r.body for r in got))
    cancelled = [e for e in events_of(receiver, adapter)
                 if e.status == DeliveryStatus.CANCELLED]
    assert cancelled and adapter.get(parcel.delivery_id).status == DeliveryStatus.CANCELLED
    body = json.loads(next(r.body for r in receiver.items() if b'"order_status": 5' in r.body))
    assert body["cancel_from"] == 1  # 达达配送员取消


def test_unknown_order_is_delivery_unknown(sim, receiver):
    with pytest.raises(DeliveryUnknown):
        adapter_for(sim, receiver).get("dlv_nope")
    with pytest.raises(DeliveryUnknown):
        adapter_for(sim, receiver).cancel("dlv_nope", "never booked")
