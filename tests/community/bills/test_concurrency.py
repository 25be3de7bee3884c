"""PostgreSQL: two members of a household pay the same bill at the same moment, each through
their own trade in the cashier: exactly one payment succeeds, the other is refused and moves no
money, and the ledger ties out."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from tests.community import world as w
from tests.community.bills import bill_world as bw
from townsquare.accounts.models import User
from townsquare.community.bills import service as bills
from townsquare.community.bills.models import BillPayment, BillStatus, PaymentStatus
from townsquare.core.errors import TownsquareError
from townsquare.payments import ledger
from townsquare.payments.ledger import accounts
from townsquare.payments.ledger.reconciliation import reconcile
from townsquare.payments.trades import service as trades
from townsquare.payments.trades.models import TradeStatus

pytestmark = pytest.mark.postgres_only


@pytest.fixture
def world(database, settings, make_user):
    return bw.build(database, settings, make_user)


@pytest.mark.parametrize("rounds", [3])
def test_two_members_paying_one_bill_at_once_pay_it_once(database, settings, world, rounds):
    for n in range(rounds):
        fee = bw.issue(database, world, period=f"2026-0{n + 1}")
        other = bw.issue(database, world, item="水费", period=f"2026-0{n + 1}", fen=1000)
        # 张三 pays the property fee alone, 李四 both bills: they overlap in one bill
        chosen = {world.head.id: [fee], world.spouse.id: [fee, other]}
        trade_nos = {}
        for user in (world.head, world.spouse):
            with database.unit_of_work() as db:
                trade_nos[user.id] = bills.pay(
                    db, actor=db.get_one(User, user.id), community=w.community(db, world.com),
                    bill_ids=chosen[user.id], idempotency_key=f"r{n}").trade_no
        barrier = threading.Barrier(2)

        def one(user: User, barrier: threading.Barrier = barrier,
                trade_nos: dict[int, str] = trade_nos) -> str:
            barrier.wait()
            try:
                bw.pay_in_cashier(database, settings, user, trade_nos[user.id])
                return "paid"
            except TownsquareError as error:
                return error.code

        with ThreadPoolExecutor(2) as pool:
            results = dict(zip((world.head.id, world.spouse.id),
                               pool.map(one, (world.head, world.spouse)), strict=True))
        assert sorted(results.values()) == ["bill_paid", "paid"], results
        winner = next(uid for uid, r in results.items() if r == "paid")
        loser = next(uid for uid, r in results.items() if r != "paid")
        with database.unit_of_work() as db:
            assert bw.bill(db, fee).status is BillStatus.PAID
            assert bw.bill(db, fee).paid_by_id == winner
            # the loser's trade was not paid and its wallet not touched by it
            assert trades.get(db, trade_nos[loser]).status is TradeStatus.WAIT_BUYER_PAY
            assert trades.get(db, trade_nos[winner]).status is TradeStatus.TRADE_SUCCESS
            assert bw.bill(db, other).status is (
                BillStatus.PAID if winner == world.spouse.id else BillStatus.UNPAID)
            statuses = {p.trade_no: p.status for p in db.scalars(select(BillPayment))}
            assert statuses[trade_nos[winner]] is PaymentStatus.PAID
            assert statuses[trade_nos[loser]] is PaymentStatus.WAITING
            assert reconcile(db).sound
    with database.unit_of_work() as db:
        spent = sum(100_000 - ledger.balance(db, accounts.wallet(u.id))
                    for u in (world.head, world.spouse))
        collected = sum(b.amount_fen for b in bills.bills_of(
            db, actor=None, community=w.community(db, world.com), status="paid"))
        assert spent == collected
