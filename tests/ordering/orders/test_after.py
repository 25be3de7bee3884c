"""What follows an order: the jobs (auto-cancel of paid orders not accepted in time, with a
refund; completion two hours after hand-over; the CLI command), rating and complaining (once,
into scoring's events), reorder, and the change feed the live pages poll."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.ordering.orders import world as w
from townsquare.core.clock import clock
from townsquare.core.errors import ValidationFailed
from townsquare.events.models import BehaviourEvent, EventType
from townsquare.ordering import orders
from townsquare.ordering.catalog import service as catalog
from townsquare.ordering.orders import feed, jobs

S = orders.OrderStatus


@pytest.fixture
def world(database, settings, shop, make_user):
    return w.build(database, settings, shop, make_user)


def _events(db, kind):
    return db.scalars(select(BehaviourEvent).where(BehaviourEvent.type == kind)).all()


def test_paid_orders_not_accepted_in_time_are_cancelled_and_refunded(database, settings, world):
    late = w.paid_order(database, settings, world, key="late")
    taken = w.paid_order(database, settings, world, key="taken")
    with database.unit_of_work() as db:
        orders.accept(db, actor=world.shop.owner, order_id=taken)
    clock.freeze(clock.now() + timedelta(minutes=9))
    assert jobs.run(database) == {"cancelled": 0, "completed": 0}
    clock.freeze(clock.now() + timedelta(minutes=2))
    assert jobs.run(database) == {"cancelled": 1, "completed": 0}
    assert jobs.run(database) == {"cancelled": 0, "completed": 0}
    with database.unit_of_work() as db:
        order = w.order(db, late)
        assert (order.status, order.cancelled_by, order.cancel_reason) == (
            S.CANCELLED, "system", "not_accepted")
        assert w.order(db, taken).status is S.ACCEPTED
        assert w.balance(db, world.resident) == 100_000 - 800
        assert w.stock_left(db, world) == (8, 0)
        cancelled = _events(db, EventType.ORDER_CANCELLED)
        assert [(e.order_id, e.cancelled_by) for e in cancelled] == [(late, "system")]


def test_handed_over_orders_complete_after_two_hours(database, settings, world):
    ord_id = w.paid_order(database, settings, world)
    with database.unit_of_work() as db:
        for step in (orders.accept, orders.ready):
            step(db, actor=world.shop.owner, order_id=ord_id)
        orders.hand_over(db, actor=world.shop.owner, merchant_id=world.shop.merchant,
                         code=orders.pickup_code(w.order(db, ord_id), settings=settings),
                         settings=settings)
    clock.freeze(clock.now() + timedelta(minutes=119))
    assert jobs.run(database)["completed"] == 0
    clock.freeze(clock.now() + timedelta(minutes=2))
    assert jobs.run(database)["completed"] == 1
    with database.unit_of_work() as db:
        order = w.order(db, ord_id)
        assert order.status is S.COMPLETED and order.events[-1].actor_kind == "system"
        fulfilled = _events(db, EventType.ORDER_FULFILLED)
        assert len(fulfilled) == 1 and fulfilled[0].duration_seconds >= 0


def test_the_cli_runs_the_order_jobs(database, settings, world, monkeypatch):
    from typer.testing import CliRunner

    from townsquare.cli import app
    from townsquare.core.settings import get_settings

    w.paid_order(database, settings, world)
    clock.freeze(clock.now() + timedelta(minutes=11))
    monkeypatch.setenv("TOWNSQUARE_DATABASE_URL", database.url)
    monkeypatch.setenv("TOWNSQUARE_DATA_DIR", str(settings.data_dir))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["ordering", "order-jobs"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "cancelled 1" in result.output


def test_rate_once_after_hand_over_and_complain(database, settings, world):
    ord_id = w.paid_order(database, settings, world)
    with database.unit_of_work() as db:
        with pytest.raises(orders.OrderStateError):
            orders.rate(db, actor=world.resident, order_id=ord_id, stars=5, text="")
        for step in (orders.accept, orders.ready):
            step(db, actor=world.shop.owner, order_id=ord_id)
        orders.hand_over(db, actor=world.shop.owner, merchant_id=world.shop.merchant,
                         code=orders.pickup_code(w.order(db, ord_id), settings=settings),
                         settings=settings)
        review = orders.rate(db, actor=world.resident, order_id=ord_id, stars=4, text="新鲜")
        assert (review.stars, review.text) == (4, "新鲜")
    with database.unit_of_work() as db:
        with pytest.raises(orders.AlreadyRated):
            orders.rate(db, actor=world.resident, order_id=ord_id, stars=1, text="")
        with pytest.raises(orders.OrderNotFound):
            orders.rate(db, actor=world.other, order_id=ord_id, stars=1, text="")
        for bad in (0, 6, True):
            with pytest.raises(ValidationFailed):
                orders.rate(db, actor=world.resident, order_id=ord_id, stars=bad, text="")
        with pytest.raises(ValidationFailed):
            orders.complain(db, actor=world.resident, order_id=ord_id, category="nope",
                            text="")
        orders.complain(db, actor=world.resident, order_id=ord_id, category="quality",
                        text="有烂叶")
        orders.complain(db, actor=world.resident, order_id=ord_id, category="quality",
                        text="again")
    with database.unit_of_work() as db:
        ratings = _events(db, EventType.RATING)
        assert [(e.rating, e.order_id) for e in ratings] == [(4, ord_id)]
        complaints = _events(db, EventType.COMPLAINT)
        assert [(e.complaint_category, e.order_id) for e in complaints] == [
            ("quality", ord_id)]


def test_every_event_is_counted_once(database, settings, world):
    ord_id = w.paid_order(database, settings, world)
    with database.unit_of_work() as db:
        order = w.order(db, ord_id)
        assert not feed.placed(db, order)  # a re-delivered notice: already counted
        assert len(_events(db, EventType.ORDER_PLACED)) == 1


def test_reorder_puts_what_is_still_on_sale_back(database, settings, world):
    ord_id = w.paid_order(database, settings, world, quantity=3)
    with database.unit_of_work() as db:
        cart = orders.reorder(db, actor=world.resident, order_id=ord_id)
        assert [(line.quantity, line.sku_id) for line in cart.lines] == [
            (3, world.shop.sku_row)]
        view = orders.view_cart(db, actor=world.resident, miniapp_id=world.miniapp)
        assert view.items_fen == 1050 and view.store_id == world.shop.store
        orders.clear_cart(db, actor=world.resident, miniapp_id=world.miniapp)
        catalog.update_sku(db, actor=None, sku_id=world.shop.sku, spec="约1斤",
                           price_fen=350, sold_out=True)
        assert orders.reorder(db, actor=world.resident, order_id=ord_id).lines == []


def test_changes_since_follows_a_merchants_orders(database, settings, world):
    with database.unit_of_work() as db:
        cursor, found = orders.changes_since(db, merchant_id=None, cursor="")
    first = w.paid_order(database, settings, world, key="a")
    with database.unit_of_work() as db:
        order = w.order(db, first)
        merchant_id = order.merchant_id
        cursor, found = orders.changes_since(db, merchant_id=merchant_id, cursor=cursor)
        assert [o.public_id for o in found] == [first]
    clock.freeze(clock.now() + timedelta(seconds=5))
    with database.unit_of_work() as db:
        cursor, found = orders.changes_since(db, merchant_id=merchant_id, cursor=cursor)
        assert [o.public_id for o in found] == [first]  # sent again once: it was unsettled
        cursor, found = orders.changes_since(db, merchant_id=merchant_id, cursor=cursor)
        assert found == []  # settled now: not sent again
        orders.accept(db, actor=world.shop.owner, order_id=first)
    with database.unit_of_work() as db:
        cursor, found = orders.changes_since(db, merchant_id=merchant_id, cursor=cursor)
        assert [(o.public_id, o.status) for o in found] == [(first, S.ACCEPTED)]
        _, mine = orders.changes_since(db, order_id=order.id, cursor="bad cursor")
        assert [o.public_id for o in mine] == [first]


def test_a_refund_refused_now_does_not_hold_up_the_others(database, settings, world, make_user):
    from townsquare.accounts.models import Role
    from townsquare.payments.trades import service as trades

    stuck = w.paid_order(database, settings, world, key="stuck")
    fine = w.paid_order(database, settings, world, key="fine")
    operator = make_user(Role.OPERATOR, username="operator1")
    with database.unit_of_work() as db:  # a dispute: the operator froze the first trade
        trades.freeze(db, actor=db.get_one(type(operator), operator.id),
                      trade=trades.get(db, w.order(db, stuck).trade_no), frozen=True)
    clock.freeze(clock.now() + timedelta(minutes=11))
    assert jobs.run(database)["cancelled"] == 1
    with database.unit_of_work() as db:
        assert w.order(db, stuck).status is S.PAID  # tried again on the next run
        assert w.order(db, fine).status is S.CANCELLED
