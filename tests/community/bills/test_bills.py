"""Rules, paying through the cashier path and the trade hook, what other members see, the
ledger, refunds, reminders once per interval, and who may do what."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.community import world as w
from tests.community.bills import bill_world as bw
from townsquare.accounts.models import User
from townsquare.community.bills import jobs
from townsquare.community.bills import service as bills
from townsquare.community.bills.models import (
    BillPayment,
    BillReminder,
    BillStatus,
    PaymentStatus,
)
from townsquare.community.communities import official_pass
from townsquare.core.clock import clock
from townsquare.core.errors import NotFound, PermissionDenied, ValidationFailed
from townsquare.messaging import service as messaging
from townsquare.messaging.models import Message
from townsquare.payments import ledger
from townsquare.payments.ledger import accounts
from townsquare.payments.ledger.reconciliation import reconcile
from townsquare.payments.trades import service as trades
from townsquare.payments.trades.models import TradeStatus


@pytest.fixture
def world(database, settings, make_user):
    clock.freeze(datetime(2026, 12, 7, 2, 0, tzinfo=UTC))
    return bw.build(database, settings, make_user)


def _pay(database, world, user, bill_ids, key="k1"):
    with database.unit_of_work() as db:
        return bills.pay(db, actor=db.get_one(User, user.id),
                         community=w.community(db, world.com), bill_ids=bill_ids,
                         idempotency_key=key).trade_no


def _mine(database, world, user):
    with database.unit_of_work() as db:
        return [(b.item, b.period, b.status.value, b.paid_by_id) for b in
                bills.household_bills(db, actor=db.get_one(User, user.id),
                                      community=w.community(db, world.com))]


# --- rules ------------------------------------------------------------------------------

def test_rules_per_m2_and_fixed_are_idempotent_per_household_item_and_period(database, world):
    with database.unit_of_work() as db:
        com = w.community(db, world.com)
        per_m2 = bills.set_rule(db, actor=None, community=com, item="物业费", kind="per_m2",
                                rate_fen=250, due_days=15)
        run = bills.apply_rule(db, actor=None, community=com, rule=per_m2, period="2026-12")
        assert (run.created, run.no_area) == (2, ["2-1-101"])  # 2-1-101 has no area
        again = bills.apply_rule(db, actor=None, community=com, rule=per_m2, period="2026-12")
        assert (again.created, again.unchanged) == (0, 2)
        fixed = bills.set_rule(db, actor=None, community=com, item="垃圾处理费",
                               kind="fixed", rate_fen=1000, building="2", due_days=20)
        assert bills.apply_rule(db, actor=None, community=com, rule=fixed,
                                period="2026-12").created == 1
    with database.unit_of_work() as db:
        rows = {(b.household.room.label, b.item): (b.amount_fen, b.due_date, b.detail)
                for b in bills.bills_of(db, actor=None, community=w.community(db, world.com))}
    # 89.37 m² × ¥2.50 = ¥223.425 → 22343 fen (half up); 120 m² × ¥2.50 = ¥300
    assert rows == {
        ("1-1-101", "物业费"): (22343, date(2026, 12, 15), "89.37 m² × ¥2.50"),
        ("1-1-102", "物业费"): (30000, date(2026, 12, 15), "120.00 m² × ¥2.50"),
        ("2-1-101", "垃圾处理费"): (1000, date(2026, 12, 20), "¥10.00"),
    }


def test_rule_checks(database, world):
    with database.unit_of_work() as db:
        com = w.community(db, world.com)
        for kwargs in ({"kind": "weekly"}, {"rate_fen": 0}, {"due_days": 0}, {"item": ""}):
            with pytest.raises(ValidationFailed):
                bills.set_rule(db, actor=None, community=com, **{
                    "item": "物业费", "kind": "fixed", "rate_fen": 100, **kwargs})
        rule = bills.set_rule(db, actor=None, community=com, item="物业费", kind="fixed",
                              rate_fen=100)
        with pytest.raises(ValidationFailed):
            bills.apply_rule(db, actor=None, community=com, rule=rule, period="2026-00")
        with pytest.raises(PermissionDenied):
            bills.set_rule(db, actor=db.get(User, world.base.other_manager.id), community=com,
                           item="物业费", kind="fixed", rate_fen=100)


# --- paying -----------------------------------------------------------------------------

def test_one_member_pays_several_bills_in_one_trade_and_the_other_sees_them_paid(
        database, settings, world):
    fee = bw.issue(database, world)
    water = bw.issue(database, world, item="水费", fen=3850)
    trade_no = _pay(database, world, world.head, [fee, water])
    with database.unit_of_work() as db:
        trade = trades.get(db, trade_no)
        miniapp = official_pass(db, community=w.community(db, world.com))
        assert (trade.total_fen, trade.miniapp_id, trade.status) == (
            26193, miniapp.id, TradeStatus.WAIT_BUYER_PAY)
        assert trade.out_trade_no.startswith("bil_")
    # the same request again answers the same trade
    assert _pay(database, world, world.head, [fee, water]) == trade_no
    bw.pay_in_cashier(database, settings, world.head, trade_no)
    assert sorted(_mine(database, world, world.spouse)) == sorted([
        ("物业费", "2026-11", "paid", world.head.id), ("水费", "2026-11", "paid", world.head.id)])
    with database.unit_of_work() as db:
        payment = db.scalars(select(BillPayment)).one()
        assert payment.status is PaymentStatus.PAID
        # the money went to the property merchant through the ledger, balanced
        assert ledger.balance(db, accounts.wallet(world.head.id)) == 100_000 - 26193
        pending = ledger.balance(db, accounts.merchant_pending(world.merchant_id))
        assert 0 < pending <= 26193
        assert pending + ledger.balance(db, accounts.PLATFORM_FEES) == 26193
        assert reconcile(db).sound
    # the other member can no longer start paying them
    with pytest.raises(bills.BillPaid):
        _pay(database, world, world.spouse, [fee], key="k2")


def test_a_second_members_payment_of_a_paid_bill_is_refused_and_moves_nothing(
        database, settings, world):
    fee = bw.issue(database, world)
    first = _pay(database, world, world.head, [fee])
    second = _pay(database, world, world.spouse, [fee])  # both opened the cashier
    bw.pay_in_cashier(database, settings, world.head, first)
    with pytest.raises(bills.BillPaid):
        bw.pay_in_cashier(database, settings, world.spouse, second)
    with database.unit_of_work() as db:
        assert ledger.balance(db, accounts.wallet(world.spouse.id)) == 100_000
        assert trades.get(db, second).status is TradeStatus.WAIT_BUYER_PAY
        assert bw.bill(db, fee).paid_by_id == world.head.id
        assert reconcile(db).sound


def test_a_trade_that_closes_unpaid_leaves_the_bill_unpaid(database, world):
    fee = bw.issue(database, world)
    trade_no = _pay(database, world, world.head, [fee])
    with database.unit_of_work() as db:
        trades.close(db, trade=trades.get(db, trade_no))
    with database.unit_of_work() as db:
        assert db.scalars(select(BillPayment)).one().status is PaymentStatus.CLOSED
        assert bw.bill(db, fee).status is BillStatus.UNPAID


def test_a_full_refund_makes_the_bills_unpaid_again(database, settings, world):
    fee = bw.issue(database, world)
    trade_no = _pay(database, world, world.head, [fee])
    bw.pay_in_cashier(database, settings, world.head, trade_no)
    with database.unit_of_work() as db:
        trade = trades.get(db, trade_no)
        trades.refund(db, trade=trade, refund_fen=trade.total_fen, out_request_no="r1")
    with database.unit_of_work() as db:
        assert bw.bill(db, fee).status is BillStatus.UNPAID
        assert db.scalars(select(BillPayment)).one().status is PaymentStatus.REFUNDED
        assert reconcile(db).sound


def test_an_amount_changed_after_the_trade_was_made_refuses_the_payment(
        database, settings, world):
    fee = bw.issue(database, world)
    trade_no = _pay(database, world, world.head, [fee])
    bw.issue(database, world, fen=20000)  # the property corrects it meanwhile
    with pytest.raises(bills.BillsChanged):
        bw.pay_in_cashier(database, settings, world.head, trade_no)


def test_paid_bills_cannot_be_reissued_with_another_amount(database, settings, world):
    fee = bw.issue(database, world)
    bw.pay_in_cashier(database, settings, world.head, _pay(database, world, world.head, [fee]))
    with pytest.raises(bills.BillPaid):
        bw.issue(database, world, fen=1)
    assert bw.issue(database, world) == fee  # the same again: unchanged


# --- permissions ------------------------------------------------------------------------

def test_only_household_members_see_and_pay(database, world, make_user):
    fee = bw.issue(database, world)
    assert _mine(database, world, world.neighbour) == []  # 2-1-101's bills: none
    with pytest.raises(NotFound):
        _pay(database, world, world.neighbour, [fee])
    stranger = make_user(username="stranger")
    with pytest.raises(PermissionDenied):
        _mine(database, world, stranger)
    with pytest.raises(PermissionDenied):
        _pay(database, world, stranger, [fee])


def test_only_the_communitys_property_staff_issue_and_see_figures(database, world):
    with database.unit_of_work() as db:
        com = w.community(db, world.com)
        household = bw.household(db, world, "1-1-101")
        for user in (world.base.other_manager, world.base.committee, world.head,
                     world.base.guard, world.base.operator):
            actor = db.get_one(User, user.id)
            with pytest.raises(PermissionDenied):
                bills.issue(db, actor=actor, community=com, household=household, item="物业费",
                            period="2026-11", amount_fen=100, due_date=date(2026, 11, 15))
            with pytest.raises(PermissionDenied):
                bills.figures(db, actor=actor, community=com, today=date(2026, 12, 7))
        bills.issue(db, actor=db.get_one(User, world.base.manager.id), community=com,
                    household=household, item="物业费", period="2026-11", amount_fen=100,
                    due_date=date(2026, 11, 15))


def test_figures_per_period_and_item(database, settings, world):
    fee = bw.issue(database, world)
    bw.issue(database, world, label="1-1-102", fen=30000)
    bw.issue(database, world, label="1-1-102", period="2026-12", fen=30000,
             due=date(2026, 12, 15))
    bw.pay_in_cashier(database, settings, world.head, _pay(database, world, world.head, [fee]))
    with database.unit_of_work() as db:
        found = bills.figures(db, actor=None, community=w.community(db, world.com),
                              today=date(2026, 12, 7))
    assert [(f.period, f.item, f.bills, f.paid_bills, f.collected_fen, f.outstanding_fen,
             f.overdue_bills, f.overdue_fen) for f in found] == [
        ("2026-12", "物业费", 1, 0, 0, 30000, 0, 0),
        ("2026-11", "物业费", 2, 1, 22343, 30000, 1, 30000)]


# --- reminders --------------------------------------------------------------------------

def test_overdue_reminders_go_once_per_bill_per_interval_to_subscribed_members(
        database, settings, world):
    bw.issue(database, world)  # due 2026-11-15: overdue on 2026-12-07
    bw.issue(database, world, item="水费", period="2026-12", due=date(2026, 12, 20))  # not yet
    with database.unit_of_work() as db:
        miniapp = official_pass(db, community=w.community(db, world.com))
        jobs.ensure_template(db, miniapp=miniapp)
        for user in (world.head, world.spouse):  # 李四 subscribes three times, 张三 once
            messaging.subscribe(db, actor=db.get_one(User, user.id),
                                miniapp_id=miniapp.public_id, keys=[jobs.TEMPLATE_KEY])
        messaging.subscribe(db, actor=db.get_one(User, world.spouse.id),
                            miniapp_id=miniapp.public_id, keys=[jobs.TEMPLATE_KEY])
    with database.unit_of_work() as db:
        assert jobs.remind(db, settings=settings).sent == 2
    with database.unit_of_work() as db:
        assert jobs.remind(db, settings=settings).sent == 0  # the same interval: nothing
        message = db.scalars(select(Message).where(Message.user_id == world.spouse.id)).one()
        assert "1-1-101" in message.body and "¥223.43" in message.body
        assert message.link == f"/community/{world.com}/bills"
    clock.freeze(datetime(2026, 12, 14, 2, 0, tzinfo=UTC))  # the next interval
    with database.unit_of_work() as db:
        counts = jobs.remind(db, settings=settings)
        assert (counts.sent, counts.skipped) == (1, 1)  # 张三's one consent is used up
        assert db.scalar(select(func.count()).select_from(BillReminder)) == 3


def test_paid_bills_get_no_reminder(database, settings, world):
    fee = bw.issue(database, world)
    bw.pay_in_cashier(database, settings, world.head, _pay(database, world, world.head, [fee]))
    with database.unit_of_work() as db:
        miniapp = official_pass(db, community=w.community(db, world.com))
        jobs.ensure_template(db, miniapp=miniapp)
        messaging.subscribe(db, actor=db.get_one(User, world.head.id),
                            miniapp_id=miniapp.public_id, keys=[jobs.TEMPLATE_KEY])
    clock.freeze(clock.now() + timedelta(days=1))
    with database.unit_of_work() as db:
        assert jobs.remind(db, settings=settings).sent == 0
