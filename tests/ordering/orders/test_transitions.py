"""The order state machine: every allowed transition with what it sets off (refund, the hold's
release, the timeline), and every forbidden one refused with `order_state`, changing nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.ordering.orders import world as w
from townsquare.ordering import orders
from townsquare.ordering.orders.checkout import DeliveryAddress
from townsquare.ordering.slots.models import Hold, HoldStatus
from townsquare.payments.trades import service as trades
from townsquare.payments.trades.models import Refund, TradeStatus

S = orders.OrderStatus
FUNDS = 100_000


@pytest.fixture
def world(database, settings, shop, make_user):
    return w.build(database, settings, shop, make_user)


def _status(database, ord_id):
    with database.unit_of_work() as db:
        return w.order(db, ord_id).status


def test_resident_cancels_an_unpaid_order(database, settings, world):
    with database.unit_of_work() as db:
        placed = w.place(db, world, world.resident, settings=settings)
        ord_id, trade_no = placed.public_id, placed.trade_no
        assert w.stock_left(db, world) == (8, 2) and w.places_left(db, world) == 9
    with database.unit_of_work() as db:
        order = orders.cancel_by_resident(db, actor=world.resident, order_id=ord_id,
                                          reason="点错了")
        assert (order.status, order.cancelled_by, order.cancel_reason) == (
            S.CANCELLED, "user", "点错了")
    with database.unit_of_work() as db:
        assert trades.get(db, trade_no).status is TradeStatus.TRADE_CLOSED
        assert w.stock_left(db, world) == (10, 0) and w.places_left(db, world) == 10
        assert db.get_one(Hold, w.order(db, ord_id).hold_id).status is HoldStatus.RELEASED
    # the closed trade cannot be paid any more
    with pytest.raises(Exception, match="closed"):
        w.pay(database, settings, world.resident, trade_no)


def test_resident_cancels_a_paid_order_and_is_refunded(database, settings, world):
    ord_id = w.paid_order(database, settings, world)
    with database.unit_of_work() as db:
        assert w.balance(db, world.resident) == FUNDS - 800
        assert w.stock_left(db, world) == (8, 0)
    with database.unit_of_work() as db:
        orders.cancel_by_resident(db, actor=world.resident, order_id=ord_id)
    with database.unit_of_work() as db:
        order = w.order(db, ord_id)
        assert (order.status, order.cancelled_by) == (S.CANCELLED, "user")
        assert w.balance(db, world.resident) == FUNDS
        refund = db.scalars(select(Refund)).one()
        assert refund.out_request_no == f"order:{ord_id}:cancelled"
        assert refund.amount_fen == 800
        assert w.stock_left(db, world) == (10, 0) and w.places_left(db, world) == 10


def test_merchant_rejects_a_paid_order(database, settings, world):
    ord_id = w.paid_order(database, settings, world)
    with database.unit_of_work() as db:
        order = orders.reject(db, actor=world.shop.owner, order_id=ord_id, reason="缺货")
        assert (order.status, order.cancelled_by) == (S.REJECTED, "merchant")
    with database.unit_of_work() as db:
        assert w.balance(db, world.resident) == FUNDS
        assert db.scalar(select(Refund.out_request_no)) == f"order:{ord_id}:rejected"
        assert w.stock_left(db, world) == (10, 0)


@pytest.mark.parametrize("steps", [("accept",), ("accept", "start")])
def test_merchant_cancels_an_accepted_order(database, settings, world, steps):
    ord_id = w.paid_order(database, settings, world)
    with database.unit_of_work() as db:
        for step in steps:
            getattr(orders, step)(db, actor=world.shop.owner, order_id=ord_id)
        order = orders.cancel_by_merchant(db, actor=world.shop.owner, order_id=ord_id,
                                          reason="设备故障")
        assert (order.status, order.cancelled_by) == (S.CANCELLED, "merchant")
    with database.unit_of_work() as db:
        assert w.balance(db, world.resident) == FUNDS and w.stock_left(db, world) == (10, 0)


def test_ready_straight_from_accepted_and_the_kitchen_path(database, settings, world):
    first = w.paid_order(database, settings, world, key="a")
    second = w.paid_order(database, settings, world, key="b")
    with database.unit_of_work() as db:
        owner = world.shop.owner
        orders.accept(db, actor=owner, order_id=first)
        assert orders.ready(db, actor=owner, order_id=first).ready_at is not None
        orders.accept(db, actor=owner, order_id=second)
        orders.start(db, actor=owner, order_id=second)
        orders.ready(db, actor=owner, order_id=second)
        assert [w.order(db, o).pickup_number for o in (first, second)] == ["A001", "A002"]


def _reach(db, world, ord_id, path, settings):
    owner = world.shop.owner
    for step in path:
        if step == "hand_over":
            order = w.order(db, ord_id)
            orders.hand_over(db, actor=owner, merchant_id=world.shop.merchant,
                             code=orders.pickup_code(order, settings=settings),
                             settings=settings)
        elif step == "received":
            orders.confirm_received(db, actor=world.resident, order_id=ord_id)
        elif step == "cancel":
            orders.cancel_by_resident(db, actor=world.resident, order_id=ord_id)
        else:
            getattr(orders, step)(db, actor=owner, order_id=ord_id)


PATHS = {
    S.PAID: (), S.ACCEPTED: ("accept",), S.PREPARING: ("accept", "start"),
    S.READY: ("accept", "ready"), S.PICKED_UP: ("accept", "ready", "hand_over"),
    S.COMPLETED: ("accept", "ready", "hand_over", "received"), S.CANCELLED: ("cancel",),
    S.REJECTED: ("reject",),
}
ALLOWED = {
    "cancel": {S.PAID}, "reject": {S.PAID}, "cancel_by_merchant": {S.ACCEPTED, S.PREPARING},
    "accept": {S.PAID}, "start": {S.ACCEPTED}, "ready": {S.ACCEPTED, S.PREPARING},
    "hand_over": {S.READY}, "received": {S.PICKED_UP}, "dispatch": set(), "delivered": set(),
}
FORBIDDEN = [(status, action) for status in PATHS for action, allowed in ALLOWED.items()
             if status not in allowed]


@pytest.mark.parametrize(("status", "action"), FORBIDDEN,
                         ids=[f"{s.value}-{a}" for s, a in FORBIDDEN])
def test_forbidden_transitions_change_nothing(database, settings, world, status, action):
    ord_id = w.paid_order(database, settings, world)
    with database.unit_of_work() as db:
        _reach(db, world, ord_id, PATHS[status], settings)
    with database.unit_of_work() as db:
        before = (w.order(db, ord_id).updated_at, len(w.order(db, ord_id).events),
                  w.balance(db, world.resident), w.stock_left(db, world))
    with database.unit_of_work() as db, pytest.raises(orders.OrderStateError) as refused:
        if action == "cancel_by_merchant":
            orders.cancel_by_merchant(db, actor=world.shop.owner, order_id=ord_id)
        else:
            _reach(db, world, ord_id, [action], settings)
    assert refused.value.code == "order_state" and refused.value.status == 409
    with database.unit_of_work() as db:
        order = w.order(db, ord_id)
        assert order.status is status
        assert (order.updated_at, len(order.events), w.balance(db, world.resident),
                w.stock_left(db, world)) == before


def test_a_delivery_order_is_not_handed_over_and_a_pickup_is_not_dispatched(
        database, settings, world):
    home = DeliveryAddress("王芳", "13800000000", "光谷大道 2 号", *w.HOME)
    delivery = w.paid_order(database, settings, world, key="d", quantity=6, kind="delivery",
                            address=home, slot=None)
    pickup = w.paid_order(database, settings, world, key="p")
    with database.unit_of_work() as db:
        for ord_id in (delivery, pickup):
            orders.accept(db, actor=world.shop.owner, order_id=ord_id)
            orders.ready(db, actor=world.shop.owner, order_id=ord_id)
    with database.unit_of_work() as db, pytest.raises(orders.OrderStateError):
        orders.hand_over(db, actor=world.shop.owner, merchant_id=world.shop.merchant,
                         code=orders.pickup_code(w.order(db, delivery), settings=settings),
                         settings=settings)
    with database.unit_of_work() as db, pytest.raises(orders.OrderStateError):
        orders.dispatch(db, actor=world.shop.owner, order_id=pickup)
    with database.unit_of_work() as db:
        orders.dispatch(db, actor=world.shop.owner, order_id=delivery)
        orders.delivered(db, actor=world.shop.owner, order_id=delivery)
        orders.confirm_received(db, actor=world.resident, order_id=delivery)
        assert w.order(db, delivery).status is S.COMPLETED


def test_only_the_buyer_and_the_merchant_see_and_move_an_order(database, settings, world):
    ord_id = w.paid_order(database, settings, world)
    with database.unit_of_work() as db:
        for actor in (world.other, world.shop.outsider):
            with pytest.raises(orders.OrderNotFound):
                orders.get_for_resident(db, actor=actor, order_id=ord_id)
            with pytest.raises(orders.OrderNotFound):
                orders.accept(db, actor=actor, order_id=ord_id)
            with pytest.raises(orders.OrderNotFound):
                orders.cancel_by_resident(db, actor=actor, order_id=ord_id)
        with pytest.raises(orders.OrderNotFound):  # the merchant is not the buyer
            orders.cancel_by_resident(db, actor=world.shop.owner, order_id=ord_id)
        assert orders.get_for_merchant(db, actor=world.shop.owner, order_id=ord_id)
        assert [o.public_id for o in orders.mine(db, actor=world.resident)] == [ord_id]
        assert orders.mine(db, actor=world.other) == []
        assert w.order(db, ord_id).status is S.PAID


def test_pickup_codes_are_checked(database, settings, world, make_user):
    ord_id = w.paid_order(database, settings, world)
    with database.unit_of_work() as db:
        orders.accept(db, actor=world.shop.owner, order_id=ord_id)
        orders.ready(db, actor=world.shop.owner, order_id=ord_id)
        code = orders.pickup_code(w.order(db, ord_id), settings=settings)
    public_id, _, signature = code.partition(".")
    forged = [f"{public_id}.{'A' * len(signature)}", public_id, f"{public_id}.", "",
              code[:-1] + ("B" if code[-1] != "B" else "C"), "ord_xx." + signature,
              w.order.__name__]
    for bad in forged:
        with database.unit_of_work() as db, pytest.raises(orders.PickupCodeInvalid):
            orders.hand_over(db, actor=world.shop.owner, merchant_id=world.shop.merchant,
                             code=bad, settings=settings)
    with database.unit_of_work() as db:
        assert w.order(db, ord_id).status is S.READY
        assert db.scalar(select(func.count()).select_from(Refund)) == 0


def test_a_code_works_only_at_its_own_merchant(database, settings, world, make_user):
    from townsquare.merchants import service as merchants

    ord_id = w.paid_order(database, settings, world)
    other_owner = make_user(username="zhao")
    with database.unit_of_work() as db:
        other = merchants.create_merchant(db, actor=None, owner_username="zhao", name="别家",
                                          category_code="grocery", cities=["武汉"]).public_id
        orders.accept(db, actor=world.shop.owner, order_id=ord_id)
        orders.ready(db, actor=world.shop.owner, order_id=ord_id)
        code = orders.pickup_code(w.order(db, ord_id), settings=settings)
    with database.unit_of_work() as db, pytest.raises(orders.PickupCodeInvalid):
        orders.hand_over(db, actor=db.get_one(type(other_owner), other_owner.id),
                         merchant_id=other, code=code, settings=settings)
    with database.unit_of_work() as db, pytest.raises(orders.OrderNotFound):
        orders.hand_over(db, actor=world.shop.outsider, merchant_id=world.shop.merchant,
                         code=code, settings=settings)
