"""Trades under real concurrency on PostgreSQL: one trade paid from two tabs at once is charged
once; fifty refunds with one out_request_no refund once; concurrent partial refunds never
exceed the payment."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.payments.trades import trade_world
from townsquare.payments import ledger
from townsquare.payments.ledger import accounts
from townsquare.payments.trades import errors, service
from townsquare.payments.trades.models import TradeStatus

pytestmark = pytest.mark.postgres_only


def _at_once(database, count, work):
    """Run `work(db, i)` in `count` transactions released together; True where it committed
    (a trade refusal is False), with what it answered."""
    barrier = threading.Barrier(count)

    def one(i: int):
        barrier.wait()
        try:
            with database.unit_of_work() as db:
                return True, work(db, i)
        except errors.TradeError as error:
            return False, error.code

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


@pytest.fixture
def world(database, settings, make_user):
    return trade_world.build(database, settings, make_user, wallet_fen=10_000)


def _paid_trade(database, world, total_fen):
    with database.unit_of_work() as db:
        trade = trade_world.create(db, world, total_fen=total_fen)
        return trade_world.pay(db, trade.trade_no, world.resident.id).trade_no


def test_one_trade_paid_from_two_tabs_is_charged_once(database, world):
    with database.unit_of_work() as db:
        trade_no = trade_world.create(db, world, total_fen=3_000).trade_no
    results = _at_once(database, 2, lambda db, i: trade_world.pay(
        db, trade_no, world.resident.id, key=f"tab-{i}").status)
    assert sorted(ok for ok, _ in results) == [False, True]
    assert ("trade_paid" in [answer for ok, answer in results if not ok])
    with database.unit_of_work() as db:
        assert ledger.balance(db, accounts.wallet(world.resident.id)) == 7_000
        assert [e.kind for e in ledger.entries_for(db, trade_no)] == ["payment"]
        assert service.get(db, trade_no).status == TradeStatus.TRADE_SUCCESS


def test_fifty_refunds_with_one_request_number_refund_once(database, world):
    trade_no = _paid_trade(database, world, 2_000)

    def refund(db, i):
        trade = service.get(db, trade_no)
        return service.refund(db, trade=trade, refund_fen=500, out_request_no="same")[1]

    results = _at_once(database, 50, refund)
    assert all(ok for ok, _ in results)
    assert sorted(moved for _, moved in results) == [False] * 49 + [True]
    with database.unit_of_work() as db:
        trade = service.get(db, trade_no)
        assert trade.refunded_fen == 500 and len(trade.refunds) == 1
        assert ledger.balance(db, accounts.wallet(world.resident.id)) == 10_000 - 1_500
        assert ledger.reconcile(db).sound


def test_concurrent_partial_refunds_never_exceed_the_payment(database, world):
    trade_no = _paid_trade(database, world, 1_000)

    def refund(db, i):
        trade = service.get(db, trade_no)
        return service.refund(db, trade=trade, refund_fen=300, out_request_no=f"R{i}")[1]

    results = _at_once(database, 12, refund)
    assert [ok for ok, _ in results].count(True) == 3  # 900 of 1,000; a fourth would exceed
    assert {answer for ok, answer in results if not ok} == {"refund_exceeds_paid"}
    with database.unit_of_work() as db:
        trade = service.get(db, trade_no)
        assert trade.refunded_fen == 900 == sum(r.amount_fen for r in trade.refunds)
        assert trade.status == TradeStatus.TRADE_SUCCESS
        assert ledger.balance(db, accounts.wallet(world.resident.id)) == 10_000 - 100
        assert ledger.reconcile(db).sound


def test_payments_and_refunds_at_one_merchant_at_once_never_deadlock(database, world):
    """Paying new trades from one wallet while the same merchant refunds that wallet's earlier
    trades touches the same accounts in both directions: every one of them completes."""
    with database.unit_of_work() as db:
        paid = [trade_world.pay(db, trade_world.create(db, world, f"OLD-{i}", 500).trade_no,
                                world.resident.id).trade_no for i in range(6)]
        fresh = [trade_world.create(db, world, f"NEW-{i}", 300).trade_no for i in range(6)]

    def work(db, i):
        if i % 2:
            trade = service.get(db, paid[i // 2])
            return service.refund(db, trade=trade, refund_fen=500, out_request_no="R")[1]
        return trade_world.pay(db, fresh[i // 2], world.resident.id).status

    results = _at_once(database, 12, work)
    assert all(ok for ok, _ in results), results
    with database.unit_of_work() as db:
        assert ledger.balance(db, accounts.wallet(world.resident.id)) == 10_000 - 6 * 300
        assert ledger.reconcile(db).sound
