"""Dispatch and failover against three courier providers served over loopback HTTP and the
shop's own riders: policies, self first, failover on rejection, errors, timeouts (looked up by
our id, never a second courier), expired quotes, cancellation after assignment, the breaker."""

from __future__ import annotations

from sqlalchemy import select

from tests.delivery.conftest import book, make_rider, request, use_providers
from townsquare.delivery import jobs, service
from townsquare.delivery.models import AttemptState, Delivery, DeliveryEvent
from townsquare.delivery.status import DeliveryStatus as S


def _delivery(database, delivery_id):
    with database.unit_of_work() as db:
        found = service.by_public_id(db, delivery_id)
        kinds = [e.kind for e in service.timeline(db, found)]
        attempts = [(a.provider, a.state.value) for a in found.attempts]
        return found, kinds, attempts


def test_cheapest_books_the_lowest_fee(database, settings, shop, fleet):
    dlv = request(database, shop)
    outcome = book(database, fleet, dlv, settings)
    assert outcome.status == "created" and outcome.provider == "beta"
    found, kinds, attempts = _delivery(database, dlv)
    assert found.provider == "beta" and found.fee_fen == 600 and found.external_id == "beta-1"
    assert attempts == [("beta", "active")]
    assert kinds.count("quote") == 3 and "decision" in kinds and "booked" in kinds
    assert fleet.total_creates() == 1


def test_fastest_and_cheapest_in_time(database, settings, shop, fleet):
    use_providers(database, shop, policy="fastest")
    assert book(database, fleet, request(database, shop, key="a"), settings).provider == "gamma"
    use_providers(database, shop, policy="cheapest_in_time")
    # promised in 45 minutes: beta (55 min) is late, alpha (40) is the cheapest in time
    dlv = request(database, shop, key="b", ref="ord_b", promised_in=45)
    assert book(database, fleet, dlv, settings).provider == "alpha"


def test_own_rider_first_when_free(database, settings, shop, fleet):
    make_rider(database, shop)
    dlv = request(database, shop)
    assert book(database, fleet, dlv, settings).provider == "self"
    assert fleet.total_creates() == 0
    # the one rider is busy now: the next delivery goes to a courier
    other = request(database, shop, key="k2", ref="ord_2")
    assert book(database, fleet, other, settings).provider == "beta"


def test_rejection_and_errors_fail_over_to_the_next(database, settings, shop, fleet):
    fleet.couriers["beta"].reject_next = 1  # refuses to quote
    dlv = request(database, shop)
    assert book(database, fleet, dlv, settings).provider == "alpha"
    fleet.couriers["alpha"].fail_next = 0
    # a create that errors (after a good quote) moves on to the next quote
    other = request(database, shop, key="k2", ref="ord_2")
    fleet.couriers["beta"].fail_next = 0
    beta = fleet.couriers["beta"]
    orig = beta.handle

    def failing_create(method, path, body):
        if path == "/deliveries":
            return 500, {"error": "down"}
        return orig(method, path, body)

    beta.handle = failing_create  # type: ignore[method-assign]
    outcome = book(database, fleet, other, settings)
    assert outcome.provider == "alpha" and outcome.decisions == ["beta", "alpha"]
    found, kinds, attempts = _delivery(database, other)
    assert attempts == [("beta", "failed"), ("alpha", "active")] and "failed" in kinds


def test_timeout_on_create_is_looked_up_not_booked_twice(database, settings, shop, fleet):
    beta = fleet.couriers["beta"]
    beta.create_then_hang = 1.0  # books the courier, answers after the client's 0.5 s
    dlv = request(database, shop)
    outcome = book(database, fleet, dlv, settings)
    assert outcome.provider == "beta" and outcome.status == "created"
    assert fleet.total_creates() == 1 and beta.creates == 1
    assert any(c.startswith("GET /deliveries/") for c in beta.calls)  # looked up by our id


def test_timeout_before_create_moves_on(database, settings, shop, fleet):
    beta = fleet.couriers["beta"]
    orig = beta.handle

    def lost(method, path, body):
        if path == "/deliveries":
            import time
            time.sleep(0.8)  # never reaches the provider's books
            return 500, {}
        return orig(method, path, body)

    beta.handle = lost  # type: ignore[method-assign]
    dlv = request(database, shop)
    outcome = book(database, fleet, dlv, settings)
    assert outcome.provider == "alpha" and beta.creates == 0
    assert fleet.total_creates() == 1


def test_unknown_outcome_blocks_other_providers_until_looked_up(database, settings, shop,
                                                                 fleet):
    beta = fleet.couriers["beta"]
    beta.create_then_hang, beta.get_fails = 1.0, True
    dlv = request(database, shop)
    assert book(database, fleet, dlv, settings).status == "unresolved"
    # again: still unknown at beta, so nobody else is booked
    assert book(database, fleet, dlv, settings).status == "unresolved"
    assert fleet.total_creates() == 1
    found, kinds, attempts = _delivery(database, dlv)
    assert attempts == [("beta", "booking")] and found.status is S.QUOTED
    # beta answers again: the poll finds its courier and records it
    beta.get_fails = False
    jobs.poll(database, settings=settings,
              adapters={**fleet.adapters, **{}})
    found, _, attempts = _delivery(database, dlv)
    assert found.provider == "beta" and attempts == [("beta", "active")]
    assert fleet.total_creates() == 1


