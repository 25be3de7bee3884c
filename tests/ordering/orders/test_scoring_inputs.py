"""What residents do through ordering reaches the next scoring cycle: the paid order, its
fulfilment and the rating are inputs of the cycle that follows, counted once each."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.ordering.orders import world as w
from townsquare.core.clock import clock
from townsquare.events.rollups import local_day
from townsquare.ordering import orders
from townsquare.scoring import cycles
from townsquare.scoring.models import MiniAppScore


@pytest.fixture
def world(database, settings, shop, make_user):
    return w.build(database, settings, shop, make_user)


def _metrics(database, settings, ord_id: str) -> dict:
    """The metrics of the order's mini-app in a scoring cycle run now."""
    with database.unit_of_work() as db:
        cycle = cycles.run_cycle(db, settings=settings, as_of=local_day(clock.now()),
                                 actor=None)
        score = db.scalar(select(MiniAppScore).where(
            MiniAppScore.cycle_id == cycle.id,
            MiniAppScore.miniapp_id == w.order(db, ord_id).miniapp_id))
        assert score is not None
        return score.result["metrics"]


def test_a_rating_made_in_the_order_page_is_in_the_next_cycle(database, settings, world):
    ord_ids = [w.paid_order(database, settings, world, key=k) for k in ("a", "b")]
    before = _metrics(database, settings, ord_ids[0])
    assert before["rating_count"] == 0 and before["orders"] == 2
    with database.unit_of_work() as db:
        for ord_id in ord_ids:
            for step in (orders.accept, orders.ready):
                step(db, actor=world.shop.owner, order_id=ord_id)
            orders.hand_over(db, actor=world.shop.owner, merchant_id=world.shop.merchant,
                             code=orders.pickup_code(w.order(db, ord_id), settings=settings),
                             settings=settings)
        orders.rate(db, actor=world.resident, order_id=ord_ids[0], stars=4, text="新鲜")
        orders.rate(db, actor=world.resident, order_id=ord_ids[1], stars=2, text="慢")
    after = _metrics(database, settings, ord_ids[0])
    assert (after["rating_count"], after["rating_sum"]) == (2, 6)
    assert after["orders"] == 2  # the paid trades, once each (not also ordering's own record)
