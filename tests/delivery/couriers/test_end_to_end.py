"""Through Townsquare's door with the real-protocol simulators: dispatch books over HTTP, the
simulators' webhooks (signed as each provider signs them, shuffled and repeated) come in
through /delivery/webhooks/{provider}, failover after a courier gives up, a timed-out create
resolved by lookup. Ends delivered exactly once, by one courier."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from tests.delivery.conftest import request, use_providers
from townsquare.delivery import dispatch, service
from townsquare.delivery.adapters import registry
from townsquare.delivery.adapters.base import ProviderTimeout
from townsquare.delivery.adapters.dada import DadaAdapter
from townsquare.delivery.adapters.doordash import DoorDashAdapter
from townsquare.delivery.adapters.uber import UberAdapter
from townsquare.delivery.breaker import Breakers
from townsquare.delivery.models import DeliveryEvent
from townsquare.delivery.simulators import dada, doordash, uber
from townsquare.delivery.simulators.base import Simulator
from townsquare.delivery.status import DeliveryStatus as S

from .conftest import PACE, Receiver


class RecordingUber(UberAdapter):
    """Uber's adapter, counting the creates that timed out (to show the test took that path)."""

    timeouts = 0

    def create(self, parcel, quote):
        try:
            return super().create(parcel, quote)
        except ProviderTimeout:
            self.timeouts += 1
            raise


@dataclass
class Providers:
    sims: dict[str, Simulator]
    receiver: Receiver
    board: Breakers
    uber: RecordingUber
    relayed: int = 0

    def relay(self, client) -> None:
        """Hand every webhook received so far to Townsquare, as the providers would."""
        items = self.receiver.items()
        for item in items[self.relayed:]:
            provider = item.path.rstrip("/").rsplit("/", 1)[-1]
            answer = client.post(f"/delivery/webhooks/{provider}", content=item.body,
                                 headers={k: v for k, v in item.headers.items()
                                          if k not in ("host", "content-length")})
            assert answer.status_code == 200, answer.text
        self.relayed = len(items)


@pytest.fixture
def providers(receiver: Receiver) -> Iterator[Providers]:
    base = receiver.url.rsplit("/", 1)[0]  # …/delivery/webhooks
    _, dd = doordash.start(pace=PACE, webhook_url=f"{base}/doordash", seed=1)
    _, ub = uber.start(pace=PACE, webhook_url=f"{base}/uber", seed=2)
    _, da = dada.start(pace=PACE, seed=3)
    ub.location_every_s = 10_000
    ub.fee_multiplier, da.fee_multiplier = 1.3, 1.6  # DoorDash is the cheapest, then Uber
    adapters = [
        DoorDashAdapter(dd.url, developer_id=doordash.DEMO_DEVELOPER_ID,
                        key_id=doordash.DEMO_KEY_ID, signing_secret=doordash.DEMO_SIGNING_SECRET,
                        webhook_auth=doordash.DEMO_WEBHOOK_AUTH, timeout_s=2.0),
        RecordingUber(ub.url, customer_id=uber.DEMO_CUSTOMER_ID, client_id=uber.DEMO_CLIENT_ID,
                    client_secret=uber.DEMO_CLIENT_SECRET, signing_key=uber.DEMO_SIGNING_KEY,
                    timeout_s=0.5),
        DadaAdapter(da.url, source_id=dada.DEMO_SOURCE_ID, app_key=dada.DEMO_APP_KEY,
                    app_secret=dada.DEMO_APP_SECRET, callback_url=f"{base}/dada", timeout_s=2.0),
    ]
    registry.reset()
    try:
        with registry.installed(*adapters):
            yield Providers({"doordash": dd, "uber": ub, "dada": da}, receiver,
                            Breakers(failures=3, open_s=30), adapters[1])
    finally:
        for sim in (dd, ub, da):
            sim.stop()
        registry.reset()


def book(database, providers: Providers, delivery_id: str, settings) -> dispatch.Outcome:
    adapters = dispatch.available(database, settings=settings)
    return dispatch.book(database, delivery_id, settings=settings, adapters=adapters,
                         board=providers.board)


def state(database, delivery_id):
    with database.unit_of_work() as db:
        found = service.by_public_id(db, delivery_id)
        attempts = [(a.provider, a.state.value) for a in found.attempts]
        delivered = db.scalars(select(DeliveryEvent).where(
            DeliveryEvent.delivery_id == found.id, DeliveryEvent.kind == "status",
            DeliveryEvent.status == S.DELIVERED)).all()
        return found, attempts, len(delivered)


def test_courier_gives_up_after_assignment_rebooked_delivered_once(database, settings, shop,
                                                                    client, providers):
    use_providers(database, shop, providers=("doordash", "uber", "dada"), self_first=False)
    dd, ub = providers.sims["doordash"], providers.sims["uber"]
    dd.cancel_after_assignment(1)
    dlv = request(database, shop)
    assert book(database, providers, dlv, settings).provider == "doordash"
    assert providers.receiver.wait_for(
        lambda got: any(b"DELIVERY_CANCELLED" in r.body for r in got))
    providers.relay(client)
    found, attempts, _ = state(database, dlv)
    assert found.status is S.QUOTED and "doordash" in found.excluded

    ub.shuffle_webhooks(True)
    ub.duplicate_webhooks(True)
    assert book(database, providers, dlv, settings).provider == "uber"
    assert providers.receiver.wait_for(
        lambda got: sum(b'"delivered"' in r.body and b"delivery_status" in r.body
                        for r in got) >= 2)
    providers.relay(client)
    found, attempts, delivered = state(database, dlv)
    assert found.status is S.DELIVERED and found.provider == "uber"
    assert attempts == [("doordash", "ended"), ("uber", "ended")]
    assert delivered == 1
    assert found.courier_name  # the Uber courier, from the webhooks' data
    assert len(dd.trips) == 1 and len(ub.deliveries) == 1 and not providers.sims["dada"].trips


def test_timeout_on_create_is_resolved_without_a_second_courier(database, settings, shop,
                                                                client, providers):
    use_providers(database, shop, providers=("uber", "dada"), self_first=False)
    ub = providers.sims["uber"]
    ub.slow(1.5, calls=1, match=r"^POST .*/deliveries$")  # only the create answers late
    dlv = request(database, shop)
    outcome = book(database, providers, dlv, settings)
    assert outcome.provider == "uber", outcome.decisions
    assert providers.uber.timeouts == 1  # the create timed out and was looked up
    assert len(ub.deliveries) == 1 and not providers.sims["dada"].orders
    assert providers.receiver.wait_for(lambda got: any(
        b'"delivered"' in r.body and b"delivery_status" in r.body for r in got))
    providers.relay(client)
    found, attempts, delivered = state(database, dlv)
    assert found.status is S.DELIVERED and attempts == [("uber", "ended")] and delivered == 1
