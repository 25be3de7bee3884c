"""Withdrawals: only available money, only by the owner, to the payout card, within limits per
withdrawal and per day, once per request id; a refused payout gives the money back."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from tests.payments import ledger_world
from tests.payments.ledger_world import Shop, pay
from townsquare.core.clock import clock
from townsquare.core.errors import PermissionDenied
from townsquare.payments import ledger
from townsquare.payments.ledger import accounts, settlement, withdrawals
from townsquare.payments.ledger.records import Withdrawal, WithdrawalStatus

shop = ledger_world.shop  # the fixture
SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY = date(2026, 12, 7)


@pytest.fixture
def funded(database, settings, shop: Shop) -> Shop:
    """The shop with 9_940 fen available (a 100.00 yuan trade settled) and a payout card."""
    clock.freeze(datetime(2026, 12, 7, 12, tzinfo=SHANGHAI))
    with database.unit_of_work() as db:
        pay(db, shop, 10_000, "T1")
    clock.freeze(datetime(2026, 12, 8, 9, tzinfo=SHANGHAI))
    list(settlement.run(database, settings=settings))
    with database.unit_of_work() as db:
        withdrawals.set_payout_card(db, actor=shop.owner, merchant_id=shop.merchant,
                                    token="card_tok", bank_name="模拟银行",
                                    number_masked="6222 **** 0001")
    return shop


def available(db, shop: Shop) -> int:
    return ledger.balance(db, accounts.merchant_available(shop.merchant_id))


def test_a_withdrawal_moves_available_money_to_the_bank(database, settings, funded: Shop):
    with database.unit_of_work() as db:
        done = withdrawals.withdraw(db, actor=funded.owner, settings=settings,
                                    merchant_id=funded.merchant, amount_fen=4_000,
                                    idempotency_key="w-1")
        assert done.status == WithdrawalStatus.PROCESSING and done.card_ref == "card_tok"
        again = withdrawals.withdraw(db, actor=funded.owner, settings=settings,
                                     merchant_id=funded.merchant, amount_fen=4_000,
                                     idempotency_key="w-1")
        assert again.id == done.id
        with pytest.raises(ledger.IdempotencyMismatch):
            withdrawals.withdraw(db, actor=funded.owner, settings=settings,
                                 merchant_id=funded.merchant, amount_fen=4_001,
                                 idempotency_key="w-1")
    with database.unit_of_work() as db:
        assert available(db, funded) == 5_940
        assert ledger.balance(db, accounts.BANK_CLEARING) == -10_000 + 4_000
        assert [e.kind for e in ledger.entries_for(db, done.public_id)] == ["withdrawal"]
        assert ledger.reconcile(db).sound


def test_more_than_is_available_is_refused_whole(database, settings, funded: Shop):
    with database.unit_of_work() as db, pytest.raises(ledger.InsufficientFunds):
        withdrawals.withdraw(db, actor=funded.owner, settings=settings,
                             merchant_id=funded.merchant, amount_fen=9_941,
                             idempotency_key="w-big")
    with database.unit_of_work() as db:
        assert available(db, funded) == 9_940
        assert db.query(Withdrawal).count() == 0


def test_limits_per_withdrawal_and_per_day(database, settings, funded: Shop):
    settings.withdrawal_max_fen, settings.withdrawal_daily_max_fen = 3_000, 5_000
    with database.unit_of_work() as db:
        with pytest.raises(withdrawals.WithdrawalLimitExceeded):
            withdrawals.withdraw(db, actor=funded.owner, settings=settings,
                                 merchant_id=funded.merchant, amount_fen=3_001,
                                 idempotency_key="a")
        withdrawals.withdraw(db, actor=funded.owner, settings=settings,
                             merchant_id=funded.merchant, amount_fen=3_000, idempotency_key="b")
    with database.unit_of_work() as db:
        with pytest.raises(withdrawals.WithdrawalLimitExceeded) as refused:
            withdrawals.withdraw(db, actor=funded.owner, settings=settings,
                                 merchant_id=funded.merchant, amount_fen=2_001,
                                 idempotency_key="c")
        assert refused.value.params["left"] == "20.00"
        failed = withdrawals.withdraw(db, actor=funded.owner, settings=settings,
                                      merchant_id=funded.merchant, amount_fen=2_000,
                                      idempotency_key="d")
        # a payout the bank refused gives the money and the day's allowance back
        withdrawals.fail(db, failed, reason="card_declined")
        withdrawals.fail(db, failed, reason="card_declined")  # once only
        assert available(db, funded) == 9_940 - 3_000
    with database.unit_of_work() as db:
        withdrawals.withdraw(db, actor=funded.owner, settings=settings,
                             merchant_id=funded.merchant, amount_fen=2_000, idempotency_key="e")
    clock.advance(timedelta(days=1))  # a new local day, a new allowance
    with database.unit_of_work() as db:
        withdrawals.withdraw(db, actor=funded.owner, settings=settings,
                             merchant_id=funded.merchant, amount_fen=2_940, idempotency_key="f")
        assert available(db, funded) == 9_940 - 3_000 - 2_000 - 2_940
        assert ledger.reconcile(db).sound


def test_only_the_owner_withdraws_and_only_to_a_card(database, settings, shop: Shop, funded):
    with database.unit_of_work() as db:
        with pytest.raises(PermissionDenied):
            withdrawals.withdraw(db, actor=shop.other_owner, settings=settings,
                                 merchant_id=shop.merchant, amount_fen=100, idempotency_key="x")
        db.delete(withdrawals.payout_card(db, merchant_id=shop.merchant_id))
        db.flush()
        with pytest.raises(withdrawals.NoPayoutCard):
            withdrawals.withdraw(db, actor=shop.owner, settings=settings,
                                 merchant_id=shop.merchant, amount_fen=100, idempotency_key="x")


def test_the_simulated_bank_pays_the_bound_card_once(database, settings, funded: Shop):
    from townsquare.payments.funding.models import SimCard

    with database.unit_of_work() as db:
        card = withdrawals.bind_payout_card(db, actor=funded.owner, settings=settings,
                                            merchant_id=funded.merchant,
                                            number="6222020000000007")
        assert "0007" in card.number_masked and "6222020000000007" not in card.number_masked
        opening = db.scalar(select(SimCard.balance_fen).where(SimCard.token == card.token))
    done = withdrawals.request(database, actor=funded.owner, settings=settings,
                               merchant_id=funded.merchant, amount_fen=4_000,
                               idempotency_key="pay-1")
    assert done.status == WithdrawalStatus.SUCCEEDED and done.payout_ref
    with database.unit_of_work() as db:  # asking again (a retry) pays nothing more
        again = withdrawals.pay_out(db, withdrawal_id=done.id)
        assert again.status == WithdrawalStatus.SUCCEEDED
        assert db.scalar(select(SimCard.balance_fen).where(
            SimCard.token == card.token)) == opening + 4_000
        assert available(db, funded) == 5_940
        assert ledger.reconcile(db).sound
    assert withdrawals.retry_payouts(database) == []


def test_a_crash_between_the_steps_is_finished_by_the_retry_job(database, settings,
                                                                funded: Shop):
    with database.unit_of_work() as db:
        card = withdrawals.bind_payout_card(db, actor=funded.owner, settings=settings,
                                            merchant_id=funded.merchant,
                                            number="6222020000000007")
        withdrawals.withdraw(db, actor=funded.owner, settings=settings,
                             merchant_id=funded.merchant, amount_fen=1_000,
                             idempotency_key="crash")
    # ... the process died here: the ledger moved, the bank was never asked
    finished = withdrawals.retry_payouts(database)
    assert [w.status for w in finished] == [WithdrawalStatus.SUCCEEDED]
    assert finished[0].card_ref == card.token


def test_a_payout_the_bank_refuses_gives_the_money_back(database, settings, funded: Shop):
    with database.unit_of_work() as db:  # a card the bank does not know (closed since)
        withdrawals.set_payout_card(db, actor=funded.owner, merchant_id=funded.merchant,
                                    token="no-such-card", bank_name="模拟银行",
                                    number_masked="6222 **** 9999")
    done = withdrawals.request(database, actor=funded.owner, settings=settings,
                               merchant_id=funded.merchant, amount_fen=2_000,
                               idempotency_key="refused")
    assert done.status == WithdrawalStatus.FAILED and done.failure == "not_found"
    with database.unit_of_work() as db:
        assert available(db, funded) == 9_940
        assert [e.kind for e in ledger.entries_for(db, done.public_id)] == [
            "withdrawal", "reversal:withdrawal"]
        assert withdrawals.withdrawn_today(db, merchant_id=funded.merchant_id,
                                           settings=settings) == 0
        assert ledger.reconcile(db).sound
