"""Settlement and withdrawals under real concurrency on PostgreSQL: two settlement runs at once
settle once; many withdrawals at once never take more than is available nor more than the day's
limit, and one request id withdraws once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from tests.payments import ledger_world
from tests.payments.ledger_world import Shop, pay, refund
from townsquare.core.clock import clock
from townsquare.core.errors import TownsquareError
from townsquare.payments import ledger
from townsquare.payments.ledger import accounts, settlement, withdrawals
from townsquare.payments.ledger.records import Withdrawal

pytestmark = pytest.mark.postgres_only
shop = ledger_world.shop  # the fixture
SHANGHAI = ZoneInfo("Asia/Shanghai")
THREADS = 16


def _at_once(work: Callable[[int], object]) -> list[object]:
    barrier = threading.Barrier(THREADS)

    def one(i: int) -> object:
        barrier.wait()
        try:
            return work(i)
        except TownsquareError as exc:
            return exc.code

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(one, range(THREADS)))


def _paid_yesterday(database, settings, shop: Shop, fen: int) -> None:
    clock.freeze(datetime(2026, 12, 7, 12, tzinfo=SHANGHAI))
    with database.unit_of_work() as db:
        pay(db, shop, fen, "T1")
    clock.freeze(datetime(2026, 12, 8, 9, tzinfo=SHANGHAI))


def test_settlement_run_twice_at_once_settles_once(database, settings, shop: Shop):
    _paid_yesterday(database, settings, shop, 10_000)

    def settle(i: int) -> object:
        with database.unit_of_work() as db:
            return settlement.settle_merchant(db, merchant_id=shop.merchant_id,
                                              day=date(2026, 12, 8), settings=settings)

    results = _at_once(settle)
    assert all(isinstance(r, settlement.Settled) and r.amount_fen == 9_940 for r in results)
    assert sum(not r.repeated for r in results) == 1  # type: ignore[union-attr]
    with database.unit_of_work() as db:
        assert ledger.balance(db, accounts.merchant_available(shop.merchant_id)) == 9_940
        assert ledger.balance(db, accounts.merchant_pending(shop.merchant_id)) == 0
        assert len(ledger.entries_for(db, f"settlement:{shop.merchant_id}:2026-12-08")) == 1
        assert ledger.reconcile(db).sound


def test_refunds_while_settling_neither_deadlock_nor_lose_money(database, settings,
                                                               shop: Shop):
    """Refunds of yesterday's trades (from pending, or from available once settled) race the
    settlement of those same trades: every one succeeds and the ledger holds together."""
    clock.freeze(datetime(2026, 12, 7, 12, tzinfo=SHANGHAI))
    with database.unit_of_work() as db:
        splits = [pay(db, shop, 1_000, f"T{i}", payer=i) for i in range(THREADS)]
    clock.freeze(datetime(2026, 12, 8, 9, tzinfo=SHANGHAI))

    def work(i: int) -> object:
        if i == 0:
            return list(settlement.run(database, settings=settings))
        with database.unit_of_work() as db:
            refund(db, shop, splits[i], 1_000, 0, f"T{i}", payer=i)
        return "refunded"

    results = _at_once(work)
    assert results.count("refunded") == THREADS - 1
    with database.unit_of_work() as db:
        pending = ledger.balance(db, accounts.merchant_pending(shop.merchant_id))
        available = ledger.balance(db, accounts.merchant_available(shop.merchant_id))
        assert pending + available == splits[0].merchant_fen  # only T0 was not refunded
        assert all(ledger.balance(db, accounts.wallet(i)) == 1_000 for i in range(1, THREADS))
        assert ledger.reconcile(db).sound


def _funded(database, settings, shop: Shop) -> None:
    _paid_yesterday(database, settings, shop, 10_000)
    list(settlement.run(database, settings=settings))
    with database.unit_of_work() as db:
        withdrawals.set_payout_card(db, actor=shop.owner, merchant_id=shop.merchant,
                                    token="card_tok", bank_name="模拟银行",
                                    number_masked="6222 **** 0001")


def _withdraw(database, settings, shop: Shop, fen: int, key: str) -> object:
    with database.unit_of_work() as db:
        return withdrawals.withdraw(db, actor=shop.owner, settings=settings,
                                    merchant_id=shop.merchant, amount_fen=fen,
                                    idempotency_key=key).public_id


def test_concurrent_withdrawals_never_exceed_the_available_balance(database, settings,
                                                                   shop: Shop):
    _funded(database, settings, shop)  # 9_940 available: three withdrawals of 3_000 fit
    results = _at_once(lambda i: _withdraw(database, settings, shop, 3_000, f"w-{i}"))
    assert sum(isinstance(r, str) and r.startswith("wd_") for r in results) == 3
    assert results.count("insufficient_funds") == THREADS - 3
    with database.unit_of_work() as db:
        assert ledger.balance(db, accounts.merchant_available(shop.merchant_id)) == 940
        assert db.query(Withdrawal).count() == 3
        assert ledger.reconcile(db).sound


def test_concurrent_withdrawals_never_exceed_the_daily_limit(database, settings, shop: Shop):
    settings.withdrawal_daily_max_fen = 2_500
    _funded(database, settings, shop)
    results = _at_once(lambda i: _withdraw(database, settings, shop, 1_000, f"w-{i}"))
    assert results.count("withdrawal_limit") == THREADS - 2
    with database.unit_of_work() as db:
        assert ledger.balance(db, accounts.merchant_available(shop.merchant_id)) == 7_940


def test_one_request_id_withdraws_once_under_concurrency(database, settings, shop: Shop):
    _funded(database, settings, shop)
    results = _at_once(lambda i: _withdraw(database, settings, shop, 1_000, "same"))
    assert len(set(results)) == 1 and str(results[0]).startswith("wd_")
    with database.unit_of_work() as db:
        assert ledger.balance(db, accounts.merchant_available(shop.merchant_id)) == 8_940
