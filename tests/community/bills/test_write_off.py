"""Writing a bill off: the property manager only, with a reason, audited; a paid bill cannot be;
a written-off bill is neither outstanding nor collected, cannot be paid (not even through a
payment started before it was written off: nothing moves), is never reminded; twice is once.
On PostgreSQL a write-off racing a member's payment of the same bill: exactly one wins."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
from sqlalchemy import select

from tests.community import world as w
from tests.community.bills import bill_world as bw
from townsquare.accounts.models import User
from townsquare.community.bills import service as bills
from townsquare.community.bills import write_off as written_off
from townsquare.community.bills.models import BillStatus
from townsquare.core.audit import AuditEntry
from townsquare.core.errors import PermissionDenied, TownsquareError, ValidationFailed
from townsquare.payments import ledger
from townsquare.payments.ledger import accounts
from townsquare.payments.ledger.reconciliation import reconcile
from townsquare.payments.trades import service as trades
from townsquare.payments.trades.models import TradeStatus

TODAY = date(2026, 12, 1)


@pytest.fixture
def world(database, settings, make_user):
    return bw.build(database, settings, make_user)


def _write_off(database, world, bill_id: str, reason: str = "房屋空置，减免", user=None):
    with database.unit_of_work() as db:
        actor = db.get_one(User, (user or world.base.manager).id)
        found = written_off.write_off(db, actor=actor, community=w.community(db, world.com),
                                      bill_id=bill_id, reason=reason)
        return found.status, found.write_off_reason


def _figures(database, world):
    with database.unit_of_work() as db:
        return {(f.period, f.item): f for f in bills.figures(
            db, actor=None, community=w.community(db, world.com), today=TODAY)}


def test_a_written_off_bill_is_owed_by_nobody(database, settings, world):
    fee = bw.issue(database, world)
    water = bw.issue(database, world, item="水费", fen=1000)
    before = _figures(database, world)[("2026-11", "物业费")]
    assert (before.outstanding_fen, before.overdue_bills) == (22343, 1)
    assert _write_off(database, world, fee) == (BillStatus.WRITTEN_OFF, "房屋空置，减免")
    # again: the first write-off stands, reason and all
    assert _write_off(database, world, fee, reason="另一个理由") == (BillStatus.WRITTEN_OFF,
                                                                    "房屋空置，减免")
    figure = _figures(database, world)[("2026-11", "物业费")]
    assert (figure.collected_fen, figure.outstanding_fen, figure.overdue_bills) == (0, 0, 0)
    assert (figure.written_off_bills, figure.written_off_fen) == (1, 22343)
    with database.unit_of_work() as db:
        records = db.scalars(select(AuditEntry).where(
            AuditEntry.action == "community.bill.write_off")).all()
        assert [r.subject_id for r in records] == [fee]  # once
        # no longer payable
        with pytest.raises(bills.BillWrittenOff):
            bills.pay(db, actor=db.get_one(User, world.head.id),
                      community=w.community(db, world.com), bill_ids=[fee, water],
                      idempotency_key="after")
        # importing it again with another amount is refused
        with pytest.raises(bills.BillWrittenOff):
            bills.issue(db, actor=None, community=w.community(db, world.com),
                        household=bw.household(db, world, "1-1-101"), item="物业费",
                        period="2026-11", amount_fen=100, due_date=date(2026, 11, 15))


def test_a_payment_started_before_the_write_off_moves_nothing(database, settings, world):
    fee = bw.issue(database, world)
    with database.unit_of_work() as db:
        trade_no = bills.pay(db, actor=db.get_one(User, world.head.id),
                             community=w.community(db, world.com), bill_ids=[fee],
                             idempotency_key="before").trade_no
        wallet = ledger.balance(db, accounts.wallet(world.head.id))
    _write_off(database, world, fee)
    with pytest.raises(bills.BillWrittenOff):
        bw.pay_in_cashier(database, settings, world.head, trade_no)
    with database.unit_of_work() as db:
        assert trades.get(db, trade_no).status is TradeStatus.WAIT_BUYER_PAY
        assert ledger.balance(db, accounts.wallet(world.head.id)) == wallet
        assert bw.bill(db, fee).status is BillStatus.WRITTEN_OFF
        assert reconcile(db).sound


def test_only_the_property_manager_writes_off_and_never_a_paid_bill(database, settings, world):
    fee = bw.issue(database, world)
    with pytest.raises(PermissionDenied):
        _write_off(database, world, fee, user=world.head)
    with pytest.raises(PermissionDenied):
        _write_off(database, world, fee, user=world.base.other_manager)
    with pytest.raises(ValidationFailed):
        _write_off(database, world, fee, reason="  ")
    with database.unit_of_work() as db:
        trade_no = bills.pay(db, actor=db.get_one(User, world.spouse.id),
                             community=w.community(db, world.com), bill_ids=[fee],
                             idempotency_key="paid").trade_no
    bw.pay_in_cashier(database, settings, world.spouse, trade_no)
    with pytest.raises(bills.BillPaid):
        _write_off(database, world, fee)
    with database.unit_of_work() as db:
        assert bw.bill(db, fee).status is BillStatus.PAID
    figure = _figures(database, world)[("2026-11", "物业费")]
    assert (figure.collected_fen, figure.written_off_bills) == (22343, 0)


@pytest.mark.postgres_only
def test_a_write_off_racing_a_payment_one_wins(database, settings, world):
    outcomes = set()
    for n in range(4):
        fee = bw.issue(database, world, period=f"2026-0{n + 1}")
        with database.unit_of_work() as db:
            trade_no = bills.pay(db, actor=db.get_one(User, world.head.id),
                                 community=w.community(db, world.com), bill_ids=[fee],
                                 idempotency_key=f"race-{n}").trade_no
        barrier = threading.Barrier(2)

        def pay(trade_no: str = trade_no, barrier: threading.Barrier = barrier) -> str:
            barrier.wait()
            try:
                bw.pay_in_cashier(database, settings, world.head, trade_no)
                return "paid"
            except TownsquareError as error:
                return error.code

        def off(fee: str = fee, barrier: threading.Barrier = barrier) -> str:
            barrier.wait()
            try:
                _write_off(database, world, fee)
                return "written_off"
            except TownsquareError as error:
                return error.code

        with ThreadPoolExecutor(2) as pool:
            paid, wrote = pool.submit(pay), pool.submit(off)
            results = (paid.result(), wrote.result())
        assert results in (("paid", "bill_paid"), ("bill_written_off", "written_off")), results
        outcomes.add(results[0])
        with database.unit_of_work() as db:
            bill = bw.bill(db, fee)
            trade = trades.get(db, trade_no)
            if results[0] == "paid":
                assert (bill.status, trade.status) == (BillStatus.PAID, TradeStatus.TRADE_SUCCESS)
            else:
                assert bill.status is BillStatus.WRITTEN_OFF
                assert trade.status is TradeStatus.WAIT_BUYER_PAY
            assert reconcile(db).sound
