"""Trades are behaviour events the platform records itself: a payment is an `order_placed`
and each refund a `refund`, with the platform's own event ids, the merchant's order number,
the amount and (when the resident opened the mini-app) the sub the mini-app knows them by —
written with the payment or refund, or not at all."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.payments.trades import trade_world
from townsquare.core.clock import clock
from townsquare.events.models import BehaviourEvent, EventType
from townsquare.miniapps.models import IssuedSub, MiniApp
from townsquare.payments.trades import errors, service


@pytest.fixture
def world(database, settings, make_user):
    return trade_world.build(database, settings, make_user)


def _events(db):
    return list(db.scalars(select(BehaviourEvent).order_by(BehaviourEvent.id)))


def test_a_payment_and_its_refunds_are_the_platforms_own_events(database, world):
    with database.unit_of_work() as db:
        miniapp = db.scalar(select(MiniApp).where(MiniApp.public_id == world.miniapp_id))
        db.add(IssuedSub(miniapp_id=miniapp.id, sub="ou_" + "ab" * 16,
                         user_id=world.resident.id, first_at=clock.now()))
        trade = trade_world.create(db, world, "ORDER-9", 2_000)
        assert _events(db) == []  # created, not paid: nothing happened yet
        trade_world.pay(db, trade.trade_no, world.resident.id)
        service.refund(db, trade=trade, refund_fen=500, out_request_no="R1")
        service.refund(db, trade=trade, refund_fen=500, out_request_no="R1")  # a repeat
    with database.unit_of_work() as db, pytest.raises(errors.RefundExceedsPaid):
        service.refund(db, trade=service.get(db, trade.trade_no), refund_fen=5_000,
                       out_request_no="R2")
    with database.unit_of_work() as db:
        placed, refund = _events(db)
        assert (placed.type, placed.order_id, placed.amount_fen) == (
            EventType.ORDER_PLACED, "ORDER-9", 2_000)
        assert (refund.type, refund.order_id, refund.amount_fen) == (
            EventType.REFUND, "ORDER-9", 500)
        assert placed.event_id == f"platform:trade:{trade.trade_no}:paid"
        assert refund.event_id.startswith(f"platform:trade:{trade.trade_no}:refund:")
        assert placed.user_sub == refund.user_sub == "ou_" + "ab" * 16
        assert placed.miniapp_id == miniapp.id and placed.category_code
