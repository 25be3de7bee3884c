"""Punctuality as scoring sees it: ordering records, once per transition, when an order was
accepted (within the shop's accept window or late, by hand or automatically) and ready (by its
slot's start or late), as platform-observed events; the next scoring cycle shows the rates."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.ordering.conftest import NOON
from tests.ordering.orders import world as w
from townsquare.core.clock import clock
from townsquare.events.models import BehaviourEvent, EventType
from townsquare.events.rollups import local_day
from townsquare.ordering import orders
from townsquare.ordering.orders import feed, payment
from townsquare.ordering.orders.errors import OrderStateError
from townsquare.payments.trades.models import Trade
from townsquare.scoring import cycles
from townsquare.scoring.models import MiniAppScore

S = orders.OrderStatus


@pytest.fixture
def world(database, settings, shop, make_user):
    return w.build(database, settings, shop, make_user)


def _events(db, kind: EventType, ord_id: str) -> list[BehaviourEvent]:
    return list(db.scalars(select(BehaviourEvent).where(
        BehaviourEvent.type == kind, BehaviourEvent.order_id == ord_id)))


def test_accepted_on_time_and_ready_early_recorded_once_each(database, settings, world):
    ord_id = w.paid_order(database, settings, world)
    clock.advance(timedelta(minutes=3))
    with database.unit_of_work() as db:
        orders.accept(db, actor=world.shop.owner, order_id=ord_id)
    with database.unit_of_work() as db, pytest.raises(OrderStateError):
        orders.accept(db, actor=world.shop.owner, order_id=ord_id)  # a double click
    clock.advance(timedelta(minutes=30))
    with database.unit_of_work() as db:
        orders.ready(db, actor=world.shop.owner, order_id=ord_id)
        order = w.order(db, ord_id)
        # a retried transition, or a listener recording it again, adds nothing
        assert not feed.accepted(db, order) and not feed.ready(db, order)
    with database.unit_of_work() as db:
        (accepted,) = _events(db, EventType.ORDER_ACCEPTED, ord_id)
        assert (accepted.resolution, accepted.response_seconds) == ("on_time", 180)
        assert accepted.event_id == f"platform:order:{ord_id}:accepted"
        assert accepted.user_sub == w.order(db, ord_id).user_sub != ""
        (ready,) = _events(db, EventType.ORDER_READY, ord_id)
        # paid at 10:00, ready at 10:33 for the 12:00 slot: 87 minutes early
        assert (ready.resolution, ready.duration_seconds) == ("on_time", -87 * 60)


def test_accepted_after_the_window_and_ready_after_the_slot_are_late(database, settings, world):
    ord_id = w.paid_order(database, settings, world)
    clock.advance(timedelta(minutes=12))  # the shop's window is 10 minutes; the job is late
    with database.unit_of_work() as db:
        orders.accept(db, actor=world.shop.owner, order_id=ord_id)
    clock.freeze(NOON + timedelta(minutes=7))
    with database.unit_of_work() as db:
        orders.start(db, actor=world.shop.owner, order_id=ord_id)
        orders.ready(db, actor=world.shop.owner, order_id=ord_id)
    with database.unit_of_work() as db:
        (accepted,) = _events(db, EventType.ORDER_ACCEPTED, ord_id)
        assert (accepted.resolution, accepted.response_seconds) == ("late", 12 * 60)
        (ready,) = _events(db, EventType.ORDER_READY, ord_id)
        assert (ready.resolution, ready.duration_seconds) == ("late", 7 * 60)


def test_auto_accept_is_recorded_once_even_when_the_payment_is_announced_again(
        database, settings, shop, make_user):
    world = w.build(database, settings, shop, make_user, config={"auto_accept": True})
    ord_id = w.paid_order(database, settings, world)
    with database.unit_of_work() as db:
        order = w.order(db, ord_id)
        trade = db.scalar(select(Trade).where(Trade.trade_no == order.trade_no))
        payment.paid(db, order, trade)  # a re-delivered trade notice
    with database.unit_of_work() as db:
        assert w.order(db, ord_id).status is S.ACCEPTED
        (accepted,) = _events(db, EventType.ORDER_ACCEPTED, ord_id)
        assert (accepted.resolution, accepted.response_seconds) == ("on_time", 0)


def _metrics(database, settings, ord_id: str) -> dict:
    with database.unit_of_work() as db:
        cycle = cycles.run_cycle(db, settings=settings, as_of=local_day(clock.now()),
                                 actor=None)
        score = db.scalar(select(MiniAppScore).where(
            MiniAppScore.cycle_id == cycle.id,
            MiniAppScore.miniapp_id == w.order(db, ord_id).miniapp_id))
        assert score is not None
        return score.result["metrics"]


def test_the_next_scoring_cycle_shows_the_rates(database, settings, world):
    """Four orders through the services: accepted on time, on time, late, and never (it is
    still waiting); ready before the slot twice, after it once. The cycle's metrics say so."""
    ord_ids = [w.paid_order(database, settings, world, key=k) for k in "abcd"]
    before = _metrics(database, settings, ord_ids[0])
    assert before["accepts"] == 0 and before["accept_on_time_rate"] is None
    with database.unit_of_work() as db:
        for ord_id in ord_ids[:2]:
            orders.accept(db, actor=world.shop.owner, order_id=ord_id)
        orders.ready(db, actor=world.shop.owner, order_id=ord_ids[0])
    clock.advance(timedelta(minutes=15))  # past the 10-minute window
    with database.unit_of_work() as db:
        orders.accept(db, actor=world.shop.owner, order_id=ord_ids[2])
        orders.ready(db, actor=world.shop.owner, order_id=ord_ids[1])
    clock.freeze(NOON + timedelta(minutes=1))
    with database.unit_of_work() as db:
        orders.ready(db, actor=world.shop.owner, order_id=ord_ids[2])
    after = _metrics(database, settings, ord_ids[0])
    assert (after["accepts"], after["accepts_on_time"]) == (3, 2)
    assert after["accept_on_time_rate"] == pytest.approx(2 / 3)
    assert (after["ready_orders"], after["ready_on_time"]) == (3, 2)
    assert after["ready_on_time_rate"] == pytest.approx(2 / 3)
    assert after["deliveries"] == 0 and after["delivery_on_time_rate"] is None
    assert after["orders"] == 4  # the punctuality events are not orders
