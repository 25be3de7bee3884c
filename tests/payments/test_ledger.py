"""The ledger: balanced entries only, refusals change nothing, idempotent posting, reversals,
and a reconciliation that finds a tampered balance."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import update

from townsquare.payments import ledger
from townsquare.payments.ledger import accounts
from townsquare.payments.ledger.models import JournalEntry, LedgerAccount, Posting

BANK, FEES = accounts.BANK_CLEARING, accounts.PLATFORM_FEES


def top_up(db, user_id: int, fen: int, key: str | None = None):
    return ledger.post(db, kind="top_up", reference=f"topup-{user_id}",
                       legs={BANK: -fen, accounts.wallet(user_id): fen}, idempotency_key=key)


def test_an_entry_must_balance_and_name_real_accounts(database):
    with database.unit_of_work() as db:
        with pytest.raises(ValueError):
            ledger.post(db, kind="x", reference="r", legs={BANK: -5, accounts.wallet(1): 4})
        with pytest.raises(ValueError):
            ledger.post(db, kind="x", reference="r", legs={BANK: -5, "wallet:me": 5})
        with pytest.raises(ValueError):
            ledger.post(db, kind="x", reference="r", legs={BANK: 0, accounts.wallet(1): 0})
        with pytest.raises(ValueError):
            ledger.post(db, kind="x", reference="r", legs={BANK: -1.5, accounts.wallet(1): 1.5})


def test_a_payment_moves_money_and_the_ledger_sums_to_zero(database):
    with database.unit_of_work() as db:
        top_up(db, 1, 10_000)
        ledger.post(db, kind="payment", reference="T1", legs={
            accounts.wallet(1): -2_500, accounts.merchant_pending(7): 2_485, FEES: 15})
    with database.unit_of_work() as db:
        assert ledger.balances(db, [accounts.wallet(1), accounts.merchant_pending(7), FEES,
                                    BANK]) == {accounts.wallet(1): 7_500,
                                               accounts.merchant_pending(7): 2_485,
                                               FEES: 15, BANK: -10_000}
        report = ledger.reconcile(db)
        assert report.sound and report.total_fen == 0 and report.entries == 2


def test_an_overdraft_is_refused_whole_and_changes_nothing(database):
    with database.unit_of_work() as db:
        top_up(db, 1, 1_000)
    with database.unit_of_work() as db:
        with pytest.raises(ledger.InsufficientFunds):
            # the merchant's leg is applied first (lower account id is the wallet's… either
            # way), the wallet's refusal must undo it
            ledger.post(db, kind="payment", reference="T2", legs={
                accounts.merchant_pending(7): 1_001, accounts.wallet(1): -1_001})
        assert ledger.balance(db, accounts.merchant_pending(7)) == 0
        assert ledger.balance(db, accounts.wallet(1)) == 1_000
        assert ledger.entries_for(db, "T2") == []


def test_the_same_key_posts_once_and_a_different_entry_under_it_is_refused(database):
    with database.unit_of_work() as db:
        first = top_up(db, 1, 500, key="k-1")
        again = top_up(db, 1, 500, key="k-1")
        assert again.id == first.id
        with pytest.raises(ledger.IdempotencyMismatch):
            top_up(db, 1, 600, key="k-1")
        assert ledger.balance(db, accounts.wallet(1)) == 500


def test_a_reversal_undoes_an_entry_and_keeps_it(database):
    with database.unit_of_work() as db:
        entry = top_up(db, 1, 800)
        undo = ledger.reverse(db, entry, idempotency_key="undo-1")
        assert undo.reverses_id == entry.id
        assert ledger.balance(db, accounts.wallet(1)) == 0
        assert len(ledger.entries_for(db, entry.reference)) == 2
        with pytest.raises(ledger.InsufficientFunds):  # nothing left to undo twice over
            ledger.reverse(db, entry)


def test_reconciliation_reports_a_tampered_balance(database):
    with database.unit_of_work() as db:
        top_up(db, 1, 300)
    with database.unit_of_work() as db:
        db.execute(update(LedgerAccount).where(LedgerAccount.code == accounts.wallet(1))
                   .values(balance_fen=3_000))
    with database.unit_of_work() as db:
        report = ledger.reconcile(db)
        assert not report.sound
        assert [(d.account, d.balance_fen, d.posted_fen) for d in report.differences] == [
            (accounts.wallet(1), 3_000, 300)]


MOVES = st.lists(st.tuples(st.sampled_from(["top_up", "pay", "refund", "settle"]),
                           st.integers(0, 2), st.integers(1, 5_000)), max_size=30)


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
@hypothesis_settings(max_examples=40, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(moves=MOVES)
def test_random_movements_keep_every_invariant(database, moves):
    """Whatever is asked, nothing goes negative, refusals change nothing, the books balance."""
    with database.unit_of_work() as db:
        db.execute(update(LedgerAccount).values(balance_fen=0))  # fresh books per example
        db.query(Posting).delete()
        db.query(JournalEntry).delete()
    expected: dict[str, int] = {}
    for kind, who, fen in moves:
        wallet, pending = accounts.wallet(who), accounts.merchant_pending(who)
        legs = {"top_up": {BANK: -fen, wallet: fen},
                "pay": {wallet: -fen, pending: fen},
                "refund": {pending: -fen, wallet: fen},
                "settle": {pending: -fen, accounts.merchant_available(who): fen}}[kind]
        with database.unit_of_work() as db:
            try:
                ledger.post(db, kind=kind, reference="prop", legs=legs)
            except ledger.InsufficientFunds:
                pass
            else:
                for code, amount in legs.items():
                    expected[code] = expected.get(code, 0) + amount
    with database.unit_of_work() as db:
        report = ledger.reconcile(db)
        assert report.sound, report
        assert {c: b for c, b in ledger.balances(db, expected).items()} == expected
        assert all(v >= 0 for c, v in expected.items() if c != BANK)
