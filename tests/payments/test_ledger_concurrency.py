"""The ledger under real concurrency on PostgreSQL: many transactions spending one wallet at once
never overdraw it, and one idempotency key posts once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from townsquare.payments import ledger
from townsquare.payments.ledger import accounts

pytestmark = pytest.mark.postgres_only
THREADS = 24


def _at_once(database, work):
    barrier = threading.Barrier(THREADS)

    def one(i: int) -> bool:
        barrier.wait()
        try:
            with database.unit_of_work() as db:
                work(db, i)
            return True
        except ledger.InsufficientFunds:
            return False

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(one, range(THREADS)))


def test_concurrent_spending_never_overdraws_a_wallet(database):
    wallet = accounts.wallet(1)
    with database.unit_of_work() as db:
        ledger.post(db, kind="top_up", reference="t", legs={accounts.BANK_CLEARING: -1_000,
                                                            wallet: 1_000})

    def spend(db, i: int) -> None:
        # two payees in opposite orders: the posting order must not deadlock
        payee = accounts.merchant_pending(i % 2)
        ledger.post(db, kind="payment", reference=f"T{i}", legs={wallet: -300, payee: 300})

    results = _at_once(database, spend)
    assert results.count(True) == 3
    with database.unit_of_work() as db:
        assert ledger.balance(db, wallet) == 100
        assert ledger.reconcile(db).sound


def test_one_idempotency_key_posts_once_under_concurrency(database):
    def top_up(db, i: int) -> None:
        ledger.post(db, kind="top_up", reference="t", idempotency_key="same-key",
                    legs={accounts.BANK_CLEARING: -500, accounts.wallet(2): 500})

    assert all(_at_once(database, top_up))
    with database.unit_of_work() as db:
        assert ledger.balance(db, accounts.wallet(2)) == 500
        assert len(ledger.entries_for(db, "t")) == 1