def test_expired_quote_is_quoted_again(database, settings, shop, fleet):
    use_providers(database, shop, providers=("beta",))
    fleet.couriers["beta"].expire_next = 1
    dlv = request(database, shop)
    assert book(database, fleet, dlv, settings).provider == "beta"
    assert sum(c == "POST /quotes" for c in fleet.couriers["beta"].calls) == 2


def test_cancel_after_assignment_rebooks_and_delivers_once(database, settings, shop, fleet,
                                                            client):
    dlv = request(database, shop)
    book(database, fleet, dlv, settings)
    beta = fleet.couriers["beta"]
    for status in ("assigned", "cancelled"):
        body, headers = beta.webhook(dlv, status)
        assert client.post("/delivery/webhooks/beta", content=body,
                           headers=headers).status_code == 200
    found, kinds, attempts = _delivery(database, dlv)
    assert found.status is S.QUOTED and "failover" in kinds and "beta" in found.excluded
    outcome = book(database, fleet, dlv, settings)
    assert outcome.provider == "alpha"
    alpha = fleet.couriers["alpha"]
    for status in ("assigned", "picked_up", "delivered", "delivered"):
        body, headers = alpha.webhook(dlv, status)
        client.post("/delivery/webhooks/alpha", content=body, headers=headers)
    # a late webhook from the provider that gave up changes nothing
    body, headers = beta.webhook(dlv, "picked_up")
    client.post("/delivery/webhooks/beta", content=body, headers=headers)
    found, kinds, attempts = _delivery(database, dlv)
    assert found.status is S.DELIVERED and found.provider == "alpha"
    assert attempts == [("beta", "ended"), ("alpha", "ended")]
    assert kinds.count("status") == 4  # beta assigned; alpha assigned, picked up, delivered
    with database.unit_of_work() as db:
        delivered = db.scalars(select(DeliveryEvent).where(
            DeliveryEvent.status == S.DELIVERED, DeliveryEvent.kind == "status")).all()
        assert len(delivered) == 1


def test_circuit_breaker_skips_a_failing_provider(database, settings, shop, fleet):
    use_providers(database, shop, providers=("beta", "alpha"))
    fleet.couriers["beta"].fail_next = 100
    for i in range(3):
        dlv = request(database, shop, key=f"k{i}", ref=f"ord_{i}")
        assert book(database, fleet, dlv, settings).provider == "alpha"
    calls = len(fleet.couriers["beta"].calls)
    dlv = request(database, shop, key="k9", ref="ord_9")
    assert book(database, fleet, dlv, settings).provider == "alpha"
    assert len(fleet.couriers["beta"].calls) == calls  # not even asked: the circuit is open
    _, kinds, _ = _delivery(database, dlv)
    assert "breaker" in kinds


def test_nobody_can_take_it(database, settings, shop, fleet):
    for courier in fleet.couriers.values():
        courier.reject_next = 5
    dlv = request(database, shop)
    assert book(database, fleet, dlv, settings).status == "rejected"
    found, kinds, _ = _delivery(database, dlv)
    # three couriers refused, and no rider of the shop is free
    assert found.status is S.REJECTED and kinds.count("quote_failed") == 4


def test_request_is_idempotent(database, settings, shop, fleet):
    assert request(database, shop, key="same") == request(database, shop, key="same")
    with database.unit_of_work() as db:
        assert len(db.scalars(select(Delivery)).all()) == 1


def test_cancel_before_pickup_and_refused_after(database, settings, shop, fleet, client):
    dlv = request(database, shop)
    book(database, fleet, dlv, settings)
    from townsquare.delivery import dispatch
    found = dispatch.cancel(database, delivery_id=dlv, actor=None, reason="resident changed mind",
                            adapters=fleet.adapters)
    assert found.status is S.CANCELLED
    assert fleet.couriers["beta"].deliveries[dlv]["status"] == "cancelled"
    other = request(database, shop, key="k2", ref="ord_2")
    book(database, fleet, other, settings)
    body, headers = fleet.couriers["beta"].webhook(other, "picked_up")
    client.post("/delivery/webhooks/beta", content=body, headers=headers)
    import pytest

    from townsquare.core.errors import TownsquareError
    with pytest.raises(TownsquareError) as refused:
        dispatch.cancel(database, delivery_id=other, actor=None, reason="x",
                        adapters=fleet.adapters)
    assert refused.value.code == "not_cancellable"
    found, _, attempts = _delivery(database, other)
    assert found.status is S.PICKED_UP and attempts[-1][1] == AttemptState.ACTIVE.value


def test_a_webhook_before_the_create_answers(database, settings, shop, fleet, client):
    """The provider's first webhook can beat its answer to the create: it books the delivery,
    and the booking's answer then finds it so (one courier, no backward move)."""
    import threading
    import time

    beta = fleet.couriers["beta"]
    beta.create_then_hang = 0.3  # within the client's 0.5 s
    dlv = request(database, shop)
    result = {}
    worker = threading.Thread(target=lambda: result.update(
        outcome=book(database, fleet, dlv, settings)))
    worker.start()
    while beta.creates == 0:
        time.sleep(0.01)
    body, headers = beta.webhook(dlv, "assigned", event_id="early")
    assert client.post("/delivery/webhooks/beta", content=body,
                       headers=headers).json()["applied"] == 1
    worker.join()
    assert result["outcome"].provider == "beta"
    found, kinds, attempts = _delivery(database, dlv)
    assert found.status is S.ASSIGNED and attempts == [("beta", "active")]
    assert kinds.count("booked") == 1 and fleet.total_creates() == 1
